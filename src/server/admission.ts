import { participant } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import { canonicalJson, fromUtf8, utf8 } from '../ledger/index.ts';
import type { LedgerStore, SubmitResult } from '../store/ledger-store.ts';
import type { KeyLimits } from './limits.ts';

/**
 * Admission of a transaction received over HTTP. The log stays deterministic: replay
 * judges every rule on the signed issuedAt. But an actor chooses its issuedAt, so the
 * operator vouches for time when it admits one: issuedAt must lie within `maxSkewMs` of
 * the server's clock, and the time rules (gate closure, not in the past, standing-order
 * cut-offs) are judged at the server's time as well (applyEntry's admission time). A
 * member can then neither backdate an order past a closed gate nor date one years ahead.
 */
export interface AdmissionOptions {
  ledger: LedgerStore;
  /** The time the operator vouches for (epoch ms). */
  clock: () => number;
  maxSkewMs: number;
  limits: KeyLimits;
  /** Transactions waiting for the store at most; beyond, 503 (overload, retry). */
  maxPending: number;
}

// Refusals decided before the signature was checked (or by a store that wrote nothing
// of the batch): they say nothing about who sent the request, so they count against no key.
const UNVERIFIED = /^E_(TX_FORMAT|TX_SIGNATURE|READ_ONLY|INTERNAL|STORE_[A-Z_]+)$/;

/** What an admission gives: the entry, and whether the log already held this very transaction (a retry). */
export interface Admitted {
  entry: number;
  duplicate: boolean;
}

/** Signatures of the transactions admitted last, with their entries: a retry finds its entry without reading the log. */
const RECENT = 65_536;
/** A retry that is not among the recent ones is looked for in this many entries at the end of the log. */
const RETRY_WINDOW = 65_536;
const SCAN_CHUNK = 4_096;
/** One scan of the log's end per key this often at most (a retry needs one). */
const SCAN_EVERY_MS = 10_000;

export class Admission {
  private pending = 0;
  private readonly recent = new Map<string, number>();
  private readonly scans = new Map<string, number>();

  constructor(private readonly o: AdmissionOptions) {}

  /**
   * admit is submit for a client that may send a transaction again after a timeout: the
   * same signed transaction, already in the log, gives its entry back with `duplicate`
   * instead of the nonce refusal, and nothing is appended twice (the nonce rule makes a
   * second append impossible; this only tells the client what became of the first).
   */
  async admit(body: Record<string, unknown>): Promise<Admitted> {
    // A retry this process admitted: its entry, before the clock check (a retry may come after the skew window).
    const seen = await this.recentEntry(body);
    if (seen !== undefined) return { entry: seen, duplicate: true };
    try {
      const entry = await this.submit(body);
      this.remember(body, entry);
      return { entry, duplicate: false };
    } catch (e) {
      if (e instanceof OpenlecError && e.code === 'E_TX_NONCE') {
        const entry = await this.logged(body);
        if (entry !== undefined) return { entry, duplicate: true };
      }
      throw e;
    }
  }

  /** admitAtomic is submitAtomic with retries recognised: a set logged as one (consecutive entries, in its order) gives their entries back. */
  async admitAtomic(bodies: readonly Record<string, unknown>[]): Promise<{ entries: number[]; duplicate: boolean }> {
    const consecutive = (entries: (number | undefined)[]): entries is number[] => entries.every((x, i) => x !== undefined && x === entries[0]! + i);
    const seen: (number | undefined)[] = [];
    for (const b of bodies) seen.push(await this.recentEntry(b));
    if (consecutive(seen)) return { entries: seen, duplicate: true };
    try {
      const entries = await this.submitAtomic(bodies);
      bodies.forEach((b, i) => this.remember(b, entries[i]!));
      return { entries, duplicate: false };
    } catch (e) {
      if (e instanceof OpenlecError && e.code === 'E_TX_NONCE') {
        const entries: (number | undefined)[] = [];
        for (const b of bodies) {
          entries.push(await this.logged(b));
          if (entries.at(-1) === undefined) throw e;
        }
        if (consecutive(entries)) return { entries, duplicate: true };
      }
      throw e;
    }
  }

