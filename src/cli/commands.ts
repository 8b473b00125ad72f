import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { checkEntryProof, type EntryProof } from '../audit/entry-proof.ts';
import { verifyLog, type VerifyReport } from '../audit/verify.ts';
import { Signer } from '../client.ts';
import { community, participant } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import { decodeEntry, encodeKey, fromUtf8, type KeyPair, leafHash, openCheckpoint, parseVerifierKey, toBase64, toHex } from '../ledger/index.ts';
import { generateKeyPair, readKeyFile, writeKeyFile } from '../node/key-file.ts';
import { nodeVerifySignature, WorkerSignatureChecker } from '../node/signatures.ts';
import type { LedgerStore } from '../store/ledger-store.ts';
import { SqliteLedger, type SqliteLedgerOptions } from '../store/sqlite-ledger.ts';
import { lockPath } from '../store/writer-lock.ts';
import { formatInstant } from '../units/index.ts';
import { progress, table } from './output.ts';

/**
 * defaultKeyPath is where the operator key of a database is, for every command that signs
 * as the operator (init writes it there; checkpoint, allocate, market clear, serve read
 * it): `keys/operator.key` in the database's folder. One rule for every key file openlec
 * makes: `keys/` beside the database (the walkthrough's and the live demo's DSO, members
 * and auditor too).
 */
export function defaultKeyPath(db: string): string {
  return join(dirname(db), 'keys', 'operator.key');
}

const now = () => formatInstant(Math.floor(Date.now() / 1000) * 1000);

function slug(name: string): string {
  return name.toLowerCase().normalize('NFD').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60) || 'community';
}

export interface InitOptions {
  db: string;
  name: string;
  tz: string;
  interval: string;
  currency: string;
  id?: string;
  key?: string;
}

/** init creates the operator key (unless the key file exists) and a log whose entry 0 creates the community. */
export async function init(o: InitOptions): Promise<{ id: string; key: string; operator: string }> {
  const keyPath = o.key ?? defaultKeyPath(o.db);
  const key = existsSync(keyPath) ? readKeyFile(keyPath) : generateKeyPair();
  const id = o.id ?? `openlec.local/${slug(o.name)}`;
  const interval = Number(o.interval);
  mkdirSync(dirname(o.db), { recursive: true });
  const ledger = SqliteLedger.create(o.db);
  try {
    const tx = new Signer(key, id, 0, now).sign('community.create', { name: o.name, timeZone: o.tz, intervalMinutes: interval, currency: o.currency, operator: encodeKey(key.publicKey) });
    const r = await ledger.submit(tx);
    if (!r.ok) throw r.error;
    ledger.checkpoint(key);
  } catch (e) {
    await ledger.close();
    for (const f of [o.db, `${o.db}-wal`, `${o.db}-shm`, lockPath(o.db)]) rmSync(f, { force: true });
    throw e;
  }
  await ledger.close();
  if (!existsSync(keyPath)) writeKeyFile(keyPath, key);
  return { id, key: keyPath, operator: encodeKey(key.publicKey) };
}

export function keygen(out: string): string {
  const key = generateKeyPair();
  writeKeyFile(out, key);
  return encodeKey(key.publicKey);
}

export interface SubmitOptions {
  db: string;
  key: string;
  type: string;
  body: string;
  nonce?: string;
}

/** submitTx signs a transaction with a key file and appends it; the nonce defaults to the actor's next one. */
export async function submitTx(o: SubmitOptions): Promise<{ entry: number }> {
  let body: unknown;
  try {
    body = JSON.parse(o.body);
  } catch (e) {
    throw new OpenlecError('E_BODY_JSON', `--body is not JSON: ${(e as Error).message}`, { field: 'body' });
  }
  const key = readKeyFile(o.key);
  const ledger = SqliteLedger.open(o.db);
  try {
    const c = community(ledger.state);
    if (!c) throw new OpenlecError('E_NO_COMMUNITY', 'the log has no community yet', { field: 'db' });
    const last = o.nonce !== undefined ? Number(o.nonce) - 1 : (participant(ledger.state, encodeKey(key.publicKey))?.nonce ?? 0);
    const r = await ledger.submit(new Signer(key, c.id, last, now).sign(o.type, body));
    if (!r.ok) throw r.error;
    return { entry: r.entry };
  } finally {
    await ledger.close();
  }
}

export function withLedger<T>(db: string, f: (l: SqliteLedger) => T | Promise<T>, options: SqliteLedgerOptions = {}): Promise<T> {
  const ledger = SqliteLedger.open(db, options);
  return Promise.resolve()
    .then(() => f(ledger))
    .finally(() => ledger.close());
}

