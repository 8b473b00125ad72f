import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { createPublicClient, createWalletClient, type Hex, http, keccak256, toHex as viemHex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { ANVIL_KEY, startAnvil } from '../src/anchor/anvil.ts';
import { AnchorContract, chainOf, compileContract } from '../src/anchor/evm.ts';
import { witness } from '../src/cli/witness.ts';
import { formatCosignerKey, fromUtf8, parseCosignerKey } from '../src/ledger/index.ts';
import { type ClearingRow, type TradeRecord, tradesOf } from '../src/market/tables.ts';
import { writeKeyFile } from '../src/node/key-file.ts';
import { WorkerSignatureChecker } from '../src/node/signatures.ts';
import { buildApp } from '../src/server/app.ts';
import { PersonalVault } from '../src/server/vault.ts';
import { SqliteLedger } from '../src/store/sqlite-ledger.ts';
import { CONSENSUS_ROWS, consensusJson, consensusSection, consensusSources, energyBars, energySvg, type Workload } from './consensus-published.ts';
import { townScenario } from './sim.ts';
import { printTable, round, tempPath } from './support.ts';

/**
 * npm run bench -- ledger-cost: one workload, a month of a 1,000-member community
 * (metered readings, ex-post orders cleared per interval, monthly allocation: the log the
 * simulator writes), recorded four ways on this machine:
 *   1. plain SQLite, no signatures or proofs (the conventional baseline);
 *   2. the openlec log: signatures checked, every rule and clearing recomputed, Merkle
 *      tree, a signed checkpoint every hour of the workload;
 *   3. the same with 3 witnesses cosigning each checkpoint over loopback (quorum 2) and
 *      each checkpoint anchored on anvil;
 *   4. every trade as its own EVM contract transaction on anvil (a sample of the trades,
 *      extrapolated to all).
 * Energy per recorded transaction = measured CPU seconds × WATTS_PER_CORE ÷ transactions.
 * Writes docs/ledger-cost.md and docs/ledger-cost.svg.
 */
const DAYS = Number(process.env.LEDGER_COST_DAYS ?? 31);
const EVM_SAMPLE = Number(process.env.LEDGER_COST_EVM_SAMPLE ?? 2000);
const WATTS_PER_CORE = 10;
const ROOT = join(import.meta.dirname, '..');

interface Design {
  name: string;
  transactions: number;
  wallSeconds: number;
  cpuSeconds: number;
  /** Everything stored, query projections included. */
  bytes: number;
  /** The record itself: for openlec the log's entries and tree hashes, without projections. */
  logBytes: number;
  finality: string;
  finalityMs: number;
  note: string;
}

const cpuNow = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
};
/** CPU seconds of another process, from /proc (Linux). */
const cpuOf = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

function workload(dir: string) {
  const scenario = join(dir, 'town-1000.json');
  // The workload is what a ledger records of a month (readings, clearings, the allocation,
  // registrations), as it was when this table was first measured: certificates off (with
  // --key they split every member's share over every producer, members x producers pieces
  // an interval, more than the default heap holds for this town's month).
  writeFileSync(scenario, JSON.stringify({ ...townScenario(), certificates: false }));
  const out = join(dir, 'workload');
  process.stdout.write(`simulating 1,000 households for ${DAYS} days (the workload)…\n`);
  execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bin', 'openlec.js'), 'simulate', scenario, '--days', String(DAYS), '--key', 'prorata', '--out', out, '--json'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  return join(out, 'ledger.db');
}

/** Cut the month's entries into one batch per hour (DAYS × 24 equal batches): a checkpoint per hour of the month. */
function hours(entries: readonly string[]): string[][] {
  const size = Math.ceil(entries.length / (DAYS * 24));
  const groups: string[][] = [];
  for (let i = 0; i < entries.length; i += size) groups.push(entries.slice(i, i + size));
  return groups;
}

function plainSqlite(dir: string, entries: readonly string[]): Design {
  const path = join(dir, 'plain.db');
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE records (seq INTEGER PRIMARY KEY, type TEXT NOT NULL, body TEXT NOT NULL) STRICT');
  const insert = db.prepare('INSERT INTO records (seq, type, body) VALUES (?, ?, ?)');
  const cpu0 = cpuNow();
  const t0 = performance.now();
  const commits: number[] = [];
  let seq = 0;
  for (const group of hours(entries)) {
    const c0 = performance.now();
    db.transaction(() => {
      for (const e of group) {
        const tx = JSON.parse(e) as { type: string; body: unknown };
        insert.run(seq++, tx.type, JSON.stringify(tx.body));
      }
    })();
    commits.push(performance.now() - c0);
  }
  const wallSeconds = (performance.now() - t0) / 1000;
  const cpuSeconds = cpuNow() - cpu0;
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  const size = statSync(path).size;
  return { name: 'plain SQLite (no signatures, no proofs)', transactions: entries.length, wallSeconds, cpuSeconds, bytes: size, logBytes: size, finality: 'durable commit', finalityMs: median(commits), note: 'trusts whoever holds the database' };
}

