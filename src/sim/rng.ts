/**
 * A seeded pseudo-random generator (SplitMix32 seeding a Mulberry32 stream): the
 * simulator's only source of randomness, so a scenario and a seed give the same run.
 */
export class Rng {
  private state: number;
  constructor(seed: number | string) {
    let h = 0x811c9dc5;
    for (const ch of String(seed)) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
    this.state = h;
  }

  /** next returns a float in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** between returns a float in [lo, hi). */
  between(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** fork derives an independent stream for a label (a member, a day). */
  fork(label: string | number): Rng {
    return new Rng(`${this.state}/${label}`);
  }
}
