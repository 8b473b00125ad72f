import { openCheckpoint, parseVerifierKey, toHex } from '../ledger/index.ts';
import type { LedgerStore } from '../store/ledger-store.ts';
import { SqliteLedger } from '../store/sqlite-ledger.ts';
import { AnchorContract, type ChainOptions } from './evm.ts';

/**
 * Anchoring a log's checkpoints on an EVM chain, and checking the anchors against the
 * log: what `openlec anchor`, `openlec verify --anchors` and the live demo share.
 */

/** What anchoring reads of a log: its origin, its operator's checkpoints and their cosignatures. */
type CheckpointedLog = Pick<LedgerStore, 'origin' | 'operatorVerifierKey' | 'newestCheckpoint'>;

/** What checking anchors reads of a log: its origin and its roots. */
type RootedLog = Pick<LedgerStore, 'origin' | 'size' | 'rootAt'>;

/** anchorNewest anchors the newest stored checkpoint with `quorum` cosignatures larger than `after`, if there is one. */
export async function anchorNewest(ledger: CheckpointedLog, contract: AnchorContract, quorum: number, after: number) {
  const next = ledger.newestCheckpoint(quorum, after);
  if (!next) return undefined;
  const cp = openCheckpoint(next.note, parseVerifierKey(ledger.operatorVerifierKey()), ledger.origin());
  return { size: cp.size, root: cp.root, ...(await contract.anchor(ledger.origin(), cp.size, cp.root)) };
}

/**
 * anchorRound is one round of `openlec anchor`: it opens the log (checkpoints and
 * cosignatures only: the projections stay on disk), reads the largest size the contract
 * already holds for it, and anchors the newest checkpoint beyond that, if any.
 */
export async function anchorRound(db: string, contract: AnchorContract, quorum: number) {
  const ledger = SqliteLedger.open(db, { projections: false });
  try {
    const done = (await contract.anchors(ledger.origin())).reduce((m, a) => Math.max(m, a.size), 0);
    return await anchorNewest(ledger, contract, quorum, done);
  } finally {
    await ledger.close();
  }
}

/** checkAnchors compares every root anchored for the log with the log's own root at that size. */
export async function checkAnchors(ledger: RootedLog, o: ChainOptions & { contract: string }) {
  const contract = await AnchorContract.at({ ...o, address: o.contract });
  const problems: { code: string; message: string; checkpoint: number }[] = [];
  const anchors = (await contract.anchors(ledger.origin())).map((a) => ({ ...a, block: Number(a.block) }));
  const size = ledger.size;
  for (const a of anchors) {
    if (a.size > size) problems.push({ code: 'E_ANCHOR_BEYOND', message: `size ${a.size} was anchored in block ${a.block} but the log has only ${size} entries`, checkpoint: a.size });
    else if (toHex(await ledger.rootAt(a.size)) !== a.root) problems.push({ code: 'E_ANCHOR_MISMATCH', message: `the root anchored for size ${a.size} in block ${a.block} (tx ${a.tx}) is not the log's root at that size`, checkpoint: a.size });
  }
  return { anchors: anchors.length, latest: anchors[anchors.length - 1] ?? null, problems };
}
