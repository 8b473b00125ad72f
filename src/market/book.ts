import { community } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import { canonicalJson, leafHash, MemoryTree, merkleRoot, toHex, utf8 } from '../ledger/index.ts';
import { type MeterRow, RENEWABLE } from '../metering/meter-register.ts';
import { findReadings } from '../metering/readings.ts';
import type { FeederRow } from '../network/feeder-define.ts';
import type { State } from '../state/tables.ts';
import { dayIntervals, formatInstant, localDateOf, localDay, localMinuteOfDay } from '../units/index.ts';
import { type BookClearing, clearBook } from './clear-book.ts';
import { Network, NO_FEES } from './network.ts';
import { gateClosure, standingApplies } from './orders.ts';
import type { Order } from './order.ts';
import { type ClearingSummary, type MarketConfigRow, marketConfig, type OrderRow, type StandingOrderRow, tariff, type TradeRecord } from './tables.ts';

/** A book ready to clear: the rules in force, the network of the interval and the orders, each with its meter. */
export interface Book {
  readonly interval: string;
  readonly start: number;
  readonly config: MarketConfigRow;
  readonly network: Network;
  readonly orders: Order[];
  readonly meterOf: Map<string, string>;
}

/** limitWh turns a power limit in W into the energy of one interval, rounded down. */
function limitWh(w: number | null, minutes: number): number | null {
  return w === null ? null : Number((BigInt(w) * BigInt(minutes)) / 60n);
}

/** networkAt builds the feeder tree with the fees and limits in force at an interval. */
export function networkAt(state: State, iso: string, minutes: number): Network {
  const overrides = new Map<string, { importLimitW: number | null; exportLimitW: number | null; entry: number }>();
  for (const r of state.rows('feeder_limits')) {
    const row = r as { feeder: string; from: string; to: string; importLimitW: number | null; exportLimitW: number | null; entry: number };
    if (row.from <= iso && iso < row.to && (overrides.get(row.feeder)?.entry ?? -1) < row.entry) overrides.set(row.feeder, row);
  }
  const feeders = ([...state.rows('feeders')] as FeederRow[]).sort((a, b) => a.entry - b.entry);
  return new Network(feeders.map((f) => {
    const l = overrides.get(f.id) ?? f;
    return { id: f.id, parent: f.parent, importLimitWh: limitWh(l.importLimitW, minutes), exportLimitWh: limitWh(l.exportLimitW, minutes) };
  }), tariff(state, iso) ?? NO_FEES);
}

/**
 * The day's reading vectors of every meter, in the order of metersOf: the 48 books of a
 * day share them, until a reading or a meter changes.
 */
const dayReadings = new WeakMap<State, { revision: string; date: string; values: ((number | null)[] | undefined)[] }>();
function readingsOfDay(state: State, meters: Map<string, MeterRow>, date: string): ((number | null)[] | undefined)[] {
  const revision = `${state.tableRevision('readings')}/${state.tableRevision('meters')}`;
  const cached = dayReadings.get(state);
  if (cached && cached.date === date && cached.revision === revision) return cached.values;
  const values = [...meters.values()].map((m) => findReadings(state, m.meter, m.direction, date)?.values);
  dayReadings.set(state, { revision, date, values });
  return values;
}

/** The metering points by "meter/direction", rebuilt only when the meters table changed (every book needs them). */
const meterMaps = new WeakMap<State, { revision: number; meters: Map<string, MeterRow> }>();
function metersOf(state: State): Map<string, MeterRow> {
  const revision = state.tableRevision('meters');
  const cached = meterMaps.get(state);
  if (cached && cached.revision === revision) return cached.meters;
  const meters = new Map<string, MeterRow>();
  for (const m of state.rows('meters') as IterableIterator<unknown> as IterableIterator<MeterRow>) meters.set(`${m.meter}/${m.direction}`, m);
  meterMaps.set(state, { revision, meters });
  return meters;
}

/**
 * bookFor gathers the book of the interval starting at `start`.
 * Ex-ante: the open orders of the interval and the expansion of the standing orders.
 * Ex-post: each meter's metered value becomes an order (export: ask at the owner's
 * standing minimum price, else the feed-in price; import: bid at its standing maximum,
 * else the retail price), capped by the standing order's quantity when it has one. Every
 * meter must have its reading for the interval: billing rests on metered values only.
 */
