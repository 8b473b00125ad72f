import { Temporal } from 'temporal-polyfill';
import { OpenlecError } from '../errors.ts';
import { assertTimeZone, localDateOf, localDay, parseDecimal } from '../units/index.ts';
import {
  type CdrDimensionType, DAYS_OF_WEEK, type OcpiChargingPeriod, ocpiMs, type OcpiPrice, type OcpiPriceComponent, type OcpiTariff, type OcpiTariffRestrictions, type TariffDimension,
} from './ocpi.ts';

/**
 * Pricing a charging session under an OCPI 2.2.1 Tariff, exactly: integer Wh, integer
 * seconds, money in integer micro-units of the tariff's currency (docs/ev-charging.md).
 *
 * The session is cut into segments at every instant where a restriction can change its
 * mind (the charging periods, local midnights and the elements' start/end times in the
 * location's time zone, the min/max durations, the energy thresholds); in each segment,
 * for each dimension, the first element in list order whose restrictions all hold and
 * which prices that dimension is active. step_size applies once per session to the
 * totals (the rule is in docs/ev-charging.md), then min_price and max_price, excl. and
 * incl. VAT independently. Costs are summed exactly (BigInt fractions of a micro-unit) and
 * rounded half up to a micro-unit once per dimension, so the total is the sum of the
 * dimension costs whenever no min/max bound applies.
 */

/** What happens in a segment of the session: charging (TIME, ENERGY), connected without charging (PARKING_TIME), or reserved (RESERVATION_TIME). */
export type PeriodKind = 'charging' | 'parking' | 'reservation';

/** Instantaneous values of a period, as the CPO's charging period reports them (CURRENT/MIN_/MAX_, POWER/MIN_/MAX_). */
export interface Range {
  min: number | null;
  avg: number | null;
  max: number | null;
}

/** One period of a session, in integer units: it lasts until the next period's start (the last until the session's end). */
export interface PricingPeriod {
  /** Epoch seconds. */
  start: number;
  kind: PeriodKind;
  /** Energy imported in the period, Wh (what an ENERGY price applies to; exported energy is not priced by a tariff). */
  energyWh: number;
  /** Energy exported (V2G), Wh: recorded, never priced. */
  exportWh: number;
  /** Amperes summed over phases, in milliamperes. */
  currentMa: Range;
  /** Power in W. */
  powerW: Range;
}

export interface PricingSession {
  /** Epoch seconds; periods cover [start, end). */
  start: number;
  end: number;
  periods: PricingPeriod[];
  /** The session's reservation, if any: RESERVATION_EXPIRES when the driver never came. */
  reservation: 'RESERVATION' | 'RESERVATION_EXPIRES' | null;
}

/** Costs in micro-units; incl is null when no component billed in that dimension has a VAT rate (OCPI: VAT not applicable). */
export interface Cost {
  [field: string]: number | null;
  excl: number;
  incl: number | null;
}

export interface PricedDimension extends Cost {
  /** Metered quantity: Wh for energy, seconds for times, 1 for a flat fee that applies. */
  quantity: number;
  /** Quantity billed after step_size. */
  billed: number;
}

export interface PricedSession {
  currency: string;
  tariffId: string;
  fixed: PricedDimension;
  energy: PricedDimension;
  time: PricedDimension;
  parking: PricedDimension;
  reservation: PricedDimension;
  /** Total before min/max. */
  subtotal: Cost;
  total: Cost;
  /** Which bound changed the total: excl and incl are judged separately. */
  bounded: { excl: 'min' | 'max' | null; incl: 'min' | 'max' | null };
  /** The step rule used for TIME and PARKING_TIME (docs/ev-charging.md). */
  timeStep: 'none' | 'time' | 'parking' | 'combined';
  /** Energy imported and exported over the session, Wh, and the session's duration, s. */
  importWh: number;
  exportWh: number;
  seconds: number;
  /** Number of segments priced (a measure of the tariff's complexity for this session). */
  segments: number;
}

// ---------------------------------------------------------------------------------------------
// The tariff in integer form

interface Restrictions {
  startTime: number | null; // local seconds of day
  endTime: number | null;
  startDate: string | null;
  endDate: string | null;
  minWh: number | null;
  maxWh: number | null;
  minCurrentMa: number | null;
  maxCurrentMa: number | null;
  minPowerW: number | null;
  maxPowerW: number | null;
  minDuration: number | null;
  maxDuration: number | null;
  days: Set<number> | null; // ISO day of week 1..7
  reservation: 'RESERVATION' | 'RESERVATION_EXPIRES' | null;
}

