import { barChart } from '../src/charts/svg.ts';

/**
 * Published figures for one representative system of each consensus family, beside the designs
 * that bench/ledger-cost.ts measures: throughput, finality and energy per transaction, each with
 * where it comes from. Nothing here is measured on this machine; every figure is either quoted
 * from a source ("published") or computed from quoted figures ("derived", with the arithmetic).
 * A figure that no source gave is null ("not published"), never estimated.
 *
 * The pure functions at the bottom apply the rows to the measured workload (its transactions and
 * trades, openlec's measured energy per transaction): the markdown section of docs/ledger-cost.md,
 * the `published` field of the bench's JSON line, and the chart's bars.
 */

export interface Source {
  /** Author or publisher. */
  author: string;
  title: string;
  /** As the source dates itself ("undated" when it does not). */
  date: string;
  url: string;
  /** What the source says that the row uses, in its words or close to them. */
  says: string;
}

export type How = 'published' | 'derived' | 'not published';

export interface Figure {
  /** tx/s, seconds or Wh per transaction; null when no source gave it. */
  value: number | null;
  how: How;
  /** For "derived": the arithmetic, from the sources' figures to the value. For "not published": what was (not) found. */
  arithmetic?: string;
  sources: Source[];
}

export interface ConsensusRow {
  family: string;
  system: string;
  /** Transactions per second. */
  throughput: Figure;
  /** Seconds until a transaction is final (or practically so), with its wording. */
  finality: Figure & { text: string };
  /** Wh per transaction. */
  energy: Figure;
  /** What a reader should know beside the figures. */
  note?: string;
}

const SECONDS_PER_YEAR = 365 * 86_400;

// --- sources ---------------------------------------------------------------

