import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request } from 'node:http';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { seededKey, signer, smallCommunity } from '../../test/support/community.ts';
import { sign, toBase64Url, utf8 } from '../ledger/index.ts';
import { buildApp, DASHBOARD_CSP } from './app.ts';
import { failureOf } from './failures.ts';
import { OpenlecError } from '../errors.ts';
import { PersonalVault } from './vault.ts';

/** The test signers date their transactions from 2026-01-01T00:00:00Z, one second apart. */
const TX_CLOCK = () => Date.UTC(2026, 0, 1, 0, 30);

async function served(deps: Partial<Parameters<typeof buildApp>[0]> = {}) {
  const c = await smallCommunity();
  const vault = PersonalVault.open(join(c.path, '..', 'personal.db'), randomBytes(32));
  const tokenSecret = randomBytes(32);
  const { app } = await buildApp({ ledger: c.ledger, vault, tokenSecret, txClock: TX_CLOCK, maxSkewMs: 3_600_000, ...deps });
  const inject = async (method: 'GET' | 'POST', url: string, o: { body?: unknown; from?: string; token?: string } = {}) => {
    const res = await app.inject({
      method, url, remoteAddress: o.from ?? '127.0.0.1',
      ...(o.body !== undefined ? { payload: o.body as object } : {}), ...(o.token ? { headers: { authorization: `Bearer ${o.token}` } } : {}),
    });
    return { status: res.statusCode, json: res.json(), headers: res.headers };
  };
  const close = async () => {
    await app.close();
    vault.close();
    await c.ledger.close();
  };
  return { c, app, vault, tokenSecret, inject, close };
}

const loginWith = async (inject: Awaited<ReturnType<typeof served>>['inject'], label: string, ch: { challenge: string; message: string }) =>
  inject('POST', '/v1/auth/token', { body: { key: signer(label).actor, challenge: ch.challenge, signature: toBase64Url(sign(seededKey(label).secretKey, utf8(ch.message))) } });

