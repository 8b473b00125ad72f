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

/** issueBundle appends a bundle of `wh` new certificates, IDs from `firstId`. */
export function issueBundle(iv: CertInterval, firstId: number, wh: number, holder: string, entry: number, reason: 'issued' | 'correction'): void {
  invariant(Number.isSafeInteger(wh) && wh > 0, 'a bundle holds at least one certificate');
  iv.bundles.push({ from: firstId, to: firstId + wh - 1, holder, status: 'active', entry, parent: -1, reason, claim: null });
}

interface Change {
  holder: string;
  status: Status;
  reason: string;
  claim: Claim | null;
}

/** change ends bundle k and appends what its first `wh` certificates become, and the unchanged remainder. */
function change(iv: CertInterval, k: number, wh: number, to: Change, entry: number, fromTop = false): void {
  const b = iv.bundles[k]!;
  invariant(wh > 0 && wh <= quantity(b), 'change within the bundle');
  iv.bundles[k] = { ...b, status: 'split' };
  const q = quantity(b);
  // Withdrawals take the highest IDs, so the lower ones (the oldest in the chain) stay as they were.
  const movedFrom = fromTop ? b.to - wh + 1 : b.from;
  const moved: Bundle = { from: movedFrom, to: movedFrom + wh - 1, holder: to.holder, status: to.status, entry, parent: k, reason: to.reason, claim: to.claim };
  if (wh === q) {
    iv.bundles.push(moved);
    return;
  }
  const rest: Bundle = { ...b, from: fromTop ? b.from : b.from + wh, to: fromTop ? b.to - wh : b.to, entry, parent: k, reason: 'remainder' };
  iv.bundles.push(...(fromTop ? [rest, moved] : [moved, rest]));
}

/** activeOf lists the indexes of `holder`'s active bundles in ID order. */
export function activeOf(iv: CertInterval, holder: string): number[] {
  const out: number[] = [];
  iv.bundles.forEach((b, k) => {
    if (b.status === 'active' && b.holder === holder) out.push(k);
  });
  return out.sort((a, b) => iv.bundles[a]!.from - iv.bundles[b]!.from);
}

export function activeWh(iv: CertInterval, holder: string): number {
  let n = 0;
  for (const b of iv.bundles) if (b.status === 'active' && b.holder === holder) n += quantity(b);
  return n;
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
