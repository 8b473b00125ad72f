import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { OpenlecError } from '../errors.ts';
import { equalBytes, fromUtf8, leafHash, MemoryTree, openCheckpoint, parseVerifierKey, proveInclusion, toBase64, utf8 } from '../ledger/index.ts';
import { readKeyFile } from '../node/key-file.ts';
import { nodeVerifySignature, WorkerSignatureChecker } from '../node/signatures.ts';
import { buildApp } from '../server/app.ts';
import { PersonalVault } from '../server/vault.ts';
import type { LedgerStore } from '../store/ledger-store.ts';
import { SqliteLedger } from '../store/sqlite-ledger.ts';
import type { Evidence } from '../trust/evidence.ts';
import { Remote, saveEvidence } from './remote.ts';

export interface FollowOptions {
  from: string;
  db: string;
  /** A staff key of the replica's organisation (auditor, DSO): entries are read with it. */
  key: string;
  /** The operator's checkpoint key, pinned out of band; else taken from the operator on first contact and then from the log itself. */
  verifierKey?: string;
  evidence: string;
  /** Seconds between polls; 0 = once. */
  every: number;
  port?: number;
  host?: string;
  log?: (line: string) => void;
}

const CHUNK = 2000;

/**
 * Replica: pulls the operator's log over HTTP and keeps an independent copy that it has
 * verified entry by entry. Each round takes the operator's newest checkpoint (signature
 * checked), fetches the missing entries, checks that they extend the local tree to the
 * checkpoint's root before writing anything, then appends them through its own ledger
 * (signatures, nonces, roles, every rule, the replayed state; all or nothing) and keeps
 * the checkpoint. If the operator's log ever contradicts what the replica holds, it saves
 * the evidence and stops, keeping everything it verified.
 */