const VUKOLIC: Source = {
  author: 'M. Vukolić (IBM Research Zurich)',
  title: 'The Quest for Scalable Blockchain Fabric: Proof-of-Work vs. BFT Replication',
  date: 'iNetSec 2015, LNCS 9591, Springer, 2016',
  url: 'https://link.springer.com/chapter/10.1007/978-3-319-39028-4_9',
  says: 'Bitcoin: "consensus latencies on the order of an hour and the theoretical peak throughput of only up to 7 transactions per second"',
};
const BITPAY: Source = {
  author: 'BitPay Support',
  title: 'How do bitcoin block confirmations work?',
  date: 'undated',
  url: 'https://support.bitpay.com/hc/en-us/articles/115004832203-How-do-bitcoin-block-confirmations-work-',
  says: 'a new block is mined every 10 minutes on average; six confirmations are the industry standard for high-value transactions',
};
const DIGICONOMIST_BTC: Source = {
  author: 'Digiconomist',
  title: 'Bitcoin Energy Consumption Index',
  date: 'June 2021, as reported by CNET',
  url: 'https://digiconomist.net/bitcoin-energy-consumption/',
  says: 'single-transaction footprint of 1,544 kWh',
};
const SEDLMEIR: Source = {
  author: 'J. Sedlmeir, H. U. Buhl, G. Fridgen, R. Keller',
  title: 'The Energy Consumption of Blockchain Technology: Beyond Myth',
  date: 'Business & Information Systems Engineering 62(6):599-608, 19 June 2020',
  url: 'https://link.springer.com/article/10.1007/s12599-020-00656-x',
  says: 'the theoretical throughput limit "is typically in the low two- or three-digit range, e.g., approx. 15 for Ethereum and Bitcoin"',
};
const ETHEREUM_SSF: Source = {
  author: 'ethereum.org',
  title: 'Single slot finality',
  date: 'undated',
  url: 'https://ethereum.org/en/roadmap/single-slot-finality/',
  says: '"It takes about 15 minutes for an Ethereum block to finalize" (two epochs)',
};
const DIGICONOMIST_ETH: Source = {
  author: 'Digiconomist via Cointelegraph',
  title: 'The Merge brings down Ethereum\'s network power consumption by over 99.9%',
  date: '29 October 2022',
  url: 'https://cointelegraph.com/news/the-merge-brings-down-ethereum-s-network-power-consumption-by-over-99-9',
  says: '0.03 kWh per transaction',
};
const ETHEREUM_ENERGY: Source = {
  author: 'ethereum.org, citing CCRI (Crypto Carbon Ratings Institute)',
  title: 'Ethereum Energy Consumption',
  date: 'undated (CCRI report of September 2022)',
  url: 'https://ethereum.org/en/energy-consumption/',
  says: 'an estimated 2,601 MWh (0.0026 TWh) a year for the whole network after the Merge',
};
const TRON_CCRI: Source = {
  author: 'CoinDesk, reporting CCRI\'s "Energy Efficiency and Carbon Footprint of the TRON Blockchain" (commissioned by the TRON Foundation)',
  title: 'Tron Consumes 99.9% Less Power Than Bitcoin and Ethereum, Crypto Researcher Says',
  date: '24 August 2022',
  url: 'https://www.coindesk.com/tech/2022/08/24/tron-consumes-999-less-power-than-bitcoin-and-ethereum-crypto-researcher-says/',
  says: '"a yearly energy consumption of 162,868 kWh for over 2.31 billion transactions"',
};
const TRON_DPOS: Source = {
  author: 'TRON protocol documentation (tronprotocol/documentation-en)',
  title: 'DPoS',
  date: 'undated',
  url: 'https://github.com/tronprotocol/documentation-en/blob/master/docs/introduction/dpos.md',
  says: 'one block per 3-second slot by 27 super representatives; a block is solidified (irreversible) once 19 subsequent blocks by distinct super representatives follow it',
};
const EWF_POA: Source = {
  author: 'Energy Web Foundation',
  title: 'Proof of Authority Consensus (EWF wiki)',
  date: 'undated',
  url: 'https://energyweb.atlassian.net/wiki/spaces/EWF/pages/717881446/Proof+of+Authority+Consensus',
  says: 'Aura proof of authority; "we estimate that the EWC has the ability to achieve 30x greater throughput capacity than the Ethereum mainnet"; "54,000x less energy consumption" than proof of work',
};
const NETHERMIND_AURA: Source = {
  author: 'Nethermind documentation',
  title: 'Aura-based validators (with the Energy Web chain as example)',
  date: 'undated (docs version 1.36.0)',
  url: 'https://docs.nethermind.io/validators/aura/',
  says: 'for Aura validators, by default "the block time is set to 5 seconds"',
};
const ANDROULAKI: Source = {
  author: 'E. Androulaki et al. (IBM Research)',
  title: 'Hyperledger Fabric: A Distributed Operating System for Permissioned Blockchains',
  date: 'EuroSys 2018; arXiv:1801.10228, 30 January 2018',
  url: 'https://arxiv.org/abs/1801.10228',
  says: '"Fabric achieves end-to-end throughput of more than 3500 transactions per second in certain popular deployment configurations, with sub-second latency"',
};
const COSMOS: Source = {
  author: 'J. Kwon, E. Buchman',
  title: 'Cosmos whitepaper (Tendermint consensus)',
  date: '2016',
  url: 'https://github.com/cosmos/cosmos/blob/master/WHITEPAPER.md',
  says: 'on 64 nodes across 7 datacenters on 5 continents, "Tendermint consensus can process thousands of transactions per second, with commit latencies on the order of one or two seconds"',
};
const PLATT: Source = {
  author: 'M. Platt, J. Sedlmeir, D. Platt, U. Gallersdörfer, P. Tasca, J. Xu, N. Vadgama, J. I. Ibañez',
  title: 'Energy Footprint of Blockchain Consensus Mechanisms Beyond Proof-of-Work (arXiv:2109.03667v1)',
  date: '8 September 2021',
  url: 'https://arxiv.org/abs/2109.03667',
  says: 'Hedera Hashgraph, "by operating as a permissioned system", 20.95 mWh/tx; Algorand 4.427 Wh/tx; Polkadot 115.6 Wh/tx',
};
const SAWTOOTH_SETTINGS: Source = {
  author: 'Hyperledger Sawtooth documentation (hyperledger-archives/sawtooth-core, docs/source/_includes/create-genesis-block.inc)',
  title: 'Creating the genesis block',
  date: 'undated',
  url: 'https://github.com/hyperledger-archives/sawtooth-core',
  says: 'default PoET settings: sawtooth.poet.target_wait_time=5, sawtooth.publisher.max_batches_per_block=100',
};
const SAWTOOTH_POET: Source = {
  author: 'Hyperledger Sawtooth documentation (hyperledger-archives/sawtooth-core, docs/source/architecture/poet.rst)',
  title: 'PoET 1.0 Specification',
  date: 'undated',
  url: 'https://github.com/hyperledger-archives/sawtooth-core',
  says: 'validators wait exponentially distributed times in a trusted enclave; the shortest wait wins the block (a lottery: forks are possible)',
};
const CHIA_POWER: Source = {
  author: 'J. Hands (head of storage at Chia Network), chiapower.org',
  title: 'Chia Power: estimate of total energy consumption in the Chia network',
  date: '24 September 2021',
  url: 'https://chiapower.org/',
  says: '"0.307 TWh is the annual power consumption as of 9/24/2021, based on the current netspace of 35.3 EiB"',
};
const CHIA_COSTS: Source = {
  author: 'Chia Network documentation (Chia-Network/chia-docs, docs/06mempool/costs_benchmarking.md and mempool.md)',
  title: 'CLVM costs; Mempool',
  date: 'undated',
  url: 'https://github.com/Chia-Network/chia-docs',
  says: 'target "1000 vanilla transactions per block", "a block is generated approximately every 52 seconds"; the node software "currently creates only smaller blocks (less than 50% of the maximum size)"',
};

