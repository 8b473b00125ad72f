import type { IssueSummary } from '../certificates/issue.ts';
import { monthFigures } from '../certificates/reports.ts';
import type { SettleSummary } from '../certificates/settle.ts';
import type { State } from '../state/tables.ts';
import type { SimHousehold } from './household.ts';
import { Rng } from './rng.ts';
import type { Scenario } from './scenario.ts';

/**
 * Certificates of origin in a simulation (src/certificates): the DSO registers a device
 * for every home with PV, a seeded share of the members opt in to automatic claims,
 * every day's export is issued and every month is settled. This module is pure: it
 * builds the bodies to sign and the key figures; run.ts signs and appends them.
 */

/** The certificate settings of a run, or null when the scenario turned them off. */
export interface CertificateOptions {
  autoClaimShare: number;
  zone: string;
  gridArea: string;
}

/** Every simulated device was commissioned on this date: the scenarios say nothing about age. */
export const SIM_COMMISSIONED = '2020-01-01';

/** Bidding zones of the time zones the built-in scenarios use; any other falls back to "EU". */
const ZONES: Record<string, string> = {
  'Europe/Zurich': 'CH', 'Europe/Berlin': 'DE-LU', 'Europe/Paris': 'FR', 'Europe/Vienna': 'AT', 'Europe/Madrid': 'ES', 'Europe/Brussels': 'BE',
  'Europe/Amsterdam': 'NL', 'Europe/Rome': 'IT-NORD', 'Europe/Lisbon': 'PT', 'Europe/Copenhagen': 'DK1', 'Europe/Stockholm': 'SE3', 'Europe/London': 'GB',
};

export function certificateOptions(s: Scenario): CertificateOptions | null {
  const c = s.certificates;
  if (c === false) return null;
  const o = c === true ? {} : c;
  return {
    autoClaimShare: o.autoClaimShare ?? 0.5,
    zone: o.zone ?? ZONES[s.timeZone] ?? 'EU',
    gridArea: o.gridArea ?? `${s.name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}-grid`.slice(0, 64),
  };
}

/**
 * pvCapacityW: the PV peak of a home in W, rounded up; 0 without PV (battery-only
 * exporters get no device). The model's PV never produces above its kWp; a real series
 * gives the peak of its hourly Wh, plus 2 Wh per interval of the hour because the
 * series' hours are split into intervals by rounding (the issuance's capacity check
 * compares each interval with capacity × its length).
 */
export function pvCapacityW(h: SimHousehold, intervalMinutes: number): number {
  if (h.pv) return Math.ceil(h.pv.kWp * 1000);
  if (!h.series) return 0;
  let peak = 0;
  for (const wh of h.series.pvWh.values()) peak = Math.max(peak, wh);
  return peak > 0 ? Math.ceil(peak) + 2 * (60 / intervalMinutes) : 0;
}

/** deviceBody: the DSO's device.register for a home's export meter, or null when it has no PV. */
export function deviceBody(h: SimHousehold, s: Scenario, o: CertificateOptions) {
  const capacityW = pvCapacityW(h, s.intervalMinutes);
  if (capacityW <= 0) return null;
  return { device: `${h.meter}-pv`, meter: h.meter, fuel: 'F01040100', technology: 'T010100', capacityW, commissioned: SIM_COMMISSIONED, zone: o.zone, gridArea: o.gridArea, support: false };
}

/** autoClaimers: which homes opt in to automatic claims, exactly round(share × homes) of them, drawn from a stream of their own (the rest of the run draws the same numbers). */
export function autoClaimers<T>(homes: readonly T[], seed: string, s: Scenario, share: number): Set<T> {
  const rng = new Rng(`${seed}/${s.name}/certificates`);
  const draws = homes.map((h, i) => ({ h, i, x: rng.next() }));
  draws.sort((a, b) => a.x - b.x || a.i - b.i);
  return new Set(draws.slice(0, Math.round(share * homes.length)).map((d) => d.h));
}

/** What the run counted of its certificates as it appended them. */
export interface CertificateFacts {
  devices: number;
  autoClaimMembers: number;
  issues: IssueSummary[];
  settles: SettleSummary[];
}

/** One month of certificates, read from the verified replay. */
export interface CertificateMonth {
  month: string;
  issuedWh: number;
  transferredWh: number;
  cancelledWh: number;
  activeWh: number;
  consumedWh: number;
  hourlyMatchedWh: number;
  monthlyMatchedWh: number;
  hourlyMatchingPpm: number;
  monthlyMatchingPpm: number;
}

/** certificateMonths reads every month's totals and the community's matching scores from a state. */
export function certificateMonths(state: State, months: readonly string[]): CertificateMonth[] {
  return months.map((month) => {
    const { totals: t, matching: m } = monthFigures(state, month);
    return {
      month, issuedWh: t.issuedWh, transferredWh: t.transferredWh, cancelledWh: t.cancelled, activeWh: t.active, consumedWh: m.consumedWh,
      hourlyMatchedWh: m.hourlyMatchedWh, monthlyMatchedWh: m.monthlyMatchedWh, hourlyMatchingPpm: m.hourlyPpm, monthlyMatchingPpm: m.monthlyPpm,
    };
  });
}

const ppm = (part: number, whole: number) => (whole === 0 ? 0 : Math.floor((part * 1_000_000) / whole));

/** certificateKpis: the figures of kpis.json's `certificates`: issued, moved and claimed Wh, matching over the whole run and per month. */
export function certificateKpis(facts: CertificateFacts, months: readonly CertificateMonth[]) {
  const sum = <T>(xs: readonly T[], f: (x: T) => number) => xs.reduce((a, x) => a + f(x), 0);
  const settled = new Map(facts.settles.map((x) => [x.month, x]));
  const consumed = sum(months, (m) => m.consumedWh);
  return {
    devices: facts.devices,
    autoClaimMembers: facts.autoClaimMembers,
    issuedWh: sum(months, (m) => m.issuedWh),
    movedWh: sum(facts.settles, (x) => x.movedWh),
    claimedWh: sum(facts.settles, (x) => x.claimedWh),
    shortWh: sum(facts.settles, (x) => x.shortWh),
    refusedIntervals: sum(facts.issues, (x) => x.refusedIntervals),
    hourlyMatchingPpm: ppm(sum(months, (m) => m.hourlyMatchedWh), consumed),
    monthlyMatchingPpm: ppm(sum(months, (m) => m.monthlyMatchedWh), consumed),
    perMonth: months.map((m) => ({ ...m, movedWh: settled.get(m.month)?.movedWh ?? 0, claimedWh: settled.get(m.month)?.claimedWh ?? 0, shortWh: settled.get(m.month)?.shortWh ?? 0 })),
  };
}

export type CertificateKpis = ReturnType<typeof certificateKpis>;
