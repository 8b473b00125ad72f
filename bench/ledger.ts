import { createPrivateKey, sign as nodeSign } from 'node:crypto';
import { availableParallelism } from 'node:os';
import Database from 'better-sqlite3';
import { Signer } from '../src/client.ts';
import { verifyLog } from '../src/audit/verify.ts';
import {
  checkInclusion, decodeEntry, encodeEntry, encodeKey, type Envelope, type KeyPair, keyPairFromSeed, leafHash, toBase64Url, transactionSigningBytes, treeHash,
} from '../src/ledger/index.ts';
import { InlineSignatureChecker, type SignatureItem, WorkerSignatureChecker } from '../src/node/signatures.ts';
import { SqliteLedger } from '../src/store/sqlite-ledger.ts';
import { printTable, round, tempPath, timed } from './support.ts';

const COMMUNITY = 'openlec.bench/ledger';
const N = Number(process.env.OPENLEC_BENCH_TX ?? 200_000);
const ACTORS = 16;

const key = (i: number): KeyPair => keyPairFromSeed(new Uint8Array(32).fill(i + 1));
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** workload: a community with ACTORS DSO keys, then N meter registrations spread over them (about 380-byte entries). */
export function workload(): { setup: Uint8Array[]; txs: Uint8Array[] } {
  const operator = new Signer(key(0), COMMUNITY, 0, () => '2026-01-01T00:00:00Z');
  const dsos = Array.from({ length: ACTORS }, (_, i) => key(i + 1));
  const setup = [
    operator.sign('community.create', { name: 'Bench', timeZone: 'Europe/Paris', intervalMinutes: 30, currency: 'EUR', operator: operator.actor }),
    ...dsos.map((k) => operator.sign('participant.register', { key: encodeKey(k.publicKey), roles: ['dso', 'member'] })),
  ].map(encodeEntry);
  const nonces = new Array<number>(ACTORS).fill(0);
  const pks = dsos.map((k) => createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, k.secretKey]), format: 'der', type: 'pkcs8' }));
  const txs: Uint8Array[] = new Array(N);
  for (let i = 0; i < N; i++) {
    const a = i % ACTORS;
    const envelope: Envelope = {
      v: 1, type: 'meter.register', community: COMMUNITY, actor: encodeKey(dsos[a]!.publicKey), nonce: ++nonces[a]!, issuedAt: '2026-01-01T00:00:00Z',
      body: { meter: `bench-meter-${i}`, scheme: 'other', direction: i % 2 ? 'export' : 'import', owner: encodeKey(dsos[a]!.publicKey), feeder: null },
    };
    txs[i] = encodeEntry({ ...envelope, sig: toBase64Url(nodeSign(null, transactionSigningBytes(envelope), pks[a]!)) });
  }
  return { setup, txs };
}

export async function ingest(txs: Uint8Array[], setup: Uint8Array[], threads: number): Promise<{ rate: number; ledger: SqliteLedger }> {
  const ledger = SqliteLedger.create(tempPath('ledger.db'), { signatures: threads > 0 ? new WorkerSignatureChecker(threads) : new InlineSignatureChecker() });
  for (const r of await ledger.submitMany(setup)) if (!r.ok) throw r.error;
  const { value, seconds } = await timed(() => ledger.submitMany(txs));
  const refused = value.filter((r) => !r.ok);
  if (refused.length > 0) throw new Error(`${refused.length} refused, first: ${JSON.stringify(refused[0])}`);
  return { rate: txs.length / seconds, ledger };
}

