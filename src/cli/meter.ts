import { createReadStream, statSync } from 'node:fs';
import { Signer } from '../client.ts';
import { community } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import { CSV_DEFAULTS, type CsvOptions, parseCsv } from '../metering/import/csv.ts';
import { parseEnedisBytes } from '../metering/import/enedis.ts';
import { parseEspi } from '../metering/import/espi.ts';
import { type Correction, planImport } from '../metering/import/plan.ts';
import { type DayReadings, importError, StepSet } from '../metering/import/steps.ts';
import { DIRECTIONS, type Direction } from '../metering/meter-register.ts';
import { CORRECTION_REASONS, findReadings } from '../metering/readings.ts';
import { readKeyFile } from '../node/key-file.ts';
import { nodeSign } from '../node/signatures.ts';
import { SqliteLedger } from '../store/sqlite-ledger.ts';
import { addDays, dayIntervals, formatLocal, type IntervalMinutes, localDay } from '../units/index.ts';
import { progress, table } from './output.ts';

export const FORMATS = ['csv', 'enedis', 'espi'] as const;
export type Format = (typeof FORMATS)[number];

export interface ImportCommand {
  db: string;
  key: string;
  format: Format;
  files: string[];
  meter?: string;
  direction?: Direction;
  unit?: 'Wh' | 'kWh';
  step?: number;
  columns?: string;
  correct?: string;
  ref?: string;
  showProgress?: boolean;
}

/**
 * ESPI is parsed as one XML document, which takes about 14 times the file's size in
 * memory; beyond this a file is refused rather than exhausting memory (the CSV formats
 * are streamed and have no such limit).
 */
export const ESPI_MAX_BYTES = 16 * 1024 * 1024;

/** fileSizes checks that every input file can be read before anything is parsed: E_FILE names the path, never a stack trace. */
function fileSizes(files: readonly string[]): number[] {
  return files.map((f) => {
    let size: number;
    try {
      const st = statSync(f);
      if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
      size = st.size;
    } catch (e) {
      throw fileError(f, e);
    }
    return size;
  });
}

function fileError(path: string, e: unknown): OpenlecError {
  const code = (e as { code?: string }).code;
  const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (e as Error).message;
  return new OpenlecError('E_FILE', `${path}: cannot read the file: ${why}`, { field: 'file', details: { path, ...(code ? { errno: code } : {}) } });
}

/**
 * chunksOf streams a file, counting its bytes for the progress bar: the text is never held
 * whole. 64 KiB reads: 1 MiB buffers, allocated and freed by the hundred, left some 50 MB
 * more resident after a 206 MB file.
 */
async function* chunksOf(path: string, read: (bytes: number) => void): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 16 })) {
      read((chunk as Buffer).length);
      yield chunk as Buffer;
    }
  } catch (e) {
    throw (e as { code?: string }).code ? fileError(path, e) : e;
  }
}

/**
 * Transactions signed, checked and applied at a time. Small: a chunk's objects (signed
 * transactions, entry bytes, signatures) then die young, while a chunk of a thousand
 * outlives two scavenges and fills the old space with garbage (a 206 MB import peaked
 * some 35 MB higher with 64 or 128, some 80 MB with 1024).
 */
const APPEND_CHUNK = 32;

/** The longest line of a DSO export read: a file without line breaks would otherwise be held whole. */
const MAX_LINE_BYTES = 1 << 20;

/** linesBounded passes chunks on, refusing a line longer than MAX_LINE_BYTES. */
async function* linesBounded(path: string, chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let run = 0;
  for await (const chunk of chunks) {
    const last = Math.max(chunk.lastIndexOf(0x0a), chunk.lastIndexOf(0x0d));
    run = last < 0 ? run + chunk.length : chunk.length - 1 - last;
    if (run > MAX_LINE_BYTES) throw new OpenlecError('E_IMPORT_LINES', `${path}: a line longer than ${MAX_LINE_BYTES} bytes: not a French DSO load-curve export`, { field: 'file' });
    yield chunk;
  }
}

