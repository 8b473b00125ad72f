import { OpenlecError } from '../errors.ts';
import { costMicro } from '../units/index.ts';
import { clearing, type Clearing, FLOAT_SLOT, INT_SLOT, type KeyedBook, keyedBook, type Match, type Order, scratchFloat64, scratchInt32, sortBook, trade, type Trade, walkCurves } from './order.ts';

/**
 * Uniform-price double auction (pay as clear). The volume is the welfare-maximising one;
 * everyone trades at one price between the marginal pair's ask a and bid b:
 * p = a + k (b - a) with k in ppm (k = 500,000 is the midpoint), floored. Every matched
 * bid is at least b and every matched ask at most a, so the price is individually
 * rational for all.
 */
export function clearUniform(orders: readonly Order[], kPpm = 500_000): Clearing {
  if (!Number.isSafeInteger(kPpm) || kPpm < 0 || kPpm > 1_000_000) throw new OpenlecError('E_PRICE_RULE', `k must be in 0..1,000,000 ppm, got ${kPpm}`, { field: 'kPpm' });
  const keyed = keyedBook(orders);
  if (keyed) return clearUniformKeyed(keyed, kPpm);
  const { bids, asks } = sortBook(orders);
  const matches = walkCurves(bids, asks);
  const last = matches[matches.length - 1];
  if (!last) return clearing([], null);
  const price = uniformPrice(last.ask.limitMicroPerKwh, last.bid.limitMicroPerKwh, kPpm);
  return clearing(matches.map((m) => trade(m, price)), price);
}

/** small gives a quantity below 2^30 as an int32, which an object holds unboxed; the same number. */
function small(x: number): number {
  return x < 0x40000000 ? x | 0 : x;
}

function uniformPrice(a: number, b: number, kPpm: number): number {
  return a + Math.floor(((b - a) * kPpm) / 1_000_000);
}

/**
 * clearUniformKeyed is clearUniform on a book sorted by ranks: the walk of walkCurves over the
 * ranks, its matches kept as indexes, then the trades priced at once; no curves of orders
 * and no match objects in between. The same trades, in the same order.
 */
function clearUniformKeyed({ ranked, bids, asks }: KeyedBook, kPpm: number): Clearing {
  // The orders' fields in columns by time rank, read once in memory order: the walk below
  // jumps between orders by price, and columns keep those jumps in the cache.
  const n = ranked.length;
  // Prices of a keyed book are below 2^30, so they fit an Int32Array; what is read from a
  // Float64Array is a boxed number when stored in an object, three more objects per trade.
  const size = scratchFloat64(FLOAT_SLOT.size, n);
  const limit = scratchInt32(INT_SLOT.limit, n);
  const id: string[] = new Array<string>(n);
  for (let r = 0; r < n; r++) {
    const o = ranked[r]!;
    size[r] = o.quantityWh;
    limit[r] = o.limitMicroPerKwh;
    id[r] = o.id;
  }
  const nb = bids.length;
  const na = asks.length;
  const most = nb + na;
  const bidOf = scratchInt32(INT_SLOT.bidOf, most);
  const askOf = scratchInt32(INT_SLOT.askOf, most);
  const quantity = scratchFloat64(FLOAT_SLOT.quantity, most);
  let count = 0;
  if (nb > 0 && na > 0) {
    let i = 0;
    let j = 0;
    let bid = bids[0]!;
    let ask = asks[0]!;
    let bidLeft = size[bid]!;
    let askLeft = size[ask]!;
    while (limit[bid]! >= limit[ask]!) {
      const q = Math.min(bidLeft, askLeft);
      bidOf[count] = bid;
      askOf[count] = ask;
      quantity[count++] = q;
      bidLeft -= q;
      askLeft -= q;
      if (bidLeft === 0) {
        if (++i >= nb) break;
        bid = bids[i]!;
        bidLeft = size[bid]!;
      }
      if (askLeft === 0) {
        if (++j >= na) break;
        ask = asks[j]!;
        askLeft = size[ask]!;
      }
    }
  }
  if (count === 0) return clearing([], null);
  const price = uniformPrice(limit[askOf[count - 1]!]!, limit[bidOf[count - 1]!]!, kPpm);
  // Sized once: growing by push copies the array some twenty times for 50,000 trades.
  const trades = new Array<Trade>(count);
  for (let k = 0; k < count; k++) {
    const q = small(quantity[k]!);
    const amountMicro = costMicro(q, price);
    trades[k] = ({
      buyId: id[bidOf[k]!]!, sellId: id[askOf[k]!]!, quantityWh: q, buyerPriceMicroPerKwh: price, sellerPriceMicroPerKwh: price,
      feeMicroPerKwh: 0, amountMicro, proceedsMicro: amountMicro, feeAmountMicro: 0,
    });
  }
  return clearing(trades, price);
}