// --- the rows --------------------------------------------------------------

/** TRON, as CCRI estimated it for a year of the network (July 2022). */
const TRON_KWH_PER_YEAR = 162_868;
const TRON_TX_PER_YEAR = 2.31e9;
/** Chia: transactions per transaction block and seconds between transaction blocks (its docs' targets). */
const CHIA_TX_PER_BLOCK = 1000;
const CHIA_BLOCK_SECONDS = 52;
const CHIA_TWH_PER_YEAR = 0.307;

export const CONSENSUS_ROWS: readonly ConsensusRow[] = [
  {
    family: 'proof of work',
    system: 'Bitcoin',
    throughput: { value: 7, how: 'published', sources: [VUKOLIC] },
    finality: { value: 3600, text: 'about 1 h (6 blocks of about 10 min)', how: 'published', sources: [VUKOLIC, BITPAY] },
    energy: { value: 1544e3, how: 'published', sources: [DIGICONOMIST_BTC] },
    note: 'The index follows the network: a copy of the same Digiconomist page stored after November 2023 shows 1,119.21 kWh per transaction.',
  },
  {
    family: 'proof of stake',
    system: 'Ethereum after the Merge',
    throughput: { value: 15, how: 'published', sources: [SEDLMEIR] },
    finality: { value: 900, text: 'about 15 min (two epochs)', how: 'published', sources: [ETHEREUM_SSF] },
    energy: { value: 30, how: 'published', sources: [DIGICONOMIST_ETH] },
    note: 'The throughput figure is from before the Merge (2020). CCRI puts the whole network at about 2,601 MWh a year after it.',
  },
  {
    family: 'delegated proof of stake',
    system: 'TRON (27 elected super representatives)',
    throughput: {
      value: TRON_TX_PER_YEAR / SECONDS_PER_YEAR,
      how: 'derived',
      arithmetic: '2.31 billion transactions a year ÷ 31,536,000 s = 73 tx/s: the load the network carried, not its capacity (no primary source for a capacity figure was found)',
      sources: [TRON_CCRI],
    },
    finality: { value: 19 * 3, text: 'about 1 min (19 blocks of 3 s)', how: 'derived', arithmetic: 'solidified after 19 subsequent blocks, one per 3 s slot: 19 × 3 s = 57 s', sources: [TRON_DPOS] },
    energy: {
      value: (TRON_KWH_PER_YEAR * 1000) / TRON_TX_PER_YEAR,
      how: 'derived',
      arithmetic: '162,868 kWh a year ÷ 2.31 billion transactions a year = 0.0705 Wh per transaction ("over 2.31 billion": at most that)',
      sources: [TRON_CCRI],
    },
  },
  {
    family: 'proof of authority',
    system: 'Energy Web Chain (Aura)',
    throughput: {
      value: 30 * 15,
      how: 'derived',
      arithmetic: 'Energy Web\'s estimate of 30× the throughput capacity of Ethereum mainnet × 15 tx/s (the proof-of-stake row\'s figure) = 450 tx/s',
      sources: [EWF_POA, SEDLMEIR],
    },
    finality: { value: null, text: '5 s blocks; time to finality not published', how: 'not published', arithmetic: 'only the block time (5 s) was found', sources: [NETHERMIND_AURA] },
    energy: { value: null, how: 'not published', arithmetic: 'Energy Web gives only a ratio (54,000× less energy than proof of work), no network power or per-transaction figure', sources: [EWF_POA] },
  },
  {
    family: 'PBFT/Tendermint-style BFT',
    system: 'Hyperledger Fabric (permissioned)',
    throughput: { value: 3500, how: 'published', sources: [ANDROULAKI] },
    finality: { value: 1, text: 'under 1 s', how: 'published', sources: [ANDROULAKI] },
    energy: { value: null, how: 'not published', arithmetic: 'no energy or network power figure for Fabric was found', sources: [] },
    note: 'Tendermint: thousands of tx/s, commit latency of 1 to 2 s on 64 nodes over 5 continents (Cosmos whitepaper). The nearest published energy figure for a permissioned BFT-family network is Hedera\'s (hashgraph): 20.95 mWh per transaction (Platt et al. 2021).',
  },
  {
    family: 'proof of elapsed time',
    system: 'Hyperledger Sawtooth PoET',
    throughput: {
      value: 100 / 5,
      how: 'derived',
      arithmetic: 'default settings: at most 100 batches per block, a block every 5 s (target wait time) → 100 ÷ 5 s = 20 batches/s, counted as 20 tx/s with one transaction per batch (a batch may hold more); no measured throughput was found',
      sources: [SAWTOOTH_SETTINGS],
    },
    finality: { value: null, text: 'probabilistic (a lottery; forks possible); not published', how: 'not published', sources: [SAWTOOTH_POET] },
    energy: { value: null, how: 'not published', arithmetic: 'no energy or network power figure for a PoET network was found', sources: [] },
  },
  {
    family: 'proof of capacity (space)',
    system: 'Chia',
    throughput: {
      value: CHIA_TX_PER_BLOCK / CHIA_BLOCK_SECONDS,
      how: 'derived',
      arithmetic: '1,000 transactions per transaction block ÷ 52 s between transaction blocks = 19.2 tx/s (a ceiling: the node software fills blocks to less than half)',
      sources: [CHIA_COSTS],
    },
    finality: { value: null, text: 'a transaction block every ~52 s; probabilistic, no confirmation depth published', how: 'not published', sources: [CHIA_COSTS] },
    energy: {
      value: (CHIA_TWH_PER_YEAR * 1e12) / SECONDS_PER_YEAR / (CHIA_TX_PER_BLOCK / CHIA_BLOCK_SECONDS),
      how: 'derived',
      arithmetic: '0.307 TWh a year ÷ 31,536,000 s = 9,735 Wh/s (35.0 MW); ÷ 19.2 tx/s = 506 Wh per transaction at full capacity (the chain carried fewer transactions, so per transaction carried it was more)',
      sources: [CHIA_POWER, CHIA_COSTS],
    },
  },
];

