import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { smallCommunity, tempDb } from '../../test/support/community.ts';
import { verifyLog } from '../audit/verify.ts';
import { checkInclusion, encodeEntry, leafHash, parseCheckpoint, parseNote } from '../ledger/index.ts';
import { SqliteLedger } from './sqlite-ledger.ts';

describe('SQLite ledger', () => {
  test('appends valid transactions and projects them', async () => {
    const { ledger, alice } = await smallCommunity();
    assert.equal(ledger.size, 9);
    assert.deepEqual(ledger.state.get('participants', alice.actor), { key: alice.actor, roles: ['member'], nonce: 0, entry: 2 });
    assert.equal(ledger.state.count('meters'), 3);
    const report = await verifyLog(ledger, ledger.registry);
    assert.deepEqual(report.problems, []);
    assert.equal(report.ok, true);
    await ledger.close();
  });

  test('rejects replayed and reordered nonces, wrong roles, unknown actors and bad signatures, appending nothing', async () => {
    const { ledger, operator, alice, dso } = await smallCommunity();
    const tx = dso.sign('feeder.define', { id: 'feeder-b', parent: 'substation-1' });
    assert.equal((await ledger.submit(tx)).ok, true);
    const replay = await ledger.submit(tx);
    assert.equal(replay.ok, false);
    assert.equal(!replay.ok && replay.error.code, 'E_TX_NONCE');

    const later = dso.sign('feeder.define', { id: 'feeder-d', parent: 'substation-1' });
    const earlier = { ...later, nonce: later.nonce - 1 }; // reordered behind it (re-signed below)
    dso.nonce = earlier.nonce - 1;
    const resigned = dso.sign('feeder.define', { id: 'feeder-c', parent: 'substation-1' });
    const [a, b] = await ledger.submitMany([later, resigned]);
    assert.equal(a!.ok, true);
    assert.equal(!b!.ok && b!.error.code, 'E_TX_NONCE');

    const wrongRole = await ledger.submit(alice.sign('participant.register', { key: dso.actor, roles: ['member'] }));
    assert.equal(!wrongRole.ok && wrongRole.error.code, 'E_TX_ROLE');

    const forged = { ...operator.sign('feeder.define', { id: 'x1' }), body: { id: 'x2' } };
    const bad = await ledger.submit(forged);
    assert.equal(!bad.ok && bad.error.code, 'E_TX_SIGNATURE');

    const badBody = await ledger.submit(operator.sign('feeder.define', { id: 'feeder-z', parent: 'nowhere' }));
    assert.equal(!badBody.ok && badBody.error.code, 'E_UNKNOWN_FEEDER');
    assert.equal(!badBody.ok && badBody.error.field, 'body.parent');

    const unknownField = await ledger.submit(operator.sign('feeder.define', { id: 'feeder-y', colour: 'red' }));
    assert.equal(!unknownField.ok && unknownField.error.code, 'E_TX_BODY');

    const before = ledger.size;
    assert.equal(before, 11);
    // The failed transactions did not use up nonces: the operator's next nonce still works.
    assert.equal((await ledger.submit(operator.sign('feeder.define', { id: 'feeder-e' }))).ok, true);
    assert.equal((await verifyLog(ledger, ledger.registry)).ok, true);
    await ledger.close();
  });

  test('a rule failing halfway through apply leaves state untouched', async () => {
    const { ledger, dso, alice } = await smallCommunity();
    const r = await ledger.submit(dso.sign('meter.register', { meter: '30001234567890', scheme: 'PRM', direction: 'import', owner: alice.actor }));
    assert.equal(!r.ok && r.error.code, 'E_METER_EXISTS');
    const nonce = (ledger.state.get('participants', dso.actor) as { nonce: number }).nonce;
    assert.equal(nonce, dso.nonce - 1);
    await ledger.close();
  });

  test('submitAtomic appends all or none: a refusal rolls back SQLite, state and tree', async () => {
    const { ledger, dso } = await smallCommunity();
    const size = ledger.size;
    const root = ledger.root();
    const good = dso.sign('feeder.define', { id: 'feeder-x', parent: 'substation-1' });
    const bad = dso.sign('feeder.define', { id: 'feeder-y', parent: 'nowhere' });
    await assert.rejects(ledger.submitAtomic([good, bad]), { code: 'E_UNKNOWN_FEEDER', message: /^transaction 2 of 2: / });
    assert.equal(ledger.size, size);
    assert.deepEqual(ledger.root(), root);
    assert.equal(ledger.state.get('feeders', 'feeder-x'), undefined);
    assert.equal((ledger.db.prepare('SELECT count(*) FROM feeders').pluck().get() as number), 2);
    // The same nonces are still free, and the store goes on working.
    dso.nonce -= 2;
    assert.deepEqual(await ledger.submitAtomic([dso.sign('feeder.define', { id: 'feeder-x', parent: 'substation-1' })]), [size]);
    assert.equal((await verifyLog(ledger, ledger.registry)).ok, true);
    await ledger.close();
  });

  test('reopens with the same state and keeps appending; proofs check against a checkpoint', async () => {
    const { path, ledger, operator, dso } = await smallCommunity();
    const cp1 = ledger.checkpoint(operator.key);
    await ledger.close();
    const again = SqliteLedger.open(path);
    assert.equal(again.size, 9);
    assert.equal((await again.submit(dso.sign('feeder.define', { id: 'feeder-b' }))).ok, true);
    const { checkpoint, note } = again.checkpoint(operator.key);
    assert.deepEqual(parseCheckpoint(parseNote(note).text), checkpoint);
    for (let i = 0; i < again.size; i++) {
      assert.ok(checkInclusion(i, checkpoint.size, leafHash(again.entry(i)), again.proveInclusion(i), checkpoint.root));
    }
    const proof = again.proveConsistency(cp1.checkpoint.size);
    assert.equal(proof.length > 0, true);
    const report = await verifyLog(again, again.registry);
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    assert.equal(report.checkpoints, 2);
    await again.close();
  });

  test('refuses a second community.create and a foreign community id', async () => {
    const { ledger, operator } = await smallCommunity();
    const again = await ledger.submit(operator.sign('community.create', { name: 'Again', timeZone: 'Europe/Paris', intervalMinutes: 30, currency: 'EUR', operator: operator.actor }));
    assert.equal(!again.ok && again.error.code, 'E_TX_GENESIS');
    const foreign = await ledger.submit({ ...operator.sign('feeder.define', { id: 'f' }), community: 'elsewhere' });
    assert.equal(foreign.ok, false);
    await ledger.close();
  });

  test('an empty file path that is not an openlec log is refused', () => {
    const path = tempDb();
    new Database(path).exec('CREATE TABLE t (x)');
    assert.throws(() => SqliteLedger.open(path), { code: 'E_DB_FORMAT' });
    assert.throws(() => SqliteLedger.create(path), { code: 'E_DB_EXISTS' });
  });
});

