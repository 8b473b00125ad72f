import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { z } from 'zod';
import { smallCommunity } from '../../test/support/community.ts';
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

  before(async () => {
    const c = await smallCommunity();
    ledger = c.ledger;
    vault = PersonalVault.open(join(c.path, '..', 'personal.db'), randomBytes(32));
    ({ app, routes: table } = await buildApp({ ledger, vault, tokenSecret: randomBytes(32), checkResponses: true }));
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

  test('a route with a response schema has a non-empty JSON Schema for its success; errors have theirs; the CSV download is text/csv', () => {
    for (const r of table) {
      const op = operationOf(r);
      const success = op.responses[String(r.status ?? 200)];
      if (r.response) {
        const schema = success.content['application/json'].schema;
        assert.ok(Object.keys(schema).length > 0, `${r.operationId}: the success has a schema`);
      }
      for (const status of ['4XX', '5XX']) assert.ok(Object.keys(op.responses[status].content['application/json'].schema).length > 0, `${r.operationId} ${status}`);
    }
    const csv = doc.paths['/v1/allocations/{month}/files/{file}'].get.responses['200'].content;
    assert.deepEqual(Object.keys(csv), ['text/csv']);
    assert.deepEqual(csv['text/csv'].schema, { type: 'string' });
    assert.ok(doc.paths['/v1/community'].get.responses['200'].content['application/json'].example?.verifierKey, 'the community answer has an example');
  });

  test('the bearer token and RFC 9421 message signatures are security schemes, alternatives on every route with roles', () => {
    const schemes = doc.components.securitySchemes;
    assert.deepEqual(schemes.bearer, { ...schemes.bearer, type: 'http', scheme: 'bearer' });
    assert.equal(schemes.httpSignature.type, 'apiKey');
    assert.equal(schemes.httpSignature.in, 'header');
    assert.equal(schemes.httpSignature.name, 'Signature');
    assert.match(schemes.httpSignature.description, /RFC 9421/);
    assert.match(schemes.httpSignature.description, /keyid/);
    for (const r of table) {
      const op = operationOf(r);
      if (r.access === 'public' || r.access === 'signed') assert.equal(op.security, undefined, r.operationId);
      else assert.deepEqual(op.security, [{ bearer: [] }, { httpSignature: [] }], r.operationId);
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

  test('how much of the API has a response schema', () => {
    const described = table.filter((r) => r.response).length;
    const text = table.filter((r) => r.contentType).length;
    console.log(`openlec API: ${table.length} routes, ${described} with a response schema, ${text} text (${table.filter((r) => r.contentType).map((r) => r.operationId).join(', ')}), ${table.length - described - text} undescribed: ${table.filter((r) => !r.response && !r.contentType).map((r) => r.operationId).join(', ')}`);
    assert.ok(described > 0);
  });
});
