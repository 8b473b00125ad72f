import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { COMMUNITY, seededKey, smallCommunity } from '../../test/support/community.ts';
import { until } from '../../test/support/until.ts';
import { verifyLog } from '../audit/verify.ts';
import { Signer } from '../client.ts';
import { buildApp } from '../server/app.ts';
import { PersonalVault } from '../server/vault.ts';
import { createRegistry, emptyState } from '../registry.ts';
import { applyEntry } from '../state/apply.ts';
import { decodeEntry, encodeEntry } from '../ledger/index.ts';
import { formatInstant } from '../units/index.ts';
import { apiKey, apiKeySession, apiKeysOf, liveAt, makeApiKey, MAX_LIVE_KEYS, parseApiKey } from './api-keys.ts';

const T0 = Date.parse('2026-03-01T08:00:00Z');
const DAY = 86_400_000;
const iso = (ms: number) => formatInstant(ms);
const fresh = () => makeApiKey(COMMUNITY, randomBytes(8), randomBytes(32));
const same = (a: string, b: string) => a === b;

describe('API keys: issue, rotate, revoke through the log; a bearer judged at the operator\'s clock', () => {
  let c: Awaited<ReturnType<typeof smallCommunity>>;
  let app: FastifyInstance;
  let vault: PersonalVault;
  let clock = T0;
  let dso: Signer;
  let alice: Signer;
  let operator: Signer;
  const submit = async (s: Signer, type: string, body: unknown) => {
    const res = await app.inject({ method: 'POST', url: '/v1/transactions', payload: s.sign(type, body) as object });
    return { status: res.statusCode, body: res.json() as { entry?: number; code?: string; field?: string; message?: string } };
  };
  const get = (url: string, bearer?: string) => app.inject({ method: 'GET', url, headers: bearer ? { authorization: `Bearer ${bearer}` } : {} });

  before(async () => {
    c = await smallCommunity();
    vault = PersonalVault.open(join(c.path, '..', 'personal.db'), randomBytes(32));
    app = (await buildApp({ ledger: c.ledger, vault, tokenSecret: randomBytes(32), now: () => clock })).app;
    dso = Signer.forState(c.ledger.state, seededKey('dso'), () => iso(clock));
    alice = Signer.forState(c.ledger.state, seededKey('alice'), () => iso(clock));
    operator = Signer.forState(c.ledger.state, seededKey('operator'), () => iso(clock));
  });
  after(async () => {
    await app.close();
    vault.close();
    await c.ledger.close();
  });

  test('the DSO issues a key for its meter-data system; the key reads as the DSO, the log holds only its digest', async () => {
    const k = fresh();
    const r = await submit(dso, 'apikey.issue', { id: k.id, digest: k.digest, roles: ['dso'], expiresAt: iso(T0 + 365 * DAY) });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const me = await get('/v1/me', k.token);
    assert.equal(me.statusCode, 200, me.body);
    assert.equal(me.json().key, dso.actor);
    assert.deepEqual(me.json().roles, ['dso']);
    assert.equal(me.json().apiKey, k.id);
    // The secret is nowhere in the log: only the digest bound to the id.
    const entry = await c.ledger.readEntry(r.body.entry!);
    assert.ok(!Buffer.from(entry).toString('utf8').includes(k.token.slice(21)), 'the secret is not in the entry');
    const listed = await get('/v1/api-keys', k.token);
    assert.equal(listed.statusCode, 200);
    assert.deepEqual(listed.json().map((v: { id: string; status: string }) => [v.id, v.status]), [[k.id, 'live']]);
    assert.equal('digest' in listed.json()[0], false);
  });

  test('a wrong secret, an unknown id and a malformed key are refused with 401 and the field named', async () => {
    const k = fresh();
    assert.equal((await submit(dso, 'apikey.issue', { id: k.id, digest: k.digest, roles: ['dso'], expiresAt: iso(T0 + 30 * DAY) })).status, 201);
    const wrong = `olk_${k.id}_${Buffer.from(randomBytes(32)).toString('base64url')}`;
    for (const bearer of [wrong, fresh().token, 'olk_xyz_short']) {
      const res = await get('/v1/me', bearer);
      assert.equal(res.statusCode, 401, bearer);
      assert.equal(res.json().code, 'E_AUTH');
      assert.equal(res.json().field, 'authorization');
    }
  });

  test('a key may carry only roles its owner holds; expiry must be ahead and within 400 days', async () => {
    const k = fresh();
    const role = await submit(alice, 'apikey.issue', { id: k.id, digest: k.digest, roles: ['dso'], expiresAt: iso(T0 + DAY) });
    assert.equal(role.status, 422);
    assert.equal(role.body.code, 'E_API_KEY_ROLE');
    assert.equal(role.body.field, 'body.roles');
    const past = await submit(alice, 'apikey.issue', { id: k.id, digest: k.digest, roles: ['member'], expiresAt: iso(clock - 1000) });
    assert.equal(past.body.code, 'E_API_KEY_EXPIRY');
    const far = await submit(alice, 'apikey.issue', { id: k.id, digest: k.digest, roles: ['member'], expiresAt: iso(clock + 401 * DAY) });
    assert.equal(far.body.code, 'E_API_KEY_EXPIRY');
    assert.equal(far.body.field, 'body.expiresAt');
    assert.equal(apiKey(c.ledger.state, k.id), undefined, 'nothing was written');
  });

  test('rotation: the old key works through the overlap, then is refused; the new one works; the rows name each other', async () => {
    const old = fresh();
    const next = fresh();
    assert.equal((await submit(dso, 'apikey.issue', { id: old.id, digest: old.digest, roles: ['dso'], expiresAt: iso(clock + 90 * DAY) })).status, 201);
    const rotatedAt = clock;
    const r = await submit(dso, 'apikey.rotate', { id: old.id, next: { id: next.id, digest: next.digest, roles: ['dso'], expiresAt: iso(clock + 180 * DAY) }, overlapSeconds: 3600 });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal((await get('/v1/me', old.token)).statusCode, 200, 'within the overlap');
    assert.equal((await get('/v1/me', next.token)).statusCode, 200);
    clock = rotatedAt + 3600_000;
    const late = await get('/v1/me', old.token);
    assert.equal(late.statusCode, 401);
    assert.match(late.json().message, new RegExp(`rotated to ${next.id}`));
    assert.equal((await get('/v1/me', next.token)).statusCode, 200);
    const row = apiKey(c.ledger.state, old.id)!;
    assert.equal(row.replacedBy, next.id);
    assert.equal(apiKey(c.ledger.state, next.id)!.replaces, old.id);
    const twice = await submit(dso, 'apikey.rotate', { id: old.id, next: { ...fresh(), token: undefined, roles: ['dso'], expiresAt: iso(clock + DAY) }, overlapSeconds: 0 });
    assert.equal(twice.status, 422);
  });

  test('revocation: by the owner or the operator, refused at once; another participant cannot revoke', async () => {
    const k = fresh();
    assert.equal((await submit(dso, 'apikey.issue', { id: k.id, digest: k.digest, roles: ['dso'], expiresAt: iso(clock + 10 * DAY) })).status, 201);
    const stranger = await submit(alice, 'apikey.revoke', { id: k.id, reason: 'compromised' });
    assert.equal(stranger.status, 422);
    assert.equal(stranger.body.code, 'E_API_KEY_UNKNOWN');
    assert.equal((await get('/v1/me', k.token)).statusCode, 200);
    const r = await submit(operator, 'apikey.revoke', { id: k.id, reason: 'compromised' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const refused = await get('/v1/me', k.token);
    assert.equal(refused.statusCode, 401);
    assert.match(refused.json().message, /revoked in entry \d+ \(compromised\)/);
    const seen = await get(`/v1/api-keys/${k.id}`, k.token);
    assert.equal(seen.statusCode, 401);
    // Alice cannot see the DSO's keys; the operator sees them all.
    const mine = fresh();
    assert.equal((await submit(alice, 'apikey.issue', { id: mine.id, digest: mine.digest, roles: ['member'], expiresAt: iso(clock + DAY) })).status, 201);
    assert.equal((await get(`/v1/api-keys/${k.id}`, mine.token)).statusCode, 404);
    assert.deepEqual((await get('/v1/api-keys', mine.token)).json().map((v: { id: string }) => v.id), [mine.id]);
  });

  test('a key does not reach personal data (vault, export), even its owner\'s or with the operator role; self routes need the member role', async () => {
    const own = fresh();
    assert.equal((await submit(alice, 'apikey.issue', { id: own.id, digest: own.digest, roles: ['member'], expiresAt: iso(clock + DAY) })).status, 201);
    const op = fresh();
    assert.equal((await submit(operator, 'apikey.issue', { id: op.id, digest: op.digest, roles: ['operator'], expiresAt: iso(clock + DAY) })).status, 201);
    for (const [method, bearer] of [['GET', own.token], ['DELETE', own.token], ['GET', op.token], ['DELETE', op.token]] as const) {
      const res = await app.inject({ method, url: `/v1/members/${alice.actor}/personal`, headers: { authorization: `Bearer ${bearer}` } });
      assert.equal(res.statusCode, 403, `${method} with ${bearer === op.token ? 'the operator\'s' : 'alice\'s'} key`);
      assert.match(res.json().message, /API keys do not reach personal data/);
    }
    assert.equal((await get(`/v1/members/${alice.actor}/export`, own.token)).statusCode, 403);
    assert.equal((await get(`/v1/members/${alice.actor}/trades?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z`, own.token)).statusCode, 200, 'a member key reads its owner\'s trades');
  });

  test('a key of another community, or under another id, never matches: the digest is bound to both', async () => {
    const other = makeApiKey('openlec.test/another-street', randomBytes(8), randomBytes(32));
    assert.equal((await submit(dso, 'apikey.issue', { id: other.id, digest: other.digest, roles: ['dso'], expiresAt: iso(clock + DAY) })).status, 201);
    assert.equal((await get('/v1/me', other.token)).statusCode, 401);
  });

  test('a rotation in its overlap counts once against the live-key bound: the owner can still rotate its other keys', async () => {
    const s = Signer.forState(c.ledger.state, seededKey('bob'), () => iso(clock));
    const keys = Array.from({ length: MAX_LIVE_KEYS }, fresh);
    for (const k of keys) assert.equal((await submit(s, 'apikey.issue', { id: k.id, digest: k.digest, roles: ['member'], expiresAt: iso(clock + 30 * DAY) })).status, 201);
    const extra = fresh();
    assert.equal((await submit(s, 'apikey.issue', { id: extra.id, digest: extra.digest, roles: ['member'], expiresAt: iso(clock + DAY) })).body.code, 'E_API_KEY_LIMIT');
    for (const k of keys.slice(0, 2)) {
      const n = fresh();
      const r = await submit(s, 'apikey.rotate', { id: k.id, next: { id: n.id, digest: n.digest, roles: ['member'], expiresAt: iso(clock + 30 * DAY) }, overlapSeconds: 7 * 86_400 });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
  });

  test('an OpenADR notification stream opened with a key ends when the key is revoked', async () => {
    const k1 = fresh();
    const k2 = fresh();
    for (const k of [k1, k2]) assert.equal((await submit(dso, 'apikey.issue', { id: k.id, digest: k.digest, roles: ['dso'], expiresAt: iso(clock + 30 * DAY) })).status, 201);
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    const program = async (name: string) => assert.equal((await app.inject({ method: 'POST', url: '/openadr3/3.0.1/programs', headers: { authorization: `Bearer ${k2.token}` }, payload: { programName: name } })).statusCode, 201);
    const res = await fetch(`${url}/openadr3/3.0.1/notifications`, { headers: { authorization: `Bearer ${k1.token}` } });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    let got = '';
    const read = async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return 'ended';
        got += Buffer.from(value).toString('utf8');
      }
    };
    const ended = read();
    await program('before-revocation');
    await until('the stream to carry it', () => /before-revocation/.test(got));
    assert.match(got, /before-revocation/);
    assert.equal((await submit(dso, 'apikey.revoke', { id: k1.id, reason: 'compromised' })).status, 201);
    await program('after-revocation');
    assert.equal(await ended, 'ended');
    assert.doesNotMatch(got, /after-revocation/);
  });

  test('the table is a projection: verify rebuilds it from the log', async () => {
    const report = await verifyLog(c.ledger, c.ledger.registry);
    assert.deepEqual(report.problems, []);
    assert.ok(c.ledger.state.count('api_keys') >= 5);
  });
});

/**
 * Properties over any sequence of issues, rotations, revocations and clock steps, applied
 * as signed entries: a bearer authenticates exactly when its key is in the log, unrevoked,
 * unexpired at the clock, and its secret matches; an owner never holds more than
 * MAX_LIVE_KEYS live keys; replaying the entries gives the same table.
 */
describe('API keys: properties', () => {
  const registry = createRegistry();
  const operator = seededKey('operator');
  const dso = seededKey('dso');
  const member = seededKey('member');

  test('authentication matches the log\'s rows at every instant; the live keys stay bounded; replay is identical', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('issue' as const), who: fc.integer({ min: 0, max: 1 }), days: fc.integer({ min: -2, max: 420 }) }),
      fc.record({ kind: fc.constant('rotate' as const), pick: fc.nat(), overlap: fc.integer({ min: 0, max: 8 * 86_400 }), days: fc.integer({ min: 1, max: 60 }) }),
      fc.record({ kind: fc.constant('revoke' as const), pick: fc.nat(), byOperator: fc.boolean() }),
      fc.record({ kind: fc.constant('wait' as const), hours: fc.integer({ min: 1, max: 24 * 40 }) }),
    );
    fc.assert(fc.property(fc.array(op, { maxLength: 40 }), fc.integer({ min: 0, max: 2 ** 31 }), (ops, seed) => {
      let now = T0;
      let n = seed;
      const bytes = (len: number) => Uint8Array.from({ length: len }, () => (n = (n * 1103515245 + 12345) >>> 0) >>> 24);
      const state = emptyState(registry);
      const entries: Uint8Array[] = [];
      const signers = [operator, dso, member].map((k) => new Signer(k, 'openlec.test/keys', 0, () => iso(now)));
      const append = (s: Signer, type: string, body: unknown): boolean => {
        const bytesOf = encodeEntry(s.sign(type, body));
        try {
          applyEntry(state, registry, decodeEntry(bytesOf), entries.length, { now });
        } catch {
          s.nonce--;
          return false;
        }
        entries.push(bytesOf);
        return true;
      };
      assert.ok(append(signers[0]!, 'community.create', { name: 'Keys', timeZone: 'Europe/Paris', intervalMinutes: 30, currency: 'EUR', operator: signers[0]!.actor }));
      assert.ok(append(signers[0]!, 'participant.register', { key: signers[1]!.actor, roles: ['dso'] }));
      assert.ok(append(signers[0]!, 'participant.register', { key: signers[2]!.actor, roles: ['member'] }));
      const tokens = new Map<string, string>();
      for (const o of ops) {
        const ids = [...tokens.keys()];
        if (o.kind === 'issue') {
          const k = makeApiKey('openlec.test/keys', bytes(8), bytes(32));
          const s = signers[1 + o.who]!;
          if (append(s, 'apikey.issue', { id: k.id, digest: k.digest, roles: [o.who === 0 ? 'dso' : 'member'], expiresAt: iso(now + o.days * DAY) })) tokens.set(k.id, k.token);
        } else if (o.kind === 'rotate' && ids.length) {
          const id = ids[o.pick % ids.length]!;
          const row = apiKey(state, id)!;
          const k = makeApiKey('openlec.test/keys', bytes(8), bytes(32));
          const s = signers.find((x) => x.actor === row.owner)!;
          if (append(s, 'apikey.rotate', { id, next: { id: k.id, digest: k.digest, roles: row.roles, expiresAt: iso(now + o.days * DAY) }, overlapSeconds: o.overlap })) tokens.set(k.id, k.token);
        } else if (o.kind === 'revoke' && ids.length) {
          const id = ids[o.pick % ids.length]!;
          const row = apiKey(state, id)!;
          append(o.byOperator ? signers[0]! : signers.find((x) => x.actor === row.owner)!, 'apikey.revoke', { id, reason: 'retired' });
        } else if (o.kind === 'wait') now += o.hours * 3_600_000;
        for (const s of signers.slice(1)) assert.ok(apiKeysOf(state, s.actor).filter((k) => liveAt(k, now)).length <= MAX_LIVE_KEYS);
        for (const [id, token] of tokens) {
          const row = apiKey(state, id)!;
          let ok = true;
          try {
            apiKeySession(state, token, now, same);
          } catch {
            ok = false;
          }
          assert.equal(ok, row.revokedAt === null && Date.parse(row.expiresAt) > now, `${id} at ${iso(now)}`);
          // The same id with any other secret never authenticates.
          const forged = `olk_${id}_${Buffer.from(bytes(32)).toString('base64url')}`;
          assert.throws(() => apiKeySession(state, forged, now, same));
          assert.deepEqual(parseApiKey(token)?.id, id);
        }
      }
      const replayed = emptyState(registry);
      entries.forEach((e, i) => applyEntry(replayed, registry, decodeEntry(e), i));
      assert.deepEqual([...replayed.rows('api_keys')], [...state.rows('api_keys')]);
    }), { numRuns: 150 });
  });
});
