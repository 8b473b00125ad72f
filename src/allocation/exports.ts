import { OpenlecError } from '../errors.ts';
import { isCups } from '../metering/meter-id.ts';
import { formatDecimal, formatLocal } from '../units/index.ts';
import { floorMulDiv } from './apportion.ts';
import type { AllocationResult } from './keys.ts';
import type { MonthInput, MonthResult } from './month.ts';

/**
 * Exports of a monthly run (formats documented in docs/allocation-exports.md). All
 * figures come from integers; percentages and rates are floored, never rounded up.
 */

/**
 * frenchCoefficients writes the coefficient file for the French DSO: for every interval
 * and member, the member's allocated energy as a percentage of the production, floored
 * to `decimals` so that an interval's coefficients never sum above 100 %. Semicolons,
 * decimal comma, local time with offset, CRLF line ends.
 */
export function frenchCoefficients(input: MonthInput, result: AllocationResult, timeZone: string, decimals = 2): string {
  const m = input.members.length;
  const scale = 100 * 10 ** decimals;
  const lines = ['Identifiant PRM;Horodate debut;Coefficient (%)'];
  for (let t = 0; t < input.starts.length; t++) {
    const P = input.production[t]!;
    const start = formatLocal(input.starts[t]!, timeZone);
    for (let i = 0; i < m; i++) {
      const a = result.allocation[t * m + i]!;
      const units = Number.isNaN(P) || P === 0 ? 0 : floorMulDiv(a, scale, P);
      lines.push(`${input.members[i]};${start};${formatDecimal(units, decimals, ',')}`);
    }
  }
  return lines.join('\r\n') + '\r\n';
}

/**
 * spanishCoefficients writes the Spanish coefficient file (Order TED/1247/2021): UTF-8,
 * no header, `CUPS;HOUR;COEFFICIENT` with hours 0001..8760 (8784 in a leap year), six
 * decimals with a decimal comma, grouped by CUPS, hours ascending. Fixed betas in ppm are
 * exactly six decimals, so every hour sums to exactly 1,000000.
 */
export function spanishCoefficients(year: number, betasPpm: Record<string, number>): string {
  const cups = Object.keys(betasPpm).sort();
  const sum = cups.reduce((s, c) => s + betasPpm[c]!, 0);
  if (sum !== 1_000_000) throw new OpenlecError('E_KEY_SHARES', `betas sum to ${sum} ppm, not exactly 1,000000`, { field: 'betasPpm' });
  assertCups(cups);
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const hours = (leap ? 366 : 365) * 24;
  const out: string[] = [];
  for (const c of cups) {
    const coefficient = formatDecimal(betasPpm[c]!, 6, ',');
    for (let h = 1; h <= hours; h++) out.push(`${c};${String(h).padStart(4, '0')};${coefficient}`);
  }
  return out.join('\n') + '\n';
}

/**
 * spanishHourlyCoefficients writes the lines of the Spanish file for the hours of one
 * run with hourly betas: the hour index counts elapsed hours from 1 January 00:00 local
 * time (so a whole year is 8760 or 8784 hours whatever the clock changes), and each
 * hour's coefficient is the beta of its first interval. Grouped by CUPS, hours ascending.
 */
export function spanishHourlyCoefficients(input: MonthInput, betasPpm: Float64Array, yearStartMs: number): string {
  const m = input.members.length;
  assertCups(input.members);
  const hours: { index: number; t: number }[] = [];
  input.starts.forEach((s, t) => {
    if ((s - yearStartMs) % 3_600_000 === 0) hours.push({ index: (s - yearStartMs) / 3_600_000 + 1, t });
  });
  const out: string[] = [];
  input.members.forEach((cups, i) => {
    for (const h of hours) out.push(`${cups};${String(h.index).padStart(4, '0')};${formatDecimal(betasPpm[h.t * m + i]!, 6, ',')}`);
  });
  return out.join('\n') + '\n';
}

/** assertCups refuses meters that are not CUPS: the Spanish file can name only CUPS. */
export function assertCups(meters: readonly string[]): void {
  const bad = meters.find((m) => !isCups(m));
  if (bad !== undefined) throw new OpenlecError('E_NOT_CUPS', `${bad} is not a CUPS: the Spanish key and file need CUPS meters`, { field: 'meter' });
}

/** ratio writes a / b with 4 decimals, floored; empty when b is 0. */
export function ratio(a: number, b: number): string {
  return b === 0 ? '' : formatDecimal(floorMulDiv(a, 10_000, b), 4);
}

export interface Statement {
  readonly meter: string;
  readonly owner: string;
  readonly month: string;
  readonly consumedWh: number;
  readonly allocatedWh: number;
  readonly supplierWh: number;
  readonly surplusWh: number;
  readonly selfSufficiency: string;
  /** Spain: self-consumed / allocated generation of the member; other keys: the operation's rate (production is shared, not owned). */
  readonly selfConsumptionRate: string;
  readonly missingIntervals: number;
}

/** statements gives each member its month: energy consumed, allocated locally, from the supplier, own surplus, self-sufficiency. */
export function statements(summary: MonthResult, owners: Record<string, string>): Statement[] {
  const operationRate = ratio(summary.allocatedWh, summary.productionWh);
  return summary.members.map((m) => ({
    meter: m.meter, owner: owners[m.meter] ?? '', month: summary.month, consumedWh: m.consumedWh, allocatedWh: m.allocatedWh,
    supplierWh: m.supplierWh, surplusWh: m.surplusWh, selfSufficiency: ratio(m.allocatedWh, m.consumedWh),
    selfConsumptionRate: summary.key.kind === 'spain' ? ratio(m.allocatedWh, m.allocatedWh + m.surplusWh) : operationRate,
    missingIntervals: m.missingIntervals,
  }));
}

export function statementsCsv(rows: readonly Statement[]): string {
  const cols = ['meter', 'owner', 'month', 'consumedWh', 'allocatedWh', 'supplierWh', 'surplusWh', 'selfSufficiency', 'selfConsumptionRate', 'missingIntervals'] as const;
  return [cols.join(';'), ...rows.map((r) => cols.map((c) => String(r[c])).join(';'))].join('\n') + '\n';
}

/** communitySummary: the operation's month, with the rates the field reports. */
export function communitySummary(summary: MonthResult, entry: number) {
  const consumedWh = summary.members.reduce((s, m) => s + m.consumedWh, 0);
  return {
    month: summary.month, key: summary.key, entry, inputHash: summary.inputHash, allocationRoot: summary.allocationRoot, intervals: summary.intervals,
    productionWh: summary.productionWh, consumedWh, allocatedWh: summary.allocatedWh, surplusWh: summary.surplusWh,
    selfConsumptionRate: ratio(summary.allocatedWh, summary.productionWh), selfSufficiency: ratio(summary.allocatedWh, consumedWh),
    coverage: ratio(summary.productionWh, consumedWh), missingProductionIntervals: summary.missingProductionIntervals,
    membersWithMissingData: summary.members.filter((m) => m.missingIntervals > 0).length,
  };
}
