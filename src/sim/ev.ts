/**
 * An electric vehicle charged at home. Each local day it is plugged in from `arrival` to
 * `departure` (a window across midnight when arrival is later than departure) and needs
 * `kwhPerDay`, capped by what the charger can deliver in the window. Plain charging starts
 * at arrival at full power; smart charging fills the intervals with the most expected
 * local surplus first (own PV, then the community's surplus the day before), and still
 * delivers the day's energy before departure.
 */
export interface EvSpec {
  /** Local time HH:MM the car is plugged in. */
  readonly arrival: string;
  /** Local time HH:MM it leaves. */
  readonly departure: string;
  readonly kwhPerDay: number;
  readonly chargerKw: number;
  readonly smart: boolean;
}

const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** isPlugged: whether the car is plugged in at local minute `m` of a day. */
export function isPlugged(ev: Pick<EvSpec, 'arrival' | 'departure'>, m: number): boolean {
  const a = minutes(ev.arrival);
  const d = minutes(ev.departure);
  return a < d ? m >= a && m < d : m >= a || m < d;
}

/**
 * chargeEv gives the Wh charged in each interval of a day. `minuteOfDay[k]` is interval k's
 * local start; `surplusScore[k]` ranks intervals for smart charging (higher = more surplus).
 */
export function chargeEv(ev: EvSpec, minuteOfDay: readonly number[], intervalMinutes: number, surplusScore: readonly number[] = []): number[] {
  const a = minutes(ev.arrival);
  const window = minuteOfDay.map((m, k) => ({ m, k })).filter((x) => isPlugged(ev, x.m));
  // Plain charging: the evening part of the window comes first (the car has just arrived).
  window.sort((x, y) => (x.m >= a ? 0 : 1) - (y.m >= a ? 0 : 1) || x.m - y.m);
  if (ev.smart) window.sort((x, y) => (surplusScore[y.k] ?? 0) - (surplusScore[x.k] ?? 0));
  const maxWh = Math.floor((ev.chargerKw * 1000 * intervalMinutes) / 60);
  let needWh = Math.round(ev.kwhPerDay * 1000);
  const out = minuteOfDay.map(() => 0);
  for (const { k } of window) {
    if (needWh <= 0) break;
    out[k] = Math.min(maxWh, needWh);
    needWh -= out[k]!;
  }
  return out;
}
