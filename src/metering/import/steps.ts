import { invariant, OpenlecError } from '../../errors.ts';
import { dayIntervals, formatInstant, type IntervalMinutes, localDateOf, localDay, MS_PER_MINUTE, mulDivRound } from '../../units/index.ts';
import type { Direction } from '../meter-register.ts';

/** A problem with one line of an input file (no line: the file as a whole). */
export interface LineError {
  readonly file: string;
  readonly line?: number;
  readonly message: string;
}

/**
 * READING_MAX_WH is the most energy one interval of meter.readings may hold (its schema's
 * bound, readings.ts): the import refuses more at the line that carries it, before
 * anything is signed. A test keeps the two in step.
 */
export const READING_MAX_WH = 1e12;

/** A local day of one meter, ready to become a meter.readings transaction. */
export interface DayReadings {
  readonly meter: string;
  readonly direction: Direction;
  readonly date: string;
  readonly values: (number | null)[];
  readonly gaps: number;
}

/**
 * Growable typed columns: one array that doubles up to CHUNK values, then fixed chunks of
 * CHUNK (no copying of a large column, little slack in a small one).
 */
const CHUNK_BITS = 16;
const CHUNK = 1 << CHUNK_BITS;
const MASK = CHUNK - 1;

type Typed = Float64Array | Uint32Array | Uint8Array;

class Column<T extends Typed> {
  private readonly chunks: T[];
  length = 0;

  constructor(private readonly make: (n: number) => T) {
    this.chunks = [make(16)];
  }

  push(v: number): void {
    const c = this.length >>> CHUNK_BITS;
    const i = this.length & MASK;
    if (c === this.chunks.length) this.chunks.push(this.make(CHUNK));
    else if (c === 0 && i === this.chunks[0]!.length) {
      const grown = this.make(Math.min(CHUNK, 2 * i));
      grown.set(this.chunks[0]! as never);
      this.chunks[0] = grown;
    }
    this.chunks[c]![i] = v;
    this.length++;
  }

  at(k: number): number {
    return this.chunks[k >>> CHUNK_BITS]![k & MASK]!;
  }

  set(k: number, v: number): void {
    this.chunks[k >>> CHUNK_BITS]![k & MASK] = v;
  }
}

const f64 = () => new Column((n) => new Float64Array(n));
const u32 = () => new Column((n) => new Uint32Array(n));
const u8 = () => new Column((n) => new Uint8Array(n));
/** Numerators from this one up are kept in a map beside their 32-bit column. */
const BIG = 0xffffffff;

/**
 * The steps of one meter and direction, in the order they came, as runs: a run is steps
 * that follow each other in time (each starts where the one before ended, all of the
 * same length) from lines a constant stride apart, so that a file sorted by meter or by
 * time costs 4 bytes a step (its energy) and a few runs. Irregular files cost a run a
 * step (about 25 bytes).
 */
class Series {
  readonly runStart = f64();
  readonly runMinutes = u8();
  readonly runOrigin = f64();
  readonly runStride = f64();
  readonly runCount = u32();
  /** Index in the series of each run's first step. */
  readonly runFirst = u32();
  /** Where each run's first numerator is in the StepSet's column, and how far apart the next ones are. */
  readonly runSlot = f64();
  readonly runSlotStride = f64();
  length = 0;

  constructor(readonly meter: string, readonly direction: Direction) {}

  /** push adds a step whose numerator is at `slot` of the StepSet's column. */
  push(startMs: number, minutes: number, slot: number, origin: number): void {
    const r = this.runCount.length - 1;
    const j = this.length++;
    if (r >= 0) {
      const count = this.runCount.at(r);
      const m = this.runMinutes.at(r);
      if (m === minutes && startMs === this.runStart.at(r) + count * m * MS_PER_MINUTE) {
        const origin0 = this.runOrigin.at(r);
        const slot0 = this.runSlot.at(r);
        if (count === 1) {
          this.runStride.set(r, origin - origin0);
          this.runSlotStride.set(r, slot - slot0);
        }
        if (origin === origin0 + count * this.runStride.at(r) && slot === slot0 + count * this.runSlotStride.at(r)) {
          this.runCount.set(r, count + 1);
          return;
        }
      }
    }
    this.runStart.push(startMs);
    this.runMinutes.push(minutes);
    this.runOrigin.push(origin);
    this.runStride.push(0);
    this.runCount.push(1);
    this.runFirst.push(j);
    this.runSlot.push(slot);
    this.runSlotStride.push(0);
  }

