import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chargingCommunity, LOCATION, simpleCdr, TARIFF } from '../../test/support/charging.ts';
import { until } from '../../test/support/until.ts';
import { parseCdr, parseSession } from '../charging/ocpi.ts';
import { buildApp } from './app.ts';
import { encodeToken, flushOutbox, presentedTokens } from './ocpi.ts';
import { issueRegistrationToken, OcpiStore, ocpiStorePath } from './ocpi-store.ts';
import { PersonalVault } from './vault.ts';

const V = '/ocpi/2.2.1';

interface Seen { method: string; path: string; auth: string | undefined; headers: IncomingMessage['headers']; body: any }

/**
 * The OCPI interface driven over real HTTP as an eMSP would: a tiny eMSP (node:http) serves
 * its versions, version details and CDR receiver; the eMSP registers with token A, gets
 * token C, and pulls and receives what the log holds.
 */
describe('OCPI 2.2.1: the community\'s CPO for a roaming eMSP', () => {
  let c: Awaited<ReturnType<typeof chargingCommunity>>;
  let base: string;
  let store: OcpiStore;
  let close: () => Promise<void>;
  let emsp: Server;
  let emspBase: string;
  const seen: Seen[] = [];
  let failPushes = 0;
  let tokenA = '';
  let tokenC = '';
  const tokenB = 'emsp-token-B-0001';

  const envelope = (data: unknown) => JSON.stringify({ data, status_code: 1000, status_message: 'Success', timestamp: new Date().toISOString() });
  const call = async (method: string, path: string, o: { token?: string; raw?: boolean; body?: unknown; headers?: Record<string, string> } = {}) => {
    const res = await fetch(path.startsWith('http') ? path : `${base}${path}`, {
      method,
      headers: {
        ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(o.token !== undefined ? { authorization: `Token ${o.raw ? o.token : encodeToken(o.token)}` } : {}),
        ...o.headers,
      },
      ...(o.body !== undefined ? { body: typeof o.body === 'string' ? o.body : JSON.stringify(o.body) } : {}),
    });
    return { status: res.status, headers: res.headers, json: (await res.json()) as any };
  };
  /** Every answer is the OCPI envelope. */
  const ocpi = (r: { status: number; json: any }, http: number, status: number) => {
    assert.equal(r.status, http, JSON.stringify(r.json));
    assert.equal(r.json.status_code, status, JSON.stringify(r.json));
    assert.equal(typeof r.json.status_message, 'string');
    assert.match(r.json.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  };
  const append = async (tx: unknown) => {
    const r = await call('POST', '/v1/transactions', { body: tx });
    assert.equal(r.status, 201, JSON.stringify(r.json));
  };
  const credentials = (token: string, party = 'TST', country = 'NL', path = 'emsp') => ({
    token, url: `${emspBase}/${path}/versions`, roles: [{ role: 'EMSP', party_id: party, country_code: country, business_details: { name: 'Test Mobility' } }],
  });
  const pushes = () => seen.filter((s) => s.method === 'POST' && s.path.endsWith('/cdrs'));

  before(async () => {
    c = await chargingCommunity();
    c.at('2025-03-21T12:00:00Z');
    // The eMSP NL*TST at /emsp (with a cdrs receiver); DE*EMS at /other (pull only).
    emsp = createServer((req, res) => {
      let text = '';
      req.on('data', (d) => (text += d));
      req.on('end', () => {
        const path = req.url!.split('?')[0]!;
        seen.push({ method: req.method!, path, auth: req.headers.authorization, headers: req.headers, body: text ? JSON.parse(text) : null });
        const json = (status: number, body: string) => res.writeHead(status, { 'content-type': 'application/json' }).end(body);
        const prefix = path.split('/')[1]!;
        if (req.method === 'GET' && path === `/${prefix}/versions`) return json(200, envelope([{ version: '2.1.1', url: `${emspBase}/${prefix}/2.1.1` }, { version: '2.2.1', url: `${emspBase}/${prefix}/2.2.1` }]));
        if (req.method === 'GET' && path === `/${prefix}/2.2.1`) {
          const endpoints = [{ identifier: 'credentials', role: 'SENDER', url: `${emspBase}/${prefix}/2.2.1/credentials` }, { identifier: 'tokens', role: 'SENDER', url: `${emspBase}/${prefix}/2.2.1/tokens` }];
          if (prefix === 'emsp') endpoints.push({ identifier: 'cdrs', role: 'RECEIVER', url: `${emspBase}/${prefix}/2.2.1/cdrs` });
          return json(200, envelope({ version: '2.2.1', endpoints }));
        }
        if (req.method === 'POST' && path === '/emsp/2.2.1/cdrs') {
          if (failPushes > 0) {
            failPushes--;
            return json(503, JSON.stringify({ status_code: 3000, status_message: 'down for maintenance', timestamp: new Date().toISOString() }));
          }
          return json(201, envelope(null));
        }
        return json(404, JSON.stringify({ status_code: 2000, status_message: 'no such endpoint', timestamp: new Date().toISOString() }));
      });
    });
    await new Promise<void>((r) => emsp.listen(0, '127.0.0.1', r));
    emspBase = `http://127.0.0.1:${(emsp.address() as { port: number }).port}`;
    store = OcpiStore.open(ocpiStorePath(c.path));
    const vault = PersonalVault.open(join(c.path, '..', 'personal.db'), randomBytes(32));
    const { app } = await buildApp({ ledger: c.ledger, vault, tokenSecret: randomBytes(32), txClock: () => c.clock.ms, now: () => c.clock.ms, maxSkewMs: 3_600_000, ocpi: store });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
    close = async () => {
      await app.close();
      store.close();
      vault.close();
      await c.ledger.close();
      await new Promise((r) => emsp.close(r));
    };
  });
  after(() => close());

  test('the operator issues token A only to an eMSP of the log; A opens the versions and nothing else', async () => {
    assert.throws(() => issueRegistrationToken(store, { country_code: 'BE', party_id: 'UNK' }, c.ledger.state), { code: 'E_UNKNOWN_PARTY' });
    assert.throws(() => issueRegistrationToken(store, { country_code: 'FR', party_id: 'OLC' }, c.ledger.state), { code: 'E_UNKNOWN_PARTY' }, 'a CPO is not an eMSP');
    tokenA = issueRegistrationToken(store, { country_code: 'nl', party_id: 'tst' }, c.ledger.state, '2025-03-21T12:00:00Z');
    assert.match(tokenA, /^[A-Za-z0-9_-]{43}$/);

    const versions = await call('GET', '/ocpi/versions', { token: tokenA, headers: { 'x-request-id': 'req-1', 'x-correlation-id': 'corr-1' } });
    ocpi(versions, 200, 1000);
    assert.deepEqual(versions.json.data, [{ version: '2.2.1', url: `${base}${V}` }]);
    assert.equal(versions.headers.get('x-request-id'), 'req-1');
    assert.equal(versions.headers.get('x-correlation-id'), 'corr-1');
    const details = await call('GET', versions.json.data[0].url, { token: tokenA, raw: true });
    ocpi(details, 200, 1000);
    assert.equal(details.json.data.version, '2.2.1');
    assert.deepEqual(details.json.data.endpoints.map((e: any) => `${e.identifier} ${e.role}`), ['credentials SENDER', 'credentials RECEIVER', 'locations SENDER', 'tariffs SENDER', 'sessions SENDER', 'cdrs SENDER']);
    assert.ok(details.json.data.endpoints.every((e: any) => e.url.startsWith(`${base}${V}/`)));

    ocpi(await call('GET', `${V}/cdrs`, { token: tokenA }), 401, 2000);
    const none = await call('GET', `${V}/locations`);
    ocpi(none, 401, 2000);
    assert.ok(none.headers.get('x-request-id'), 'a request id is made up when the request has none');
    ocpi(await call('GET', `${V}/locations`, { token: 'not-a-token' }), 401, 2000);
    ocpi(await call('GET', '/ocpi/versions', { token: 'not-a-token' }), 401, 2000);
    ocpi(await call('PUT', `${V}/credentials`, { token: tokenA, body: credentials(tokenB) }), 405, 2000);
    ocpi(await call('DELETE', `${V}/credentials`, { token: tokenA }), 405, 2000);
    assert.deepEqual(presentedTokens('Token abc def'), []);
    assert.deepEqual(presentedTokens(`Token ${encodeToken('tok-1')}`), ['tok-1', encodeToken('tok-1')]);
  });

  test('registration: the server fetches the eMSP\'s versions with token B, answers token C, and token A is spent', async () => {
    const bad = await call('POST', `${V}/credentials`, { token: tokenA, body: { ...credentials(tokenB), roles: [{ ...credentials(tokenB).roles[0], party_id: 'XXX' }] } });
    ocpi(bad, 400, 2001);
    ocpi(await call('POST', `${V}/credentials`, { token: tokenA, body: { token: tokenB } }), 400, 2001);
    ocpi(await call('POST', `${V}/credentials`, { token: tokenA, body: '{"token": ' }), 400, 2001);
    // An eMSP whose API cannot be reached: 3001, and token A still works.
    ocpi(await call('POST', `${V}/credentials`, { token: tokenA, body: { ...credentials(tokenB), url: 'http://127.0.0.1:9/versions' } }), 200, 3001);
    ocpi(await call('POST', `${V}/credentials`, { token: tokenA, body: { ...credentials(tokenB), url: `${emspBase}/missing-versions` } }), 200, 3001);

    const r = await call('POST', `${V}/credentials`, { token: tokenA, body: credentials(tokenB) });
    ocpi(r, 200, 1000);
    tokenC = r.json.data.token;
    assert.match(tokenC, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(tokenC, tokenA);
    assert.equal(r.json.data.url, `${base}/ocpi/versions`);
    assert.deepEqual(r.json.data.roles, [{ role: 'CPO', party_id: 'OLC', country_code: 'FR', business_details: { name: 'Charge Lane CPO' } }]);
    const fetched = seen.filter((s) => s.path === '/emsp/versions' || s.path === '/emsp/2.2.1');
    assert.deepEqual(fetched.map((s) => s.path), ['/emsp/versions', '/emsp/2.2.1']);
    assert.ok(fetched.every((s) => s.auth === `Token ${encodeToken(tokenB)}`), 'the server calls the eMSP with token B, Base64');
    const partner = store.partner('NL*TST')!;
    assert.equal(partner.token, tokenB);
    assert.deepEqual(partner.endpoints.find((e) => e.identifier === 'cdrs'), { identifier: 'cdrs', role: 'RECEIVER', url: `${emspBase}/emsp/2.2.1/cdrs` });
    assert.equal(store.tokenOf(tokenC)?.party, 'NL*TST');
    assert.equal(store.tokenOf(tokenA), undefined, 'token A is invalidated');

    ocpi(await call('GET', '/ocpi/versions', { token: tokenA }), 401, 2000);
    ocpi(await call('POST', `${V}/credentials`, { token: tokenC, body: credentials(tokenB) }), 405, 2000);
    const mine = await call('GET', `${V}/credentials`, { token: tokenC });
    ocpi(mine, 200, 1000);
    assert.equal(mine.json.data.token, tokenC);
    // The plain token is accepted too (2.1.1 / 2.2 clients).
    ocpi(await call('GET', '/ocpi/versions', { token: tokenC, raw: true }), 200, 1000);
    // DE*EMS registers as well, without a cdrs receiver (it pulls).
    const a2 = issueRegistrationToken(store, { country_code: 'DE', party_id: 'EMS' }, c.ledger.state);
    const de = await call('POST', `${V}/credentials`, { token: a2, body: credentials('de-token-B', 'EMS', 'DE', 'other') });
    ocpi(de, 200, 1000);
    deToken = de.json.data.token;
  });
  let deToken = '';

  test('locations and tariffs from the log, one location, EVSE and connector, 2003 for unknown ones', async () => {
    const list = await call('GET', `${V}/locations`, { token: tokenC });
    ocpi(list, 200, 1000);
    assert.deepEqual(list.json.data, [LOCATION]);
    assert.equal(list.headers.get('x-total-count'), '1');
    assert.equal(list.headers.get('link'), null);
    assert.equal(list.headers.get('ocpi-from-country-code'), 'FR');
    assert.equal(list.headers.get('ocpi-from-party-id'), 'OLC');
    assert.equal(list.headers.get('ocpi-to-party-id'), 'TST');
    assert.deepEqual((await call('GET', `${V}/locations/LANE-1`, { token: tokenC })).json.data, LOCATION);
    assert.deepEqual((await call('GET', `${V}/locations/lane-1/LANE-1-2`, { token: tokenC })).json.data, LOCATION.evses![1]);
    assert.deepEqual((await call('GET', `${V}/locations/LANE-1/LANE-1-2/1`, { token: tokenC })).json.data, LOCATION.evses![1]!.connectors[0]);
    ocpi(await call('GET', `${V}/locations/NOWHERE`, { token: tokenC }), 404, 2003);
    ocpi(await call('GET', `${V}/locations/LANE-1/LANE-1-9`, { token: tokenC }), 404, 2003);
    ocpi(await call('GET', `${V}/locations/LANE-1/LANE-1-2/7`, { token: tokenC }), 404, 2003);
    // Routing headers: to a CPO hosted here, from the caller only.
    ocpi(await call('GET', `${V}/locations`, { token: tokenC, headers: { 'ocpi-to-country-code': 'FR', 'ocpi-to-party-id': 'OLC', 'ocpi-from-country-code': 'NL', 'ocpi-from-party-id': 'TST' } }), 200, 1000);
    ocpi(await call('GET', `${V}/locations`, { token: tokenC, headers: { 'ocpi-to-country-code': 'BE', 'ocpi-to-party-id': 'XYZ' } }), 400, 2001);
    ocpi(await call('GET', `${V}/locations`, { token: tokenC, headers: { 'ocpi-from-country-code': 'DE', 'ocpi-from-party-id': 'EMS' } }), 403, 2000);

    const tariffs = await call('GET', `${V}/tariffs`, { token: tokenC });
    ocpi(tariffs, 200, 1000);
    assert.deepEqual(tariffs.json.data, [TARIFF]);
    ocpi(await call('GET', `${V}/nothing`, { token: tokenC }), 404, 2000);
  });

  const ids = ['C1', 'C2', 'C3', 'C4', 'C5', 'C6', 'C7'];

  test('CDRs appended to the log are pushed to the eMSP\'s receiver with token B, and paged by Link', async () => {
    for (const [i, id] of ids.entries()) await append(c.cpo.sign('charging.cdr', { cdr: simpleCdr(id, `2025-03-20T0${i + 1}:00:00Z`, 30, 5 + i).cdr }));
    await append(c.cpo.sign('charging.cdr', { cdr: simpleCdr('D1', '2025-03-20T10:00:00Z', 45, 8, 0, 'CARD-D', 'DE*EMS').cdr }));
    await until('7 pushes', () => pushes().length >= 7);
    // An outbox entry goes once the eMSP's reply is handled; then a while for any push too many.
    await until('the outbox emptied', () => store.outbox().length === 0);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(pushes().map((p) => p.body.id), ids, 'only NL*TST\'s CDRs, in log order');
    for (const p of pushes()) {
      assert.equal(p.auth, `Token ${encodeToken(tokenB)}`);
      assert.equal(p.headers['ocpi-from-party-id'], 'OLC');
      assert.equal(p.headers['ocpi-to-party-id'], 'TST');
      assert.ok(p.headers['x-request-id']);
      parseCdr(p.body);
    }
    assert.deepEqual(store.outbox(), []);

    const pages: string[][] = [];
    let url: string | undefined = `${V}/cdrs?limit=3`;
    while (url) {
      const r = await call('GET', url, { token: tokenC });
      ocpi(r, 200, 1000);
      assert.equal(r.headers.get('x-total-count'), '7');
      assert.equal(r.headers.get('x-limit'), '3');
      pages.push(r.json.data.map((d: any) => d.id));
      url = /^<([^>]+)>; rel="next"$/.exec(r.headers.get('link') ?? '')?.[1];
    }
    assert.deepEqual(pages, [['C1', 'C2', 'C3'], ['C4', 'C5', 'C6'], ['C7']]);
    // date_from inclusive, date_to exclusive, on last_updated (the session's end); the filters stay in the next link.
    const window = await call('GET', `${V}/cdrs?date_from=2025-03-20T02:30:00Z&date_to=2025-03-20T05:30:00Z&limit=2`, { token: tokenC });
    assert.deepEqual(window.json.data.map((d: any) => d.id), ['C2', 'C3']);
    assert.equal(window.headers.get('x-total-count'), '3');
    assert.equal(window.headers.get('link'), `<${base}${V}/cdrs?offset=2&limit=2&date_from=2025-03-20T02%3A30%3A00Z&date_to=2025-03-20T05%3A30%3A00Z>; rel="next"`);
    const capped = await call('GET', `${V}/cdrs?limit=5000`, { token: tokenC });
    assert.equal(capped.headers.get('x-limit'), '100');
    assert.equal(capped.json.data.length, 7);
    ocpi(await call('GET', `${V}/cdrs?limit=0`, { token: tokenC }), 400, 2001);
    ocpi(await call('GET', `${V}/cdrs?date_from=yesterday`, { token: tokenC }), 400, 2001);

    // Another eMSP sees its own CDR only, and none of NL*TST's.
    const other = await call('GET', `${V}/cdrs`, { token: deToken });
    assert.deepEqual(other.json.data.map((d: any) => d.id), ['D1']);
    assert.equal(other.headers.get('x-total-count'), '1');
    assert.equal((await call('GET', `${V}/sessions`, { token: deToken })).json.data.length, 1);
  });

  test('sessions are the COMPLETED sessions of the eMSP\'s CDRs', async () => {
    const r = await call('GET', `${V}/sessions?limit=10`, { token: tokenC });
    ocpi(r, 200, 1000);
    assert.equal(r.json.data.length, 7);
    const s = parseSession(r.json.data[0]);
    const cdr = simpleCdr('C1', '2025-03-20T01:00:00Z', 30, 5).cdr;
    assert.equal(s.id, 'C1');
    assert.equal(s.status, 'COMPLETED');
    assert.equal(s.kwh, 5);
    assert.equal(s.location_id, 'LANE-1');
    assert.equal(s.evse_uid, 'LANE-1-1');
    assert.deepEqual(s.total_cost, cdr.total_cost);
    assert.deepEqual(s.charging_periods, cdr.charging_periods);
    assert.deepEqual(s.cdr_token, cdr.cdr_token);
  });

  test('a push that fails stays in the outbox and goes on the next flush', async () => {
    failPushes = 1;
    const before = pushes().length;
    await append(c.cpo.sign('charging.cdr', { cdr: simpleCdr('C8', '2025-03-20T09:00:00Z', 30, 4).cdr }));
    await until('the failed push', () => store.outbox()[0]?.attempts === 1);
    const [item] = store.outbox();
    assert.equal(item!.ref, 'FR*OLC\u001fC8');
    assert.match(item!.lastError!, /503/);
    assert.equal(item!.nextAt, c.clock.ms + 10_000);
    assert.deepEqual(await flushOutbox(store, { now: c.clock.ms }), { sent: 0, failed: 0, dropped: 0 }, 'not due yet');
    assert.deepEqual(await flushOutbox(store, { now: c.clock.ms + 10_000 }), { sent: 1, failed: 0, dropped: 0 });
    assert.deepEqual(store.outbox(), []);
    assert.deepEqual(pushes().slice(before).map((p) => p.body.id), ['C8', 'C8']);
  });

  test('PUT rotates the tokens (the server fetches the endpoints again); DELETE unregisters', async () => {
    const r = await call('PUT', `${V}/credentials`, { token: tokenC, body: credentials('emsp-token-B-0002') });
    ocpi(r, 200, 1000);
    const newC = r.json.data.token;
    assert.notEqual(newC, tokenC);
    assert.equal(seen.filter((s) => s.path === '/emsp/versions').at(-1)!.auth, `Token ${encodeToken('emsp-token-B-0002')}`);
    assert.equal(store.partner('NL*TST')!.token, 'emsp-token-B-0002');
    ocpi(await call('GET', `${V}/cdrs`, { token: tokenC }), 401, 2000);
    ocpi(await call('GET', `${V}/cdrs`, { token: newC }), 200, 1000);

    ocpi(await call('DELETE', `${V}/credentials`, { token: newC }), 200, 1000);
    assert.equal(store.partner('NL*TST'), undefined);
    ocpi(await call('GET', `${V}/cdrs`, { token: newC }), 401, 2000);
    // Nothing is pushed to an unregistered eMSP.
    const before = pushes().length;
    await append(c.cpo.sign('charging.cdr', { cdr: simpleCdr('C9', '2025-03-20T11:00:00Z', 30, 4).cdr }));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(pushes().length, before);
    assert.deepEqual(store.outbox(), []);
  });
});
