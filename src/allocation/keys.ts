import { invariant, OpenlecError } from '../errors.ts';
import { apportion, ApportionScratch, floorMulDiv, lastUnits } from './apportion.ts';

/** Shares are integers in parts per million of the production. */
export const PPM = 1_000_000;

/**
 * Allocation keys of collective self-consumption (shared/specs/allocation-keys.md).
 * - static: fixed shares; allocation_i = min(C_i, a_i P); what a member cannot use is surplus.
 * - prorata: the legal default, pro rata of consumption: min(C_i, P C_i / sum C).
 * - redistribute: fixed shares, and what a member cannot use goes to the others in
 *   proportion to their shares until each is capped or production is used up.
 * - full-dynamic: shares per interval supplied by the operator, capped at C_i.
 * - cascade: ordered groups (rank 0 first); pro rata of consumption inside a group; the
 *   rest to the next group.
 * - spain: beta_i per interval summing to exactly 1; allocated generation beta_i G,
 *   self-consumed min(beta_i G, C_i), the rest is that member's surplus; no redistribution.
 */
export type AllocationKey =
  | { readonly kind: 'static'; readonly sharesPpm: readonly number[] }
  | { readonly kind: 'prorata' }
  | { readonly kind: 'redistribute'; readonly sharesPpm: readonly number[] }
  | { readonly kind: 'full-dynamic'; readonly sharesPpm: Float64Array }
  | { readonly kind: 'cascade'; readonly groups: readonly number[] }
  | { readonly kind: 'spain'; readonly betasPpm: readonly number[] | Float64Array };

export const KEY_KINDS = ['prorata', 'static', 'redistribute', 'full-dynamic', 'cascade', 'spain'] as const;

/** Metered energy of a period: production per interval, consumption per interval and member (index t * members + i), in Wh; NaN where a reading is missing. */
export interface AllocationInput {
  readonly intervals: number;
  readonly members: number;
  readonly production: Float64Array;
  readonly consumption: Float64Array;
}

export interface AllocationResult {
  /** Allocated (self-consumed) energy per interval and member, Wh. */
  readonly allocation: Float64Array;
  /** Production not allocated per interval, Wh; NaN where production is missing. */
  readonly surplus: Float64Array;
  /** For the Spanish key: each member's own surplus (beta_i G - self-consumed), Wh. */
  readonly memberSurplus?: Float64Array;
  /** Member-intervals with no consumption reading: nothing was allocated to them. */
  readonly missingConsumption: number;
  /** Intervals with no production reading: nothing was allocated in them. */
  readonly missingProduction: number;
}

function checkShares(shares: ArrayLike<number>, length: number, field: string, exactSum: boolean, rows = 1): void {
  if (shares.length !== length * rows) throw new OpenlecError('E_KEY_SHARES', `${field} needs ${length * rows} values, got ${shares.length}`, { field });
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let i = 0; i < length; i++) {
      const s = shares[r * length + i]!;
      if (!Number.isSafeInteger(s) || s < 0 || s > PPM) throw new OpenlecError('E_KEY_SHARES', `${field}[${r * length + i}] must be an integer in 0..${PPM} (ppm), got ${s}`, { field });
      sum += s;
    }
    if (exactSum ? sum !== PPM : sum > PPM) {
      throw new OpenlecError('E_KEY_SHARES', `${field}${rows > 1 ? ` (interval ${r})` : ''} sum to ${sum} ppm; they must ${exactSum ? 'be exactly' : 'not exceed'} ${PPM}`, { field });
    }
  }
}

