import type { FlexMonth } from '../flex/settle.ts';
import type { BaselineSpec, OrderRow, OrderedOffer, SettlementRow } from '../flex/tables.ts';
import type { State } from '../state/tables.ts';
import { averagePowerToWh, formatInstant, MS_PER_MINUTE, splitByWeights } from '../units/index.ts';
import { isPlugged } from './ev.ts';
import type { Activation, HouseholdDay, SimDay, SimHousehold } from './household.ts';
import { Rng } from './rng.ts';
import type { Scenario } from './scenario.ts';

/**
 * DSO flexibility in a simulation (src/flex): members' batteries and EV chargers are
 * registered as assets, the EV chargers of a seeded share of their owners delegated to
 * one aggregator. Each simulated day the DSO forecasts every feeder with an import limit
 * from the household physics without activation (the simulator's perfect forecast: it
 * knows tomorrow's loads exactly), and where the forecast breaks the limit it asks for
 * less import over the congested span (flex.request); the aggregator offers to defer the
 * EVs' charging out of the span into the headroom after it (the deferred charging as the
 * offer's rebound), battery owners offer to discharge what their state of charge spares;
 * the DSO orders from the merit order (planFlexOrder). The orders then drive the day's
 * physics (household.ts `Activation`) before its readings are signed, so delivery is
 * measured on metered data when each month is settled (planFlexSettle).
 *
 * This module is pure: it plans the bodies to sign and turns orders into activations;
 * run.ts signs and appends them.
 */

export type SimBaseline = { method: 'nomination' } | Exclude<BaselineSpec, { method: 'nomination' }>;

/** The flexibility settings of a run, or null when the scenario leaves it off. */
export interface FlexOptions {
  aggregatorShare: number;
  evPriceMicroPerKwh: number;
  batteryPriceMicroPerKwh: number;
  maxPriceMicroPerKwh: number;
  penaltyMicroPerKwh: number;
  baseline: SimBaseline;
  reboundHours: number;
  marginPct: number;
}

const DEFAULTS: FlexOptions = {
  aggregatorShare: 1, evPriceMicroPerKwh: 100_000, batteryPriceMicroPerKwh: 150_000, maxPriceMicroPerKwh: 300_000, penaltyMicroPerKwh: 200_000,
  baseline: { method: 'nomination' }, reboundHours: 6, marginPct: 3,
};

export function flexOptions(s: Scenario): FlexOptions | null {
  const f = s.flexibility;
  if (f === false) return null;
  if (f === true) return DEFAULTS;
  if (!f.enabled) return null;
  const { enabled: _, ...knobs } = f;
  return { ...DEFAULTS, ...knobs };
}

/** With `flexibility` forced on or off (compare's --flexibility a,b): the scenario's knobs are kept. */
export function withFlexibility(s: Scenario, on: boolean): Scenario['flexibility'] {
  const f = s.flexibility;
  return typeof f === 'object' ? { ...f, enabled: on } : on;
}

/** delegators: which EV owners delegate their charger to the aggregator, exactly round(share × EV homes), drawn from a stream of their own. */
export function delegators<T extends { ev?: unknown }>(homes: readonly T[], seed: string, s: Scenario, share: number): Set<T> {
  const rng = new Rng(`${seed}/${s.name}/flexibility`);
  const evs = homes.filter((h) => h.ev);
  const draws = evs.map((h, i) => ({ h, i, x: rng.next() }));
  draws.sort((a, b) => a.x - b.x || a.i - b.i);
  return new Set(draws.slice(0, Math.round(share * evs.length)).map((d) => d.h));
}

export const batteryAsset = (h: Pick<SimHousehold, 'meter'>) => `${h.meter}-battery`;
export const evAsset = (h: Pick<SimHousehold, 'meter'>) => `${h.meter}-ev`;

/** assetBodies: the asset.register of every battery and EV charger, signed by its owner; a delegated charger names the aggregator. */
export function assetBodies<T extends SimHousehold>(homes: readonly T[], delegated: ReadonlySet<T>, aggregator: string): { home: T; body: Record<string, unknown> }[] {
  const out: { home: T; body: Record<string, unknown> }[] = [];
  for (const h of homes) {
    if (h.battery) {
      const b = h.battery;
      out.push({ home: h, body: { asset: batteryAsset(h), meter: h.meter, kind: 'battery', powerW: Math.floor(b.spec.powerKw * 1000), capacityWh: Math.max(1, Math.floor(b.capacityWh - b.minWh)), aggregator: null } });
    }
    if (h.ev) out.push({ home: h, body: { asset: evAsset(h), meter: h.meter, kind: 'ev-charger', powerW: Math.floor(h.ev.chargerKw * 1000), capacityWh: null, aggregator: delegated.has(h) ? aggregator : null } });
  }
  return out;
}

