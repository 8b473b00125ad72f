import { OpenlecError } from '../errors.ts';
import { assertIntervalMinutes, dayIntervals, formatInstant, formatLocal, localDateOf, localDay, localMinuteOfDay, MS_PER_MINUTE } from '../units/index.ts';
import type { BaselineSpec } from './tables.ts';

/**
 * Baselines of the flexibility market: the counterfactual net load (import − export, Wh
 * per ISP) of an offer's meters had the order not been activated. Pure and deterministic,
 * integers only. Four declared methods (tables.ts `BaselineSpec`):
 *
 * - nomination: the schedule the provider declared in the offer.
 * - mbma (meter before / meter after): every ISP holds the net value of the interval right
 *   before the first ISP.
 * - x-of-y: among the Y most recent eligible days before the event's local date, the X
 *   with the highest total over the event window (`high`), or the X in the middle of the
 *   ranking (`mid`), averaged per ISP; optionally plus an additive day-of adjustment from
 *   the `adjustIntervals` intervals before the event.
 * - rolling: the mean of the `days` most recent eligible days, per ISP.
 *
 * Eligible day: a local date strictly before the event's local date (the date of the first
 * ISP), of the same day type (weekday Mon–Fri or weekend Sat/Sun in the community's zone),
 * not in `eventDays`, within `lookbackDays`, with a value at every interval it must lend.
 * An ISP is matched on a candidate day by its local wall-clock minute and its day offset
 * from the event's date (a window crossing midnight reads the candidate's next date too).
 * On a DST day a wall-clock minute may be missing (spring) or repeated (autumn): a missing
 * one makes the candidate ineligible; of a repeated one the first occurrence is taken,
 * unless the event's own interval is itself the second occurrence, which matches the
 * second. Every interval a candidate lends must start before the first ISP, so a window
 * longer than a day never reads the event's own activation.
 *
 * Means are exact and rounded once, half away from zero. With the adjustment,
 * baseline = avg(ISP) + mean(actual before) − mean(avg before), computed as one fraction
 * (S·k + A·X − B) / (k·X) and rounded once: S = the ISP's sum over the X chosen days,
 * A = the sum of the k actual values, B = the sum of the k intervals over the chosen days.
 */

export interface BaselineInput {
  /** IANA zone of the community. */
  readonly timeZone: string;
  /** 15 or 30 (or 60). */
  readonly intervalMinutes: number;
  /** Net Wh (import − export, may be negative) of the offer's meters for each interval of a local date (dayIntervals order), null where a value is missing; undefined when the day has no data. */
  netOf(date: string): readonly (number | null)[] | undefined;
  /** UTC ms of each ISP of the event, consecutive intervals (may cross local midnight). */
  readonly eventStarts: readonly number[];
  /** Local dates with a flexibility order on these meters: never eligible. */
  readonly eventDays: ReadonlySet<string>;
  /** How many days back to search for eligible days (default 60). */
  readonly lookbackDays?: number;
}

export const DEFAULT_LOOKBACK_DAYS = 60;
const MAX_LOOKBACK_DAYS = 3660;
const MS_PER_DAY = 86_400_000;

/**
 * roundDiv divides the safe integer `a` by the positive safe integer `n`, exactly, rounding
 * half away from zero (-2.5 -> -3, 2.5 -> 3).
 */
export function roundDiv(a: number, n: number): number {
  if (!Number.isSafeInteger(a) || !Number.isSafeInteger(n) || n <= 0) throw new RangeError(`roundDiv(${a}, ${n}): a safe integer over a positive safe integer`);
  const r = a % n; // exact, same sign as a
  const q = (a - r) / n; // exact: a - r is a multiple of n
  const away = 2 * Math.abs(r) >= n;
  return (away ? q + Math.sign(a) : q) || 0;
}

/** The same as roundDiv over BigInt, for sums that may leave the safe range; the result must be safe. */
function roundDivBig(a: bigint, n: bigint): number {
  let q = a / n; // truncates toward zero
  const r = a - q * n;
  const twice = (r < 0n ? -r : r) * 2n;
  if (twice >= n) q += a < 0n ? -1n : 1n;
  const out = Number(q);
  if (!Number.isSafeInteger(out)) throw new OpenlecError('E_OUT_OF_RANGE', `baseline: ${a} / ${n} is beyond the safe integer range`, { field: 'baseline' });
  return out || 0;
}