interface Component {
  element: number;
  type: TariffDimension;
  /** Micro-units per kWh (ENERGY), per hour (TIME, PARKING_TIME) or per session (FLAT). */
  priceMicro: bigint;
  /** VAT in units of 1e-4 percent, or null: no VAT applicable. */
  vatE4: bigint | null;
  step: number;
}

interface Element {
  index: number;
  r: Restrictions;
  byType: Map<TariffDimension, Component>;
}

export interface CompiledTariff {
  tariff: OcpiTariff;
  timeZone: string;
  elements: Element[];
  /** The elements for ordinary time, reserved time and an expired reservation's time, in the order they are tried. */
  regular: Element[];
  reserved: Element[];
  expired: Element[];
  /** Local times of day (seconds) at which some restriction starts or ends. */
  times: number[];
  /** Energy (Wh) and duration (s) thresholds. */
  energyThresholds: number[];
  durationThresholds: number[];
  validFrom: number | null;
  validTo: number | null;
  min: { excl: number | null; incl: number | null };
  max: { excl: number | null; incl: number | null };
}

const DAY_NUMBER = new Map<string, number>(DAYS_OF_WEEK.map((d, i) => [d, i + 1]));

const hhmm = (t: string) => Number(t.slice(0, 2)) * 3600 + Number(t.slice(3, 5)) * 60;
/** Whole Wh threshold for a kWh bound: "≥ min" and "< max" on integer Wh both compare with the ceiling. */
const kwhToWh = (kwh: number, field: string) => Math.ceil(parseDecimal(String(kwh), 4, field) / 10);
const micro = (n: number, field: string) => parseDecimal(String(n), 6, field);

function compileRestrictions(r: OcpiTariffRestrictions | undefined, field: string): Restrictions {
  return {
    startTime: r?.start_time === undefined ? null : hhmm(r.start_time),
    endTime: r?.end_time === undefined ? null : hhmm(r.end_time),
    startDate: r?.start_date ?? null,
    endDate: r?.end_date ?? null,
    minWh: r?.min_kwh === undefined ? null : kwhToWh(r.min_kwh, `${field}.min_kwh`),
    maxWh: r?.max_kwh === undefined ? null : kwhToWh(r.max_kwh, `${field}.max_kwh`),
    minCurrentMa: r?.min_current === undefined ? null : parseDecimal(String(r.min_current), 3, `${field}.min_current`, 'half-up'),
    maxCurrentMa: r?.max_current === undefined ? null : parseDecimal(String(r.max_current), 3, `${field}.max_current`, 'half-up'),
    minPowerW: r?.min_power === undefined ? null : parseDecimal(String(r.min_power), 3, `${field}.min_power`, 'half-up'),
    maxPowerW: r?.max_power === undefined ? null : parseDecimal(String(r.max_power), 3, `${field}.max_power`, 'half-up'),
    minDuration: r?.min_duration ?? null,
    maxDuration: r?.max_duration ?? null,
    days: r?.day_of_week === undefined ? null : new Set(r.day_of_week.map((d) => DAY_NUMBER.get(d)!)),
    reservation: r?.reservation ?? null,
  };
}

function component(c: OcpiPriceComponent, element: number, field: string): Component {
  return {
    element,
    type: c.type,
    priceMicro: BigInt(micro(c.price, `${field}.price`)),
    vatE4: c.vat === undefined ? null : BigInt(parseDecimal(String(c.vat), 4, `${field}.vat`)),
    step: Math.max(1, c.step_size),
  };
}

const bound = (p: OcpiPrice | undefined, field: string) => ({
  excl: p === undefined ? null : micro(p.excl_vat, `${field}.excl_vat`),
  incl: p?.incl_vat === undefined ? null : micro(p.incl_vat, `${field}.incl_vat`),
});

