import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { COMMUNITY, seededKey, smallCommunity } from '../../test/support/community.ts';
import { buildApp } from '../server/app.ts';
import { PersonalVault } from '../server/vault.ts';
import { signRequest } from '../client.ts';
import { utf8 } from '../ledger/index.ts';
import { Signer } from './signer.ts';
import { makeApiKey } from '../access/api-keys.ts';
import { formatInstant } from '../units/index.ts';
import { ApiError, OpenlecClient } from './client.ts';
import { OpenlecClient as ClientCore } from './core.ts';

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
  test('the core the dashboard uses: a token set and cleared after construction, a whole paged list through a path with its own query, a file as a Blob, the server\'s message alone', async () => {
    requests.length = 0;
    const token = (await new OpenlecClient(base, { key: seededKey('operator') }).login()).token;
    const page = new ClientCore(base, { fetch: counting });
    await assert.rejects(page.me(), (e: unknown) => e instanceof ApiError && e.status === 401);
    page.useToken(token);
    assert.equal((await page.me()).key, c.operator.actor);
    // Pages of one participant each, followed to the end after the path's own `?limit=1`.
    const all = await page.participants();
    requests.length = 0;
    const paged = await page.getAll<{ key: string }[]>('/v1/participants?limit=1');
    assert.deepEqual(paged.map((p) => p.key), all.map((p) => p.key));
    assert.equal(requests.length, all.length, 'one request a page');
    assert.ok(all.length > 1);
    // Anything but a list is returned as it came.
    assert.equal((await page.getAll<{ size: number }>('/v1/community')).size, c.ledger.size);
    const blob = await page.blob('/v1/community');
    assert.ok(blob instanceof Blob);
    assert.equal((JSON.parse(await blob.text()) as { size: number }).size, c.ledger.size);
    page.useToken(undefined);
    await assert.rejects(page.blob('/v1/me'), (e: unknown) => e instanceof ApiError && e.status === 401 && !e.reason.includes(base) && e.message.includes(base));
    // A key but no request signer and no token: nothing is sent unsigned.
    requests.length = 0;
    const keyed = new ClientCore(base, { key: seededKey('dso'), fetch: counting });
    await assert.rejects(keyed.meters(), (e: unknown) => e instanceof Error && (e as { code?: string }).code === 'E_CLIENT');
    assert.equal(requests.length, 0);
    await keyed.login();
    assert.ok((await keyed.meters()).length >= 2, 'with the token of its login');
  });

  test('a login signs a login message only, and, given the origin, a login to that origin only', async () => {
    const { origin } = await new OpenlecClient(base).community();
    assert.ok(origin.length > 0);
    assert.equal((await new OpenlecClient(base).login({ key: seededKey('alice'), origin, retry: false })).roles.includes('member'), true);
    const forging = (message: (ch: { challenge: string; message: string }) => string): typeof fetch => async (input, init) => {
      requests.push(`${init?.method ?? 'GET'} ${new URL(String(input)).pathname}`);
      const res = await fetch(input, init);
      if (!String(input).endsWith('/v1/auth/challenge')) return res;
      const ch = (await res.json()) as { challenge: string; message: string };
      return Response.json({ ...ch, message: message(ch) });
    };
    for (const [what, forged, opts] of [
      ['another origin', (ch: { challenge: string }) => `openlec-login\nhttps://elsewhere.example\n${ch.challenge}\n`, { origin }],
      ['another challenge', () => `openlec-login\n${origin}\nsomething-else\n`, {}],
      ['not a login', (ch: { challenge: string }) => `{"v":1,"type":"member.join","challenge":"${ch.challenge}"}`, {}],
    ] as const) {
      requests.length = 0;
      const alice = new OpenlecClient(base, { key: seededKey('alice'), fetch: forging(forged) });
      await assert.rejects(alice.login(opts), (e: unknown) => (e as { code?: string }).code === 'E_LOGIN_MESSAGE', what);
      assert.deepEqual(requests, ['POST /v1/auth/challenge'], `${what}: nothing signed was sent`);
    }
  });

  test('an organisation\'s API key as the bearer: reads as its owner without the signing key, refused once revoked', async () => {
    const dso = Signer.forState(c.ledger.state, seededKey('dso'), () => T);
    const k = makeApiKey(COMMUNITY, randomBytes(8), randomBytes(32));
    const owner = new OpenlecClient(base, { key: seededKey('dso') });
    await owner.submit(dso.sign('apikey.issue', { id: k.id, digest: k.digest, roles: ['dso'], expiresAt: formatInstant(Date.parse(T) + 399 * 86_400_000) }));
    const machine = new OpenlecClient(base, { apiKey: k.token, attempts: 1 });
    const me = await machine.me();
    assert.equal(me.key, dso.actor);
    assert.equal(me.apiKey, k.id);
    assert.deepEqual((await machine.apiKeys()).map((v) => [v.id, v.status]), [[k.id, 'live']]);
    assert.equal((await machine.apiKey(k.id)).owner, dso.actor);
    await owner.submit(dso.sign('apikey.revoke', { id: k.id, reason: 'retired' }));
    await assert.rejects(machine.me(), (e: unknown) => e instanceof ApiError && e.status === 401 && e.code === 'E_AUTH' && e.refused);
  });
});
