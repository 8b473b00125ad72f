import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { ALICE_PRM, BOB_PRM, certifiedCommunity, DATE, flat, MONTH, ok, sun } from '../../test/support/certificates.ts';
import { seededKey } from '../../test/support/community.ts';
import { runMonth } from '../allocation/month.ts';
import type { Signer } from '../client.ts';
import { sign, toBase64Url, utf8 } from '../ledger/index.ts';
import { clearAt } from '../market/book.ts';
import { settleMonth } from '../settlement/invoice.ts';
import { parseInstant } from '../units/index.ts';
import { buildApp } from './app.ts';
import { PersonalVault } from './vault.ts';

/**
 * The member home's read models through app.inject(): alice (PV and consumption) sells to
 * bob at noon on 1 June (Paris), a second day of readings on 2 June, the month's allocation
 * recorded (pro rata), and the totals checked against the readings, the trades and the invoice.
 */
const NOON = '2026-06-01T10:00:00Z'; // 12:00 in Paris: interval 24 of the local day

describe('member home routes', () => {
  let app: FastifyInstance;
  let c: Awaited<ReturnType<typeof certifiedCommunity>>;
  let vault: PersonalVault;
  const tokens: Record<string, string> = {};
  const get = async (url: string, who?: string) => {
    const res = await app.inject({ method: 'GET', url, headers: who ? { authorization: `Bearer ${tokens[who]}` } : {} });
    return { status: res.statusCode, json: res.json() };
  };
  const login = async (label: string, s: Signer) => {
    const ch = (await app.inject({ method: 'POST', url: '/v1/auth/challenge' })).json() as { challenge: string; message: string };
    const signature = toBase64Url(sign(seededKey(label).secretKey, utf8(ch.message)));
    const r = await app.inject({ method: 'POST', url: '/v1/auth/token', payload: { key: s.actor, challenge: ch.challenge, signature } });
    assert.equal(r.statusCode, 200, r.body);
    tokens[label] = (r.json() as { token: string }).token;
  };

  before(async () => {
    c = await certifiedCommunity();
    const { ledger, operator, dso, alice, bob } = c;
    await ok(ledger, operator.sign('market.configure', { from: '2026-05-31T22:00:00Z', mode: 'ex-ante', mechanism: 'uniform', gateClosureMinutes: 30, feedInMicroPerKwh: 60_000, retailMicroPerKwh: 200_000 }));
    await ok(ledger, dso.sign('tariff.set', { from: '2026-05-31T22:00:00Z', feesMicroPerKwh: { local: 0, feeder: 7_000, substation: 13_000, beyond: 30_000 } }));
    await ok(ledger, alice.sign('order.place', { side: 'sell', interval: NOON, quantityWh: 1000, limitMicroPerKwh: 80_000, meter: ALICE_PRM }, '2026-06-01T08:00:00Z'));
    await ok(ledger, bob.sign('order.place', { side: 'buy', interval: NOON, quantityWh: 300, limitMicroPerKwh: 150_000, meter: BOB_PRM }, '2026-06-01T08:00:00Z'));
    await ok(ledger, operator.sign('market.clear', clearAt(ledger.state, parseInstant(NOON)).body, '2026-06-01T09:45:00Z'));
    await ok(ledger, dso.sign('meter.readings', { meter: BOB_PRM, direction: 'import', date: '2026-06-02', values: flat(100) }));
    await ok(ledger, operator.sign('allocation.run', runMonth(ledger.state, MONTH, { kind: 'prorata' }).summary));
    ledger.checkpoint(seededKey('operator'));
    vault = PersonalVault.open(join(c.path, '..', 'personal.db'), randomBytes(32));
    ({ app } = await buildApp({ ledger, vault, tokenSecret: randomBytes(32) }));
    await login('alice', c.alice);
    await login('bob', c.bob);
    await login('operator', c.operator);
    await login('dso', c.dso);
  });
  after(async () => {
    await app.close();
    vault.close();
    await c.ledger.close();
  });

  test('by day: drawn is the metered import, split into neighbours, the community\'s sun and the supplier', async () => {
    const r = await get(`/v1/members/${c.bob.actor}/summary?by=day`, 'bob');
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.currency, 'EUR');
    const [d1, d2] = r.json.buckets;
    assert.deepEqual(r.json.buckets.map((b: { period: string }) => b.period), [DATE, '2026-06-02']);
    assert.equal(d1.drawnWh, 48 * 400);
    assert.equal(d1.neighboursWh, 300, 'the trade at noon');
    assert.equal(d1.neighboursWh + d1.sunWh + d1.supplierWh, d1.drawnWh);
    // What the recorded allocation gave bob (at noon more than he bought), split into his purchase and the rest of the community's sun.
    const allocated = (c.ledger.state.get('allocations', MONTH) as { members: { meter: string; allocatedWh: number }[] }).members.find((m) => m.meter === BOB_PRM)!.allocatedWh;
    assert.ok(d1.sunWh > 0);
    assert.equal(d1.sunWh + d1.neighboursWh, allocated);
    assert.equal(d1.billMicro, null, 'bills are monthly');
    assert.equal(d2.drawnWh, 4800);
    // 2 June has no production: nothing from the sun or neighbours.
    assert.deepEqual([d2.neighboursWh, d2.sunWh, d2.supplierWh], [0, 0, 4800]);
  });

  test('by month and year: the totals of the days, with the invoice\'s total and saving', async () => {
    const days = (await get(`/v1/members/${c.alice.actor}/summary?by=day`, 'alice')).json.buckets;
    const invoice = settleMonth(c.ledger.state, MONTH).invoices.find((i) => i.participant === c.alice.actor)!;
    for (const by of ['month', 'year']) {
      const r = await get(`/v1/members/${c.alice.actor}/summary?by=${by}`, 'alice');
      assert.equal(r.status, 200);
      assert.equal(r.json.buckets.length, 1);
      const b = r.json.buckets[0];
      assert.equal(b.period, by === 'month' ? MONTH : '2026');
      assert.equal(b.fedWh, days.reduce((s: number, d: { fedWh: number }) => s + d.fedWh, 0));
      assert.equal(b.fedWh, sun(2000).reduce((s, v) => s + v, 0));
      assert.equal(b.soldWh, 300);
      assert.equal(b.drawnWh, 48 * 150);
      assert.equal(b.billMicro, invoice.totalMicro);
      assert.equal(b.savingMicro, invoice.savingsMicro);
    }
  });

  test('invoice records name the entries to prove: the community, the member\'s meters, the market rules', async () => {
    const r = await get(`/v1/members/${c.alice.actor}/invoice-records/${MONTH}`, 'alice');
    assert.equal(r.status, 200);
    assert.equal(r.json.community.entry, 0);
    assert.deepEqual(r.json.meters.map((m: { direction: string }) => m.direction).sort(), ['export', 'import']);
    assert.equal(r.json.marketConfigs.length, 1);
    assert.equal(r.json.marketConfigs[0].from, '2026-05-31T22:00:00Z');
    for (const e of [r.json.community.entry, ...r.json.meters.map((m: { entry: number }) => m.entry), r.json.marketConfigs[0].entry]) {
      assert.equal((await get(`/v1/proofs/${e}`, 'alice')).status, 200, `alice may prove entry ${e}`);
    }
  });

  test('a member reads only their own; staff read anyone\'s', async () => {
    assert.equal((await get(`/v1/members/${c.alice.actor}/summary`)).status, 401);
    assert.equal((await get(`/v1/members/${c.alice.actor}/summary`, 'bob')).status, 403);
    assert.equal((await get(`/v1/members/${c.alice.actor}/invoice-records/${MONTH}`, 'bob')).status, 403);
    assert.equal((await get(`/v1/members/${c.alice.actor}/summary?by=month`, 'operator')).status, 200);
    assert.equal((await get(`/v1/members/${c.alice.actor}/summary?by=week`, 'alice')).status, 400);
  });
});
