import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { z } from 'zod';
import { seededKey, smallCommunity } from '../../test/support/community.ts';
import { OpenlecClient } from '../api/client.ts';
import { Signer } from '../client.ts';
import { OpenlecError } from '../errors.ts';
import { buildApp } from './app.ts';
import { MAX_PAGE, paged } from './pages.ts';
import type { Route } from './route.ts';
import { PersonalVault } from './vault.ts';

/** A list route over `items` (changed between calls by the test), paged as the server pages its lists. */
function listRoute(items: () => unknown[]) {
  const route: Route = { method: 'GET', url: '/v1/things', operationId: 'listThings', tags: ['t'], summary: 'Things.', access: 'public', response: z.array(z.unknown()), handler: () => items() };
  const [r] = paged([route]);
  return async (query: Record<string, unknown>) => {
    const headers: Record<string, string> = {};
    const reply = { header: (k: string, v: string) => (headers[k] = v), request: { url: `/v1/things?${new URLSearchParams(query as Record<string, string>)}` } };
    const page = (await r!.handler({ params: {}, query: r!.query!.parse(query), body: undefined, reply: reply as never })) as unknown[];
    return { page, next: headers['x-next-cursor'], link: headers.link };
  };
}

test('pages of a list, followed by their cursors, are the list once in order, for any length and page size; items appended while a client pages come at the end', async () => {
  await fc.assert(fc.asyncProperty(fc.array(fc.record({ id: fc.nat(), v: fc.string() }), { maxLength: 60 }), fc.integer({ min: 1, max: 12 }), fc.array(fc.nat(), { maxLength: 5 }), async (initial, limit, appended) => {
    const items = [...initial];
    const call = listRoute(() => items);
    const seen: unknown[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const { page, next, link } = await call({ limit, ...(cursor ? { cursor } : {}) });
      assert.ok(page.length <= limit);
      seen.push(...page);
      if (next) assert.equal(link, `</v1/things?limit=${limit}&cursor=${next}>; rel="next"`);
      // Appended between two pages: read at the end, once.
      if (pages === 0 && next) for (const a of appended) items.push({ id: -1 - a, v: 'late' });
      cursor = next;
      pages++;
    } while (cursor);
    assert.deepEqual(seen, items);
  }), { numRuns: 200 });
});

test('a cursor whose item is gone is refused (409 E_CURSOR), a forged one is a 400 naming query.cursor, and a page holds at most 1,000', async () => {
  let items: unknown[] = Array.from({ length: 2500 }, (_, i) => ({ i }));
  const call = listRoute(() => items);
  const first = await call({});
  assert.equal(first.page.length, MAX_PAGE);
  // Rows before the cursor moved, its item still there: the page goes on after it.
  items = [{ i: 'new' }, ...items];
  assert.deepEqual((await call({ cursor: first.next })).page[0], { i: 1000 });
  items = items.filter((x) => (x as { i: unknown }).i !== 999);
  await assert.rejects(call({ cursor: first.next }), (e: unknown) => e instanceof OpenlecError && e.code === 'E_CURSOR' && e.field === 'query.cursor');
  for (const forged of ['x', 'WzEsMl0', Buffer.from('[0,"a"]').toString('base64url')]) await assert.rejects(call({ cursor: forged }), (e: unknown) => e instanceof OpenlecError && e.code === 'E_REQUEST' && e.field === 'query.cursor');
  assert.throws(() => paged([{ method: 'GET', url: '/x', operationId: 'x', tags: [], summary: '', access: 'public', response: z.array(z.number()), handler: () => [] }])[0]!.query!.parse({ limit: '1001' }));
});

test('over HTTP: the list routes page with Link and X-Next-Cursor, the client follows them, and /openapi.json lists the parameters', async () => {
  const c = await smallCommunity();
  const vault = PersonalVault.open(join(c.path, '..', 'personal.db'), randomBytes(32));
  const T = '2026-02-10T12:00:00Z';
  const { app } = await buildApp({ ledger: c.ledger, vault, tokenSecret: randomBytes(32), txClock: () => Date.parse(T) });
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const dso = Signer.forState(c.ledger.state, seededKey('dso'), () => T);
    for (let i = 0; i < 5; i++) assert.ok((await c.ledger.submit(dso.sign('feeder.define', { id: `page-${i}`, parent: 'substation-1' }))).ok);
    const client = new OpenlecClient(base, { key: seededKey('dso') });
    const whole = await client.feeders();
    assert.ok(whole.length >= 7, `${whole.length} feeders`);
    const pages: number[] = [];
    for await (const p of client.pages<unknown>('/v1/feeders', { limit: 2 })) pages.push(p.length);
    assert.deepEqual(pages, [...Array(Math.floor(whole.length / 2)).fill(2), ...(whole.length % 2 ? [1] : [])]);
    const res = await fetch(`${base}/v1/checkpoints?limit=1`);
    assert.equal(res.status, 200);
    assert.ok(((await res.json()) as unknown[]).length <= 1);
    const bad = await fetch(`${base}/v1/checkpoints?cursor=nonsense`);
    assert.deepEqual([bad.status, ((await bad.json()) as { field: string }).field], [400, 'query.cursor']);
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as { paths: Record<string, { get?: { parameters?: { name: string }[] } }> };
    assert.deepEqual(doc.paths['/v1/feeders']!.get!.parameters!.map((p) => p.name).sort(), ['cursor', 'limit']);
  } finally {
    await app.close();
    vault.close();
    await c.ledger.close();
  }
});