  private remember(body: Record<string, unknown>, entry: number): void {
    if (typeof body.sig !== 'string') return;
    if (this.recent.size >= RECENT) this.recent.delete(this.recent.keys().next().value!);
    this.recent.set(body.sig, entry);
  }

  /** canonicalText is the transaction as the log would hold it, or undefined for what is no transaction. */
  private canonicalText(body: Record<string, unknown>): string | undefined {
    if (typeof body.sig !== 'string') return undefined;
    try {
      return canonicalJson(body);
    } catch {
      return undefined;
    }
  }

  /** recentEntry: the entry of this very transaction among the ones this process admitted last (one read, no scan). */
  private async recentEntry(body: Record<string, unknown>): Promise<number | undefined> {
    const known = typeof body.sig === 'string' ? this.recent.get(body.sig) : undefined;
    if (known === undefined || known >= this.o.ledger.size) return undefined;
    const text = this.canonicalText(body);
    const [e] = await this.o.ledger.readEntries(known, known + 1);
    return text !== undefined && e && fromUtf8(e.bytes) === text ? known : undefined;
  }

  /**
   * logged finds the entry holding exactly this transaction (its canonical text), among the
   * recent ones or at the end of the log. It runs only on a nonce refusal, which comes after
   * the signature was verified, and at most once per SCAN_EVERY_MS per key: a participant
   * cannot make the server read the log's end at will.
   */
  private async logged(body: Record<string, unknown>): Promise<number | undefined> {
    const recent = await this.recentEntry(body);
    if (recent !== undefined) return recent;
    const text = this.canonicalText(body);
    if (text === undefined || typeof body.actor !== 'string' || !this.scanAllowed(body.actor)) return undefined;
    const byteLength = utf8(text).length;
    const size = this.o.ledger.size;
    for (let hi = size; hi > Math.max(0, size - RETRY_WINDOW); hi -= SCAN_CHUNK) {
      const lo = Math.max(0, hi - SCAN_CHUNK, size - RETRY_WINDOW);
      const entries = await this.o.ledger.readEntries(lo, hi);
      for (let i = entries.length - 1; i >= 0; i--) if (entries[i]!.bytes.length === byteLength && fromUtf8(entries[i]!.bytes) === text) return lo + i;
    }
    return undefined;
  }

  private scanAllowed(actor: string): boolean {
    const now = this.o.clock();
    const last = this.scans.get(actor);
    if (last !== undefined && now - last < SCAN_EVERY_MS) return false;
    this.scans.delete(actor);
    if (this.scans.size >= 10_000) this.scans.delete(this.scans.keys().next().value!);
    this.scans.set(actor, now);
    return true;
  }

  /** submit admits one signed transaction and resolves with its entry once durable, or throws the refusal. */
  async submit(body: Record<string, unknown>): Promise<number> {
    if (this.pending >= this.o.maxPending) throw new OpenlecError('E_BUSY', `${this.pending} transactions are waiting for the store`, { field: 'body' });
    const now = this.o.clock();
    checkSkew(body.issuedAt, now, this.o.maxSkewMs);
    // The actor named in the body is not verified yet: only a key that has spent its own
    // budget with verified transactions is refused here.
    const actor = typeof body.actor === 'string' ? body.actor : undefined;
    if (actor !== undefined) this.o.limits.check(actor, 'actor');
    this.pending++;
    let r: SubmitResult;
    try {
      r = await this.o.ledger.submit(body as never, { now });
    } finally {
      this.pending--;
    }
    if (actor !== undefined && (r.ok || !UNVERIFIED.test(r.error.code)) && participant(this.o.ledger.state, actor)) this.o.limits.count(actor);
    if (!r.ok) throw r.error;
    return r.entry;
  }

