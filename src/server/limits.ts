import { OpenlecError } from '../errors.ts';

const WINDOW_MS = 60_000;

/**
 * KeyLimits counts requests per participant key in fixed one-minute windows. Only a
 * request whose key was verified (a valid token, HTTP message signature or transaction
 * signature) is counted: a request that merely names a key in its body counts against
 * nobody, so no one can spend another member's budget. The map holds verified keys of
 * the current minute only, hence at most the community's participants.
 */
export class KeyLimits {
  private window = Number.NEGATIVE_INFINITY;
  private readonly counts = new Map<string, number>();

  constructor(private readonly perMinute: number, private readonly now: () => number) {}

  /** check refuses a key that has used its requests of this minute, or would with `n` more (E_RATE, naming the field that carried the key). */
  check(key: string, field: string, n = 1): void {
    this.roll();
    if ((this.counts.get(key) ?? 0) + n <= this.perMinute) return;
    const retryAfterS = Math.max(1, Math.ceil(((this.window + 1) * WINDOW_MS - this.now()) / 1000));
    throw new OpenlecError('E_RATE', `rate limit: ${this.perMinute} requests per minute per key; retry in ${retryAfterS} s`, { field, details: { retryAfterS } });
  }

  /** count records one verified request of the key. */
  count(key: string, n = 1): void {
    this.roll();
    this.counts.set(key, (this.counts.get(key) ?? 0) + n);
  }

  /** take checks and counts a verified key. */
  take(key: string, field: string): void {
    this.check(key, field);
    this.count(key);
  }

  private roll(): void {
    const w = Math.floor(this.now() / WINDOW_MS);
    if (w === this.window) return;
    this.window = w;
    this.counts.clear();
  }
}
