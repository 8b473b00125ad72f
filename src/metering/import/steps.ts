import { OpenlecError } from '../../errors.ts';
import { addDays, dayIntervals, formatInstant, type IntervalMinutes, localDateOf, localDay, MS_PER_MINUTE, mulDivRound } from '../../units/index.ts';
import type { Direction } from '../meter-register.ts';

/** Where a value came from, for error messages. */
export interface Origin {
  readonly file: string;
  readonly line: number;
}

/** A problem with one line of an input file. */
export interface LineError extends Origin {
  readonly message: string;
}

interface Step {
  readonly minutes: number;
  readonly numerator: number;
  readonly line: number;
}

/**
 * StepSet collects metered steps as the formats deliver them (any order, any step of
 * 1..60 minutes), each as an exact integer `numerator` of energy in units of
 * 1/`divisor` Wh: W·min for average-power curves (divisor 60), mWh for decimal energies
 * (1000). A step must not straddle two community intervals; a step given twice with a
 * different value is an error.
 */
export class StepSet {
  private readonly series = new Map<string, Map<number, Step>>();
  readonly errors: LineError[] = [];
  values = 0;

  /** `file` names the file being read, for error messages; set it before each file. */
  constructor(readonly intervalMinutes: IntervalMinutes, readonly divisor: number, public file: string) {}

  add(meter: string, direction: Direction, startMs: number, minutes: number, numerator: number, line: number): void {
    const fail = (message: string) => this.errors.push({ file: this.file, line, message });
    if (!Number.isSafeInteger(numerator) || numerator < 0) return void fail(`value must be a non-negative number, got ${numerator}`);
    const len = this.intervalMinutes * MS_PER_MINUTE;
    if (Math.floor(startMs / len) !== Math.floor((startMs + minutes * MS_PER_MINUTE - 1) / len)) {
      return void fail(`a ${minutes}-minute step starting ${formatInstant(startMs)} spans two ${this.intervalMinutes}-minute intervals: it cannot be split without estimating`);
    }
    const key = `${meter}\u001f${direction}`;
    let steps = this.series.get(key);
    if (!steps) this.series.set(key, (steps = new Map()));
    const prior = steps.get(startMs);
    if (prior) {
      if (prior.numerator !== numerator || prior.minutes !== minutes) fail(`the step at ${formatInstant(startMs)} is also on line ${prior.line} with another value`);
      return;
    }
    steps.set(startMs, { minutes, numerator, line });
    this.values++;
  }

  /** intervals sums the steps into community intervals: Wh, or null where the steps do not cover the whole interval. */
  intervals(): Map<string, Map<number, number | null>> {
    const len = this.intervalMinutes * MS_PER_MINUTE;
    const out = new Map<string, Map<number, number | null>>();
    for (const [key, steps] of this.series) {
      const sums = new Map<number, { numerator: number; minutes: number }>();
      for (const [start, s] of steps) {
        const interval = Math.floor(start / len) * len;
        const acc = sums.get(interval) ?? { numerator: 0, minutes: 0 };
        acc.numerator += s.numerator;
        acc.minutes += s.minutes;
        sums.set(interval, acc);
      }
      const series = new Map<number, number | null>();
      for (const [interval, acc] of sums) {
        // Rounded once per interval, half to even: the only rounding on the way to Wh.
        series.set(interval, acc.minutes === this.intervalMinutes ? mulDivRound(acc.numerator, 1, this.divisor) : null);
      }
      out.set(key, series);
    }
    return out;
  }
}

/** A local day of one meter, ready to become a meter.readings transaction. */
export interface DayReadings {
  readonly meter: string;
  readonly direction: Direction;
  readonly date: string;
  readonly values: (number | null)[];
  readonly gaps: number;
}

/** toDays cuts interval series into local days of the community's time zone; intervals with no data are null (gaps). */
export function toDays(series: Map<string, Map<number, number | null>>, timeZone: string, minutes: IntervalMinutes): DayReadings[] {
  const days: DayReadings[] = [];
  for (const [key, values] of series) {
    const [meter = '', direction = 'import'] = key.split('\u001f');
    // Walk the local dates from the first interval to the last: a few time-zone
    // conversions per series rather than one per interval.
    let first = Infinity;
    let last = -Infinity;
    for (const start of values.keys()) {
      if (start < first) first = start;
      if (start > last) last = start;
    }
    if (first === Infinity) continue;
    const end = localDateOf(last, timeZone);
    for (let date = localDateOf(first, timeZone); date <= end; date = addDays(date, 1)) {
      const starts = dayIntervals(localDay(date, timeZone), minutes);
      if (!starts.some((s) => values.has(s))) continue;
      const v = starts.map((s) => values.get(s) ?? null);
      days.push({ meter, direction: direction as Direction, date, values: v, gaps: v.filter((x) => x === null).length });
    }
  }
  return days.sort((a, b) => (a.meter + a.direction + a.date < b.meter + b.direction + b.date ? -1 : 1));
}

export function importError(errors: readonly LineError[]): OpenlecError {
  const shown = errors.slice(0, 20).map((e) => `${e.file}:${e.line}: ${e.message}`).join('\n  ');
  const more = errors.length > 20 ? `\n  ... and ${errors.length - 20} more` : '';
  return new OpenlecError('E_IMPORT_LINES', `${errors.length} rejected line(s), nothing imported:\n  ${shown}${more}`, { field: 'file', details: { errors: errors.slice(0, 100) } });
}
