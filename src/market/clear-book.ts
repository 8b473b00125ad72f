import { OpenlecError } from '../errors.ts';
import { flowMatch } from './flow.ts';
import { clearContinuous, clearMcAfee, clearUniform } from './mechanisms.ts';
import { Flows, type Network, type PathClass } from './network.ts';
import { clearing, type Clearing, type Match, type Order, sortBook, trade, type Trade, walkCurves } from './order.ts';

export const MECHANISMS = ['uniform', 'midpoint', 'mcafee', 'continuous'] as const;
export type Mechanism = (typeof MECHANISMS)[number];

/**
 * How a book was matched:
 * - fast: fees are the same on every path, no order has conditions and the greedy walk
 *   of the sorted curves breaks no limit (the common case; one sort and one pass);
 * - flow: welfare-maximising min-cost flow on the feeder tree (path-dependent fees or
 *   binding limits);
 * - walk: some order has conditions; bids in price-time priority take the cheapest
 *   eligible ask plus fee with room on the path (the Walenstadt rule), within limits;
 * - sequential: the continuous book replayed in arrival order on the network.
 */
export type MatchPath = 'fast' | 'flow' | 'walk' | 'sequential';

export interface BookClearing extends Clearing {
  readonly mechanism: Mechanism;
  readonly path: MatchPath;
}

/**
 * clearBook clears one interval's book on a network with a mechanism. Every trade is
 * individually rational including the fee (price + fee <= bid, proceeds >= ask), every
 * order trades at most its quantity, subtree net flows stay within the limits, and the
 * buyers' payments equal the sellers' proceeds plus fees plus the market's surplus.
 *
 * Prices: uniform takes one price A + k (B - A) between the highest matched ask A and the
 * lowest matched bid net of its fee B, which is individually rational for all. When
 * path-dependent fees or limits leave no single such price (B < A), each pair is priced
 * by the same rule on its own ask and net bid. Midpoint prices each pair at the middle of
 * its ask and net bid. McAfee's reduction needs one market: on the fast path it runs as
 * is; on the network paths it falls back to the uniform rule at k = 1/2.
 */
export function clearBook(orders: readonly Order[], network: Network, mechanism: Mechanism, kPpm = 500_000): BookClearing {
  if (!Number.isSafeInteger(kPpm) || kPpm < 0 || kPpm > 1_000_000) throw new OpenlecError('E_PRICE_RULE', `k must be in 0..1,000,000 ppm, got ${kPpm}`, { field: 'kPpm' });
  const conditioned = orders.some((o) => hasConditions(o));
  if (network.flatFees && !conditioned) {
    const fast = clearFlat(orders, network.fees.local, mechanism, kPpm);
    if (!network.limited || !limitViolation(fast.trades, orders, network)) return { ...fast, mechanism, path: 'fast' };
  }
  if (mechanism === 'continuous') return { ...clearing(sequential(orders, network), null), mechanism, path: 'sequential' };
  const matches = conditioned ? walk(orders, network) : flowMatch(orders, network);
  const rule = mechanism === 'mcafee' ? 500_000 : kPpm;
  return { ...price(matches, mechanism === 'midpoint' ? 'midpoint' : 'uniform', rule), mechanism, path: conditioned ? 'walk' : 'flow' };
}

function hasConditions(o: Order): boolean {
  const c = o.conditions;
  return !!c && (c.within !== undefined || c.renewableOnly === true || c.maxFeeMicroPerKwh !== undefined);
}

