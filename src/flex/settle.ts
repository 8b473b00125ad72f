import { z } from 'zod';
import { community } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import { canonicalJson, leafHash, MemoryTree, toHex, utf8 } from '../ledger/index.ts';
import { findMeter } from '../metering/meter-register.ts';
import { findReadings } from '../metering/readings.ts';
import { monthDays } from '../allocation/month.ts';
import { earliestTime } from '../state/apply.ts';
import { defineTx } from '../state/registry.ts';
import type { State } from '../state/tables.ts';
import { averagePowerToWh, costMicro, dayIntervals, formatInstant, type IntervalMinutes, localDateOf, localDay, MS_PER_MINUTE, parseInstant, splitByWeights } from '../units/index.ts';
import { computeBaseline } from './baseline.ts';
import { flexConfig, findAsset, isStorage, type OfferRow, type OrderRow, type RequestRow, type SettledIsp, type SettlementLine, SETTLEMENTS_TABLE } from './tables.ts';

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;

/** monthEnd: the end (UTC ms) of the community's local month, after which it is settled. */
export function monthEnd(state: State, month: string): number {
  return localDay(monthDays(month).at(-1)!, community(state)!.timeZone).endMs;
}

/** monthOfStart: the community's local month (YYYY-MM) of an interval start. */
export function monthOfStart(state: State, start: string): string {
  return localDateOf(parseInstant(start), community(state)!.timeZone).slice(0, 7);
}

export type LineTotals = Pick<SettlementLine, 'deliveredWh' | 'deficiencyWh' | 'revenueMicro' | 'penaltyMicro' | 'reliefMicro' | 'netMicro'>;

/** lineTotals: the sums of settlement lines (a month's, or one provider's). */
export function lineTotals(lines: readonly SettlementLine[]): LineTotals {
  const t: LineTotals = { deliveredWh: 0, deficiencyWh: 0, revenueMicro: 0, penaltyMicro: 0, reliefMicro: 0, netMicro: 0 };
  for (const l of lines) for (const k of Object.keys(t) as (keyof LineTotals)[]) t[k] += l[k];
  return t;
}

/** The metering points behind an offer's assets, each once, in order. */
export function offerMeters(state: State, o: Pick<OfferRow, 'assets'>): string[] {
  return [...new Set(o.assets.map((a) => findAsset(state, a)!.meter))];
}

/**
 * NetSeries reads the net energy (import − export, Wh, UFTP sign) of a set of metering
 * points per local day from the logged readings: null where a registered direction has
 * no value, undefined when a day has no reading at all for one of them.
 */
export class NetSeries {
  private readonly cache = new Map<string, (number | null)[] | undefined>();
  constructor(private readonly state: State, private readonly meters: readonly string[]) {}

  day(date: string): (number | null)[] | undefined {
    if (this.cache.has(date)) return this.cache.get(date);
    let sum: (number | null)[] | undefined;
    for (const meter of this.meters) {
      for (const direction of ['import', 'export'] as const) {
        if (!findMeter(this.state, meter, direction)) continue;
        const values = findReadings(this.state, meter, direction, date)?.values;
        if (!values) { this.cache.set(date, undefined); return undefined; }
        sum ??= values.map(() => 0);
        values.forEach((v, i) => { sum![i] = v === null || sum![i] === null ? null : sum![i]! + (direction === 'import' ? v : -v); });
      }
    }
    this.cache.set(date, sum);
    return sum;
  }

  /** at: the net Wh of the interval starting at `start`, or throws naming the meter's day that lacks it (billing rests on metered values). */
  at(start: number, timeZone: string, minutes: IntervalMinutes): number {
    const date = localDateOf(start, timeZone);
    const index = dayIntervals(localDay(date, timeZone), minutes).indexOf(start);
    const v = this.day(date)?.[index];
    if (v === undefined || v === null) {
      throw new OpenlecError('E_FLEX_READINGS', `no metered value for the interval ${formatInstant(start)} of meter${this.meters.length > 1 ? 's' : ''} ${this.meters.join(', ')} (${date}): settlement rests on DSO readings only`, { field: 'readings', details: { date, interval: formatInstant(start) } });
    }
    return v;
  }
}

/** The ISP starts of a request (ms). */
export function ispStarts(r: Pick<RequestRow, 'start' | 'isps'>, minutes: number): number[] {
  const s = parseInstant(r.start);
  return r.isps.map((_, i) => s + i * minutes * MS_PER_MINUTE);
}

/**
 * The activations of every order, per metering point: what eventDaysOf reads. Built once
 * per state and rebuilt when an order, offer, asset or the community changes (a month's
 * settlement asks for every line's meters: scanning every order per line was quadratic).
 * `dates[k]` are the local dates of activation k (orders in row order, their ordered
 * offers in order), `byMeter` the activations that touch a meter, ascending.
 */