type Feeder = Scenario['feeders'][number];

/** feederChain: a feeder and every feeder above it, nearest first (empty for a home on no feeder). */
export function feederChain(s: Scenario, id: string | null): Feeder[] {
  const out: Feeder[] = [];
  for (let f = s.feeders.find((x) => x.id === id); f; f = f.parent === null ? undefined : s.feeders.find((x) => x.id === f!.parent)) out.push(f);
  return out;
}

/** feederNetWh: per feeder, the net import (import − export, Wh) of the homes on it or below it, per interval. */
export function feederNetWh(s: Scenario, homes: readonly SimHousehold[], days: readonly Pick<HouseholdDay, 'importWh' | 'exportWh'>[], intervals: number): Map<string, number[]> {
  const net = new Map(s.feeders.map((f) => [f.id, new Array<number>(intervals).fill(0)]));
  homes.forEach((h, i) => {
    const e = days[i]!;
    for (const f of feederChain(s, h.feeder)) {
      const row = net.get(f.id)!;
      for (let k = 0; k < intervals; k++) row[k]! += e.importWh[k]! - e.exportWh[k]!;
    }
  });
  return net;
}

/** Hours and energy above a feeder's import limit, as the meters measured them. */
export interface AboveLimit {
  feeder: string;
  importLimitW: number;
  intervals: number;
  /** Energy above the limit × 60 (Wh·min / min): kept exact, divided when reported. */
  excessWhTimes60: number;
}

/** addAboveLimit counts a day's intervals and energy above each import limit. */
export function addAboveLimit(above: Map<string, AboveLimit>, s: Scenario, net: ReadonlyMap<string, readonly number[]>): void {
  for (const f of s.feeders) {
    if (f.importLimitW === null) continue;
    const a = above.get(f.id) ?? { feeder: f.id, importLimitW: f.importLimitW, intervals: 0, excessWhTimes60: 0 };
    // netWh > limitW × minutes / 60  <=>  netWh × 60 > limitW × minutes
    for (const wh of net.get(f.id)!) {
      const excess = wh * 60 - f.importLimitW * s.intervalMinutes;
      if (excess > 0) { a.intervals++; a.excessWhTimes60 += excess; }
    }
    above.set(f.id, a);
  }
}

/** What a home's forecast day looks like to the flexibility plan: its energies without activation and its battery's charge before the day. */
export interface Forecast {
  home: SimHousehold;
  index: number;
  day: HouseholdDay;
  socBeforeWh: number | null;
}

/** One offer of the plan: who signs it and what it activates. */
export interface PlannedOffer {
  /** 'aggregator', or the index of the home whose owner signs it. */
  signer: 'aggregator' | number;
  home: number;
  kind: 'ev' | 'battery';
  body: {
    offer: string; request: string; feeder: string; start: string; assets: string[]; powerW: number[]; reboundW: number[]; priceMicroPerKwh: number;
    minActivationPct: number; baseline: BaselineSpec; validUntil: string;
  };
}

export interface PlannedRequest {
  /** Index of the first ISP and of the interval after the last, in the day. */
  first: number;
  end: number;
  /** Order id and when the DSO orders (after the gate, before the first ISP), ms. */
  order: string;
  orderAtMs: number;
  body: {
    request: string; feeder: string; direction: 'reduce-import'; start: string; isps: { minW: number; maxW: number }[]; maxPriceMicroPerKwh: number; penaltyMicroPerKwh: number;
    expires: string; forecast: { feeder: string; W: number[] }[];
  };
  offers: PlannedOffer[];
}

export interface DayPlanInput {
  s: Scenario;
  o: FlexOptions;
  day: SimDay;
  /** The forecast of every home, in the run's order. */
  forecasts: readonly Forecast[];
  delegated: ReadonlySet<SimHousehold>;
  /** When the DSO sends its requests (ms): the simulation's clock. */
  atMs: number;
  /** Whether a provider can name the baseline for these meters and ISPs (x-of-y needs eligible days in the log). */
  baselineReady: (meters: readonly string[], eventStarts: readonly number[]) => boolean;
}

/** A request needs this long before its first ISP: an hour for offers, then the gate. */
const LEAD_MS = 120 * MS_PER_MINUTE;
const GATE_MS = 60 * MS_PER_MINUTE;
const compact = (date: string) => date.replaceAll('-', '');

