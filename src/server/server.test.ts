import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { seededKey, signer, smallCommunity } from '../../test/support/community.ts';
import { until } from '../../test/support/until.ts';
import { verifyLog } from '../audit/verify.ts';
import { checkEntryProof } from '../audit/entry-proof.ts';
import { type Signer, signRequest } from '../client.ts';
import { sign, toBase64Url, utf8 } from '../ledger/index.ts';
import type { SqliteLedger } from '../store/sqlite-ledger.ts';
import { buildApp } from './app.ts';
import { PersonalVault } from './vault.ts';

/** Over real HTTP on loopback: a server started by the test. */
describe('HTTP API', () => {
  let base: string;
  let ledger: SqliteLedger;
  let vault: PersonalVault;
  let c: Awaited<ReturnType<typeof smallCommunity>>;
  let close: () => Promise<void>;
  const call = async (method: string, path: string, o: { body?: unknown; token?: string; raw?: string; headers?: Record<string, string> } = {}) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...(o.body !== undefined || o.raw !== undefined ? { 'content-type': 'application/json' } : {}), ...(o.token ? { authorization: `Bearer ${o.token}` } : {}), ...o.headers },
      ...(o.raw !== undefined ? { body: o.raw } : o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
    });
    return { status: res.status, json: (await res.json()) as any };
  };
  const login = async (label: string, s: Signer) => {
    const ch = await call('POST', '/v1/auth/challenge');
    const sig = toBase64Url(sign(seededKey(label).secretKey, utf8(ch.json.message)));
    const r = await call('POST', '/v1/auth/token', { body: { key: s.actor, challenge: ch.json.challenge, signature: sig } });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return r.json.token as string;
  };

  before(async () => {
    c = await smallCommunity();
    ledger = c.ledger;
    vault = PersonalVault.open(join(c.path, '..', 'personal.db'), randomBytes(32));
    // The test signers date their transactions from 2026-01-01T00:00:00Z, one second apart.
    const { app } = await buildApp({
      ledger, vault, tokenSecret: randomBytes(32), operatorKey: seededKey('operator'), checkpointEveryMs: 50, rateLimitPerMinute: 200,
      txClock: () => Date.UTC(2026, 0, 1, 0, 30), maxSkewMs: 3_600_000,
    });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
    close = async () => {
      await app.close();
      vault.close();
      await ledger.close();
    };
  });
  after(() => close());

  test('signed transactions are appended; bad ones get a 4xx naming the problem and append nothing', async () => {
    const ok = await call('POST', '/v1/transactions', { body: c.dso.sign('meter.readings', { meter: '30001234567890', direction: 'import', date: '2026-06-01', values: Array(48).fill(100) }) });
    assert.equal(ok.status, 201, JSON.stringify(ok.json));
    const size = ledger.size;
    const forged = { ...c.alice.sign('meter.readings', { meter: '30001234567890', direction: 'import', date: '2026-06-02', values: Array(48).fill(1) }) };
    const cases: [string, { body?: unknown; raw?: string }, number, string][] = [
      ['malformed JSON', { raw: '{"v":1,' }, 400, 'E_REQUEST'],
      ['unknown field', { body: { ...c.dso.sign('feeder.define', { id: 'x' }), extra: 1 } }, 400, 'E_TX_FORMAT'],
      ['wrong signature', { body: { ...c.dso.sign('feeder.define', { id: 'y' }), sig: forged.sig } }, 401, 'E_TX_SIGNATURE'],
      ['wrong role', { body: forged }, 403, 'E_TX_ROLE'],
      ['oversized body', { raw: JSON.stringify({ pad: 'x'.repeat(300_000) }) }, 413, 'E_TOO_LARGE'],
    ];
    for (const [name, o, status, code] of cases) {
      const r = await call('POST', '/v1/transactions', o);
      assert.equal(r.status, status, `${name}: ${JSON.stringify(r.json)}`);
      assert.equal(r.json.code, code, name);
      assert.equal(typeof r.json.message, 'string');
    }
    assert.equal(ledger.size, size, 'nothing appended');
  });

  test('a member reads only their own data; an auditor reads the log and proofs but no personal data', async () => {
    const alice = await login('alice', c.alice);
    const bob = await login('bob', c.bob);
    assert.equal((await call('GET', `/v1/members/${c.alice.actor}/curves?from=2026-06-01&to=2026-06-30`)).status, 401);
    const mine = await call('GET', `/v1/members/${c.alice.actor}/curves?from=2026-06-01&to=2026-06-30`, { token: alice });
    assert.equal(mine.status, 200);
    assert.equal(mine.json[0].values.length, 48);
    const theirs = await call('GET', `/v1/members/${c.alice.actor}/curves?from=2026-06-01&to=2026-06-30`, { token: bob });
    assert.equal(theirs.status, 403);
    assert.equal(theirs.json.code, 'E_FORBIDDEN');
    assert.equal((await call('GET', '/v1/log', { token: alice })).status, 403, 'members do not read the whole log');
    assert.equal((await call('GET', `/v1/members/${c.alice.actor}/curves?from=June&to=2026-06-30`, { token: alice })).json.field, 'query.from');

    // An auditor: registered by the operator through the API itself.
    const auditor = signer('auditor');
    assert.equal((await call('POST', '/v1/transactions', { body: c.operator.sign('participant.register', { key: auditor.actor, roles: ['auditor'] }) })).status, 201);
    const aud = await login('auditor', auditor);
    const log = await call('GET', '/v1/log?from=0&limit=5', { token: aud });
    assert.equal(log.status, 200);
    assert.equal(log.json.entries[0].type, 'community.create');
    assert.equal((await call('GET', `/v1/members/${c.alice.actor}/personal`, { token: aud })).status, 403);
    // A proof needs a checkpoint covering the entry: the server signs one every 50 ms.
    let proof!: Awaited<ReturnType<typeof call>>;
    await until('a checkpoint covering entry 6', async () => (proof = await call('GET', '/v1/proofs/6', { token: alice })).status === 200);
    assert.equal(proof.status, 200, JSON.stringify(proof.json));
    assert.ok(checkEntryProof(proof.json));
    assert.equal((await call('GET', '/v1/proofs/8', { token: alice })).status, 403, 'bob\'s meter is not about alice');
    const tampered = { ...proof.json, transaction: proof.json.transaction.replace('"import"', '"export"') };
    assert.throws(() => checkEntryProof(tampered));
  });

  test('RFC 9421 HTTP message signatures authenticate reads without a token', async () => {
    const url = `${base}/v1/members/${c.alice.actor}/curves?from=2026-06-01&to=2026-06-30`;
    const get = async (headers: Record<string, string>, u = url) => {
      const res = await fetch(u, { headers });
      return { status: res.status, json: (await res.json()) as any };
    };
    const ok = await get(await signRequest(seededKey('alice'), 'GET', url));
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.equal(ok.json[0].values.length, 48);
    assert.match((await signRequest(seededKey('alice'), 'GET', url))['signature-input']!, /^openlec=\("@method" "@authority" "@path" "@query"\);created=\d+;keyid="[\w-]{43}";alg="ed25519"$/);
    // Bob's signature is valid but does not make him Alice.
    assert.equal((await get(await signRequest(seededKey('bob'), 'GET', url))).json.code, 'E_FORBIDDEN');
    const cases: [string, Promise<Record<string, string>>, string, string?][] = [
      ['signed for another path', signRequest(seededKey('alice'), 'GET', url.replace('2026-06-30', '2026-06-29')), 'signature'],
      ['too old', signRequest(seededKey('alice'), 'GET', url, Math.floor(Date.now() / 1000) - 600), 'signature-input'],
      ['unknown key', signRequest(seededKey('mallory'), 'GET', url), 'signature-input'],
      ['signature without its input', signRequest(seededKey('alice'), 'GET', url).then((h) => ({ signature: h.signature! })), 'signature-input'],
    ];
    for (const [name, headers, field] of cases) {
      const r = await get(await headers);
      assert.equal(r.status, 401, name);
      assert.equal(r.json.code, 'E_AUTH', name);
      assert.equal(r.json.field, field, `${name}: ${r.json.message}`);
    }
    // A request with a body needs a token: a message signature does not cover it.
    const put = await fetch(`${base}/v1/members/${c.alice.actor}/personal`, { method: 'PUT', headers: { ...(await signRequest(seededKey('alice'), 'PUT', `${base}/v1/members/${c.alice.actor}/personal`)), 'content-type': 'application/json' }, body: '{"name":"x"}' });
    assert.equal(put.status, 401);
  });

  test('public aggregates: community energy per interval and clearing results need no login and name no member', async () => {
    const e = await call('GET', '/v1/community/energy?from=2026-06-01&to=2026-06-01');
    assert.equal(e.status, 200, JSON.stringify(e.json));
    assert.equal(e.json.intervals.length, 48);
    const drawn = [...ledger.state.rows('readings')].filter((r: any) => r.date === '2026-06-01' && r.direction === 'import').reduce((a, r: any) => a + r.values.reduce((x: number, v: number | null) => x + (v ?? 0), 0), 0);
    assert.equal(e.json.totals.drawnWh, drawn);
    assert.equal(e.json.flows.reduce((a: number, f: any) => a + (f.to === 'members' ? f.wh : 0), 0), drawn, 'drawn = shared + supplier');
    assert.ok(!JSON.stringify(e.json).includes(c.alice.actor) && !JSON.stringify(e.json).includes('30001234567890'), 'no key, no meter');
    assert.equal((await call('GET', '/v1/community/energy?from=2026-06-01&to=2026-12-01')).json.field, 'query.to');
    assert.equal((await call('GET', '/v1/market/clearings?from=2026-06-01T00:00:00Z&to=2026-07-01T00:00:00Z')).status, 200);
    assert.equal((await call('GET', '/v1/market/depth?interval=2026-06-01T10:00:00Z')).json.code, 'E_NO_MARKET');
    assert.equal((await call('GET', '/v1/allocations/2026-06/files/coefficients-fr.csv')).status, 401);
  });

  test('personal data off the log: stored encrypted, exported, erased; the log still verifies', async () => {
    const alice = await login('alice', c.alice);
    assert.equal((await call('PUT', `/v1/members/${c.alice.actor}/personal`, { token: alice, body: { name: 'Alice Martin', email: 'alice@example.org' } })).status, 200);
    assert.equal((await call('PUT', `/v1/members/${c.alice.actor}/personal`, { token: alice, body: { name: 'A', phone: '1' } })).json.field, 'body');
    assert.deepEqual((await call('GET', `/v1/members/${c.alice.actor}/personal`, { token: alice })).json.data.name, 'Alice Martin');
    assert.ok(!vault.sealed(c.alice.actor)!.toString('latin1').includes('Alice'), 'stored encrypted');
    const exp = await call('GET', `/v1/members/${c.alice.actor}/export`, { token: alice });
    assert.equal(exp.json.personal.email, 'alice@example.org');
    assert.equal(exp.json.curves.length, 1);
    assert.equal(exp.json.meters.length, 2);
    const erased = await call('DELETE', `/v1/members/${c.alice.actor}/personal`, { token: alice });
    assert.equal(erased.json.erased, true);
    assert.equal((await call('GET', `/v1/members/${c.alice.actor}/personal`, { token: alice })).json.data, null);
    assert.ok(vault.sealed(c.alice.actor), 'the ciphertext may remain (backups): it is unreadable without the key');
    assert.equal((await call('PUT', `/v1/members/${c.alice.actor}/personal`, { token: alice, body: { name: 'again' } })).json.code, 'E_ERASED');
    assert.equal((await verifyLog(ledger, ledger.registry)).ok, true);
  });

  test('OpenAPI 3.1 from the zod schemas; server-sent events; rate limit per key', async () => {
    const doc = await call('GET', '/openapi.json');
    assert.equal(doc.json.openapi, '3.1.0');
    const tx = doc.json.paths['/v1/transactions'].post.requestBody.content['application/json'].schema.oneOf;
    assert.ok(tx.some((s: any) => s.properties.type.const === 'order.place' && s.properties.body.properties.quantityWh));
    assert.ok(doc.json.paths['/v1/members/{key}/curves'].get.parameters.some((p: any) => p.name === 'from' && p.in === 'query'));

    const ac = new AbortController();
    const res = await fetch(`${base}/v1/events`, { signal: ac.signal });
    const reader = res.body!.getReader();
    await call('POST', '/v1/transactions', { body: c.dso.sign('feeder.define', { id: 'feeder-sse', parent: 'substation-1' }) });
    let text = '';
    while (!text.includes('event: entry')) text += new TextDecoder().decode((await reader.read()).value);
    ac.abort();
    assert.match(text, /event: entry\ndata: \{"entry":\d+,"type":"feeder.define"\}/);

    const bob = await login('bob', c.bob);
    // The windows are fixed minutes of the wall clock: a minute may turn during the burst and
    // reset the count once (never twice, the burst takes well under a minute), so 2 × 200 + 1
    // requests always overrun one window.
    let limited: { status: number; json: any } | undefined;
    let sent = 0;
    while (!limited && sent < 2 * 200 + 1) {
      const r = await call('GET', '/v1/me', { token: bob });
      sent++;
      if (r.status === 429) limited = r;
      else assert.equal(r.status, 200);
    }
    assert.ok(limited, `no 429 after ${sent} requests`);
    assert.equal(limited.json.code, 'E_RATE');
  });
});
