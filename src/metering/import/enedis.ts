import { fixedInstantAt, parseInstant } from '../../units/index.ts';
import type { Direction } from '../meter-register.ts';
import { eachLine } from './lines.ts';
import { READING_MAX_WH, type StepSet } from './steps.ts';

/**
 * The French DSO's load-curve export: header blocks ("Identifiant PRM;...;Grandeur
 * metier;...;Unite;Pas en minutes" and a value line), a blank line, then
 * "Horodate;Valeur" rows. Values are AVERAGE power in W over the step, and the time
 * stamp marks the END of the step. Rows may be unsorted and the step may change inside
 * a file, so the step of a row is the time since the previous row when that is a
 * plausible step confirmed by the next two rows; otherwise the previous (or declared) step,
 * which leaves the missing time as a gap. Energy is kept exactly in W·min (divisor 60).
 * The file is read line by line (EnedisReader, fed by parseEnedisBytes), so its text is never held whole; only the
 * current block's rows are, in typed columns.
 */
const STEPS = new Set([5, 10, 15, 30, 60]);

/** Rows of one header block: END time, average W and line, in columns that grow by doubling. */
class Rows {
  endMs = new Float64Array(1024);
  watts = new Float64Array(1024);
  line = new Uint32Array(1024);
  length = 0;

  push(endMs: number, watts: number, line: number): void {
    if (this.length === this.endMs.length) {
      const grow = <T extends Float64Array | Uint32Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(a.length * 2);
        b.set(a);
        return b;
      };
      this.endMs = grow(this.endMs);
      this.watts = grow(this.watts);
      this.line = grow(this.line);
    }
    this.endMs[this.length] = endMs;
    this.watts[this.length] = watts;
    this.line[this.length++] = line;
  }

  /** byTime lists the rows by END time; rows with equal times keep their order in the file. */
  byTime(): Uint32Array {
    const order = new Uint32Array(this.length);
    let sorted = true;
    for (let k = 0; k < this.length; k++) {
      order[k] = k;
      if (k > 0 && this.endMs[k - 1]! > this.endMs[k]!) sorted = false;
    }
    if (!sorted) order.sort((a, b) => this.endMs[a]! - this.endMs[b]! || a - b);
    return order;
  }
}

/** EnedisReader takes the lines of one export in order (`line`), then `end`, and adds its steps to a StepSet. */
export class EnedisReader {
  private n = 0;
  private prm: string | undefined;
  private direction: Direction = 'import';
  private declared: number | undefined;
  /** The header line of a block whose value line is the next line. */
  private header: string[] | undefined;
  private readonly rows = new Rows();
  private values = 0;
  private readonly errorsBefore: number;

  constructor(private readonly steps: StepSet) {
    this.errorsBefore = steps.errors.length;
  }

  line(raw: string): void {
    const n = ++this.n;
    const line = raw.trim();
    if (this.header) return this.blockValues(line, n);
    if (line === '') return;
    const sep = line.indexOf(';');
    const first = sep < 0 ? line : line.slice(0, sep);
    if (first === 'Identifiant PRM') {
      this.flush();
      this.header = line.split(';').map((c) => c.trim());
      return;
    }
    if (first === 'Horodate') return;
    if (!this.prm) return this.steps.fail(n, 'a value before any "Identifiant PRM" header');
    this.values++;
    const end = line.indexOf(';', sep + 1);
    const valueText = (end < 0 ? line.slice(sep + 1) : line.slice(sep + 1, end)).trim();
    if (sep < 0 || !/^\d+$/.test(valueText)) return this.steps.fail(n, `expected "Horodate;Valeur" with a non-negative integer in W, got "${line}"`);
    let endMs: number;
    try {
      endMs = parseInstant(first.trim(), 'Horodate');
    } catch (e) {
      return this.steps.fail(n, (e as Error).message);
    }
    this.rows.push(endMs, Number(valueText), n);
  }

  /**
   * lineAt takes the line text[from, to). The usual value row ("2026-01-01T00:10:00+01:00;1234"
   * in a block) is read in place; any other line goes to `line`, which reads it the same.
   */
  lineAt(text: string, from: number, to: number): void {
    if (this.header === undefined && this.prm) {
      const sep = text.indexOf(';', from);
      if (sep > from && sep < to) {
        const endMs = fixedInstantAt(text, from, sep - from);
        let k = sep + 1;
        let watts = 0;
        for (; k < to; k++) {
          const d = text.charCodeAt(k) - 48;
          if (d < 0 || d > 9) break;
          watts = watts * 10 + d;
        }
        if (endMs !== undefined && k > sep + 1 && k - sep - 1 <= 15 && (k === to || text.charCodeAt(k) === 59)) {
          this.values++;
          this.rows.push(endMs, watts, ++this.n);
          return;
        }
      }
    }
    this.line(text.slice(from, to));
  }

