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

export class Admission {
  private pending = 0;
  private readonly recent = new Map<string, number>();

  constructor(private readonly o: AdmissionOptions) {}

  /**
   * admit is submit for a client that may send a transaction again after a timeout: the
   * same signed transaction, already in the log, gives its entry back with `duplicate`
   * instead of the nonce refusal, and nothing is appended twice (the nonce rule makes a
   * second append impossible; this only tells the client what became of the first).
   */
  async admit(body: Record<string, unknown>): Promise<Admitted> {
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

  /** admitAtomic is submitAtomic with retries recognised: a set whose every transaction is in the log gives their entries back. */
  async admitAtomic(bodies: readonly Record<string, unknown>[]): Promise<{ entries: number[]; duplicate: boolean }> {
    try {
      const entries = await this.submitAtomic(bodies);
      bodies.forEach((b, i) => this.remember(b, entries[i]!));
      return { entries, duplicate: false };
    } catch (e) {
      if (e instanceof OpenlecError && e.code === 'E_TX_NONCE') {
        const entries: number[] = [];
        for (const b of bodies) {
          const entry = await this.logged(b);
          if (entry === undefined) throw e;
          entries.push(entry);
        }
        return { entries, duplicate: true };
      }
      throw e;
    }
  }

  private remember(body: Record<string, unknown>, entry: number): void {
    if (typeof body.sig !== 'string') return;
    if (this.recent.size >= RECENT) this.recent.delete(this.recent.keys().next().value!);
    this.recent.set(body.sig, entry);
  }

  /** logged finds the entry holding exactly this transaction (its canonical text), among the recent ones or at the end of the log. */
  private async logged(body: Record<string, unknown>): Promise<number | undefined> {
    if (typeof body.sig !== 'string') return undefined;
    let text: string;
    try {
      text = canonicalJson(body);
    } catch {
      return undefined;
    }
    const byteLength = utf8(text).length;
    const size = this.o.ledger.size;
    const known = this.recent.get(body.sig);
    if (known !== undefined && known < size) {
      const [e] = await this.o.ledger.readEntries(known, known + 1);
      if (e && fromUtf8(e.bytes) === text) return known;
    }
    for (let hi = size; hi > Math.max(0, size - RETRY_WINDOW); hi -= SCAN_CHUNK) {
      const lo = Math.max(0, hi - SCAN_CHUNK, size - RETRY_WINDOW);
      const entries = await this.o.ledger.readEntries(lo, hi);
      for (let i = entries.length - 1; i >= 0; i--) if (entries[i]!.bytes.length === byteLength && fromUtf8(entries[i]!.bytes) === text) return lo + i;
    }
    return undefined;
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
