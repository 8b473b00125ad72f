import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { seededKey, tempDb } from '../../test/support/community.ts';
import { runMonth } from '../allocation/month.ts';
import { Signer } from '../client.ts';
import { sign, toBase64Url, utf8 } from '../ledger/index.ts';
import { clearAt } from '../market/book.ts';
import { settleMonth } from '../settlement/invoice.ts';
import { SqliteLedger } from '../store/sqlite-ledger.ts';
import { parseInstant } from '../units/index.ts';
import { buildApp } from './app.ts';
import { PersonalVault } from './vault.ts';

const ALICE = '30001234567890';
const BOB = '30009876543210';
const CREATED = '2026-02-10T09:00:00Z';
const BOB_JOINED = '2026-02-20T12:00:00Z';
const MONTH_END = '2026-02-28T23:00:00Z'; // March 1st, 00:00 in Paris
const day = (value: number) => Array.from({ length: 48 }, (_, k) => (k === 22 ? value : 0));
const halfHoursBetween = (a: string, b: string) => (Date.parse(b) - Date.parse(a)) / 1_800_000;

/**
 * The dashboard's read models through app.inject(): a community created on 10 February
 * (bob's meter registered on the 20th), one metered and cleared day (the 21st), an ex-post
 * market, alice's battery and February's allocation.
 */
