import { z } from 'zod';
import { community } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import { canonicalJson } from '../ledger/index.ts';
import { latestTime } from '../state/apply.ts';
import { defineTx } from '../state/registry.ts';
import type { State } from '../state/tables.ts';
import { averagePowerToWh, costMicro, formatInstant, MS_PER_MINUTE, mulDivRound, parseInstant } from '../units/index.ts';
import { flexId, needOf, offerDirection } from './market.ts';
import { assetFeeder, breaks, isUnder, type Limits, limitsAt } from './network.ts';
import { findAsset, findOrder, findRequest, type MeritLine, type OfferRow, type OrderedOffer, ORDERS_TABLE, type RequestRow } from './tables.ts';

export interface OrderPlan {
  ordered: OrderedOffer[];
  merit: MeritLine[];
  costMicro: number;
}

/**
 * candidates: the offers a request may order at `at` (epoch ms), in merit order (price,
 * then log order): its own open offers, and open unsolicited offers with the same start
 * and ISP count on its feeder or below it, in its direction, still valid at `at`.
 */
export function candidates(state: State, r: RequestRow, at: number): OfferRow[] {
  const own = state.lookup<OfferRow>('flex_offers', 'request', r.request);
  const unsolicited = state.lookup<OfferRow>('flex_offers', 'request', null)
    .filter((o) => o.start === r.start && o.powerW.length === r.isps.length && offerDirection(o.powerW) === r.direction && isUnder(state, o.feeder, r.feeder));
  return [...own, ...unsolicited]
    .filter((o) => o.status === 'open' && parseInstant(o.validUntil) > at)
    .sort((a, b) => a.priceMicroPerKwh - b.priceMicroPerKwh || a.entry - b.entry);
}

/** The acceptance check's view of the network: per forecast feeder, its forecast, what orders add, and its limits per interval. */
class NetworkCheck {
  readonly feeders: { id: string; base: number[]; added: number[]; limits: Limits[] }[];
  constructor(state: State, r: RequestRow, minutes: number) {
    const start = parseInstant(r.start);
    this.feeders = r.forecast.map((f) => ({
      id: f.feeder, base: f.W, added: f.W.map(() => 0),
      limits: f.W.map((_, t) => limitsAt(state, f.feeder, formatInstant(start + t * minutes * MS_PER_MINUTE))),
    }));
  }

  /** The offer's power per forecast feeder and interval: its W split over its assets by their power, on the feeders they hang under. */
  contributions(state: State, o: OfferRow, series: readonly number[]): number[][] {
    const assets = o.assets.map((id) => findAsset(state, id)!);
    const total = assets.reduce((s, a) => s + a.powerW, 0);
    return this.feeders.map((f) => {
      const under = assets.reduce((s, a) => { const at = assetFeeder(state, a); return at !== null && isUnder(state, at, f.id) ? s + a.powerW : s; }, 0);
      return f.base.map((_, t) => (under === 0 || t >= series.length ? 0 : mulDivRound(series[t]!, under, total)));
    });
  }

  /** firstViolation: the first feeder and interval where adding `c` breaks a limit and moves the power further past it. */
  firstViolation(c: number[][]): { feeder: string; t: number; limit: 'import' | 'export' } | null {
    for (let t = 0; t < Math.max(0, ...this.feeders.map((f) => f.base.length)); t++) {
      for (let i = 0; i < this.feeders.length; i++) {
        const f = this.feeders[i]!;
        const d = c[i]![t] ?? 0;
        if (t >= f.base.length || d === 0) continue;
        const after = f.base[t]! + f.added[t]! + d;
        const broken = breaks(after, f.limits[t]!);
        if ((broken === 'import' && d > 0) || (broken === 'export' && d < 0)) return { feeder: f.id, t, limit: broken };
      }
    }
    return null;
  }

  add(c: number[][]): void {
    this.feeders.forEach((f, i) => { for (let t = 0; t < f.added.length; t++) f.added[t]! += c[i]![t]!; });
  }
}