const isInt = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;

/**
 * baselineProblem checks a declared baseline against the offer's ISP count, without data:
 * a message naming the field at fault, or null when it is sound.
 */
export function baselineProblem(spec: BaselineSpec, isps: number): string | null {
  const s = spec as unknown as Record<string, unknown> | null;
  if (typeof s !== 'object' || s === null) return 'method: a baseline must be an object with a method';
  switch (s['method']) {
    case 'nomination': {
      const wh = s['wh'];
      if (!Array.isArray(wh)) return 'wh: nomination needs the declared Wh per ISP';
      if (wh.length !== isps) return `wh: nomination declares ${wh.length} values for ${isps} ISPs`;
      const bad = wh.findIndex((v) => !isInt(v, -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER));
      if (bad >= 0) return `wh.${bad}: ${JSON.stringify(wh[bad])} is not an integer Wh`;
      return null;
    }
    case 'mbma':
      return null;
    case 'x-of-y': {
      const { x, y, pick, adjustIntervals } = s;
      if (!isInt(y, 1, 30)) return `y: x-of-y needs 1 <= y <= 30 days, got ${JSON.stringify(y)}`;
      if (!isInt(x, 1, 30)) return `x: x-of-y needs 1 <= x <= y days, got ${JSON.stringify(x)}`;
      if (x > y) return `x: x-of-y keeps x = ${x} of y = ${y} days: x must not exceed y`;
      if (pick !== 'high' && pick !== 'mid') return `pick: x-of-y picks 'high' or 'mid', got ${JSON.stringify(pick)}`;
      if (!isInt(adjustIntervals, 0, 8)) return `adjustIntervals: x-of-y adjusts over 0 to 8 intervals, got ${JSON.stringify(adjustIntervals)}`;
      return null;
    }
    case 'rolling': {
      const days = s['days'];
      if (!isInt(days, 1, 30)) return `days: rolling averages 1 to 30 days, got ${JSON.stringify(days)}`;
      return null;
    }
    default:
      return `method: ${JSON.stringify(s['method'])} is not one of nomination, mbma, x-of-y, rolling`;
  }
}

function fail(message: string, details: Record<string, unknown> = {}): never {
  throw new OpenlecError('E_FLEX_BASELINE', message, { field: 'baseline', details });
}

/** Days since 1970-01-01 of a YYYY-MM-DD date (no time zone involved). */
function dayNumber(date: string): number {
  return Date.UTC(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10))) / MS_PER_DAY;
}

/**
 * The calendar date `days` after `date`: the same as src/units addDays, by integer day
 * arithmetic (Temporal's is ~50 µs a call, and a baseline walks up to 60 days).
 */
function shiftDate(date: string, days: number): string {
  return new Date((dayNumber(date) + days) * MS_PER_DAY).toISOString().slice(0, 10);
}

/** Sat/Sun; 1970-01-01 was a Thursday. */
function isWeekend(date: string): boolean {
  const dow = (((dayNumber(date) + 4) % 7) + 7) % 7; // 0 = Sunday
  return dow === 0 || dow === 6;
}

/** One local date's intervals and values, read once per computation. */
interface DayData {
  readonly starts: readonly number[];
  /** Whether the day lasts 24 hours and starts on an interval boundary: then the interval of local minute m is m / interval length (checked). */
  readonly regular: boolean;
  /** Local wall-clock minute -> indices of the intervals starting then (two on an autumn DST day), built when first needed. */
  byMinute: Map<number, number[]> | undefined;
  readonly values: readonly (number | null)[] | undefined;
}

/** An interval of the event (an ISP or one before it), as seen from the event's local date. */
interface Slot {
  readonly start: number;
  readonly offset: number;
  readonly minute: number;
  /** 0, or 1 for the second occurrence of a repeated wall-clock minute. */
  readonly occurrence: number;
}