/** Sources cited elsewhere in the section (in notes), listed with the rows' own. */
const NOTE_SOURCES: readonly Source[] = [ETHEREUM_ENERGY, COSMOS, PLATT];

// --- applying the rows to the workload ---------------------------------------

export interface Workload {
  /** Transactions of the workload (the openlec log records all of them). */
  transactions: number;
  /** Trades inside its clearings, each a transaction of its own on a chain that records trades. */
  trades: number;
  /** The measured openlec log: energy per transaction (µWh), throughput (tx/s) and time to final (ms). */
  openlec: { name: string; microWhPerTx: number; perSecond?: number; finalityMs?: number };
}

const fmtN = (x: number, d = 0) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
/** Three significant figures at most (no trailing zeros), thousands separated. */
const sig = (x: number) => x.toLocaleString('en-US', { maximumFractionDigits: x >= 100 ? 0 : x >= 10 ? 1 : 2 });

/** fmtEnergy writes Wh in the unit that keeps it between 1 and 1,000 (µWh to GWh). */
export function fmtEnergy(wh: number): string {
  const units: [number, string][] = [[1e9, 'GWh'], [1e6, 'MWh'], [1e3, 'kWh'], [1, 'Wh'], [1e-3, 'mWh'], [1e-6, 'µWh']];
  const [scale, unit] = units.find(([s]) => wh >= s) ?? units[units.length - 1]!;
  return `${sig(wh / scale)} ${unit}`;
}

/** fmtDuration writes seconds as ms, s, min, h or days. */
export function fmtDuration(s: number): string {
  if (s < 1) return `${sig(s * 1000)} ms`;
  if (s < 120) return `${sig(s)} s`;
  if (s < 7200) return `${sig(s / 60)} min`;
  if (s < 172_800) return `${sig(s / 3600)} h`;
  return `${sig(s / 86_400)} days`;
}