/** validateKey checks a key's parameters against the number of members and intervals. */
export function validateKey(key: AllocationKey, members: number, intervals: number): void {
  switch (key.kind) {
    case 'static':
    case 'redistribute':
      return checkShares(key.sharesPpm, members, 'sharesPpm', false);
    case 'full-dynamic':
      return checkShares(key.sharesPpm, members, 'sharesPpm', false, intervals);
    case 'spain':
      return checkShares(key.betasPpm, members, 'betasPpm', true, key.betasPpm.length === members ? 1 : intervals);
    case 'cascade':
      if (key.groups.length !== members || key.groups.some((g) => !Number.isSafeInteger(g) || g < 0)) {
        throw new OpenlecError('E_KEY_GROUPS', `groups needs one non-negative integer rank per member (${members})`, { field: 'groups' });
      }
      return;
    case 'prorata':
      return;
  }
}

/**
 * allocate runs a key over every interval of a period. It is pure and deterministic;
 * in every interval sum(allocation) + surplus = production and 0 <= allocation_i <= C_i,
 * in integer Wh. A member with no reading gets nothing in that interval, and an interval
 * with no production reading allocates nothing: never an estimate. The allocation is written
 * into `into` when given (an array of a period's size, e.g. the last period's, whose memory
 * is already the process's), else into a new array.
 */
export function allocate(input: AllocationInput, key: AllocationKey, into?: Float64Array): AllocationResult {
  const { intervals: T, members: m, production, consumption } = input;
  if (production.length !== T || consumption.length !== T * m) throw new OpenlecError('E_ALLOC_INPUT', 'production needs one value per interval and consumption one per interval and member', { field: 'input' });
  validateKey(key, m, T);
  if (into && into.length !== T * m) throw new OpenlecError('E_ALLOC_INPUT', `into needs ${T * m} values, got ${into.length}`, { field: 'into' });
  const allocation = into ? into.fill(0) : new Float64Array(T * m);
  const surplus = new Float64Array(T);
  const memberSurplus = key.kind === 'spain' ? new Float64Array(T * m) : undefined;
  const scratch = new ApportionScratch();
  const weights = new Float64Array(m + 1);
  const caps = new Float64Array(m + 1);
  const out = new Float64Array(m + 1);
  const members = new Int32Array(m + 1);
  const everyone = Int32Array.from({ length: m }, (_, i) => i);
  const groups = key.kind === 'cascade' ? cascadeOrder(key.groups).map((g) => Int32Array.from(g)) : [everyone];
  let missingConsumption = 0;

  /**
   * shareCapped gives up to `budget` Wh to the members of `group` that have a reading,
   * weighted by their consumption (pro rata) or by `shares` (redistribution), never above
   * their consumption, and returns what it gave.
   */
  const shareCapped = (row: number, budget: number, group: Int32Array, shares: readonly number[] | null): number => {
    let present = 0;
    let sumC = 0;
    for (let k = 0; k < group.length; k++) {
      const i = group[k]!;
      const c = consumption[row + i]!;
      if (Number.isNaN(c) || c <= 0) continue;
      const w = shares ? shares[i]! : c;
      if (w <= 0) continue;
      members[present++] = i;
      weights[i] = w;
      caps[i] = c;
      sumC += c;
    }
    if (sumC <= budget) {
      for (let k = 0; k < present; k++) allocation[row + members[k]!] = caps[members[k]!]!;
      return sumC;
    }
    // Weighed by consumption no cap is needed: with budget < sum C the D'Hondt threshold
    // stays at or above 1, so no member can pass its consumption.
    apportion(budget, weights, shares ? caps : null, members, present, out, scratch);
    for (let k = 0; k < present; k++) {
      const i = members[k]!;
      invariant(out[i]! <= caps[i]!, 'allocation above consumption');
      allocation[row + i] = out[i]!;
    }
    return budget;
  };
  let missingProduction = 0;

  // Pro rata's own work arrays: the members taking part in an interval, and the count of missing readings.
  const open = new Int32Array(key.kind === 'prorata' ? m : 0);
  const missing = new Float64Array(1);

  for (let t = 0; t < T; t++) {
    const P = production[t]!;
    const row = t * m;
    if (key.kind === 'prorata') {
      const given = prorataInterval(consumption, allocation, row, m, P, open, scratch, missing);
      if (Number.isNaN(P)) {
        missingProduction++;
        surplus[t] = NaN;
      } else surplus[t] = P - given;
      continue;
    }
    for (let i = 0; i < m; i++) if (Number.isNaN(consumption[row + i]!)) missingConsumption++;
    if (Number.isNaN(P)) {
      missingProduction++;
      surplus[t] = NaN;
      continue;
    }
    let given = 0;
    switch (key.kind) {
      case 'redistribute':
        given = shareCapped(row, P, everyone, key.sharesPpm);
        break;
      case 'static':
      case 'full-dynamic':
      case 'spain': {
        // Split P by the shares plus an "unallocated" bucket (m), then cap each part at C_i.
        const shares = key.kind === 'spain' ? key.betasPpm : key.sharesPpm;
        const base = shares.length === m ? 0 : row;
        let sum = 0;
        for (let i = 0; i < m; i++) {
          weights[i] = shares[base + i]!;
          members[i] = i;
          sum += weights[i]!;
        }
        weights[m] = PPM - sum;
        members[m] = m;
        apportion(P, weights, null, members, m + 1, out, scratch);
        for (let i = 0; i < m; i++) {
          const c = consumption[row + i]!;
          const a = Number.isNaN(c) ? 0 : Math.min(c, out[i]!);
          allocation[row + i] = a;
          given += a;
          if (memberSurplus) memberSurplus[row + i] = out[i]! - a;
        }
        break;
      }
      case 'cascade': {
        // Pro rata of consumption inside each group, what is left to the next group.
        let left = P;
        for (const group of groups) {
          left -= shareCapped(row, left, group, null);
          if (left === 0) break;
        }
        given = P - left;
        break;
      }
    }
    surplus[t] = P - given;
  }
  missingConsumption += missing[0]!;
  return { allocation, surplus, ...(memberSurplus ? { memberSurplus } : {}), missingConsumption, missingProduction };
}

