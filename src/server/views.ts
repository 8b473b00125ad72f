import { ratio } from '../allocation/exports.ts';
import { monthInput } from '../allocation/month.ts';
import { community } from '../community/tables.ts';
import { type AssetRow, isStorage } from '../flex/tables.ts';
import type { Book } from '../market/book.ts';
import { MECHANISMS } from '../market/clear-book.ts';
import { type ClearingRow, marketConfig, type MarketConfigRow, tradesOf } from '../market/tables.ts';
import type { ReadingsRow } from '../metering/readings.ts';
import type { State } from '../state/tables.ts';
import { addDays, costMicro, dayIntervals, formatInstant, localDay } from '../units/index.ts';

/**
 * Read models for the dashboard and the API: aggregates over the projection that name no
 * member, so they can be public. Energy "fed in" is what export meters measured, energy
 * "drawn" what import meters measured; "local" is what the market matched between members.
 */
export interface IntervalEnergy {
  interval: string;
  drawnWh: number;
  fedInWh: number;
  localWh: number;
  priceMicroPerKwh: number | null;
  /** Meter-intervals of the interval still without a value. */
  missing: number;
}

/** communityEnergy sums every meter per interval over the local days [from, to], with the market's matched volume and price. */
export function communityEnergy(state: State, from: string, to: string) {
  const c = community(state)!;
  const byStart = new Map<number, IntervalEnergy>();
  const slot = (start: number) => {
    let e = byStart.get(start);
    if (!e) byStart.set(start, (e = { interval: formatInstant(start), drawnWh: 0, fedInWh: 0, localWh: 0, priceMicroPerKwh: null, missing: 0 }));
    return e;
  };
  const days = new Map<string, number[]>();
  // Day by day through the readings' date index, not a scan of every reading ever logged.
  for (let date = from; date <= to; date = addDays(date, 1)) {
    const rows = state.lookup<ReadingsRow>('readings', 'date', date);
    if (rows.length === 0) continue;
    const starts = dayIntervals(localDay(date, c.timeZone), c.intervalMinutes);
    days.set(date, starts);
    for (const r of rows) r.values.forEach((v, i) => {
      const e = slot(starts[i]!);
      if (v === null) e.missing++;
      else if (r.direction === 'import') e.drawnWh += v;
      else e.fedInWh += v;
    });
  }
  const first = Math.min(...[...days.values()].map((s) => s[0]!));
  const end = Math.max(...[...days.values()].map((s) => s[s.length - 1]!)) + c.intervalMinutes * 60_000;
  for (const k of state.rows('clearings') as IterableIterator<unknown> as IterableIterator<ClearingRow>) {
    const start = Date.parse(k.interval);
    if (start < first || start >= end) continue;
    const e = slot(start);
    e.localWh = k.volumeWh;
    e.priceMicroPerKwh = k.priceMicroPerKwh;
  }
  const intervals = [...byStart.entries()].sort((a, b) => a[0] - b[0]).map(([, e]) => e);
  const sum = (f: (e: IntervalEnergy) => number) => intervals.reduce((a, e) => a + f(e), 0);
  const drawnWh = sum((e) => e.drawnWh);
  const fedInWh = sum((e) => e.fedInWh);
  const localWh = sum((e) => e.localWh);
  return {
    from, to, timeZone: c.timeZone, intervalMinutes: c.intervalMinutes, currency: c.currency, intervals,
    totals: { drawnWh, fedInWh, localWh, selfSufficiency: ratio(localWh, drawnWh), selfConsumption: ratio(localWh, fedInWh), missing: sum((e) => e.missing) },
    /** Where the energy went: between members, members to the grid, supplier to members. */
    flows: [
      { from: 'members', to: 'members', wh: localWh },
      { from: 'members', to: 'grid', wh: fedInWh - localWh },
      { from: 'supplier', to: 'members', wh: drawnWh - localWh },
    ],
  };
}

/**
 * bookDepth: the supply and demand curves of a book (cumulative Wh against limit price),
 * without the meters behind the orders. Asks ascend in price, bids descend.
 */