/**
 * computeBaseline returns the baseline Wh of each ISP of the event (same length as
 * `eventStarts`) under the declared method, or throws E_FLEX_BASELINE naming the method,
 * the date or interval and what is missing.
 */
export function computeBaseline(spec: BaselineSpec, input: BaselineInput): number[] {
  const { timeZone, eventStarts } = input;
  const minutes = input.intervalMinutes;
  assertIntervalMinutes(minutes, 'intervalMinutes');
  const isps = eventStarts.length;
  if (isps === 0) fail(`${spec.method} baseline: the event has no ISP`);
  const problem = baselineProblem(spec, isps);
  if (problem) fail(`${(spec as { method?: unknown }).method} baseline: ${problem}`, { problem });
  const len = minutes * MS_PER_MINUTE;
  const first = eventStarts[0]!;
  eventStarts.forEach((t, i) => {
    if (!Number.isSafeInteger(t) || t % len !== 0) fail(`${spec.method} baseline: ISP ${i} (${t}) is not the start of a ${minutes}-minute interval`);
    if (i > 0 && t !== first + i * len) fail(`${spec.method} baseline: ISP ${i} (${formatInstant(t)}) does not follow ISP ${i - 1}: the ISPs must be consecutive`);
  });
  const lookback = input.lookbackDays ?? DEFAULT_LOOKBACK_DAYS;
  if (!isInt(lookback, 1, MAX_LOOKBACK_DAYS)) fail(`${spec.method} baseline: lookbackDays must be 1..${MAX_LOOKBACK_DAYS}, got ${JSON.stringify(lookback)}`);

  const days = new Map<string, DayData>();
  const dayData = (date: string): DayData => {
    let d = days.get(date);
    if (!d) {
      const span = localDay(date, timeZone);
      const starts = dayIntervals(span, minutes);
      const regular = span.endMs - span.startMs === MS_PER_DAY && starts[0] === span.startMs;
      const values = input.netOf(date);
      if (values !== undefined && values.length !== starts.length) {
        fail(`${spec.method} baseline: ${date} has ${values.length} values for its ${starts.length} intervals of ${minutes} minutes`, { date });
      }
      d = { starts, regular, byMinute: undefined, values };
      days.set(date, d);
    }
    return d;
  };
  /** The indices of the intervals of a date that start at local wall-clock minute `minute`. */
  const atMinute = (d: DayData, minute: number): readonly number[] => {
    if (d.regular && (minute * MS_PER_MINUTE) % len === 0) {
      const i = (minute * MS_PER_MINUTE) / len;
      if (i < d.starts.length && localMinuteOfDay(d.starts[i]!, timeZone) === minute) return [i];
    }
    if (!d.byMinute) {
      const byMinute = new Map<number, number[]>();
      d.starts.forEach((t, i) => {
        const m = localMinuteOfDay(t, timeZone);
        const list = byMinute.get(m);
        if (list) list.push(i);
        else byMinute.set(m, [i]);
      });
      d.byMinute = byMinute;
    }
    return d.byMinute.get(minute) ?? [];
  };
  const valueAt = (date: string, d: DayData, index: number): number | null => {
    const v = d.values?.[index];
    if (v === undefined || v === null) return null;
    if (!Number.isSafeInteger(v)) fail(`${spec.method} baseline: ${date} interval ${formatLocal(d.starts[index]!, timeZone)}: ${JSON.stringify(v)} is not an integer Wh`, { date });
    return v;
  };
  /** The actual net value of the interval starting at t (before the event), or a failure naming it. */
  const actual = (t: number, why: string): number => {
    const date = localDateOf(t, timeZone);
    const d = dayData(date);
    const index = (t - d.starts[0]!) / len;
    const v = d.values === undefined ? null : valueAt(date, d, index);
    if (v === null) {
      fail(`${spec.method} baseline: no net value on ${date} for the interval ${formatLocal(t, timeZone)} (${formatInstant(t)}), ${why}${d.values === undefined ? ': the day has no data' : ''}`, {
        date,
        interval: formatInstant(t),
      });
    }
    return v;
  };

  switch (spec.method) {
    case 'nomination':
      return spec.wh.map((v) => v || 0);
    case 'mbma': {
      const v = actual(first - len, 'the interval right before the first ISP');
      return eventStarts.map(() => v);
    }
    case 'x-of-y':
    case 'rolling':
      break;
  }

  const eventDate = localDateOf(first, timeZone);
  const eventDay = dayNumber(eventDate);
  const slotOf = (t: number): Slot => {
    const date = localDateOf(t, timeZone);
    const minute = localMinuteOfDay(t, timeZone);
    const d = dayData(date);
    const same = atMinute(d, minute);
    const index = (t - d.starts[0]!) / len;
    return { start: t, offset: dayNumber(date) - eventDay, minute, occurrence: Math.max(0, same.indexOf(index)) };
  };
  const adjust = spec.method === 'x-of-y' ? spec.adjustIntervals : 0;
  const ispSlots = eventStarts.map(slotOf);
  const adjSlots: Slot[] = [];
  for (let j = adjust; j >= 1; j--) adjSlots.push(slotOf(first - j * len));
  const slots = [...ispSlots, ...adjSlots];

  /** The values a candidate date lends to the slots, or null when it cannot lend them all. */
  const lend = (candidate: string): number[] | null => {
    const out: number[] = [];
    for (const slot of slots) {
      const date = slot.offset === 0 ? candidate : shiftDate(candidate, slot.offset);
      const d = dayData(date);
      if (d.values === undefined) return null;
      const same = atMinute(d, slot.minute);
      if (same.length === 0) return null; // the wall-clock minute does not exist that day (DST)
      const index = same[Math.min(slot.occurrence, same.length - 1)]!;
      if (d.starts[index]! >= first) return null; // never lend the event's own intervals
      const v = valueAt(date, d, index);
      if (v === null) return null;
      out.push(v);
    }
    return out;
  };

  const want = spec.method === 'x-of-y' ? spec.y : spec.days;
  const weekend = isWeekend(eventDate);
  const found: { date: string; values: number[]; total: bigint }[] = [];
  for (let back = 1; back <= lookback && found.length < want; back++) {
    const candidate = shiftDate(eventDate, -back);
    if (isWeekend(candidate) !== weekend || input.eventDays.has(candidate)) continue;
    const values = lend(candidate);
    if (values === null) continue;
    let total = 0n;
    for (let i = 0; i < isps; i++) total += BigInt(values[i]!);
    found.push({ date: candidate, values, total });
  }

  const need = spec.method === 'x-of-y' ? spec.x : 1;
  if (found.length < need) {
    const what = spec.method === 'x-of-y' ? `${spec.x}-of-${spec.y}` : `rolling ${spec.days}-day`;
    fail(
      `${spec.method} baseline: only ${found.length} eligible ${weekend ? 'weekend days' : 'weekdays'} with data for the window from ${formatLocal(first, timeZone)}` +
        ` in the ${lookback} days before ${eventDate}; the ${what} baseline needs at least ${need}`,
      { date: eventDate, found: found.map((f) => f.date) },
    );
  }

  let chosen = found;
  if (spec.method === 'x-of-y') {
    // found is most recent first; a stable sort keeps the more recent day first on ties.
    const ranked = [...found].sort((a, b) => (a.total === b.total ? 0 : a.total > b.total ? -1 : 1));
    const skip = spec.pick === 'high' ? 0 : Math.floor((found.length - spec.x) / 2);
    chosen = ranked.slice(skip, skip + spec.x);
  }
  const n = BigInt(chosen.length);
  const sumOf = (slot: number): bigint => chosen.reduce((s, c) => s + BigInt(c.values[slot]!), 0n);
  if (adjust === 0) return ispSlots.map((_, i) => roundDivBig(sumOf(i), n));

  // Additive day-of adjustment, one rounding: (S·k + A·X − B) / (k·X).
  const k = BigInt(adjust);
  let a = 0n;
  let b = 0n;
  adjSlots.forEach((slot, j) => {
    a += BigInt(actual(slot.start, `one of the ${adjust} intervals before the event that the x-of-y adjustment needs`));
    b += sumOf(isps + j);
  });
  const shift = a * n - b;
  return ispSlots.map((_, i) => roundDivBig(sumOf(i) * k + shift, k * n));
}
