import { invariant, OpenlecError } from '../errors.ts';
import { canonicalJson, sha256, toHex, utf8 } from '../ledger/index.ts';
import type { Bundle, CertInterval, Claim, Status } from './tables.ts';

/**
 * Bundles of one interval, as pure operations. A bundle is never changed in place: a
 * move, claim, expiry or withdrawal ends it (status `split`) and appends the bundle(s)
 * it became, each naming its parent, so every Wh keeps its whole history. Callers work
 * on a copy of the interval (`copyInterval`), since the state's rows are journaled by reference.
 */

export const quantity = (b: Bundle) => b.to - b.from + 1;
export const isLive = (b: Bundle) => b.status !== 'split';

export function copyInterval(iv: CertInterval): CertInterval {
  return { ...iv, bundles: [...iv.bundles] };
}

/**
 * Each interval being worked on keeps, beside it, the positions of every holder's active
 * bundles in ID order, so that a settlement moving certificates to hundreds of buyers in
 * one interval does not scan the whole list for each move. Built on first use, kept up to
 * date by every change below, forgotten with the interval.
 */
const activeIndex = new WeakMap<CertInterval, Map<string, number[]>>();

function indexOf(iv: CertInterval): Map<string, number[]> {
  let index = activeIndex.get(iv);
  if (!index) {
    index = new Map();
    iv.bundles.forEach((b, k) => {
      if (b.status === 'active') addActive(iv, index!, k);
    });
    activeIndex.set(iv, index);
  }
  return index;
}

function addActive(iv: CertInterval, index: Map<string, number[]>, k: number): void {
  const b = iv.bundles[k]!;
  let list = index.get(b.holder);
  if (!list) index.set(b.holder, (list = []));
  let i = list.length;
  while (i > 0 && iv.bundles[list[i - 1]!]!.from > b.from) i--;
  list.splice(i, 0, k);
}

/** pushBundle appends a bundle and indexes it if active. */
function pushBundle(iv: CertInterval, b: Bundle): void {
  iv.bundles.push(b);
  const index = activeIndex.get(iv);
  if (index && b.status === 'active') addActive(iv, index, iv.bundles.length - 1);
}

/** endBundle marks bundle k split and takes it out of the index. */
function endBundle(iv: CertInterval, k: number): Bundle {
  const b = iv.bundles[k]!;
  iv.bundles[k] = { ...b, status: 'split' };
  const list = activeIndex.get(iv)?.get(b.holder);
  if (list && b.status === 'active') list.splice(list.indexOf(k), 1);
  return b;
}

/** issueBundle appends a bundle of `wh` new certificates, IDs from `firstId`. */
export function issueBundle(iv: CertInterval, firstId: number, wh: number, holder: string, entry: number, reason: 'issued' | 'correction'): void {
  invariant(Number.isSafeInteger(wh) && wh > 0, 'a bundle holds at least one certificate');
  pushBundle(iv, { claim: null, entry, from: firstId, holder, parent: -1, reason, status: 'active', to: firstId + wh - 1 });
}

interface Change {
  holder: string;
  status: Status;
  reason: string;
  claim: Claim | null;
}

/** change ends bundle k and appends what its first `wh` certificates become, and the unchanged remainder. */
function change(iv: CertInterval, k: number, wh: number, to: Change, entry: number, fromTop = false): void {
  invariant(wh > 0 && wh <= quantity(iv.bundles[k]!), 'change within the bundle');
  const b = endBundle(iv, k);
  const q = quantity(b);
  // Withdrawals take the highest IDs, so the lower ones (the oldest in the chain) stay as they were.
  const movedFrom = fromTop ? b.to - wh + 1 : b.from;
  const moved: Bundle = { claim: to.claim, entry, from: movedFrom, holder: to.holder, parent: k, reason: to.reason, status: to.status, to: movedFrom + wh - 1 };
  if (wh === q) {
    pushBundle(iv, moved);
    return;
  }
  const rest: Bundle = { ...b, from: fromTop ? b.from : b.from + wh, to: fromTop ? b.to - wh : b.to, entry, parent: k, reason: 'remainder' };
  for (const x of fromTop ? [rest, moved] : [moved, rest]) pushBundle(iv, x);
}

/** activeOf lists the indexes of `holder`'s active bundles in ID order. */
export function activeOf(iv: CertInterval, holder: string): number[] {
  return [...(indexOf(iv).get(holder) ?? [])];
}

export function activeWh(iv: CertInterval, holder: string): number {
  let n = 0;
  for (const k of indexOf(iv).get(holder) ?? []) n += quantity(iv.bundles[k]!);
  return n;
}

/** activeHolders lists the holders with active certificates in the interval. */
export function activeHolders(iv: CertInterval): string[] {
  return [...indexOf(iv)].filter(([, list]) => list.length > 0).map(([h]) => h);
}

/** moveWh moves up to `wh` of `holder`'s active certificates, lowest IDs first, to `to` (a transfer, or a claim when `to.status` is cancelled); it returns how many moved. */
export function moveWh(iv: CertInterval, holder: string, wh: number, to: Change, entry: number): number {
  let left = wh;
  for (const k of activeOf(iv, holder)) {
    if (left === 0) break;
    const n = Math.min(left, quantity(iv.bundles[k]!));
    change(iv, k, n, to, entry);
    left -= n;
  }
  return wh - left;
}

/** A share of a distribution: `wh` certificates to `holder`, moved for `reason`. */
export interface Piece {
  holder: string;
  wh: number;
  reason: string;
}

/**
 * distribute hands `owner`'s active certificates out in pieces, lowest IDs first, in the
 * order of the pieces: each source bundle ends once and its children are the pieces cut
 * from it and what is left, so a settlement moving an interval to hundreds of buyers adds
 * one bundle per buyer, not two. The pieces never ask for more than the owner holds.
 */
