import { pipeline } from 'node:stream/promises';
import { CsvError, parse } from 'csv-parse';
import { OpenlecError } from '../../errors.ts';
import { parseDecimal, parseInstant } from '../../units/index.ts';
import { DIRECTIONS, type Direction } from '../meter-register.ts';
import { READING_MAX_WH, type StepSet } from './steps.ts';

/**
 * Generic CSV: a header row, then one row per meter and step: meter id, step start
 * (ISO 8601 with offset) and energy over the step in Wh or kWh (dot or comma decimals),
 * optionally a direction column (import/export). Column names, unit, separator and step
 * length are options. Energies are kept exactly in mWh (divisor 1000).
 */
export interface CsvOptions {
  meterColumn: string;
  startColumn: string;
  valueColumn: string;
  directionColumn?: string;
  unit: 'Wh' | 'kWh';
  stepMinutes: number;
  direction: Direction;
  separator?: string;
}

export const CSV_DEFAULTS: CsvOptions = { meterColumn: 'meter', startColumn: 'start', valueColumn: 'value', directionColumn: 'direction', unit: 'Wh', stepMinutes: 30, direction: 'import' };

/** The longest row read, in characters: a wrong separator or an unclosed quote stops here rather than filling memory. */
const MAX_ROW_CHARS = 100_000;
/** How far the separator is looked for when the first line is longer than that. */
const HEAD_BYTES = 64 * 1024;
const LINE_BREAKS = /\r\n|\r|\n/g;

type Chunks = AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>;

/**
 * parseCsv reads a generic CSV from its chunks (e.g. a file stream) with csv-parse, so
 * that the text is never held whole: quotes (a decimal comma inside quotes with `,` as
 * separator), \n, \r\n or \r line ends and a BOM are handled by the parser. Every row
 * must have as many cells as the header; an empty file, or a header without rows, is an
 * error. Problems are collected in the StepSet with their line.
 */
export async function parseCsv(chunks: Chunks, steps: StepSet, o: CsvOptions): Promise<void> {
  const it = iterate(chunks);
  const head = await firstLine(it);
  const separator = o.separator ?? (lineOf(head.bytes).includes(';') ? ';' : ',');
  const rows = new CsvRows(steps, o);
  // Blank lines come as records too (skip_empty_lines off), so that counting records and
  // the line breaks inside quoted cells gives each row's line without csv-parse's
  // per-record info object (which costs more than the parsing).
  const parser = parse({ delimiter: separator, bom: true, trim: true, relax_column_count: true, skip_empty_lines: false, max_record_size: MAX_ROW_CHARS });
  try {
    await pipeline(async function* () {
      yield head.bytes;
      if (!head.done) for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
    }, parser, async (records: AsyncIterable<string[]>) => {
      for await (const record of records) rows.row(record);
    });
  } catch (e) {
    if (!(e instanceof CsvError)) throw e;
    steps.fail(csvErrorLine(e, rows.line), csvErrorMessage(e));
    return;
  }
  rows.end();
}

/** CsvRows checks the header, then turns each row into a step of the StepSet. */
class CsvRows {
  private header: string[] | undefined;
  private meterAt = -1;
  private startAt = -1;
  private valueAt = -1;
  private directionAt = -1;
  private readonly scale: number;
  private rows = 0;
  /** The line the last record ended on (a quoted cell may hold line breaks). */
  line = 0;

  constructor(private readonly steps: StepSet, private readonly o: CsvOptions) {
    // Wh with 3 decimals and kWh with 6 are both mWh.
    this.scale = o.unit === 'kWh' ? 6 : 3;
  }

  /** row reads one record: a blank line, the header or a row, named by the line it starts on. */
  row(cells: string[]): void {
    const start = ++this.line;
    for (const cell of cells) if (cell.includes('\n') || cell.includes('\r')) this.line += cell.match(LINE_BREAKS)!.length;
    if (cells.length === 1 && cells[0] === '') return;
    if (!this.header) this.readHeader(cells, start);
    else this.readRow(cells, start);
  }

  private readHeader(cells: string[], line: number): void {
    const header = cells.map((h) => h.trim());
    this.header = header;
    const col = (name: string, required: boolean) => {
      const k = header.indexOf(name);
      if (k < 0 && required) throw new OpenlecError('E_CSV_HEADER', `${this.steps.file}:${line}: no column "${name}" in the header (${header.join(', ')})`, { field: 'columns' });
      return k;
    };
    this.meterAt = col(this.o.meterColumn, true);
    this.startAt = col(this.o.startColumn, true);
    this.valueAt = col(this.o.valueColumn, true);
    this.directionAt = this.o.directionColumn ? col(this.o.directionColumn, false) : -1;
  }

