import { Temporal } from 'temporal-polyfill';
import { H0_MILLIWATTS } from './h0.ts';
import type { Rng } from './rng.ts';

/**
 * Household load from the BDEW H0 standard load profile: 15-minute values per season and
 * weekday for 1,000 kWh a year, dynamised day by day with BDEW's polynomial, then scaled
 * so the profile's year sums to the household's annual consumption. Holidays are not
 * treated as Sundays (no calendar of holidays is assumed).
 */
export type Season = 'winter' | 'summer' | 'transition';

/** season: winter 1 Nov - 20 Mar, summer 15 May - 14 Sep, transition otherwise. */
export function season(date: Temporal.PlainDate): Season {
  const md = date.month * 100 + date.day;
  if (md >= 1101 || md <= 320) return 'winter';
  if (md >= 515 && md <= 914) return 'summer';
  return 'transition';
}

/** dynamisation is BDEW's factor for day of year d (1..366), rounded to 4 decimals. */
export function dynamisation(d: number): number {
  const f = -3.92e-10 * d ** 4 + 3.2e-7 * d ** 3 - 7.02e-5 * d ** 2 + 2.1e-3 * d + 1.24;
  return Math.round(f * 1e4) / 1e4;
}

/** h0Day returns the 96 quarter-hour powers (W) of a local date for 1,000 kWh a year, dynamised (rounded to whole W as BDEW rounds to 3 decimals of kW). */
export function h0Day(date: string): number[] {
  const d = Temporal.PlainDate.from(date);
  const f = dynamisation(d.dayOfYear);
  return H0_MILLIWATTS[season(d)][d.dayOfWeek - 1]!.map((mw) => Math.round((mw * f) / 1000));
}

const yearWh = new Map<number, number>();
/** h0YearWh is the energy (Wh) of the dynamised profile over a calendar year, for scaling. */
export function h0YearWh(year: number): number {
  let total = yearWh.get(year);
  if (total === undefined) {
    total = 0;
    for (let d = Temporal.PlainDate.from({ year, month: 1, day: 1 }); d.year === year; d = d.add({ days: 1 })) {
      for (const w of h0Day(d.toString())) total += w / 4;
    }
    yearWh.set(year, total);
  }
  return total;
}

/**
 * householdLoad gives a household's Wh in each interval of a local day. `quarters[k]`
 * lists the local quarter-hour indexes (0..95) an interval covers. Each quarter is scaled
 * to the annual consumption and varied by a seeded factor in [0.6, 1.4) (mean 1), so no
 * two households are identical while the year keeps its total.
 */
export function householdLoad(date: string, annualKwh: number, quarters: readonly (readonly number[])[], rng: Rng): number[] {
  const profile = h0Day(date);
  const scale = (annualKwh * 1000) / h0YearWh(Number(date.slice(0, 4)));
  return quarters.map((qs) => {
    let wh = 0;
    for (const q of qs) wh += (profile[q]! / 4) * scale * rng.between(0.6, 1.4);
    return Math.round(wh);
  });
}
