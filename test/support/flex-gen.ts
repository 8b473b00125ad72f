import fc from 'fast-check';
import { Signer } from '../../src/client.ts';
import { planFlexOrder } from '../../src/flex/order.ts';
import type { BaselineSpec, FlexDirection } from '../../src/flex/tables.ts';
import type { SignedTransaction } from '../../src/ledger/index.ts';
import { nodeSign } from '../../src/node/signatures.ts';
import { SqliteLedger } from '../../src/store/sqlite-ledger.ts';
import { COMMUNITY, seededKey } from './community.ts';

/**
 * Random flexibility communities for property tests, built through the real transactions
 * on an in-memory log: Europe/Paris, 30-minute intervals; substation `sub` above feeders
 * `fa` and `fb` with random import/export limits (and sometimes a feeder.limit override
 * over part of the event); 2 to 5 metering points on each feeder, one asset behind each
 * (some with an export curve too, some delegated to the aggregator); one event day
 * (Tuesday 2026-03-10, first ISP 18:00 local) with one or two requests (random feeder,
 * direction, ISPs, forecasts), offers (solicited or not, random prices, powers with zeros,
 * minimum activation factor, rebound, baseline method, validity) and readings of every
 * meter for the 14 days before, the event day and the day after.
 */
export const FEEDERS = ['sub', 'fa', 'fb'] as const;
export const PARENT: Record<string, string | null> = { sub: null, fa: 'sub', fb: 'sub' };
export const EVENT_DATE = '2026-03-10';
export const EVENT_START = Date.parse('2026-03-10T17:00:00Z');
export const HISTORY = Array.from({ length: 14 }, (_, i) => new Date(Date.parse('2026-02-24T12:00:00Z') + i * 86_400_000).toISOString().slice(0, 10));
export const DATES = [...HISTORY, EVENT_DATE, '2026-03-11'];
export const ORDER_AT = '2026-03-10T13:00:00.000Z';
const ISP_MS = 30 * 60_000;

export interface GenLimits { importW: number; exportW: number }
export interface GenMeter { meter: string; feeder: 'fa' | 'fb'; exports: boolean; owner: number; aggregated: boolean; kind: 'battery' | 'ev-charger' | 'heat-pump' | 'water-heater'; powerW: number }
export interface GenRequest { feeder: string; direction: FlexDirection; isps: { lo: number; hi: number }[]; window: number; forecast: { feeder: string; W: number[] }[]; maxPrice: number; penalty: number }
export interface GenOffer { request: number; solicited: boolean; feeder: string; byAggregator: boolean; owner: number; assets: number[]; powerW: number[]; reboundW: number[]; price: number; minPct: number; baseline: BaselineSpec; expired: boolean }
export interface Scenario {
  limits: Record<string, GenLimits>;
  /** A feeder.limit on one feeder from the second ISP for two intervals. */
  override: { feeder: string; importW: number; exportW: number } | null;
  meters: GenMeter[];
  requests: GenRequest[];
  offers: GenOffer[];
  /** Per meter, per date, import (and export) values: 48 a day. */
  readings: { imp: number[][]; exp: number[][] }[];
}

export const isUnderGen = (f: string, ancestor: string): boolean => {
  for (let x: string | null = f; x !== null; x = PARENT[x]!) if (x === ancestor) return true;
  return false;
};

const day48 = fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 48, maxLength: 48 });