/** parseFile adds one file's steps to the StepSet, in the reader its format needs. */
async function parseFile(c: ImportCommand, file: string, steps: StepSet, intervalMinutes: number, read: (bytes: number) => void): Promise<void> {
  if (c.format === 'csv') return parseCsv(chunksOf(file, read), steps, csvOptions(c, intervalMinutes));
  // Lines end at \n, \r\n or a lone \r, as node:readline ends them.
  if (c.format === 'enedis') return parseEnedisBytes(linesBounded(file, chunksOf(file, read)), steps);
  const parts: Buffer[] = [];
  for await (const chunk of chunksOf(file, read)) parts.push(chunk);
  parseEspi(Buffer.concat(parts).toString('utf8'), steps, c.meter!, c.direction);
}

function csvOptions(c: ImportCommand, intervalMinutes: number): CsvOptions {
  const o: CsvOptions = { ...CSV_DEFAULTS, stepMinutes: c.step ?? intervalMinutes, unit: c.unit ?? 'Wh', direction: c.direction ?? 'import' };
  for (const pair of (c.columns ?? '').split(',').filter(Boolean)) {
    const [role, name] = pair.split('=');
    const field = ({ meter: 'meterColumn', start: 'startColumn', value: 'valueColumn', direction: 'directionColumn' } as const)[role as 'meter'];
    if (!field || !name) throw new OpenlecError('E_CSV_COLUMNS', `--columns takes meter=NAME,start=NAME,value=NAME,direction=NAME; got "${pair}"`, { field: 'columns' });
    o[field] = name;
  }
  return o;
}

/**
 * readDays parses every file into local days, checking every value (lines, duplicates,
 * range) before anything is signed and reporting every problem of every file at once.
 * Its StepSet, the bulk of the memory while parsing, is garbage once it returns, before
 * the transactions are signed and appended.
 */
async function readDays(c: ImportCommand, com: { intervalMinutes: IntervalMinutes; timeZone: string }, total: number): Promise<{ days: DayReadings[]; values: number }> {
  const steps = new StepSet(com.intervalMinutes, c.format === 'enedis' ? 60 : 1000);
  const bar = c.showProgress ? progress('import') : progress('');
  let done = 0;
  const read = (bytes: number) => bar.update((done += bytes), total);
  try {
    for (const file of c.files) {
      steps.beginFile(file);
      await parseFile(c, file, steps, com.intervalMinutes, read);
    }
  } finally {
    bar.stop();
  }
  const days = steps.days(com.timeZone);
  if (steps.errors.length > 0) throw importError(steps.errors, c.files);
  return { days, values: steps.values };
}

/** importMeterData parses the files, plans the transactions and appends them all or none. */
export async function importMeterData(c: ImportCommand) {
  const key = readKeyFile(c.key);
  if (c.correct !== undefined && !CORRECTION_REASONS.includes(c.correct as Correction['reason'])) {
    throw new OpenlecError('E_CORRECTION_REASON', `--correct takes a reason: ${CORRECTION_REASONS.join(', ')}`, { field: 'correct' });
  }
  if (c.format === 'espi' && !c.meter) throw new OpenlecError('E_ESPI_METER', 'ESPI files carry no metering point id: give --meter', { field: 'meter' });
  const sizes = fileSizes(c.files);
  const total = sizes.reduce((s, n) => s + n, 0);
  const large = c.format === 'espi' ? c.files.findIndex((_, k) => sizes[k]! > ESPI_MAX_BYTES) : -1;
  if (large >= 0) {
    throw new OpenlecError('E_ESPI_TOO_LARGE', `${c.files[large]}: ${(sizes[large]! / 1e6).toFixed(1)} MB is more than the ${ESPI_MAX_BYTES / 1024 / 1024} MiB an ESPI file may have (it is parsed as one XML document): download shorter periods`, { field: 'file' });
  }
  const ledger = SqliteLedger.open(c.db);
  try {
    const com = community(ledger.state);
    if (!com) throw new OpenlecError('E_NO_COMMUNITY', 'the log has no community yet', { field: 'db' });
    const { days, values } = await readDays(c, com, total);
    const { txs, unchanged, gaps } = planImport(ledger.state, days, c.correct ? { reason: c.correct as Correction['reason'], ...(c.ref ? { ref: c.ref } : {}) } : undefined);
    const meters = new Set(days.map((d) => `${d.meter} ${d.direction}`)).size;
    const dayCount = days.length;
    days.length = 0;
    const corrections = txs.filter((t) => t.type === 'meter.correct').length;
    const planned = txs.length;
    // node:crypto signs the same (deterministic Ed25519) bytes as @noble/curves, faster.
    const signer = Signer.forState(ledger.state, key, undefined, nodeSign);
    // Signed as they are appended, a chunk at a time: the whole set is never in memory twice.
    // Each planned transaction is let go once signed, the days with it: the state keeps its own copy.
    function* signed() {
      for (let k = 0; k < txs.length; k++) {
        const t = txs[k]!;
        txs[k] = undefined as never;
        yield signer.sign(t.type, t.body);
      }
    }
    const bar = c.showProgress ? progress('append') : progress('');
    let entries: number[];
    try {
      entries = await ledger.submitAtomic(signed(), { chunk: APPEND_CHUNK, onProgress: (n) => bar.update(n, planned) });
    } finally {
      bar.stop();
    }
    return {
      files: c.files.length,
      bytes: total,
      values,
      meters,
      days: dayCount,
      transactions: entries.length,
      corrections,
      unchangedDays: unchanged,
      gapIntervals: gaps.reduce((s, g) => s + g.intervals, 0),
      gaps,
      rejectedLines: 0,
      firstEntry: entries[0] ?? null,
    };
  } finally {
    await ledger.close();
  }
}

