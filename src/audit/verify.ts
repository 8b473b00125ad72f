import { community } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import {
  canonicalJson, concatBytes, decodeEntry, type DecodedEntry, decodeKey, equalBytes, formatVerifierKey, leafHash, MemoryTree, openCheckpoint, parseVerifierKey,
  type SignatureVerifier, toHex, verifySignature,
} from '../ledger/index.ts';
import { emptyState } from '../registry.ts';
import { applyEntry } from '../state/apply.ts';
import type { Registry } from '../state/registry.ts';
import { type Row, rowKey, type State, type TableSpec } from '../state/tables.ts';
import type { LogSource, StoredCheckpoint } from '../store/log-source.ts';

export interface VerifyProblem {
  readonly code: string;
  readonly message: string;
  readonly entry?: number;
  readonly checkpoint?: number;
  readonly table?: string;
  readonly key?: string;
}

export interface VerifyReport {
  readonly ok: boolean;
  /** The tree size verified: the source's size when verify began (for a live database, its snapshot's). */
  readonly size: number;
  /** The size of the newest stored checkpoint within it, if any. */
  readonly latestCheckpoint: number | null;
  readonly entries: number;
  readonly checkpoints: number;
  readonly root: string;
  readonly rows: Record<string, number>;
  readonly problems: VerifyProblem[];
}

export interface VerifyOptions {
  /** Called with the replayed state when the whole log replayed (e.g. to settle from verified state). */
  onReplayed?: (state: State) => void;
  /** Checks a batch of signatures; default: @noble/curves on this thread. */
  checkSignatures?: (items: readonly DecodedEntry[]) => Promise<boolean[]> | boolean[];
  onProgress?: (done: number, total: number) => void;
  /** Most problems reported per kind before giving up on listing more. */
  maxProblems?: number;
}

const CHUNK = 4096;

/**
 * verifyLog replays a whole log from an empty state and checks everything a store
 * holds against it: each entry's canonical form, signature, authorisation and nonce;
 * every stored tree hash and the index each entry is filed under; every checkpoint's
 * signature and root; every projection row; and the store's own integrity check. The
 * first bad entry stops the replay (what follows it has no meaning); other problems are
 * all listed. Nothing here touches a database: the store is a LogSource, which must show
 * one state throughout (a live database is read through a snapshot).
 */
export async function verifyLog(source: LogSource, registry: Registry, options: VerifyOptions = {}): Promise<VerifyReport> {
  const verify: SignatureVerifier = verifySignature;
  const check = options.checkSignatures ?? ((items: readonly DecodedEntry[]) => items.map((d) => verify(d.publicKey, d.message, d.signature)));
  const max = options.maxProblems ?? 20;
  const problems: VerifyProblem[] = [];
  const state = emptyState(registry);
  const tree = new MemoryTree();
  const total = source.size;
  let replayed = false;
  // Reported after the entries' own problems, which say more about what happened.
  const storeProblems: VerifyProblem[] = [];
  const storeProblem = (p: VerifyProblem) => {
    if (storeProblems.length < max) storeProblems.push(p);
  };

  /** read decodes a chunk, extends the tree and starts checking its signatures (on workers, when given). */
  const read = async (lo: number) => {
    const hi = Math.min(total, lo + CHUNK);
    const decoded: (DecodedEntry | OpenlecError)[] = [];
    for await (const { index, bytes, hashes } of source.entries(lo, hi)) {
      const entry = lo + decoded.length;
      // The bytes may be right and yet filed under another number, where no proof finds them.
      if (index !== entry) storeProblem({ code: 'E_STORE_INDEX', message: `entry ${entry}: stored as entry ${index}, so it is not found by its index (its proof fails)`, entry });
      const first = tree.hashes.length;
      tree.appendLeaf(leafHash(bytes));
      if (!equalBytes(hashes, concatBytes(...tree.hashes.slice(first)))) {
        storeProblem({ code: 'E_STORE_HASH', message: `entry ${entry}: its stored tree hashes differ from the ones its bytes give`, entry });
      }
      try {
        decoded.push(decodeEntry(bytes));
      } catch (e) {
        decoded.push(e as OpenlecError);
      }
    }
    return { hi, decoded, sigs: Promise.resolve(check(decoded.filter((d): d is DecodedEntry => !(d instanceof OpenlecError)))) };
  };

  // Pipelined: the signatures of the next chunk are checked while this one is applied.
  let next = total > 0 ? read(0) : undefined;
  replay: for (let lo = 0; lo < total; lo += CHUNK) {
    const { hi, decoded, sigs: pending } = await next!;
    next = hi < total ? read(hi) : undefined;
    const sigs = await pending;
    let s = 0;
    for (let i = 0; i < decoded.length; i++) {
      const d = decoded[i]!;
      const entry = lo + i;
      const fail = (code: string, message: string) => problems.push({ code, message: `entry ${entry}: ${message}`, entry });
      if (d instanceof OpenlecError) {
        fail(d.code, d.message);
        break replay;
      }
      if (!sigs[s++]) {
        fail('E_TX_SIGNATURE', 'the signature does not verify');
        break replay;
      }
      try {
        applyEntry(state, registry, d, entry);
      } catch (e) {
        const err = e instanceof OpenlecError ? e : new OpenlecError('E_INTERNAL', String(e));
        fail(err.code, err.message);
        break replay;
      }
    }
    // Nothing is rolled back across entries and nothing is persisted: the journal's earlier
    // rows and the dirty keys would only keep every superseded row of the log alive.
    state.forget();
    state.takeDirty();
    if (decoded.length !== hi - lo) {
      problems.push({ code: 'E_STORE_ENTRY', message: `entries ${lo}..${hi - 1}: the store returned ${decoded.length} entries`, entry: lo });
      break;
    }
    options.onProgress?.(hi, total);
    replayed = hi === total;
  }
  // A chunk read ahead of a bad entry is not needed any more.
  next?.then((n) => n.sigs).catch(() => undefined);
  if (total === 0) replayed = true;
  problems.push(...storeProblems);
  for (const found of ((await source.checkIntegrity?.()) ?? []).slice(0, max)) problems.push({ code: 'E_STORE_INTEGRITY', message: `the store's integrity check: ${found}` });
  // After a bad entry the replayed state means nothing, so only a full replay is compared.
  if (replayed) {
    checkCheckpoints(await source.checkpoints(), state, tree, problems, max);
    for (const spec of registry.tables) await checkTable(source, state, spec, problems, max);
    options.onReplayed?.(state);
  }
  const rows: Record<string, number> = {};
  for (const spec of registry.tables) rows[spec.name] = state.count(spec.name);
  const stored = await source.checkpoints();
  const latestCheckpoint = stored.length > 0 ? stored[stored.length - 1]!.size : null;
  return { ok: problems.length === 0, size: total, latestCheckpoint, entries: total, checkpoints: stored.length, root: toHex(tree.root()), rows, problems };
}