/**
 * prorataInterval is shareCapped(row, P, everyone, null) in one pass over the row, without
 * index lists: the same allocation to the unit (the lower quota of D'Hondt, then the last
 * units by priority), written into `allocation` (zero there before), and the interval's
 * missing readings added to missing[0]; it gives nothing when P is missing. It returns what
 * it gave. A function of its own, so that its compiled code is one for every period.
 */
function prorataInterval(consumption: Float64Array, allocation: Float64Array, row: number, m: number, P: number, open: Int32Array, scratch: ApportionScratch, missing: Float64Array): number {
  let sumC = 0;
  let present = 0;
  let absent = 0;
  for (let i = 0; i < m; i++) {
    const c = consumption[row + i]!;
    if (c > 0) {
      sumC += c;
      present++;
    } else if (c !== c) absent++;
  }
  missing[0]! += absent;
  if (Number.isNaN(P) || P === 0 || sumC === 0) return 0;
  if (sumC <= P) {
    for (let i = 0; i < m; i++) {
      const c = consumption[row + i]!;
      if (c > 0) allocation[row + i] = c;
    }
    return sumC;
  }
  let given = 0;
  let k = 0;
  for (let i = 0; i < m; i++) {
    const c = consumption[row + i]!;
    if (c > 0) {
      open[k++] = i;
      const a = floorMulDiv(P, c, sumC);
      allocation[row + i] = a;
      given += a;
    }
  }
  const left = P - given;
  invariant(left >= 0 && left <= present, 'allocation: lower quota exceeds the production');
  lastUnits(left, consumption.subarray(row, row + m), null, open, present, allocation.subarray(row, row + m), scratch);
  return P;
}

/** cascadeOrder groups member indexes by rank, lowest rank first. */
function cascadeOrder(groups: readonly number[]): number[][] {
  const byRank = new Map<number, number[]>();
  groups.forEach((g, i) => {
    if (!byRank.has(g)) byRank.set(g, []);
    byRank.get(g)!.push(i);
  });
  return [...byRank.keys()].sort((a, b) => a - b).map((r) => byRank.get(r)!);
}