export function printImport(r: Awaited<ReturnType<typeof importMeterData>>): string {
  const lines = [
    `imported ${r.files} file(s), ${(r.bytes / 1e6).toFixed(2)} MB: ${r.values} values, ${r.meters} meter(s), ${r.days} meter-days`,
    `${r.transactions} transaction(s) appended (${r.corrections} correction(s)), ${r.unchangedDays} day(s) already recorded, 0 rejected lines`,
    `${r.gapIntervals} interval(s) without a value${r.gaps.length > 0 ? ':' : ''}`,
  ];
  if (r.gaps.length > 0) lines.push(table(r.gaps.slice(0, 20).map((g) => [g.meter, g.direction, g.date, g.intervals]), ['meter', 'direction', 'date', 'gaps']));
  if (r.gaps.length > 20) lines.push(`... and ${r.gaps.length - 20} more days with gaps`);
  return lines.join('\n');
}

export interface CurveCommand {
  db: string;
  meter: string;
  direction: Direction;
  from: string;
  to: string;
}

/** meterCurve returns a meter's recorded intervals between two local dates (inclusive), null where missing. */
export async function meterCurve(c: CurveCommand) {
  if (!DIRECTIONS.includes(c.direction)) throw new OpenlecError('E_DIRECTION', '--direction is import or export', { field: 'direction' });
  const ledger = SqliteLedger.open(c.db);
  try {
    const com = community(ledger.state)!;
    const rows: { date: string; start: string; wh: number | null }[] = [];
    for (let date = c.from; date <= c.to; date = addDays(date, 1)) {
      const starts = dayIntervals(localDay(date, com.timeZone), com.intervalMinutes);
      const rec = findReadings(ledger.state, c.meter, c.direction, date);
      starts.forEach((s, k) => rows.push({ date, start: formatLocal(s, com.timeZone), wh: rec?.values[k] ?? null }));
    }
    return { meter: c.meter, direction: c.direction, timeZone: com.timeZone, intervalMinutes: com.intervalMinutes, rows };
  } finally {
    await ledger.close();
  }
}

const BARS = ' ▁▂▃▄▅▆▇█';

/** chartCurve draws one line per day, one bar per interval, scaled to the period's peak. */
export function chartCurve(curve: Awaited<ReturnType<typeof meterCurve>>): string {
  const peak = Math.max(1, ...curve.rows.map((r) => r.wh ?? 0));
  const byDay = new Map<string, string>();
  let total = 0;
  for (const r of curve.rows) {
    total += r.wh ?? 0;
    byDay.set(r.date, (byDay.get(r.date) ?? '') + (r.wh === null ? '·' : BARS[Math.round((r.wh / peak) * 8)]));
  }
  return [
    `${curve.meter} (${curve.direction}), ${curve.intervalMinutes}-minute intervals, ${curve.timeZone}; peak ${peak} Wh per interval, total ${(total / 1000).toFixed(3)} kWh; · = no value`,
    ...[...byDay].map(([d, s]) => `${d} ${s}`),
  ].join('\n');
}