/** clearFlat runs a mechanism on the book with every bid lowered by the one fee, then adds the fee back to the buyers. */
function clearFlat(orders: readonly Order[], fee: number, mechanism: Mechanism, kPpm: number): Clearing {
  const rule = mechanism === 'midpoint' ? 'midpoint' : 'uniform';
  if (fee === 0) {
    if (mechanism === 'mcafee') return clearMcAfee(orders);
    if (mechanism === 'continuous') return clearContinuous(orders);
    // The walk's last match holds the highest ask and the lowest bid, so the uniform rule
    // is clearUniform's price: its keyed walk, without curves of orders or match objects.
    if (rule === 'uniform') return clearUniform(orders, kPpm);
    const { bids, asks } = sortBook(orders);
    return price(walkCurves(bids, asks), rule, kPpm);
  }
  const byId = new Map<string, Order>();
  const adjusted = orders.map((o) => {
    byId.set(o.id, o);
    return o.side === 'sell' ? o : { ...o, limitMicroPerKwh: o.limitMicroPerKwh - fee };
  });
  let c: Clearing;
  if (mechanism === 'mcafee') c = clearMcAfee(adjusted);
  else if (mechanism === 'continuous') c = clearContinuous(adjusted);
  else {
    const { bids, asks } = sortBook(adjusted);
    return price(walkCurves(bids, asks).map((m) => ({ ...m, bid: byId.get(m.bid.id)!, fee })), rule, kPpm);
  }
  return clearing(
    c.trades.map((t) => trade({ bid: byId.get(t.buyId)!, ask: byId.get(t.sellId)!, quantityWh: t.quantityWh, fee }, t.buyerPriceMicroPerKwh, t.sellerPriceMicroPerKwh)),
    c.priceMicroPerKwh,
  );
}

/** price applies a price rule to matches that each satisfy ask + fee <= bid. */
function price(matches: readonly Match[], rule: 'uniform' | 'midpoint', kPpm: number): Clearing {
  const net = (m: Match) => m.bid.limitMicroPerKwh - (m.fee ?? 0);
  const at = (a: number, b: number) => a + Math.floor(((b - a) * kPpm) / 1_000_000);
  if (rule === 'midpoint') return clearing(matches.map((m) => trade(m, Math.floor((m.ask.limitMicroPerKwh + net(m)) / 2))), null);
  let A = -Infinity;
  let B = Infinity;
  for (const m of matches) {
    A = Math.max(A, m.ask.limitMicroPerKwh);
    B = Math.min(B, net(m));
  }
  if (matches.length === 0) return clearing([], null);
  if (A <= B) {
    const p = at(A, B);
    return clearing(matches.map((m) => trade(m, p)), p);
  }
  return clearing(matches.map((m) => trade(m, at(m.ask.limitMicroPerKwh, net(m)))), null);
}

/** limitViolation names the first feeder whose limit the net flows of these trades break, if any. */
export function limitViolation(trades: readonly Trade[], orders: readonly Order[], network: Network): ReturnType<Flows['violation']> {
  const node = new Map(orders.map((o) => [o.id, o.node ?? 0]));
  const flows = new Flows(network);
  for (const t of trades) flows.add(node.get(t.sellId)!, node.get(t.buyId)!, t.quantityWh);
  return flows.violation();
}

/** eligible says whether a bid and an ask may trade along a path of class `cls` and fee `fee`. */
export function eligible(bid: Order, ask: Order, cls: PathClass, fee: number): boolean {
  return allows(bid, cls, fee) && allows(ask, cls, fee) && !(bid.conditions?.renewableOnly && !ask.renewable);
}

const WITHIN: Record<PathClass, number> = { local: 0, feeder: 1, substation: 2, beyond: 3 };

function allows(o: Order, cls: PathClass, fee: number): boolean {
  const c = o.conditions;
  if (!c) return true;
  if (c.within !== undefined && WITHIN[cls] > WITHIN[c.within]) return false;
  return c.maxFeeMicroPerKwh === undefined || fee <= c.maxFeeMicroPerKwh;
}

/**
 * walk: bids in price-time priority each take the cheapest eligible ask plus fee that has
 * room on its path, as long as the bid covers it. Asks are queued per node and
 * renewable flag, so a bid looks at one head per queue.
 */