/** logListing lists entries and checkpoints. */
export async function logListing(ledger: LedgerStore, from = 0, limit = 50) {
  const size = ledger.size;
  const to = Math.min(size, from + limit);
  const entries = (to > from ? await ledger.readEntries(from, to) : []).map(({ bytes }, i) => {
    const { tx } = decodeEntry(bytes);
    return { entry: from + i, type: tx.type, actor: tx.actor, nonce: tx.nonce, issuedAt: tx.issuedAt, leaf: toHex(leafHash(bytes)), body: tx.body };
  });
  const key = parseVerifierKey(ledger.operatorVerifierKey());
  const checkpoints = ledger.checkpoints().map((c) => ({ size: c.size, root: toBase64(openCheckpoint(c.note, key, ledger.origin()).root) }));
  return { size, entries, checkpoints };
}

export function printLog(l: Awaited<ReturnType<typeof logListing>>): string {
  const rows = l.entries.map((e) => [e.entry, e.type, `${e.actor.slice(0, 10)}…`, e.nonce, e.issuedAt, `${e.leaf.slice(0, 16)}…`]);
  return [
    `${l.size} entries`,
    table(rows, ['entry', 'type', 'actor', 'nonce', 'issuedAt', 'leaf hash']),
    '',
    `${l.checkpoints.length} checkpoints`,
    table(l.checkpoints.map((c) => [c.size, c.root]), ['size', 'root']),
  ].join('\n');
}

/** signCheckpointNow signs a checkpoint of the current tree with the operator key. */
export async function signCheckpointNow(ledger: LedgerStore, key: KeyPair): Promise<string> {
  return (await ledger.signCheckpoint(key)).note;
}

/** entryProof builds the inclusion proof of an entry under the newest checkpoint that covers it. */
export async function entryProof(ledger: LedgerStore, entry: number): Promise<EntryProof> {
  const size = ledger.size;
  if (!Number.isSafeInteger(entry) || entry < 0 || entry >= size) {
    throw new OpenlecError('E_NO_ENTRY', `entry ${entry} does not exist (the log has ${size})`, { field: 'entry' });
  }
  // Within the size this process read: a server may have signed a newer checkpoint since.
  const covering = ledger.checkpoints().filter((c) => c.size > entry && c.size <= size).pop();
  if (!covering) throw new OpenlecError('E_NO_CHECKPOINT', `no checkpoint covers entry ${entry} yet: run "openlec checkpoint" first`, { field: 'entry' });
  const bytes = await ledger.readEntry(entry);
  const proof = await ledger.inclusionProof(entry, covering.size);
  return {
    entry,
    transaction: fromUtf8(bytes),
    proof: proof.map(toBase64),
    checkpoint: covering.note,
    verifierKey: ledger.operatorVerifierKey(),
  };
}

export function checkProofFile(path: string, verifierKey?: string) {
  const text = readFileSync(path, 'utf8'); // a missing file is not a bad proof
  let p: EntryProof;
  try {
    p = JSON.parse(text) as EntryProof;
  } catch (e) {
    throw new OpenlecError('E_PROOF_FORMAT', `${path} is not a proof JSON file: ${(e as Error).message}`, { field: 'file' });
  }
  return checkEntryProof(p, verifierKey ?? p.verifierKey, nodeVerifySignature);
}

/**
 * verifyDb replays a database's log, with signatures checked on worker threads and a
 * progress bar. It reads one snapshot of the file, so a database that a server or a
 * replica is writing is verified as of the moment verify started (the report's size).
 */
export async function verifyDb(db: string, showProgress: boolean): Promise<VerifyReport> {
  const checker = new WorkerSignatureChecker();
  const bar = showProgress ? progress('verify') : undefined;
  try {
    // Opened for auditing: the stored projections are compared from disk, never loaded.
    return await withLedger(db, (ledger) => ledger.snapshot((source) =>
      verifyLog(source, ledger.registry, { checkSignatures: (items) => checker.check(items), onProgress: (d, t) => bar?.update(d, t) })), { projections: false });
  } finally {
    bar?.stop();
    await checker.close();
  }
}

export function printVerify(r: VerifyReport): string {
  if (r.ok) {
    const rows = Object.entries(r.rows).map(([t, n]) => `${t} ${n}`).join(', ');
    return `ok: ${r.entries} entries replayed, ${r.checkpoints} checkpoints and every projection match\nroot ${r.root}\nrows: ${rows}\n${verifiedSize(r)}`;
  }
  return ['FAILED', ...r.problems.map((p) => `  [${p.code}] ${p.message}`), verifiedSize(r)].join('\n');
}

const verifiedSize = (r: VerifyReport) => `verified size ${r.size} (${r.latestCheckpoint === null ? 'no checkpoint yet' : `newest checkpoint at size ${r.latestCheckpoint}`})`;

export function writeJson(path: string, value: unknown): void {
  writeFileSync(path, JSON.stringify(value, null, 2) + '\n');
}