export async function run(): Promise<void> {
  const cores = availableParallelism();
  process.stderr.write(`ledger bench: preparing ${N} signed transactions...\n`);
  const { value: work, seconds: prepSeconds } = await timed(() => workload());
  const { setup, txs } = work;
  const bytesPerTx = txs.reduce((s, t) => s + t.length, 0) / txs.length;

  // The physical limit: Ed25519 verification alone, one core and all cores.
  const sample = txs.slice(0, 50_000).map((t) => {
    const d = decodeEntry(t);
    return { publicKey: d.publicKey, message: d.message, signature: d.signature } satisfies SignatureItem;
  });
  const inline = new InlineSignatureChecker();
  const oneCore = sample.length / (await timed(() => inline.check(sample))).seconds;
  const pool = new WorkerSignatureChecker(cores);
  await pool.check(sample.slice(0, 1000)); // warm up the workers
  const allCores = sample.length / (await timed(() => pool.check(sample))).seconds;
  await pool.close();

  // The floor: the same payloads inserted into SQLite with no checks at all, same durability.
  const plainDb = new Database(tempPath('plain.db'));
  plainDb.pragma('journal_mode = WAL');
  plainDb.pragma('synchronous = FULL');
  plainDb.exec('CREATE TABLE entries (seq INTEGER PRIMARY KEY, bytes BLOB NOT NULL)');
  const insert = plainDb.prepare('INSERT INTO entries VALUES (?, ?)');
  const plain = N / (await timed(() => {
    for (let lo = 0; lo < N; lo += 2048) plainDb.transaction(() => { for (let i = lo; i < Math.min(N, lo + 2048); i++) insert.run(i, txs[i]); })();
  })).seconds;
  plainDb.close();

  process.stderr.write('ledger bench: ingesting...\n');
  const single = await ingest(txs.slice(0, 50_000), setup, 0);
  await single.ledger.close();
  const { rate: sustained, ledger } = await ingest(txs, setup, cores);

  // Inclusion proofs against the final tree.
  const size = ledger.size;
  const root = treeHash(size, ledger);
  const picks = Array.from({ length: 20_000 }, (_, i) => (i * 7919) % size);
  const { value: proofs, seconds: proveSeconds } = await timed(() => picks.map((e) => ledger.proveInclusion(e)));
  const leaves = picks.map((e) => leafHash(ledger.entry(e)));
  const { value: allOk, seconds: checkSeconds } = await timed(() => picks.every((e, i) => checkInclusion(e, size, leaves[i]!, proofs[i]!, root)));
  if (!allOk) throw new Error('a proof failed');

  ledger.checkpoint(key(0));
  const verifier = new WorkerSignatureChecker(cores);
  const { value: report, seconds: verifySeconds } = await timed(() => verifyLog(ledger, ledger.registry, { checkSignatures: (items) => verifier.check(items) }));
  await verifier.close();
  if (!report.ok) throw new Error(`verify failed: ${JSON.stringify(report.problems[0])}`);
  const dbBytes = (ledger.db.prepare('SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()').pluck().get() as number);
  await ledger.close();

  const figures = {
    bench: 'ledger',
    cores,
    transactions: N,
    entryBytes: round(bytesPerTx),
    ed25519VerifyPerSecOneCore: round(oneCore),
    ed25519VerifyPerSecAllCores: round(allCores),
    plainSqliteInsertPerSec: round(plain),
    ingestPerSecOneThread: round(single.rate),
    ingestPerSecSustained: round(sustained),
    ingestVsSignatureLimit: round(sustained / allCores, 3),
    ingestVsPlainInsert: round(sustained / plain, 4),
    proofsGeneratedPerSec: round(picks.length / proveSeconds),
    proofsVerifiedPerSec: round(picks.length / checkSeconds),
    verifyReplayPerSec: round(report.entries / verifySeconds),
    storedBytesPerTx: round(dbBytes / size),
    prepareSeconds: round(prepSeconds, 1),
  };
  printTable(`Ledger: ${N.toLocaleString('en-US')} signed transactions of ${round(bytesPerTx)} bytes, ${cores} cores, SQLite WAL synchronous=FULL`, [
    ['Ed25519 verify, 1 core (node:crypto)', figures.ed25519VerifyPerSecOneCore, '/s'],
    [`Ed25519 verify, ${cores} worker threads`, figures.ed25519VerifyPerSecAllCores, '/s'],
    ['plain SQLite insert, no checks (floor)', figures.plainSqliteInsertPerSec, 'tx/s'],
    ['openlec ingest, signatures on main thread', figures.ingestPerSecOneThread, 'tx/s'],
    [`openlec ingest, ${cores} signature workers (sustained)`, figures.ingestPerSecSustained, 'tx/s'],
    ['  ratio to the Ed25519 all-cores limit', figures.ingestVsSignatureLimit, ''],
    ['  ratio to the plain insert', figures.ingestVsPlainInsert, ''],
    ['inclusion proofs generated', figures.proofsGeneratedPerSec, '/s'],
    ['inclusion proofs verified', figures.proofsVerifiedPerSec, '/s'],
    ['openlec verify (full replay)', figures.verifyReplayPerSec, 'entries/s'],
    ['stored bytes per transaction (entry, hashes, projection)', figures.storedBytesPerTx, 'B'],
  ], ['measure', 'value', 'unit']);
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