  private readRow(cells: string[], line: number): void {
    this.rows++;
    const problem = this.rowProblem(cells, line);
    if (problem) this.steps.fail(line, problem);
  }

  /** rowProblem adds the row's step, or says what is wrong with the row. */
  private rowProblem(cells: string[], line: number): string | undefined {
    const o = this.o;
    const header = this.header!;
    if (cells.length !== header.length) {
      const missing = cells.length < header.length;
      const k = missing ? cells.length : header.length;
      return `${cells.length} cell(s) where the header has ${header.length}: ${missing ? `no "${header[k]}" (column ${k + 1})` : `cell ${k + 1} ("${cells[k]}") has no column`}`;
    }
    // csv-parse keeps the spaces inside quotes; cells are read as trimmed all the same.
    const meter = cells[this.meterAt]!.trim();
    if (!meter) return `empty ${o.meterColumn}`;
    let direction = o.direction;
    const d = this.directionAt >= 0 ? cells[this.directionAt]!.trim() : '';
    if (d) {
      if (!DIRECTIONS.includes(d as Direction)) return `${o.directionColumn} must be import or export, got "${d}"`;
      direction = d as Direction;
    }
    const value = cells[this.valueAt]!;
    try {
      const start = parseInstant(cells[this.startAt]!.trim(), o.startColumn);
      const mwh = parseDecimal(value, this.scale, o.valueColumn);
      if (mwh < 0) return `${o.valueColumn} is negative (${value})`;
      if (mwh > READING_MAX_WH * 1000) return `${o.valueColumn} "${value}" ${o.unit} is above the ${READING_MAX_WH} Wh an interval may hold`;
      this.steps.add(meter, direction, start, o.stepMinutes, mwh, line);
    } catch (e) {
      return (e as Error).message;
    }
    return undefined;
  }

  end(): void {
    if (!this.header) this.steps.fail(undefined, 'the file is empty');
    else if (this.rows === 0) this.steps.fail(undefined, 'a header and no rows');
  }
}

function iterate(chunks: Chunks): AsyncIterator<Uint8Array | string> | Iterator<Uint8Array | string> {
  return Symbol.asyncIterator in chunks ? chunks[Symbol.asyncIterator]() : chunks[Symbol.iterator]();
}

/** firstLine reads chunks until the first line break (or HEAD_BYTES), so the separator is known before parsing. */
async function firstLine(it: ReturnType<typeof iterate>): Promise<{ bytes: Buffer; done: boolean }> {
  const parts: Buffer[] = [];
  let size = 0;
  for (;;) {
    const r = await it.next();
    if (r.done) return { bytes: Buffer.concat(parts), done: true };
    const b = typeof r.value === 'string' ? Buffer.from(r.value) : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    parts.push(b);
    size += b.length;
    if (b.includes(0x0a) || b.includes(0x0d) || size >= HEAD_BYTES) return { bytes: Buffer.concat(parts), done: false };
  }
}

function lineOf(bytes: Buffer): string {
  const text = bytes.toString('utf8', 0, Math.min(bytes.length, HEAD_BYTES));
  const end = text.search(/[\r\n]/);
  return end < 0 ? text : text.slice(0, end);
}

/** csvErrorLine is the line an error of csv-parse is at; an unclosed quote or an endless row is reported where its row starts. */
function csvErrorLine(e: CsvError, lastLine: number): number {
  if (e.code === 'CSV_QUOTE_NOT_CLOSED' || e.code === 'CSV_MAX_RECORD_SIZE') return lastLine + 1;
  return typeof e.lines === 'number' ? e.lines : lastLine + 1;
}

function csvErrorMessage(e: CsvError): string {
  switch (e.code) {
    case 'CSV_QUOTE_NOT_CLOSED': return 'a quoted cell on this row is never closed';
    case 'CSV_MAX_RECORD_SIZE': return `a row longer than ${MAX_ROW_CHARS} characters (an unclosed quote, or the wrong separator or line end?)`;
    default: return e.message.replace(/ at line \d+/, '');
  }
}