  /**
   * submitAtomic admits signed transactions all or none (ledger.submitAtomic: the first
   * refusal rolls the whole set back), with the checks of `submit` on each: the clock skew
   * of its issuedAt, and its signer's budget (one key signs the whole set), for the whole
   * set before it is judged and spent for the whole set after, admitted or refused. The time
   * rules of every transaction are judged at the server's time when the set arrived, as
   * submit judges one's. A refusal names the transaction's index (0-based) in its field,
   * "transactions[3].body.values", and its position in its message ("transaction 4 of 10: ...").
   */
  async submitAtomic(bodies: readonly Record<string, unknown>[]): Promise<number[]> {
    if (this.pending + bodies.length > this.o.maxPending) throw new OpenlecError('E_BUSY', `${this.pending} transactions are waiting for the store`, { field: 'body' });
    const now = this.o.clock();
    const at = (e: OpenlecError, index: number) =>
      new OpenlecError(e.code, e.message.startsWith('transaction ') ? e.message : `transaction ${index + 1} of ${bodies.length}: ${e.message}`, {
        field: `transactions[${index}]${e.field ? `.${e.field}` : ''}`, details: { ...e.details, index },
      });
    // One signer per set: its budget is checked for the whole set before any work, and
    // spent for the whole set once judged, admitted or refused (a set of 999 good
    // transactions and a bad last one costs what it made the server do).
    const actor = typeof bodies[0]?.actor === 'string' ? bodies[0].actor : undefined;
    bodies.forEach((b, i) => {
      try {
        if (b.actor !== actor) throw new OpenlecError('E_BATCH_ACTOR', `a set is signed by one key: this transaction's actor differs from the first one's (${String(actor).slice(0, 12)}…); send another set for another key`, { field: 'actor' });
        checkSkew(b.issuedAt, now, this.o.maxSkewMs);
      } catch (e) {
        throw e instanceof OpenlecError ? at(e, i) : e;
      }
    });
    if (actor !== undefined) {
      try {
        this.o.limits.check(actor, 'actor', bodies.length);
      } catch (e) {
        throw e instanceof OpenlecError ? at(e, 0) : e;
      }
    }
    this.pending += bodies.length;
    let entries: number[];
    try {
      entries = await this.o.ledger.submitAtomic(bodies as never[], { now });
    } catch (e) {
      const err = e instanceof OpenlecError ? e : new OpenlecError('E_INTERNAL', String(e));
      const index = typeof err.details.index === 'number' ? err.details.index : undefined;
      // The signer spent its budget for the set if one of its signatures was checked (any
      // refusal but the first transaction's own signature or envelope).
      const verified = index !== undefined && (index > 0 || !UNVERIFIED.test(err.code));
      if (actor !== undefined && verified && participant(this.o.ledger.state, actor)) this.o.limits.count(actor, bodies.length);
      throw index === undefined ? err : at(err, index);
    } finally {
      this.pending -= bodies.length;
    }
    if (actor !== undefined && participant(this.o.ledger.state, actor)) this.o.limits.count(actor, bodies.length);
    return entries;
  }
}

/** checkSkew refuses an issuedAt too far from the server's clock; a malformed one is left to the envelope's own check. */
export function checkSkew(issuedAt: unknown, now: number, maxSkewMs: number): void {
  const t = typeof issuedAt === 'string' ? Date.parse(issuedAt) : Number.NaN;
  if (Number.isNaN(t) || Math.abs(t - now) <= maxSkewMs) return;
  throw new OpenlecError('E_CLOCK_SKEW', `issuedAt ${issuedAt as string} is ${Math.round((t - now) / 1000)} s from the server's clock (${new Date(now).toISOString()}); at most ${maxSkewMs / 1000} s is accepted: sign with the current time`, {
    field: 'issuedAt', details: { serverTime: new Date(now).toISOString() },
  });
}