export function bookFor(state: State, start: number): Book {
  const c = community(state)!;
  const interval = formatInstant(start);
  const config = marketConfig(state, interval);
  if (!config) throw new OpenlecError('E_NO_MARKET', `no market is configured for ${interval} (market.configure)`, { field: 'interval' });
  const network = networkAt(state, interval, c.intervalMinutes);
  const meters = metersOf(state);
  const renewable = (m: MeterRow) => m.technology !== null && RENEWABLE.has(m.technology);
  const place = (m: MeterRow) => ({ node: network.node(m.feeder), renewable: renewable(m) });
  const date = localDateOf(start, c.timeZone);
  const minute = localMinuteOfDay(start, c.timeZone);
  const closes = formatInstant(gateClosure(config, start));
  const standing = new Map<string, StandingOrderRow>();
  for (const s of state.rows('standing_orders') as IterableIterator<unknown> as IterableIterator<StandingOrderRow>) {
    if (!standingApplies(s, date, minute, closes, config)) continue;
    const key = `${s.meter}/${s.side === 'buy' ? 'import' : 'export'}`;
    if ((standing.get(key)?.entry ?? -1) < s.entry) standing.set(key, s);
  }
  const orders: Order[] = [];
  const meterOf = new Map<string, string>();
  const add = (o: Order, meter: string) => {
    orders.push(o);
    meterOf.set(o.id, meter);
  };
  if (config.mode === 'ex-ante') {
    // The interval's orders through the projection's index, in log order.
    for (const r of state.lookup<OrderRow>('orders', 'interval', interval).sort((a, b) => a.entry - b.entry)) {
      if (r.status !== 'open') continue;
      const m = meters.get(`${r.meter}/${r.side === 'buy' ? 'import' : 'export'}`)!;
      add({ id: r.id, side: r.side, quantityWh: r.quantityWh, limitMicroPerKwh: r.limitMicroPerKwh, seq: r.entry, ...place(m), ...(r.conditions ? { conditions: r.conditions } : {}) }, r.meter);
    }
    for (const [key, s] of standing) {
      if (s.quantityWh === null) continue;
      add({ id: s.id, side: s.side, quantityWh: s.quantityWh, limitMicroPerKwh: s.limitMicroPerKwh, seq: s.entry, ...place(meters.get(key)!), ...(s.conditions ? { conditions: s.conditions } : {}) }, s.meter);
    }
  } else {
    const k = dayIntervals(localDay(date, c.timeZone), c.intervalMinutes).indexOf(start);
    const day = readingsOfDay(state, meters, date);
    let i = 0;
    for (const [key, m] of meters) {
      const wh = day[i++]?.[k];
      if (wh === null || wh === undefined) {
        throw new OpenlecError('E_READINGS_MISSING', `meter ${m.meter} (${m.direction}) has no reading for ${interval}: ex-post matching waits for the DSO's data`, { field: 'interval', details: { meter: m.meter } });
      }
      const s = standing.get(key);
      const quantityWh = s?.quantityWh == null ? wh : Math.min(wh, s.quantityWh);
      if (quantityWh === 0) continue;
      const sideOf = m.direction === 'export' ? 'sell' : 'buy';
      const limit = s?.limitMicroPerKwh ?? (sideOf === 'sell' ? config.feedInMicroPerKwh : config.retailMicroPerKwh);
      // Built directly (no spread): a book of a large community holds thousands of these.
      const o: Order = { id: key, side: sideOf, quantityWh, limitMicroPerKwh: limit, seq: s?.entry ?? m.entry, node: network.node(m.feeder), renewable: renewable(m) };
      add(s?.conditions ? { ...o, conditions: s.conditions } : o, m.meter);
    }
  }
  return { interval, start, config, network, orders, meterOf };
}

/**
 * The body of market.clear: what the clearing of a book gives. The trades themselves are
 * leaves of a Merkle tree (RFC 9162 hashing of their canonical JSON) whose root is in the
 * body, so an entry stays small whatever the book, and each trade can be proved.
 */
export interface ClearingBody extends ClearingSummary {
  trades: number;
  tradesRoot: string;
}

