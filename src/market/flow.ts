import { invariant } from '../errors.ts';
import type { Network } from './network.ts';
import { type Match, type Order, sortBook } from './order.ts';

/**
 * Welfare-maximising matching under network fees and feeder limits, as a min-cost flow
 * on the feeder tree, exact in integer Wh.
 *
 * Each tree node v has an "up" vertex (energy leaving sellers of v's subtree) and a
 * "down" vertex (energy reaching its buyers). Energy enters at the seller's up vertex at
 * the ask price, climbs child→parent arcs capped by each subtree's export limit, turns
 * down at some node w paying the fee of w's path class, descends parent→child arcs
 * capped by import limits and leaves at the buyer at minus the bid. Because fees never
 * fall with the class, the cheapest turn is the lowest common ancestor, and a flow that
 * would run both ways on an arc can be uncrossed at no extra cost, so capping each
 * direction is the same as capping the net flow. Successive shortest paths (Dijkstra
 * on reduced costs) augment while a path has negative or zero cost, i.e. while some bid
 * still covers an ask plus its fee.
 *
 * The asks (bids) of a node form one convex (concave) curve: only the current step of
 * each curve is an arc, so the graph has O(tree) vertices whatever the number of orders,
 * and each augmentation exhausts a step or fills an arc. Ties break by vertex index and
 * by price-time priority inside a curve, so the matching is deterministic.
 */
export function flowMatch(orders: readonly Order[], network: Network): Match[] {
  const n = network.size;
  const { bids, asks } = sortBook(orders);
  const askCurves = curves(asks, n);
  const bidCurves = curves(bids, n);
  const g = new Graph(2 + 2 * n);
  const S = 0;
  const T = 1;
  const up = (v: number) => 2 + 2 * v;
  const down = (v: number) => 3 + 2 * v;
  const upArc = new Int32Array(n).fill(-1);
  const downArc = new Int32Array(n).fill(-1);
  const turnArc = new Int32Array(n);
  for (let v = 1; v < n; v++) {
    upArc[v] = g.arc(up(v), up(network.parent[v]!), network.exportLimit[v]!, 0);
    downArc[v] = g.arc(down(network.parent[v]!), down(v), network.importLimit[v]!, 0);
  }
  for (let v = 0; v < n; v++) turnArc[v] = g.arc(up(v), down(v), Infinity, network.fees[network.turnClass[v]!]);
  // Curve arcs: cost per Wh is the price in micro per kWh (a common scale factor of 1000).
  const askArc = new Int32Array(n).fill(-1);
  const bidArc = new Int32Array(n).fill(-1);
  for (let v = 0; v < n; v++) {
    if (askCurves[v]!.orders.length > 0) askArc[v] = g.arc(S, up(v), 0, 0);
    if (bidCurves[v]!.orders.length > 0) bidArc[v] = g.arc(down(v), T, 0, 0);
  }
  const refresh = (v: number) => {
    if (askArc[v]! >= 0) askCurves[v]!.setArcs(g, askArc[v]!, 1);
    if (bidArc[v]! >= 0) bidCurves[v]!.setArcs(g, bidArc[v]!, -1);
  };
  for (let v = 0; v < n; v++) refresh(v);

  const potential = g.bellmanFord(S);
  for (;;) {
    const path = g.dijkstra(S, T, potential);
    if (!path) break;
    if (path.cost > 0) break;
    let push = Infinity;
    for (const e of path.arcs) push = Math.min(push, g.cap[e]!);
    invariant(push > 0 && Number.isFinite(push), 'augmenting path without finite positive capacity');
    for (const e of path.arcs) {
      g.cap[e]! -= push;
      g.cap[e ^ 1]! += push;
    }
    // Curve arcs are refilled from their curves: a step may be exhausted or reopened.
    for (const e of path.arcs) {
      const pair = e & ~1;
      const v = g.owner[pair >> 1]!;
      if (v < 0) continue;
      const c = g.from[pair] === S ? askCurves[v]! : bidCurves[v]!;
      c.filled += e === pair ? push : -push;
      refresh(v);
    }
  }

  return decompose(network, askCurves, bidCurves, (v) => (v === 0 ? 0 : g.cap[upArc[v]! ^ 1]!), (v) => (v === 0 ? 0 : g.cap[downArc[v]! ^ 1]!), (v) => g.cap[turnArc[v]! ^ 1]!);
}

/**
 * A curve: the orders of one side at one node, in priority order, and how much of it is
 * taken. Consecutive orders at one price form one step, so a node's curve costs one
 * augmentation per price level, not per order.
 */
