import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { z } from 'zod';
import { seededKey, smallCommunity } from '../../test/support/community.ts';
import { sign, toBase64Url, utf8 } from '../ledger/index.ts';
import type { SqliteLedger } from '../store/sqlite-ledger.ts';
import { buildApp } from './app.ts';
import { TAGS } from './openapi.ts';
import { checkResponse, FAILURE, type Route } from './route.ts';
import { PersonalVault } from './vault.ts';

/**
 * The API as a contract: /openapi.json names every operation once, says what each answers
 * and how callers authenticate, and with checkResponses a handler that answers off its
 * schema fails the request (and so the test that made it).
 */
describe('API contract', () => {
  let ledger: SqliteLedger;
  let vault: PersonalVault;
  let app: Awaited<ReturnType<typeof buildApp>>['app'];
  let table: Route[];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a JSON document
  let doc: any;
  let c: Awaited<ReturnType<typeof smallCommunity>>;

  before(async () => {
    c = await smallCommunity();
    ledger = c.ledger;
    vault = PersonalVault.open(join(c.path, '..', 'personal.db'), randomBytes(32));
    // The test signers date their transactions from 2026-01-01T00:00:00Z, one second apart.
    ({ app, routes: table } = await buildApp({ ledger, vault, tokenSecret: randomBytes(32), checkResponses: true, operatorKey: seededKey('operator'), checkpointEveryMs: 20, txClock: () => Date.UTC(2026, 0, 1, 0, 30), maxSkewMs: 3_600_000 }));
    doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
  });
  after(async () => {
    await app.close();
    vault.close();
    await ledger.close();
  });

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a JSON document
  const operations = () => Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op })));
  const operationOf = (r: Route) => doc.paths[r.url.replace(/:(\w+)/g, '{$1}')]?.[r.method.toLowerCase()];

  test('every operation has a unique camelCase operationId and known tags; every route of the table is in the document', () => {
    const ids = operations().map(({ op }) => op.operationId as string);
    assert.equal(new Set(ids).size, ids.length, `duplicate operationIds: ${ids.filter((id, i) => ids.indexOf(id) !== i).join(', ')}`);
    for (const { path, method, op } of operations()) {
      assert.match(op.operationId, /^[a-z][a-zA-Z0-9]*$/, `${method} ${path}`);
      assert.ok(Array.isArray(op.tags) && op.tags.length > 0, `${op.operationId} has a tag`);
      for (const t of op.tags) assert.ok(doc.tags.some((d: { name: string }) => d.name === t), `tag ${t} of ${op.operationId} is listed at the top`);
    }
    for (const d of doc.tags) assert.ok(d.description && TAGS[d.name], `tag ${d.name} is described`);
    for (const r of table) {
      const op = operationOf(r);
      assert.ok(op, `${r.method} ${r.url} is in the document`);
      assert.equal(op.operationId, r.operationId);
    }
  });

  test('every route has a non-empty JSON Schema for its success, or is text (a string of its media type); errors have theirs; the CSV download is text/csv', () => {
    for (const r of table) {
      const op = operationOf(r);
      const success = op.responses[String(r.status ?? 200)];
      if (r.contentType) {
        assert.deepEqual(success.content, { [r.contentType]: { schema: { type: 'string' } } }, `${r.operationId}: text`);
      } else {
        assert.ok(r.response, `${r.operationId}: every JSON route has a response schema (responses.ts)`);
        const schema = success.content['application/json'].schema;
        assert.ok(Object.keys(schema).length > 0, `${r.operationId}: the success has a schema`);
      }
      for (const status of ['4XX', '5XX']) assert.ok(Object.keys(op.responses[status].content['application/json'].schema).length > 0, `${r.operationId} ${status}`);
    }
    const csv = doc.paths['/v1/allocations/{month}/files/{file}'].get.responses['200'].content;
    assert.deepEqual(Object.keys(csv), ['text/csv']);
    assert.deepEqual(csv['text/csv'].schema, { type: 'string' });
    assert.ok(doc.paths['/v1/community'].get.responses['200'].content['application/json'].example?.verifierKey, 'the community answer has an example');
    // A route that answers CSV when asked lists both media types.
    for (const path of ['/v1/certificates/export', '/v1/charging/statement']) assert.deepEqual(Object.keys(doc.paths[path].get.responses['200'].content), ['application/json', 'text/csv'], path);
  });

  test('every example is an answer its schema accepts', () => {
    const examples = table.filter((r) => r.example !== undefined);
    assert.ok(examples.length > 0);
    for (const r of examples) {
      const parsed = r.response!.safeParse(r.example);
      assert.ok(parsed.success, `${r.operationId}: its example ${parsed.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
  });

  test('the refused OpenADR event writes answer the 405 problem their schema describes (the route\'s status, with Allow: GET)', async () => {
    const writes = table.filter((r) => ['createEvent', 'updateEvent', 'deleteEvent'].includes(r.operationId));
    assert.equal(writes.length, 3);
    for (const r of writes) {
      assert.equal(r.status, 405, r.operationId);
      const res = await app.inject({ method: r.method, url: r.url.replace(':eventID', 'req-1'), ...(r.method === 'DELETE' ? {} : { payload: {} }) });
      assert.equal(res.statusCode, 405, `${r.operationId}: ${res.body}`);
      assert.equal(res.headers.allow, 'GET');
      const parsed = r.response!.safeParse(res.json());
      assert.ok(parsed.success, `${r.operationId}: ${res.body}`);
      assert.ok(Object.keys(operationOf(r).responses['405'].content['application/json'].schema).length > 0, r.operationId);
    }
  });

  test('the bearer token, API keys and RFC 9421 message signatures are security schemes, alternatives on every route with roles', () => {
    const schemes = doc.components.securitySchemes;
    assert.deepEqual(schemes.bearer, { ...schemes.bearer, type: 'http', scheme: 'bearer' });
    assert.equal(schemes.httpSignature.type, 'apiKey');
    assert.equal(schemes.httpSignature.in, 'header');
    assert.equal(schemes.httpSignature.name, 'Signature');
    assert.match(schemes.httpSignature.description, /RFC 9421/);
    assert.match(schemes.httpSignature.description, /keyid/);
    assert.equal(schemes.apiKey.type, 'http');
    assert.equal(schemes.apiKey.scheme, 'bearer');
    assert.match(schemes.apiKey.bearerFormat, /^olk_/);
    for (const r of table) {
      const op = operationOf(r);
      if (r.access === 'public' || r.access === 'signed') assert.equal(op.security, undefined, r.operationId);
      else assert.deepEqual(op.security, [{ bearer: [] }, { apiKey: [] }, { httpSignature: [] }], r.operationId);
    }
  });

  test('with checkResponses, a body off its schema is a 500 E_CONTRACT naming the operation and the path', async () => {
    // Directly: the check can fail, for a success and for a refusal.
    const route = { operationId: 'getThing', response: z.strictObject({ size: z.number().int() }) };
    assert.doesNotThrow(() => checkResponse(route, 200, { size: 3 }));
    assert.throws(() => checkResponse(route, 200, { size: 'three' }), (e: Error & { code?: string }) => e.code === 'E_CONTRACT' && /getThing/.test(e.message) && /body\.size/.test(e.message));
    assert.throws(() => checkResponse(route, 200, { size: 3, extra: true }), { code: 'E_CONTRACT' });
    assert.doesNotThrow(() => checkResponse(route, 404, { code: 'E_NOT_FOUND', message: 'no', field: null }));
    assert.throws(() => checkResponse(route, 404, { error: 'no' }), { code: 'E_CONTRACT' });
    assert.ok(FAILURE.safeParse({ code: 'E_X', message: 'm', field: 'body' }).success);

    // Through the app: the real community answer passes its schema...
    const community = table.find((r) => r.operationId === 'getCommunity')!;
    const ok = await app.inject({ method: 'GET', url: '/v1/community' });
    assert.equal(ok.statusCode, 200, ok.body);
    // ...and fails one it does not meet (the hook reads the route's schema when it answers).
    const honest = community.response;
    community.response = z.strictObject({ name: z.number() });
    try {
      const bad = await app.inject({ method: 'GET', url: '/v1/community' });
      assert.equal(bad.statusCode, 500);
      assert.equal(bad.json().code, 'E_CONTRACT');
      assert.match(bad.json().message, /getCommunity: .*body\.name/);
    } finally {
      community.response = honest;
    }
    // A refusal passes the failure schema as it is.
    const refused = await app.inject({ method: 'GET', url: '/v1/meters' });
    assert.equal(refused.statusCode, 401);
    assert.equal(refused.json().code, 'E_AUTH');
  });

  test('the reads of a small community answer within their schemas (a refusal within the failure schema): none is a 500', async () => {
    const day = Array.from({ length: 48 }, (_, i) => (i % 7 === 0 ? null : 100 + i));
    const readings = await app.inject({ method: 'POST', url: '/v1/transactions/batch', payload: { transactions: [
      c.dso.sign('meter.readings', { meter: '30001234567890', direction: 'import', date: '2026-01-01', values: day }),
      c.dso.sign('meter.readings', { meter: '30001234567890', direction: 'export', date: '2026-01-01', values: day }),
    ] } });
    assert.equal(readings.statusCode, 201, readings.body);
    for (const tx of [
      c.operator.sign('market.configure', { from: '2025-12-31T23:00:00Z', mode: 'ex-ante', mechanism: 'uniform', gateClosureMinutes: 60, feedInMicroPerKwh: 60_000, retailMicroPerKwh: 200_000 }),
      c.bob.sign('order.place', { side: 'buy', interval: '2026-01-01T10:00:00Z', quantityWh: 1000, limitMicroPerKwh: 150_000, meter: '30009876543210' }),
      c.alice.sign('order.place', { side: 'sell', interval: '2026-01-01T10:00:00Z', quantityWh: 800, limitMicroPerKwh: 90_000, meter: '30001234567890' }),
    ]) {
      const r = await app.inject({ method: 'POST', url: '/v1/transactions', payload: tx });
      assert.equal(r.statusCode, 201, r.body);
    }
    // A checkpoint to prove entries under.
    while (ledger.latestCheckpoint()?.checkpoint.size !== ledger.size) await new Promise((r) => setTimeout(r, 20));
    const ch = (await app.inject({ method: 'POST', url: '/v1/auth/challenge' })).json();
    const login = await app.inject({ method: 'POST', url: '/v1/auth/token', payload: { key: c.operator.actor, challenge: ch.challenge, signature: toBase64Url(sign(seededKey('operator').secretKey, utf8(ch.message))) } });
    assert.equal(login.statusCode, 200, login.body);
    const headers = { authorization: `Bearer ${login.json().token}` };
    const alice = `/v1/members/${c.alice.actor}`;
    const urls = [
      '/v1/community', '/v1/me', '/v1/participants', '/v1/meters', '/v1/feeders', '/v1/log?limit=3', '/v1/log/entries?from=2&limit=3', '/v1/checkpoints', '/v1/checkpoints/latest',
      '/v1/consistency?from=2&to=5', '/v1/proofs/1', '/v1/community/energy?from=2026-01-01&to=2026-01-02', '/v1/market/clearings?from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z',
      '/v1/market/depth?interval=2026-01-01T10:00:00Z', '/v1/market/book?interval=2026-01-01T10:00:00Z', '/v1/market/config', '/v1/allocations', '/v1/allocations/2026-01/plan',
      '/v1/readings?from=2026-01-01&to=2026-01-02', '/v1/network', '/v1/dashboard/keys', '/v1/dashboard/community?from=2026-01-01&to=2026-01-31', '/v1/dashboard/allocations',
      `${alice}/allocations`, `${alice}/curves?from=2026-01-01&to=2026-01-31`, `${alice}/orders`, `${alice}/trades?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z`, `${alice}/personal`,
      `${alice}/export`, `${alice}/summary?by=month`, `${alice}/invoices/2026-01`, `${alice}/invoice-records/2026-01`, `/v1/dashboard/members/${c.alice.actor}/allocations`,
      '/v1/certificates/devices', '/v1/certificates/months', '/v1/certificates/matching?month=2026-01', '/v1/flex/assets', '/v1/flex/requests',
      '/v1/charging/parties', '/v1/charging/settlements/2026-01', '/v1/charging/plan/settle?month=2026-01',
      '/v1/certificates/export?month=2026-01', '/v1/certificates/export?month=2026-01&format=energytag', '/v1/charging/locations', '/v1/charging/tariffs', '/v1/charging/cdrs',
      '/openadr3/3.0.1/events', '/openadr3/3.0.1/programs',
    ];
    for (const url of urls) {
      const r = await app.inject({ method: 'GET', url, headers });
      assert.ok(r.statusCode < 500, `${url}: ${r.statusCode} ${r.body}`);
      if (process.env.CONTRACT_DEBUG) console.log(r.statusCode, url, r.body.slice(0, 120));
    }
    const curves = (await app.inject({ method: 'GET', url: `${alice}/curves?from=2026-01-01&to=2026-01-31`, headers })).json();
    assert.equal(curves.length, 2, 'the readings were there to describe');
  });

  test('how much of the API has a response schema', () => {
    const described = table.filter((r) => r.response).length;
    const text = table.filter((r) => r.contentType).length;
    console.log(`openlec API: ${table.length} routes, ${described} with a response schema, ${text} text (${table.filter((r) => r.contentType).map((r) => r.operationId).join(', ')}), ${table.length - described - text} undescribed: ${table.filter((r) => !r.response && !r.contentType).map((r) => r.operationId).join(', ')}`);
    // Every JSON answer is described; the text answers are these, on purpose (a string of their media type).
    // Outside the table, and so outside this count: the event streams GET /v1/events and the OpenADR notifications (text/event-stream).
    assert.deepEqual(table.filter((r) => !r.response).map((r) => r.operationId), ['getAllocationFile']);
    assert.deepEqual(table.filter((r) => r.contentType).map((r) => r.operationId), ['getAllocationFile']);
  });
});
