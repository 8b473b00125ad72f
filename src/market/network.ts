import { OpenlecError } from '../errors.ts';

/**
 * The network a book clears on: the feeder tree, the DSO's fees by path and the limits
 * of one interval. Node 0 is "beyond": the rest of the grid, parent of every root of the
 * tree and home of meters that hang on no known feeder.
 *
 * Path classes follow the depth of the lowest common ancestor: roots (depth 0) are
 * substations, their children (depth 1) feeders, anything deeper a connection point.
 * Two meters whose lowest common ancestor is a feeder trade "feeder"; under different
 * substations, or with a meter on no feeder, "beyond".
 */
export const PATH_CLASSES = ['local', 'feeder', 'substation', 'beyond'] as const;
export type PathClass = (typeof PATH_CLASSES)[number];

export type FeeSchedule = Readonly<Record<PathClass, number>>;
export const NO_FEES: FeeSchedule = { local: 0, feeder: 0, substation: 0, beyond: 0 };

/** A node of the tree as the network needs it; limits are in Wh for the interval, null when none. */
export interface NetworkNode {
  readonly id: string;
  readonly parent: string | null;
  readonly importLimitWh: number | null;
  readonly exportLimitWh: number | null;
}

export class Network {
  /** Parent index of each node; -1 for node 0 (beyond). */
  readonly parent: Int32Array;
  readonly depth: Int32Array;
  /** Path class of a lowest common ancestor at each node. */
  readonly turnClass: PathClass[];
  /** Max net export / import of each node's subtree in Wh (Infinity when unlimited). */
  readonly exportLimit: Float64Array;
  readonly importLimit: Float64Array;
  readonly ids: string[];
  private readonly index = new Map<string, number>();
  /** True when every path class costs the same: the fee cannot change who trades with whom. */
  readonly flatFees: boolean;
  readonly limited: boolean;

  constructor(nodes: readonly NetworkNode[], readonly fees: FeeSchedule = NO_FEES) {
    for (let k = 1; k < PATH_CLASSES.length; k++) {
      if (fees[PATH_CLASSES[k]!] < fees[PATH_CLASSES[k - 1]!]) {
        throw new OpenlecError('E_TARIFF_ORDER', `the ${PATH_CLASSES[k]} fee must not be below the ${PATH_CLASSES[k - 1]} fee`, { field: `feesMicroPerKwh.${PATH_CLASSES[k]}` });
      }
    }
    const n = nodes.length + 1;
    this.parent = new Int32Array(n);
    this.depth = new Int32Array(n);
    this.exportLimit = new Float64Array(n).fill(Infinity);
    this.importLimit = new Float64Array(n).fill(Infinity);
    this.ids = ['', ...nodes.map((x) => x.id)];
    this.turnClass = ['beyond'];
    nodes.forEach((x, k) => this.index.set(x.id, k + 1));
    this.parent[0] = -1;
    let limited = false;
    // Parents are defined before children in the log, but callers may pass any order: resolve depth recursively.
    const depthOf = (k: number, seen: number): number => {
      if (k === 0) return -1;
      if (seen > n) throw new OpenlecError('E_FEEDER_CYCLE', `the feeder tree has a cycle at "${this.ids[k]}"`, { field: 'parent' });
      return depthOf(this.parent[k]!, seen + 1) + 1;
    };
    nodes.forEach((x, k) => {
      const p = x.parent === null ? 0 : this.index.get(x.parent);
      if (p === undefined) throw new OpenlecError('E_UNKNOWN_FEEDER', `parent feeder "${x.parent}" of "${x.id}" is not defined`, { field: 'parent' });
      this.parent[k + 1] = p;
      if (x.exportLimitWh !== null) this.exportLimit[k + 1] = x.exportLimitWh;
      if (x.importLimitWh !== null) this.importLimit[k + 1] = x.importLimitWh;
      limited ||= x.exportLimitWh !== null || x.importLimitWh !== null;
    });
    for (let k = 1; k < n; k++) {
      this.depth[k] = depthOf(k, 0);
      this.turnClass.push(this.depth[k] === 0 ? 'substation' : this.depth[k] === 1 ? 'feeder' : 'local');
    }
    this.flatFees = PATH_CLASSES.every((c) => fees[c] === fees.local);
    this.limited = limited;
  }

  get size(): number {
    return this.parent.length;
  }

  /** node returns the index of a feeder id, or 0 (beyond) for null. */
  node(id: string | null): number {
    if (id === null) return 0;
    const k = this.index.get(id);
    if (k === undefined) throw new OpenlecError('E_UNKNOWN_FEEDER', `feeder "${id}" is not defined`, { field: 'feeder' });
    return k;
  }

  lca(a: number, b: number): number {
    while (a !== b) {
      if (this.depth[a]! >= this.depth[b]!) a = this.parent[a]!;
      else b = this.parent[b]!;
      if (a < 0 || b < 0) return 0;
    }
    return a;
  }

  pathClass(a: number, b: number): PathClass {
    return this.turnClass[this.lca(a, b)]!;
  }

  fee(a: number, b: number): number {
    return this.fees[this.pathClass(a, b)];
  }
}

/**
 * Flows tracks the net export of every subtree (sold minus bought through trades) so a
 * matcher can ask how much more may flow from one node to another without breaking a
 * limit, and record it.
 */
export class Flows {
  readonly net: Float64Array;
  constructor(readonly network: Network) {
    this.net = new Float64Array(network.size);
  }

  /** room is the most that may still flow from seller node s to buyer node b. */
  room(s: number, b: number): number {
    const { network: g, net } = this;
    const top = g.lca(s, b);
    let room = Infinity;
    for (let x = s; x !== top; x = g.parent[x]!) room = Math.min(room, g.exportLimit[x]! - net[x]!);
    for (let y = b; y !== top; y = g.parent[y]!) room = Math.min(room, g.importLimit[y]! + net[y]!);
    return Math.max(0, room);
  }

  add(s: number, b: number, wh: number): void {
    const { network: g, net } = this;
    const top = g.lca(s, b);
    for (let x = s; x !== top; x = g.parent[x]!) net[x]! += wh;
    for (let y = b; y !== top; y = g.parent[y]!) net[y]! -= wh;
  }

  /** violation names the first node whose limit the flows break, if any. */
  violation(): { node: string; netWh: number; limitWh: number; direction: 'export' | 'import' } | undefined {
    const { network: g, net } = this;
    for (let x = 1; x < g.size; x++) {
      if (net[x]! > g.exportLimit[x]!) return { node: g.ids[x]!, netWh: net[x]!, limitWh: g.exportLimit[x]!, direction: 'export' };
      if (-net[x]! > g.importLimit[x]!) return { node: g.ids[x]!, netWh: net[x]!, limitWh: g.importLimit[x]!, direction: 'import' };
    }
    return undefined;
  }
}