/** compileTariff turns a parsed OCPI tariff into integers once, so many sessions can be priced with it. */
export function compileTariff(tariff: OcpiTariff, timeZone: string): CompiledTariff {
  assertTimeZone(timeZone, 'timeZone');
  const times = new Set<number>();
  const energy = new Set<number>();
  const duration = new Set<number>();
  const elements = tariff.elements.map((e, index): Element => {
    const field = `elements.${index}`;
    const r = compileRestrictions(e.restrictions, `${field}.restrictions`);
    if (r.startTime !== null) times.add(r.startTime);
    if (r.endTime !== null) times.add(r.endTime);
    for (const wh of [r.minWh, r.maxWh]) if (wh !== null && wh > 0) energy.add(wh);
    for (const s of [r.minDuration, r.maxDuration]) if (s !== null && s > 0) duration.add(s);
    const byType = new Map<TariffDimension, Component>();
    e.price_components.forEach((c, k) => {
      // Two components of one type in one element: the first is the one that applies (list order).
      if (!byType.has(c.type)) byType.set(c.type, component(c, index, `${field}.price_components.${k}`));
    });
    return { index, r, byType };
  });
  const min = bound(tariff.min_price, 'min_price');
  const max = bound(tariff.max_price, 'max_price');
  for (const k of ['excl', 'incl'] as const) {
    if (min[k] !== null && max[k] !== null && min[k]! > max[k]!) {
      throw new OpenlecError('E_TARIFF_BOUNDS', `min_price.${k}_vat is above max_price.${k}_vat`, { field: `min_price.${k}_vat` });
    }
  }
  const reserved = elements.filter((e) => e.r.reservation === 'RESERVATION');
  return {
    tariff,
    timeZone,
    elements,
    regular: elements.filter((e) => e.r.reservation === null),
    reserved,
    expired: [...elements.filter((e) => e.r.reservation === 'RESERVATION_EXPIRES'), ...reserved],
    times: [...times].sort((a, b) => a - b),
    energyThresholds: [...energy].sort((a, b) => a - b),
    durationThresholds: [...duration].sort((a, b) => a - b),
    validFrom: tariff.start_date_time === undefined ? null : Math.floor(ocpiMs(tariff.start_date_time) / 1000),
    validTo: tariff.end_date_time === undefined ? null : Math.floor(ocpiMs(tariff.end_date_time) / 1000),
    min,
    max,
  };
}

// ---------------------------------------------------------------------------------------------
// Segments

interface Segment {
  start: number;
  seconds: number;
  energyWh: number;
  kind: PeriodKind;
  period: PricingPeriod;
  /** Energy imported since the session's start, Wh, at the segment's start. */
  energySoFar: number;
  /** Local calendar facts at the segment's start. */
  localSecond: number;
  localDate: string;
  weekday: number;
}

/** A local calendar day of the session's zone: its span in epoch seconds and, on a DST day, the offset change. */
interface LocalDayFacts {
  date: string;
  /** ISO day of week, 1 = Monday. */
  weekday: number;
  start: number;
  end: number;
  /** The transition instant and the jump of the wall clock at it (+3600 when it springs forward), on a DST day. */
  shift: { at: number; delta: number } | null;
}

const dateOfUtc = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const shiftDate = (date: string, days: number) => dateOfUtc(Date.UTC(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10)) + days));
const transitions = new Map<string, number>();

/** The instant (epoch s) of the offset transition on a local day that has one; time-zone arithmetic is the slow part, so it is memoised. */
function transitionOn(date: string, timeZone: string, startMs: number): number {
  const k = `${timeZone}\u0000${date}`;
  let at = transitions.get(k);
  if (at === undefined) {
    const next = Temporal.Instant.fromEpochMilliseconds(startMs).toZonedDateTimeISO(timeZone).getTimeZoneTransition('next');
    at = Math.floor((next?.epochMilliseconds ?? startMs) / 1000);
    if (transitions.size > 10_000) transitions.clear();
    transitions.set(k, at);
  }
  return at;
}

/**
 * The local days from the day before `from` to the day holding `to`, from the memoised
 * local-day spans of src/units: one time-zone conversion per session (its first local
 * date), the rest is arithmetic, exact on DST days too.
 */
function localDaysOf(from: number, to: number, timeZone: string): LocalDayFacts[] {
  const days: LocalDayFacts[] = [];
  let date = shiftDate(localDateOf(from * 1000, timeZone), -1);
  for (;;) {
    const span = localDay(date, timeZone);
    const start = Math.floor(span.startMs / 1000);
    if (start > to) break;
    const end = Math.floor(span.endMs / 1000);
    const length = end - start;
    const shift = length === 86_400 ? null : { at: transitionOn(date, timeZone, span.startMs), delta: 86_400 - length };
    const weekday = new Date(`${date}T00:00:00Z`).getUTCDay() || 7;
    days.push({ date, weekday, start, end, shift });
    date = shiftDate(date, 1);
  }
  return days;
}

/** The wall-clock second of the day at instant `t` of `day`. */
const localSecondOf = (day: LocalDayFacts, t: number) => t - day.start + (day.shift && t >= day.shift.at ? day.shift.delta : 0);