describe('dashboard routes', () => {
  let app: FastifyInstance;
  let ledger: SqliteLedger;
  let vault: PersonalVault;
  let path: string;
  const tokens: Record<string, string> = {};
  const keys: Record<string, string> = {};
  const get = async (url: string, who?: string) => {
    const res = await app.inject({ method: 'GET', url, headers: who ? { authorization: `Bearer ${tokens[who]}` } : {} });
    return { status: res.statusCode, json: res.json() };
  };

  before(async () => {
    path = tempDb();
    ledger = SqliteLedger.create(path);
    const s = (label: string) => new Signer(seededKey(label), 'openlec.test/late-start', 0, () => CREATED);
    const [operator, dso, alice, bob] = ['operator', 'dso', 'alice', 'bob'].map(s) as [Signer, Signer, Signer, Signer];
    for (const [label, x] of Object.entries({ operator, dso, alice, bob })) keys[label] = x.actor;
    const txs = [
      operator.sign('community.create', { name: 'Late Start', timeZone: 'Europe/Paris', intervalMinutes: 30, currency: 'EUR', operator: operator.actor }),
      operator.sign('participant.register', { key: dso.actor, roles: ['dso'] }),
      operator.sign('participant.register', { key: alice.actor, roles: ['member'] }),
      operator.sign('participant.register', { key: bob.actor, roles: ['member'] }),
      dso.sign('feeder.define', { id: 'substation-1', importLimitW: 250000, exportLimitW: 200000 }),
      dso.sign('meter.register', { meter: ALICE, scheme: 'PRM', direction: 'import', owner: alice.actor, feeder: 'substation-1' }),
      dso.sign('meter.register', { meter: ALICE, scheme: 'PRM', direction: 'export', owner: alice.actor, feeder: 'substation-1', technology: 'solar' }),
      operator.sign('market.configure', { from: '2026-02-10T23:00:00Z', mode: 'ex-post', mechanism: 'uniform', gateClosureMinutes: 0, feedInMicroPerKwh: 60_000, retailMicroPerKwh: 200_000 }),
      dso.sign('tariff.set', { from: '2026-02-10T23:00:00Z', feesMicroPerKwh: { local: 5_000, feeder: 5_000, substation: 5_000, beyond: 5_000 } }),
      alice.sign('asset.register', { asset: 'alice-battery', meter: ALICE, kind: 'battery', powerW: 5000, capacityWh: 10_000, aggregator: null }),
      dso.sign('meter.register', { meter: BOB, scheme: 'PRM', direction: 'import', owner: bob.actor, feeder: 'substation-1' }, BOB_JOINED),
      dso.sign('meter.readings', { meter: ALICE, direction: 'export', date: '2026-02-21', values: day(800) }, '2026-02-22T06:00:00Z'),
      dso.sign('meter.readings', { meter: ALICE, direction: 'import', date: '2026-02-21', values: day(100) }, '2026-02-22T06:00:00Z'),
      dso.sign('meter.readings', { meter: BOB, direction: 'import', date: '2026-02-21', values: day(2000) }, '2026-02-22T06:00:00Z'),
    ];
    for (const r of await ledger.submitMany(txs)) if (!r.ok) throw r.error;
    const cleared = clearAt(ledger.state, parseInstant('2026-02-21T10:00:00Z'));
    for (const tx of [operator.sign('market.clear', cleared.body, '2026-02-22T07:00:00Z'), operator.sign('allocation.run', runMonth(ledger.state, '2026-02', { kind: 'prorata' }).summary, '2026-03-01T07:00:00Z')]) {
      const r = await ledger.submit(tx);
      if (!r.ok) throw r.error;
    }
    vault = PersonalVault.open(join(path, '..', 'personal.db'), randomBytes(32));
    ({ app } = await buildApp({ ledger, vault, tokenSecret: randomBytes(32), now: () => Date.parse('2026-03-01T08:00:00Z') }));
    for (const label of ['operator', 'bob']) {
      const ch = (await app.inject({ method: 'POST', url: '/v1/auth/challenge' })).json() as { challenge: string; message: string };
      const r = await app.inject({ method: 'POST', url: '/v1/auth/token', payload: { key: keys[label], challenge: ch.challenge, signature: toBase64Url(sign(seededKey(label).secretKey, utf8(ch.message))) } });
      assert.equal(r.statusCode, 200, r.body);
      tokens[label] = (r.json() as { token: string }).token;
    }
  });
  after(async () => {
    await app.close();
    vault.close();
    await ledger.close();
  });

  test('community: the savings on trades equal the month\'s invoices\' savings; storage is counted without owners', async () => {
    const r = await get('/v1/dashboard/community?from=2026-02-01&to=2026-02-28');
    assert.equal(r.status, 200);
    const invoices = settleMonth(ledger.state, '2026-02').invoices;
    assert.ok(r.json.tradedWh > 0, 'the 21st cleared with trades');
    assert.equal(r.json.savingsMicro, invoices.reduce((s, i) => s + i.savingsMicro, 0));
    assert.ok(r.json.savingsMicro > 0);
    assert.deepEqual(r.json.storage, { assets: 1, capacityWh: 10_000, powerW: 5000 });
    assert.equal(r.json.currency, 'EUR');
    assert.doesNotMatch(JSON.stringify(r.json), new RegExp(`${ALICE}|${keys.alice}`));
    const before = await get('/v1/dashboard/community?from=2026-02-01&to=2026-02-20');
    assert.equal(before.json.savingsMicro, 0, 'nothing traded before the 21st');
    assert.equal((await get('/v1/dashboard/community?from=2026-02-20&to=2026-01-01')).status, 400);
  });

  test('market: the rules in force with retail and feed-in prices, the supported mechanisms', async () => {
    const r = await get('/v1/market/config');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.configs.map((c: Record<string, unknown>) => [c.from, c.mechanism, c.retailMicroPerKwh, c.feedInMicroPerKwh]), [['2026-02-10T23:00:00Z', 'uniform', 200_000, 60_000]]);
    assert.deepEqual(r.json.mechanisms, ['uniform', 'midpoint', 'mcafee', 'continuous']);
    assert.equal(r.json.tariffs[0].feesMicroPerKwh.local, 5_000);
  });

  test('keys: the operator and the DSO are named, members are not', async () => {
    const r = await get('/v1/dashboard/keys');
    assert.deepEqual(r.json, [{ key: keys.operator, roles: ['operator'] }, { key: keys.dso, roles: ['dso'] }]);
  });

  test('allocations: missing intervals counted from when the community and the meter began, the record unchanged', async () => {
    assert.equal((await get('/v1/dashboard/allocations')).status, 401);
    const r = await get('/v1/dashboard/allocations', 'operator');
    assert.equal(r.status, 200);
    const feb = r.json[0];
    const byMeter = Object.fromEntries(feb.members.map((m: { meter: string }) => [m.meter, m]));
    // Recorded: every half-hour of February without a value (all but the 21st).
    assert.equal(byMeter[ALICE].recordedMissingIntervals, 28 * 48 - 48);
    assert.equal(byMeter[BOB].recordedMissingIntervals, 28 * 48 - 48);
    assert.equal(byMeter[ALICE].missingIntervals, halfHoursBetween(CREATED, MONTH_END) - 48);
    assert.equal(byMeter[BOB].missingIntervals, halfHoursBetween(BOB_JOINED, MONTH_END) - 48);
    // The recorded allocation.run body still carries its own count (what `openlec verify` replays).
    const recorded = (await get('/v1/allocations', 'operator')).json[0].members.find((m: { meter: string }) => m.meter === BOB);
    assert.equal(recorded.missingIntervals, 28 * 48 - 48);
    const mine = await get(`/v1/dashboard/members/${keys.bob}/allocations`, 'bob');
    assert.equal(mine.status, 200);
    assert.deepEqual(mine.json[0].meters.map((m: { meter: string; missingIntervals: number }) => [m.meter, m.missingIntervals]), [[BOB, halfHoursBetween(BOB_JOINED, MONTH_END) - 48]]);
    assert.equal(mine.json[0].productionWh, feb.productionWh);
    assert.equal((await get(`/v1/dashboard/members/${keys.alice}/allocations`, 'bob')).status, 403);
  });
});
