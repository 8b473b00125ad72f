import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { COMMUNITY, seededKey, smallCommunity } from '../../test/support/community.ts';
import { runMonth } from '../allocation/month.ts';
import { verifyLog } from '../audit/verify.ts';
import { Signer } from '../client.ts';
import { sign, toBase64Url, utf8 } from '../ledger/index.ts';
import { bookFor, clearAt } from '../market/book.ts';
import { formatInstant, parseInstant } from '../units/index.ts';
import { buildApp } from './app.ts';
import { PersonalVault } from './vault.ts';

/** POST /v1/transactions/batch and the operator's read models, through app.inject(). */
describe('batch routes', () => {
  const T = '2026-02-10T12:00:00Z';
  const MONTH = '2026-01';
  let app: FastifyInstance;
  let c: Awaited<ReturnType<typeof smallCommunity>>;
  let vault: PersonalVault;
  let dso: Signer;
  let operator: Signer;
  const tokens: Record<string, string> = {};
  const day = (d: number, wh: number) => Array.from({ length: 48 }, (_, k) => wh + (k % 5) + d);
  const readings = (meter: string, direction: string, date: string, values: (number | null)[]) => dso.sign('meter.readings', { meter, direction, date, values });
  const batch = (transactions: unknown[]) => app.inject({ method: 'POST', url: '/v1/transactions/batch', payload: { transactions } });
  const get = async (url: string, who: string) => {
    const r = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${tokens[who]}` } });
    return { status: r.statusCode, json: r.json() };
  };

  before(async () => {
    c = await smallCommunity();
    const clock = () => T;
    dso = Signer.forState(c.ledger.state, seededKey('dso'), clock);
    operator = Signer.forState(c.ledger.state, seededKey('operator'), clock);
    vault = PersonalVault.open(join(c.path, '..', 'personal.db'), randomBytes(32));
    ({ app } = await buildApp({ ledger: c.ledger, vault, tokenSecret: randomBytes(32), txClock: () => Date.parse(T) }));
    for (const [label, key] of [['operator', operator.actor], ['alice', c.alice.actor]] as const) {
      const ch = (await app.inject({ method: 'POST', url: '/v1/auth/challenge' })).json() as { challenge: string; message: string };
      const signature = toBase64Url(sign(seededKey(label).secretKey, utf8(ch.message)));
      tokens[label] = ((await app.inject({ method: 'POST', url: '/v1/auth/token', payload: { key, challenge: ch.challenge, signature } })).json() as { token: string }).token;
    }
  });
  after(async () => {
    await app.close();
    vault.close();
    await c.ledger.close();
  });

  test('a batch with one bad transaction appends nothing and names its index', async () => {
    const size = c.ledger.size;
    const nonce = dso.nonce;
    const txs = [
      readings('30001234567890', 'import', '2026-01-05', day(5, 300)),
      readings('30009876543210', 'import', '2026-01-05', day(5, 200)),
      readings('30001234567890', 'export', '2026-01-05', day(5, 100).slice(0, 47)), // 47 values: the day has 48
      readings('30009876543210', 'import', '2026-01-06', day(6, 200)),
    ];
    const r = await batch(txs);
    assert.equal(r.statusCode, 422, r.body);
    const e = r.json() as { code: string; message: string; field: string };
    assert.equal(e.code, 'E_READINGS_LENGTH');
    assert.equal(e.field, 'transactions[2].body.values');
    assert.match(e.message, /^transaction 3 of 4: /);
    assert.equal(c.ledger.size, size, 'nothing appended');
    assert.equal(c.ledger.state.get('readings', '30001234567890\u001fimport\u001f2026-01-05'), undefined, 'not even the transactions before the bad one');

    // A transaction signed too far from the server's clock is refused before anything is applied, by its index too.
    dso.nonce = nonce;
    const late = new Signer(seededKey('dso'), COMMUNITY, nonce + 1, () => '2026-02-10T13:00:00Z');
    const skewed = await batch([readings('30001234567890', 'import', '2026-01-05', day(5, 300)), late.sign('meter.readings', { meter: '30009876543210', direction: 'import', date: '2026-01-05', values: day(5, 200) })]);
    assert.equal(skewed.statusCode, 400, skewed.body);
    assert.equal((skewed.json() as { field: string }).field, 'transactions[1].issuedAt');
    assert.equal(c.ledger.size, size);

    // The same set without the bad transaction is appended whole, in order.
    dso.nonce = nonce;
    const good = [
      readings('30001234567890', 'import', '2026-01-05', day(5, 300)),
      readings('30009876543210', 'import', '2026-01-05', day(5, 200)),
      readings('30001234567890', 'export', '2026-01-05', day(5, 100)),
      readings('30009876543210', 'import', '2026-01-06', day(6, 200)),
    ];
    const ok = await batch(good);
    assert.equal(ok.statusCode, 201, ok.body);
    assert.deepEqual(ok.json(), { entries: [size, size + 1, size + 2, size + 3], size: size + 4 });
    assert.deepEqual(c.ledger.state.get<{ values: number[] }>('readings', '30001234567890\u001fexport\u001f2026-01-05')?.values, day(5, 100));

    // Too many or none: refused by the request's shape.
    assert.equal((await batch([])).statusCode, 400);
    assert.equal((await batch(Array.from({ length: 1001 }, () => ({})))).statusCode, 400);
  });

  test('the readings read model returns the recorded days; members may not read it', async () => {
    const r = await get('/v1/readings?from=2026-01-05&to=2026-01-05&meters=30001234567890', 'operator');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.map((x: { meter: string; direction: string; date: string }) => `${x.meter} ${x.direction} ${x.date}`), ['30001234567890 export 2026-01-05', '30001234567890 import 2026-01-05']);
    assert.deepEqual(r.json[1].values, day(5, 300));
    const all = await get('/v1/readings?from=2026-01-01&to=2026-01-31', 'operator');
    assert.equal(all.json.length, 4);
    assert.equal((await get('/v1/readings?from=2026-01-01&to=2026-01-31', 'alice')).status, 403);
  });

  test('the plan route gives the body runMonth computes, and allocation.run is verified on apply', async () => {
    const plan = await get(`/v1/allocations/${MONTH}/plan?key=prorata`, 'operator');
    assert.equal(plan.status, 200);
    const want = runMonth(c.ledger.state, MONTH, { kind: 'prorata' }).summary;
    assert.deepEqual(plan.json.body, JSON.parse(JSON.stringify(want)));
    assert.ok(plan.json.body.productionWh > 0 && plan.json.body.allocatedWh > 0);
    assert.equal(plan.json.recorded, null);
    const spec = { kind: 'static' as const, sharesPpm: { '30001234567890': 600_000, '30009876543210': 400_000 } };
    const fixed = await get(`/v1/allocations/${MONTH}/plan?key=${encodeURIComponent(JSON.stringify(spec))}`, 'operator');
    assert.deepEqual(fixed.json.body, JSON.parse(JSON.stringify(runMonth(c.ledger.state, MONTH, spec).summary)));
    assert.notDeepEqual(fixed.json.body.members, plan.json.body.members);
    assert.equal((await get(`/v1/allocations/${MONTH}/plan?key=nonsense`, 'operator')).json.field, 'query.key');
    assert.equal((await get(`/v1/allocations/${MONTH}/plan`, 'alice')).status, 403);

    // A body that differs from the recomputation is refused by allocation.run's apply.
    const size = c.ledger.size;
    const nonce = operator.nonce;
    const wrong = await app.inject({ method: 'POST', url: '/v1/transactions', payload: operator.sign('allocation.run', { ...plan.json.body, allocatedWh: plan.json.body.allocatedWh + 1 }) });
    assert.equal(wrong.statusCode, 422);
    assert.equal((wrong.json() as { code: string; field: string }).code, 'E_ALLOCATION_MISMATCH');
    assert.equal(c.ledger.size, size);
    operator.nonce = nonce;
    const right = await app.inject({ method: 'POST', url: '/v1/transactions', payload: operator.sign('allocation.run', plan.json.body) });
    assert.equal(right.statusCode, 201, right.body);
    const again = await get(`/v1/allocations/${MONTH}/plan`, 'operator');
    assert.deepEqual(again.json.recorded, { entry: size, runs: 1, key: { kind: 'prorata' } });
  });

  test('the market config is public and lists every configuration', async () => {
    const r = await app.inject({ method: 'GET', url: '/v1/market/config' });
    assert.equal(r.statusCode, 200);
    const j = r.json() as { configs: unknown[]; tariffs: unknown[]; lastCleared: string | null };
    assert.deepEqual(j, { currency: 'EUR', configs: [], tariffs: [], mechanisms: ['uniform', 'midpoint', 'mcafee', 'continuous'], lastCleared: null });
    const size = c.ledger.size;
    const put = await app.inject({ method: 'POST', url: '/v1/transactions', payload: operator.sign('market.configure', { from: '2026-02-11T00:00:00Z', mode: 'ex-post', mechanism: 'midpoint', kPpm: 500000, gateClosureMinutes: 15, feedInMicroPerKwh: 60000, retailMicroPerKwh: 250000 }) });
    assert.equal(put.statusCode, 201, put.body);
    const after = (await app.inject({ method: 'GET', url: '/v1/market/config' })).json() as { configs: { mechanism: string; entry: number }[] };
    assert.deepEqual(after.configs.map((x) => [x.mechanism, x.entry]), [['midpoint', size]]);
  });
});

/**
 * A batch is judged at the server's time, as POST /v1/transactions judges one transaction
 * (Admission): within the clock skew accepted, backdating an order does not reopen a gate
 * in a batch, nor does post-dating a clearing close one early.
 */
describe('batch routes: the time rules at the server\'s time', () => {
  const BOB = '30009876543210';
  const ALICE = '30001234567890';
  /** An interval whose gate (60 min) closes at GATE, and a later one whose gate is open all along. */
  const I = '2026-02-02T10:00:00Z';
  const START = parseInstant(I);
  const GATE = START - 3_600_000;
  const LATER = '2026-02-02T14:00:00Z';
  const at = (ms: number) => formatInstant(ms);

  test('an order backdated before a closed gate, and a clearing dated after a gate still open, are refused in a batch exactly as alone', async () => {
    const c = await smallCommunity();
    const r = await c.ledger.submit(c.operator.sign('market.configure', { from: '2026-01-31T23:00:00Z', mode: 'ex-ante', mechanism: 'uniform', gateClosureMinutes: 60, feedInMicroPerKwh: 60_000, retailMicroPerKwh: 200_000 }));
    assert.ok(r.ok);
    const clock = { now: GATE + 10_000 };
    const vault = PersonalVault.open(join(c.path, '..', 'personal.db'), randomBytes(32));
    const { app } = await buildApp({ ledger: c.ledger, vault, tokenSecret: randomBytes(32), txClock: () => clock.now });
    const one = async (tx: unknown) => {
      const res = await app.inject({ method: 'POST', url: '/v1/transactions', payload: tx as object });
      return { status: res.statusCode, json: res.json() as { code: string; field: string; message: string } };
    };
    const many = async (txs: unknown[]) => {
      const res = await app.inject({ method: 'POST', url: '/v1/transactions/batch', payload: { transactions: txs } });
      return { status: res.statusCode, json: res.json() as { code: string; field: string; message: string; entries: number[] } };
    };
    const order = (issuedAt: string) => c.bob.sign('order.place', { side: 'buy', interval: I, quantityWh: 100, limitMicroPerKwh: 150_000, meter: BOB }, issuedAt);
    try {
      // The gate closed 10 s ago; the order is dated 10 s before it (within the 30 s skew).
      const size = c.ledger.size;
      const alone = await one(order(at(GATE - 10_000)));
      assert.deepEqual([alone.status, alone.json.code, alone.json.field], [422, 'E_GATE_CLOSED', 'body.interval'], JSON.stringify(alone.json));
      // A set has one signer: Alice's order cannot ride in Bob's set.
      const foreign = await many([order(at(clock.now)), c.alice.sign('order.place', { side: 'sell', interval: LATER, quantityWh: 100, limitMicroPerKwh: 90_000, meter: ALICE }, at(clock.now))]);
      assert.deepEqual([foreign.status, foreign.json.code, foreign.json.field], [422, 'E_BATCH_ACTOR', 'transactions[1].actor']);
      const sell = c.bob.sign('order.place', { side: 'buy', interval: LATER, quantityWh: 100, limitMicroPerKwh: 150_000, meter: BOB }, at(clock.now));
      const inBatch = await many([sell, order(at(GATE - 10_000))]);
      assert.equal(inBatch.status, 422, JSON.stringify(inBatch.json));
      assert.deepEqual([inBatch.json.code, inBatch.json.field], [alone.json.code, `transactions[1].${alone.json.field}`]);
      assert.match(inBatch.json.message, /^transaction 2 of 2: /);
      assert.equal(c.ledger.size, size, 'nothing appended, not even the order before it');
      assert.equal(bookFor(c.ledger.state, parseInstant(LATER)).orders.length, 0);
      // The rest of the batch, at the server's time, is admitted.
      const fine = await many([sell]);
      assert.equal(fine.status, 201, JSON.stringify(fine.json));
      assert.deepEqual(fine.json.entries, [size]);

      // 10 s before the gate, a clearing dated 10 s after it: the book is still open, alone or in a batch.
      clock.now = GATE - 10_000;
      const early = () => c.operator.sign('market.clear', clearAt(c.ledger.state, START).body, at(GATE + 10_000));
      const clearAlone = await one(early());
      assert.deepEqual([clearAlone.status, clearAlone.json.code], [422, 'E_GATE_OPEN'], JSON.stringify(clearAlone.json));
      const clearInBatch = await many([early()]);
      assert.deepEqual([clearInBatch.status, clearInBatch.json.code, clearInBatch.json.field], [422, clearAlone.json.code, `transactions[0]${clearAlone.json.field ? `.${clearAlone.json.field}` : ''}`]);
      assert.equal(c.ledger.size, size + 1);
      // Once the gate has closed at the server's time, the same clearing is admitted; what was admitted replays on issuedAt alone.
      clock.now = GATE + 20_000;
      assert.equal((await many([c.operator.sign('market.clear', clearAt(c.ledger.state, START).body, at(GATE + 15_000))])).status, 201);
      assert.equal((await verifyLog(c.ledger, c.ledger.registry)).ok, true);
    } finally {
      await app.close();
      vault.close();
      await c.ledger.close();
    }
  });
});

/** A set spends its signer's per-minute budget for every transaction in it, admitted or refused. */
describe('batch routes: the per-key budget counts every transaction of a set', () => {
  test('a set larger than what is left of the budget is refused before any work; a refused set is charged whole', async () => {
    const c = await smallCommunity();
    const vault = PersonalVault.open(join(c.path, '..', 'personal.db'), randomBytes(32));
    const T = Date.parse('2026-02-10T12:00:00Z');
    const { app } = await buildApp({ ledger: c.ledger, vault, tokenSecret: randomBytes(32), txClock: () => T, now: () => T, rateLimitPerMinute: 5 });
    const dso = Signer.forState(c.ledger.state, seededKey('dso'), () => '2026-02-10T12:00:00Z');
    const values = Array.from({ length: 48 }, (_, k) => 100 + k);
    const readings = (date: string) => dso.sign('meter.readings', { meter: '30001234567890', direction: 'import', date, values });
    const batch = async (txs: unknown[]) => {
      const r = await app.inject({ method: 'POST', url: '/v1/transactions/batch', payload: { transactions: txs } });
      return { status: r.statusCode, json: r.json() as { code: string; field: string } };
    };
    try {
      const size = c.ledger.size;
      // Six transactions against a budget of five: refused whole, before the ledger judges any.
      const big = await batch(['2026-02-01', '2026-02-02', '2026-02-03', '2026-02-04', '2026-02-05', '2026-02-06'].map(readings));
      assert.deepEqual([big.status, big.json.code], [429, 'E_RATE'], JSON.stringify(big.json));
      assert.equal(c.ledger.size, size);
      // Three good ones and a bad last one: refused, and the set costs four.
      const good = [readings('2026-02-01'), readings('2026-02-02'), readings('2026-02-03')];
      const refused = await batch([...good, dso.sign('meter.readings', { meter: '30001234567890', direction: 'import', date: '2026-02-09', values: [1] })]);
      assert.equal(refused.status, 422, JSON.stringify(refused.json));
      assert.equal(c.ledger.size, size);
      // One transaction is left of the five: a set of two is refused, a set of one admitted.
      assert.equal((await batch([readings('2026-02-01'), readings('2026-02-02')])).json.code, 'E_RATE');
      assert.equal((await batch([readings('2026-02-01')])).status, 201);
      assert.equal(c.ledger.size, size + 1);
    } finally {
      await app.close();
      vault.close();
      await c.ledger.close();
    }
  });
});