function walk(orders: readonly Order[], network: Network): Match[] {
  const { bids, asks } = sortBook(orders);
  const queues = new Map<string, { node: number; renewable: boolean; asks: Order[]; head: number; left: number }>();
  for (const a of asks) {
    const key = `${a.node ?? 0}/${a.renewable ? 1 : 0}`;
    let q = queues.get(key);
    if (!q) queues.set(key, (q = { node: a.node ?? 0, renewable: !!a.renewable, asks: [], head: 0, left: a.quantityWh }));
    q.asks.push(a);
  }
  const list = [...queues.values()];
  const flows = new Flows(network);
  const matches: Match[] = [];
  for (const bid of bids) {
    const bn = bid.node ?? 0;
    let left = bid.quantityWh;
    while (left > 0) {
      let best: (typeof list)[number] | undefined;
      let bestScore = Infinity;
      let bestRoom = 0;
      for (const q of list) {
        const ask = q.asks[q.head];
        if (!ask) continue;
        const cls = network.pathClass(q.node, bn);
        const fee = network.fees[cls];
        const score = ask.limitMicroPerKwh + fee;
        if (score > bid.limitMicroPerKwh || !eligible(bid, ask, cls, fee)) continue;
        if (best && (score > bestScore || (score === bestScore && !before(ask, best.asks[best.head]!)))) continue;
        const room = flows.room(q.node, bn);
        if (room <= 0) continue;
        best = q;
        bestScore = score;
        bestRoom = room;
      }
      if (!best) break;
      const ask = best.asks[best.head]!;
      const x = Math.min(left, best.left, bestRoom);
      matches.push({ bid, ask, quantityWh: x, fee: bestScore - ask.limitMicroPerKwh });
      flows.add(best.node, bn, x);
      left -= x;
      best.left -= x;
      if (best.left === 0) {
        best.head++;
        best.left = best.asks[best.head]?.quantityWh ?? 0;
      }
    }
  }
  return matches;
}

function before(a: Order, b: Order): boolean {
  return a.seq < b.seq || (a.seq === b.seq && a.id < b.id);
}

/**
 * sequential: the continuous book on the network. Orders arrive in `seq` order; an
 * incoming order trades with the resting order of the other side that gives it the best
 * price net of the path's fee, if eligible and with room on the path, at the resting
 * order's price (a resting bid's price is net of the fee for the seller).
 */
function sequential(orders: readonly Order[], network: Network): Trade[] {
  const resting: Order[] = [];
  const left = new Map<string, number>();
  const flows = new Flows(network);
  const trades: Trade[] = [];
  for (const incoming of [...orders].sort((a, b) => (before(a, b) ? -1 : 1))) {
    let rest = incoming.quantityWh;
    while (rest > 0) {
      let best: Order | undefined;
      let bestValue = Infinity;
      let bestFee = 0;
      let bestRoom = 0;
      for (const r of resting) {
        if (r.side === incoming.side || left.get(r.id) === 0) continue;
        const [bid, ask] = incoming.side === 'buy' ? [incoming, r] : [r, incoming];
        const cls = network.pathClass(ask.node ?? 0, bid.node ?? 0);
        const fee = network.fees[cls];
        if (ask.limitMicroPerKwh + fee > bid.limitMicroPerKwh || !eligible(bid, ask, cls, fee)) continue;
        // For a buyer, the cost of the ask plus fee; for a seller, minus what the bid leaves after the fee.
        const value = incoming.side === 'buy' ? r.limitMicroPerKwh + fee : fee - r.limitMicroPerKwh;
        if (value > bestValue || (value === bestValue && best && !before(r, best))) continue;
        const room = flows.room(ask.node ?? 0, bid.node ?? 0);
        if (room <= 0) continue;
        best = r;
        bestValue = value;
        bestFee = fee;
        bestRoom = room;
      }
      if (!best) break;
      const [bid, ask] = incoming.side === 'buy' ? [incoming, best] : [best, incoming];
      const x = Math.min(rest, left.get(best.id)!, bestRoom);
      const energyPrice = best.side === 'sell' ? best.limitMicroPerKwh : best.limitMicroPerKwh - bestFee;
      trades.push(trade({ bid, ask, quantityWh: x, fee: bestFee }, energyPrice));
      flows.add(ask.node ?? 0, bid.node ?? 0, x);
      rest -= x;
      left.set(best.id, left.get(best.id)! - x);
    }
    if (rest > 0) {
      resting.push(incoming);
      left.set(incoming.id, rest);
    }
  }
  return trades;
}