class Curve {
  readonly orders: Order[] = [];
  readonly cum: number[] = [0];
  private readonly stepPrice: number[] = [];
  private readonly stepCum: number[] = [0];
  filled = 0;
  private step = 0;

  add(o: Order): void {
    this.orders.push(o);
    const total = this.cum[this.cum.length - 1]! + o.quantityWh;
    this.cum.push(total);
    if (this.stepPrice.length > 0 && this.stepPrice[this.stepPrice.length - 1] === o.limitMicroPerKwh) this.stepCum[this.stepCum.length - 1] = total;
    else {
      this.stepPrice.push(o.limitMicroPerKwh);
      this.stepCum.push(total);
    }
  }

  /** setArcs sets the forward arc to the next step and its reverse to the last taken step; sign is +1 for asks, -1 for bids. */
  setArcs(g: Graph, arc: number, sign: 1 | -1): void {
    const { stepCum: cum, stepPrice: price } = this;
    while (this.step > 0 && cum[this.step]! > this.filled) this.step--;
    while (this.step < price.length && cum[this.step + 1]! <= this.filled) this.step++;
    const k = this.step;
    if (k < price.length) {
      g.cap[arc] = cum[k + 1]! - this.filled;
      g.cost[arc] = sign * price[k]!;
    } else {
      g.cap[arc] = 0;
      g.cost[arc] = 0;
    }
    const back = this.filled > cum[k]! ? k : k - 1;
    if (back >= 0 && this.filled > 0) {
      g.cap[arc ^ 1] = this.filled - cum[back]!;
      g.cost[arc ^ 1] = -sign * price[back]!;
    } else {
      g.cap[arc ^ 1] = 0;
      g.cost[arc ^ 1] = 0;
    }
  }

  /** taken lists the orders with the Wh taken from each, in priority order. */
  taken(): Packet[] {
    const out: Packet[] = [];
    for (let k = 0; k < this.orders.length && this.cum[k]! < this.filled; k++) out.push({ order: this.orders[k]!, wh: Math.min(this.filled, this.cum[k + 1]!) - this.cum[k]! });
    return out;
  }
}

function curves(sorted: readonly Order[], n: number): Curve[] {
  const out = Array.from({ length: n }, () => new Curve());
  for (const o of sorted) out[o.node ?? 0]!.add(o);
  return out;
}

interface Packet {
  readonly order: Order;
  wh: number;
}

/** A FIFO of packets that can hand out any amount, splitting the packet at its head. */
class PacketQueue {
  private readonly items: Packet[] = [];
  private head = 0;
  push(...ps: Packet[]): void {
    for (const p of ps) if (p.wh > 0) this.items.push({ order: p.order, wh: p.wh });
  }
  take(wh: number): Packet[] {
    const out: Packet[] = [];
    while (wh > 0) {
      const p = this.items[this.head];
      invariant(p, 'flow decomposition ran out of energy');
      const x = Math.min(wh, p.wh);
      out.push({ order: p.order, wh: x });
      p.wh -= x;
      wh -= x;
      if (p.wh === 0) this.head++;
    }
    return out;
  }
}

/**
 * decompose turns node-level flows into seller-buyer matches: bottom-up, each node's
 * sellers and the energy climbing from its children either turn down at the node or
 * climb on; top-down, the energy turning at a node and the energy descending into it
 * serve its own buyers first and then its children, in index order.
 */
function decompose(network: Network, asks: Curve[], bids: Curve[], upFlow: (v: number) => number, downFlow: (v: number) => number, turnFlow: (v: number) => number): Match[] {
  const n = network.size;
  const children: number[][] = Array.from({ length: n }, () => []);
  for (let v = 1; v < n; v++) children[network.parent[v]!]!.push(v);
  const byDepth = Array.from({ length: n }, (_, v) => v).sort((a, b) => (a === 0 ? -1 : b === 0 ? 1 : network.depth[a]! - network.depth[b]!) || a - b);
  const climbing: Packet[][] = Array.from({ length: n }, () => []);
  const turning: Packet[][] = Array.from({ length: n }, () => []);
  for (let i = n - 1; i >= 0; i--) {
    const v = byDepth[i]!;
    const q = new PacketQueue();
    q.push(...asks[v]!.taken());
    for (const c of children[v]!) q.push(...climbing[c]!);
    turning[v] = q.take(turnFlow(v));
    climbing[v] = q.take(upFlow(v));
  }
  const descending: Packet[][] = Array.from({ length: n }, () => []);
  const matches: Match[] = [];
  for (const v of byDepth) {
    const q = new PacketQueue();
    q.push(...turning[v]!, ...descending[v]!);
    for (const b of bids[v]!.taken()) {
      for (const p of q.take(b.wh)) matches.push({ bid: b.order, ask: p.order, quantityWh: p.wh, fee: network.fee(p.order.node ?? 0, b.order.node ?? 0) });
    }
    for (const c of children[v]!) descending[c] = q.take(downFlow(c));
  }
  return matches;
}

