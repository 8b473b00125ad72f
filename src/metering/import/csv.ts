import { OpenlecError } from '../../errors.ts';
import { parseDecimal, parseInstant } from '../../units/index.ts';
import { DIRECTIONS, type Direction } from '../meter-register.ts';
import type { StepSet } from './steps.ts';

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

export function parseCsv(text: string, steps: StepSet, o: CsvOptions): void {
  const lines = text.split(/\r?\n/);
  const headerLine = lines[0] ?? '';
  const sep = o.separator ?? (headerLine.includes(';') ? ';' : ',');
  const header = headerLine.split(sep).map((h) => h.trim().replace(/^"|"$/g, ''));
  const col = (name: string, required: boolean) => {
    const k = header.indexOf(name);
    if (k < 0 && required) throw new OpenlecError('E_CSV_HEADER', `${steps.file}:1: no column "${name}" in the header (${header.join(', ')})`, { field: 'columns' });
    return k;
  };
  const meterAt = col(o.meterColumn, true);
  const startAt = col(o.startColumn, true);
  const valueAt = col(o.valueColumn, true);
  const directionAt = o.directionColumn ? col(o.directionColumn, false) : -1;
  const scale = o.unit === 'kWh' ? 6 : 3;
  for (let i = 1; i < lines.length; i++) {
    const raw = lines[i]!;
    if (raw.trim() === '') continue;
    const cells = raw.split(sep).map((c) => c.trim().replace(/^"|"$/g, ''));
    const fail = (message: string) => steps.errors.push({ file: steps.file, line: i + 1, message });
    const meter = cells[meterAt] ?? '';
    if (!meter) {
      fail(`empty ${o.meterColumn}`);
      continue;
    }
    let direction = o.direction;
    if (directionAt >= 0 && cells[directionAt]) {
      if (!DIRECTIONS.includes(cells[directionAt] as Direction)) {
        fail(`${o.directionColumn} must be import or export, got "${cells[directionAt]}"`);
        continue;
      }
      direction = cells[directionAt] as Direction;
    }
    try {
      const start = parseInstant(cells[startAt] ?? '', o.startColumn);
      // Wh with 3 decimals and kWh with 6 are both mWh.
      const mwh = parseDecimal(cells[valueAt] ?? '', scale, o.valueColumn);
      if (mwh < 0) {
        fail(`${o.valueColumn} is negative (${cells[valueAt]})`);
        continue;
      }
      steps.add(meter, direction, start, o.stepMinutes, mwh, i + 1);
    } catch (e) {
      fail((e as Error).message);
    }
  }
}
