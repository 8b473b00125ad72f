import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { congestedCommunity, meteredEvent, ok } from '../../test/support/flex.ts';
import { seededKey } from '../../test/support/community.ts';
import type { Signer } from '../client.ts';
import { sign, toBase64Url, utf8 } from '../ledger/index.ts';
import { buildApp } from './app.ts';
import { PersonalVault } from './vault.ts';

/** The flexibility routes through app.inject(): the DSO plans and signs the order from the API, then settles the month. */
describe('flexibility routes', () => {
  let app: FastifyInstance;
  let c: Awaited<ReturnType<typeof congestedCommunity>>;
  let vault: PersonalVault;
  let clock = Date.parse('2026-03-10T13:00:00Z');
  const tokens: Record<string, string> = {};
  const call = async (method: 'GET' | 'POST', url: string, who?: string, payload?: unknown) => {
    const res = await app.inject({ method, url, payload: payload as never, headers: who ? { authorization: `Bearer ${tokens[who]}` } : {} });
    return { status: res.statusCode, json: res.json() };
  };
  const get = (url: string, who?: string) => call('GET', url, who);
  const login = async (label: string, s: Signer) => {
    const ch = (await app.inject({ method: 'POST', url: '/v1/auth/challenge' })).json() as { challenge: string; message: string };
    const signature = toBase64Url(sign(seededKey(label).secretKey, utf8(ch.message)));
    const r = await app.inject({ method: 'POST', url: '/v1/auth/token', payload: { key: s.actor, challenge: ch.challenge, signature } });
    assert.equal(r.statusCode, 200, r.body);
    tokens[label] = (r.json() as { token: string }).token;
  };

  before(async () => {
    c = await congestedCommunity();
    vault = PersonalVault.open(join(c.path, '..', 'personal.db'), randomBytes(32));
    ({ app } = await buildApp({ ledger: c.ledger, vault, tokenSecret: randomBytes(32), txClock: () => clock, now: () => clock }));
    for (const [label, s] of [['alice', c.alice], ['bob', c.bob], ['carol', c.carol], ['dso', c.dso], ['aggregator', c.aggregator]] as const) await login(label, s);
  });
  after(async () => {
    await app.close();
    vault.close();
    await c.ledger.close();
  });

  test('requests are public; offers are the provider\'s own or staff\'s', async () => {
    const list = await get('/v1/flex/requests?month=2026-03');
    assert.equal(list.status, 200);
    assert.deepEqual(list.json.map((r: { request: string; status: string }) => [r.request, r.status]), [['R2', 'open']]);
    const anon = await get('/v1/flex/requests/R2');
    assert.deepEqual(anon.json.offers, []);
    assert.equal(anon.json.intervals.length, 2);
    const carol = await get('/v1/flex/offers', 'carol');
    assert.deepEqual(carol.json.map((o: { offer: string }) => o.offer), ['hp']);
    const dso = await get('/v1/flex/offers?request=R2', 'dso');
    assert.deepEqual(dso.json.map((o: { offer: string }) => o.offer), ['hp', 'ev', 'bat', 'dear']);
    assert.equal((await get('/v1/flex/offers')).status, 401);
    assert.equal((await get('/v1/flex/plan/order?request=R2&order=F2', 'alice')).status, 403);
    const assets = await get('/v1/flex/assets', 'aggregator');
    assert.deepEqual(assets.json.map((a: { asset: string }) => a.asset), ['bob-ev']);
  });

  test('the DSO orders from the planned body, settles, and a provider reads its earnings', async () => {
    const plan = await get('/v1/flex/plan/order?request=R2&order=F2', 'dso');
    assert.equal(plan.status, 200);
    assert.deepEqual(plan.json.body.ordered.map((o: { offer: string }) => o.offer), ['ev', 'bat']);
    const tx = c.dso.sign('flex.order', plan.json.body, plan.json.issuedAt);
    const posted = await call('POST', '/v1/transactions', undefined, tx);
    assert.equal(posted.status, 201, JSON.stringify(posted.json));
    const view = await get('/v1/flex/requests/R2', 'alice');
    assert.deepEqual(view.json.order.ordered.map((o: { offer: string }) => o.offer), ['bat']);
    assert.deepEqual(view.json.intervals.map((i: { orderedW: number }) => i.orderedW), [10_000, 10_000]);
    await meteredEvent(c);
    clock = Date.parse('2026-04-01T00:10:00Z');
    c.at('2026-04-01T00:10:00Z');
    // Tokens last 15 minutes: log in again on the first of April.
    for (const [label, s] of [['alice', c.alice], ['dso', c.dso], ['aggregator', c.aggregator]] as const) await login(label, s);
    const settle = await get('/v1/flex/plan/settle?month=2026-03', 'dso');
    assert.equal(settle.status, 200);
    await ok(c.ledger, c.dso.sign('flex.settle', settle.json.body));
    assert.equal(settle.json.body.lines, settle.json.lines.length);
    const mine = await get('/v1/flex/earnings?month=2026-03', 'aggregator');
    assert.equal(mine.json.settled, true);
    // The EV drew 100 Wh instead of 3,500 (MBMA): 7 kW x 30 min = 3,500 Wh ordered, 3,400 delivered, 100 short.
    assert.deepEqual([mine.json.deliveredWh, mine.json.deficiencyWh], [6800, 200]);
    assert.equal((await get(`/v1/flex/earnings?month=2026-03&provider=${c.alice.actor}`, 'aggregator')).status, 403);
    assert.equal((await get('/v1/flex/settlements/2026-03', 'alice')).status, 403);
    const s = await get('/v1/flex/settlements/2026-03', 'dso');
    assert.equal(s.json.totalMicro, s.json.lines.reduce((t: number, l: { netMicro: number }) => t + l.netMicro, 0));
    // The settled request as staff see it: every offer, the whole merit order, the lines and their cost; a provider its own only, without the cost.
    const staff = await get('/v1/flex/requests/R2', 'dso');
    assert.equal(staff.status, 200, JSON.stringify(staff.json));
    assert.deepEqual(staff.json.offers.map((o: { offer: string }) => o.offer), ['hp', 'ev', 'bat', 'dear']);
    assert.deepEqual(staff.json.order.ordered.map((o: { offer: string }) => o.offer), ['ev', 'bat']);
    assert.equal(staff.json.order.merit.length, 4);
    assert.equal(staff.json.settlement.length, s.json.lines.length);
    assert.equal(staff.json.costMicro, s.json.totalMicro);
    assert.ok(staff.json.intervals.every((i: { deliveredW: number | null }) => i.deliveredW !== null), 'delivered power once settled');
    const own = await get('/v1/flex/requests/R2', 'alice');
    assert.deepEqual([own.json.costMicro, own.json.settlement.map((l: { offer: string }) => l.offer)], [null, ['bat']]);
  });
});