/**
 * Discriminatory pairing as in the Walenstadt pilot: the highest bid is matched with the
 * cheapest ask, and each pair trades at the midpoint of its own two prices (floored).
 */
export function clearMidpointPairs(orders: readonly Order[]): Clearing {
  const { bids, asks } = sortBook(orders);
  const trades = walkCurves(bids, asks).map((m) => trade(m, Math.floor((m.bid.limitMicroPerKwh + m.ask.limitMicroPerKwh) / 2)));
  return clearing(trades, null);
}

/**
 * McAfee's trade reduction, with 1 Wh as the unit. K is the efficient volume; b_K and s_K
 * the prices of the K-th Wh on each curve, b_{K+1} and s_{K+1} those of the next Wh. If
 * p0 = (b_{K+1} + s_{K+1}) / 2 lies in [s_K, b_K], all K Wh trade at p0. Otherwise the
 * marginal Wh is dropped, buyers pay b_K and sellers receive s_K, and the market keeps
 * the difference: truthful and never in deficit.
 */
export function clearMcAfee(orders: readonly Order[]): Clearing {
  const { bids, asks } = sortBook(orders);
  const matches = walkCurves(bids, asks);
  const last = matches[matches.length - 1];
  if (!last) return clearing([], null);
  const bK = last.bid.limitMicroPerKwh;
  const sK = last.ask.limitMicroPerKwh;
  const bNext = nextPrice(bids, matches, 'bid');
  const sNext = nextPrice(asks, matches, 'ask');
  if (bNext !== undefined && sNext !== undefined) {
    const p0 = Math.floor((bNext + sNext) / 2);
    if (p0 >= sK && p0 <= bK) return clearing(matches.map((m) => trade(m, p0)), p0);
  }
  // Drop the marginal Wh; everyone else trades with buyers paying b_K and sellers getting s_K.
  const reduced: Match[] = matches.map((m, k) => (k === matches.length - 1 ? { ...m, quantityWh: m.quantityWh - 1 } : m)).filter((m) => m.quantityWh > 0);
  return clearing(reduced.map((m) => trade(m, bK, sK)), null);
}

/** nextPrice is the price of the first Wh on a curve beyond the matched volume, if any. */
function nextPrice(curve: readonly Order[], matches: readonly Match[], side: 'bid' | 'ask'): number | undefined {
  const last = matches[matches.length - 1]!;
  const order = side === 'bid' ? last.bid : last.ask;
  const used = matches.filter((m) => (side === 'bid' ? m.bid : m.ask) === order).reduce((s, m) => s + m.quantityWh, 0);
  if (used < order.quantityWh) return order.limitMicroPerKwh;
  return curve[curve.indexOf(order) + 1]?.limitMicroPerKwh;
}

/**
 * A continuous order book with price-time priority: orders arrive in `seq` order; an
 * incoming order trades against the best resting orders of the other side as long as the
 * prices cross, at the resting order's price; its remainder rests.
 */
export function clearContinuous(orders: readonly Order[]): Clearing & { resting: Order[] } {
  const resting: { bids: Order[]; asks: Order[] } = { bids: [], asks: [] };
  const trades: Trade[] = [];
  for (const incoming of [...orders].sort((a, b) => a.seq - b.seq || (a.id < b.id ? -1 : 1))) {
    let left = incoming.quantityWh;
    const book = incoming.side === 'buy' ? resting.asks : resting.bids;
    while (left > 0 && book.length > 0) {
      const best = book[0]!;
      const crosses = incoming.side === 'buy' ? incoming.limitMicroPerKwh >= best.limitMicroPerKwh : incoming.limitMicroPerKwh <= best.limitMicroPerKwh;
      if (!crosses) break;
      const q = Math.min(left, best.quantityWh);
      const m: Match = incoming.side === 'buy' ? { bid: incoming, ask: best, quantityWh: q } : { bid: best, ask: incoming, quantityWh: q };
      trades.push(trade(m, best.limitMicroPerKwh));
      left -= q;
      if (q === best.quantityWh) book.shift();
      else book[0] = { ...best, quantityWh: best.quantityWh - q };
    }
    if (left > 0) {
      const own = incoming.side === 'buy' ? resting.bids : resting.asks;
      own.push({ ...incoming, quantityWh: left });
      // Price priority, then time: stable sort keeps arrival order among equal prices.
      own.sort((a, b) => (incoming.side === 'buy' ? b.limitMicroPerKwh - a.limitMicroPerKwh : a.limitMicroPerKwh - b.limitMicroPerKwh) || a.seq - b.seq);
    }
  }
  return { ...clearing(trades, null), resting: [...resting.bids, ...resting.asks] };
}