/** The instants of `day` at which the wall clock reads `t` (seconds of day): none in a spring-forward gap, two in a fall-back fold. */
function instantsAt(day: LocalDayFacts, t: number): number[] {
  if (!day.shift) return [day.start + t];
  const before = day.shift.at - day.start; // the wall clock just before the transition
  const { delta } = day.shift;
  if (delta > 0) return t < before ? [day.start + t] : t >= before + delta ? [day.start + t - delta] : [];
  const out: number[] = [];
  if (t < before) out.push(day.start + t);
  if (t >= before + delta) out.push(day.start + t - delta);
  return out;
}

/**
 * Instants (epoch s) in (from, to) where a local calendar fact can change: local midnights,
 * each of `times` (local seconds of day) at every instant the wall clock shows it (both of a
 * repeated time at fall-back), and every offset transition (at spring-forward the skipped
 * wall times are passed at the transition itself).
 */
function calendarCuts(days: readonly LocalDayFacts[], from: number, to: number, times: number[]): number[] {
  const cuts = new Set<number>();
  const add = (at: number) => {
    if (at > from && at < to) cuts.add(at);
  };
  for (const day of days) {
    add(day.start);
    if (day.shift) add(day.shift.at);
    for (const t of times) if (t > 0) for (const at of instantsAt(day, t)) add(at);
  }
  return [...cuts];
}

/** Where durations count from: the first charging or parking period (reserved time before it counts from the reservation's start). */
function chargingStart(s: PricingSession): number {
  return s.periods.find((p) => p.kind !== 'reservation')?.start ?? s.start;
}

