import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { certifiedCommunity, DATE, MONTH, ok, sun } from '../../test/support/certificates.ts';
import { seededKey } from '../../test/support/community.ts';
import { runMonth } from '../allocation/month.ts';
import { checkEntryProof } from '../audit/entry-proof.ts';
import { planIssue } from '../certificates/issue.ts';
import { planSettle } from '../certificates/settle.ts';
import type { Signer } from '../client.ts';
import { sign, toBase64Url, utf8 } from '../ledger/index.ts';
import { buildApp } from './app.ts';
import { PersonalVault } from './vault.ts';

/** The certificate routes through app.inject(): alice's PV certified, bob opted in to claims and given his allocated share. */
describe('certificate routes', () => {
  let app: FastifyInstance;
  let c: Awaited<ReturnType<typeof certifiedCommunity>>;
  let vault: PersonalVault;
  const tokens: Record<string, string> = {};
  const get = async (url: string, who?: string) => {
    const res = await app.inject({ method: 'GET', url, headers: who ? { authorization: `Bearer ${tokens[who]}` } : {} });
    return { status: res.statusCode, json: res.headers['content-type']?.toString().startsWith('application/json') ? res.json() : undefined, text: res.body, type: String(res.headers['content-type']) };
  };
  const login = async (label: string, s: Signer) => {
    const ch = (await app.inject({ method: 'POST', url: '/v1/auth/challenge' })).json() as { challenge: string; message: string };
    const signature = toBase64Url(sign(seededKey(label).secretKey, utf8(ch.message)));
    const r = await app.inject({ method: 'POST', url: '/v1/auth/token', payload: { key: s.actor, challenge: ch.challenge, signature } });
    assert.equal(r.statusCode, 200, r.body);
    tokens[label] = (r.json() as { token: string }).token;
  };

  before(async () => {
    c = await certifiedCommunity();
    const { ledger, dso, operator, bob } = c;
    await ok(ledger, dso.sign('certificates.issue', planIssue(ledger.state, DATE)));
    await ok(ledger, bob.sign('certificate.autoclaim', { enabled: true }));
    await ok(ledger, operator.sign('allocation.run', runMonth(ledger.state, MONTH, { kind: 'prorata' }).summary));
    await ok(ledger, operator.sign('certificates.settle', planSettle(ledger.state, MONTH)));
    ledger.checkpoint(seededKey('operator'));
    vault = PersonalVault.open(join(c.path, '..', 'personal.db'), randomBytes(32));
    ({ app } = await buildApp({ ledger, vault, tokenSecret: randomBytes(32) }));
    await login('alice', c.alice);
    await login('bob', c.bob);
    await login('operator', c.operator);
    await login('dso', c.dso);
  });
  after(async () => {
    await app.close();
    vault.close();
    await c.ledger.close();
  });

  test('devices and the months are public', async () => {
    const d = await get('/v1/certificates/devices');
    assert.equal(d.status, 200);
    assert.deepEqual(d.json.map((x: { device: string; fuel: string; technology: string; owner: string }) => [x.device, x.fuel, x.technology, x.owner]), [['pv-alice', 'F01040100', 'T010100', c.alice.actor]]);
    const m = await get('/v1/certificates/months');
    assert.equal(m.status, 200);
    assert.equal(m.json.length, 1);
    assert.equal(m.json[0].month, MONTH);
    assert.equal(m.json[0].issuedWh, sun(2000).reduce((s, v) => s + v, 0));
    assert.equal(typeof m.json[0].settledEntry, 'number');
  });

  test('bundles: a member sees only their own, staff see all or one holder, anonymous gets 401', async () => {
    assert.equal((await get(`/v1/certificates?month=${MONTH}`)).status, 401);
    const alice = await get(`/v1/certificates?month=${MONTH}`, 'alice');
    assert.equal(alice.status, 200);
    assert.ok(alice.json.length > 0 && alice.json.every((b: { holder: string }) => b.holder === c.alice.actor));
    const other = await get(`/v1/certificates?month=${MONTH}&holder=${c.bob.actor}`, 'alice');
    assert.equal(other.status, 403);
    assert.equal(other.json.field, 'query.holder');
    const bob = await get(`/v1/certificates?month=${MONTH}&holder=${c.bob.actor}`, 'bob');
    assert.ok(bob.json.length > 0 && bob.json.every((b: { holder: string; status: string }) => b.holder === c.bob.actor && b.status === 'cancelled'));
    const all = await get(`/v1/certificates?month=${MONTH}`, 'operator');
    assert.deepEqual(new Set(all.json.map((b: { holder: string }) => b.holder)), new Set([c.alice.actor, c.bob.actor]));
    assert.equal(all.json.length, alice.json.length + bob.json.length);
    const one = await get(`/v1/certificates?month=${MONTH}&holder=${c.bob.actor}`, 'dso');
    assert.deepEqual(one.json, bob.json);
    // The shape: ID range, hash and the entries to prove.
    const b = bob.json[0];
    assert.equal(b.quantityWh, b.to - b.from + 1);
    assert.match(b.hash, /^[0-9a-f]{64}$/);
    assert.ok(b.entries.length >= 2);
  });

  test('a member proves every entry of their bundles with /v1/proofs', async () => {
    const bob = await get(`/v1/certificates?month=${MONTH}`, 'bob');
    const verifierKey = c.ledger.operatorVerifierKey();
    const entries = [...new Set(bob.json.flatMap((b: { entries: number[] }) => b.entries))] as number[];
    assert.ok(entries.length >= 2, 'issuance and settlement');
    for (const e of entries) {
      const p = await get(`/v1/proofs/${e}`, 'bob');
      assert.equal(p.status, 200, JSON.stringify(p.json));
      const proven = await checkEntryProof(p.json, verifierKey);
      assert.ok(['certificates.issue', 'certificates.settle'].includes(proven.transaction.type as string));
    }
  });

  test('origin: the logged-in member\'s hours; matching: public for the community, self or staff for a holder', async () => {
    assert.equal((await get(`/v1/certificates/origin?month=${MONTH}`)).status, 401);
    const o = await get(`/v1/certificates/origin?month=${MONTH}`, 'bob');
    assert.equal(o.status, 200);
    assert.equal(o.json.holder, c.bob.actor);
    assert.equal(o.json.hours.length, 30 * 24, 'every local clock hour of June');
    const matched = o.json.hours.reduce((s: number, h: { matchedWh: number }) => s + h.matchedWh, 0);
    assert.ok(matched > 0);
    assert.equal(o.json.hours.reduce((s: number, h: { byTechnology: Record<string, number> }) => s + (h.byTechnology.solar ?? 0), 0), matched);
    assert.equal(o.json.matching.hourlyMatchedWh, matched);
    assert.equal((await get(`/v1/certificates/origin?month=${MONTH}&holder=${c.bob.actor}`, 'alice')).status, 403);
    assert.equal((await get(`/v1/certificates/origin?month=${MONTH}&holder=${c.bob.actor}`, 'operator')).json.holder, c.bob.actor);

    const community = await get(`/v1/certificates/matching?month=${MONTH}`);
    assert.equal(community.status, 200);
    assert.equal(community.json.consumedWh, 48 * 150 + 48 * 400);
    assert.ok(community.json.monthlyPpm >= community.json.hourlyPpm);
    assert.equal((await get(`/v1/certificates/matching?month=${MONTH}&holder=${c.bob.actor}`)).status, 401);
    assert.equal((await get(`/v1/certificates/matching?month=${MONTH}&holder=${c.bob.actor}`, 'alice')).status, 403);
    const own = await get(`/v1/certificates/matching?month=${MONTH}&holder=${c.bob.actor}`, 'bob');
    assert.equal(own.json.hourlyMatchedWh, matched);
  });

  test('exports: staff only, EECS JSON and CSV, EnergyTag bundles', async () => {
    assert.equal((await get(`/v1/certificates/export?month=${MONTH}`)).status, 401);
    assert.equal((await get(`/v1/certificates/export?month=${MONTH}`, 'bob')).status, 403);
    const json = await get(`/v1/certificates/export?month=${MONTH}`, 'operator');
    assert.equal(json.json[0].device, 'pv-alice');
    assert.equal(json.json[0].producedWh, sun(2000).reduce((s, v) => s + v, 0));
    const csv = await get(`/v1/certificates/export?month=${MONTH}&format=eecs-csv`, 'dso');
    assert.match(csv.type, /^text\/csv/);
    assert.match(csv.text, /^device,month,energySource,technology,/);
    assert.match(csv.text.split('\n')[1]!, /^pv-alice,2026-06,F01040100,T010100,6000,/);
    const tag = await get(`/v1/certificates/export?month=${MONTH}&format=energytag`, 'operator');
    assert.ok(tag.json.length > 0 && tag.json.every((b: { eecs_fuel_code: string; face_value: number }) => b.eecs_fuel_code === 'F01040100' && b.face_value === 1));
    const bad = await get(`/v1/certificates/export?month=${MONTH}&format=pdf`, 'operator');
    assert.equal(bad.status, 400);
    assert.equal(bad.json.field, 'query.format');
  });

  test('an impossible or missing month is a 400 naming the field; the routes are in /openapi.json', async () => {
    for (const m of ['2026-13', '2026-00', '2026-6', 'june']) {
      const r = await get(`/v1/certificates/matching?month=${m}`);
      assert.equal(r.status, 400, m);
      assert.equal(r.json.code, 'E_REQUEST');
      assert.equal(r.json.field, 'query.month');
    }
    assert.equal((await get('/v1/certificates', 'bob')).json.field, 'query.month');
    const doc = (await get('/openapi.json')).json;
    for (const p of ['/v1/certificates', '/v1/certificates/devices', '/v1/certificates/origin', '/v1/certificates/matching', '/v1/certificates/export']) assert.ok(doc.paths[p]?.get, p);
  });
});
