import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type OcpiTariff, parseTariff } from './ocpi.ts';
import { compileTariff, type PeriodKind, type PricedSession, type PricingPeriod, type PricingSession, priceSession, type Range } from './price.ts';

/**
 * Properties of OCPI 2.2.1 pricing (price.ts), on random tariffs and sessions in Europe/Paris
 * (some across midnight, some across a DST change).
 *
 * What holds, and what does not (the tests under "counterexamples" pin the second list):
 * - The price is NOT monotone in energy or duration in general, under OCPI's own rules:
 *   an element switch on max_power/min_power or max_kwh can make more energy cheaper, a
 *   switch to an element with a smaller step_size makes a longer session cheaper (the step
 *   of the LAST element applies to the whole total), and a longer final charging period
 *   with the same energy spreads that energy into cheaper hours.
 * - It is monotone (exactly) when the extra is APPENDED: a longer final parking period, or
 *   a longer final charging period at the same whole-Wh-per-second rate, never costs less
 *   when step_size is 1 (any restrictions); more energy in a period never costs less when no
 *   restriction depends on energy or power and the period is priced as one segment (any
 *   steps), and otherwise costs at most 1 Wh per extra segment at the dearest ENERGY price
 *   less (the integer-Wh spread of a period's energy over its segments).
 * - step_size only ever adds (less than one step per rounded total); quantities already on
 *   the step are billed as metered.
 * - Splitting a charging period in two at the same per-second energy changes nothing when
 *   that rate is a whole number of Wh per second (any tariff); otherwise by at most 1 Wh per
 *   segment at the dearest ENERGY price (no energy/power restrictions, unit ENERGY steps).
 * - min ≤ total ≤ max, excl. and incl. VAT apart; total = subtotal = Σ dimensions when no
 *   bound applies; excl ≤ incl; pricing is deterministic.
 *
 * Restriction times include 02:00–02:59 local, the DST gap and the repeated hour (the review
 * found them mispriced; the tests at the end pin the fixes).
 */

const TZ = 'Europe/Paris';
const STEPS = [1, 60, 300, 900, 500, 1000] as const;
const DAYS = ['MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY', 'SUNDAY'] as const;
const TYPES = ['FLAT', 'ENERGY', 'TIME', 'PARKING_TIME'] as const;
type Dim = (typeof TYPES)[number];
const RUNS = { numRuns: 60 };

// ---------------------------------------------------------------------------------------------
// Tariffs

interface TariffOptions {
  /** Allow min/max_kwh and min/max_power restrictions (the ones that depend on the energy delivered). */
  energyDeps?: boolean;
  /** Append an unrestricted element with all four components (every second and Wh is then priced). */
  withDefault?: boolean;
  /** Force the step of ENERGY and of TIME/PARKING_TIME components. */
  energyStep?: number;
  timeStep?: number;
  bounds?: boolean;
}

