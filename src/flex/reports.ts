import { community } from '../community/tables.ts';
import { findReadings } from '../metering/readings.ts';
import type { MeterRow } from '../metering/meter-register.ts';
import type { State } from '../state/tables.ts';
import { averagePowerToWh, dayIntervals, formatInstant, localDateOf, localDay, MS_PER_MINUTE, parseInstant } from '../units/index.ts';
import { needOf } from './market.ts';
import { isUnder, limitsAt } from './network.ts';
import { lineTotals, monthOfStart, ordersOfMonth } from './settle.ts';
import type { OfferRow, OrderRow, RequestRow, SettlementLine, SettlementRow } from './tables.ts';

/** One interval of a request as the DSO looks at it: the feeder's metered load against its limit, what was asked, ordered and delivered. */
export interface RequestInterval {
  start: string;
  /** Net metered power of every meter on the feeder or below it (W, positive = consumption), null until all its readings are in. */
  loadW: number | null;
  forecastW: number | null;
  importLimitW: number | null;
  exportLimitW: number | null;
  requestedMinW: number;
  requestedMaxW: number;
  orderedW: number;
  /** Delivered flexibility as an average power over the interval, from the month's settlement (null before it). */
  deliveredW: number | null;
}

export interface RequestView {
  request: RequestRow;
  order: OrderRow | null;
  offers: OfferRow[];
  intervals: RequestInterval[];
  /** The settlement lines of the order, once its month is settled. */
  settlement: SettlementLine[];
  costMicro: number;
}

/** feederLoad: the net metered power (W) of every meter on the feeder or below it in the interval starting at `start`, null when a reading is missing. */
export function feederLoad(state: State, feeder: string, start: number): number | null {
  const c = community(state)!;
  const date = localDateOf(start, c.timeZone);
  const index = dayIntervals(localDay(date, c.timeZone), c.intervalMinutes).indexOf(start);
  let wh = 0;
  for (const m of state.rows('meters') as IterableIterator<unknown> as IterableIterator<MeterRow>) {
    if (m.feeder === null || !isUnder(state, m.feeder, feeder)) continue;
    const v = findReadings(state, m.meter, m.direction, date)?.values[index];
    if (v === undefined || v === null) return null;
    wh += m.direction === 'import' ? v : -v;
  }
  return Math.round((wh * 60) / c.intervalMinutes);
}

/** requestView: a request with its offers, order, settlement and interval-by-interval figures. */
export function requestView(state: State, id: string): RequestView | undefined {
  const r = state.get<RequestRow>('flex_requests', id);
  if (!r) return undefined;
  const c = community(state)!;
  const order = r.order ? state.get<OrderRow>('flex_orders', r.order) ?? null : null;
  const offers = state.lookup<OfferRow>('flex_offers', 'request', r.request).sort((a, b) => a.entry - b.entry);
  const month = monthOfStart(state, r.start);
  const settlement = order ? (state.get<SettlementRow>('flex_settlements', month)?.lines ?? []).filter((l) => l.order === order.order) : [];
  const forecast = r.forecast.find((f) => f.feeder === r.feeder);
  const start = parseInstant(r.start);
  const intervals = r.isps.map((isp, i): RequestInterval => {
    const s = start + i * c.intervalMinutes * MS_PER_MINUTE;
    const iso = formatInstant(s);
    const limits = limitsAt(state, r.feeder, iso);
    const delivered = settlement.length ? settlement.reduce((sum, l) => sum + (l.isps[i]?.deliveredWh ?? 0), 0) : null;
    return {
      start: iso, loadW: feederLoad(state, r.feeder, s), forecastW: forecast?.W[i] ?? null, importLimitW: limits.importW, exportLimitW: limits.exportW,
      requestedMinW: needOf(r.direction, isp).lo, requestedMaxW: needOf(r.direction, isp).hi,
      orderedW: (order?.ordered ?? []).reduce((sum, o) => sum + Math.abs(o.powerW[i] ?? 0), 0),
      deliveredW: delivered === null ? null : Math.round((delivered * 60) / c.intervalMinutes),
    };
  });
  return { request: r, order, offers, intervals, settlement, costMicro: settlement.reduce((s, l) => s + l.netMicro, 0) };
}

/** requestsOf: the requests whose first ISP lies in the local month (every one when month is undefined), oldest first. */
export function requestsOf(state: State, month?: string): RequestRow[] {
  return ([...state.rows('flex_requests')] as RequestRow[])
    .filter((r) => month === undefined || monthOfStart(state, r.start) === month)
    .sort((a, b) => a.entry - b.entry);
}

export interface Earnings {
  month: string;
  provider: string;
  settled: boolean;
  deliveredWh: number;
  deficiencyWh: number;
  revenueMicro: number;
  penaltyMicro: number;
  reliefMicro: number;
  netMicro: number;
  lines: SettlementLine[];
  /** Ordered energy not settled yet (month still open), Wh. */
  orderedWh: number;
}

/** earnings: what a provider (member or aggregator) earned from flexibility in a month, line by line. */
export function earnings(state: State, month: string, provider: string): Earnings {
  const c = community(state)!;
  const settled = state.get<SettlementRow>('flex_settlements', month);
  const lines = (settled?.lines ?? []).filter((l) => l.provider === provider);
  let orderedWh = 0;
  for (const o of ordersOfMonth(state, month)) {
    for (const x of o.ordered) if (x.provider === provider) orderedWh += x.powerW.reduce((s, p) => s + averagePowerToWh(Math.abs(p), c.intervalMinutes), 0);
  }
  return {
    month, provider, settled: settled !== undefined, lines, orderedWh, ...lineTotals(lines),
  };
}
