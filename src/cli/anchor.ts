import { AnchorContract, type ChainOptions, readPrivateKey } from '../anchor/evm.ts';
import { OpenlecError } from '../errors.ts';
import { openCheckpoint, parseVerifierKey, toHex } from '../ledger/index.ts';
import { SqliteLedger } from '../store/sqlite-ledger.ts';

export interface AnchorOptions extends ChainOptions {
  db: string;
  /** File with the operator's EVM private key (0x hex). */
  key: string;
  contract?: string;
  deploy?: boolean;
  /** Anchor only checkpoints with at least this many witness cosignatures. */
  quorum: number;
  /** Seconds between rounds; 0 = once. */
  every: number;
  log?: (line: string) => void;
}

/** parseDuration reads "90", "90s", "15m", "1h" or "1d" as seconds. */
export function parseDuration(text: string, field: string): number {
  const m = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(text.trim());
  if (!m) throw new OpenlecError('E_USAGE', `${field} must be a duration such as 30s, 15m or 1h (got "${text}")`, { field });
  return Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
}

/**
 * anchor records, on an EVM chain, the root of the newest checkpoint that has the
 * required cosignatures and is larger than the last anchored one. The chain is the record:
 * `openlec verify --anchors` reads the contract's events back.
 */
export async function anchor(o: AnchorOptions): Promise<{ contract: string; chainId: number; anchored: { size: number; tx: string; block: bigint; gasUsed: bigint }[] }> {
  const privateKey = readPrivateKey(o.key);
  if (!o.contract && !o.deploy) throw new OpenlecError('E_USAGE', 'anchor needs --contract ADDRESS or --deploy', { field: 'contract' });
  const contract = o.contract ? await AnchorContract.at({ ...o, address: o.contract, privateKey }) : await AnchorContract.deploy({ ...o, privateKey });
  o.log?.(`anchor contract ${contract.address} on chain ${contract.chainId}`);
  const anchored: { size: number; tx: string; block: bigint; gasUsed: bigint }[] = [];
  for (;;) {
    // Checkpoints and cosignatures only: the projections stay on disk.
    const ledger = SqliteLedger.open(o.db, { projections: false });
    try {
      const done = (await contract.anchors(ledger.origin())).reduce((m, a) => Math.max(m, a.size), 0);
      const r = await anchorNewest(ledger, contract, o.quorum, done);
      if (r) {
        anchored.push({ size: r.size, tx: r.tx, block: r.block, gasUsed: r.gasUsed });
        o.log?.(`anchored checkpoint ${r.size} (root ${toHex(r.root).slice(0, 16)}…) in block ${r.block}, tx ${r.tx}, gas ${r.gasUsed}`);
      }
    } finally {
      await ledger.close();
    }
    if (o.every <= 0) return { contract: contract.address, chainId: contract.chainId, anchored };
    await new Promise((r) => setTimeout(r, o.every * 1000));
  }
}

/** anchorNewest anchors the newest stored checkpoint with `quorum` cosignatures larger than `after`, if there is one. */
export async function anchorNewest(ledger: SqliteLedger, contract: AnchorContract, quorum: number, after: number) {
  const next = ledger.newestCheckpoint(quorum, after);
  if (!next) return undefined;
  const cp = openCheckpoint(next.note, parseVerifierKey(ledger.operatorVerifierKey()), ledger.origin());
  return { size: cp.size, root: cp.root, ...(await contract.anchor(ledger.origin(), cp.size, cp.root)) };
}

/** checkAnchors compares every root anchored for the log with the log's own root at that size. */
export async function checkAnchors(ledger: SqliteLedger, o: ChainOptions & { contract: string }) {
  const contract = await AnchorContract.at({ ...o, address: o.contract });
  const problems: { code: string; message: string; checkpoint: number }[] = [];
  const anchors = (await contract.anchors(ledger.origin())).map((a) => ({ ...a, block: Number(a.block) }));
  for (const a of anchors) {
    if (a.size > ledger.size) problems.push({ code: 'E_ANCHOR_BEYOND', message: `size ${a.size} was anchored in block ${a.block} but the log has only ${ledger.size} entries`, checkpoint: a.size });
    else if (toHex(ledger.root(a.size)) !== a.root) problems.push({ code: 'E_ANCHOR_MISMATCH', message: `the root anchored for size ${a.size} in block ${a.block} (tx ${a.tx}) is not the log's root at that size`, checkpoint: a.size });
  }
  return { anchors: anchors.length, latest: anchors[anchors.length - 1] ?? null, problems };
}