const money = fc.integer({ min: 0, max: 500 }).map((c) => c / 100);
const vat = fc.option(fc.constantFrom(0, 5.5, 10, 20, 21), { nil: undefined });
const clock = fc.oneof(
  { weight: 1, arbitrary: fc.constant('00:00') },
  {
    weight: 6,
    arbitrary: fc.tuple(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 })).map(([h, m]) => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`),
  },
);

function restrictionsArb(o: TariffOptions) {
  const base = {
    start_time: clock,
    end_time: clock,
    day_of_week: fc.subarray([...DAYS], { minLength: 1 }),
    min_duration: fc.integer({ min: 0, max: 4 * 3600 }),
    max_duration: fc.integer({ min: 1, max: 4 * 3600 }),
    min_current: fc.integer({ min: 0, max: 64 }),
    max_current: fc.integer({ min: 1, max: 64 }),
  };
  const energy = {
    min_kwh: fc.integer({ min: 0, max: 6000 }).map((x) => x / 100),
    max_kwh: fc.integer({ min: 1, max: 6000 }).map((x) => x / 100),
    min_power: fc.integer({ min: 0, max: 1500 }).map((x) => x / 10),
    max_power: fc.integer({ min: 1, max: 1500 }).map((x) => x / 10),
  };
  const all = o.energyDeps === false ? base : { ...base, ...energy };
  // One to three restrictions per element (more would rarely all hold at once).
  return fc
    .tuple(fc.record(all), fc.subarray(Object.keys(all), { minLength: 1, maxLength: 3 }))
    .map(([r, keys]) => Object.fromEntries(keys.map((k) => [k, (r as Record<string, unknown>)[k]])));
}

const strip = <T extends object>(v: T): T => Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined)) as T;

function componentArb(o: TariffOptions, types: readonly Dim[] = TYPES) {
  return fc.record({ type: fc.constantFrom(...types), price: money, vat, step: fc.constantFrom(...STEPS) }).map(({ type, price, vat: v, step }) =>
    strip({ type, price, vat: v, step_size: type === 'ENERGY' ? (o.energyStep ?? step) : type === 'FLAT' ? step : (o.timeStep ?? step) }),
  );
}

const boundsArb = fc.record({
  lo: fc.integer({ min: 0, max: 2000 }),
  span: fc.integer({ min: 0, max: 3000 }),
  dLo: fc.integer({ min: 0, max: 500 }),
  dHi: fc.integer({ min: 0, max: 800 }),
  min: fc.boolean(),
  max: fc.boolean(),
  minIncl: fc.boolean(),
  maxIncl: fc.boolean(),
});

function tariffArb(o: TariffOptions = {}): fc.Arbitrary<OcpiTariff> {
  const element = fc.record({ price_components: fc.array(componentArb(o), { minLength: 1, maxLength: 3 }), restrictions: fc.option(restrictionsArb(o), { nil: undefined }) }).map(strip);
  const fallback = fc.tuple(...TYPES.map((t) => componentArb(o, [t]))).map((price_components) => ({ price_components }));
  return fc
    .record({
      elements: fc.array(element, { minLength: o.withDefault ? 0 : 1, maxLength: o.withDefault ? 5 : 6 }),
      // An unrestricted fallback element: always with withDefault, else in one tariff of three.
      fallback: o.withDefault ? fallback.map((f) => [f]) : fc.option(element.map((e) => ({ price_components: e.price_components })), { nil: undefined, freq: 2 }).map((f) => (f ? [f] : [])),
      bounds: o.bounds === false ? fc.constant(null) : fc.option(boundsArb, { nil: null }),
    })
    .map(({ elements, fallback: f, bounds: b }) => {
      const t: Record<string, unknown> = { country_code: 'FR', party_id: 'OLC', id: 'PROP', currency: 'EUR', elements: [...elements, ...f], last_updated: '2026-01-01T00:00:00Z' };
      if (b) {
        // min ≤ max, excl. and incl. apart, and incl ≥ excl: a consistent pair of bounds.
        const minE = b.lo;
        const maxE = b.lo + b.span;
        const minI = minE + b.dLo;
        const maxI = Math.max(maxE + b.dHi, minI);
        if (b.min) t.min_price = b.minIncl ? { excl_vat: minE / 100, incl_vat: minI / 100 } : { excl_vat: minE / 100 };
        if (b.max) t.max_price = b.maxIncl ? { excl_vat: maxE / 100, incl_vat: maxI / 100 } : { excl_vat: maxE / 100 };
      }
      return parseTariff(t);
    });
}

/** The same tariff with every step_size of the given dimensions set to 1 (metered, unrounded). */
function unitSteps(t: OcpiTariff, dims: readonly Dim[] = ['ENERGY', 'TIME', 'PARKING_TIME']): OcpiTariff {
  return { ...t, elements: t.elements.map((e) => ({ ...e, price_components: e.price_components.map((c) => (dims.includes(c.type) ? { ...c, step_size: 1 } : c)) })) };
}
const hasEnergyDeps = (t: OcpiTariff) =>
  t.elements.some((e) => e.restrictions && ['min_kwh', 'max_kwh', 'min_power', 'max_power'].some((k) => (e.restrictions as Record<string, unknown>)[k] !== undefined));
/** The dearest ENERGY price, micro-units per Wh (incl. the dearest VAT), rounded up. */
function dearestWh(t: OcpiTariff): { excl: number; incl: number } {
  let excl = 0;
  let incl = 0;
  for (const e of t.elements) {
    for (const c of e.price_components) {
      if (c.type !== 'ENERGY') continue;
      excl = Math.max(excl, Math.ceil((c.price * 1e6) / 1000));
      incl = Math.max(incl, Math.ceil((c.price * 1e6 * (1 + (c.vat ?? 0) / 100)) / 1000));
    }
  }
  return { excl, incl };
}

// ---------------------------------------------------------------------------------------------
// Sessions

interface Shape {
  kind: Exclude<PeriodKind, 'reservation'>;
  seconds: number;
  energyWh: number;
  currentMa: Range;
  powerW: Range;
}
interface SessionShape {
  start: number;
  periods: Shape[];
}

const at = (iso: string) => Date.parse(iso) / 1000;
/** Starts: a weekday morning, a Saturday evening (across midnight), the nights of both DST changes in 2026, New Year's Eve. */
const ANCHORS = [at('2026-06-10T08:00:00Z'), at('2026-06-13T20:30:00Z'), at('2026-03-28T22:30:00Z'), at('2026-10-24T22:00:00Z'), at('2026-12-31T20:00:00Z')];
const NONE: Range = { min: null, avg: null, max: null };
const sorted3 = fc.tuple(fc.integer({ min: 0, max: 64_000 }), fc.integer({ min: 0, max: 64_000 }), fc.integer({ min: 0, max: 64_000 })).map((v) => v.sort((a, b) => a - b));
const rangeArb = (scale: number) =>
  fc.option(
    fc.tuple(sorted3, fc.constantFrom('all', 'avg', 'minmax')).map(([[min, avg, max], which]): Range => ({
      min: which === 'avg' ? null : min! * scale,
      avg: which === 'minmax' ? null : avg! * scale,
      max: which === 'avg' ? null : max! * scale,
    })),
    { nil: NONE, freq: 3 },
  );

interface SessionOptions {
  /** Every charging period's energy a whole number of Wh per second (0–30 Wh/s, up to 108 kW). */
  integerRate?: boolean;
  maxPeriods?: number;
  /** Durations a multiple of this, energies a multiple of that. */
  secondsUnit?: number;
  energyUnit?: number;
  /** The kind of the last period. */
  last?: Shape['kind'];
}

function sessionArb(o: SessionOptions = {}): fc.Arbitrary<SessionShape> {
  const period = fc
    .record({
      kind: fc.constantFrom<Shape['kind']>('charging', 'charging', 'parking'),
      seconds: o.secondsUnit ? fc.integer({ min: 1, max: 6 }).map((k) => k * o.secondsUnit!) : fc.integer({ min: 1, max: 5400 }),
      rate: fc.integer({ min: 0, max: 30 }),
      jitter: fc.nat(),
      units: fc.integer({ min: 0, max: 40 }),
      currentMa: rangeArb(1),
      powerW: fc.oneof({ weight: 4, arbitrary: fc.constant(NONE) }, { weight: 1, arbitrary: rangeArb(2) }),
    })
    .map(({ kind, seconds, rate, jitter, units, currentMa, powerW }): Shape => {
      const energyWh = kind === 'parking' ? 0 : o.energyUnit ? units * o.energyUnit : o.integerRate ? rate * seconds : rate * seconds + (jitter % seconds);
      return { kind, seconds, energyWh, currentMa: kind === 'parking' ? NONE : currentMa, powerW: kind === 'parking' ? NONE : powerW };
    });
  return fc
    .record({ anchor: fc.constantFrom(...ANCHORS), offset: fc.integer({ min: 0, max: 6 * 3600 }), periods: fc.array(period, { minLength: 1, maxLength: o.maxPeriods ?? 8 }), lastKind: fc.constant(o.last) })
    .map(({ anchor, offset, periods, lastKind }) => {
      const ps = periods.map((p) => ({ ...p }));
      if (lastKind) {
        const last = ps[ps.length - 1]!;
        last.kind = lastKind;
        if (lastKind === 'parking') Object.assign(last, { energyWh: 0, currentMa: NONE, powerW: NONE });
      }
      return { start: anchor + offset, periods: ps };
    });
}

function build(s: SessionShape): PricingSession {
  let t = s.start;
  const periods = s.periods.map((p): PricingPeriod => {
    const out = { start: t, kind: p.kind, energyWh: p.energyWh, exportWh: 0, currentMa: p.currentMa, powerW: p.powerW };
    t += p.seconds;
    return out;
  });
  return { start: s.start, end: t, periods, reservation: null };
}
const price = (t: OcpiTariff, s: SessionShape) => priceSession(compileTariff(t, TZ), build(s));
const DIMS = ['fixed', 'energy', 'time', 'parking', 'reservation'] as const;

/** All of a priced session except its segment count (a split can add a segment without changing any price). */
const prices = (p: PricedSession) => {
  const { segments: _, ...rest } = p;
  return rest;
};

// ---------------------------------------------------------------------------------------------

describe('pricing properties (fast-check, Europe/Paris)', () => {
  it('min ≤ total ≤ max, excl. and incl. VAT apart; total = subtotal when no bound applies; subtotal = Σ dimension costs', () => {
    fc.assert(
      fc.property(tariffArb(), sessionArb(), (t, s) => {
        const p = price(t, s);
        assert.equal(p.subtotal.excl, DIMS.reduce((a, d) => a + p[d].excl, 0));
        const anyVat = DIMS.some((d) => p[d].incl !== null);
        assert.equal(p.subtotal.incl, anyVat ? DIMS.reduce((a, d) => a + (p[d].incl ?? p[d].excl), 0) : null);
        const micro = (v: number | undefined) => (v === undefined ? null : Math.round(v * 1e6));
        const bounds = { excl: [micro(t.min_price?.excl_vat), micro(t.max_price?.excl_vat)], incl: [micro(t.min_price?.incl_vat), micro(t.max_price?.incl_vat)] } as const;
        for (const key of ['excl', 'incl'] as const) {
          const total = p.total[key];
          const sub = p.subtotal[key];
          if (sub === null) {
            assert.equal(total, null);
            continue;
          }
          assert.ok(total !== null);
          let [lo, hi] = bounds[key];
          // A min_price excl. VAT only also makes the total incl. VAT at least the total excl. VAT.
          if (key === 'incl' && lo === null && p.bounded.excl === 'min') lo = p.total.excl;
          if (lo !== null) assert.ok(total >= lo, `${key} ${total} ≥ min ${lo}`);
          if (hi !== null) assert.ok(total <= hi, `${key} ${total} ≤ max ${hi}`);
          const inside = (lo === null || sub >= lo) && (hi === null || sub <= hi);
          if (key === 'incl' && bounds.incl[0] === null && lo !== null && !inside) {
            assert.equal(total, lo);
            assert.equal(p.bounded.incl, 'min');
            continue;
          }
          if (inside) {
            assert.equal(total, sub);
            assert.equal(p.bounded[key], null);
          } else {
            assert.equal(total, sub < lo! ? lo : hi);
            assert.equal(p.bounded[key], sub < (lo ?? -Infinity) ? 'min' : 'max');
          }
        }
      }),
      RUNS,
    );
  });

  it('step_size only adds: billed ≥ metered, less than one step more, and the price is never below the unrounded price', () => {
    fc.assert(
      fc.property(tariffArb({ withDefault: true }), sessionArb(), (t, s) => {
        const p = price(t, s);
        const u = price(unitSteps(t), s);
        const steps = (types: Dim[]) => t.elements.flatMap((e) => e.price_components.filter((c) => types.includes(c.type)).map((c) => Math.max(1, c.step_size)));
        // With an unrestricted fallback every Wh and every second is priced by some element.
        assert.equal(u.energy.billed, p.energy.quantity);
        assert.equal(u.time.billed + u.parking.billed, p.time.quantity + p.parking.quantity);
        const e = p.energy.billed - p.energy.quantity;
        assert.ok(e >= 0 && e < Math.max(...steps(['ENERGY'])), `energy: billed ${p.energy.billed} for ${p.energy.quantity} Wh`);
        if (p.energy.quantity > 0) assert.ok(steps(['ENERGY']).some((k) => p.energy.billed % k === 0), 'billed energy is a whole number of some step');
        const time = p.time.billed + p.parking.billed - (p.time.quantity + p.parking.quantity);
        assert.ok(time >= 0 && time < Math.max(...steps(['TIME', 'PARKING_TIME'])), `time: ${time} s more`);
        assert.ok(p.time.billed >= p.time.quantity && p.parking.billed >= p.parking.quantity);
        for (const d of DIMS) assert.ok(p[d].excl >= u[d].excl && (p[d].incl ?? 0) >= (u[d].incl ?? 0), d);
        assert.ok(p.subtotal.excl >= u.subtotal.excl && p.total.excl >= u.total.excl);
        if (p.total.incl !== null) assert.ok(p.total.incl >= u.total.incl!);
      }),
      RUNS,
    );
  });

  it('step rounding is idempotent: quantities already on the step are billed as metered, at the unrounded price', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...STEPS).chain((energyStep) =>
          fc.constantFrom(...STEPS).chain((timeStep) => fc.tuple(tariffArb({ withDefault: true, energyStep, timeStep }), sessionArb({ secondsUnit: timeStep, energyUnit: energyStep }))),
        ),
        ([t, s]) => {
          const p = price(t, s);
          assert.equal(p.energy.billed, p.energy.quantity);
          assert.equal(p.time.billed, p.time.quantity);
          assert.equal(p.parking.billed, p.parking.quantity);
          assert.deepEqual(prices(p), { ...prices(price(unitSteps(t), s)), timeStep: p.timeStep });
        },
      ),
      RUNS,
    );
  });

  it('more energy in a charging period never costs less, when no restriction depends on energy or power', () => {
    fc.assert(
      fc.property(tariffArb({ energyDeps: false }), sessionArb(), fc.nat(), fc.integer({ min: 1, max: 20_000 }), (t, s, pick, extra) => {
        const charging = s.periods.map((p, i) => (p.kind === 'charging' && p.energyWh > 0 ? i : -1)).filter((i) => i >= 0);
        if (charging.length === 0) return;
        const k = charging[pick % charging.length]!;
        const more: SessionShape = { ...s, periods: s.periods.map((p, i) => (i === k ? { ...p, energyWh: p.energyWh + extra } : p)) };
        const before = price(t, s);
        const after = price(t, more);
        assert.equal(before.segments, after.segments, 'without energy restrictions the segments do not depend on energy');
        if (before.segments === s.periods.length) {
          // Each period one segment: exact, whatever the steps.
          assert.ok(after.total.excl >= before.total.excl, `excl ${before.total.excl} → ${after.total.excl}`);
          if (before.total.incl !== null) assert.ok(after.total.incl! >= before.total.incl, `incl ${before.total.incl} → ${after.total.incl}`);
        }
        // In general, with unit ENERGY steps: a segment of the period can lose at most 1 Wh to the integer spread.
        const u = unitSteps(t, ['ENERGY']);
        const ub = price(u, s);
        const ua = price(u, more);
        const lost = ub.segments - s.periods.length;
        const w = dearestWh(t);
        assert.ok(ua.total.excl >= ub.total.excl - lost * w.excl - 1, `excl ${ub.total.excl} → ${ua.total.excl}`);
        if (ub.total.incl !== null) assert.ok(ua.total.incl! >= ub.total.incl - lost * w.incl - 1, `incl ${ub.total.incl} → ${ua.total.incl}`);
      }),
      RUNS,
    );
  });

  it('a longer final parking period never costs less (unit steps, any restrictions)', () => {
    fc.assert(
      fc.property(tariffArb(), sessionArb({ last: 'parking' }), fc.integer({ min: 1, max: 4 * 3600 }), (t0, s, extra) => {
        const t = unitSteps(t0);
        const longer: SessionShape = { ...s, periods: s.periods.map((p, i) => (i === s.periods.length - 1 ? { ...p, seconds: p.seconds + extra } : p)) };
        const a = price(t, s);
        const b = price(t, longer);
        assert.ok(b.total.excl >= a.total.excl, `excl ${a.total.excl} → ${b.total.excl}`);
        if (a.total.incl !== null) assert.ok(b.total.incl! >= a.total.incl, `incl ${a.total.incl} → ${b.total.incl}`);
        assert.ok(b.parking.excl >= a.parking.excl);
        assert.deepEqual([b.energy, b.time, b.fixed], [a.energy, a.time, a.fixed]);
      }),
      RUNS,
    );
  });

  it('a longer final charging period at the same whole-Wh-per-second rate never costs less (unit steps, any restrictions)', () => {
    fc.assert(
      fc.property(tariffArb(), sessionArb({ integerRate: true, last: 'charging' }), fc.integer({ min: 1, max: 4 * 3600 }), (t0, s, extra) => {
        const t = unitSteps(t0);
        const n = s.periods.length - 1;
        const last = s.periods[n]!;
        const rate = last.energyWh / last.seconds;
        const longer: SessionShape = { ...s, periods: s.periods.map((p, i) => (i === n ? { ...p, seconds: p.seconds + extra, energyWh: p.energyWh + rate * extra } : p)) };
        const a = price(t, s);
        const b = price(t, longer);
        assert.ok(b.total.excl >= a.total.excl, `excl ${a.total.excl} → ${b.total.excl}`);
        if (a.total.incl !== null) assert.ok(b.total.incl! >= a.total.incl, `incl ${a.total.incl} → ${b.total.incl}`);
        for (const d of ['energy', 'time', 'parking'] as const) assert.ok(b[d].excl >= a[d].excl, d);
      }),
      RUNS,
    );
  });

  it('splitting a charging period in two at the same whole-Wh-per-second rate changes no price (any tariff, any steps)', () => {
    fc.assert(
      fc.property(tariffArb(), sessionArb({ integerRate: true }), fc.nat(), fc.nat(), (t, s, pick, cut) => {
        const splittable = s.periods.map((p, i) => (p.kind === 'charging' && p.seconds >= 2 ? i : -1)).filter((i) => i >= 0);
        if (splittable.length === 0) return;
        const k = splittable[pick % splittable.length]!;
        const p = s.periods[k]!;
        const first = 1 + (cut % (p.seconds - 1));
        const rate = p.energyWh / p.seconds;
        const split: SessionShape = {
          ...s,
          periods: [...s.periods.slice(0, k), { ...p, seconds: first, energyWh: rate * first }, { ...p, seconds: p.seconds - first, energyWh: rate * (p.seconds - first) }, ...s.periods.slice(k + 1)],
        };
        const a = price(t, s);
        const b = price(t, split);
        assert.deepEqual(prices(b), prices(a));
        assert.ok(b.segments === a.segments || b.segments === a.segments + 1);
      }),
      RUNS,
    );
  });

  it('splitting a charging period at any energy changes the price by at most 1 Wh per segment at the dearest ENERGY price (no energy/power restrictions, unit ENERGY steps)', () => {
    fc.assert(
      fc.property(tariffArb({ energyDeps: false }), sessionArb(), fc.nat(), fc.nat(), (t0, s, pick, cut) => {
        const t = unitSteps(t0, ['ENERGY']);
        const splittable = s.periods.map((p, i) => (p.kind === 'charging' && p.seconds >= 2 ? i : -1)).filter((i) => i >= 0);
        if (splittable.length === 0) return;
        const k = splittable[pick % splittable.length]!;
        const p = s.periods[k]!;
        const first = 1 + (cut % (p.seconds - 1));
        // The energy price.ts itself assigns to the first part (uniform spread, floored to the Wh).
        const e1 = Math.floor((p.energyWh * first) / p.seconds);
        const split: SessionShape = { ...s, periods: [...s.periods.slice(0, k), { ...p, seconds: first, energyWh: e1 }, { ...p, seconds: p.seconds - first, energyWh: p.energyWh - e1 }, ...s.periods.slice(k + 1)] };
        const a = price(t, s);
        const b = price(t, split);
        assert.equal(b.importWh, a.importWh);
        // Only the spread of the energy over the segments moves (billed energy too: a Wh can move into or out of a free segment).
        assert.deepEqual([b.time, b.parking, b.fixed, b.energy.quantity], [a.time, a.parking, a.fixed, a.energy.quantity]);
        const w = dearestWh(t);
        const slack = b.segments;
        assert.ok(Math.abs(b.energy.excl - a.energy.excl) <= slack * w.excl + 1, `energy ${a.energy.excl} vs ${b.energy.excl}`);
        assert.ok(Math.abs(b.subtotal.excl - a.subtotal.excl) <= slack * w.excl + 1);
      }),
      RUNS,
    );
  });

  it('pricing is deterministic, and VAT never lowers a price (excl ≤ incl)', () => {
    fc.assert(
      fc.property(tariffArb(), sessionArb(), (t, s) => {
        const a = price(t, s);
        const b = priceSession(compileTariff(structuredClone(t), TZ), build(structuredClone(s)));
        assert.deepEqual(b, a);
        for (const d of DIMS) if (a[d].incl !== null) assert.ok(a[d].incl! >= a[d].excl, d);
        if (a.subtotal.incl !== null) assert.ok(a.subtotal.incl >= a.subtotal.excl);
        // With consistent bounds (each bound that is given has its incl. VAT amount, ≥ its excl.): also the total.
        const consistent = [t.min_price, t.max_price].every((b) => b === undefined || b.incl_vat !== undefined);
        if (a.total.incl !== null && consistent) assert.ok(a.total.incl >= a.total.excl, `${a.total.excl} ≤ ${a.total.incl}`);
      }),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Fixed examples

const T = (elements: unknown[], extra: object = {}) => parseTariff({ country_code: 'FR', party_id: 'OLC', id: 'T', currency: 'EUR', elements, last_updated: '2026-01-01T00:00:00Z', ...extra });
const period = (start: string, kind: PeriodKind, energyWh = 0, powerW: Range = NONE): PricingPeriod => ({ start: at(start), kind, energyWh, exportWh: 0, currentMa: NONE, powerW });
const session = (periods: PricingPeriod[], end: string, reservation: PricingSession['reservation'] = null): PricingSession => ({ start: periods[0]!.start, end: at(end), periods, reservation });
const priced = (t: OcpiTariff, s: PricingSession) => priceSession(compileTariff(t, TZ), s);
const pc = (type: Dim, p: number, step = 1, v?: number) => strip({ type, price: p, step_size: step, vat: v });

describe('counterexamples: under OCPI 2.2.1 the price is not monotone in energy or time', () => {
  it('max_power: 11 kWh in an hour costs less than 10 kWh (the element switches at 11 kW)', () => {
    const t = T([{ price_components: [pc('ENERGY', 0.5)], restrictions: { max_power: 11 } }, { price_components: [pc('ENERGY', 0.2)] }]);
    const a = priced(t, session([period('2026-06-10T08:00:00Z', 'charging', 10_000)], '2026-06-10T09:00:00Z'));
    const b = priced(t, session([period('2026-06-10T08:00:00Z', 'charging', 11_000)], '2026-06-10T09:00:00Z'));
    assert.deepEqual([a.total.excl, b.total.excl], [5_000_000, 2_200_000]);
  });

  it('step_size of the last element: 600 Wh cost less than 400 Wh (1000 Wh steps below 0.5 kWh, 1 Wh steps above, same price)', () => {
    const t = T([{ price_components: [pc('ENERGY', 1, 1000)], restrictions: { max_kwh: 0.5 } }, { price_components: [pc('ENERGY', 1, 1)] }]);
    const a = priced(t, session([period('2026-06-10T08:00:00Z', 'charging', 400)], '2026-06-10T08:10:00Z'));
    const b = priced(t, session([period('2026-06-10T08:00:00Z', 'charging', 600)], '2026-06-10T08:10:00Z'));
    assert.deepEqual([a.total.excl, a.energy.billed, b.total.excl, b.energy.billed], [1_000_000, 1000, 600_000, 600]);
  });

  it('max_kwh with a time window: more energy before the window makes the energy in it cheaper', () => {
    // 5.00/kWh for the first 10 kWh of the session, but only between 18:00 and 20:00; 0.10 otherwise.
    const t = T([{ price_components: [pc('ENERGY', 5)], restrictions: { max_kwh: 10, start_time: '18:00', end_time: '20:00' } }, { price_components: [pc('ENERGY', 0.1)] }]);
    const s = (first: number) => session([period('2026-06-10T15:00:00Z', 'charging', first), period('2026-06-10T16:00:00Z', 'charging', 5000)], '2026-06-10T17:00:00Z');
    const a = priced(t, s(9000));
    const b = priced(t, s(10_000));
    assert.deepEqual([a.total.excl, b.total.excl], [900_000 + 5_000_000 + 400_000, 1_000_000 + 500_000]);
  });

  it('a longer parking period can cost less: it ends in an element with a smaller step', () => {
    const t = T([{ price_components: [pc('PARKING_TIME', 1, 3600)], restrictions: { end_time: '17:00' } }, { price_components: [pc('PARKING_TIME', 1, 1)] }]);
    const a = priced(t, session([period('2026-06-10T14:58:00Z', 'parking')], '2026-06-10T14:59:00Z'));
    const b = priced(t, session([period('2026-06-10T14:58:00Z', 'parking')], '2026-06-10T15:00:30Z'));
    assert.deepEqual([a.parking.billed, b.parking.billed], [3600, 150]);
    assert.ok(b.total.excl < a.total.excl);
  });

  it('a longer charging period with the same energy can cost less: the energy spreads into cheaper hours', () => {
    const t = T([{ price_components: [pc('ENERGY', 0.5)], restrictions: { start_time: '17:00', end_time: '18:00' } }, { price_components: [pc('ENERGY', 0.1)] }]);
    const a = priced(t, session([period('2026-06-10T15:00:00Z', 'charging', 10_000)], '2026-06-10T16:00:00Z'));
    const b = priced(t, session([period('2026-06-10T15:00:00Z', 'charging', 10_000)], '2026-06-10T17:00:00Z'));
    assert.deepEqual([a.total.excl, b.total.excl], [5_000_000, 3_000_000]);
  });

  it('the integer-Wh spread: 1 Wh more in a period can move a Wh out of a dear segment (the 1 Wh slack of the properties)', () => {
    // A 10 s period cut at 5 s and 6 s by max_duration; the 1 Wh in [5 s, 6 s) is the dear one.
    const t = T([
      { price_components: [pc('ENERGY', 0)], restrictions: { max_duration: 5 } },
      { price_components: [pc('ENERGY', 5)], restrictions: { max_duration: 6 } },
      { price_components: [pc('ENERGY', 0)] },
    ]);
    const s = (wh: number) => session([period('2026-06-10T08:00:00Z', 'charging', wh)], '2026-06-10T08:00:10Z');
    // 5 Wh over 10 s: floor(2.5)=2, floor(3)=3 → 1 Wh in [5 s, 6 s); 6 Wh: floor(3)=3, floor(3.6)=3 → 0 Wh there.
    assert.deepEqual([priced(t, s(5)).energy.excl, priced(t, s(6)).energy.excl], [5000, 0]);
  });
});

describe('divergences from OCPI 2.2.1 found in review of price.ts, fixed', () => {
  const window = (from: string, to: string) => T([{ price_components: [pc('TIME', 1)], restrictions: { start_time: from, end_time: to } }, { price_components: [pc('FLAT', 0)] }]);

  it('DST spring-forward: 01:00 CET–04:00 CEST on 2026-03-29 under TIME 1.00/h in 02:30–04:00 bills the hour 03:00–04:00', () => {
    const p = priced(window('02:30', '04:00'), session([period('2026-03-29T00:00:00Z', 'charging')], '2026-03-29T02:00:00Z'));
    assert.equal(p.total.excl, 1_000_000); // price.ts: 500000 (window cut at 03:30 CEST, 03:00–03:30 judged at 01:00 local)
  });

  it('DST fall-back: 01:00 CEST–03:00 CET on 2026-10-25 under TIME 1.00/h in 01:00–02:30 bills 2 h (02:00–02:30 happens twice)', () => {
    const p = priced(window('01:00', '02:30'), session([period('2026-10-24T23:00:00Z', 'charging')], '2026-10-25T02:00:00Z'));
    assert.equal(p.total.excl, 2_000_000); // price.ts: 1500000 (the second 02:00–02:30 is judged at 02:30 CEST)
  });

  it('an expired reservation is timed at the RESERVATION_EXPIRES price even when the RESERVATION element comes first', () => {
    const t = T([
      { price_components: [pc('TIME', 3)], restrictions: { reservation: 'RESERVATION' } },
      { price_components: [pc('TIME', 6)], restrictions: { reservation: 'RESERVATION_EXPIRES' } },
      { price_components: [pc('ENERGY', 0.25)] },
    ]);
    const p = priced(t, session([period('2026-06-10T08:00:00Z', 'reservation')], '2026-06-10T09:00:00Z', 'RESERVATION_EXPIRES'));
    assert.equal(p.total.excl, 6_000_000); // price.ts: 3000000
  });

  it('max_kwh is exact to the Wh: "first kWh free" bills 28999 of 29999 Wh charged in 10 minutes', () => {
    const t = T([{ price_components: [pc('ENERGY', 0)], restrictions: { max_kwh: 1 } }, { price_components: [pc('ENERGY', 0.2)] }]);
    const p = priced(t, session([period('2026-06-10T08:00:00Z', 'charging', 29_999)], '2026-06-10T08:10:00Z'));
    assert.equal(p.total.excl, 5_799_800); // price.ts: 5790000 (1049 Wh free: the cut falls on the 21st second, 50 Wh/s)
  });

  it('min_price without incl_vat still leaves total incl ≥ total excl', () => {
    const t = T([{ price_components: [pc('ENERGY', 0.25, 1, 10)] }], { min_price: { excl_vat: 0.5 } });
    const p = priced(t, session([period('2026-06-10T08:00:00Z', 'charging', 1000)], '2026-06-10T08:10:00Z'));
    assert.ok(p.total.incl! >= p.total.excl, `total ${JSON.stringify(p.total)}`); // price.ts: excl 500000, incl 275000
  });

  it('a tariff with min_price > max_price is refused (price.ts: the total falls from 5.00 to 3.00 as 4999 Wh become 5000)', () => {
    const t = T([{ price_components: [pc('ENERGY', 1)] }], { min_price: { excl_vat: 5 }, max_price: { excl_vat: 3 } });
    assert.throws(() => compileTariff(t, TZ));
  });
});