export async function follow(o: FollowOptions): Promise<{ size: number; url?: string; close(): Promise<void>; done: Promise<void> }> {
  const remote = new Remote(o.from, readKeyFile(o.key));
  const log = o.log ?? (() => {});
  // The replica is its file's writer from the start: a second follow (or any writer) on it is refused.
  const options = { signatures: new WorkerSignatureChecker(1), writer: true };
  const ledger: LedgerStore = existsSync(o.db) ? SqliteLedger.open(o.db, options) : SqliteLedger.create(o.db, options);
  let verifierKey = ledger.size > 0 ? ledger.operatorVerifierKey() : o.verifierKey ?? (await remote.get<{ verifierKey: string }>('/v1/community')).verifierKey;
  if (o.verifierKey && o.verifierKey !== verifierKey) throw new OpenlecError('E_VERIFIER_KEY', `the replica's log is signed by ${verifierKey}, not the pinned ${o.verifierKey}`, { field: 'verifierKey' });

  /** open checks a checkpoint of the operator's against the key the replica trusts. */
  const open = (note: string) => {
    const key = parseVerifierKey(verifierKey);
    return openCheckpoint(note, key, key.name, nodeVerifySignature);
  };

  const evidence = async (local: { size: number; note: string } | undefined, note: string, why: string): Promise<never> => {
    const observedAt = new Date().toISOString();
    const remoteCp = open(note);
    let e: Evidence | undefined;
    if (local && local.size === remoteCp.size) e = { kind: 'split-view', verifierKey, observedAt, a: local.note, b: note };
    else if (local) e = await forkEvidence(local, note, remoteCp.size, observedAt);
    const file = e ? saveEvidence(o.evidence, e) : undefined;
    throw new OpenlecError('E_EQUIVOCATION', `the operator's log contradicts the replica: ${why}${file ? `; evidence in ${file} (openlec verify-evidence ${file})` : ''}; the replica keeps its ${ledger.size} verified entries`, { field: 'from', details: { evidence: file } });
  };

  /** forkEvidence finds the first entry where the operator's log now differs from the replica's, with inclusion proofs under both checkpoints. */
  const forkEvidence = async (local: { size: number; note: string }, note: string, size: number, observedAt: string): Promise<Evidence | undefined> => {
    const theirs: string[] = [];
    while (theirs.length < size) theirs.push(...(await remote.get<{ entries: string[] }>(`/v1/log/entries?from=${theirs.length}&limit=${CHUNK}`)).entries);
    const tree = new MemoryTree();
    for (const t of theirs.slice(0, size)) tree.appendLeaf(leafHash(utf8(t)));
    if (!equalBytes(tree.root(size), open(note).root)) return undefined;
    const n = Math.min(local.size, size);
    for (let lo = 0; lo < n; lo += CHUNK) {
      for (const { index: i, bytes } of await ledger.readEntries(lo, Math.min(n, lo + CHUNK))) {
        const mine = fromUtf8(bytes);
        if (mine === theirs[i]) continue;
        return {
          kind: 'fork', verifierKey, observedAt, a: local.note, b: note, index: i,
          entryA: mine, proofA: (await ledger.inclusionProof(i, local.size)).map(toBase64),
          entryB: theirs[i]!, proofB: proveInclusion(i, size, tree).map(toBase64),
        };
      }
    }
    return { kind: 'inconsistent', verifierKey, observedAt, a: local.note, b: note, proof: [] };
  };

  const round = async () => {
    const latest = await remote.get<{ size: number; note: string }>('/v1/checkpoints/latest');
    const cp = open(latest.note);
    // The replica is its log's only writer: its size changes only by this round's append.
    const first = ledger.size;
    const mine = first > 0 ? ledger.latestCheckpoint() : undefined;
    const local = mine ? { size: mine.checkpoint.size, note: mine.note } : undefined;
    if (cp.size <= first) {
      // Nothing new, or an older checkpoint: it must match the replica's own tree.
      if (cp.size > 0 && !equalBytes(await ledger.rootAt(cp.size), cp.root)) await evidence(local, latest.note, `its checkpoint of size ${cp.size} has another root than the replica's tree`);
      return;
    }
    const entries: Uint8Array[] = [];
    while (first + entries.length < cp.size) {
      const r = await remote.get<{ entries: string[] }>(`/v1/log/entries?from=${first + entries.length}&limit=${Math.min(CHUNK, cp.size - first - entries.length)}`);
      if (r.entries.length === 0) throw new OpenlecError('E_REMOTE', `the operator serves no entry ${first + entries.length} although its checkpoint has ${cp.size}`, { field: 'from' });
      entries.push(...r.entries.map((t) => utf8(t)));
    }
    entries.length = cp.size - first;
    if (!equalBytes(ledger.rootAfter(entries), cp.root)) await evidence(local, latest.note, `its entries ${first}..${cp.size - 1} do not extend the replica's tree to its checkpoint of size ${cp.size}`);
    try {
      await ledger.submitAtomic(entries);
    } catch (e) {
      const err = e as OpenlecError;
      throw new OpenlecError('E_REPLICA_REFUSED', `entry ${first + Number(err.details?.index ?? 0)} of the operator's log fails verification: ${err.message}; the replica keeps its ${ledger.size} verified entries`, { field: 'from', cause: e });
    }
    if (first === 0) {
      // From now on the replica trusts the key written in the log itself.
      const own = ledger.operatorVerifierKey();
      if (own !== verifierKey) throw new OpenlecError('E_VERIFIER_KEY', `the log's operator key ${own} is not the one that signed its checkpoint (${verifierKey})`, { field: 'verifierKey' });
      verifierKey = own;
    }
    await ledger.keepCheckpoint(latest.note);
    log(`replica: verified entries ${first}..${cp.size - 1}, checkpoint ${cp.size}`);
  };

  // One round before serving: an empty replica has no community (nor origin) to serve yet.
  // A follower started before the operator's first checkpoint waits for it; a single round refuses.
  for (let waited = false; ; waited = true) {
    try {
      await round();
      break;
    } catch (e) {
      if (!(o.every > 0 && noCheckpointYet(e))) {
        await ledger.close();
        throw e;
      }
      if (!waited) log(`replica: ${o.from} has no checkpoint yet; asking again every ${o.every} s`);
      await new Promise((r) => setTimeout(r, o.every * 1000));
    }
  }
  let stopped = o.every <= 0;
  let url: string | undefined;
  let app: Awaited<ReturnType<typeof buildApp>>['app'] | undefined;
  let vault: PersonalVault | undefined;
  if (o.port !== undefined) {
    vault = PersonalVault.open(':memory:', randomBytes(32));
    app = (await buildApp({ ledger, vault, tokenSecret: randomBytes(32), readOnly: { operatorUrl: o.from } })).app;
    url = await app.listen({ port: o.port, host: o.host ?? '127.0.0.1' });
  }
  const done = (async () => {
    while (!stopped) {
      await new Promise((r) => setTimeout(r, o.every * 1000));
      if (!stopped) await round();
    }
  })();
  const close = async () => {
    stopped = true;
    await done.catch(() => undefined);
    await app?.close();
    vault?.close();
    await ledger.close();
  };
  if (o.every <= 0 && o.port === undefined) {
    try {
      await done;
    } finally {
      await close();
    }
  }
  return { size: ledger.size, ...(url ? { url } : {}), close, done };
}

/** noCheckpointYet: the operator answered that it has signed no checkpoint yet (a log just created). */
function noCheckpointYet(e: unknown): boolean {
  return e instanceof OpenlecError && e.code === 'E_REMOTE' && e.details.code === 'E_NO_CHECKPOINT';
}