async function openlecLog(dir: string, entries: readonly string[], operatorKey: { publicKey: Uint8Array; secretKey: Uint8Array }, extra?: (ledger: SqliteLedger) => Promise<{ after(): Promise<void>; close(): Promise<void> }>) {
  const path = join(dir, extra ? 'openlec-witnessed.db' : 'openlec.db');
  const ledger = SqliteLedger.create(path, { signatures: new WorkerSignatureChecker(1) });
  const cpu0 = cpuNow();
  const t0 = performance.now();
  const finality: number[] = [];
  let hooks: Awaited<ReturnType<NonNullable<typeof extra>>> | undefined;
  let checkpoints = 0;
  for (const group of hours(entries)) {
    const c0 = performance.now();
    const results = await ledger.submitMany(group);
    const refused = results.find((r) => !r.ok);
    if (refused && !refused.ok) throw refused.error;
    ledger.checkpoint(operatorKey);
    checkpoints++;
    hooks ??= extra ? await extra(ledger) : undefined;
    if (hooks) await hooks.after();
    finality.push(performance.now() - c0);
  }
  const wallSeconds = (performance.now() - t0) / 1000;
  const cpuSeconds = cpuNow() - cpu0;
  await hooks?.close();
  await ledger.close();
  const db = new Database(path);
  db.pragma('wal_checkpoint(TRUNCATE)');
  const logBytes = (db.prepare('SELECT sum(length(bytes) + length(hashes)) AS n FROM entries').get() as { n: number }).n;
  db.close();
  return { path, wallSeconds, cpuSeconds, bytes: statSync(path).size, logBytes, finalityMs: median(finality), checkpoints };
}