export const scenario: fc.Arbitrary<Scenario> = fc.record({
  limits: fc.record({
    sub: fc.record({ importW: fc.integer({ min: 10_000, max: 40_000 }), exportW: fc.integer({ min: 10_000, max: 40_000 }) }),
    fa: fc.record({ importW: fc.integer({ min: 4000, max: 20_000 }), exportW: fc.integer({ min: 4000, max: 20_000 }) }),
    fb: fc.record({ importW: fc.integer({ min: 4000, max: 20_000 }), exportW: fc.integer({ min: 4000, max: 20_000 }) }),
  }) as fc.Arbitrary<Record<string, GenLimits>>,
  override: fc.option(fc.record({ feeder: fc.constantFrom(...FEEDERS), importW: fc.integer({ min: 2000, max: 20_000 }), exportW: fc.integer({ min: 2000, max: 20_000 }) }), { nil: null }),
  meterSpecs: fc.array(fc.record({
    feeder: fc.constantFrom('fa' as const, 'fb' as const), exports: fc.boolean(), owner: fc.integer({ min: 0, max: 1 }), aggregated: fc.boolean(),
    kind: fc.constantFrom('battery' as const, 'ev-charger' as const, 'heat-pump' as const, 'water-heater' as const), powerW: fc.integer({ min: 1000, max: 8000 }),
  }), { minLength: 3, maxLength: 8 }),
  requestSpecs: fc.array(fc.record({
    feeder: fc.constantFrom(...FEEDERS), direction: fc.constantFrom('reduce-import' as const, 'reduce-export' as const), n: fc.integer({ min: 1, max: 4 }), extra: fc.integer({ min: 0, max: 2 }),
    need: fc.array(fc.tuple(fc.integer({ min: 0, max: 8000 }), fc.integer({ min: 0, max: 8000 })), { minLength: 4, maxLength: 4 }),
    forecastFeeders: fc.subarray([...FEEDERS], { minLength: 1 }), level: fc.array(fc.integer({ min: -30_000, max: 45_000 }), { minLength: 18, maxLength: 18 }),
    maxPrice: fc.integer({ min: 50_000, max: 400_000 }), penalty: fc.integer({ min: 0, max: 500_000 }),
  }), { minLength: 1, maxLength: 2 }),
  offerSpecs: fc.array(fc.record({
    request: fc.nat(), solicited: fc.boolean(), sub: fc.boolean(), pick: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }), byAggregator: fc.boolean(),
    fractions: fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 4, maxLength: 4 }), rebound: fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 0, maxLength: 2 }),
    price: fc.integer({ min: 0, max: 500_000 }), minPct: fc.oneof(fc.constant(100), fc.integer({ min: 1, max: 100 })),
    baseline: fc.oneof(
      fc.constant({ method: 'mbma' } as BaselineSpec),
      fc.array(fc.integer({ min: -3000, max: 6000 }), { minLength: 4, maxLength: 4 }).map((wh) => ({ method: 'nomination', wh }) as BaselineSpec),
      fc.integer({ min: 1, max: 10 }).chain((y) => fc.record({ x: fc.integer({ min: 1, max: y }), pick: fc.constantFrom('high' as const, 'mid' as const), adjustIntervals: fc.integer({ min: 0, max: 3 }) })
        .map(({ x, pick, adjustIntervals }) => ({ method: 'x-of-y', x, y, pick, adjustIntervals }) as BaselineSpec)),
      fc.integer({ min: 1, max: 10 }).map((days) => ({ method: 'rolling', days }) as BaselineSpec),
    ),
    expired: fc.integer({ min: 0, max: 9 }).map((k) => k === 0),
  }), { minLength: 0, maxLength: 9 }),
  readingSeeds: fc.array(fc.record({ imp: fc.array(day48, { minLength: 1, maxLength: 3 }), exp: fc.array(day48, { minLength: 1, maxLength: 2 }) }), { minLength: 8, maxLength: 8 }),
}).map((g): Scenario => {
  const meters: GenMeter[] = g.meterSpecs.map((m, i) => ({ ...m, meter: `m${i}` }));
  // Every feeder holds at least one meter.
  if (!meters.some((m) => m.feeder === 'fa')) meters[0]!.feeder = 'fa';
  if (!meters.some((m) => m.feeder === 'fb')) meters[meters.length - 1]!.feeder = 'fb';
  const requests: GenRequest[] = g.requestSpecs.map((r) => {
    const isps = r.need.slice(0, r.n).map(([a, b]) => ({ lo: Math.min(a, b), hi: Math.max(a, b) }));
    if (!isps.some((x) => x.hi > 0)) isps[0]!.hi = 1000;
    const window = r.n + r.extra;
    const forecast = r.forecastFeeders.map((f, k) => ({ feeder: f, W: Array.from({ length: window }, (_, t) => Math.round(r.level[(k * 6 + t) % 18]! * (f === 'sub' ? 1 : 0.5))) }));
    return { feeder: r.feeder, direction: r.direction, isps, window, forecast, maxPrice: r.maxPrice, penalty: r.penalty };
  });
  const offers: GenOffer[] = [];
  const used = new Set<number>();
  for (const o of g.offerSpecs) {
    const ri = o.request % requests.length;
    const r = requests[ri]!;
    // Unsolicited offers may name a feeder below the request's.
    const feeder = !o.solicited && o.sub && r.feeder === 'sub' ? (o.pick[0]! % 2 === 0 ? 'fa' : 'fb') : r.feeder;
    // A meter is in one live offer per interval (E_FLEX_METER_OFFERED), and every offer here spans the same event.
    const eligible = meters.map((m, i) => ({ m, i })).filter(({ m, i }) => isUnderGen(m.feeder, feeder) && !used.has(i));
    if (eligible.length === 0) continue;
    const first = eligible[o.pick[0]! % eligible.length]!;
    // All of an offer's assets share the one who offers them: the aggregator, or their owner.
    const offerer = (m: GenMeter) => (m.aggregated ? 'agg' : `own${m.owner}`);
    const assets = [...new Set(o.pick.map((p) => eligible[p % eligible.length]!).filter((x) => offerer(x.m) === offerer(first.m)).map((x) => x.i))];
    for (const i of assets) used.add(i);
    const powerSum = assets.reduce((s, i) => s + meters[i]!.powerW, 0);
    const sign = r.direction === 'reduce-import' ? -1 : 1;
    const mags: number[] = o.fractions.slice(0, r.isps.length).map((f) => Math.floor((powerSum * f) / 100));
    if (!mags.some((m) => m !== 0)) mags[0] = Math.max(1, Math.floor(powerSum / 2));
    const reboundW = o.rebound.slice(0, r.window - r.isps.length).map((f) => -sign * Math.floor((powerSum * f) / 100) || 0);
    let baseline = o.baseline;
    if (baseline.method === 'nomination') baseline = { method: 'nomination', wh: baseline.wh.slice(0, r.isps.length) };
    offers.push({
      request: ri, solicited: o.solicited, feeder, byAggregator: first.m.aggregated, owner: first.m.owner, assets, powerW: mags.map((m) => sign * m || 0), reboundW,
      price: o.price, minPct: o.minPct, baseline, expired: o.expired,
    });
  }
  const readings = meters.map((_, i) => {
    const seed = g.readingSeeds[i % g.readingSeeds.length]!;
    return {
      imp: DATES.map((_, d) => seed.imp[d % seed.imp.length]!.map((v, k) => (v * (d + 3) + k * 37) % 3001)),
      exp: DATES.map((_, d) => seed.exp[d % seed.exp.length]!.map((v, k) => (v * (d + 5) + k * 11) % 1501)),
    };
  });
  return { limits: g.limits, override: g.override, meters, requests, offers, readings };
});

