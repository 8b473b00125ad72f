import { OpenlecError } from '../../errors.ts';
import type { State } from '../../state/tables.ts';
import { findMeter } from '../meter-register.ts';
import { type CORRECTION_REASONS, findReadings } from '../readings.ts';
import type { DayReadings } from './steps.ts';

export interface PlannedTx {
  readonly type: 'meter.readings' | 'meter.correct';
  readonly body: Record<string, unknown>;
}

export interface ImportPlan {
  readonly txs: PlannedTx[];
  /** Days whose values are all recorded already (re-importing a file changes nothing). */
  readonly unchanged: number;
  /** Intervals still without a value after the import, per meter and day. */
  readonly gaps: { meter: string; direction: string; date: string; intervals: number }[];
}

export interface Correction {
  readonly reason: (typeof CORRECTION_REASONS)[number];
  readonly ref?: string;
}

/**
 * planImport turns imported days into transactions against the current state: days
 * already recorded are skipped, new values become meter.readings, and values that
 * contradict recorded ones are refused, or become meter.correct when a correction
 * (with its reason) is asked for. Every unknown meter and every contradiction is named.
 */
export function planImport(state: State, days: readonly DayReadings[], correction?: Correction): ImportPlan {
  const txs: PlannedTx[] = [];
  const problems: string[] = [];
  const gaps: ImportPlan['gaps'] = [];
  let unchanged = 0;
  for (const d of days) {
    if (!findMeter(state, d.meter, d.direction)) {
      problems.push(`meter ${d.meter} (${d.direction}) is not registered`);
      continue;
    }
    const old = findReadings(state, d.meter, d.direction, d.date);
    const merged = d.values.map((v, k) => v ?? old?.values[k] ?? null);
    const conflicts = old ? d.values.flatMap((v, k) => (v !== null && old.values[k] !== null && old.values[k] !== v ? [k] : [])) : [];
    const news = d.values.filter((v, k) => v !== null && (old?.values[k] ?? null) === null).length;
    const remaining = merged.filter((v) => v === null).length;
    if (remaining > 0) gaps.push({ meter: d.meter, direction: d.direction, date: d.date, intervals: remaining });
    if (conflicts.length > 0) {
      if (!correction) {
        problems.push(`meter ${d.meter} (${d.direction}) ${d.date}: ${conflicts.length} value(s) contradict recorded ones, first at interval ${conflicts[0]} (${d.values[conflicts[0]!]} Wh vs ${old!.values[conflicts[0]!]} Wh); use --correct with a reason`);
        continue;
      }
      txs.push({ type: 'meter.correct', body: { meter: d.meter, direction: d.direction, date: d.date, values: merged, reason: correction.reason, ...(correction.ref ? { ref: correction.ref } : {}) } });
    } else if (news > 0) {
      txs.push({ type: 'meter.readings', body: { meter: d.meter, direction: d.direction, date: d.date, values: d.values } });
    } else {
      unchanged++;
    }
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 20).join('\n  ') + (problems.length > 20 ? `\n  ... and ${problems.length - 20} more` : '');
    throw new OpenlecError('E_IMPORT_REFUSED', `nothing imported:\n  ${shown}`, { field: 'file', details: { problems: problems.slice(0, 100) } });
  }
  return { txs, unchanged, gaps };
}
