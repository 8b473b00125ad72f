import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { seededKey, smallCommunity } from '../../test/support/community.ts';
import { verifyLog } from '../audit/verify.ts';
import { Signer } from '../client.ts';
import { decodeTransaction } from '../ledger/index.ts';
import { bookFor, clearAt } from '../market/book.ts';
import { nodeSign } from '../node/signatures.ts';
import { applyEntry } from '../state/apply.ts';
import { formatInstant, parseInstant } from '../units/index.ts';
import { buildApp } from './app.ts';
import { PersonalVault } from './vault.ts';

const ALICE = '30001234567890';
const BOB = '30009876543210';
/** The interval 2026-02-02 10:00Z; its gate closes an hour before, at 09:00Z. */
const I = '2026-02-02T10:00:00Z';
const START = parseInstant(I);
const GATE = parseInstant('2026-02-02T09:00:00Z');
const at = (ms: number) => formatInstant(ms);

/** The small community with an ex-ante market (gate 60 min), one open order and one standing order of bob placed two hours before the gate. */
async function market() {
  const c = await smallCommunity();
  for (const r of await c.ledger.submitMany([
    c.operator.sign('market.configure', { from: '2026-01-31T23:00:00Z', mode: 'ex-ante', mechanism: 'uniform', gateClosureMinutes: 60, feedInMicroPerKwh: 60_000, retailMicroPerKwh: 200_000 }),
    c.bob.sign('order.place', { side: 'buy', interval: I, quantityWh: 1000, limitMicroPerKwh: 150_000, meter: BOB }, at(GATE - 7_200_000)),
    c.bob.sign('order.standing', { side: 'buy', meter: BOB, fromDate: '2026-02-02', toDate: '2026-02-02', quantityWh: 500, limitMicroPerKwh: 120_000 }, at(GATE - 7_200_000)),
    c.alice.sign('order.place', { side: 'sell', interval: I, quantityWh: 800, limitMicroPerKwh: 90_000, meter: ALICE }, at(GATE - 7_200_000)),
  ])) if (!r.ok) throw r.error;
  const order = `o${c.ledger.size - 3}`;
  const standing = `s${c.ledger.size - 2}`;
  return { ...c, order, standing };
}

/** An app over the market whose admission clock the test sets. */
async function served(c: Awaited<ReturnType<typeof market>>, deps: Partial<Parameters<typeof buildApp>[0]> = {}) {
  const clock = { now: GATE - 3_600_000 };
  const vault = PersonalVault.open(join(c.path, '..', 'personal.db'), randomBytes(32));
  const { app } = await buildApp({ ledger: c.ledger, vault, tokenSecret: randomBytes(32), txClock: () => clock.now, ...deps });
  const post = async (tx: unknown, remoteAddress = '127.0.0.1') => {
    const res = await app.inject({ method: 'POST', url: '/v1/transactions', payload: tx as object, remoteAddress });
    return { status: res.statusCode, json: res.json(), headers: res.headers };
  };
  const close = async () => {
    await app.close();
    vault.close();
    await c.ledger.close();
  };
  return { app, clock, post, close };
}

