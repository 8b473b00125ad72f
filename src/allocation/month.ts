import { community } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import { canonicalJson, leafHash, MemoryTree, sha256, toHex, utf8 } from '../ledger/index.ts';
import type { MeterRow } from '../metering/meter-register.ts';
import { findReadings } from '../metering/readings.ts';
import { findShares } from './allocation-shares.ts';
import type { State } from '../state/tables.ts';
import { dayIntervals, formatInstant, localDay } from '../units/index.ts';
import { allocate, type AllocationKey, type AllocationResult } from './keys.ts';

/**
 * Key parameters as recorded in the log: per metering point, never per array position,
 * so that a record stays meaningful when members join or leave.
 */
export type KeySpec =
  | { kind: 'prorata' }
  | { kind: 'full-dynamic' }
  | { kind: 'static' | 'redistribute'; sharesPpm: Record<string, number> }
  | { kind: 'cascade'; groups: Record<string, number> }
  | { kind: 'spain'; betasPpm?: Record<string, number> };

/** A month's metered input: every interval of the local month, members = import meters, producers = export meters. */
export interface MonthInput {
  readonly month: string;
  readonly starts: number[];
  readonly members: string[];
  readonly producers: string[];
  readonly production: Float64Array;
  readonly consumption: Float64Array;
}

export interface MemberTotals {
  readonly meter: string;
  readonly consumedWh: number;
  readonly allocatedWh: number;
  readonly supplierWh: number;
  /** Spain: the member's own surplus; otherwise 0 (surplus is the community's). */
  readonly surplusWh: number;
  readonly missingIntervals: number;
}

export interface MonthResult {
  readonly month: string;
  readonly key: KeySpec;
  readonly inputHash: string;
  readonly intervals: number;
  readonly productionWh: number;
  readonly allocatedWh: number;
  readonly surplusWh: number;
  readonly missingProductionIntervals: number;
  readonly allocationRoot: string;
  readonly members: MemberTotals[];
}

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;

/** monthDays lists the local dates of a month. */
export function monthDays(month: string): string[] {
  const m = MONTH.exec(month);
  if (!m) throw new OpenlecError('E_BAD_MONTH', `month "${month}" is not YYYY-MM`, { field: 'month' });
  const days = new Date(Date.UTC(+m[1]!, +m[2]!, 0)).getUTCDate();
  return Array.from({ length: days }, (_, d) => `${month}-${String(d + 1).padStart(2, '0')}`);
}

/** monthInput gathers the logged readings of a month: missing readings are NaN, never estimates. */
export function monthInput(state: State, month: string): MonthInput {
  const c = community(state);
  if (!c) throw new OpenlecError('E_NO_COMMUNITY', 'the log has no community yet', { field: 'db' });
  const meters = [...state.rows('meters')] as MeterRow[];
  const members = meters.filter((m) => m.direction === 'import').map((m) => m.meter).sort();
  const producers = meters.filter((m) => m.direction === 'export').map((m) => m.meter).sort();
  const days = monthDays(month);
  const starts = days.flatMap((d) => dayIntervals(localDay(d, c.timeZone), c.intervalMinutes));
  const T = starts.length;
  const production = new Float64Array(T);
  const consumption = new Float64Array(T * members.length).fill(NaN);
  if (producers.length === 0) production.fill(NaN);
  let t0 = 0;
  for (const day of days) {
    const n = dayIntervals(localDay(day, c.timeZone), c.intervalMinutes).length;
    for (const p of producers) {
      const values = findReadings(state, p, 'export', day)?.values;
      for (let k = 0; k < n; k++) {
        const v = values?.[k];
        production[t0 + k] = v === null || v === undefined ? NaN : production[t0 + k]! + v;
      }
    }
    members.forEach((m, i) => {
      const values = findReadings(state, m, 'import', day)?.values;
      for (let k = 0; k < n; k++) {
        const v = values?.[k];
        if (v !== null && v !== undefined) consumption[(t0 + k) * members.length + i] = v;
      }
    });
    t0 += n;
  }
  return { month, starts, members, producers, production, consumption };
}

function byMember(members: string[], map: Record<string, number>, field: string, fallback?: number): number[] {
  for (const meter of Object.keys(map)) {
    if (!members.includes(meter)) throw new OpenlecError('E_KEY_METER', `${field}: ${meter} is not a consuming meter of the community`, { field });
  }
  return members.map((m) => {
    const v = map[m] ?? fallback;
    if (v === undefined) throw new OpenlecError('E_KEY_METER', `${field}: no value for meter ${m}`, { field });
    return v;
  });
}