export function tradeRecords(book: Book, c: BookClearing): TradeRecord[] {
  return c.trades.map((t) => ({
    buy: t.buyId, sell: t.sellId, buyer: book.meterOf.get(t.buyId)!, seller: book.meterOf.get(t.sellId)!, wh: t.quantityWh, price: t.buyerPriceMicroPerKwh,
    sellerPrice: t.sellerPriceMicroPerKwh, fee: t.feeMicroPerKwh, amount: t.amountMicro, proceeds: t.proceedsMicro, feeAmount: t.feeAmountMicro,
  }));
}

/**
 * tradeRecordJson writes a trade record in RFC 8785 canonical form without the general
 * encoder (keys in code-point order, integers as is, strings as JSON.stringify writes
 * them): the leaves of every clearing go through here. A property test holds it equal
 * to canonicalJson.
 */
export function tradeRecordJson(r: TradeRecord): string {
  for (const k of INTEGER_FIELDS) if (!Number.isSafeInteger(r[k])) return canonicalJson(r);
  return `{"amount":${r.amount},"buy":${JSON.stringify(r.buy)},"buyer":${JSON.stringify(r.buyer)},"fee":${r.fee},"feeAmount":${r.feeAmount},"price":${r.price},"proceeds":${r.proceeds},"sell":${JSON.stringify(r.sell)},"seller":${JSON.stringify(r.seller)},"sellerPrice":${r.sellerPrice},"wh":${r.wh}}`;
}
const INTEGER_FIELDS = ['amount', 'fee', 'feeAmount', 'price', 'proceeds', 'sellerPrice', 'wh'] as const;

/** tradesTree is the Merkle tree of the trade records (or of their canonical texts), in clearing order. */
export function tradesTree(records: readonly TradeRecord[] | readonly string[]): MemoryTree {
  const tree = new MemoryTree();
  for (const r of records) tree.appendLeaf(leafHash(utf8(typeof r === 'string' ? r : tradeRecordJson(r))));
  return tree;
}

/** recordsText is the canonical JSON array of the trade records, as a clearing keeps them. */
export const recordsText = (texts: readonly string[]) => `[${texts.join(',')}]`;

type Cleared = { book: Book; clearing: BookClearing; records: TradeRecord[]; texts: string[]; body: ClearingBody };

/**
 * Clearings computed by clearAt, kept per State while no table that a book reads
 * changes: a book depends neither on other intervals' clearings nor on the participants'
 * nonces. When the operator clears a day's books and then appends them, market.clear's
 * apply finds each one here instead of clearing the same book again. A replay (verify,
 * replicas) starts from a fresh State and recomputes every clearing.
 */
const NOT_READ_BY_BOOKS = ['clearings', 'participants'] as const;
const computed = new WeakMap<State, Map<number, { revision: number; cleared: Cleared }>>();

/**
 * clearAtOnce is the clearing market.clear's apply checks a body against: the one this
 * process computed with clearAt from the very same state, else a fresh one (not kept: a
 * replay has nobody to reuse it).
 */
export function clearAtOnce(state: State, start: number): Cleared {
  const memo = computed.get(state)?.get(start);
  computed.get(state)?.delete(start);
  if (memo && memo.revision === state.revision(NOT_READ_BY_BOOKS)) return memo.cleared;
  return clearBookAt(state, start);
}

/** clearAt clears the book of an interval as the state machine does, and keeps the result for the append that follows. */
export function clearAt(state: State, start: number): Cleared {
  const cleared = clearBookAt(state, start);
  let memo = computed.get(state);
  if (!memo) computed.set(state, (memo = new Map()));
  if (memo.size >= 512) memo.clear();
  memo.set(start, { revision: state.revision(NOT_READ_BY_BOOKS), cleared });
  return cleared;
}

function clearBookAt(state: State, start: number): Cleared {
  const book = bookFor(state, start);
  const c = clearBook(book.orders, book.network, book.config.mechanism, book.config.kPpm);
  const records = tradeRecords(book, c);
  const texts = records.map(tradeRecordJson);
  const body: ClearingBody = {
    interval: book.interval, mode: book.config.mode, mechanism: c.mechanism, path: c.path, orders: book.orders.length, priceMicroPerKwh: c.priceMicroPerKwh,
    volumeWh: c.volumeWh, feesMicro: c.feesMicro, surplusMicro: c.surplusMicro, trades: records.length, tradesRoot: toHex(merkleRoot(texts.map((t) => leafHash(utf8(t))))),
  };
  return { book, clearing: c, records, texts, body };
}