const activations = new WeakMap<State, { revision: string; dates: string[][]; byMeter: Map<string, number[]> }>();
function activationIndex(state: State): { dates: string[][]; byMeter: Map<string, number[]> } {
  const revision = ['flex_orders', 'flex_offers', 'flex_assets', 'community'].map((t) => state.tableRevision(t)).join('/');
  const cached = activations.get(state);
  if (cached && cached.revision === revision) return cached;
  const c = community(state)!;
  const dates: string[][] = [];
  const byMeter = new Map<string, number[]>();
  for (const row of state.rows('flex_orders') as IterableIterator<unknown> as IterableIterator<OrderRow>) {
    const s = parseInstant(row.start);
    for (const o of row.ordered) {
      const offer = state.get<OfferRow>('flex_offers', o.offer)!;
      const k = dates.length;
      const d: string[] = [];
      for (let t = 0; t < o.powerW.length + o.reboundW.length; t++) d.push(localDateOf(s + t * c.intervalMinutes * MS_PER_MINUTE, c.timeZone));
      dates.push(d);
      for (const m of offerMeters(state, offer)) {
        const list = byMeter.get(m);
        if (list) list.push(k);
        else byMeter.set(m, [k]);
      }
    }
  }
  const index = { revision, dates, byMeter };
  activations.set(state, index);
  return index;
}

/** eventDaysOf: the local dates on which any order activated one of these meters (ISPs and rebound): never baseline days. */
export function eventDaysOf(state: State, meters: readonly string[]): Set<string> {
  const { dates, byMeter } = activationIndex(state);
  // The activations in log order, each once, so the set is filled in the same order as a scan of every order.
  const touched = new Set<number>();
  for (const m of meters) for (const k of byMeter.get(m) ?? []) touched.add(k);
  const days = new Set<string>();
  for (const k of [...touched].sort((a, b) => a - b)) for (const d of dates[k]!) days.add(d);
  return days;
}

/**
 * usefIsp: one ISP of a USEF settlement, in Wh. For less consumption (`less`), delivered =
 * clamp(baseline − actual, 0, ordered) and deficiency = max(0, actual − (baseline −
 * ordered)); for more consumption the signs turn. Passive over-delivery is not paid.
 */
export function usefIsp(baselineWh: number, orderedWh: number, actualWh: number, less: boolean): { deliveredWh: number; deficiencyWh: number } {
  const gain = less ? baselineWh - actualWh : actualWh - baselineWh;
  return { deliveredWh: Math.min(Math.max(gain, 0), orderedWh), deficiencyWh: Math.max(0, orderedWh - gain) };
}

/**
 * settleLine settles one ordered offer as USEF does, per ISP in Wh of the interval: for
 * less consumption, delivered = clamp(baseline − actual, 0, ordered) and deficiency =
 * max(0, actual − (baseline − ordered)) (the metered value above the ordered level, which
 * worsens the congestion); for more consumption the same with the signs turned. Revenue =
 * price × delivered (pay-as-bid), penalty = the request's penalty × deficiency (one-sided:
 * passive over-delivery is neither paid nor penalised), relief = the network fee on the
 * part of delivered energy that batteries gave, when the community refunds it.
 */
export function settleLine(state: State, order: OrderRow, r: RequestRow, o: OrderRow['ordered'][number]): SettlementLine {
  const c = community(state)!;
  const offer = state.get<OfferRow>('flex_offers', o.offer)!;
  const meters = offerMeters(state, offer);
  const series = new NetSeries(state, meters);
  const starts = ispStarts(r, c.intervalMinutes);
  const actual = starts.map((s) => series.at(s, c.timeZone, c.intervalMinutes));
  const baseline = computeBaseline(offer.baseline, {
    timeZone: c.timeZone, intervalMinutes: c.intervalMinutes, netOf: (d) => series.day(d), eventStarts: starts, eventDays: eventDaysOf(state, meters),
  });
  const less = r.direction === 'reduce-import';
  const isps: SettledIsp[] = starts.map((s, i) => {
    const orderedWh = averagePowerToWh(Math.abs(o.powerW[i]!), c.intervalMinutes);
    const actualWh = actual[i]!;
    const baselineWh = baseline[i]!;
    return { start: formatInstant(s), baselineWh, orderedWh, actualWh, ...usefIsp(baselineWh, orderedWh, actualWh, less) };
  });
  const deliveredWh = isps.reduce((s, x) => s + x.deliveredWh, 0);
  const deficiencyWh = isps.reduce((s, x) => s + x.deficiencyWh, 0);
  const revenueMicro = costMicro(deliveredWh, o.priceMicroPerKwh);
  const penaltyMicro = costMicro(deficiencyWh, r.penaltyMicroPerKwh);
  const cfg = flexConfig(state);
  let reliefMicro = 0;
  if (cfg.doubleCharging === 'refund' && cfg.networkFeeMicroPerKwh > 0) {
    const assets = offer.assets.map((a) => findAsset(state, a)!);
    const battery = assets.filter((a) => isStorage(a.kind)).reduce((s, a) => s + a.powerW, 0);
    const other = assets.reduce((s, a) => s + a.powerW, 0) - battery;
    if (battery > 0) reliefMicro = costMicro(splitByWeights(deliveredWh, [battery, other])[0]!, cfg.networkFeeMicroPerKwh);
  }
  return {
    order: order.order, offer: o.offer, provider: o.provider, feeder: r.feeder, priceMicroPerKwh: o.priceMicroPerKwh, penaltyMicroPerKwh: r.penaltyMicroPerKwh,
    deliveredWh, deficiencyWh, revenueMicro, penaltyMicro, reliefMicro, netMicro: revenueMicro - penaltyMicro + reliefMicro, isps,
  };
}