function segmentsOf(t: CompiledTariff, s: PricingSession): Segment[] {
  const days = localDaysOf(s.start, s.end, t.timeZone);
  const fixedCuts = new Set<number>(calendarCuts(days, s.start, s.end, t.times));
  const origins = new Set([s.start, chargingStart(s)]);
  for (const o of origins) for (const d of t.durationThresholds) if (o + d > s.start && o + d < s.end) fixedCuts.add(o + d);
  const sortedFixed = [...fixedCuts].sort((a, b) => a - b);
  const out: Segment[] = [];
  let energySoFar = 0;
  let d = 0;
  s.periods.forEach((p, i) => {
    const a = p.start;
    const b = i + 1 < s.periods.length ? s.periods[i + 1]!.start : s.end;
    const D = b - a;
    const E = p.energyWh;
    // Energy imported since the period's start at each cut: uniform over the period, and
    // exactly the threshold at an energy threshold's cut (the second in which it is crossed is split).
    const cum = new Map<number, number>();
    for (const c of sortedFixed) if (c > a && c < b) cum.set(c, Math.floor((E * (c - a)) / D));
    if (E > 0 && D > 0) {
      for (const thr of t.energyThresholds) {
        const need = thr - energySoFar;
        if (need <= 0 || need >= E) continue;
        const at = a + Math.ceil((need * D) / E);
        if (at < b) cum.set(at, need);
      }
    }
    const points = [a, ...[...cum.keys()].sort((x, y) => x - y), b];
    cum.set(a, 0);
    cum.set(b, E);
    for (let k = 0; k + 1 < points.length || (D === 0 && k === 0); k++) {
      const x = points[k]!;
      const y = points[k + 1] ?? x;
      const e = D === 0 ? E : cum.get(y)! - cum.get(x)!;
      while (d + 1 < days.length && days[d]!.end <= x) d++;
      const day = days[d]!;
      out.push({ start: x, seconds: y - x, energyWh: e, kind: p.kind, period: p, energySoFar, localSecond: localSecondOf(day, x), localDate: day.date, weekday: day.weekday });
      energySoFar += e;
      if (D === 0) break;
    }
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Restrictions

const upper = (r: Range) => r.max ?? r.avg ?? r.min;
const lower = (r: Range) => r.min ?? r.avg ?? r.max;

function holds(r: Restrictions, seg: Segment, session: PricingSession): boolean {
  if (r.startTime !== null || r.endTime !== null) {
    const t = seg.localSecond;
    const from = r.startTime ?? 0;
    const to = r.endTime === null || r.endTime === 0 ? 86_400 : r.endTime;
    const inside = from < to ? t >= from && t < to : t >= from || t < to; // end before start wraps past midnight
    if (!inside) return false;
  }
  if (r.startDate !== null && seg.localDate < r.startDate) return false;
  if (r.endDate !== null && seg.localDate >= r.endDate) return false;
  if (r.minWh !== null && seg.energySoFar < r.minWh) return false;
  if (r.maxWh !== null && seg.energySoFar >= r.maxWh) return false;
  if (r.minDuration !== null || r.maxDuration !== null) {
    const since = seg.start - (seg.kind === 'reservation' ? session.start : chargingStart(session));
    if (r.minDuration !== null && since < r.minDuration) return false;
    if (r.maxDuration !== null && since >= r.maxDuration) return false;
  }
  if (r.days !== null && !r.days.has(seg.weekday)) return false;
  if (r.minCurrentMa !== null || r.maxCurrentMa !== null) {
    const lo = lower(seg.period.currentMa);
    const hi = upper(seg.period.currentMa);
    if (r.minCurrentMa !== null && (lo === null || lo < r.minCurrentMa)) return false;
    if (r.maxCurrentMa !== null && (hi === null || hi >= r.maxCurrentMa)) return false;
  }
  if (r.minPowerW !== null || r.maxPowerW !== null) {
    // Without a reported power, the period's average power (its energy over its duration) is judged.
    const average = seg.period.powerW.avg ?? averagePowerW(seg);
    const lo = seg.period.powerW.min ?? average ?? seg.period.powerW.max;
    const hi = seg.period.powerW.max ?? average ?? seg.period.powerW.min;
    if (r.minPowerW !== null && (lo === null || lo < r.minPowerW)) return false;
    if (r.maxPowerW !== null && (hi === null || hi >= r.maxPowerW)) return false;
  }
  return true;
}

function averagePowerW(seg: Segment): number | null {
  return seg.seconds > 0 ? Math.floor((seg.energyWh * 3600) / seg.seconds) : null;
}

/**
 * The elements a segment may use, in the order they are tried: reserved time takes only
 * reservation elements, an expired reservation's RESERVATION_EXPIRES ones first (their
 * price wins, mod_tariffs), then its RESERVATION ones; other time takes the others.
 */
function candidates(t: CompiledTariff, kind: PeriodKind, reservation: PricingSession['reservation']): Element[] {
  if (kind !== 'reservation') return t.regular;
  return reservation === 'RESERVATION_EXPIRES' ? t.expired : t.reserved;
}

function active(t: CompiledTariff, seg: Segment, session: PricingSession, type: TariffDimension): Component | null {
  for (const e of candidates(t, seg.kind, session.reservation)) {
    const c = e.byType.get(type);
    if (c && holds(e.r, seg, session)) return c;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Money

/** Exact cost: excl and the VAT in units of 1/(18000 · 10^6) micro-unit (18000 = lcm of Wh/kWh and s/h). */
class Exact {
  excl = 0n;
  vat = 0n;
  hasVat = false;
  /** `quantity` of a unit priced per `per` (1000 Wh per kWh, 3600 s per h, 1 for a flat fee). */
  add(c: Component, quantity: number, per: 1 | 1000 | 3600): void {
    const excl = (BigInt(quantity) * c.priceMicro * 18000n) / BigInt(per);
    this.excl += excl;
    if (c.vatE4 !== null) {
      this.hasVat = true;
      this.vat += excl * c.vatE4;
    }
  }
  cost(): Cost {
    const exclScaled = this.excl * 1_000_000n;
    return { excl: roundHalfUp(exclScaled), incl: this.hasVat ? roundHalfUp(exclScaled + this.vat) : null };
  }
}

const SCALE = 18_000n * 1_000_000n;
function roundHalfUp(v: bigint): number {
  return Number((v * 2n + SCALE) / (2n * SCALE));
}

const ceilTo = (q: number, step: number) => Math.ceil(q / step) * step;

// ---------------------------------------------------------------------------------------------

/**
 * priceSession prices `session` under `tariff` (compiled for the location's time zone).
 * Refuses a session outside the tariff's validity and periods that do not tile the session.
 */
export function priceSession(t: CompiledTariff, session: PricingSession): PricedSession {
  checkSession(session);
  if (t.validFrom !== null && session.start < t.validFrom) {
    throw new OpenlecError('E_TARIFF_NOT_ACTIVE', `tariff ${t.tariff.id} starts at ${t.tariff.start_date_time}, after the session's start`, { field: 'start_date_time' });
  }
  if (t.validTo !== null && session.start >= t.validTo) {
    throw new OpenlecError('E_TARIFF_NOT_ACTIVE', `tariff ${t.tariff.id} ended at ${t.tariff.end_date_time}, before the session's start`, { field: 'start_date_time' });
  }
  const segments = segmentsOf(t, session);
  const fixed = new Exact();
  const energy = new Exact();
  const time = new Exact();
  const parking = new Exact();
  const reservation = new Exact();
  const q = { fixed: 0, energy: 0, billedEnergy: 0, time: 0, billedTime: 0, parking: 0, billedParking: 0, reservation: 0, billedReservation: 0, flatFees: 0 };
  let lastEnergy: Component | null = null;
  let lastTime: Component | null = null;
  let lastParking: Component | null = null;
  let lastReservation: Component | null = null;
  let lastTimeAt = -1;
  let lastParkingAt = -1;
  let importWh = 0;
  let exportWh = 0;
  for (const p of session.periods) {
    importWh += p.energyWh;
    exportWh += p.exportWh;
  }

  // FLAT: once for the session (at its first charging or parking segment) and once for its reservation.
  const firstOf = (pred: (s: Segment) => boolean) => segments.find(pred);
  for (const seg of [firstOf((s) => s.kind === 'reservation'), firstOf((s) => s.kind !== 'reservation')]) {
    if (!seg) continue;
    const c = active(t, seg, session, 'FLAT');
    if (c) {
      fixed.add(c, 1, 1);
      q.flatFees++;
    }
  }
  // An expired reservation without reservation periods still owes its RESERVATION_EXPIRES flat fee.
  if (session.reservation === 'RESERVATION_EXPIRES' && !segments.some((s) => s.kind === 'reservation')) {
    const c = t.expired.find((e) => e.byType.has('FLAT'))?.byType.get('FLAT');
    if (c) {
      fixed.add(c, 1, 1);
      q.flatFees++;
    }
  }

  for (const seg of segments) {
    if (seg.kind === 'charging') {
      q.energy += seg.energyWh;
      const ce = seg.energyWh > 0 ? active(t, seg, session, 'ENERGY') : null;
      if (ce) {
        energy.add(ce, seg.energyWh, 1000);
        q.billedEnergy += seg.energyWh;
        lastEnergy = ce;
      }
      q.time += seg.seconds;
      const ct = seg.seconds > 0 ? active(t, seg, session, 'TIME') : null;
      if (ct) {
        time.add(ct, seg.seconds, 3600);
        q.billedTime += seg.seconds;
        lastTime = ct;
        lastTimeAt = seg.start;
      }
    } else if (seg.kind === 'parking') {
      q.parking += seg.seconds;
      const cp = seg.seconds > 0 ? active(t, seg, session, 'PARKING_TIME') : null;
      if (cp) {
        parking.add(cp, seg.seconds, 3600);
        q.billedParking += seg.seconds;
        lastParking = cp;
        lastParkingAt = seg.start;
      }
    } else {
      q.reservation += seg.seconds;
      const cr = seg.seconds > 0 ? active(t, seg, session, 'TIME') : null;
      if (cr) {
        reservation.add(cr, seg.seconds, 3600);
        q.billedReservation += seg.seconds;
        lastReservation = cr;
      }
    }
  }

  // step_size: once per session on the totals, the excess billed at the last relevant component.
  if (lastEnergy) {
    const billed = ceilTo(q.billedEnergy, lastEnergy.step);
    energy.add(lastEnergy, billed - q.billedEnergy, 1000);
    q.billedEnergy = billed;
  }
  let timeStep: PricedSession['timeStep'] = 'none';
  if (lastParking && lastTime && lastParking.element === lastTime.element) {
    // TIME and PARKING_TIME of one element: charging and parking rounded together, the excess is parking.
    const last = lastParkingAt >= lastTimeAt ? lastParking : lastTime;
    const total = q.billedTime + q.billedParking;
    const billed = ceilTo(total, last.step);
    parking.add(lastParking, billed - total, 3600);
    q.billedParking += billed - total;
    timeStep = 'combined';
  } else if (lastParking) {
    const billed = ceilTo(q.billedParking, lastParking.step);
    parking.add(lastParking, billed - q.billedParking, 3600);
    q.billedParking = billed;
    timeStep = 'parking';
  } else if (lastTime) {
    const billed = ceilTo(q.billedTime, lastTime.step);
    time.add(lastTime, billed - q.billedTime, 3600);
    q.billedTime = billed;
    timeStep = 'time';
  }
  if (lastReservation) {
    const billed = ceilTo(q.billedReservation, lastReservation.step);
    reservation.add(lastReservation, billed - q.billedReservation, 3600);
    q.billedReservation = billed;
  }

  const dim = (x: Exact, quantity: number, billed: number): PricedDimension => ({ ...x.cost(), quantity, billed });
  const out = {
    fixed: dim(fixed, q.flatFees, q.flatFees),
    energy: dim(energy, q.energy, q.billedEnergy),
    time: dim(time, q.time, q.billedTime),
    parking: dim(parking, q.parking, q.billedParking),
    reservation: dim(reservation, q.reservation, q.billedReservation),
  };
  const parts = [out.fixed, out.energy, out.time, out.parking, out.reservation];
  const anyVat = parts.some((d) => d.incl !== null);
  const subtotal: Cost = { excl: parts.reduce((a, d) => a + d.excl, 0), incl: anyVat ? parts.reduce((a, d) => a + (d.incl ?? d.excl), 0) : null };
  const bounded: PricedSession['bounded'] = { excl: null, incl: null };
  const clamp = (v: number, lo: number | null, hi: number | null, key: 'excl' | 'incl') => {
    if (lo !== null && v < lo) {
      bounded[key] = 'min';
      return lo;
    }
    if (hi !== null && v > hi) {
      bounded[key] = 'max';
      return hi;
    }
    return v;
  };
  const excl = clamp(subtotal.excl, t.min.excl, t.max.excl, 'excl');
  let incl = subtotal.incl === null ? null : clamp(subtotal.incl, t.min.incl, t.max.incl, 'incl');
  // A min_price given excl. VAT only still makes the total incl. VAT at least that much (VAT is never
  // negative); it never lowers the total incl. VAT, and a max_price excl. VAT only leaves it alone.
  if (incl !== null && bounded.excl === 'min' && t.min.incl === null && incl < excl) {
    incl = excl;
    bounded.incl = 'min';
  }
  const total: Cost = { excl, incl };
  return {
    currency: t.tariff.currency, tariffId: t.tariff.id, ...out, subtotal, total, bounded, timeStep, importWh, exportWh, seconds: session.end - session.start, segments: segments.length,
  };
}

/** The longest session priced (a month of parking), and the most charging periods one may have: bounds on the work a CDR costs every replay. */
export const MAX_SESSION_SECONDS = 31 * 86_400;
export const MAX_PERIODS = 2_000;

function checkSession(s: PricingSession): void {
  if (!Number.isSafeInteger(s.start) || !Number.isSafeInteger(s.end) || s.end < s.start) {
    throw new OpenlecError('E_CHARGING_PERIODS', 'end_date_time is before start_date_time', { field: 'end_date_time' });
  }
  if (s.end - s.start > MAX_SESSION_SECONDS) {
    throw new OpenlecError('E_CHARGING_PERIODS', `end_date_time: the session lasts ${Math.ceil((s.end - s.start) / 86_400)} days, more than the ${MAX_SESSION_SECONDS / 86_400} a CDR may cover`, { field: 'end_date_time' });
  }
  if (s.periods.length > MAX_PERIODS) throw new OpenlecError('E_CHARGING_PERIODS', `charging_periods: ${s.periods.length} periods, more than ${MAX_PERIODS}`, { field: 'charging_periods' });
  if (s.periods.length === 0) throw new OpenlecError('E_CHARGING_PERIODS', 'a session needs at least one charging period', { field: 'charging_periods' });
  s.periods.forEach((p, i) => {
    const field = `charging_periods.${i}.start_date_time`;
    if (p.start < s.start || p.start > s.end) throw new OpenlecError('E_CHARGING_PERIODS', `${field}: the period starts outside the session`, { field });
    if (i > 0 && p.start <= s.periods[i - 1]!.start) throw new OpenlecError('E_CHARGING_PERIODS', `${field}: periods must start in increasing order`, { field });
    for (const [k, v] of [['energyWh', p.energyWh], ['exportWh', p.exportWh]] as const) {
      if (!Number.isSafeInteger(v) || v < 0) throw new OpenlecError('E_CHARGING_PERIODS', `charging_periods.${i}: ${k} must be a non-negative integer`, { field: `charging_periods.${i}.dimensions` });
    }
  });
  if (s.periods[0]!.start !== s.start) throw new OpenlecError('E_CHARGING_PERIODS', 'charging_periods.0.start_date_time must be the session start', { field: 'charging_periods.0.start_date_time' });
}

// ---------------------------------------------------------------------------------------------
// From OCPI

/** kWh with OCPI's 4 decimals as tenths of a Wh, exactly. */
const deciWh = (kwh: number, field: string) => parseDecimal(String(kwh), 4, field);

/**
 * pricingSession reads OCPI charging periods: a period with RESERVATION_TIME is reserved
 * time, one with PARKING_TIME is parking, any other is charging. Its energy is
 * ENERGY_IMPORT when given, else ENERGY when positive; its duration runs to the next
 * period's start (the last to `end`), in whole seconds. OCPI carries tenths of a Wh: the
 * session's energy is rounded up to the whole Wh once (as step_size rounds: 115.2 Wh is
 * billed as 116), each period getting the difference of the rounded running totals.
 * A session of reservation time only is an expired reservation.
 */
export function pricingSession(startText: string, endText: string, periods: OcpiChargingPeriod[], reservation?: PricingSession['reservation']): PricingSession {
  const sec = (text: string) => Math.floor(ocpiMs(text) / 1000);
  let cumImport = 0;
  let cumExport = 0;
  const out = periods.map((p, i): PricingPeriod => {
    const field = `charging_periods.${i}.dimensions`;
    const seen = new Set<string>();
    for (const d of p.dimensions) {
      if (seen.has(d.type)) throw new OpenlecError('E_CHARGING_PERIODS', `${field}: dimension ${d.type} appears twice`, { field });
      seen.add(d.type);
    }
    const get = (type: CdrDimensionType) => p.dimensions.find((d) => d.type === type)?.volume ?? null;
    const kind: PeriodKind = get('RESERVATION_TIME') !== null ? 'reservation' : get('PARKING_TIME') !== null ? 'parking' : 'charging';
    const imp = get('ENERGY_IMPORT');
    const net = get('ENERGY');
    const exp = get('ENERGY_EXPORT');
    for (const [type, v] of [['ENERGY_IMPORT', imp], ['ENERGY_EXPORT', exp]] as const) {
      if (v !== null && v < 0) throw new OpenlecError('E_CHARGING_PERIODS', `${field}: ${type} must not be negative`, { field });
    }
    const importDeci = imp !== null ? deciWh(imp, field) : net !== null && net > 0 ? deciWh(net, field) : 0;
    const exportDeci = exp !== null ? deciWh(exp, field) : net !== null && net < 0 ? deciWh(-net, field) : 0;
    const beforeI = Math.ceil(cumImport / 10);
    const beforeE = Math.ceil(cumExport / 10);
    cumImport += importDeci;
    cumExport += exportDeci;
    const ma = (type: CdrDimensionType) => {
      const v = get(type);
      return v === null ? null : parseDecimal(String(v), 3, field, 'half-up');
    };
    return {
      start: sec(p.start_date_time),
      kind,
      energyWh: Math.ceil(cumImport / 10) - beforeI,
      exportWh: Math.ceil(cumExport / 10) - beforeE,
      currentMa: { min: ma('MIN_CURRENT'), avg: ma('CURRENT'), max: ma('MAX_CURRENT') },
      powerW: { min: ma('MIN_POWER'), avg: ma('POWER'), max: ma('MAX_POWER') },
    };
  });
  const onlyReserved = out.length > 0 && out.every((p) => p.kind === 'reservation');
  const reserved = out.some((p) => p.kind === 'reservation');
  return { start: sec(startText), end: sec(endText), periods: out, reservation: reservation !== undefined ? reservation : onlyReserved ? 'RESERVATION_EXPIRES' : reserved ? 'RESERVATION' : null };
}

/** OCPI number (at most 4 decimals) of a micro-unit amount, half up. */
export function ocpiMoney(microUnits: number): number {
  return Math.round(microUnits / 100) / 10_000;
}

const ocpiPrice = (c: Cost): OcpiPrice => (c.incl === null ? { excl_vat: ocpiMoney(c.excl) } : { excl_vat: ocpiMoney(c.excl), incl_vat: ocpiMoney(c.incl) });
const hours = (s: number) => Math.round(s / 0.36) / 10_000;

/** The OCPI CDR totals of a priced session (total_cost, per-dimension costs, energy in kWh, times in hours). */
export function ocpiTotals(p: PricedSession) {
  return {
    total_cost: ocpiPrice(p.total),
    ...(p.fixed.quantity > 0 ? { total_fixed_cost: ocpiPrice(p.fixed) } : {}),
    total_energy: p.importWh / 1000,
    ...(p.energy.excl > 0 ? { total_energy_cost: ocpiPrice(p.energy) } : {}),
    total_time: hours(p.time.quantity + p.parking.quantity),
    ...(p.time.excl > 0 ? { total_time_cost: ocpiPrice(p.time) } : {}),
    ...(p.parking.quantity > 0 ? { total_parking_time: hours(p.parking.quantity) } : {}),
    ...(p.parking.excl > 0 ? { total_parking_cost: ocpiPrice(p.parking) } : {}),
    ...(p.reservation.excl > 0 ? { total_reservation_cost: ocpiPrice(p.reservation) } : {}),
  };
}