/** scaled: a power series times an activation factor in percent, toward zero (never more than offered). */
function scaled(series: readonly number[], pct: number): number[] {
  return series.map((p) => Math.trunc((p * pct) / 100) || 0);
}

/**
 * planOrder runs the merit order of a request at `at` (the order's issuedAt): offers by
 * price, each activated by the smallest factor that covers what is still missing of the
 * ISPs' minimum (never below its minimum activation factor, never above what keeps every
 * ISP within the maximum asked), unless it is above the request's maximum price, nothing
 * is missing, or the acceptance check finds that it would break a limit of a forecast
 * feeder (the congestion point or any other) in some interval of the window. Every
 * candidate gets a line saying why. Deterministic: integers, ties by log order.
 */
export function planOrder(state: State, r: RequestRow, at: number): OrderPlan {
  const minutes = community(state)!.intervalMinutes;
  const need = r.isps.map((isp) => needOf(r.direction, isp));
  const covered = need.map(() => 0);
  const network = new NetworkCheck(state, r, minutes);
  const ordered: OrderedOffer[] = [];
  const merit: MeritLine[] = [];
  let cost = 0;
  const start = parseInstant(r.start);
  for (const o of candidates(state, r, at)) {
    const line: MeritLine = { offer: o.offer, priceMicroPerKwh: o.priceMicroPerKwh, decision: 'selected', factorPct: 0, feeder: null, interval: null };
    merit.push(line);
    if (o.priceMicroPerKwh > r.maxPriceMicroPerKwh) { line.decision = 'above-max-price'; continue; }
    let needPct = 0;
    let maxPct = 100;
    o.powerW.forEach((p, i) => {
      const mag = Math.abs(p);
      if (mag === 0) return;
      const missing = need[i]!.lo - covered[i]!;
      if (missing > 0) needPct = Math.max(needPct, Math.ceil((100 * missing) / mag));
      if (need[i]!.hi > 0) maxPct = Math.min(maxPct, Math.floor((100 * Math.max(0, need[i]!.hi - covered[i]!)) / mag));
    });
    if (needPct === 0) { line.decision = 'covered'; continue; }
    const pct = Math.min(100, Math.max(needPct, o.minActivationPct), maxPct);
    if (pct < o.minActivationPct || pct <= 0) { line.decision = 'too-large'; continue; }
    const powerW = scaled(o.powerW, pct);
    const reboundW = scaled(o.reboundW, pct);
    const c = network.contributions(state, o, [...powerW, ...reboundW]);
    const v = network.firstViolation(c);
    if (v) {
      Object.assign(line, { decision: 'violation', feeder: v.feeder, interval: formatInstant(start + v.t * minutes * MS_PER_MINUTE) });
      continue;
    }
    network.add(c);
    powerW.forEach((p, i) => { covered[i]! += Math.abs(p); });
    line.factorPct = pct;
    ordered.push({ offer: o.offer, provider: o.provider, factorPct: pct, priceMicroPerKwh: o.priceMicroPerKwh, powerW, reboundW });
    cost += costMicro(powerW.reduce((s, p) => s + averagePowerToWh(Math.abs(p), minutes), 0), o.priceMicroPerKwh);
  }
  return { ordered, merit, costMicro: cost };
}

/** planFlexOrder: the body of a flex.order for a request, to sign at `issuedAt` (ms). */
export function planFlexOrder(state: State, request: string, order: string, issuedAt: number): { order: string; request: string } & OrderPlan {
  const r = findRequest(state, request);
  if (!r) throw new OpenlecError('E_FLEX_UNKNOWN', `request ${request} does not exist`, { field: 'request' });
  return { order, request, ...planOrder(state, r, issuedAt) };
}

const row = z.record(z.string(), z.unknown());

/**
 * flex.order (DSO), UFTP FlexOrder: buys the offers the merit order selects for an open
 * request, before its first ISP at the operator's time. The body carries the result
 * (ordered offers with factor and power per ISP, the merit order with every decision, the
 * cost); apply runs the acceptance check on the ordered offers, then recomputes the merit
 * order at the order's issuedAt and refuses any difference, so verify recomputes it too.
 */