export interface Built {
  ledger: SqliteLedger;
  dso: Signer;
  /** Offer IDs by index in the scenario, and whether it was accepted. */
  offerIds: (string | null)[];
  requestIds: string[];
}

/** The limits in force on a feeder at interval t of the event (t = 0: the first ISP): the override covers t = 1 and 2. */
export function limitsGen(s: Scenario, feeder: string, t: number): GenLimits {
  if (s.override && s.override.feeder === feeder && (t === 1 || t === 2)) return { importW: s.override.importW, exportW: s.override.exportW };
  return s.limits[feeder]!;
}

/** build appends the scenario's transactions; offers the rules refuse (e.g. above a battery's energy) are left out, and so reported. */
export async function build(s: Scenario, readings: Scenario['readings'] = s.readings): Promise<Built> {
  const clock = { iso: '2026-02-01T00:00:00.000Z' };
  const mk = (label: string) => new Signer(seededKey(label), COMMUNITY, 0, () => clock.iso, nodeSign);
  const [operator, dso, aggregator, own0, own1] = ['operator', 'dso', 'aggregator', 'alice', 'bob'].map(mk) as [Signer, Signer, Signer, Signer, Signer];
  const owners = [own0, own1];
  const ledger = SqliteLedger.create(':memory:');
  const ok = async (tx: SignedTransaction<unknown>) => {
    const r = await ledger.submit(tx);
    if (!r.ok) throw r.error;
  };
  const setup: SignedTransaction<unknown>[] = [
    operator.sign('community.create', { name: 'Gen Street', timeZone: 'Europe/Paris', intervalMinutes: 30, currency: 'EUR', operator: operator.actor }),
    operator.sign('participant.register', { key: dso.actor, roles: ['dso'] }),
    operator.sign('participant.register', { key: aggregator.actor, roles: ['aggregator'] }),
    ...owners.map((o) => operator.sign('participant.register', { key: o.actor, roles: ['member'] })),
    operator.sign('flex.configure', { doubleCharging: 'refund', networkFeeMicroPerKwh: 30_000 }),
    ...FEEDERS.map((f) => dso.sign('feeder.define', { id: f, parent: PARENT[f], importLimitW: s.limits[f]!.importW, exportLimitW: s.limits[f]!.exportW })),
  ];
  if (s.override) {
    setup.push(dso.sign('feeder.limit', { feeder: s.override.feeder, from: new Date(EVENT_START + ISP_MS).toISOString(), to: new Date(EVENT_START + 3 * ISP_MS).toISOString(), importLimitW: s.override.importW, exportLimitW: s.override.exportW }));
  }
  s.meters.forEach((m, i) => {
    const owner = owners[m.owner]!;
    setup.push(dso.sign('meter.register', { meter: m.meter, scheme: 'other', direction: 'import', owner: owner.actor, feeder: m.feeder }));
    if (m.exports) setup.push(dso.sign('meter.register', { meter: m.meter, scheme: 'other', direction: 'export', owner: owner.actor, feeder: m.feeder }));
    setup.push(owner.sign('asset.register', { asset: `a${i}`, meter: m.meter, kind: m.kind, powerW: m.powerW, capacityWh: m.kind === 'battery' ? m.powerW * 3 : null, aggregator: m.aggregated ? aggregator.actor : null }));
  });
  for (const r of await ledger.submitMany(setup)) if (!r.ok) throw r.error;

  clock.iso = '2026-03-09T08:00:00.000Z';
  const start = new Date(EVENT_START).toISOString();
  const requestIds = s.requests.map((_, i) => `R${i}`);
  for (const [i, r] of s.requests.entries()) {
    const isps = r.isps.map(({ lo, hi }) => (r.direction === 'reduce-import' ? { minW: -hi || 0, maxW: -lo || 0 } : { minW: lo, maxW: hi }));
    await ok(dso.sign('flex.request', { request: requestIds[i], feeder: r.feeder, direction: r.direction, start, isps, maxPriceMicroPerKwh: r.maxPrice, penaltyMicroPerKwh: r.penalty, expires: '2026-03-10T12:00:00Z', forecast: r.forecast }));
  }
  const offerIds: (string | null)[] = [];
  for (const [i, o] of s.offers.entries()) {
    const signer = o.byAggregator ? aggregator : owners[o.owner]!;
    const res = await ledger.submit(signer.sign('flex.offer', {
      offer: `O${i}`, request: o.solicited ? requestIds[o.request] : null, feeder: o.feeder, start, assets: o.assets.map((a) => `a${a}`), powerW: o.powerW, reboundW: o.reboundW,
      priceMicroPerKwh: o.price, minActivationPct: o.minPct, baseline: o.baseline, validUntil: o.expired ? '2026-03-10T12:30:00Z' : '2026-03-10T16:00:00Z',
    }));
    // Only a battery offer beyond the batteries' energy may be refused here.
    if (!res.ok && (res.error as { code?: string }).code !== 'E_FLEX_ENERGY') throw res.error;
    offerIds.push(res.ok ? `O${i}` : null);
  }
  clock.iso = ORDER_AT;
  for (const id of requestIds) await ok(dso.sign('flex.order', planFlexOrder(ledger.state, id, `F${id}`, Date.parse(ORDER_AT))));
  clock.iso = '2026-03-12T06:00:00.000Z';
  const days: SignedTransaction<unknown>[] = [];
  s.meters.forEach((m, i) => DATES.forEach((date, d) => {
    days.push(dso.sign('meter.readings', { meter: m.meter, direction: 'import', date, values: readings[i]!.imp[d]! }));
    if (m.exports) days.push(dso.sign('meter.readings', { meter: m.meter, direction: 'export', date, values: readings[i]!.exp[d]! }));
  }));
  for (const r of await ledger.submitMany(days)) if (!r.ok) throw r.error;
  clock.iso = '2026-04-01T00:00:00.000Z';
  return { ledger, dso, offerIds, requestIds };
}
