import { invariant } from '../errors.ts';

/**
 * apportion shares `total` integer units (Wh) among members in proportion to their
 * weights, never giving a member more than its cap, by the D'Hondt (Jefferson) divisor
 * method: units go one at a time to the member with the highest w_i / (a_i + 1) that is
 * under its cap, ties to the lower index.
 *
 * Why a divisor method and not largest remainder: units are handed out in one fixed
 * order that does not depend on the total, so a larger total never takes a unit away
 * from anyone (no Alabama paradox): more production never lowers an allocation. Every
 * member gets at least the floor of its exact share, the parts sum exactly to `total`,
 * and with caps it is the "redistribute what a member cannot use, in proportion to the
 * others' shares" rule (water-filling).
 *
 * `members` lists the indexes taking part (count of them); results are written to
 * `out[i]` for those indexes only. Precondition: total <= sum of their caps, and some
 * weight is positive when total > 0. Weights, caps and total are safe integers.
 */
export function apportion(total: number, weights: Float64Array, caps: Float64Array | null, members: Int32Array, count: number, out: Float64Array, scratch: ApportionScratch): void {
  for (let k = 0; k < count; k++) out[members[k]!] = 0;
  if (total === 0) return;
  // Water-filling: members whose proportional share reaches their cap get their cap.
  const open = scratch.open(count);
  let openCount = 0;
  for (let k = 0; k < count; k++) if (weights[members[k]!]! > 0) open[openCount++] = members[k]!;
  let remaining = total;
  for (;;) {
    let w = 0;
    for (let k = 0; k < openCount; k++) w += weights[open[k]!]!;
    invariant(w > 0 || remaining === 0, 'apportion: no weight left for the remaining units');
    if (!caps || remaining === 0) break;
    let kept = 0;
    let capped = false;
    for (let k = 0; k < openCount; k++) {
      const i = open[k]!;
      if (exceeds(remaining, weights[i]!, w, caps[i]!)) {
        out[i] = caps[i]!;
        remaining -= caps[i]!;
        capped = true;
      } else open[kept++] = i;
    }
    openCount = kept;
    if (!capped) break;
  }
  if (remaining === 0) return;
  // Lower quota: every open member gets the floor of its share of what remains.
  let w = 0;
  for (let k = 0; k < openCount; k++) w += weights[open[k]!]!;
  let given = 0;
  for (let k = 0; k < openCount; k++) {
    const i = open[k]!;
    const a = floorMulDiv(remaining, weights[i]!, w);
    out[i] = a;
    given += a;
  }
  let left = remaining - given;
  invariant(left >= 0 && left <= openCount, 'apportion: lower quota exceeds the total');
  if (left === 0) return;
  lastUnits(left, weights, caps, open, openCount, out, scratch);
}

/**
 * lastUnits hands out the `left` units that remain after the lower quota, one at a time by
 * priority w_i / (a_i + 1), ties to the lower index, never above a cap: by selection when
 * that is exact, else by a max-heap of the open members under their cap.
 */
export function lastUnits(left: number, weights: Float64Array, caps: Float64Array | null, open: Int32Array, openCount: number, out: Float64Array, scratch: ApportionScratch): void {
  if (left === 0) return;
  // The sampled path falls back to selection itself when its band misses; when either gives up, the heap decides.
  const selected = openCount >= SAMPLE_MIN ? lastUnitsBySample(left, weights, caps, open, openCount, out, scratch)
    : openCount >= FAST_PATH_MIN && lastUnitsBySelection(left, weights, caps, open, openCount, out, scratch);
  if (selected) return;
  const heap = scratch.heap(openCount);
  let size = 0;
  for (let k = 0; k < openCount; k++) {
    const i = open[k]!;
    if (!caps || out[i]! < caps[i]!) heap[size++] = i;
  }
  const before = (i: number, j: number) => {
    const c = comparePriority(weights[i]!, out[i]!, weights[j]!, out[j]!);
    return c > 0 || (c === 0 && i < j);
  };
  for (let k = (size >> 1) - 1; k >= 0; k--) siftDown(heap, size, k, before);
  while (left > 0) {
    invariant(size > 0, 'apportion: units left but every member is capped');
    const i = heap[0]!;
    out[i] = out[i]! + 1;
    left--;
    if (caps && out[i]! >= caps[i]!) heap[0] = heap[--size]!;
    siftDown(heap, size, 0, before);
  }
}

/** Below this many members the heap is as fast as selection. */
export const FAST_PATH_MIN = 64;

/**
 * lastUnitsBySelection hands out the last `left` units in O(n) when each member gets at
 * most one of them, which is the usual case: it selects the `left` highest priorities
 * w_i / (a_i + 1) with quickselect on doubles. Rounding is monotone, so a strictly lower
 * double is an exactly lower priority; only members whose double equals the threshold
 * are ordered exactly (cross-multiplied, then by index). It gives up, leaving `out`
 * untouched, when a member might deserve a second unit or a tie is not exact; the heap
 * then does the work. Either way the result is the one the definition gives.
 */
