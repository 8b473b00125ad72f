import type { KeySpec } from '../allocation/month.ts';
import type { Signer } from '../client.ts';
import { OpenlecError } from '../errors.ts';
import { keyPairFromSeed, sha256, utf8 } from '../ledger/index.ts';
import { dayIntervals, localDay, localMinuteOfDay, splitByWeights } from '../units/index.ts';
import { Battery } from './battery.ts';
import { readSeries } from './data.ts';
import type { SimDay, SimHousehold } from './household.ts';
import type { IntervalRow } from './kpis.ts';
import type { Rng } from './rng.ts';
import type { Scenario } from './scenario.ts';

/**
 * The simulated community, pure and seeded: the keys of its parties, its households and
 * its days. The batch run (`run.ts`) and the server's live demo build the same community
 * from the same seed, so the demo's live days continue its backfilled log.
 */

/** simKey: the seeded key of a simulated party (operator, dso, a household's label). */
export const simKey = (seed: string, scenario: string, label: string) => keyPairFromSeed(sha256(utf8(`openlec simulate ${seed}/${scenario}/${label}`)));
export const simCommunityId = (scenario: string) => `openlec.sim/${scenario.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;

/**
 * households expands the scenario's member groups, each with its own seeded stream and key.
 * `readText` reads a member's data file (the caller's I/O: this module does none).
 */
export function households(s: Scenario, rng: Rng, signer: (label: string) => Signer, readText: (file: string) => string): (SimHousehold & { signer: Signer })[] {
  const out: (SimHousehold & { signer: Signer })[] = [];
  for (const m of s.members) {
    const series = m.data ? readSeries(m.data, readText(m.data.file), s.timeZone) : undefined;
    for (let i = 0; i < m.count; i++) {
      const label = m.count === 1 ? m.name : `${m.name}-${String(i + 1).padStart(String(m.count).length, '0')}`;
      const r = rng.fork(label);
      const vary = m.count === 1 ? 1 : r.between(0.8, 1.2);
      const pvVary = m.count === 1 ? 1 : r.between(0.8, 1.2);
      out.push({
        label, group: m.name, meter: `sim-${label}`, signer: signer(label), feeder: m.feeder, annualKwh: m.annualKwh * vary, rng: r,
        ...(m.pv ? { pv: { ...m.pv, kWp: m.pv.kWp * pvVary } } : {}),
        ...(m.standing ? { standing: m.standing } : {}),
        ...(m.battery ? { battery: new Battery(m.battery) } : {}),
        ...(m.ev ? { ev: m.ev } : {}),
        ...(series ? { series } : {}),
      });
    }
  }
  return out;
}

/** simDay: the intervals of a local date, its clouds, and yesterday's community as the forecast. */
export function simDay(s: Scenario, rng: Rng, date: string, yesterday: readonly IntervalRow[]): SimDay {
  const day = localDay(date, s.timeZone);
  const starts = dayIntervals(day, s.intervalMinutes);
  const minuteOfDay = starts.map((t) => localMinuteOfDay(t, s.timeZone));
  const perQuarter = s.intervalMinutes / 15;
  const dayRng = rng.fork(`clouds/${date}`);
  const dayClear = Math.min(1, Math.max(0.05, s.clearness + dayRng.between(-0.4, 0.4)));
  const hour = (m: number) => String(Math.floor(m / 60)).padStart(2, '0');
  return {
    date, intervalMinutes: s.intervalMinutes, starts, minuteOfDay, latitude: s.latitude, longitude: s.longitude,
    quarters: minuteOfDay.map((m) => Array.from({ length: perQuarter }, (_, k) => (Math.floor(m / 15) + k) % 96)),
    localHours: minuteOfDay.map((m) => `${date.slice(5)}T${hour(m)}`),
    cloud: starts.map(() => Math.min(1, dayClear * dayRng.between(0.85, 1.15))),
    cheap: starts.map((_, k) => (yesterday[k] ? yesterday[k]!.exportWh > yesterday[k]!.importWh : false)),
    communitySurplusWh: starts.map((_, k) => (yesterday[k] ? yesterday[k]!.exportWh - yesterday[k]!.importWh : 0)),
  };
}

/** equalPpm shares a million parts per million equally among meters, exactly. */
function equalPpm(meters: readonly string[]): Record<string, number> {
  const parts = splitByWeights(1_000_000, meters.map(() => 1));
  return Object.fromEntries(meters.map((m, i) => [m, parts[i]!]));
}

/** The allocation keys a simulation can run: those that need no coefficient file (the others' shares are equal). */
export const SIM_KEYS = ['prorata', 'static', 'redistribute', 'spain'] as const;

/** simAllocationKey: the key of the monthly run, with equal shares where the key needs them. */
export function simAllocationKey(kind: string, meters: readonly string[]): KeySpec {
  if (kind === 'prorata') return { kind };
  if (kind === 'static' || kind === 'redistribute') return { kind, sharesPpm: equalPpm(meters) };
  if (kind === 'spain') return { kind, betasPpm: equalPpm(meters) };
  throw new OpenlecError('E_USAGE', `--key must be one of ${SIM_KEYS.join(', ')} (got "${kind}")`, { field: 'key' });
}
