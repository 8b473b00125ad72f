import { findMeter } from '../metering/meter-register.ts';
import { feeder, type FeederRow } from '../network/feeder-define.ts';
import type { State } from '../state/tables.ts';
import type { AssetRow } from './tables.ts';

/** isUnder: whether feeder `id` is `ancestor` or hangs below it in the network tree. */
export function isUnder(state: State, id: string, ancestor: string): boolean {
  for (let f: FeederRow | undefined = feeder(state, id); f; f = f.parent === null ? undefined : feeder(state, f.parent)) {
    if (f.id === ancestor) return true;
  }
  return false;
}

/** assetFeeder: the feeder the asset's metering point hangs on (from meter.register), or null when none is known. */
export function assetFeeder(state: State, a: Pick<AssetRow, 'meter'>): string | null {
  return findMeter(state, a.meter, 'import')?.feeder ?? findMeter(state, a.meter, 'export')?.feeder ?? null;
}

export interface Limits {
  importW: number | null;
  exportW: number | null;
}

/** limitsAt: a feeder's import and export limits in W in force at an interval start (feeder.limit overrides the standing ones, the latest entry wins). */
export function limitsAt(state: State, id: string, iso: string): Limits {
  let best: { importLimitW: number | null; exportLimitW: number | null; entry: number } | undefined;
  for (const row of state.rows('feeder_limits')) {
    const r = row as { feeder: string; from: string; to: string; importLimitW: number | null; exportLimitW: number | null; entry: number };
    if (r.feeder === id && r.from <= iso && iso < r.to && (best?.entry ?? -1) < r.entry) best = r;
  }
  const f = best ?? feeder(state, id);
  return { importW: f?.importLimitW ?? null, exportW: f?.exportLimitW ?? null };
}

/** breaks: the limit a net power (W, positive = consumption) breaks, if any. */
export function breaks(powerW: number, l: Limits): 'import' | 'export' | null {
  if (l.importW !== null && powerW > l.importW) return 'import';
  if (l.exportW !== null && -powerW > l.exportW) return 'export';
  return null;
}