describe('admission: the operator vouches for time', () => {
  test('an issuedAt far from the server\'s clock is refused: an order dated before a gate that closed an hour ago, a transaction dated 2096', async () => {
    const c = await market();
    const s = await served(c);
    try {
      s.clock.now = START - 60_000; // the gate closed 59 minutes ago
      const size = c.ledger.size;
      const backdated = await s.post(c.bob.sign('order.place', { side: 'buy', interval: I, quantityWh: 100, limitMicroPerKwh: 150_000, meter: BOB }, at(GATE - 60_000)));
      assert.equal(backdated.status, 400, JSON.stringify(backdated.json));
      assert.deepEqual([backdated.json.code, backdated.json.field], ['E_CLOCK_SKEW', 'issuedAt']);
      const future = await s.post(c.dso.sign('feeder.define', { id: 'feeder-2096' }, '2096-01-01T00:00:00Z'));
      assert.deepEqual([future.status, future.json.code, future.json.field], [400, 'E_CLOCK_SKEW', 'issuedAt']);
      assert.equal(c.ledger.size, size, 'nothing appended');
      // Within the window (30 s by default) a transaction is admitted.
      const fine = await s.post(c.dso.sign('feeder.define', { id: 'feeder-now' }, at(s.clock.now + 20_000)));
      assert.equal(fine.status, 201, JSON.stringify(fine.json));
      // The server's time is public, so a client can sign with it.
      assert.equal((await s.app.inject({ method: 'GET', url: '/v1/community' })).json().serverTime, new Date(s.clock.now).toISOString());
    } finally {
      await s.close();
    }
  });

  test('within the skew window, backdating does not reopen a gate: orders, cancels and standing orders are judged at the server\'s time; market.clear waits for it', async () => {
    const c = await market();
    const s = await served(c);
    try {
      s.clock.now = GATE + 10_000;
      const before = at(GATE - 10_000);
      const cases: [string, unknown, string, string][] = [
        ['order.place', c.bob.sign('order.place', { side: 'buy', interval: I, quantityWh: 100, limitMicroPerKwh: 150_000, meter: BOB }, before), 'E_GATE_CLOSED', 'body.interval'],
        ['order.cancel', c.bob.sign('order.cancel', { order: c.order }, before), 'E_GATE_CLOSED', 'body.order'],
        ['order.standing', c.alice.sign('order.standing', { side: 'buy', meter: ALICE, fromDate: '2026-02-02', toDate: '2026-02-02', quantityWh: 300, limitMicroPerKwh: 150_000 }, before), 'E_GATE_CLOSED', 'issuedAt'],
        ['standing.cancel', c.bob.sign('standing.cancel', { order: c.standing }, before), 'E_GATE_CLOSED', 'issuedAt'],
      ];
      const size = c.ledger.size;
      for (const [name, tx, code, field] of cases) {
        const r = await s.post(tx);
        assert.equal(r.status, 422, `${name}: ${JSON.stringify(r.json)}`);
        assert.deepEqual([r.json.code, r.json.field], [code, field], name);
      }
      assert.equal(c.ledger.size, size, 'nothing appended');
      // Signed with the current time, a standing cancel is admitted: it ends the rule for later books only.
      assert.equal((await s.post(c.bob.sign('standing.cancel', { order: c.standing }, at(s.clock.now)))).status, 201);
      assert.ok(bookFor(c.ledger.state, START).orders.some((o) => o.id === c.standing), 'the closed book keeps the standing order');

      // The operator may not close a book early by dating its clearing after the gate.
      s.clock.now = GATE - 10_000;
      const early = await s.post(c.operator.sign('market.clear', clearAt(c.ledger.state, START).body, at(GATE + 10_000)));
      assert.deepEqual([early.status, early.json.code], [422, 'E_GATE_OPEN']);
      s.clock.now = GATE + 20_000;
      assert.equal((await s.post(c.operator.sign('market.clear', clearAt(c.ledger.state, START).body, at(GATE + 15_000)))).status, 201);
      assert.equal((await verifyLog(c.ledger, c.ledger.registry)).ok, true, 'what was admitted replays on issuedAt alone');
    } finally {
      await s.close();
    }
  });

  test('property: whatever is admitted at the server\'s time replays on its issuedAt alone, with the book it would have had if signed at the server\'s time', async () => {
    const c = await market();
    const { state, registry } = c.ledger;
    const entry = c.ledger.size;
    // node:crypto signs the same bytes as @noble/curves, much faster: the property signs hundreds.
    const bob = Signer.forState(state, seededKey('bob'), undefined, nodeSign);
    const alice = Signer.forState(state, seededKey('alice'), undefined, nodeSign);
    const build = (kind: number, issuedAt: string) => [
      () => bob.sign('order.place', { side: 'buy', interval: I, quantityWh: 100, limitMicroPerKwh: 150_000, meter: BOB }, issuedAt),
      () => bob.sign('order.cancel', { order: c.order }, issuedAt),
      () => alice.sign('order.standing', { side: 'buy', meter: ALICE, fromDate: '2026-02-02', toDate: '2026-02-02', quantityWh: 300, limitMicroPerKwh: 150_000 }, issuedAt),
      () => bob.sign('standing.cancel', { order: c.standing }, issuedAt),
    ][kind]!();
    /** The book of I after the transaction, or undefined when it is refused; the state is left as it was. */
    const bookAfter = (tx: ReturnType<typeof build>, now?: number) => {
      const mark = state.mark();
      try {
        applyEntry(state, registry, decodeTransaction(tx), entry, now === undefined ? {} : { now });
        return JSON.stringify(bookFor(state, START).orders.map((o) => [o.id, o.quantityWh]));
      } catch {
        return undefined;
      } finally {
        state.rollback(mark);
      }
    };
    const near = fc.integer({ min: -90, max: 90 });
    fc.assert(fc.property(fc.integer({ min: 0, max: 3 }), fc.oneof(near, fc.integer({ min: -7200, max: 3600 })), fc.integer({ min: -30, max: 30 }), (kind, a, b) => {
      const issued = GATE + a * 1000;
      const now = issued + b * 1000;
      const tx = build(kind, at(issued));
      const admitted = bookAfter(tx, now);
      if (admitted === undefined) return;
      assert.equal(bookAfter(tx), admitted, 'replay on issuedAt');
      assert.equal(bookAfter(build(kind, at(Math.max(issued, now)))), admitted, 'as if signed at the server\'s time');
    }), { numRuns: 200 });
    await c.ledger.close();
  });
});