export const flexOrder = defineTx({
  type: 'flex.order',
  roles: ['dso'],
  tables: [ORDERS_TABLE],
  body: z.strictObject({
    order: flexId,
    request: flexId,
    ordered: z.array(row).max(20_000),
    merit: z.array(row).max(20_000),
    costMicro: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  }),
  apply(ctx, body) {
    const { state, tx, entry } = ctx;
    if (findOrder(state, body.order)) throw new OpenlecError('E_FLEX_EXISTS', `order ${body.order} already exists`, { field: 'body.order' });
    const r = findRequest(state, body.request);
    if (!r) throw new OpenlecError('E_FLEX_UNKNOWN', `request ${body.request} does not exist`, { field: 'body.request' });
    if (r.dso !== tx.actor) throw new OpenlecError('E_FLEX_NOT_YOURS', `request ${r.request} was made by another DSO key`, { field: 'body.request' });
    if (r.status !== 'open') throw new OpenlecError('E_FLEX_CLOSED', `request ${r.request} is already ${r.status}`, { field: 'body.request' });
    const now = latestTime(ctx);
    if (now >= parseInstant(r.start)) throw new OpenlecError('E_FLEX_GATE', `request ${r.request}'s first ISP ${r.start} has started (now ${formatInstant(now)}): too late to order`, { field: 'body.request' });
    const issued = parseInstant(tx.issuedAt, 'issuedAt');
    const plan = planOrder(state, r, issued);
    // Name a broken limit before any mismatch: it is what a DSO ordering by hand needs to know.
    const byOffer = new Map(plan.merit.map((m) => [m.offer, m]));
    body.ordered.forEach((o, i) => {
      const m = byOffer.get(String(o.offer));
      if (!m) throw new OpenlecError('E_FLEX_ORDER', `ordered offer ${String(o.offer)} is not an open, valid offer for request ${r.request}`, { field: `body.ordered.${i}.offer` });
      if (m.decision === 'violation') {
        throw new OpenlecError('E_FLEX_VIOLATION', `ordering offer ${m.offer} would break the limit of feeder ${m.feeder} in the interval starting ${m.interval}`, { field: `body.ordered.${i}`, details: { feeder: m.feeder, interval: m.interval } });
      }
    });
    const expected = canonicalJson(plan as never);
    const got = canonicalJson({ ordered: body.ordered, merit: body.merit, costMicro: body.costMicro } as never);
    if (expected !== got) {
      const field = canonicalJson(plan.ordered as never) !== canonicalJson(body.ordered as never) ? 'body.ordered' : canonicalJson(plan.merit as never) !== canonicalJson(body.merit as never) ? 'body.merit' : 'body.costMicro';
      throw new OpenlecError('E_FLEX_ORDER_MISMATCH', `${field} differs from the merit order recomputed from the log at ${tx.issuedAt}`, { field });
    }
    for (const o of plan.ordered) {
      const offer = state.get<OfferRow>('flex_offers', o.offer)!;
      if (parseInstant(offer.validUntil) <= now) throw new OpenlecError('E_FLEX_EXPIRED', `offer ${o.offer} expired at ${offer.validUntil} (now ${formatInstant(now)})`, { field: 'body.ordered' });
      state.put('flex_offers', { ...offer, status: 'ordered' });
    }
    for (const o of state.lookup<OfferRow>('flex_offers', 'request', r.request)) if (o.status === 'open') state.put('flex_offers', { ...o, status: 'not-selected' });
    state.put('flex_requests', { ...r, status: plan.ordered.length ? 'ordered' : 'unfilled', order: body.order });
    state.put('flex_orders', { order: body.order, request: r.request, feeder: r.feeder, start: r.start, ordered: plan.ordered, merit: plan.merit, costMicro: plan.costMicro, entry });
  },
});