/** A residual graph in arc pairs (e, e ^ 1); `owner` marks curve arc pairs with their node. */
class Graph {
  from: number[] = [];
  to: number[] = [];
  cap: number[] = [];
  cost: number[] = [];
  owner: number[] = [];
  readonly out: number[][];

  constructor(readonly vertices: number) {
    this.out = Array.from({ length: vertices }, () => []);
  }

  arc(a: number, b: number, cap: number, cost: number): number {
    const e = this.to.length;
    this.from.push(a, b);
    this.to.push(b, a);
    this.cap.push(cap, 0);
    this.cost.push(cost, -cost);
    // Curve arcs leave the source (asks of node (b - 2) / 2) or enter the sink (bids of node (a - 3) / 2).
    this.owner.push(a === 0 ? (b - 2) >> 1 : b === 1 ? (a - 3) >> 1 : -1);
    this.out[a]!.push(e);
    this.out[b]!.push(e + 1);
    return e;
  }

  /** bellmanFord gives the starting potentials (shortest distances from s; the graph may have negative arcs but no negative cycle). */
  bellmanFord(s: number): Float64Array {
    const d = new Float64Array(this.vertices).fill(Infinity);
    d[s] = 0;
    for (let round = 0; round < this.vertices; round++) {
      let changed = false;
      for (let e = 0; e < this.to.length; e++) {
        if (this.cap[e]! > 0 && d[this.from[e]!]! + this.cost[e]! < d[this.to[e]!]!) {
          d[this.to[e]!] = d[this.from[e]!]! + this.cost[e]!;
          changed = true;
        }
      }
      if (!changed) break;
    }
    for (let v = 0; v < this.vertices; v++) if (d[v] === Infinity) d[v] = 0;
    return d;
  }

  /**
   * dijkstra finds a cheapest s-t path on reduced costs and updates the potentials;
   * returns the arcs and the path's true cost, or undefined when t is unreachable.
   */
  dijkstra(s: number, t: number, potential: Float64Array): { arcs: number[]; cost: number } | undefined {
    const V = this.vertices;
    const dist = new Float64Array(V).fill(Infinity);
    const via = new Int32Array(V).fill(-1);
    const done = new Uint8Array(V);
    const heap = new MinHeap();
    dist[s] = 0;
    heap.push(0, s);
    while (heap.size > 0) {
      const [d, v] = heap.pop();
      if (done[v]) continue;
      done[v] = 1;
      for (const e of this.out[v]!) {
        if (this.cap[e]! <= 0) continue;
        const w = this.to[e]!;
        const nd = d + this.cost[e]! + potential[v]! - potential[w]!;
        if (nd < dist[w]! && !done[w]) {
          dist[w] = nd;
          via[w] = e;
          heap.push(nd, w);
        }
      }
    }
    if (dist[t] === Infinity) return undefined;
    const cost = dist[t]! - potential[s]! + potential[t]!;
    for (let v = 0; v < V; v++) if (dist[v] !== Infinity) potential[v]! += dist[v]!;
    const arcs: number[] = [];
    for (let v = t; v !== s; v = this.from[via[v]!]!) arcs.push(via[v]!);
    return { arcs: arcs.reverse(), cost };
  }
}

class MinHeap {
  private readonly keys: number[] = [];
  private readonly vals: number[] = [];
  get size(): number {
    return this.keys.length;
  }
  push(k: number, v: number): void {
    const { keys, vals } = this;
    let i = keys.length;
    keys.push(k);
    vals.push(v);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (keys[p]! < k || (keys[p] === k && vals[p]! <= v)) break;
      keys[i] = keys[p]!;
      vals[i] = vals[p]!;
      i = p;
    }
    keys[i] = k;
    vals[i] = v;
  }
  pop(): [number, number] {
    const { keys, vals } = this;
    const top: [number, number] = [keys[0]!, vals[0]!];
    const k = keys.pop()!;
    const v = vals.pop()!;
    const n = keys.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && (keys[c + 1]! < keys[c]! || (keys[c + 1] === keys[c] && vals[c + 1]! < vals[c]!))) c++;
        if (k < keys[c]! || (k === keys[c] && v <= vals[c]!)) break;
        keys[i] = keys[c]!;
        vals[i] = vals[c]!;
        i = c;
      }
      keys[i] = k;
      vals[i] = v;
    }
    return top;
  }
}
