import { costMicro } from '../units/index.ts';

/**
 * An order of the local market: `quantityWh` to buy or sell in one delivery interval at a
 * limit price in micro-units per kWh. `seq` orders time priority (log entry order).
 */
export interface Order {
  readonly id: string;
  readonly side: 'buy' | 'sell';
  readonly quantityWh: number;
  readonly limitMicroPerKwh: number;
  readonly seq: number;
  /** Network node of the delivery meter (index in a Network; 0 = beyond). */
  readonly node?: number;
  /** For sell orders: the meter's production is renewable. */
  readonly renewable?: boolean;
  readonly conditions?: Conditions;
}

/**
 * Conditions a participant puts on its counterparts: trade only within a part of the
 * tree (the same connection point, feeder or substation), only with renewable sellers,
 * or only along paths whose network fee is at most a price.
 */
export interface Conditions {
  readonly within?: 'local' | 'feeder' | 'substation';
  readonly renewableOnly?: boolean;
  readonly maxFeeMicroPerKwh?: number;
}

/**
 * A trade: `quantityWh` from the seller to the buyer. The buyer pays `amountMicro` for
 * the energy plus `feeMicro` of network fee; the seller receives `proceedsMicro`.
 */
export interface Trade {
  readonly buyId: string;
  readonly sellId: string;
  readonly quantityWh: number;
  /** Energy price the buyer pays per kWh, before the network fee. */
  readonly buyerPriceMicroPerKwh: number;
  /** Price the seller receives per kWh (differs from the buyer's only under McAfee's reduction). */
  readonly sellerPriceMicroPerKwh: number;
  /** Network fee per kWh for the path between the two meters. */
  readonly feeMicroPerKwh: number;
  readonly amountMicro: number;
  readonly proceedsMicro: number;
  /**
   * The buyer's total is costMicro(q, price + fee) and the fee is that total minus the
   * energy amount: each side's amount is rounded once, so the buyer never pays more than
   * its limit allows and payments = proceeds + fees + surplus exactly.
   */
  readonly feeAmountMicro: number;
}

export interface Clearing {
  readonly trades: Trade[];
  /** Network fees collected for the DSO. */
  readonly feesMicro: number;
  /** The uniform price where the mechanism has one. */
  readonly priceMicroPerKwh: number | null;
  readonly volumeWh: number;
  /** What the market keeps: payments minus proceeds (McAfee's reduction; 0 otherwise). */
  readonly surplusMicro: number;
}

const MAX_KEYED_PRICE = 2 ** 30;