export function distribute(iv: CertInterval, owner: string, pieces: readonly Piece[], entry: number): void {
  let p = 0;
  let left = pieces[0]?.wh ?? 0;
  for (const k of activeOf(iv, owner)) {
    if (p >= pieces.length) break;
    const b = endBundle(iv, k);
    let at = b.from;
    while (at <= b.to && p < pieces.length) {
      const n = Math.min(left, b.to - at + 1);
      pushBundle(iv, { claim: null, entry, from: at, holder: pieces[p]!.holder, parent: k, reason: pieces[p]!.reason, status: 'active', to: at + n - 1 });
      at += n;
      left -= n;
      if (left === 0) left = pieces[++p]?.wh ?? 0;
    }
    if (at <= b.to) pushBundle(iv, { ...b, from: at, entry, parent: k, reason: 'remainder' });
  }
  invariant(p >= pieces.length, 'a distribution within what the owner holds');
}

/** findLive returns the index of the live bundle starting at ID `from`, or refuses naming the field. */
export function findLive(iv: CertInterval, from: number, field: string): number {
  const k = iv.bundles.findIndex((b) => b.from === from && isLive(b));
  if (k < 0) throw new OpenlecError('E_UNKNOWN_BUNDLE', `no bundle of this interval starts at certificate ${from}`, { field });
  return k;
}

/** changeBundle moves the first `wh` certificates of bundle k (a holder's transfer or claim of part of a bundle). */
export function changeBundle(iv: CertInterval, k: number, wh: number, to: Change, entry: number): void {
  change(iv, k, wh, to, entry);
}

export interface Withdrawal {
  withdrawnWh: number;
  /** Claims undone because the certificates they rested on were withdrawn. */
  revoked: { claim: Claim; wh: number }[];
}

/**
 * withdrawWh withdraws `wh` certificates after a correction lowered the metered export:
 * first the owner's active ones, then active ones of other holders, then expired ones,
 * and only then claimed ones (whose claims are revoked and reported), highest IDs first
 * within each. Issued certificates never exceed the metered energy, whoever holds them.
 */
export function withdrawWh(iv: CertInterval, owner: string, wh: number, entry: number): Withdrawal {
  const rank = (b: Bundle) => (b.status === 'active' ? (b.holder === owner ? 0 : 1) : b.status === 'expired' ? 2 : b.status === 'cancelled' ? 3 : 9);
  const order = iv.bundles.map((b, k) => k).filter((k) => rank(iv.bundles[k]!) < 9).sort((a, b) => rank(iv.bundles[a]!) - rank(iv.bundles[b]!) || iv.bundles[b]!.from - iv.bundles[a]!.from);
  let left = wh;
  const revoked: Withdrawal['revoked'] = [];
  for (const k of order) {
    if (left === 0) break;
    const b = iv.bundles[k]!;
    const n = Math.min(left, quantity(b));
    if (b.status === 'cancelled' && b.claim) revoked.push({ claim: b.claim, wh: n });
    change(iv, k, n, { holder: b.holder, status: 'withdrawn', reason: 'withdrawal', claim: null }, entry, true);
    left -= n;
  }
  invariant(left === 0, 'cannot withdraw more than was issued');
  return { withdrawnWh: wh, revoked };
}

/** expireAll expires every active bundle of the interval; it returns the Wh expired. */
export function expireAll(iv: CertInterval, entry: number): number {
  let n = 0;
  const active = iv.bundles.map((b, k) => k).filter((k) => iv.bundles[k]!.status === 'active');
  for (const k of active) {
    const b = iv.bundles[k]!;
    n += quantity(b);
    change(iv, k, quantity(b), { holder: b.holder, status: 'expired', reason: 'expiry', claim: null }, entry);
  }
  return n;
}

export type StatusTotals = Record<Exclude<Status, 'split'>, number>;

/** statusTotals sums the live certificates of an interval by status: they always add up to the interval's issued certificates. */
export function statusTotals(iv: CertInterval, into: StatusTotals = { active: 0, cancelled: 0, expired: 0, withdrawn: 0 }): StatusTotals {
  for (const b of iv.bundles) if (isLive(b)) into[b.status as keyof StatusTotals] += quantity(b);
  return into;
}

/** issuedWh is every certificate ever issued in the interval (live ones, whatever their status). */
export function issuedWh(iv: CertInterval): number {
  let n = 0;
  for (const b of iv.bundles) if (isLive(b)) n += quantity(b);
  return n;
}

/**
 * bundleHash is the lineage hash of bundle k: SHA-256 of the canonical JSON of its
 * immutable header (device, interval), the fields it was made with (IDs, holder, reason,
 * claim, the entry that made it) and its parent's hash, as in the EnergyTag registry
 * demonstrator. Its status is not hashed: it follows from the reason, and a split only
 * ends a bundle. Computed when asked, from the recorded history.
 */
export function bundleHash(device: string, iv: CertInterval, k: number, memo = new Map<number, string>()): string {
  const known = memo.get(k);
  if (known) return known;
  const b = iv.bundles[k]!;
  const parent = b.parent < 0 ? null : bundleHash(device, iv, b.parent, memo);
  const h = toHex(sha256(utf8(canonicalJson({ device, interval: iv.start, from: b.from, to: b.to, holder: b.holder, reason: b.reason, claim: b.claim, entry: b.entry, parent }))));
  memo.set(k, h);
  return h;
}

/** lineage lists bundle k and its ancestors back to issuance, issuance first. */
export function lineage(iv: CertInterval, k: number): number[] {
  const out: number[] = [];
  for (let i = k; i >= 0; i = iv.bundles[i]!.parent) out.push(i);
  return out.reverse();
}