describe('tamper detection by verify', () => {
  async function tampered(edit: (db: Database.Database) => void) {
    const { path, ledger, operator } = await smallCommunity();
    ledger.checkpoint(operator.key);
    await ledger.close();
    const db = new Database(path);
    edit(db);
    db.close();
    const reopened = SqliteLedger.open(path);
    const report = await verifyLog(reopened, reopened.registry);
    await reopened.close();
    return report;
  }

  test('flipping any bit of any stored entry is caught and names the entry', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 8 }), fc.nat(), fc.integer({ min: 0, max: 7 }), async (seq, at, bit) => {
        let length = 0;
        const report = await tampered((db) => {
          const bytes = db.prepare('SELECT bytes FROM entries WHERE seq = ?').pluck().get(seq) as Buffer;
          length = bytes.length;
          bytes[at % bytes.length]! ^= 1 << bit;
          db.prepare('UPDATE entries SET bytes = ? WHERE seq = ?').run(bytes, seq);
        });
        assert.equal(report.ok, false, `flip at entry ${seq} byte ${at % length} bit ${bit}`);
        // Either the entry itself fails, or the tree no longer matches the stored hashes.
        assert.ok(report.problems.some((p) => p.entry === seq || p.code === 'E_STORE_HASH'), JSON.stringify(report.problems));
      }),
      { numRuns: 40 },
    );
  });

  test('changing any stored hash, checkpoint or projection value is caught', async () => {
    const hash = await tampered((db) => {
      const h = db.prepare('SELECT hashes FROM entries WHERE seq = 3').pluck().get() as Buffer;
      h[40]! ^= 1; // the second hash of entry 3: the node it completes
      db.prepare('UPDATE entries SET hashes = ? WHERE seq = 3').run(h);
    });
    assert.deepEqual(hash.problems.map((p) => [p.code, p.entry]), [['E_STORE_HASH', 3]]);

    const checkpoint = await tampered((db) => {
      const note = db.prepare('SELECT note FROM checkpoints').pluck().get() as string;
      db.prepare('UPDATE checkpoints SET note = ?').run(note.replace('\n9\n', '\n8\n'));
    });
    assert.equal(checkpoint.ok, false);
    assert.match(checkpoint.problems[0]!.message, /signature|size/);

    const role = await tampered((db) => db.prepare(`UPDATE participants SET roles = '["member","operator"]' WHERE roles = '["member"]' AND rowid = (SELECT min(rowid) FROM participants WHERE roles = '["member"]')`).run());
    assert.deepEqual(role.problems.map((p) => [p.code, p.table]), [['E_PROJECTION', 'participants']]);
    assert.match(role.problems[0]!.message, /column roles differs/);

    const limit = await tampered((db) => db.prepare(`UPDATE feeders SET importLimitW = importLimitW + 1 WHERE id = 'substation-1'`).run());
    assert.match(limit.problems[0]!.message, /table feeders, row \["substation-1"\]: column importLimitW differs/);

    const extra = await tampered((db) => db.prepare(`INSERT INTO feeders VALUES ('ghost', NULL, NULL, NULL, 99)`).run());
    assert.match(extra.problems[0]!.message, /not in the replayed state/);

    const missing = await tampered((db) => db.prepare(`DELETE FROM meters WHERE direction = 'export'`).run());
    assert.match(missing.problems[0]!.message, /missing from the store/);

    const truncated = await tampered((db) => db.prepare('DELETE FROM entries WHERE seq = 8').run());
    assert.equal(truncated.ok, false);
  });

  test('an entry in non-canonical JSON is refused even with a valid signature', async () => {
    const { path, ledger } = await smallCommunity();
    await ledger.close();
    const db = new Database(path);
    const bytes = db.prepare('SELECT bytes FROM entries WHERE seq = 2').pluck().get() as Buffer;
    const spaced = Buffer.from(JSON.stringify(JSON.parse(bytes.toString()), null, 1));
    db.prepare('UPDATE entries SET bytes = ? WHERE seq = 2').run(spaced);
    db.close();
    const reopened = SqliteLedger.open(path);
    const report = await verifyLog(reopened, reopened.registry);
    assert.equal(report.problems[0]?.entry, 2);
    assert.match(report.problems[0]!.message, /canonical/);
    assert.notDeepEqual(encodeEntry(JSON.parse(spaced.toString())), spaced);
    await reopened.close();
  });
});