  /** sorted says whether every step starts after the one that came before it. */
  sorted(): boolean {
    for (let r = 1; r < this.runCount.length; r++) {
      const before = this.runStart.at(r - 1) + (this.runCount.at(r - 1) - 1) * this.runMinutes.at(r - 1) * MS_PER_MINUTE;
      if (this.runStart.at(r) <= before) return false;
    }
    return true;
  }

  /** columns writes out every step's start, minutes and origin, by index. */
  columns(): { start: Float64Array; minutes: Uint8Array; origin: Float64Array; slot: Float64Array } {
    const n = this.length;
    const start = new Float64Array(n);
    const minutes = new Uint8Array(n);
    const origin = new Float64Array(n);
    const slot = new Float64Array(n);
    for (let r = 0; r < this.runCount.length; r++) {
      const j0 = this.runFirst.at(r);
      const m = this.runMinutes.at(r);
      for (let i = 0; i < this.runCount.at(r); i++) {
        start[j0 + i] = this.runStart.at(r) + i * m * MS_PER_MINUTE;
        minutes[j0 + i] = m;
        origin[j0 + i] = this.runOrigin.at(r) + i * this.runStride.at(r);
        slot[j0 + i] = this.runSlot.at(r) + i * this.runSlotStride.at(r);
      }
    }
    return { start, minutes, origin, slot };
  }
}

/**
 * StepSet collects metered steps as the formats deliver them (any order, any step of
 * 1..60 minutes, from one or more files), each as an exact integer `numerator` of energy
 * in units of 1/`divisor` Wh: W·min for average-power curves (divisor 60), mWh for
 * decimal energies (1000). A step must not straddle two community intervals; a step given
 * twice with a different value is an error. Each step keeps where it came from (file and
 * line, as one 32-bit ordinal) so that any later error names it.
 */
export class StepSet {
  readonly errors: LineError[] = [];
  /** Steps kept (a step given twice with the same value counts once); known after `days`. */
  values = 0;
  private readonly seriesIds = new Map<string, number>();
  private readonly series: Series[] = [];
  /** Every step's numerator in the order they came (no slack but in the last chunk), the largest in a map. */
  private readonly numerators = u32();
  private readonly big = new Map<number, number>();
  /** Files read, with the ordinal their line 0 maps to. */
  private readonly files: { name: string; base: number }[] = [];
  private lastLine = 0;
  private lastSeries = -1;

  constructor(readonly intervalMinutes: IntervalMinutes, readonly divisor: number, file?: string) {
    if (file !== undefined) this.beginFile(file);
  }

  /** beginFile names the file whose steps and errors follow. */
  beginFile(name: string): void {
    const previous = this.files.at(-1);
    this.files.push({ name, base: previous ? previous.base + this.lastLine + 1 : 0 });
    this.lastLine = 0;
  }

  /** The file being read. */
  get file(): string {
    return this.files.at(-1)?.name ?? '';
  }

  /** fail records a problem at a line of the current file (none: the file as a whole). */
  fail(line: number | undefined, message: string): void {
    this.errors.push(line === undefined ? { file: this.file, message } : { file: this.file, line, message });
  }

  add(meter: string, direction: Direction, startMs: number, minutes: number, numerator: number, line: number): void {
    if (!Number.isSafeInteger(numerator) || numerator < 0) {
      return this.fail(line, numerator >= 0 ? `the energy of this step is out of range (above ${READING_MAX_WH} Wh)` : `value must be a non-negative number, got ${numerator}`);
    }
    if (numerator > READING_MAX_WH * this.divisor) return this.fail(line, `the energy of this step, ${mulDivRound(numerator, 1, this.divisor)} Wh, is above the ${READING_MAX_WH} Wh an interval may hold`);
    if (!Number.isInteger(minutes) || minutes < 1) return this.fail(line, `a step of ${minutes} minutes: steps are whole minutes`);
    const len = this.intervalMinutes * MS_PER_MINUTE;
    if (Math.floor(startMs / len) !== Math.floor((startMs + minutes * MS_PER_MINUTE - 1) / len)) {
      return this.fail(line, `a ${minutes}-minute step starting ${formatInstant(startMs)} spans two ${this.intervalMinutes}-minute intervals: it cannot be split without estimating`);
    }
    const slot = this.numerators.length;
    if (numerator >= BIG) this.big.set(slot, numerator);
    this.numerators.push(Math.min(numerator, BIG));
    this.series[this.seriesOf(meter, direction)]!.push(startMs, minutes, slot, this.ordinal(line));
  }