/**
 * planFlexDay: for every feeder with an import limit whose forecast breaks it (in an
 * interval that starts at least two hours after `atMs`), the DSO's request over the span
 * from the first to the last such interval (each ISP asks for at least the excess plus
 * the margin, at most twice that) with its forecast of the feeder and those above it up
 * to `reboundHours` after the span, and the providers' offers: the aggregator's EVs that
 * charge in the span and whose whole deferred energy fits in the headroom after it
 * (filled earliest first, below every forecast limit less the margin, while the car is
 * plugged in), then the batteries' discharge on top of their own dispatch, limited by
 * their power and by the charge their own evening leaves spare. An asset is offered to
 * one request a day.
 */
export function planFlexDay(input: DayPlanInput): PlannedRequest[] {
  const { s, o, day, forecasts } = input;
  const minutes = day.intervalMinutes;
  const n = day.starts.length;
  const toW = (wh: number) => (wh * 60) / minutes;
  const toWh = (w: number) => (w * minutes) / 60;
  const net = feederNetWh(s, forecasts.map((f) => f.home), forecasts.map((f) => f.day), n);
  const used = new Set<number>();
  const out: PlannedRequest[] = [];
  s.feeders.forEach((f, fi) => {
    if (f.importLimitW === null) return;
    const limit = f.importLimitW;
    const W = net.get(f.id)!.map(toW);
    const over = W.map((w, k) => w > limit && day.starts[k]! >= input.atMs + LEAD_MS);
    const first = over.indexOf(true);
    if (first < 0) return;
    const end = over.lastIndexOf(true) + 1;
    const windowEnd = Math.min(n, end + Math.round((o.reboundHours * 60) / minutes));
    const margin = Math.ceil((limit * o.marginPct) / 100);
    const isps = W.slice(first, end).map((w) => {
      const excess = w - limit;
      return excess > 0 ? { minW: -2 * (excess + margin), maxW: -(excess + margin) } : { minW: 0, maxW: 0 };
    });
    const chain = feederChain(s, f.id);
    const forecast = chain.map((c) => ({ feeder: c.id, W: net.get(c.id)!.slice(first, windowEnd).map(toW) }));
    const request = `R${compact(day.date)}-${fi}`;
    const start = day.starts[first]!;
    const body: PlannedRequest['body'] = {
      request, feeder: f.id, direction: 'reduce-import', start: formatInstant(start), isps, maxPriceMicroPerKwh: o.maxPriceMicroPerKwh, penaltyMicroPerKwh: o.penaltyMicroPerKwh,
      expires: formatInstant(start - GATE_MS), forecast,
    };
    // Headroom after the span (W): the tightest of the forecast feeders with an import limit, less the margin.
    const room = Array.from({ length: windowEnd - end }, (_, j) => {
      let r = Infinity;
      chain.forEach((c, ci) => { if (c.importLimitW !== null) r = Math.min(r, c.importLimitW - Math.ceil((c.importLimitW * o.marginPct) / 100) - forecast[ci]!.W[end - first + j]!); });
      return Math.max(0, r === Infinity ? 0 : r);
    });
    const eventStarts = day.starts.slice(first, end);
    const offers: PlannedOffer[] = [];
    const common = { request, feeder: f.id, start: body.start, minActivationPct: 1, validUntil: body.start };
    const baselineOf = (fc: Forecast): BaselineSpec =>
      o.baseline.method === 'nomination' ? { method: 'nomination', wh: eventStarts.map((_, i) => fc.day.importWh[first + i]! - fc.day.exportWh[first + i]!) } : o.baseline;
    const under = (h: SimHousehold) => feederChain(s, h.feeder).some((c) => c.id === f.id);
    for (const fc of forecasts) {
      const h = fc.home;
      if (!h.ev || !input.delegated.has(h) || used.has(fc.index) || !under(h)) continue;
      const planned = fc.day.evWh;
      const deferred = planned.slice(first, end);
      let remaining = deferred.reduce((a, x) => a + x, 0);
      if (remaining === 0 || !input.baselineReady([h.meter], eventStarts)) continue;
      const maxWh = Math.floor((h.ev.chargerKw * 1000 * minutes) / 60);
      const rebound = room.map(() => 0);
      for (let j = 0; j < room.length && remaining > 0; j++) {
        if (!isPlugged(h.ev, day.minuteOfDay[end + j]!)) continue;
        const put = Math.min(remaining, maxWh - planned[end + j]!, Math.floor(toWh(room[j]!)));
        if (put <= 0) continue;
        rebound[j] = put;
        remaining -= put;
      }
      if (remaining > 0) continue; // the deferred charging does not fit after the span: no offer
      rebound.forEach((wh, j) => { room[j]! -= toW(wh); });
      const last = rebound.findLastIndex((x) => x > 0);
      used.add(fc.index);
      offers.push({
        signer: 'aggregator', home: fc.index, kind: 'ev',
        body: { ...common, offer: `${request}-e${fc.index}`, assets: [evAsset(h)], powerW: deferred.map((wh) => -toW(wh) || 0), reboundW: rebound.slice(0, last + 1).map(toW), priceMicroPerKwh: o.evPriceMicroPerKwh, baseline: baselineOf(fc) },
      });
    }
    const byExcess = isps.map((x, i) => ({ i, need: -x.maxW })).filter((x) => x.need > 0).sort((a, b) => b.need - a.need || a.i - b.i);
    for (const fc of forecasts) {
      const h = fc.home;
      const b = h.battery;
      if (!b || used.has(fc.index) || !under(h) || fc.socBeforeWh === null) continue;
      const before = first === 0 ? fc.socBeforeWh : fc.day.socWh[first - 1]!;
      const stored = Math.min(before, ...fc.day.socWh.slice(first)) - b.minWh;
      let spare = Math.floor(stored * b.oneWay + 1e-9);
      if (spare <= 0 || !input.baselineReady([h.meter], eventStarts)) continue;
      const maxWh = Math.floor((b.spec.powerKw * 1000 * minutes) / 60);
      const give = isps.map(() => 0);
      for (const { i, need } of byExcess) {
        if (spare <= 0) break;
        const k = first + i;
        const roomWh = fc.day.chargeWh[k]! > 0 ? 0 : maxWh - fc.day.dischargeWh[k]!;
        const g = Math.max(0, Math.min(roomWh, Math.ceil(toWh(need)), spare));
        give[i] = g;
        spare -= g;
      }
      if (give.every((g) => g === 0)) continue;
      used.add(fc.index);
      offers.push({
        signer: fc.index, home: fc.index, kind: 'battery',
        body: { ...common, offer: `${request}-b${fc.index}`, assets: [batteryAsset(h)], powerW: give.map((wh) => -toW(wh) || 0), reboundW: [], priceMicroPerKwh: o.batteryPriceMicroPerKwh, baseline: baselineOf(fc) },
      });
    }
    out.push({ first, end, order: `F${compact(day.date)}-${fi}`, orderAtMs: start - GATE_MS + MS_PER_MINUTE, body, offers });
  });
  return out;
}