const SUPERSCRIPT = '⁰¹²³⁴⁵⁶⁷⁸⁹';
/** fmtTimes writes a ratio: 1,234× below a million, 1.2 × 10⁹× above. */
export function fmtTimes(x: number): string {
  if (x < 1e6) return `${sig(x)}×`;
  const e = Math.floor(Math.log10(x));
  return `${(x / 10 ** e).toFixed(1)} × 10${[...String(e)].map((c) => SUPERSCRIPT[Number(c)]).join('')}×`;
}

/** howObtained: "published, not measured" when every figure is, else which figures are published, derived or not published. */
function howObtained(row: ConsensusRow): string {
  const figures = [['throughput', row.throughput], ['finality', row.finality], ['energy', row.energy]] as const;
  const hows: How[] = ['published', 'derived', 'not published'];
  const groups = hows.map((how) => [how, figures.filter(([, f]) => f.how === how).map(([name]) => name)] as const).filter(([, names]) => names.length);
  if (groups.length === 1 && groups[0]![0] === 'published') return 'published, not measured';
  if (groups.length === 1 && groups[0]![0] === 'derived') return 'derived from published figures';
  return groups.map(([how, names]) => `${how}: ${names.join(', ')}`).join('; ');
}

/** What one row means for the workload (numbers; null where the row has no figure). */
export function applyRow(row: ConsensusRow, w: Workload) {
  const wh = row.energy.value;
  const tps = row.throughput.value;
  return {
    family: row.family,
    system: row.system,
    txPerSecond: tps,
    throughputHow: row.throughput.how,
    finalitySeconds: row.finality.value,
    finality: row.finality.text,
    finalityHow: row.finality.how,
    whPerTx: wh,
    energyHow: row.energy.how,
    /** Wh to record the workload's transactions, and its trades were each a transaction. */
    transactionsWh: wh === null ? null : wh * w.transactions,
    tradesWh: wh === null ? null : wh * w.trades,
    /** Seconds to record them at the row's throughput. */
    transactionsSeconds: tps === null ? null : w.transactions / tps,
    tradesSeconds: tps === null ? null : w.trades / tps,
    /** Energy per transaction over openlec's measured energy per transaction. */
    timesOpenlec: wh === null ? null : wh / (w.openlec.microWhPerTx / 1e6),
  };
}

/** consensusTable: the markdown table, openlec's measured row first, then one row per family. */
export function consensusTable(rows: readonly ConsensusRow[], w: Workload): string[] {
  const o = w.openlec;
  const openlecWh = (o.microWhPerTx / 1e6) * w.transactions;
  const lines = [
    `| consensus family | representative system | throughput (tx/s) | finality | energy per tx | how obtained | energy for the ${fmtN(w.transactions)} transactions | energy for ${fmtN(w.trades)} trades as transactions | time to record ${fmtN(w.transactions)} tx | time to record ${fmtN(w.trades)} tx | energy per tx ÷ openlec's |`,
    '|---|---|---|---|---|---|---|---|---|---|---|',
    `| measured here | ${o.name} | ${o.perSecond === undefined ? '—' : fmtN(o.perSecond)} | ${o.finalityMs === undefined ? '—' : `${fmtN(o.finalityMs, 1)} ms`} | ${fmtEnergy(o.microWhPerTx / 1e6)} | measured (CPU of this machine) | ${fmtEnergy(openlecWh)} | ${fmtEnergy(openlecWh)} (the trades are inside its transactions) | ${o.perSecond === undefined ? '—' : fmtDuration(w.transactions / o.perSecond)} | same | 1× |`,
  ];
  for (const row of rows) {
    const a = applyRow(row, w);
    const dash = (x: number | null, f: (x: number) => string) => (x === null ? '—' : f(x));
    lines.push(`| ${row.family} | ${row.system} | ${dash(a.txPerSecond, sig)} | ${row.finality.text} | ${dash(a.whPerTx, fmtEnergy)} | ${howObtained(row)} | ${dash(a.transactionsWh, fmtEnergy)} | ${dash(a.tradesWh, fmtEnergy)} | ${dash(a.transactionsSeconds, fmtDuration)} | ${dash(a.tradesSeconds, fmtDuration)} | ${dash(a.timesOpenlec, fmtTimes)} |`);
  }
  return lines;
}

const cite = (s: Source) => `${s.author}, "${s.title}", ${s.date}: ${s.url}`;