  /** seriesOf numbers each meter and direction; rows of one meter usually follow each other, so the last one is kept at hand. */
  private seriesOf(meter: string, direction: Direction): number {
    const last = this.series[this.lastSeries];
    if (last && last.meter === meter && last.direction === direction) return this.lastSeries;
    const key = `${meter}\u001f${direction}`;
    let series = this.seriesIds.get(key);
    if (series === undefined) {
      series = this.series.length;
      this.seriesIds.set(key, series);
      this.series.push(new Series(meter, direction));
    }
    return (this.lastSeries = series);
  }

  private ordinal(line: number): number {
    if (line > this.lastLine) this.lastLine = line;
    const o = (this.files.at(-1)?.base ?? 0) + line;
    if (o > 0xffffffff) throw new OpenlecError('E_IMPORT_TOO_LARGE', `${this.file}: more than 4,294,967,295 lines in one import; import the files in several commands`, { field: 'file' });
    return o;
  }

  /** where turns an ordinal back into its file and line. */
  where(ordinal: number): { file: string; line: number } {
    let f = this.files.length - 1;
    while (f > 0 && this.files[f]!.base > ordinal) f--;
    const file = this.files[f] ?? { name: '', base: 0 };
    return { file: file.name, line: ordinal - file.base };
  }

  private numeratorAt(slot: number): number {
    const n = this.numerators.at(slot);
    return n === BIG ? this.big.get(slot)! : n;
  }

  /** failAt records a problem at a step's origin (file and line). */
  failAt(ordinal: number, message: string): void {
    const at = this.where(ordinal);
    this.errors.push({ file: at.file, line: at.line, message });
  }

  /**
   * days sums the steps into community intervals, exactly, rounded to Wh once per
   * interval (half to even), null where the steps do not cover the whole interval, and
   * cuts them into local days of `timeZone` (a day is listed when a step falls in it).
   * A step given twice with another value, or an interval above READING_MAX_WH, is an
   * error naming the line.
   */
  days(timeZone: string): DayReadings[] {
    const days: DayReadings[] = [];
    this.values = 0;
    for (const series of this.series) this.seriesDays(series, timeZone, days);
    return days.sort((a, b) => (a.meter + a.direction + a.date < b.meter + b.direction + b.date ? -1 : 1));
  }

  /** seriesDays walks one series' steps in time order into intervals and days. */
  private seriesDays(series: Series, timeZone: string, out: DayReadings[]): void {
    const sum = new IntervalSum(this, series, new DayCutter(series.meter, series.direction, timeZone, this.intervalMinutes, out));
    if (series.sorted()) {
      // No step before its predecessor, hence no step twice: the runs as they are.
      for (let r = 0; r < series.runCount.length; r++) {
        const m = series.runMinutes.at(r);
        const start0 = series.runStart.at(r);
        const origin0 = series.runOrigin.at(r);
        const stride = series.runStride.at(r);
        const slot0 = series.runSlot.at(r);
        const slotStride = series.runSlotStride.at(r);
        for (let i = 0; i < series.runCount.at(r); i++) sum.add(start0 + i * m * MS_PER_MINUTE, m, this.numeratorAt(slot0 + i * slotStride), origin0 + i * stride);
      }
    } else {
      const c = series.columns();
      const order = new Uint32Array(series.length);
      for (let j = 0; j < order.length; j++) order[j] = j;
      let sorted = true;
      for (let j = 1; j < order.length && sorted; j++) sorted = c.start[j - 1]! <= c.start[j]!;
      // Ties keep the order of arrival, so "also on line" names the first occurrence.
      if (!sorted) order.sort((a, b) => c.start[a]! - c.start[b]! || a - b);
      let first = 0;
      for (let j = 0; j < order.length; j++) {
        const k = order[j]!;
        const start = c.start[k]!;
        if (j > 0 && start === c.start[order[j - 1]!]) {
          const prior = order[first]!;
          if (this.numeratorAt(c.slot[prior]!) !== this.numeratorAt(c.slot[k]!) || c.minutes[prior] !== c.minutes[k]) {
            const at = this.where(c.origin[prior]!);
            this.failAt(c.origin[k]!, `the step at ${formatInstant(start)} is also on ${at.file === this.where(c.origin[k]!).file ? '' : `${at.file} `}line ${at.line} with another value`);
          }
          continue;
        }
        first = j;
        sum.add(start, c.minutes[k]!, this.numeratorAt(c.slot[k]!), c.origin[k]!);
      }
    }
    sum.close();
    sum.cutter.end();
  }
}

