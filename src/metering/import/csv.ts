import { CsvError, Parser } from 'csv-parse';
import { OpenlecError } from '../../errors.ts';
import { concatBytes } from '../../ledger/bytes.ts';
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
 * parseCsv reads a generic CSV from its chunks (e.g. a file stream), so that the text is
 * never held whole: quotes (a decimal comma inside quotes with `,` as separator), \n,
 * \r\n or \r line ends and a BOM are handled as csv-parse handles them. Every row must
 * have as many cells as the header; an empty file, or a header without rows, is an
 * error. Problems are collected in the StepSet with their line.
 *
 * Plain rows (ASCII, no line break but the file's own, cells unquoted or simply quoted)
 * are split by PlainRows, many times faster than csv-parse, which reads the rest of the
 * file from the first row that is not plain: a doubled quote, a line break inside quotes,
 * a stray quote, non-ASCII text, an over-long row. Both give the same cells and lines
 * (a test compares them on random input; `plain` false reads every row with csv-parse).
 */
export async function parseCsv(chunks: Chunks, steps: StepSet, o: CsvOptions, plain = true): Promise<void> {
  const it = iterate(chunks);
  const head = await firstLine(it);
  const separator = o.separator ?? (lineOf(head.bytes).includes(';') ? ';' : ',');
  const rows = new CsvRows(steps, o);
  const source = (async function* (): AsyncGenerator<Uint8Array> {
    yield head.bytes;
    if (!head.done) for (let r = await it.next(); !r.done; r = await it.next()) yield asBytes(r.value);
  })();
  let rest: Handover | undefined = { text: '', lines: 0, fromStart: true };
  if (plain && PlainRows.separates(separator)) {
    rest = await new PlainRows(separator.charCodeAt(0), rows).read(source);
    if (!rest) return rows.end();
  }
  // Blank lines come as records too (skip_empty_lines off), so that counting records and
  // the line breaks inside quoted cells gives each row's line without csv-parse's
  // per-record info object (which costs more than the parsing). The parser's own engine
  // is driven chunk by chunk, each record read as it is parsed: a parse error then comes
  // after every row before it has been checked, however the file is cut into chunks.
  const options = {
    delimiter: separator, bom: rest.fromStart, trim: true, relax_column_count: true, skip_empty_lines: false, max_record_size: MAX_ROW_CHARS,
    ...(rest.recordDelimiter ? { record_delimiter: rest.recordDelimiter } : {}),
  };
  const engine = (new Parser(options) as unknown as { api: CsvEngine }).api;
  const bytes = engineBytes(engine);
  const push = (record: string[]) => rows.row(record);
  const none = () => {};
  let e = rest.text.length > 0 ? engine.parse(bytes(bytesOf(rest.text)), false, push, none) : undefined;
  for (let r = await source.next(); e === undefined && !r.done; r = await source.next()) e = engine.parse(bytes(r.value), false, push, none);
  if (e === undefined) e = engine.parse(undefined, true, push, none);
  if (e !== undefined) {
    if (!(e instanceof CsvError)) throw e;
    steps.fail(csvErrorLine(e, rows.line, rest.lines), csvErrorMessage(e));
    return;
  }
  rows.end();
}

/**
 * The engine inside csv-parse's stream (its `api`): parse takes a chunk (none at the end),
 * hands each record to `push` and returns the error it stops at. Its options hold the
 * separator as a Buffer of the engine's own kind (see engineBytes).
 */
interface CsvEngine {
  parse(chunk: Uint8Array | undefined, end: boolean, push: (record: string[]) => void, close: () => void): Error | undefined;
  readonly options: { readonly delimiter: readonly Uint8Array[] };
}

/**
 * engineBytes gives chunks to the engine as its own Buffer: node's in node; the browser
 * build of csv-parse (web/vite.config.ts) carries a Buffer of its own and refuses any
 * other bytes. The Buffer is a view of the chunk's bytes, not a copy.
 */
function engineBytes(engine: CsvEngine): (chunk: Uint8Array) => Uint8Array {
  const EngineBuffer = engine.options.delimiter[0]!.constructor as unknown as { from(b: ArrayBufferLike, offset: number, length: number): Uint8Array };
  return (chunk) => EngineBuffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/** What PlainRows leaves to csv-parse: the text from the first row it did not read (none: the whole file), its lines so far and the line end it found. */
interface Handover {
  /** The text read and not split, one character a byte (LATIN1; bytesOf gives the bytes back), from the start of a row. */
  readonly text: string;
  /** The text is the file's from its first byte (no row split): csv-parse reads it all, BOM and line end included. */
  readonly fromStart: boolean;
  readonly lines: number;
  readonly recordDelimiter?: string;
}

const QUOTE = 0x22;
const CR = 0x0d;
const LF = 0x0a;
const isBlank = (c: number) => c === 0x20 || c === 0x09 || c === 0x0b || c === 0x0c;

/**
 * PlainRows splits the rows that are plain, exactly as csv-parse would (trim, BOM, the
 * line end of the file's first line break), and hands the text over at the first row
 * that is not. Text is read as latin1 strings (one character a byte, so that a handover
 * gives back the very bytes: see LATIN1); plain rows are ASCII.
 */
class PlainRows {
  private recordDelimiter: '\n' | '\r\n' | '\r' | undefined;
  private lines = 0;

  constructor(private readonly separator: number, private readonly rows: CsvRows) {}

  /** separates says whether PlainRows reads files of this separator: one ASCII character that is neither a quote nor a line break. */
  static separates(separator: string): boolean {
    const c = separator.charCodeAt(0);
    return separator.length === 1 && c < 0x80 && c !== QUOTE && c !== CR && c !== LF;
  }

  async read(source: AsyncIterator<Uint8Array>): Promise<Handover | undefined> {
    // The text read and not yet split; until the first row is split, from the file's first byte.
    let text = '';
    let done = false;
    let bom = -1;
    for (;;) {
      const r = await source.next();
      if (r.done) done = true;
      else text = text.length === 0 ? LATIN1.decode(r.value) : text + LATIN1.decode(r.value);
      if (bom < 0) {
        // csv-parse looks for a BOM in the first 3 bytes; the UTF-16 one changes the encoding: not plain.
        if (text.length < 3 && !done) continue;
        if (text.charCodeAt(0) === 0xff && text.charCodeAt(1) === 0xfe) return this.handover(text, 0);
        bom = text.startsWith('\xef\xbb\xbf') ? 3 : 0;
      }
      let pos = this.lines === 0 ? bom : 0;
      if (!this.recordDelimiter) {
        // csv-parse takes the first line break of the file as the line end of all rows.
        const lf = text.indexOf('\n', pos);
        const cr = text.indexOf('\r', pos);
        const at = cr < 0 ? lf : lf < 0 ? cr : Math.min(cr, lf);
        if (at >= 0 && (text.charCodeAt(at) === LF || at + 1 < text.length || done)) {
          this.recordDelimiter = text.charCodeAt(at) === LF ? '\n' : text.charCodeAt(at + 1) === LF ? '\r\n' : '\r';
        } else if (!done) {
          if (text.length - pos > MAX_ROW_CHARS) return this.handover(text, pos);
          continue;
        }
      }
      const end = this.recordDelimiter === '\r' ? '\r' : '\n';
      const crlf = this.recordDelimiter === '\r\n';
      for (let nl = text.indexOf(end, pos); nl >= 0; nl = text.indexOf(end, pos)) {
        const stop = crlf ? nl - 1 : nl;
        if ((crlf && (nl === pos || text.charCodeAt(stop) !== CR)) || stop - pos > MAX_ROW_CHARS) return this.handover(text, pos);
        const cells = this.split(text, pos, stop);
        if (!cells) return this.handover(text, pos);
        this.rows.plainRow(cells);
        this.lines++;
        pos = nl + 1;
      }
      if (done) {
        if (pos >= text.length) return undefined;
        if (text.length - pos > MAX_ROW_CHARS) return this.handover(text, pos);
        const cells = this.split(text, pos, text.length);
        if (!cells) return this.handover(text, pos);
        // Like csv-parse, a last line without a line end is a row unless it is blank.
        if (!this.blank(text, pos, text.length)) this.rows.plainRow(cells);
        return undefined;
      }
      if (text.length - pos > MAX_ROW_CHARS) return this.handover(text, pos);
      if (this.lines > 0) text = text.slice(pos);
    }
  }

  /** handover gives csv-parse the text from `pos`, or, when no row has been split yet, all of it from the file's first byte. */
  private handover(text: string, pos: number): Handover {
    if (this.lines === 0) return { text, lines: 0, fromStart: true };
    return { text: text.slice(pos), lines: this.lines, fromStart: false, recordDelimiter: this.recordDelimiter! };
  }

  private blank(text: string, from: number, to: number): boolean {
    for (let i = from; i < to; i++) {
      const c = text.charCodeAt(i);
      if (c === this.separator || !isBlank(c)) return false;
    }
    return true;
  }

  /** split reads one plain row's cells, trimmed as csv-parse trims them; undefined when the row is not plain. */
  private split(text: string, from: number, to: number): string[] | undefined {
    const cells: string[] = [];
    const sep = this.separator;
    let start = from;
    for (let i = from; i < to; i++) {
      const c = text.charCodeAt(i);
      if (c === sep) {
        cells.push(text.slice(start, i).trim());
        start = i + 1;
      } else if (c === QUOTE) {
        // A quote opens a quoted cell only where the cell holds nothing but blanks so far.
        for (let k = start; k < i; k++) if (!isBlank(text.charCodeAt(k))) return undefined;
        const close = text.indexOf('"', i + 1);
        if (close < 0 || close >= to) return undefined;
        for (let k = i + 1; k < close; k++) {
          const q = text.charCodeAt(k);
          if (q >= 0x80 || q === CR || q === LF) return undefined;
        }
        // A doubled quote is an escaped one; after the closing quote only blanks until the separator.
        let j = close + 1;
        if (j < to && text.charCodeAt(j) === QUOTE) return undefined;
        while (j < to && text.charCodeAt(j) !== sep) {
          if (!isBlank(text.charCodeAt(j))) return undefined;
          j++;
        }
        // Quoted cells keep their spaces.
        cells.push(text.slice(i + 1, close));
        if (j >= to) return cells;
        start = j + 1;
        i = j;
      } else if (c >= 0x80 || c === CR || c === LF) {
        return undefined;
      }
    }
    cells.push(text.slice(start, to).trim());
    return cells;
  }
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
  private lastMeter = '';
  private readonly meters = new Map<string, string>();
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

  /** plainRow is row for a record on one line (no line break in its cells). */
  plainRow(cells: string[]): void {
    const start = ++this.line;
    if (cells.length === 1 && cells[0] === '') return;
    if (!this.header) this.readHeader(cells, start);
    else this.readRow(cells, start);
  }

  private readHeader(cells: string[], line: number): void {
    const header = cells.map((h) => flat(h.trim()));
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
    // Kept for the report: a copy, not a view that would keep the chunk it was cut from.
    if (problem) this.steps.fail(line, flat(problem));
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
    const meter = this.meterOf(cells[this.meterAt]!.trim());
    if (!meter) return `empty ${o.meterColumn}`;
    let direction = o.direction;
    const d = this.directionAt >= 0 ? cells[this.directionAt]!.trim() : '';
    if (d) {
      if (!DIRECTIONS.includes(d as Direction)) return `${o.directionColumn} must be import or export, got "${d}"`;
      direction = d as Direction;
    }
    const value = cells[this.valueAt]!;
    try {
      const stamp = cells[this.startAt]!.trim();
      const start = parseInstant(stamp, o.startColumn);
      const plain = plainDecimal(value, this.scale);
      const mwh = plain >= 0 ? plain : parseDecimal(value, this.scale, o.valueColumn);
      if (mwh < 0) return `${o.valueColumn} is negative (${value})`;
      if (mwh > READING_MAX_WH * 1000) return `${o.valueColumn} "${value}" ${o.unit} is above the ${READING_MAX_WH} Wh an interval may hold`;
      this.steps.add(meter, direction, start, o.stepMinutes, mwh, line);
    } catch (e) {
      return (e as Error).message;
    }
    return undefined;
  }

  /** meterOf gives one string per meter id: the rows of a meter usually follow each other, and the id kept by the StepSet is a copy of its own. */
  private meterOf(id: string): string {
    if (id === this.lastMeter) return this.lastMeter;
    let kept = this.meters.get(id);
    if (kept === undefined) {
      if (this.meters.size >= 100_000) this.meters.clear();
      kept = flat(id);
      this.meters.set(kept, kept);
    }
    return (this.lastMeter = kept);
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
async function firstLine(it: ReturnType<typeof iterate>): Promise<{ bytes: Uint8Array; done: boolean }> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const r = await it.next();
    if (r.done) return { bytes: concat(parts), done: true };
    const b = asBytes(r.value);
    parts.push(b);
    size += b.length;
    if (b.includes(0x0a) || b.includes(0x0d) || size >= HEAD_BYTES) return { bytes: concat(parts), done: false };
  }
}

/** concat: the head's chunks as one array (the one chunk itself when there is one). */
const concat = (parts: readonly Uint8Array[]): Uint8Array => (parts.length === 1 ? parts[0]! : concatBytes(...parts));

function lineOf(bytes: Uint8Array): string {
  const text = UTF8_TEXT.decode(bytes.subarray(0, HEAD_BYTES));
  const end = text.search(/[\r\n]/);
  return end < 0 ? text : text.slice(0, end);
}

/** csvErrorLine is the line an error of csv-parse is at; an unclosed quote or an endless row is reported where its row starts. */
function csvErrorLine(e: CsvError, lastLine: number, linesBefore: number): number {
  if (e.code === 'CSV_QUOTE_NOT_CLOSED' || e.code === 'CSV_MAX_RECORD_SIZE') return lastLine + 1;
  return typeof e.lines === 'number' ? linesBefore + e.lines : lastLine + 1;
}

function csvErrorMessage(e: CsvError): string {
  switch (e.code) {
    case 'CSV_QUOTE_NOT_CLOSED': return 'a quoted cell on this row is never closed';
    case 'CSV_MAX_RECORD_SIZE': return `a row longer than ${MAX_ROW_CHARS} characters (an unclosed quote, or the wrong separator or line end?)`;
    default: return e.message.replace(/ at line \d+/, '');
  }
}

// The importer runs in node (the CLI) and in the browser (the dashboard): bytes are
// Uint8Arrays and text is decoded by TextDecoder, never node's Buffer.
const UTF8 = new TextEncoder();
/** UTF-8 as Buffer's toString reads it: a U+FEFF at the start is kept, bad bytes become U+FFFD. */
const UTF8_TEXT = new TextDecoder('utf-8', { ignoreBOM: true });
/**
 * LATIN1 decodes one character a byte: node reads "latin1" as ISO-8859-1, browsers as
 * windows-1252 (WHATWG), which differ in 0x80–0x9F only; BYTE_OF maps back what this
 * platform's decoder makes of those bytes, so that bytesOf(LATIN1.decode(b)) is b on both.
 */
const LATIN1 = new TextDecoder('latin1');
const BYTE_OF = new Map<number, number>();
{
  const high = LATIN1.decode(Uint8Array.from({ length: 0x20 }, (_, k) => 0x80 + k));
  for (let k = 0; k < 0x20; k++) BYTE_OF.set(high.charCodeAt(k), 0x80 + k);
}

/** bytesOf gives back the bytes LATIN1 decoded into `text`. */
function bytesOf(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    out[i] = c < 0x80 || (c >= 0xa0 && c <= 0xff) ? c : BYTE_OF.get(c)!;
  }
  return out;
}

/** asBytes: a chunk as bytes, a string encoded in UTF-8 (as Buffer.from encodes it). */
function asBytes(chunk: Uint8Array | string): Uint8Array {
  return typeof chunk === 'string' ? UTF8.encode(chunk) : chunk;
}

/** flat copies a string: a cell cut from a chunk's text would otherwise keep the whole chunk alive. */
function flat(s: string): string {
  return s.length < 13 ? s : UTF8_TEXT.decode(UTF8.encode(s));
}

const POWERS_OF_TEN = [1, 10, 100, 1000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000];

/**
 * plainDecimal reads the common shape of a value, digits with at most one "." or ","
 * between digits and no more decimals than `scale`, as the integer parseDecimal gives;
 * -1 for anything else (a sign, blanks, too many digits), which parseDecimal then reads
 * or refuses.
 */
export function plainDecimal(text: string, scale: number): number {
  const n = text.length;
  if (n === 0 || n > 16 || scale > 9) return -1;
  let v = 0;
  let decimals = -1;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      v = v * 10 + (c - 48);
      if (decimals >= 0) decimals++;
    } else if ((c === 46 || c === 44) && decimals < 0 && i > 0 && i < n - 1) {
      decimals = 0;
    } else {
      return -1;
    }
  }
  if (decimals > scale) return -1;
  // Up to 15 digits are exact; the product is exact whenever it is a safe integer.
  const r = v * POWERS_OF_TEN[scale - Math.max(decimals, 0)]!;
  return Number.isSafeInteger(r) && n - (decimals >= 0 ? 1 : 0) <= 15 ? r : -1;
}