/** fullDynamicShares assembles the recorded allocation.shares of every day of the month, interval by interval. */
function fullDynamicShares(state: State, month: string, input: MonthInput): Float64Array {
  const m = input.members.length;
  const out = new Float64Array(input.starts.length * m);
  let t0 = 0;
  const c = community(state)!;
  for (const day of monthDays(month)) {
    const n = dayIntervals(localDay(day, c.timeZone), c.intervalMinutes).length;
    const shares = findShares(state, day);
    if (!shares) throw new OpenlecError('E_NO_SHARES', `full dynamic key: no allocation.shares recorded for ${day}`, { field: 'month' });
    input.members.forEach((meter, i) => shares[meter]?.forEach((v, k) => (out[(t0 + k) * m + i] = v)));
    t0 += n;
  }
  return out;
}

/** toKey turns recorded parameters into the positional key the allocation functions take. */
export function toKey(spec: KeySpec, members: string[], state?: State, input?: MonthInput): AllocationKey {
  switch (spec.kind) {
    case 'prorata':
      return spec;
    case 'full-dynamic':
      return { kind: 'full-dynamic', sharesPpm: fullDynamicShares(state!, input!.month, input!) };
    case 'static':
    case 'redistribute':
      return { kind: spec.kind, sharesPpm: byMember(members, spec.sharesPpm, 'sharesPpm', 0) };
    case 'cascade':
      return { kind: 'cascade', groups: byMember(members, spec.groups, 'groups') };
    case 'spain':
      // Without fixed betas, the hourly betas are the recorded allocation.shares (each interval summing to exactly 1).
      return { kind: 'spain', betasPpm: spec.betasPpm ? byMember(members, spec.betasPpm, 'betasPpm', 0) : fullDynamicShares(state!, input!.month, input!) };
  }
}

/** intervalRecord is the canonical record of one interval; these are the leaves of the allocation root. */
export function intervalRecord(input: MonthInput, r: AllocationResult, t: number): string {
  const m = input.members.length;
  const num = (x: number) => (Number.isNaN(x) ? null : x);
  return canonicalJson({
    start: formatInstant(input.starts[t]!),
    productionWh: num(input.production[t]!),
    surplusWh: num(r.surplus[t]!),
    allocationsWh: Array.from(r.allocation.subarray(t * m, (t + 1) * m)),
    consumptionWh: Array.from(input.consumption.subarray(t * m, (t + 1) * m), num),
  });
}

/** runMonth computes a month with a key: deterministic, from logged readings only. */
export function runMonth(state: State, month: string, spec: KeySpec): { input: MonthInput; result: AllocationResult; summary: MonthResult } {
  const input = monthInput(state, month);
  const m = input.members.length;
  const result = allocate({ intervals: input.starts.length, members: m, production: input.production, consumption: input.consumption }, toKey(spec, input.members, state, input));
  const tree = new MemoryTree();
  for (let t = 0; t < input.starts.length; t++) tree.appendLeaf(leafHash(utf8(intervalRecord(input, result, t))));
  const num = (x: number) => (Number.isNaN(x) ? null : x);
  const inputHash = toHex(sha256(utf8(canonicalJson({
    month, starts: input.starts.map(formatInstant), members: input.members, producers: input.producers,
    production: Array.from(input.production, num), consumption: Array.from(input.consumption, num),
  }))));
  const members = input.members.map((meter, i) => {
    let consumed = 0;
    let allocated = 0;
    let surplus = 0;
    let missing = 0;
    for (let t = 0; t < input.starts.length; t++) {
      const c = input.consumption[t * m + i]!;
      if (Number.isNaN(c)) missing++;
      else consumed += c;
      allocated += result.allocation[t * m + i]!;
      surplus += result.memberSurplus?.[t * m + i] ?? 0;
    }
    return { meter, consumedWh: consumed, allocatedWh: allocated, supplierWh: consumed - allocated, surplusWh: surplus, missingIntervals: missing };
  });
  let productionWh = 0;
  let surplusWh = 0;
  for (let t = 0; t < input.starts.length; t++) {
    if (Number.isNaN(input.production[t]!)) continue;
    productionWh += input.production[t]!;
    surplusWh += result.surplus[t]!;
  }
  return {
    input,
    result,
    summary: {
      month, key: spec, inputHash, intervals: input.starts.length, productionWh, allocatedWh: productionWh - surplusWh, surplusWh,
      missingProductionIntervals: result.missingProduction, allocationRoot: toHex(tree.root()), members,
    },
  };
}