/**
 * IntervalSum adds one series' steps, in time order, into community intervals: exactly,
 * rounded to Wh once per interval (half to even), null where the steps do not cover the
 * whole interval; an interval above READING_MAX_WH is an error at its first step's line.
 */
class IntervalSum {
  private interval = NaN;
  private sum = 0;
  private minutes = 0;
  private first = 0;
  private readonly len: number;

  constructor(private readonly set: StepSet, private readonly series: Series, readonly cutter: DayCutter) {
    this.len = set.intervalMinutes * MS_PER_MINUTE;
  }

  add(start: number, minutes: number, numerator: number, origin: number): void {
    this.set.values++;
    const iv = Math.floor(start / this.len) * this.len;
    if (iv !== this.interval) {
      this.close();
      this.interval = iv;
      this.sum = 0;
      this.minutes = 0;
      this.first = origin;
    }
    this.sum += numerator;
    this.minutes += minutes;
  }

  close(): void {
    if (Number.isNaN(this.interval)) return;
    const set = this.set;
    // Rounded once per interval, half to even: the only rounding on the way to Wh. A
    // sum beyond exact integers is not rounded at all.
    const whole = this.minutes === set.intervalMinutes;
    const far = !Number.isSafeInteger(this.sum);
    let wh: number | null = whole && !far ? mulDivRound(this.sum, 1, set.divisor) : null;
    if (whole && (far || wh! > READING_MAX_WH)) {
      const total = far ? `more than ${Math.floor(Number.MAX_SAFE_INTEGER / set.divisor)}` : wh;
      set.failAt(this.first, `meter ${this.series.meter} (${this.series.direction}) interval ${formatInstant(this.interval)} sums to ${total} Wh, above the ${READING_MAX_WH} Wh an interval may hold`);
      wh = null;
    }
    this.cutter.put(this.interval, wh);
  }
}

/**
 * DayCutter receives one series' intervals in time order and emits its local days: one
 * time-zone conversion per day, not per interval.
 */
class DayCutter {
  private starts: number[] = [];
  private values: (number | null)[] = [];
  private date = '';
  private endMs = -Infinity;

  constructor(private readonly meter: string, private readonly direction: Direction, private readonly timeZone: string, private readonly minutes: IntervalMinutes, private readonly out: DayReadings[]) {}

  put(interval: number, wh: number | null): void {
    if (interval >= this.endMs) {
      this.end();
      this.date = localDateOf(interval, this.timeZone);
      const day = localDay(this.date, this.timeZone);
      this.endMs = day.endMs;
      this.starts = dayIntervals(day, this.minutes);
      this.values = this.starts.map(() => null);
    }
    const guess = (interval - this.starts[0]!) / (this.minutes * MS_PER_MINUTE);
    const k = this.starts[guess] === interval ? guess : this.starts.indexOf(interval);
    invariant(k >= 0, 'an interval falls in the local day of its start');
    this.values[k] = wh;
  }

  end(): void {
    if (this.date === '') return;
    const gaps = this.values.reduce((n: number, v) => (v === null ? n + 1 : n), 0);
    this.out.push({ meter: this.meter, direction: this.direction, date: this.date, values: this.values, gaps });
    this.date = '';
  }
}

/** formatLineError writes "file:line: message", or "file: message" for the file as a whole. */
export function formatLineError(e: LineError): string {
  return `${e.file}${e.line === undefined ? '' : `:${e.line}`}: ${e.message}`;
}

/** importError lists the rejected lines in the order of `files` (else of first mention) and of their lines. */
export function importError(errors: readonly LineError[], files: readonly string[] = [...new Set(errors.map((e) => e.file))]): OpenlecError {
  const sorted = errors.map((e, k) => ({ e, k })).sort((a, b) => files.indexOf(a.e.file) - files.indexOf(b.e.file) || (a.e.line ?? 0) - (b.e.line ?? 0) || a.k - b.k).map((x) => x.e);
  const shown = sorted.slice(0, 20).map(formatLineError).join('\n  ');
  const more = errors.length > 20 ? `\n  ... and ${errors.length - 20} more` : '';
  return new OpenlecError('E_IMPORT_LINES', `${errors.length} rejected line(s), nothing imported:\n  ${shown}${more}`, { field: 'file', details: { errors: sorted.slice(0, 100) } });
}