export function lastUnitsBySelection(left: number, weights: Float64Array, caps: Float64Array | null, open: Int32Array, n: number, out: Float64Array, scratch: ApportionScratch): boolean {
  const prio = scratch.priorities(n);
  const work = scratch.work(n);
  for (let k = 0; k < n; k++) {
    const i = open[k]!;
    const under = !caps || out[i]! < caps[i]!;
    prio[k] = under ? weights[i]! / (out[i]! + 1) : -1;
  }
  work.set(prio.subarray(0, n));
  const threshold = kthLargest(work, n, left);
  if (threshold <= 0) return false;
  let above = 0;
  let firstTie = -1;
  let ties = 0;
  for (let k = 0; k < n; k++) {
    if (prio[k]! > threshold) above++;
    else if (prio[k] === threshold) {
      ties++;
      if (firstTie < 0) firstTie = k;
    }
  }
  const fromTies = left - above;
  // Ties in doubles must be exact ties for the index order to be the exact order.
  if (ties > 1) {
    const i0 = open[firstTie]!;
    for (let k = firstTie + 1; k < n; k++) {
      if (prio[k] !== threshold) continue;
      const i = open[k]!;
      if (comparePriority(weights[i]!, out[i]!, weights[i0]!, out[i0]!) !== 0) return false;
    }
  }
  // No chosen member may deserve a second unit before the threshold: w / (a + 2) < threshold.
  for (let k = 0; k < n; k++) {
    if (prio[k]! < threshold) continue;
    const i = open[k]!;
    if (caps && out[i]! + 1 >= caps[i]!) continue;
    if (weights[i]! / (out[i]! + 2) >= threshold) return false;
  }
  let tiesTaken = 0;
  for (let k = 0; k < n; k++) {
    const p = prio[k]!;
    if (p > threshold || (p === threshold && tiesTaken++ < fromTies)) out[open[k]!] = out[open[k]!]! + 1;
  }
  return true;
}

/** From this many members the threshold is found from a sample first. */
export const SAMPLE_MIN = 4096;
const SAMPLE = 2048;

/**
 * lastUnitsBySample is lastUnitsBySelection in one pass over the members: it sorts the
 * priorities of an evenly spaced sample, takes a band of them around where the threshold is
 * expected, then counts the members above the band and keeps those inside it, and selects
 * the threshold among the kept ones only. When the threshold is not inside the band (an
 * unlucky sample) it leaves the work to lastUnitsBySelection; either way the result is the
 * one the definition gives, and `out` is untouched when it returns false.
 */
export function lastUnitsBySample(left: number, weights: Float64Array, caps: Float64Array | null, open: Int32Array, n: number, out: Float64Array, scratch: ApportionScratch): boolean {
  const sample = scratch.sample(SAMPLE);
  const stride = n / SAMPLE;
  for (let s = 0; s < SAMPLE; s++) {
    const i = open[Math.floor(s * stride)]!;
    sample[s] = caps === null || out[i]! < caps[i]! ? weights[i]! / (out[i]! + 1) : -1;
  }
  sample.sort();
  // The left-th largest of n is expected at this ascending rank of the sample; the band is
  // at least four standard deviations of that rank (at most sqrt(SAMPLE) / 2) on either side.
  const expected = SAMPLE - (left * SAMPLE) / n;
  const spread = 2 * Math.sqrt(SAMPLE) + 2;
  const loRank = Math.floor(expected - spread);
  const hiRank = Math.ceil(expected + spread);
  const lo = loRank <= 0 ? -Infinity : sample[loRank]!;
  const hi = hiRank >= SAMPLE ? Infinity : sample[hiRank]!;
  const aboveAt = scratch.open2(n);
  const keptAt = scratch.heap(n);
  const kept = scratch.priorities(n);
  let above = 0;
  let inBand = 0;
  // The highest second-unit priority w / (a + 2) of a member that may be chosen (p >= lo)
  // and could take a second unit: a member not chosen has w / (a + 2) < p <= threshold.
  let second = -1;
  for (let k = 0; k < n; k++) {
    const i = open[k]!;
    const a = out[i]!;
    const p = caps === null || a < caps[i]! ? weights[i]! / (a + 1) : -1;
    if (p < lo) continue;
    if (p > hi) aboveAt[above++] = k;
    else {
      keptAt[inBand] = k;
      kept[inBand++] = p;
    }
    if (caps === null || a + 2 <= caps[i]!) {
      const p2 = weights[i]! / (a + 2);
      if (p2 > second) second = p2;
    }
  }
  const need = left - above;
  if (need <= 0 || need > inBand) return lastUnitsBySelection(left, weights, caps, open, n, out, scratch);
  const work = scratch.work(inBand);
  work.set(kept.subarray(0, inBand));
  const threshold = kthLargest(work, inBand, need);
  if (threshold <= 0) return false;
  let bandAbove = 0;
  let ties = 0;
  let firstTie = -1;
  for (let b = 0; b < inBand; b++) {
    if (kept[b]! > threshold) bandAbove++;
    else if (kept[b] === threshold) {
      ties++;
      if (firstTie < 0) firstTie = b;
    }
  }
  const fromTies = need - bandAbove;
  // Ties in doubles must be exact ties for the index order to be the exact order.
  if (ties > 1) {
    const i0 = open[keptAt[firstTie]!]!;
    for (let b = firstTie + 1; b < inBand; b++) {
      if (kept[b] !== threshold) continue;
      const i = open[keptAt[b]!]!;
      if (comparePriority(weights[i]!, out[i]!, weights[i0]!, out[i0]!) !== 0) return false;
    }
  }
  // No chosen member may deserve a second unit before the threshold: w / (a + 2) < threshold.
  if (second >= threshold) return false;
  for (let a = 0; a < above; a++) out[open[aboveAt[a]!]!]! += 1;
  let tiesTaken = 0;
  for (let b = 0; b < inBand; b++) {
    const p = kept[b]!;
    if (p > threshold || (p === threshold && tiesTaken++ < fromTies)) out[open[keptAt[b]!]!]! += 1;
  }
  return true;
}

