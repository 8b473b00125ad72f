import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { seededKey, tempDb } from '../../test/support/community.ts';
import { Signer } from '../client.ts';
import { decodeEntry } from '../ledger/index.ts';
import { SqliteLedger, type SubmitResult } from '../store/sqlite-ledger.ts';
import { buildApp } from './app.ts';
import { networkRoutes } from './network-routes.ts';
import { PersonalVault } from './vault.ts';

const CREATED = '2026-02-10T09:00:00Z';
const METER = '30001234567890';

interface Limit { from: string; to: string; importLimitW: number | null; exportLimitW: number | null; entry: number; signedBy: string; signedAt: string; status: string }
interface Node {
  id: string; parent: string | null; depth: number; kind: string; children: string[];
  standing: { importLimitW: number | null; exportLimitW: number | null; entry: number };
  applies: { importLimitW: number | null; exportLimitW: number | null; entry: number };
  limits: Limit[]; ended: number;
}
interface Tariff { from: string; feesMicroPerKwh: Record<string, number>; entry: number; signedBy: string; status: string }
interface Network { at: string; currency: string; lastCleared: string | null; feeders: Node[]; tariffs: { inForce: Tariff | null; history: Tariff[] } }

/**
 * GET /v1/network through app.inject(): a tree of a substation, a feeder and a connection
 * point (a member's meter on it), the DSO's feeder.limit overrides (one ended, one
 * overridden by a later entry inside its range, one to come) and two tariff.set, read at
 * an instant; every rule with the entry and the key that signed it, as the log has them.
 */