describe('HTTP API: security and integrity', () => {
  test('the dashboard is served under a Content-Security-Policy: its own script only, no other origin, no framing', async () => {
    const web = mkdtempSync(join(tmpdir(), 'openlec-csp-'));
    writeFileSync(join(web, 'index.html'), '<!doctype html><title>t</title>');
    const a = await served({ webRoot: web });
    try {
      const res = await a.app.inject({ method: 'GET', url: '/' });
      assert.equal(res.statusCode, 200);
      const csp = String(res.headers['content-security-policy']);
      assert.equal(csp, DASHBOARD_CSP);
      assert.match(csp, /script-src 'self'(;|$)/, 'no inline script, no other origin');
      assert.match(csp, /connect-src 'self'/, 'nothing sent elsewhere');
      assert.match(csp, /frame-ancestors 'none'/);
    } finally {
      await a.close();
    }
  });

  test('challenges are stateless: one issued by any instance sharing the secret logs in, each once, until it expires; a forged one does not', async () => {
    let now = Date.UTC(2026, 5, 1);
    const a = await served({ now: () => now });
    try {
      // A second server over the same log and secret keeps no table of challenges to consult.
      const { app: other } = await buildApp({ ledger: a.c.ledger, vault: a.vault, tokenSecret: a.tokenSecret, now: () => now });
      const ch = (await other.inject({ method: 'POST', url: '/v1/auth/challenge' })).json();
      await other.close();
      assert.equal(ch.message, `openlec-login\n${a.c.ledger.origin()}\n${ch.challenge}\n`, 'the dashboard checks the message is a login to this origin');
      const ok = await loginWith(a.inject, 'alice', ch);
      assert.equal(ok.status, 200, JSON.stringify(ok.json));
      assert.equal((await loginWith(a.inject, 'alice', ch)).json.message, 'this challenge was used already: ask for a new one');

      const fresh = (await a.inject('POST', '/v1/auth/challenge')).json;
      const [nonce, expiry, mac] = fresh.challenge.split('.');
      const later = `${nonce}.${(parseInt(expiry, 36) + 3_600_000).toString(36)}.${mac}`;
      const forged = await loginWith(a.inject, 'alice', { challenge: later, message: `openlec-login\n${a.c.ledger.origin()}\n${later}\n` });
      assert.deepEqual([forged.status, forged.json.code, forged.json.field], [401, 'E_AUTH', 'challenge']);
      const foreign = (await (await buildApp({ ledger: a.c.ledger, vault: a.vault, tokenSecret: randomBytes(32), now: () => now })).app.inject({ method: 'POST', url: '/v1/auth/challenge' })).json();
      assert.equal((await loginWith(a.inject, 'alice', foreign)).json.field, 'challenge', 'another server\'s challenge');
      now += 5 * 60_000 + 1;
      assert.equal((await loginWith(a.inject, 'alice', fresh)).json.message, 'expired challenge: ask for a new one');
    } finally {
      await a.close();
    }
  });

  test('a flood of unsigned or badly signed requests naming a member\'s key leaves that member\'s valid orders accepted', async () => {
    // The key's windows are fixed minutes of the server's clock: held still here, so that no minute turns during the test.
    const s = await served({ rateLimitPerMinute: 20, addressRateLimitPerMinute: 50, now: () => Date.UTC(2026, 5, 1, 12, 0, 30) });
    try {
      const { bob, alice } = s.c;
      const forged = { ...bob.sign('feeder.define', { id: 'x' }), sig: alice.sign('feeder.define', { id: 'x' }).sig };
      const statuses = new Set<number>();
      for (let i = 0; i < 60; i++) statuses.add((await s.inject('POST', '/v1/transactions', { body: i % 2 ? forged : { actor: bob.actor, junk: i }, from: '10.0.0.66' })).status);
      assert.deepEqual([...statuses].sort(), [400, 401, 429], 'refused, then limited by address');
      const limited = await s.inject('POST', '/v1/transactions', { body: { actor: bob.actor }, from: '10.0.0.66' });
      assert.deepEqual([limited.json.code, limited.json.field], ['E_RATE', 'address']);
      assert.ok(Number(limited.headers['retry-after']) > 0);
      // Bob, from his own address, is not affected: his valid order is accepted.
      const configured = await s.c.ledger.submit(s.c.operator.sign('market.configure', { from: '2026-01-31T23:00:00Z', mode: 'ex-ante', mechanism: 'uniform', gateClosureMinutes: 60, feedInMicroPerKwh: 60_000, retailMicroPerKwh: 200_000 }));
      assert.ok(configured.ok);
      const order = bob.sign('order.standing', { side: 'buy', meter: '30009876543210', fromDate: '2026-02-01', toDate: '2026-02-28', quantityWh: 500, limitMicroPerKwh: 150_000 });
      const mine = await s.inject('POST', '/v1/transactions', { body: order, from: '192.0.2.7' });
      assert.equal(mine.status, 201, JSON.stringify(mine.json));
      // His own verified requests do count against his key, refused or not: 20 in the minute, then 429.
      for (let i = 0; i < 19; i++) assert.equal((await s.inject('POST', '/v1/transactions', { body: bob.sign('feeder.define', { id: `f${i}` }), from: '192.0.2.8' })).status, 403);
      const over = await s.inject('POST', '/v1/transactions', { body: bob.sign('feeder.define', { id: 'over' }), from: '192.0.2.9' });
      assert.deepEqual([over.status, over.json.code, over.json.field], [429, 'E_RATE', 'actor']);
      assert.ok(Number(over.headers['retry-after']) > 0);
    } finally {
      await s.close();
    }
  });

  test('impossible dates are a 400 naming the field, not a 500', async () => {
    const s = await served();
    try {
      for (const [url, field] of [
        ['/v1/community/energy?from=2026-02-30&to=2026-03-01', 'query.from'],
        ['/v1/community/energy?from=2026-12-01&to=2026-13-01', 'query.to'],
        ['/v1/community/energy?from=2026-00-10&to=2026-03-01', 'query.from'],
      ]) {
        const r = await s.inject('GET', url!);
        assert.deepEqual([r.status, r.json.code, r.json.field], [400, 'E_REQUEST', field], url);
      }
      assert.equal((await s.inject('GET', '/v1/community/energy?from=2024-02-29&to=2024-03-01')).status, 200, 'a leap day is a day');
    } finally {
      await s.close();
    }
  });

  test('a store failure is a 5xx {code, message, field}, logged with its cause; overload is a 503 with Retry-After', async () => {
    const lines: string[] = [];
    const s = await served({ logger: { stream: { write: (l: string) => void lines.push(l) } }, maxPendingWrites: 1 });
    try {
      s.c.ledger.db.exec("CREATE TRIGGER disk_full BEFORE INSERT ON entries BEGIN SELECT RAISE(FAIL, 'disk full'); END");
      const size = s.c.ledger.size;
      const r = await s.inject('POST', '/v1/transactions', { body: s.c.dso.sign('feeder.define', { id: 'feeder-z' }) });
      assert.equal(r.status, 500, JSON.stringify(r.json));
      assert.deepEqual(Object.keys(r.json).sort(), ['code', 'field', 'message']);
      assert.equal(r.json.code, 'E_STORE_WRITE');
      assert.ok(!r.json.message.includes('disk full'), 'internals stay in the log');
      assert.equal(s.c.ledger.size, size);
      const logged = lines.map((l) => JSON.parse(l)).find((l) => l.level === 50);
      assert.ok(logged && /E_STORE_WRITE/.test(logged.msg) && /disk full/.test(JSON.stringify(logged)), lines.join(''));
      s.c.ledger.db.exec('DROP TRIGGER disk_full');

      // Another connection holding SQLite's write lock: overload, come back.
      const busy = failureOf(new OpenlecError('E_STORE_WRITE', 'the batch could not be written: database is locked', { cause: Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }) }));
      assert.deepEqual([busy.status, busy.code, busy.retryAfterS], [503, 'E_STORE_BUSY', 1]);
      // More transactions waiting for the store than it takes: 503.
      const both = await Promise.all([s.c.dso.sign('feeder.define', { id: 'feeder-p' }), s.c.dso.sign('feeder.define', { id: 'feeder-q' })].map((tx) => s.inject('POST', '/v1/transactions', { body: tx })));
      assert.deepEqual(both.map((b) => b.status).sort(), [201, 503]);
      const over = both.find((b) => b.status === 503)!;
      assert.deepEqual([over.json.code, over.headers['retry-after']], ['E_BUSY', '1']);
    } finally {
      await s.close();
    }
  });

  test('every error is {code, message, field}: unknown routes (404) and headers too large (431) included', async () => {
    const s = await served();
    try {
      const missing = await s.inject('GET', '/v1/nothing-here?x=1');
      assert.deepEqual(missing.json, { code: 'E_NOT_FOUND', message: 'no route GET /v1/nothing-here', field: 'url' });
      assert.equal(missing.status, 404);
      const base = await s.app.listen({ port: 0, host: '127.0.0.1' });
      const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(`${base}/v1/community`, { headers: { 'x-padding': 'x'.repeat(20_000) } }, (r) => {
          let body = '';
          r.on('data', (b: Buffer) => (body += b.toString()));
          r.on('end', () => resolve({ status: r.statusCode!, body }));
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(res.status, 431);
      assert.deepEqual(JSON.parse(res.body), { code: 'E_HEADERS_TOO_LARGE', message: 'the request headers exceed the server\'s limit', field: 'headers' });
    } finally {
      await s.close();
    }
  });

  test('structure: no import circle among the server\'s modules', () => {
    const dir = import.meta.dirname;
    const imports = new Map<string, string[]>();
    for (const f of readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))) {
      imports.set(f, [...readFileSync(join(dir, f), 'utf8').matchAll(/^import [^;]*? from '\.\/([\w-]+\.ts)';/gm)].map((m) => m[1]!));
    }
    const visit = (f: string, path: string[]): void => {
      assert.ok(!path.includes(f), `import circle: ${[...path, f].join(' -> ')}`);
      for (const g of imports.get(f) ?? []) visit(g, [...path, f]);
    };
    for (const f of imports.keys()) visit(f, []);
    assert.ok(imports.get('openapi.ts')!.includes('route.ts'));
  });
});
