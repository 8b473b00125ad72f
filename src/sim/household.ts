import { Battery } from './battery.ts';
import { type HourlySeries, seriesWh } from './data.ts';
import { chargeEv, type EvSpec } from './ev.ts';
import { householdLoad } from './load.ts';
import type { Rng } from './rng.ts';
import { pvEnergy, type PvSystem } from './solar.ts';

/**
 * A simulated household: its load (BDEW H0 or a real series), PV, battery and EV, and the
 * day-by-day physics behind its meter. Pure apart from the battery's state of charge,
 * which carries over from one day to the next.
 */
export interface SimHousehold {
  readonly label: string;
  readonly group: string;
  readonly meter: string;
  readonly feeder: string | null;
  readonly annualKwh: number;
  readonly pv?: PvSystem;
  readonly battery?: Battery;
  readonly ev?: EvSpec;
  readonly series?: HourlySeries;
  readonly standing?: { buyMaxMicroPerKwh?: number; sellMinMicroPerKwh?: number };
  readonly rng: Rng;
}

/** What a day looks like for every household: the intervals and yesterday's community as the forecast. */
export interface SimDay {
  readonly date: string;
  readonly intervalMinutes: 15 | 30 | 60;
  readonly starts: readonly number[];
  /** Local quarter-hours (0..95) each interval covers, for the H0 profile. */
  readonly quarters: readonly (readonly number[])[];
  readonly minuteOfDay: readonly number[];
  /** Local "MM-DDTHH" of each interval, for real series. */
  readonly localHours: readonly string[];
  readonly latitude: number;
  readonly longitude: number;
  /** Cloud factor per interval (1 = clear sky). */
  readonly cloud: readonly number[];
  /** Forecast: the community had a net surplus at this time yesterday (its price was below retail). */
  readonly cheap: readonly boolean[];
  /** Forecast: the community's net surplus (Wh) at this time yesterday. */
  readonly communitySurplusWh: readonly number[];
}

/** Energies of one household over a day, Wh per interval. load + ev + charge + export = pv + discharge + import. */
export interface HouseholdDay {
  readonly loadWh: number[];
  readonly pvWh: number[];
  readonly evWh: number[];
  readonly chargeWh: number[];
  readonly dischargeWh: number[];
  readonly importWh: number[];
  readonly exportWh: number[];
  readonly socWh: number[];
}

/** hasExportMeter: PV, a battery or a real series can push energy out, so the household gets an export meter. */
export const hasExportMeter = (h: SimHousehold): boolean => Boolean(h.pv || h.battery || h.series);

/**
 * What DSO flexibility orders change in a household's day (src/sim/flex.ts), Wh per
 * interval: `evShiftWh` is added to the EV's charging (negative in the ordered span,
 * the deferred energy positive after it); `batteryExtraWh` is discharged on top of the
 * battery's own dispatch.
 */
export interface Activation {
  readonly evShiftWh?: readonly number[];
  readonly batteryExtraWh?: readonly number[];
}

export function householdDay(h: SimHousehold, day: SimDay, activation: Activation = {}): HouseholdDay {
  const parts = 60 / day.intervalMinutes;
  const hourPart = day.minuteOfDay.map((m) => Math.floor((m % 60) / day.intervalMinutes));
  const loadWh = h.series
    ? seriesWh(h.series, 'loadWh', day.localHours, hourPart, parts)
    : householdLoad(day.date, h.annualKwh, day.quarters, h.rng.fork(day.date));
  const pvWh = h.series
    ? seriesWh(h.series, 'pvWh', day.localHours, hourPart, parts)
    : h.pv ? day.starts.map((t, k) => pvEnergy(h.pv!, t, day.intervalMinutes, day.latitude, day.longitude, day.cloud[k]!)) : day.starts.map(() => 0);
  // Smart charging ranks intervals by own surplus first, then by the community's.
  const ownSurplus = pvWh.map((p, k) => Math.max(0, p - loadWh[k]!));
  const evWh = h.ev
    ? chargeEv(h.ev, day.minuteOfDay, day.intervalMinutes, ownSurplus.map((s, k) => s * 1e6 + Math.max(0, day.communitySurplusWh[k] ?? 0)))
    : day.starts.map(() => 0);
  if (activation.evShiftWh) activation.evShiftWh.forEach((d, k) => { evWh[k] = Math.max(0, evWh[k]! + d); });
  const net = pvWh.map((p, k) => p - loadWh[k]! - evWh[k]!);
  const battery = h.battery?.dispatch(net, day.intervalMinutes, day.cheap, activation.batteryExtraWh);
  const chargeWh = battery?.chargeWh ?? net.map(() => 0);
  const dischargeWh = battery?.dischargeWh ?? net.map(() => 0);
  const balance = net.map((n, k) => n - chargeWh[k]! + dischargeWh[k]!);
  return {
    loadWh, pvWh, evWh, chargeWh, dischargeWh,
    importWh: balance.map((b) => Math.max(0, -b)),
    exportWh: balance.map((b) => Math.max(0, b)),
    socWh: battery?.socWh ?? [],
  };
}