/** consensusProvenance: per row, how each figure was obtained (a derivation's arithmetic) and what its sources say. */
export function consensusProvenance(rows: readonly ConsensusRow[]): string[] {
  return rows.map((row, i) => {
    const figures = [['Throughput', row.throughput], ['Finality', row.finality], ['Energy', row.energy]] as const;
    const parts = figures.map(([name, f]) => {
      const by = f.sources.map((s) => s.author.split(' (')[0]).join('; ');
      if (f.how === 'published') return `${name} published (${by}).`;
      if (f.how === 'derived') return `${name} derived: ${f.arithmetic}.`;
      return `${name} not published: ${f.arithmetic ?? 'no figure found'}.`;
    });
    const sources = [...new Set(figures.flatMap(([, f]) => f.sources))];
    const says = sources.map((s) => `${s.author}: ${s.says}`).join('; ');
    return `${i + 1}. **${row.family}, ${row.system}**: ${parts.join(' ')}${row.note ? ` ${row.note}` : ''}${says ? ` Sources: ${says}.` : ''}`;
  });
}

/** consensusSources: each source once, for the doc's "Sources" list. */
export function consensusSources(rows: readonly ConsensusRow[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const s of [...rows.flatMap((r) => [...r.throughput.sources, ...r.finality.sources, ...r.energy.sources]), ...NOTE_SOURCES]) {
    const line = cite(s);
    if (seen.has(line)) continue;
    seen.add(line);
    out.push(line);
  }
  return out;
}

/** consensusSection: the whole "Consensus families, as published" section of docs/ledger-cost.md. */
export function consensusSection(rows: readonly ConsensusRow[], w: Workload): string {
  return `## Consensus families, as published

The designs above were measured here, on this machine. The rows below were not: for one representative system
of each consensus family they give the throughput, finality and energy per transaction its sources published
(**published, not measured**), or figures computed from published ones (**derived**, with the arithmetic in the list
below the table), and apply them to this workload: the energy to record its ${fmtN(w.transactions)} transactions (and its
${fmtN(w.trades)} trades, were each one a transaction), the time to record them at that throughput, beside the openlec log
as measured above. "—" is a figure no source gave; nothing was estimated in its place. A published energy per
transaction divides a whole network's electricity (every node, consensus included) by the transactions it carried
or could carry, while the measured rows count the CPU of one machine; the sources differ in year and method. Read
the table for orders of magnitude.

${consensusTable(rows, w).join('\n')}

Where each figure comes from:
${consensusProvenance(rows).join('\n')}
`;
}

/** consensusJson: the rows' figures for the workload, for the bench's JSON line. */
export function consensusJson(rows: readonly ConsensusRow[], w: Workload) {
  const r = (x: number | null, d: number) => (x === null ? null : Number(x.toPrecision(d)));
  return rows.map((row) => {
    const a = applyRow(row, w);
    return {
      family: a.family, system: a.system,
      txPerSecond: r(a.txPerSecond, 4), throughput: a.throughputHow,
      finalitySeconds: a.finalitySeconds, finality: a.finalityHow,
      whPerTx: r(a.whPerTx, 4), energy: a.energyHow,
      transactionsWh: r(a.transactionsWh, 4), tradesWh: r(a.tradesWh, 4),
      transactionsSeconds: r(a.transactionsSeconds, 4), tradesSeconds: r(a.tradesSeconds, 4),
      timesOpenlec: r(a.timesOpenlec, 3),
    };
  });
}

/** energyBars: the chart's bars, log10 of nWh per transaction: the measured designs, then every family with an energy figure. */
export function energyBars(measured: readonly { name: string; microWhPerTx: number }[], rows: readonly ConsensusRow[]) {
  return [
    ...measured.map((x) => ({ label: x.name, value: Math.log10(Math.max(1, x.microWhPerTx * 1000)) })),
    ...rows.filter((r) => r.energy.value !== null).map((r) => ({ label: `${r.family}: ${r.system}, ${r.energy.how}`, value: Math.log10(r.energy.value! * 1e9) })),
  ];
}

/** energySvg: docs/ledger-cost.svg, the bars as a standalone SVG file. */
export function energySvg(bars: { label: string; value: number }[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${barChart('ledger-cost-energy', bars, { title: 'Energy per recorded transaction, log10 of nWh' }).replace('<svg ', '<svg xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" ')}\n`;
}
