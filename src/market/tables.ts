import type { State, TableSpec } from '../state/tables.ts';
import type { Mechanism } from './clear-book.ts';
import type { FeeSchedule } from './network.ts';
import type { Conditions } from './order.ts';

/**
 * Projections of the market. Times are stored as "YYYY-MM-DDTHH:MM:SSZ" (fixed width, so
 * they sort as text) and rules that change over time are rows keyed by the instant from
 * which they apply: the rule in force at t is the row with the greatest `from` <= t.
 */
export const MARKET_CONFIG_TABLE: TableSpec = {
  name: 'market_config',
  columns: { from: 'text', mode: 'text', mechanism: 'text', kPpm: 'integer', gateClosureMinutes: 'integer', feedInMicroPerKwh: 'integer', retailMicroPerKwh: 'integer', entry: 'integer' },
  primaryKey: ['from'],
};

export const TARIFFS_TABLE: TableSpec = {
  name: 'tariffs',
  columns: { from: 'text', feesMicroPerKwh: 'json', entry: 'integer' },
  primaryKey: ['from'],
};

export const FEEDER_LIMITS_TABLE: TableSpec = {
  name: 'feeder_limits',
  columns: { feeder: 'text', from: 'text', to: 'text', importLimitW: 'integer', exportLimitW: 'integer', entry: 'integer' },
  primaryKey: ['feeder', 'from', 'entry'],
};

export const ORDERS_TABLE: TableSpec = {
  name: 'orders',
  columns: { id: 'text', owner: 'text', side: 'text', interval: 'text', quantityWh: 'integer', limitMicroPerKwh: 'integer', meter: 'text', conditions: 'json', status: 'text', entry: 'integer' },
  primaryKey: ['id'],
  indexes: [['interval'], ['owner']],
};

export const STANDING_ORDERS_TABLE: TableSpec = {
  name: 'standing_orders',
  columns: {
    id: 'text', owner: 'text', side: 'text', meter: 'text', fromDate: 'text', toDate: 'text', window: 'json', quantityWh: 'integer', limitMicroPerKwh: 'integer',
    conditions: 'json', placedAt: 'text', cancelledAt: 'text', entry: 'integer',
  },
  primaryKey: ['id'],
  indexes: [['owner']],
};

export const CLEARINGS_TABLE: TableSpec = {
  name: 'clearings',
  columns: {
    interval: 'text', mode: 'text', mechanism: 'text', path: 'text', orders: 'integer', priceMicroPerKwh: 'integer', volumeWh: 'integer', feesMicro: 'integer',
    // The trade records as their canonical JSON array (text): one string per book rather than an object per trade.
    surplusMicro: 'integer', trades: 'text', entry: 'integer',
  },
  primaryKey: ['interval'],
  compact: true,
};

export const MODES = ['ex-ante', 'ex-post'] as const;
export type Mode = (typeof MODES)[number];

export interface MarketConfigRow {
  [column: string]: string | number;
  from: string;
  mode: Mode;
  mechanism: Mechanism;
  kPpm: number;
  gateClosureMinutes: number;
  feedInMicroPerKwh: number;
  retailMicroPerKwh: number;
  entry: number;
}

export interface OrderRow {
  id: string;
  owner: string;
  side: 'buy' | 'sell';
  interval: string;
  quantityWh: number;
  limitMicroPerKwh: number;
  meter: string;
  conditions: Conditions | null;
  status: 'open' | 'cancelled';
  entry: number;
}

export interface StandingOrderRow {
  id: string;
  owner: string;
  side: 'buy' | 'sell';
  meter: string;
  fromDate: string;
  toDate: string;
  /** Local wall-clock window, "HH:MM" to "HH:MM" (end exclusive, "24:00" for midnight). */
  window: { start: string; end: string };
  /** Wh per interval; null for "all my metered surplus / need" (ex-post only). */
  quantityWh: number | null;
  limitMicroPerKwh: number;
  conditions: Conditions | null;
  placedAt: string;
  cancelledAt: string | null;
  entry: number;
}

/** A trade as recorded: order ids, meters, and the amounts of the pure Trade. */
export interface TradeRecord {
  [field: string]: string | number;
  buy: string;
  sell: string;
  buyer: string;
  seller: string;
  wh: number;
  price: number;
  sellerPrice: number;
  fee: number;
  amount: number;
  proceeds: number;
  feeAmount: number;
}

/** What a clearing gives, as recorded in market.clear and in the clearings projection. */
export interface ClearingSummary {
  interval: string;
  mode: Mode;
  mechanism: Mechanism;
  path: string;
  orders: number;
  priceMicroPerKwh: number | null;
  volumeWh: number;
  feesMicro: number;
  surplusMicro: number;
}

export interface ClearingRow extends ClearingSummary {
  [column: string]: string | number | null;
  /** The trade records, RFC 8785 JSON array text, in clearing order: read them with tradesOf. */
  trades: string;
  entry: number;
}

/** tradesOf reads a clearing's trade records. */
export function tradesOf(row: ClearingRow): TradeRecord[] {
  return JSON.parse(row.trades) as TradeRecord[];
}

/** inForce returns the row of a from-keyed table that applies at `at` (ISO, fixed width). */
export function inForce<R extends { from: string }>(state: State, table: string, at: string): R | undefined {
  let best: R | undefined;
  for (const row of state.rows(table) as IterableIterator<unknown> as IterableIterator<R>) {
    if (row.from <= at && (!best || row.from > best.from)) best = row;
  }
  return best;
}

export function marketConfig(state: State, at: string): MarketConfigRow | undefined {
  return inForce<MarketConfigRow>(state, 'market_config', at);
}

export function tariff(state: State, at: string): FeeSchedule | undefined {
  return inForce<{ from: string; feesMicroPerKwh: FeeSchedule }>(state, 'tariffs', at)?.feesMicroPerKwh;
}

/** lastCleared is the latest cleared interval, or "" when none: rules may change only after it. */
export function lastCleared(state: State): string {
  let last = '';
  for (const row of state.rows('clearings')) if ((row.interval as string) > last) last = row.interval as string;
  return last;
}