describe('network routes', () => {
  let app: FastifyInstance;
  let ledger: SqliteLedger;
  let vault: PersonalVault;
  let dso: Signer;
  let member: Signer;
  const entries: Record<string, number> = {};
  const get = async (url: string) => {
    const res = await app.inject({ method: 'GET', url });
    return { status: res.statusCode, json: res.json() as Network & { code?: string; field?: string } };
  };
  const feederA = (n: Network) => n.feeders.find((f) => f.id === 'feeder-a')!;

  before(async () => {
    ledger = SqliteLedger.create(tempDb());
    const s = (label: string) => new Signer(seededKey(label), 'openlec.test/network', 0, () => CREATED);
    const operator = s('operator');
    dso = s('dso');
    member = s('member');
    const named: [string, ReturnType<Signer['sign']>][] = [
      ['community', operator.sign('community.create', { name: 'Network', timeZone: 'Europe/Paris', intervalMinutes: 30, currency: 'EUR', operator: operator.actor })],
      ['dso', operator.sign('participant.register', { key: dso.actor, roles: ['dso'] })],
      ['member', operator.sign('participant.register', { key: member.actor, roles: ['member'] })],
      ['substation', dso.sign('feeder.define', { id: 'substation-1', importLimitW: 250_000, exportLimitW: 200_000 })],
      ['feeder', dso.sign('feeder.define', { id: 'feeder-a', parent: 'substation-1', exportLimitW: 50_000 })],
      ['cp', dso.sign('feeder.define', { id: 'cp-1', parent: 'feeder-a' })],
      ['meter', dso.sign('meter.register', { meter: METER, scheme: 'PRM', direction: 'import', owner: member.actor, feeder: 'cp-1' })],
      ['ended', dso.sign('feeder.limit', { feeder: 'feeder-a', from: '2026-02-20T10:00:00Z', to: '2026-02-20T12:00:00Z', importLimitW: null, exportLimitW: 30_000 })],
      ['wide', dso.sign('feeder.limit', { feeder: 'feeder-a', from: '2026-03-01T10:00:00Z', to: '2026-03-01T14:00:00Z', importLimitW: null, exportLimitW: 20_000 })],
      ['narrow', dso.sign('feeder.limit', { feeder: 'feeder-a', from: '2026-03-01T12:00:00Z', to: '2026-03-01T13:00:00Z', importLimitW: 40_000, exportLimitW: 10_000 })],
      ['tariff1', dso.sign('tariff.set', { from: '2026-02-10T23:00:00Z', feesMicroPerKwh: { local: 1_000, feeder: 2_000, substation: 3_000, beyond: 4_000 } })],
      ['tariff2', dso.sign('tariff.set', { from: '2026-03-05T23:00:00Z', feesMicroPerKwh: { local: 1_000, feeder: 5_000, substation: 5_000, beyond: 9_000 } })],
    ];
    const results = await ledger.submitMany(named.map(([, tx]) => tx));
    results.forEach((r, i) => {
      if (!r.ok) throw r.error;
      entries[named[i]![0]] = r.entry;
    });
    vault = PersonalVault.open(join(tempDb(), '..', 'personal.db'), randomBytes(32));
    ({ app } = await buildApp({ ledger, vault, tokenSecret: randomBytes(32), now: () => Date.parse('2026-03-01T08:00:00Z') }));
  });
  after(async () => {
    await app.close();
    vault.close();
    await ledger.close();
  });

  test('the feeder tree depth-first with its standing limits; public, naming no member or meter', async () => {
    const r = await get('/v1/network?at=2026-03-01T12:30:00.250Z');
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.at, '2026-03-01T12:30:00Z');
    assert.equal(r.json.currency, 'EUR');
    assert.deepEqual(r.json.feeders.map((f) => [f.id, f.parent, f.depth, f.kind, f.children]), [
      ['substation-1', null, 0, 'substation', ['feeder-a']], ['feeder-a', 'substation-1', 1, 'feeder', ['cp-1']], ['cp-1', 'feeder-a', 2, 'connection point', []],
    ]);
    const sub = r.json.feeders[0]!;
    assert.deepEqual(sub.standing, { importLimitW: 250_000, exportLimitW: 200_000, entry: entries.substation });
    assert.deepEqual(sub.applies, sub.standing, 'no published limit: the standing ones apply');
    assert.deepEqual(feederA(r.json).standing, { importLimitW: null, exportLimitW: 50_000, entry: entries.feeder });
    const text = JSON.stringify(r.json);
    assert.doesNotMatch(text, new RegExp(`${METER}|${member.actor}`));
  });

  test('published limits: in force (the latest entry covering the instant), overridden, to come, ended; with entry and signer', async () => {
    const r = await get('/v1/network?at=2026-03-01T12:30:00Z');
    const a = feederA(r.json);
    assert.equal(a.ended, 1);
    assert.deepEqual(a.limits.map((l) => [l.from, l.to, l.exportLimitW, l.entry, l.status]), [
      ['2026-03-01T10:00:00Z', '2026-03-01T14:00:00Z', 20_000, entries.wide, 'overridden'],
      ['2026-03-01T12:00:00Z', '2026-03-01T13:00:00Z', 10_000, entries.narrow, 'in force'],
    ]);
    assert.deepEqual(a.applies, { importLimitW: 40_000, exportLimitW: 10_000, entry: entries.narrow });
    // Each rule names the key that signed its entry, as the log has it.
    for (const l of a.limits) {
      const tx = decodeEntry(ledger.entry(l.entry)).tx as { type: string; actor: string; issuedAt: string; body: { feeder: string } };
      assert.equal(tx.type, 'feeder.limit');
      assert.equal(tx.body.feeder, 'feeder-a');
      assert.equal(l.signedBy, tx.actor);
      assert.equal(l.signedAt, tx.issuedAt);
    }
    assert.equal(a.limits[0]!.signedBy, dso.actor);

    // Earlier: the wide limit is in force and the narrow one is to come.
    const early = feederA((await get('/v1/network?at=2026-03-01T11:00:00%2B01:00')).json);
    assert.deepEqual(early.limits.map((l) => [l.entry, l.status]), [[entries.wide, 'in force'], [entries.narrow, 'to come']]);
    assert.equal(early.applies.exportLimitW, 20_000);
    // After both: nothing in force, the standing limit applies again.
    const later = feederA((await get('/v1/network?at=2026-03-02T00:00:00Z')).json);
    assert.deepEqual(later.limits, []);
    assert.equal(later.ended, 3);
    assert.deepEqual(later.applies, later.standing);
  });

  test('tariffs: the one in force and the history, with entry and signer', async () => {
    const r = await get('/v1/network?at=2026-03-01T12:30:00Z');
    assert.equal(r.json.tariffs.inForce?.entry, entries.tariff1);
    assert.deepEqual(r.json.tariffs.inForce?.feesMicroPerKwh, { local: 1_000, feeder: 2_000, substation: 3_000, beyond: 4_000 });
    assert.equal(r.json.tariffs.inForce?.signedBy, dso.actor);
    assert.deepEqual(r.json.tariffs.history.map((t) => [t.from, t.entry, t.status]), [['2026-02-10T23:00:00Z', entries.tariff1, 'in force'], ['2026-03-05T23:00:00Z', entries.tariff2, 'to come']]);
    const after = await get('/v1/network?at=2026-03-06T00:00:00Z');
    assert.equal(after.json.tariffs.inForce?.entry, entries.tariff2);
    assert.deepEqual(after.json.tariffs.history.map((t) => t.status), ['superseded', 'in force']);
  });

  test('a limit and a tariff appended later show at once, with their entries', async () => {
    const [limit, tariff] = (await ledger.submitMany([
      dso.sign('feeder.limit', { feeder: 'cp-1', from: '2026-03-01T12:00:00Z', to: '2026-03-03T00:00:00Z', importLimitW: 8_000, exportLimitW: null }),
      dso.sign('tariff.set', { from: '2026-03-01T11:00:00Z', feesMicroPerKwh: { local: 0, feeder: 1_000, substation: 1_000, beyond: 2_000 } }),
    ])) as [SubmitResult, SubmitResult];
    if (!limit.ok) throw limit.error;
    if (!tariff.ok) throw tariff.error;
    const r = await get('/v1/network?at=2026-03-01T12:30:00Z');
    const cp = r.json.feeders.find((f) => f.id === 'cp-1')!;
    assert.deepEqual(cp.limits.map((l) => [l.entry, l.importLimitW, l.status, l.signedBy]), [[limit.entry, 8_000, 'in force', dso.actor]]);
    assert.deepEqual(cp.applies, { importLimitW: 8_000, exportLimitW: null, entry: limit.entry });
    assert.equal(r.json.tariffs.inForce?.entry, tariff.entry);
    assert.equal(r.json.tariffs.history.length, 3);
  });

  test('`at` defaults to the server\'s clock; a bad instant is refused naming the field', async () => {
    const [route] = networkRoutes(ledger, () => Date.parse('2026-03-01T10:15:00.500Z'));
    const n = await route!.handler({ params: {}, query: {}, body: undefined, reply: undefined as never }) as Network;
    assert.equal(n.at, '2026-03-01T10:15:00Z');
    assert.deepEqual(feederA(n).limits.map((l) => l.status), ['in force', 'to come']);
    const bad = await get('/v1/network?at=yesterday');
    assert.equal(bad.status, 400);
    assert.equal(bad.json.field, 'query.at');
  });
});
