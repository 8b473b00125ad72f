import { z } from 'zod';
import { community } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import { defineTx } from '../state/registry.ts';
import type { State, TableSpec } from '../state/tables.ts';
import { dayIntervals, formatLocal, localDay } from '../units/index.ts';
import { DIRECTIONS, findMeter } from './meter-register.ts';

/**
 * Meter readings: one transaction per meter, direction and local day, carrying the
 * day's vector of interval energies in Wh (null where the DSO has no value), signed by
 * the DSO. A local day has as many intervals as the community's interval length gives
 * (46 or 50 half-hours on DST days in Europe). A reading never silently changes: a value
 * that contradicts a recorded one is refused, unless sent as meter.correct with a reason,
 * and the old value stays in the log.
 */
export const READINGS_TABLE: TableSpec = {
  name: 'readings',
  columns: { meter: 'text', direction: 'text', date: 'text', values: 'json', corrections: 'integer', entry: 'integer' },
  primaryKey: ['meter', 'direction', 'date'],
  indexes: [['meter'], ['date']],
};

export interface ReadingsRow {
  [column: string]: string | number | (number | null)[];
  meter: string;
  direction: string;
  date: string;
  values: (number | null)[];
  corrections: number;
  entry: number;
}

/** Reasons for a correction: a closed list, so that no free text (and no personal data) enters the log. */
export const CORRECTION_REASONS = ['meter-replaced', 'transmission-error', 'validated-by-dso', 'estimate-replaced', 'other'] as const;

const MAX_WH = 1e12;
const values = z.array(z.number().int().min(0).max(MAX_WH).nullable()).min(1).max(200);
const dayBody = { meter: z.string().min(1).max(64), direction: z.enum(DIRECTIONS), date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD'), values };

export function readingsKey(meter: string, direction: string, date: string): string {
  return `${meter}\u001f${direction}\u001f${date}`;
}

export function findReadings(state: State, meter: string, direction: string, date: string): ReadingsRow | undefined {
  return state.get<ReadingsRow>('readings', readingsKey(meter, direction, date));
}

/** dayStarts returns the interval starts of a local day of the community, checking the vector length. */
function checkDay(state: State, body: { meter: string; direction: 'import' | 'export'; date: string; values: (number | null)[] }): number[] {
  const c = community(state)!;
  if (!findMeter(state, body.meter, body.direction)) {
    throw new OpenlecError('E_UNKNOWN_METER', `meter ${body.meter} (${body.direction}) is not registered`, { field: 'body.meter' });
  }
  const starts = dayIntervals(localDay(body.date, c.timeZone), c.intervalMinutes);
  if (body.values.length !== starts.length) {
    throw new OpenlecError('E_READINGS_LENGTH', `${body.date} in ${c.timeZone} has ${starts.length} intervals of ${c.intervalMinutes} minutes, got ${body.values.length} values`, { field: 'body.values', details: { expected: starts.length } });
  }
  return starts;
}

export const meterReadings = defineTx({
  type: 'meter.readings',
  roles: ['dso'],
  tables: [READINGS_TABLE],
  body: z.strictObject(dayBody),
  apply({ state, entry }, body) {
    const starts = checkDay(state, body);
    const old = findReadings(state, body.meter, body.direction, body.date);
    // A first record of the day is its values as parsed (a fresh array): nothing to merge into.
    const merged = old ? [...old.values] : body.values;
    let changed = 0;
    body.values.forEach((v, k) => {
      if (v === null) return;
      const before = old ? merged[k] : null;
      if (before !== null && before !== undefined && before !== v) {
        const c = community(state)!;
        throw new OpenlecError('E_READING_CONFLICT', `meter ${body.meter} (${body.direction}) interval ${formatLocal(starts[k]!, c.timeZone)}: ${v} Wh contradicts the recorded ${before} Wh (send meter.correct with a reason)`, {
          field: `body.values[${k}]`, details: { recorded: before, received: v },
        });
      }
      if (before !== v) changed++;
      merged[k] = v;
    });
    if (changed === 0) throw new OpenlecError('E_READINGS_UNCHANGED', `meter ${body.meter} (${body.direction}) ${body.date}: nothing new to record`, { field: 'body.values' });
    state.put('readings', { meter: body.meter, direction: body.direction, date: body.date, values: merged, corrections: old?.corrections ?? 0, entry });
  },
});

export const meterCorrect = defineTx({
  type: 'meter.correct',
  roles: ['dso'],
  tables: [READINGS_TABLE],
  body: z.strictObject({ ...dayBody, reason: z.enum(CORRECTION_REASONS), ref: z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/).optional() }),
  apply({ state, entry }, body) {
    checkDay(state, body);
    const old = findReadings(state, body.meter, body.direction, body.date);
    if (!old) throw new OpenlecError('E_NOTHING_TO_CORRECT', `meter ${body.meter} (${body.direction}) has no readings on ${body.date}: send meter.readings`, { field: 'body.date' });
    if (old.values.every((v, k) => v === body.values[k])) throw new OpenlecError('E_READINGS_UNCHANGED', `the correction of ${body.meter} on ${body.date} changes nothing`, { field: 'body.values' });
    state.put('readings', { meter: body.meter, direction: body.direction, date: body.date, values: body.values, corrections: old.corrections + 1, entry });
  },
});
