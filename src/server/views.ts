import { ratio } from '../allocation/exports.ts';
import { community } from '../community/tables.ts';
import type { Book } from '../market/book.ts';
import type { ClearingRow } from '../market/tables.ts';
import type { ReadingsRow } from '../metering/readings.ts';
import type { State } from '../state/tables.ts';
import { addDays, dayIntervals, formatInstant, localDay } from '../units/index.ts';

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
