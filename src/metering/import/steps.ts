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
 * Steps live in columns of fixed-size chunks (25 bytes a step, no object per step, no
 * copying as they grow), in the order the formats deliver them; `days` sorts them.
 */
const CHUNK_BITS = 16;
const CHUNK = 1 << CHUNK_BITS;
const MASK = CHUNK - 1;

class StepColumns {
  readonly start: Float64Array[] = [];
  readonly numerator: Float64Array[] = [];
  readonly origin: Uint32Array[] = [];
  readonly series: Uint32Array[] = [];
  readonly minutes: Uint8Array[] = [];
  length = 0;

  push(series: number, startMs: number, minutes: number, numerator: number, origin: number): void {
    const c = this.length >>> CHUNK_BITS;
    if (c === this.start.length) {
      this.start.push(new Float64Array(CHUNK));
      this.numerator.push(new Float64Array(CHUNK));
      this.origin.push(new Uint32Array(CHUNK));
      this.series.push(new Uint32Array(CHUNK));
      this.minutes.push(new Uint8Array(CHUNK));
    }
    const i = this.length & MASK;
    this.start[c]![i] = startMs;
    this.numerator[c]![i] = numerator;
    this.origin[c]![i] = origin;
    this.series[c]![i] = series;
    this.minutes[c]![i] = minutes;
    this.length++;
  }

  startAt = (k: number) => this.start[k >>> CHUNK_BITS]![k & MASK]!;
  numeratorAt = (k: number) => this.numerator[k >>> CHUNK_BITS]![k & MASK]!;
  originAt = (k: number) => this.origin[k >>> CHUNK_BITS]![k & MASK]!;
  seriesAt = (k: number) => this.series[k >>> CHUNK_BITS]![k & MASK]!;
  minutesAt = (k: number) => this.minutes[k >>> CHUNK_BITS]![k & MASK]!;
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
  private readonly columns = new StepColumns();
  private readonly seriesIds = new Map<string, number>();
  private readonly seriesKeys: { meter: string; direction: Direction }[] = [];
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
    this.columns.push(this.seriesOf(meter, direction), startMs, minutes, numerator, this.ordinal(line));
  }

  /** seriesOf numbers each meter and direction; rows of one meter usually follow each other, so the last one is kept at hand. */
  private seriesOf(meter: string, direction: Direction): number {
    const last = this.seriesKeys[this.lastSeries];
    if (last && last.meter === meter && last.direction === direction) return this.lastSeries;
    const key = `${meter}\u001f${direction}`;
    let series = this.seriesIds.get(key);
    if (series === undefined) {
      series = this.seriesKeys.length;
      this.seriesIds.set(key, series);
      this.seriesKeys.push({ meter, direction });
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
  private where(ordinal: number): { file: string; line: number } {
    let f = this.files.length - 1;
    while (f > 0 && this.files[f]!.base > ordinal) f--;
    const file = this.files[f] ?? { name: '', base: 0 };
    return { file: file.name, line: ordinal - file.base };
  }

  private failAt(ordinal: number, message: string): void {
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
    const { order, ends } = this.bySeries();
    const days: DayReadings[] = [];
    this.values = 0;
    for (const [s, { meter, direction }] of this.seriesKeys.entries()) {
      this.seriesDays(order.subarray(s === 0 ? 0 : ends[s - 1], ends[s]), meter, direction, timeZone, days);
    }
    return days.sort((a, b) => (a.meter + a.direction + a.date < b.meter + b.direction + b.date ? -1 : 1));
  }

  /** bySeries lists the steps grouped by series (a counting sort: within a series, in the order they came) and where each series ends. */
  private bySeries(): { order: Uint32Array; ends: Uint32Array } {
    const c = this.columns;
    const ends = new Uint32Array(this.seriesKeys.length);
    for (let k = 0; k < c.length; k++) ends[c.seriesAt(k)]!++;
    for (let s = 1; s < ends.length; s++) ends[s]! += ends[s - 1]!;
    const next = new Uint32Array(ends.length);
    for (let s = 1; s < next.length; s++) next[s] = ends[s - 1]!;
    const order = new Uint32Array(c.length);
    for (let k = 0; k < c.length; k++) order[next[c.seriesAt(k)]!++] = k;
    return { order, ends };
  }

  /** seriesDays walks one series' steps in time order into intervals and days. */
  private seriesDays(order: Uint32Array, meter: string, direction: Direction, timeZone: string, out: DayReadings[]): void {
    const c = this.columns;
    let sorted = true;
    for (let j = 1; j < order.length && sorted; j++) sorted = c.startAt(order[j - 1]!) <= c.startAt(order[j]!);
    // Ties keep the order of arrival, so "also on line" names the first occurrence.
    if (!sorted) order.sort((a, b) => c.startAt(a) - c.startAt(b) || a - b);
    const len = this.intervalMinutes * MS_PER_MINUTE;
    const cutter = new DayCutter(meter, direction, timeZone, this.intervalMinutes, out);
    let interval = NaN;
    let sum = 0;
    let minutes = 0;
    let first = 0;
    const close = () => {
      if (Number.isNaN(interval)) return;
      // Rounded once per interval, half to even: the only rounding on the way to Wh. A
      // sum beyond exact integers is not rounded at all.
      const whole = minutes === this.intervalMinutes;
      const far = !Number.isSafeInteger(sum);
      let wh: number | null = whole && !far ? mulDivRound(sum, 1, this.divisor) : null;
      if (whole && (far || wh! > READING_MAX_WH)) {
        const total = far ? `more than ${Math.floor(Number.MAX_SAFE_INTEGER / this.divisor)}` : wh;
        this.failAt(first, `meter ${meter} (${direction}) interval ${formatInstant(interval)} sums to ${total} Wh, above the ${READING_MAX_WH} Wh an interval may hold`);
        wh = null;
      }
      cutter.put(interval, wh);
    };
    for (let j = 0; j < order.length; j++) {
      const k = order[j]!;
      const start = c.startAt(k);
      if (j > 0 && start === c.startAt(order[j - 1]!)) {
        const prior = this.firstAt(order, j);
        if (c.numeratorAt(prior) !== c.numeratorAt(k) || c.minutesAt(prior) !== c.minutesAt(k)) {
          const at = this.where(c.originAt(prior));
          this.failAt(c.originAt(k), `the step at ${formatInstant(start)} is also on ${at.file === this.where(c.originAt(k)).file ? '' : `${at.file} `}line ${at.line} with another value`);
        }
        continue;
      }
      this.values++;
      const iv = Math.floor(start / len) * len;
      if (iv !== interval) {
        close();
        interval = iv;
        sum = 0;
        minutes = 0;
        first = c.originAt(k);
      }
      sum += c.numeratorAt(k);
      minutes += c.minutesAt(k);
    }
    close();
    cutter.end();
  }

  /** firstAt finds the first step of the run of equal starts that ends at position j. */
  private firstAt(order: Uint32Array, j: number): number {
    const start = this.columns.startAt(order[j]!);
    let i = j;
    while (i > 0 && this.columns.startAt(order[i - 1]!) === start) i--;
    return order[i]!;
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
