import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { seededKey, smallCommunity } from '../../test/support/community.ts';
import { buildApp } from '../server/app.ts';
import { PersonalVault } from '../server/vault.ts';
import { signRequest } from '../client.ts';
import { utf8 } from '../ledger/index.ts';
import { ApiError, OpenlecClient } from './client.ts';

/** The typed client against a real server, and a proxy that loses the answer of the first write on the way back. */
describe('OpenlecClient', { timeout: 60_000 }, () => {
  const T = '2026-02-10T12:00:00Z';
  let c: Awaited<ReturnType<typeof smallCommunity>>;
  let app: FastifyInstance;
  let vault: PersonalVault;
  let base: string;
  let proxy: Server;
  let lossy: string;
  let dropped = 0;
  const requests: string[] = [];
  const counting: typeof fetch = (input, init) => {
    requests.push(`${init?.method ?? 'GET'} ${new URL(String(input)).pathname}`);
    return fetch(input, init);
  };

  before(async () => {
    c = await smallCommunity();
    vault = PersonalVault.open(join(c.path, '..', 'personal.db'), randomBytes(32));
    ({ app } = await buildApp({ ledger: c.ledger, vault, tokenSecret: randomBytes(32), txClock: () => Date.parse(T) }));
    base = await app.listen({ port: 0, host: '127.0.0.1' });
    const target = new URL(base);
    // Forwards everything; the first answer to a write reaches the server's log but not the client.
    proxy = createServer((req, res) => {
      const up = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        if (req.method === 'POST' && req.url === '/v1/transactions' && dropped === 0) {
          dropped++;
          answer.resume();
          answer.on('end', () => res.socket?.destroy());
          return;
        }
        res.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(res);
      });
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    lossy = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  });
  after(async () => {
    proxy.closeAllConnections();
    await new Promise((r) => proxy.close(r));
    await app.close();
    vault.close();
    await c.ledger.close();
  });

  test('typed reads, signed requests and a login', async () => {
    const dso = new OpenlecClient(base, { key: seededKey('dso'), issuedAt: () => Date.parse(T) });
    const community = await dso.community();
    assert.equal(community.size, c.ledger.size);
    // Signed per RFC 9421 (no token): a staff read.
    const meters = await dso.meters();
    assert.ok(meters.length >= 2 && meters.every((m) => typeof m.meter === 'string'));
    const token = await dso.login();
    assert.deepEqual(token.roles, ['dso']);
    assert.equal((await dso.me()).key, c.dso.actor);
  });

  test('a write whose answer is lost on the way is sent again and gives the one entry it made', async () => {
    requests.length = 0;
    const dso = new OpenlecClient(lossy, { key: seededKey('dso'), issuedAt: () => Date.parse(T), fetch: counting, backoffMs: 20 });
    const size = c.ledger.size;
    const r = await dso.transact('feeder.define', { id: 'client-lost', parent: 'substation-1' });
    assert.equal(dropped, 1, 'the proxy lost one answer');
    assert.equal(requests.filter((x) => x === 'POST /v1/transactions').length, 2, 'sent twice');
    assert.deepEqual([r.entry, r.duplicate], [size, true]);
    assert.equal(c.ledger.size, size + 1, 'one entry');
    const next = await dso.transact('feeder.define', { id: 'client-next', parent: 'substation-1' });
    assert.deepEqual([next.entry, next.duplicate], [size + 1, undefined]);
  });

  test('a request with a body is signed through its Content-Digest (RFC 9530); a body changed on the way, or a digest missing or not signed, is refused', async () => {
    const alice = new OpenlecClient(base, { key: seededKey('alice') });
    assert.deepEqual(await alice.putPersonal(c.alice.actor, { name: 'Alice Example' }), { stored: true });
    assert.equal((await alice.personal(c.alice.actor)).data?.name, 'Alice Example');
    const url = `${base}/v1/members/${c.alice.actor}/personal`;
    const put = (headers: Record<string, string>, body: string) => fetch(url, { method: 'PUT', headers: { 'content-type': 'application/json', ...headers }, body }).then(async (r) => ({ status: r.status, json: (await r.json()) as { code: string; field: string } }));
    const body = JSON.stringify({ name: 'Alice Example' });
    const signed = await signRequest(seededKey('alice'), 'PUT', url, Math.floor(Date.now() / 1000), undefined, utf8(body));
    assert.equal((await put(signed, body)).status, 200);
    // The same signature over another body: the digest no longer matches.
    const changed = await put(signed, JSON.stringify({ name: 'Mallory' }));
    assert.deepEqual([changed.status, changed.json.code, changed.json.field], [401, 'E_AUTH', 'content-digest']);
    // No digest at all.
    const bare = await signRequest(seededKey('alice'), 'PUT', url);
    assert.deepEqual([(await put(bare, body)).json.field], ['content-digest']);
    // A right digest the signature does not cover: someone could have set it.
    const uncovered = await put({ ...bare, 'content-digest': signed['content-digest']! }, body);
    assert.deepEqual([uncovered.status, uncovered.json.code], [401, 'E_AUTH']);
    // A JSON null is a body too: its digest must be signed.
    const nullBody = await put(bare, 'null');
    assert.deepEqual([nullBody.status, nullBody.json.field], [401, 'content-digest']);
    assert.equal((await alice.personal(c.alice.actor)).data?.name, 'Alice Example', 'nothing refused was stored');
  });

  test('a refusal is a typed error with the server\'s code and field, and is not sent again', async () => {
    requests.length = 0;
    const alice = new OpenlecClient(base, { key: seededKey('alice'), issuedAt: () => Date.parse(T), fetch: counting });
    await assert.rejects(alice.meters(), (e: unknown) => e instanceof ApiError && e.status === 403 && e.code === 'E_FORBIDDEN' && e.field === 'authorization' && e.refused);
    assert.equal(requests.length, 1);
    const anon = new OpenlecClient(base, { fetch: counting, attempts: 3, backoffMs: 5 });
    await assert.rejects(anon.proof(10_000_000), (e: unknown) => e instanceof ApiError && e.status >= 400 && e.status < 500);
    const down = new OpenlecClient('http://127.0.0.1:9', { attempts: 2, backoffMs: 5 });
    await assert.rejects(down.community(), (e: unknown) => e instanceof ApiError && e.code === 'E_REMOTE' && e.status === 0);
  });
});