/** ordersOfMonth: the orders whose first ISP lies in the local month, in log order. */
export function ordersOfMonth(state: State, month: string): OrderRow[] {
  return ([...state.rows('flex_orders')] as OrderRow[])
    .filter((o) => monthOfStart(state, o.start) === month)
    .sort((a, b) => a.entry - b.entry);
}

export interface FlexMonth {
  month: string;
  lines: SettlementLine[];
  totalMicro: number;
}

/** The signed body of flex.settle: the month's totals and the Merkle root of its lines (the lines live in the projection, recomputed). */
export interface FlexSettleBody {
  month: string;
  lines: number;
  deliveredWh: number;
  deficiencyWh: number;
  revenueMicro: number;
  penaltyMicro: number;
  reliefMicro: number;
  totalMicro: number;
  linesRoot: string;
}

/** planFlexSettle: the month's settlement of every ordered offer, line by line (flexSettleBody gives what is signed). */
export function planFlexSettle(state: State, month: string): FlexMonth {
  if (!MONTH.test(month)) throw new OpenlecError('E_BAD_MONTH', `month "${month}" is not YYYY-MM`, { field: 'month' });
  const lines: SettlementLine[] = [];
  for (const order of ordersOfMonth(state, month)) {
    const r = state.get<RequestRow>('flex_requests', order.request)!;
    for (const o of order.ordered) lines.push(settleLine(state, order, r, o));
  }
  return { month, lines, totalMicro: lines.reduce((s, l) => s + l.netMicro, 0) };
}

/** linesRoot: the RFC 9162 root (hex) over the canonical JSON of each settlement line, in order: proves one line without the others. */
export function linesRoot(lines: readonly SettlementLine[]): string {
  const tree = new MemoryTree();
  for (const l of lines) tree.appendLeaf(leafHash(utf8(canonicalJson(l as never))));
  return toHex(tree.root());
}

/**
 * flexSettleBody: what flex.settle signs. A month of a large community has thousands of
 * lines, beyond one log entry: the body carries the totals and the root of the lines, and
 * apply recomputes the lines and stores them (as market.clear does with its trades).
 */
export function flexSettleBody(plan: FlexMonth): FlexSettleBody {
  const t = lineTotals(plan.lines);
  return {
    month: plan.month, lines: plan.lines.length, deliveredWh: t.deliveredWh, deficiencyWh: t.deficiencyWh, revenueMicro: t.revenueMicro,
    penaltyMicro: t.penaltyMicro, reliefMicro: t.reliefMicro, totalMicro: plan.totalMicro, linesRoot: linesRoot(plan.lines),
  };
}

const int = z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER);

/**
 * flex.settle (DSO or operator), UFTP FlexSettlement: once per month, after its last
 * interval at the operator's time, every order of the month settled from the logged
 * readings and the baselines the offers named. The body holds the totals and the root of
 * the lines; apply recomputes the lines, refuses any difference and stores them; the
 * invoices of the month carry them.
 */
export const flexSettle = defineTx({
  type: 'flex.settle',
  roles: ['dso', 'operator'],
  tables: [SETTLEMENTS_TABLE],
  body: z.strictObject({
    month: z.string().regex(MONTH, 'must be YYYY-MM'),
    lines: z.number().int().min(0).max(10_000_000),
    deliveredWh: int, deficiencyWh: int, revenueMicro: int, penaltyMicro: int, reliefMicro: int, totalMicro: int,
    linesRoot: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 hex digits'),
  }),
  apply(ctx, body) {
    const { state, entry } = ctx;
    if (state.get('flex_settlements', body.month)) throw new OpenlecError('E_FLEX_SETTLED', `flexibility of ${body.month} is already settled`, { field: 'body.month' });
    const end = monthEnd(state, body.month);
    const at = earliestTime(ctx);
    if (at < end) throw new OpenlecError('E_FLEX_GATE', `${body.month} ends at ${formatInstant(end)}: it is settled after its last interval (now ${formatInstant(at)})`, { field: 'body.month' });
    const plan = planFlexSettle(state, body.month);
    const expected = flexSettleBody(plan);
    const field = (Object.keys(expected) as (keyof FlexSettleBody)[]).find((k) => expected[k] !== body[k]);
    if (field) {
      throw new OpenlecError('E_FLEX_SETTLE_MISMATCH', `body.${field} is ${String(body[field])}, the settlement recomputed from the log's readings and baselines gives ${String(expected[field])}`, { field: `body.${field}` });
    }
    state.put('flex_settlements', { month: body.month, lines: plan.lines, totalMicro: plan.totalMicro, linesRoot: expected.linesRoot, entry });
  },
});