export function bookDepth(book: Book) {
  const curve = (side: 'buy' | 'sell') => {
    const orders = book.orders.filter((o) => o.side === side).sort((a, b) => (side === 'sell' ? a.limitMicroPerKwh - b.limitMicroPerKwh : b.limitMicroPerKwh - a.limitMicroPerKwh));
    let cumulative = 0;
    return orders.map((o) => ({ cumulativeWh: (cumulative += o.quantityWh), limitMicroPerKwh: o.limitMicroPerKwh }));
  };
  return { interval: book.interval, mode: book.config.mode, mechanism: book.config.mechanism, orders: book.orders.length, supply: curve('sell'), demand: curve('buy') };
}

/**
 * communitySavings: what the members saved against the supplier alone on the energy they
 * traded between them in [from, to) (ISO instants): a buyer pays the trade and the network
 * fee instead of the retail price, a seller receives the trade instead of the feed-in
 * price, both at the market rules in force in that interval. Energy not traded costs the
 * same either way, so this is the community's whole saving on metered trades (the monthly
 * invoices reconcile trades with metered values on top of it).
 */
export function communitySavings(state: State, from: string, to: string): { savingsMicro: number; tradedWh: number; trades: number } {
  let savingsMicro = 0;
  let tradedWh = 0;
  let trades = 0;
  for (const k of state.rows('clearings') as IterableIterator<unknown> as IterableIterator<ClearingRow>) {
    if (k.interval < from || k.interval >= to) continue;
    const cfg = marketConfig(state, k.interval);
    if (!cfg) continue;
    for (const t of tradesOf(k)) {
      savingsMicro += costMicro(t.wh, cfg.retailMicroPerKwh) - t.amount - t.feeAmount + t.proceeds - costMicro(t.wh, cfg.feedInMicroPerKwh);
      tradedWh += t.wh;
      trades++;
    }
  }
  return { savingsMicro, tradedWh, trades };
}

/** storage: the community's registered storage (stationary batteries and V2G cars): how many and their usable energy, no owner. */
export function storage(state: State): { assets: number; capacityWh: number; powerW: number } {
  const xs = ([...state.rows('flex_assets')] as unknown as AssetRow[]).filter((a) => isStorage(a.kind));
  return { assets: xs.length, capacityWh: xs.reduce((s, a) => s + (a.capacityWh ?? 0), 0), powerW: xs.reduce((s, a) => s + a.powerW, 0) };
}

/** marketRules: every market.configure (from, mode, mechanism, k, gate closure, retail and feed-in prices, entry) and tariff.set, oldest first, and the mechanisms openlec supports. */
export function marketRules(state: State) {
  const byFrom = <R extends { from: string }>(rows: R[]) => rows.sort((a, b) => a.from.localeCompare(b.from));
  const configs = byFrom([...state.rows('market_config')] as unknown as MarketConfigRow[]);
  const tariffs = byFrom([...state.rows('tariffs')] as unknown as { from: string; feesMicroPerKwh: Record<string, number>; entry: number }[]).map((t) => ({ from: t.from, feesMicroPerKwh: t.feesMicroPerKwh, entry: t.entry }));
  return { configs, tariffs, mechanisms: [...MECHANISMS] };
}

/**
 * missingInsideLife: a recorded allocation's missing intervals per meter, counting only
 * the intervals of the month inside the meter's life in the community: from the later of
 * the community's creation and the meter's registration (`joined`, ISO instant). Before
 * it, nobody was supposed to send a value. The recorded allocation.run keeps its own count
 * (its body is recomputed by every verifier and must not change); this is the read model's
 * correction of what is shown. openlec has no way for a meter to leave yet, so a life has
 * no end.
 */
export function missingInsideLife(state: State, month: string, joined: ReadonlyMap<string, string>): Map<string, number> {
  const c = community(state)!;
  const input = monthInput(state, month);
  const m = input.members.length;
  const out = new Map<string, number>();
  input.members.forEach((meter, i) => {
    const since = Date.parse(joined.get(meter) ?? c.createdAt);
    const start = Math.max(since, Date.parse(c.createdAt));
    let missing = 0;
    for (let t = 0; t < input.starts.length; t++) {
      // An interval counts once it ends after the meter joined.
      if (input.starts[t]! + c.intervalMinutes * 60_000 <= start) continue;
      if (Number.isNaN(input.consumption[t * m + i]!)) missing++;
    }
    out.set(meter, missing);
  });
  return out;
}