  /** blockValues reads the line after an "Identifiant PRM" header: the block's PRM, direction, unit and declared step. */
  private blockValues(line: string, n: number): void {
    const header = this.header!;
    this.header = undefined;
    const v = line.split(';').map((c) => c.trim());
    const at = (name: string) => v[header.indexOf(name)];
    this.prm = at('Identifiant PRM');
    if (!this.prm || !/^\d{14}$/.test(this.prm)) this.steps.fail(n, `Identifiant PRM "${this.prm ?? ''}" is not 14 digits`);
    const metier = (at('Grandeur metier') ?? at('Grandeur métier') ?? '').toLowerCase();
    this.direction = metier.startsWith('prod') || metier.startsWith('inj') ? 'export' : 'import';
    const unit = at('Unite') ?? at('Unité');
    if (unit && unit !== 'W') this.steps.fail(n, `unit "${unit}" is not W (average power)`);
    const pas = Number(at('Pas en minutes'));
    this.declared = STEPS.has(pas) ? pas : undefined;
  }

  end(): void {
    if (this.header) this.blockValues('', this.n + 1);
    this.flush();
    // A file that yields nothing is an error too, unless its lines already said why.
    if (this.values > 0 || this.steps.errors.length > this.errorsBefore) return;
    this.steps.fail(undefined, this.n === 0 ? 'the file is empty' : this.prm ? 'no values (no "Horodate;Valeur" rows)' : 'no "Identifiant PRM" header block: not a French DSO load-curve export');
  }

  private flush(): void {
    if (this.prm && this.rows.length > 0) emit(this.prm, this.direction, this.declared, this.rows, this.steps);
    this.rows.length = 0;
  }
}

/** parseEnedis reads the lines of one export (any iterable, e.g. node:readline over a file stream). */
export async function parseEnedis(lines: AsyncIterable<string> | Iterable<string>, steps: StepSet): Promise<void> {
  const reader = new EnedisReader(steps);
  for await (const line of lines) reader.line(line);
  reader.end();
}

/** parseEnedisBytes reads one export given as chunks of its bytes (a file stream), splitting its lines as node:readline does, a chunk at a time. */
export async function parseEnedisBytes(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, steps: StepSet): Promise<void> {
  const reader = new EnedisReader(steps);
  await eachLine(chunks, (text, from, to) => reader.lineAt(text, from, to));
  reader.end();
}

/** persists tells whether the step `minutes` also separates the next two rows (or all remaining ones). */
function persists(rows: Rows, order: Uint32Array, k: number, minutes: number): boolean {
  for (let j = k + 1; j <= k + 2 && j < order.length; j++) if ((rows.endMs[order[j]!]! - rows.endMs[order[j - 1]!]!) / 60_000 !== minutes) return false;
  return true;
}

function emit(prm: string, direction: Direction, declared: number | undefined, rows: Rows, steps: StepSet): void {
  const order = rows.byTime();
  const endAt = (k: number) => rows.endMs[order[k]!]!;
  let previous: number | undefined = declared;
  for (let k = 0; k < order.length; k++) {
    const r = order[k]!;
    const endMs = endAt(k);
    const before = k > 0 ? order[k - 1]! : undefined;
    if (before !== undefined && rows.endMs[before] === endMs) {
      if (rows.watts[before] !== rows.watts[r]) steps.fail(rows.line[r]!, `time ${new Date(endMs).toISOString()} is also on line ${rows.line[before]} with another value`);
      continue;
    }
    const next = k + 1 < order.length ? (endAt(k + 1) - endMs) / 60_000 : undefined;
    let minutes = before !== undefined ? (endMs - rows.endMs[before]!) / 60_000 : undefined;
    if (minutes === undefined) minutes = declared ?? (next !== undefined && STEPS.has(next) ? next : undefined);
    // A new step length counts only if the next two rows confirm it: a real change of
    // step persists, while a longer difference is a gap in the data, never filled.
    else if (minutes !== previous && previous !== undefined && (!STEPS.has(minutes) || !persists(rows, order, k, minutes))) minutes = previous;
    if (minutes === undefined) {
      steps.fail(rows.line[r]!, 'cannot tell the step of this value (no "Pas en minutes" and no neighbour)');
      continue;
    }
    previous = minutes;
    if (rows.watts[r]! * minutes > READING_MAX_WH * 60) {
      steps.fail(rows.line[r]!, `${rows.watts[r]} W over ${minutes} minutes is above the ${READING_MAX_WH} Wh an interval may hold`);
      continue;
    }
    steps.add(prm, direction, endMs - minutes * 60_000, minutes, rows.watts[r]! * minutes, rows.line[r]!);
  }
}