/**
 * activations turns the orders of a day into what each home does (household.ts
 * `Activation`): an EV charges the ordered power less in each ISP and the energy it
 * deferred after the span, split over the ordered rebound (exact sum); a battery
 * discharges the ordered energy on top of its own dispatch.
 */
export function activations(requests: readonly PlannedRequest[], orders: readonly Pick<OrderRow, 'ordered'>[], intervals: number, minutes: number): Map<number, Activation> {
  const out = new Map<number, { evShiftWh?: number[]; batteryExtraWh?: number[] }>();
  requests.forEach((r, ri) => {
    const byId = new Map(r.offers.map((p) => [p.body.offer, p]));
    for (const o of orders[ri]?.ordered ?? []) {
      const p = byId.get(o.offer);
      if (!p) continue;
      const a = out.get(p.home) ?? {};
      const wh = o.powerW.map((w) => averagePowerToWh(Math.abs(w), minutes));
      if (p.kind === 'battery') {
        const extra = (a.batteryExtraWh ??= new Array<number>(intervals).fill(0));
        wh.forEach((x, i) => { extra[r.first + i]! += x; });
      } else {
        const shift = (a.evShiftWh ??= new Array<number>(intervals).fill(0));
        wh.forEach((x, i) => { shift[r.first + i]! -= x; });
        const deferred = wh.reduce((s, x) => s + x, 0);
        const weights = reboundOf(o, p);
        if (deferred > 0) splitByWeights(deferred, weights).forEach((x, j) => { shift[r.end + j]! += x; });
      }
      out.set(p.home, a);
    }
  });
  return out;
}

/** The ordered rebound as weights; the offered one when the activation factor truncated it to nothing. */
function reboundOf(o: OrderedOffer, p: PlannedOffer): number[] {
  return o.reboundW.some((x) => x > 0) ? o.reboundW : p.body.reboundW;
}