/** kthLargest returns the k-th largest of a[0..n) (k >= 1), reordering a (Hoare's quickselect). */
function kthLargest(a: Float64Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  const target = k - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! > pivot) i++;
      while (a[j]! < pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return a[target]!;
  }
  return a[target]!;
}

/** Reusable work arrays, so that a month of intervals allocates nothing per interval. */
export class ApportionScratch {
  private openBuf = new Int32Array(0);
  private heapBuf = new Int32Array(0);
  private prioBuf = new Float64Array(0);
  private workBuf = new Float64Array(0);
  priorities(n: number): Float64Array {
    if (this.prioBuf.length < n) this.prioBuf = new Float64Array(n);
    return this.prioBuf;
  }
  work(n: number): Float64Array {
    if (this.workBuf.length < n) this.workBuf = new Float64Array(n);
    return this.workBuf;
  }
  private open2Buf = new Int32Array(0);
  private sampleBuf = new Float64Array(0);
  sample(n: number): Float64Array {
    if (this.sampleBuf.length < n) this.sampleBuf = new Float64Array(n);
    return this.sampleBuf.subarray(0, n);
  }
  open2(n: number): Int32Array {
    if (this.open2Buf.length < n) this.open2Buf = new Int32Array(n);
    return this.open2Buf;
  }
  open(n: number): Int32Array {
    if (this.openBuf.length < n) this.openBuf = new Int32Array(n);
    return this.openBuf;
  }
  heap(n: number): Int32Array {
    if (this.heapBuf.length < n) this.heapBuf = new Int32Array(n);
    return this.heapBuf;
  }
}

function siftDown(heap: Int32Array, size: number, at: number, before: (i: number, j: number) => boolean): void {
  for (;;) {
    const l = 2 * at + 1;
    if (l >= size) return;
    const r = l + 1;
    const c = r < size && before(heap[r]!, heap[l]!) ? r : l;
    if (!before(heap[c]!, heap[at]!)) return;
    const t = heap[c]!;
    heap[c] = heap[at]!;
    heap[at] = t;
    at = c;
  }
}

/** comparePriority compares w1/(a1+1) with w2/(a2+1) exactly (cross-multiplied). */
function comparePriority(w1: number, a1: number, w2: number, a2: number): number {
  const x = w1 * (a2 + 1);
  const y = w2 * (a1 + 1);
  if (x < 2 ** 53 && y < 2 ** 53) return x - y;
  const bx = BigInt(w1) * BigInt(a2 + 1);
  const by = BigInt(w2) * BigInt(a1 + 1);
  return bx === by ? 0 : bx > by ? 1 : -1;
}

/** floorMulDiv is floor(a * b / c) exactly for non-negative safe integers. */
export function floorMulDiv(a: number, b: number, c: number): number {
  const p = a * b;
  if (p < 2 ** 53) {
    let q = Math.floor(p / c);
    // The float quotient can be off by one near an integer: correct it exactly.
    if (q * c > p) q--;
    else if ((q + 1) * c <= p) q++;
    return q;
  }
  return Number((BigInt(a) * BigInt(b)) / BigInt(c));
}

/** exceeds tells whether total * w / W >= cap, exactly. */
function exceeds(total: number, w: number, W: number, cap: number): boolean {
  const x = total * w;
  const y = cap * W;
  if (x < 2 ** 53 && y < 2 ** 53) return x >= y;
  return BigInt(total) * BigInt(w) >= BigInt(cap) * BigInt(W);
}