function checkCheckpoints(all: readonly StoredCheckpoint[], state: State, tree: MemoryTree, problems: VerifyProblem[], max: number): void {
  const c = community(state);
  if (!c) {
    if (all.length > 0) problems.push({ code: 'E_CHECKPOINT', message: 'checkpoints exist but the log has no community to sign them' });
    return;
  }
  const key = parseVerifierKey(formatVerifierKey(c.id, decodeKey(c.operator)));
  for (const stored of all.slice(0, max)) {
    const fail = (code: string, message: string) => problems.push({ code, message: `checkpoint at size ${stored.size}: ${message}`, checkpoint: stored.size });
    try {
      const cp = openCheckpoint(stored.note, key, c.id);
      if (cp.size !== stored.size) fail('E_CHECKPOINT', `the note says size ${cp.size}`);
      else if (cp.size > tree.size) fail('E_CHECKPOINT', `covers ${cp.size} entries but the log has ${tree.size}`);
      else if (!equalBytes(cp.root, tree.root(cp.size))) fail('E_CHECKPOINT_ROOT', `signed root ${toHex(cp.root)} is not the root of the log's first ${cp.size} entries (${toHex(tree.root(cp.size))})`);
    } catch (e) {
      fail((e as OpenlecError).code ?? 'E_CHECKPOINT', (e as Error).message);
    }
  }
}

async function checkTable(source: LogSource, state: State, spec: TableSpec, problems: VerifyProblem[], max: number): Promise<void> {
  // The replayed rows' keys; each row is read when its stored row comes (a compact table's rows stay deflated).
  const keys = new Set(state.keys(spec.name));
  let found = 0;
  const fail = (key: string, message: string) => {
    if (found++ < max) problems.push({ code: 'E_PROJECTION', message: `table ${spec.name}, row ${JSON.stringify(key.split('\u001f'))}: ${message}`, table: spec.name, key });
  };
  const compare = (key: string, row: Row) => {
    const replayed = keys.has(key) ? state.peek(spec.name, key) : undefined;
    if (replayed === undefined) fail(key, 'is in the store but not in the replayed state');
    else if (canonicalJson(replayed) !== canonicalJson(row)) {
      const cols = Object.keys(spec.columns).filter((col) => canonicalJson(row[col] ?? null) !== canonicalJson(replayed[col] ?? null));
      fail(key, `column ${cols.join(', ')} differs from the replayed state`);
    }
    keys.delete(key);
  };
  if (source.tableTexts) {
    // Stored rows as column texts: a row whose every column's text equals the replayed one's needs no parsing; one that
    // differs is compared as tableRows would give it.
    const columns = Object.keys(spec.columns);
    const names = [...columns].sort();
    const order = names.map((n) => columns.indexOf(n));
    for await (const { key, columns: stored } of source.tableTexts(spec)) {
      const replayed = keys.has(key) ? state.columnTexts(spec.name, key) : undefined;
      if (replayed !== undefined && order.every((j, i) => replayed[j] === stored[i])) keys.delete(key);
      else compare(key, Object.fromEntries(names.map((n, i) => [n, JSON.parse(stored[i]!)])) as Row);
    }
  } else {
    for await (const row of source.tableRows(spec)) compare(rowKey(spec, row), row);
  }
  for (const key of keys) fail(key, 'is missing from the store');
}