/** The run's flexibility as it was appended. */
export interface FlexFacts {
  /** Hours and energy above the import limits, counted whether flexibility is on or off. */
  above: Map<string, AboveLimit>;
  requests: number;
  offers: number;
  settles: FlexMonth[];
}

/** What the verified replay says of the run's flexibility. */
export interface FlexSettled {
  requests: number;
  orders: number;
  unfilled: number;
  orderedWh: number;
  deliveredWh: number;
  deficiencyWh: number;
  dsoCostMicro: number;
  memberEarningsMicro: number;
  aggregatorEarningsMicro: number;
  penaltiesMicro: number;
  reliefMicro: number;
  perMonth: { month: string; totalMicro: number; lines: number }[];
}

/** flexSettled reads the requests, orders and settlements of a (verified) state. */
export function flexSettled(state: State, aggregator: string | null, intervalMinutes: number): FlexSettled {
  const r: FlexSettled = { requests: 0, orders: 0, unfilled: 0, orderedWh: 0, deliveredWh: 0, deficiencyWh: 0, dsoCostMicro: 0, memberEarningsMicro: 0, aggregatorEarningsMicro: 0, penaltiesMicro: 0, reliefMicro: 0, perMonth: [] };
  for (const row of state.rows('flex_requests') as IterableIterator<unknown> as IterableIterator<{ status: string }>) {
    r.requests++;
    if (row.status === 'unfilled') r.unfilled++;
  }
  for (const row of state.rows('flex_orders') as IterableIterator<unknown> as IterableIterator<OrderRow>) {
    if (row.ordered.length > 0) r.orders++;
    for (const o of row.ordered) for (const w of o.powerW) r.orderedWh += averagePowerToWh(Math.abs(w), intervalMinutes);
  }
  const months = [...(state.rows('flex_settlements') as IterableIterator<unknown> as IterableIterator<SettlementRow>)].sort((a, b) => (a.month < b.month ? -1 : 1));
  for (const m of months) {
    r.dsoCostMicro += m.totalMicro;
    for (const l of m.lines) {
      r.deliveredWh += l.deliveredWh;
      r.deficiencyWh += l.deficiencyWh;
      r.penaltiesMicro += l.penaltyMicro;
      r.reliefMicro += l.reliefMicro;
      if (l.provider === aggregator) r.aggregatorEarningsMicro += l.netMicro;
      else r.memberEarningsMicro += l.netMicro;
    }
    r.perMonth.push({ month: m.month, totalMicro: m.totalMicro, lines: m.lines.length });
  }
  return r;
}

/** flexKpis: kpis.json's `flexibility`: hours and kWh above each import limit, requests, orders, ordered and delivered kWh, the DSO's cost and the providers' earnings. */
export function flexKpis(enabled: boolean, intervalMinutes: number, facts: FlexFacts | null, settled: FlexSettled | null) {
  const feeders = [...(facts?.above.values() ?? [])].map((a) => ({
    feeder: a.feeder, importLimitW: a.importLimitW, hoursAboveLimit: (a.intervals * intervalMinutes) / 60, kwhAboveLimit: round3(a.excessWhTimes60 / 60 / 1000),
  }));
  const z = settled;
  return {
    enabled,
    hoursAboveLimit: feeders.reduce((s, f) => s + f.hoursAboveLimit, 0),
    kwhAboveLimit: round3(feeders.reduce((s, f) => s + f.kwhAboveLimit, 0)),
    feeders,
    requests: z?.requests ?? 0,
    offers: facts?.offers ?? 0,
    orders: z?.orders ?? 0,
    unfilledRequests: z?.unfilled ?? 0,
    orderedKwh: (z?.orderedWh ?? 0) / 1000,
    deliveredKwh: (z?.deliveredWh ?? 0) / 1000,
    deficiencyKwh: (z?.deficiencyWh ?? 0) / 1000,
    dsoCostMicro: z?.dsoCostMicro ?? 0,
    memberEarningsMicro: z?.memberEarningsMicro ?? 0,
    aggregatorEarningsMicro: z?.aggregatorEarningsMicro ?? 0,
    penaltiesMicro: z?.penaltiesMicro ?? 0,
    reliefMicro: z?.reliefMicro ?? 0,
    perMonth: z?.perMonth ?? [],
  };
}

export type FlexKpis = ReturnType<typeof flexKpis>;

const round3 = (x: number) => Math.round(x * 1000) / 1000;