export async function run() {
  const dir = dirname(tempPath('x'));
  const source = SqliteLedger.open(workload(dir));
  const entries = [...source.entries(0, source.size)].map((e) => fromUtf8(e.bytes));
  const trades: (TradeRecord & { interval: string })[] = ([...source.state.rows('clearings')] as unknown as ClearingRow[]).flatMap((c) => tradesOf(c).map((t) => ({ ...t, interval: c.interval })));
  const members = ([...source.state.rows('participants')] as unknown as { roles: string[] }[]).filter((p) => p.roles.includes('member')).length;
  const origin = source.origin();
  const tradedWh = trades.reduce((a, t) => a + t.wh, 0);
  await source.close();
  // The simulator's operator key (simKey): the checkpoints of the replays are signed with it.
  const { simKey } = await import('../src/sim/community.ts');
  const operatorKey = simKey('1', 'town-1000', 'operator');
  process.stdout.write(`workload: ${entries.length} transactions (${members} members, ${DAYS} days), ${trades.length} trades of ${round(tradedWh / 1000)} kWh\n`);

  const designs: Design[] = [];
  designs.push(plainSqlite(dir, entries));

  const log = await openlecLog(dir, entries, operatorKey);
  designs.push({ name: 'openlec log (signatures, Merkle tree, hourly checkpoints)', transactions: entries.length, wallSeconds: log.wallSeconds, cpuSeconds: log.cpuSeconds, bytes: log.bytes, logBytes: log.logBytes, finality: 'hour batch committed and checkpointed', finalityMs: log.finalityMs, note: `${log.checkpoints} checkpoints; every clearing and allocation recomputed on append` });

  // 3. Witnesses over loopback and anchoring on anvil.
  const anvil = await startAnvil();
  const anvilCpu0 = cpuOf(anvil.process.pid!);
  const witnessFiles = await Promise.all(['w1', 'w2', 'w3'].map(async (w) => {
    const { keyPairFromSeed } = await import('../src/ledger/index.ts');
    const k = keyPairFromSeed(new Uint8Array(randomBytes(32)));
    const file = join(dir, `${w}-witness.key`);
    writeKeyFile(file, k);
    return { file, name: `${w}.bench`, vkey: formatCosignerKey(`${w}.bench`, k.publicKey) };
  }));
  const cosignMs: number[] = [];
  const anchorMs: number[] = [];
  let anchorGas = 0n;
  const witnessed = await openlecLog(dir, entries, operatorKey, async (ledger) => {
    const vault = PersonalVault.open(':memory:', randomBytes(32));
    const { app } = await buildApp({ ledger, vault, tokenSecret: randomBytes(32), witnesses: { keys: witnessFiles.map((w) => parseCosignerKey(w.vkey)), quorum: 2 } });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    const contract = await AnchorContract.deploy({ rpc: anvil.rpc, privateKey: ANVIL_KEY });
    return {
      async after() {
        const c0 = performance.now();
        await Promise.all(witnessFiles.map((w) => witness({ from: url, key: w.file, name: w.name, state: `${w.file}.state.json`, evidence: dir, every: 0 })));
        cosignMs.push(performance.now() - c0);
        const cp = ledger.latestCheckpoint()!.checkpoint;
        const a0 = performance.now();
        const r = await contract.anchor(origin, cp.size, cp.root);
        anchorGas += r.gasUsed;
        anchorMs.push(performance.now() - a0);
      },
      async close() {
        await app.close();
        vault.close();
      },
    };
  });
  const anvilCpu3 = cpuOf(anvil.process.pid!) - anvilCpu0;
  designs.push({
    name: 'openlec + 3 witnesses (loopback) + hourly anchoring on anvil', transactions: entries.length, wallSeconds: witnessed.wallSeconds, cpuSeconds: witnessed.cpuSeconds + anvilCpu3, bytes: witnessed.bytes, logBytes: witnessed.logBytes,
    finality: 'checkpoint cosigned by 2 of 3 and anchored', finalityMs: witnessed.finalityMs,
    note: `cosigning ${round(median(cosignMs), 1)} ms and anchoring ${round(median(anchorMs), 1)} ms per checkpoint (median); ${witnessed.checkpoints} anchors, ${anchorGas} gas in all; anvil CPU ${round(anvilCpu3, 2)} s included`,
  });

  // 4. Every trade its own EVM transaction: a sample, extrapolated.
  const chain = await chainOf({ rpc: anvil.rpc });
  const account = privateKeyToAccount(ANVIL_KEY);
  const wallet = createWalletClient({ account, chain, transport: http(anvil.rpc) });
  const pub = createPublicClient({ chain, transport: http(anvil.rpc) });
  const { abi, bytecode } = compileContract('TradeLog');
  const deployed = await pub.waitForTransactionReceipt({ hash: await wallet.deployContract({ abi, bytecode, account, chain }) });
  const sample = trades.slice(0, Math.min(EVM_SAMPLE, trades.length));
  const id = (s: string): Hex => keccak256(viemHex(s));
  let nonce = await pub.getTransactionCount({ address: account.address });
  const latencies: number[] = [];
  let gas = 0n;
  let calldata = 0;
  const anvilCpu4 = cpuOf(anvil.process.pid!);
  const cpu4 = cpuNow();
  const t4 = performance.now();
  const IN_FLIGHT = 16;
  for (let i = 0; i < sample.length; i += IN_FLIGHT) {
    // Sent one after the other, so that they reach the node in nonce order (a transaction that
    // arrives before its predecessor waits in the pool until another one comes), then awaited together.
    const sent: { hash: Hex; s0: number }[] = [];
    for (const t of sample.slice(i, i + IN_FLIGHT)) {
      const s0 = performance.now();
      sent.push({ s0, hash: await wallet.writeContract({ address: deployed.contractAddress!, abi, functionName: 'record', args: [id(t.interval), id(t.buyer), id(t.seller), BigInt(t.wh), BigInt(t.price)], account, chain, nonce: nonce++, gas: 200_000n }) });
    }
    await Promise.all(sent.map(async ({ hash, s0 }) => {
      const r = await pub.waitForTransactionReceipt({ hash, pollingInterval: 20, timeout: 60_000 });
      latencies.push(performance.now() - s0);
      gas += r.gasUsed;
      calldata += 4 + 5 * 32;
    }));
  }
  const evmWall = (performance.now() - t4) / 1000;
  const evmCpu = cpuNow() - cpu4 + (cpuOf(anvil.process.pid!) - anvilCpu4);
  await anvil.stop();
  const scale = trades.length / Math.max(1, sample.length);
  // Bytes on chain per trade: the signed transaction (calldata + about 110 bytes of envelope and signature), its log (3 topics-worth + 4 words) and 4 storage words.
  const evmBytesPerTrade = calldata / Math.max(1, sample.length) + 110 + (32 + 4 * 32) + 4 * 32;
  designs.push({
    name: 'every trade an EVM contract transaction (anvil)', transactions: trades.length, wallSeconds: evmWall * scale, cpuSeconds: evmCpu * scale, bytes: evmBytesPerTrade * trades.length, logBytes: evmBytesPerTrade * trades.length,
    finality: 'transaction mined (anvil automine; a public chain adds its block time)', finalityMs: median(latencies),
    note: `measured on ${sample.length} of ${trades.length} trades and extrapolated; ${Number(gas / BigInt(Math.max(1, sample.length)))} gas per trade; readings, clearings and allocations not even recorded`,
  });

  const memberDays = members * DAYS;
  const rows = designs.map((d) => ({
    ...d,
    perSecond: d.transactions / d.wallSeconds,
    cpuMsPerTx: (1000 * d.cpuSeconds) / d.transactions,
    bytesPerTx: d.logBytes / d.transactions,
    bytesPerMemberDay: d.logBytes / memberDays,
    storedPerMemberDay: d.bytes / memberDays,
    microWhPerTx: (d.cpuSeconds * WATTS_PER_CORE * 1e6) / 3600 / d.transactions,
  }));
  printTable(`ledger designs on one workload: ${entries.length} transactions, ${trades.length} trades, ${members} members, ${DAYS} days (CPU at ${WATTS_PER_CORE} W per core)`, rows.map((r) => [
    r.name, r.transactions, round(r.perSecond), round(r.finalityMs, 1), round(r.cpuSeconds, 1), round(r.cpuMsPerTx, 3), round(r.bytesPerTx), round(r.bytesPerMemberDay), round(r.storedPerMemberDay), round(r.microWhPerTx, 2),
  ]), ['design', 'transactions', 'tx/s', 'to final ms', 'CPU s', 'CPU ms/tx', 'record B/tx', 'record B/member-day', 'stored B/member-day', 'µWh/tx']);

  const avgTradeWh = tradedWh / Math.max(1, trades.length);
  // The published consensus families, applied to this workload beside the measured openlec log (design 2).
  const openlec = rows[1]!;
  const consensusWorkload: Workload = { transactions: entries.length, trades: trades.length, openlec: { name: openlec.name, microWhPerTx: openlec.microWhPerTx, perSecond: openlec.perSecond, finalityMs: openlec.finalityMs } };
  writeDocs({ rows, entries: entries.length, trades: trades.length, members, tradedWh, avgTradeWh, workload: consensusWorkload });
  const figures = {
    bench: 'ledger-cost', days: DAYS, members, transactions: entries.length, trades: trades.length, wattsPerCore: WATTS_PER_CORE, evmSample: sample.length,
    designs: rows.map((r) => ({ name: r.name, txPerSecond: round(r.perSecond), finalityMs: round(r.finalityMs, 1), cpuSeconds: round(r.cpuSeconds, 2), cpuMsPerTx: round(r.cpuMsPerTx, 4), bytesPerTx: round(r.bytesPerTx), bytesPerMemberDay: round(r.bytesPerMemberDay), storedBytesPerMemberDay: round(r.storedPerMemberDay), microWhPerTx: round(r.microWhPerTx, 3) })),
    /** Published (or derived from published) figures of the consensus families, not measured here, for this workload. */
    published: consensusJson(CONSENSUS_ROWS, consensusWorkload),
  };
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

function writeDocs(r: { rows: (Design & { perSecond: number; cpuMsPerTx: number; bytesPerTx: number; bytesPerMemberDay: number; storedPerMemberDay: number; microWhPerTx: number })[]; entries: number; trades: number; members: number; tradedWh: number; avgTradeWh: number; workload: Workload }) {
  const fmt = (x: number, d = 0) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  // log10 of nWh: every bar is positive. The measured designs, then the consensus families with a published or derived energy per transaction.
  writeFileSync(join(ROOT, 'docs', 'ledger-cost.svg'), energySvg(energyBars(r.rows, CONSENSUS_ROWS)));
  const walenstadtBytesPerMemberDay = 1200e6 / (37 * 182);
  const energyPerTradeWh = r.avgTradeWh;
  const md = `# What a ledger costs: four designs on one workload

Written by \`npm run bench -- ledger-cost\` on ${new Date().toISOString().slice(0, 10)} (2 cores; CPU energy at an assumed ${WATTS_PER_CORE} W per busy core).

The workload is a month of a 1,000-member community as the simulator records it: ${fmt(r.entries)} transactions
(metered readings per meter and day, an ex-post clearing per half-hour, the monthly
allocation, registrations), with ${fmt(r.trades)} trades inside the clearings
(${fmt(r.tradedWh / 1000)} kWh, ${fmt(r.avgTradeWh)} Wh per trade on average). Each design records it on this machine.

| design | transactions | per second | to final (median) | CPU s | CPU ms per tx | record bytes per tx | record bytes per member-day | stored bytes per member-day | energy per tx (µWh) |
|---|---|---|---|---|---|---|---|---|---|
${r.rows.map((x) => `| ${x.name} | ${fmt(x.transactions)} | ${fmt(x.perSecond)} | ${fmt(x.finalityMs, 1)} ms (${x.finality}) | ${fmt(x.cpuSeconds, 1)} | ${fmt(x.cpuMsPerTx, 3)} | ${fmt(x.bytesPerTx)} | ${fmt(x.bytesPerMemberDay)} | ${fmt(x.storedPerMemberDay)} | ${fmt(x.microWhPerTx, 2)} |`).join('\n')}

"Record" is what the design keeps as its record: the rows of plain SQLite; the openlec log's signed entries and tree
hashes; design 4's transactions, events and contract storage. "Stored" adds what a design keeps to answer queries
(openlec's projections: every reading again, every trade of every clearing).

Notes on each design:
${r.rows.map((x, i) => `${i + 1}. **${x.name}**: ${x.note}.`).join('\n')}

Energy per recorded transaction, log scale (log10 of nWh: 3 = 1 µWh, 9 = 1 Wh, 12 = 1 kWh; the four designs measured here, then the consensus families below that have a published or derived figure, none of them measured here):

![energy per transaction](ledger-cost.svg)

${consensusSection(CONSENSUS_ROWS, r.workload)}
## Against the energy recorded

An average trade here moves ${fmt(energyPerTradeWh)} Wh. The energy of recording, per trade (all CPU energy of the design ÷ ${fmt(r.trades)} trades):
${r.rows.map((x) => { const perTrade = (x.microWhPerTx * x.transactions) / r.trades; return `- ${x.name}: ${fmt(perTrade, 3)} µWh per trade, one part in ${fmt(energyPerTradeWh / (perTrade / 1e6))} of the energy traded.`; }).join('\n')}
- Bitcoin, for comparison: 1,544 kWh per transaction, about ${fmt(1544e3 / Math.max(1e-9, energyPerTradeWh))} times the energy of an average trade here.

## Storage against a pilot

The Quartierstrom pilot in Walenstadt (37 households) accumulated about 1,200 MB of blockchain data in its first six
months, about ${fmt(walenstadtBytesPerMemberDay)} bytes per member-day. The openlec log of this workload takes
${fmt(r.rows[1]!.bytesPerMemberDay)} bytes per member-day (${fmt(r.rows[1]!.storedPerMemberDay)} with its query projections), with every
reading, clearing and allocation in it.

## Sources

- Quartierstrom: "Datenflut und Energieschleuder?", quartier-strom.ch, 1 November 2019 ("Im ersten halben Jahr haben sich rund 1200 Megabyte angesammelt"): https://quartier-strom.ch/index.php/2019/11/01/datenflut-und-energieschleuder-2/ ; 37 households: L. Ableitner et al., Quartierstrom, arXiv:1905.07242.
${consensusSources(CONSENSUS_ROWS).map((x) => `- ${x}`).join('\n')}

## Method

- CPU time is the process's user + system time (worker threads included); for anvil, its own process's time from /proc.
  Energy = CPU seconds × ${WATTS_PER_CORE} W ÷ transactions: the marginal energy of the computation on a busy core, not a whole
  server's idle power, nor a chain's consensus (which design 4's anvil does not run).
- Finality: plain SQLite and the openlec log are final once committed (openlec: and covered by a signed checkpoint);
  design 3 once 2 of 3 witnesses cosigned the checkpoint and it is anchored; design 4 once mined (anvil mines at once;
  a public chain adds its block time and confirmations).
- Design 4 is measured on a sample of trades (sent in batches of 16, in nonce order, then awaited) and scaled to all trades; it records trades only, none of the
  readings, clearings or allocations that the other designs hold.
- Bytes: SQLite file sizes after a WAL checkpoint (stored), the entries and hashes of the log (record); design 4: calldata plus about 110 bytes of transaction envelope,
  the event log and 4 storage words per trade.
`;
  writeFileSync(join(ROOT, 'docs', 'ledger-cost.md'), md);
}