function tie(a: Order, b: Order): number {
  return a.seq - b.seq || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * Bids: highest price first; asks: lowest first; then time priority, then id. Deterministic.
 * Books with integer prices in [0, 2^30) (every recorded book: prices are micro-units per
 * kWh) sort by a stable radix sort of the prices over the orders in time priority, a few
 * linear passes; other books take the comparator.
 */
export function sortBook(orders: readonly Order[]): { bids: Order[]; asks: Order[] } {
  const keyed = keyedBook(orders);
  if (!keyed) {
    const ranked = rankedByTime(orders);
    const bids = ranked.filter((o) => o.side === 'buy' && o.quantityWh > 0).sort((a, b) => b.limitMicroPerKwh - a.limitMicroPerKwh || tie(a, b));
    const asks = ranked.filter((o) => o.side === 'sell' && o.quantityWh > 0).sort((a, b) => a.limitMicroPerKwh - b.limitMicroPerKwh || tie(a, b));
    return { bids, asks };
  }
  const { ranked, bids, asks } = keyed;
  const decode = (at: Int32Array) => {
    const out: Order[] = [];
    for (let k = 0; k < at.length; k++) out.push(ranked[at[k]!]!);
    return out;
  };
  return { bids: decode(bids), asks: decode(asks) };
}

/** rankedByTime is the book in time priority (seq, then id): itself when it already is. */
function rankedByTime(orders: readonly Order[]): readonly Order[] {
  for (let i = 1; i < orders.length; i++) if (tie(orders[i - 1]!, orders[i]!) > 0) return [...orders].sort(tie);
  return orders;
}

/**
 * A book sorted by ranks: `ranked` in time priority, and per side the ranks (indexes into
 * `ranked`) of its orders with a quantity, in priority order: bids highest price first,
 * asks lowest first, equal prices by time rank.
 */
export interface KeyedBook {
  readonly ranked: readonly Order[];
  readonly bids: Int32Array;
  readonly asks: Int32Array;
}

/**
 * keyedBook sorts a book whose prices are integers in [0, 2^30) by a stable radix sort of
 * the prices over the orders in time priority, which is the order of sortBook's comparator
 * (price, then time) in a few linear passes; undefined for a book with another price.
 */
export function keyedBook(orders: readonly Order[]): KeyedBook | undefined {
  const n = orders.length;
  let nb = 0;
  let na = 0;
  let inTime = true;
  for (let i = 0; i < n; i++) {
    const o = orders[i]!;
    const p = o.limitMicroPerKwh;
    if (!(p >= 0 && p < MAX_KEYED_PRICE && Number.isInteger(p))) return undefined;
    if (o.quantityWh > 0) {
      if (o.side === 'buy') nb++;
      else na++;
    }
    if (i > 0 && inTime && tie(orders[i - 1]!, o) > 0) inTime = false;
  }
  const ranked = inTime ? orders : [...orders].sort(tie);
  // Keys ascend in priority: a bid's is MAX - 1 - price, an ask's its price.
  const key = scratchInt32(INT_SLOT.key, n);
  const bids = new Int32Array(nb);
  const asks = new Int32Array(na);
  let b = 0;
  let a = 0;
  let bidLow = MAX_KEYED_PRICE;
  let bidHigh = 0;
  let askLow = MAX_KEYED_PRICE;
  let askHigh = 0;
  for (let r = 0; r < n; r++) {
    const o = ranked[r]!;
    if (!(o.quantityWh > 0)) continue;
    if (o.side === 'buy') {
      const k = MAX_KEYED_PRICE - 1 - o.limitMicroPerKwh;
      key[r] = k;
      bids[b++] = r;
      if (k < bidLow) bidLow = k;
      if (k > bidHigh) bidHigh = k;
    } else {
      const k = o.limitMicroPerKwh;
      key[r] = k;
      asks[a++] = r;
      if (k < askLow) askLow = k;
      if (k > askHigh) askHigh = k;
    }
  }
  return { ranked, bids: radixByKey(bids, key, bidLow, bidHigh), asks: radixByKey(asks, key, askLow, askHigh) };
}

/** The widest radix digit: 2^11 counters of 4 bytes fit in the L1 cache. */
const MAX_DIGIT_BITS = 11;

/** Below this many orders on a side, a numeric sort of keys beats the radix sort's 65,536 counters. */
const RADIX_MIN = 2048;
const RANK_SHIFT = 2 ** 22;

/** radixByKey orders `items` (ranks) by key[item] - low ascending, stably (LSD radix, 16-bit digits). */
function radixByKey(items: Int32Array, key: Int32Array, low: number, high: number): Int32Array {
  const m = items.length;
  if (m < 2) return items;
  if (m < RADIX_MIN && items[m - 1]! < RANK_SHIFT) {
    // Few orders: one Float64Array of key * 2^22 + rank, sorted natively, is the same order
    // (ranks ascend in `items`, and key * 2^22 + rank is exact below 2^52).
    const keys = scratchFloat64(FLOAT_SLOT.smallKeys, m);
    for (let k = 0; k < m; k++) keys[k] = (key[items[k]!]! - low) * RANK_SHIFT + items[k]!;
    keys.sort();
    for (let k = 0; k < m; k++) items[k] = keys[k]! - Math.floor(keys[k]! / RANK_SHIFT) * RANK_SHIFT;
    return items;
  }
  // As few passes as the span needs, each with digits of at most 11 bits: 2,048 counters
  // stay in the cache where 65,536 do not (an 18-bit span of prices: two passes of 9 bits).
  const span = high - low;
  const bits = 32 - Math.clz32(span);
  const passes = Math.max(1, Math.ceil(bits / MAX_DIGIT_BITS));
  const digitBits = Math.max(1, Math.ceil(bits / passes));
  const mask = (1 << digitBits) - 1;
  let src: Int32Array = items;
  let dst: Int32Array = scratchInt32(INT_SLOT.radix, m);
  const count = scratchInt32(INT_SLOT.counts, mask + 1);
  for (let pass = 0, shift = 0; pass < passes; pass++, shift += digitBits) {
    count.fill(0);
    for (let k = 0; k < m; k++) count[((key[src[k]!]! - low) >>> shift) & mask]!++;
    let at = 0;
    for (let d = 0; d <= mask; d++) {
      const c = count[d]!;
      count[d] = at;
      at += c;
    }
    for (let k = 0; k < m; k++) {
      const item = src[k]!;
      dst[count[((key[item]! - low) >>> shift) & mask]!++] = item;
    }
    const t = src;
    src = dst;
    dst = t;
  }
  // After an odd number of passes the order is in the scratch array: copied into the result.
  if (src !== items) items.set(src);
  return items;
}

/**
 * Work arrays kept between calls (grown, never shrunk): a book of a million orders sorts in
 * some ten typed arrays of megabytes, and new ones every clearing make the collector run
 * more than the clearing. Only ever used inside one synchronous call, so never shared.
 */
const scratch: Int32Array[] = [];
/** The work arrays' slots, one per use, so that no two uses inside one call share an array. */
export const INT_SLOT = { key: 0, radix: 1, counts: 2, bidOf: 3, askOf: 4, limit: 5 } as const;
export const FLOAT_SLOT = { size: 0, quantity: 1, smallKeys: 2 } as const;
export function scratchInt32(slot: number, n: number): Int32Array {
  let a = scratch[slot];
  if (!a || a.length < n) scratch[slot] = a = new Int32Array(Math.max(n, 1024));
  return a.subarray(0, n);
}
const scratchF: Float64Array[] = [];
export function scratchFloat64(slot: number, n: number): Float64Array {
  let a = scratchF[slot];
  if (!a || a.length < n) scratchF[slot] = a = new Float64Array(Math.max(n, 1024));
  return a.subarray(0, n);
}

/** A step of the greedy walk: a bid and an ask matched for `quantityWh`. */
export interface Match {
  readonly bid: Order;
  readonly ask: Order;
  readonly quantityWh: number;
  /** Network fee per kWh of the pair's path (0 when the book ignores the network). */
  readonly fee?: number;
}

/**
 * walkCurves matches the sorted curves greedily while the bid price is at least the ask
 * price: the volume it reaches is the welfare-maximising one for divisible quantities.
 */
export function walkCurves(bids: readonly Order[], asks: readonly Order[]): Match[] {
  const matches: Match[] = [];
  let i = 0;
  let j = 0;
  let bidLeft = bids[0]?.quantityWh ?? 0;
  let askLeft = asks[0]?.quantityWh ?? 0;
  while (i < bids.length && j < asks.length && bids[i]!.limitMicroPerKwh >= asks[j]!.limitMicroPerKwh) {
    const q = Math.min(bidLeft, askLeft);
    matches.push({ bid: bids[i]!, ask: asks[j]!, quantityWh: q });
    bidLeft -= q;
    askLeft -= q;
    if (bidLeft === 0 && ++i < bids.length) bidLeft = bids[i]!.quantityWh;
    if (askLeft === 0 && ++j < asks.length) askLeft = asks[j]!.quantityWh;
  }
  return matches;
}

/** trade prices one match; amounts are computed once, so what one side pays the other gets. */
export function trade(m: Match, buyerPrice: number, sellerPrice = buyerPrice): Trade {
  const fee = m.fee ?? 0;
  const amountMicro = costMicro(m.quantityWh, buyerPrice);
  return {
    buyId: m.bid.id, sellId: m.ask.id, quantityWh: m.quantityWh, buyerPriceMicroPerKwh: buyerPrice, sellerPriceMicroPerKwh: sellerPrice,
    feeMicroPerKwh: fee, amountMicro, proceedsMicro: sellerPrice === buyerPrice ? amountMicro : costMicro(m.quantityWh, sellerPrice),
    feeAmountMicro: fee === 0 ? 0 : costMicro(m.quantityWh, buyerPrice + fee) - amountMicro,
  };
}

export function clearing(trades: Trade[], price: number | null): Clearing {
  let volumeWh = 0;
  let surplusMicro = 0;
  let feesMicro = 0;
  for (const t of trades) {
    volumeWh += t.quantityWh;
    surplusMicro += t.amountMicro - t.proceedsMicro;
    feesMicro += t.feeAmountMicro;
  }
  return { trades, feesMicro, priceMicroPerKwh: price, volumeWh, surplusMicro };
}
