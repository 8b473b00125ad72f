import { z } from 'zod';
import { OpenlecError } from '../errors.ts';
import { MECHANISMS } from '../market/clear-book.ts';
import { PATH_CLASSES } from '../market/network.ts';
import { tariff as ocpiTariff } from '../charging/ocpi.ts';

/**
 * A scenario: where and when, prices and fees, the feeder tree, the market, and the
 * members with their assets. Groups (`count` > 1) expand into households that differ by
 * a seeded ±20 % on annual consumption and PV size. Documented in docs/scenarios.md.
 */
const price = z.number().int().min(0).max(1_000_000_000);
const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM');
const feeder = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/),
  parent: z.string().nullable().default(null),
  importLimitW: z.number().int().min(0).nullable().default(null),
  exportLimitW: z.number().int().min(0).nullable().default(null),
});
const member = z.strictObject({
  name: z.string().regex(/^[a-z0-9-]{1,40}$/, 'must be 1-40 lowercase letters, digits or "-"'),
  count: z.number().int().min(1).max(100_000).default(1),
  feeder: z.string().nullable().default(null),
  annualKwh: z.number().min(0).max(1_000_000).default(3_500),
  pv: z.strictObject({ kWp: z.number().min(0).max(100_000), tilt: z.number().min(0).max(90).default(30), azimuth: z.number().min(0).max(360).default(180) }).optional(),
  standing: z.strictObject({ buyMaxMicroPerKwh: price.optional(), sellMinMicroPerKwh: price.optional() }).optional(),
  battery: z.strictObject({
    capacityKwh: z.number().positive().max(100_000),
    powerKw: z.number().positive().max(100_000),
    efficiency: z.number().min(0.5).max(1).default(0.9),
    minSocPct: z.number().min(0).max(100).default(10),
    strategy: z.enum(['self-consumption', 'community-price']).default('self-consumption'),
  }).optional(),
  ev: z.strictObject({
    arrival: hhmm, departure: hhmm,
    kwhPerDay: z.number().min(0).max(200),
    chargerKw: z.number().positive().max(350).default(11),
    smart: z.boolean().default(false),
  }).optional(),
  /** Real series instead of H0 and the PV model (docs/scenarios.md); the path is relative to the scenario file. */
  data: z.strictObject({
    format: z.enum(['citylearn', 'opsd']),
    file: z.string().min(1),
    pvKwp: z.number().min(0).max(100_000).optional(),
    household: z.string().optional(),
  }).optional(),
});

export const scenarioSchema = z.strictObject({
  name: z.string().min(1).max(100),
  timeZone: z.string().default('Europe/Zurich'),
  latitude: z.number().min(-90).max(90),
  longitude: z.number().min(-180).max(180),
  intervalMinutes: z.union([z.literal(15), z.literal(30), z.literal(60)]).default(30),
  start: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD'),
  days: z.number().int().min(1).max(366).default(7),
  currency: z.string().regex(/^[A-Z]{3}$/).default('EUR'),
  prices: z.strictObject({ retailMicroPerKwh: price, feedInMicroPerKwh: price }),
  fees: z.strictObject(Object.fromEntries(PATH_CLASSES.map((c) => [c, price])) as Record<(typeof PATH_CLASSES)[number], typeof price>).optional(),
  /** Allocation key for the monthly collective self-consumption run, besides the market (static, redistribute and spain with equal shares). */
  allocationKey: z.enum(['prorata', 'static', 'redistribute', 'spain']).optional(),
  market: z.strictObject({ mechanism: z.enum(MECHANISMS).default('uniform'), kPpm: z.number().int().min(0).max(1_000_000).default(500_000) }).default({ mechanism: 'uniform', kPpm: 500_000 }),
  /** Mean share of clear sky, 0..1; each day draws its cloud factor around it. */
  clearness: z.number().min(0).max(1).default(0.6),
  feeders: z.array(feeder).default([]),
  members: z.array(member).min(1),
  /**
   * Certificates of origin (src/certificates): a device per home with PV, daily issuance,
   * monthly settlement. On by default; `false` turns them off; an object sets the share
   * of members who opt in to automatic claims (0.5 by default), the bidding zone (from
   * the time zone by default) and the grid area (from the name) of the devices.
   */
  certificates: z.union([z.boolean(), z.strictObject({
    autoClaimShare: z.number().min(0).max(1).optional(),
    zone: z.string().regex(/^[A-Z0-9][A-Z0-9-]{1,15}$/, 'must be a bidding-zone code (EIC or short)').optional(),
    gridArea: z.string().min(1).max(64).optional(),
  })]).default(true),
  /**
   * DSO flexibility (src/flex, src/sim/flex.ts): off by default; `true` turns it on with
   * the defaults, an object sets its knobs. Each day the DSO forecasts every feeder with
   * an import limit, asks for flexibility where the limit would break, and buys it from
   * battery owners and the EV aggregator; each month is settled on metered data.
   */
  flexibility: z.union([z.boolean(), z.strictObject({
    enabled: z.boolean().default(true),
    /** Share of EV owners who delegate their charger to the aggregator (the others do not offer). */
    aggregatorShare: z.number().min(0).max(1).default(1),
    /** What the aggregator asks per kWh of deferred EV charging, and battery owners per kWh discharged. */
    evPriceMicroPerKwh: price.default(100_000),
    batteryPriceMicroPerKwh: price.default(150_000),
    /** The DSO's most per kWh, and its one-sided penalty per kWh of deficiency. */
    maxPriceMicroPerKwh: price.default(300_000),
    penaltyMicroPerKwh: price.default(200_000),
    /** The baseline the offers declare (src/flex/baseline.ts); nomination declares the simulator's forecast of the meter. */
    baseline: z.discriminatedUnion('method', [
      z.strictObject({ method: z.literal('nomination') }),
      z.strictObject({ method: z.literal('mbma') }),
      z.strictObject({ method: z.literal('x-of-y'), x: z.number().int().min(1).max(30), y: z.number().int().min(1).max(30), pick: z.enum(['high', 'mid']).default('high'), adjustIntervals: z.number().int().min(0).max(8).default(0) }),
      z.strictObject({ method: z.literal('rolling'), days: z.number().int().min(1).max(30) }),
    ]).default({ method: 'nomination' }),
    /** Hours after the congested span that the request's forecast (and so the EVs' rebound) covers, within the day. */
    reboundHours: z.number().int().min(1).max(24).default(6),
    /** Share of the import limit the DSO keeps free: it asks for the excess plus this margin, and the rebound stays below the limit by it. */
    marginPct: z.number().min(0).max(50).default(3),
  })]).default(false),
  /**
   * EV charging (src/charging, src/sim/charging.ts): off by default; `true` turns it on with
   * the defaults. Community chargers behind one member meter of the CPO, sessions by members
   * (through the community's own eMSP) and by roaming drivers (through their eMSPs), priced
   * by an OCPI tariff, written as CDRs and settled per month. Documented in docs/scenarios.md.
   */
  charging: z.union([z.boolean(), z.strictObject({
    enabled: z.boolean().default(true),
    chargers: z.number().int().min(1).max(1_000).default(4),
    powerKw: z.number().positive().max(350).default(22),
    feeder: z.string().nullable().default(null),
    memberSessionsPerDay: z.number().min(0).max(100_000).default(4),
    roamingSessionsPerDay: z.number().min(0).max(100_000).default(8),
    arrival: z.strictObject({ from: hhmm, to: hhmm }).default({ from: '07:00', to: '21:00' }),
    kwh: z.strictObject({ min: z.number().min(0.1).max(500), max: z.number().min(0.1).max(500) }).default({ min: 5, max: 40 }),
    dwellMinutes: z.strictObject({ min: z.number().int().min(5).max(2_880), max: z.number().int().min(5).max(2_880) }).default({ min: 30, max: 240 }),
    cpo: z.strictObject({ country_code: z.string().regex(/^[A-Z]{2}$/), party_id: z.string().regex(/^[A-Z0-9]{3}$/), name: z.string().min(1).max(100) }).optional(),
    memberEmsp: z.strictObject({ country_code: z.string().regex(/^[A-Z]{2}$/), party_id: z.string().regex(/^[A-Z0-9]{3}$/), name: z.string().min(1).max(100) }).optional(),
    emsps: z.array(z.strictObject({ country_code: z.string().regex(/^[A-Z]{2}$/), party_id: z.string().regex(/^[A-Z0-9]{3}$/), name: z.string().min(1).max(100), share: z.number().positive().max(1_000).default(1) })).min(1).max(50).optional(),
    /** An OCPI 2.2.1 Tariff (its country_code and party_id are the CPO's, its currency the scenario's); a day/night energy tariff by default. */
    tariff: ocpiTariff.optional(),
  })]).default(false),
});
export type Scenario = z.infer<typeof scenarioSchema>;

/** parseScenario validates a parsed file and names the first bad field. */
export function parseScenario(value: unknown, source = 'scenario'): Scenario {
  const r = scenarioSchema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const field = issue.path.map(String).join('.') || '(root)';
    throw new OpenlecError('E_SCENARIO', `${source}: ${field}: ${issue.message}`, { field });
  }
  const s = r.data;
  const ids = new Set(s.feeders.map((f) => f.id));
  s.feeders.forEach((f, k) => {
    if (f.parent !== null && !ids.has(f.parent)) throw new OpenlecError('E_SCENARIO', `${source}: feeders.${k}.parent: "${f.parent}" is not a feeder of the scenario`, { field: `feeders.${k}.parent` });
  });
  const f = s.flexibility;
  if (typeof f === 'object' && f.baseline.method === 'x-of-y' && f.baseline.x > f.baseline.y) {
    throw new OpenlecError('E_SCENARIO', `${source}: flexibility.baseline.x: x = ${f.baseline.x} must not exceed y = ${f.baseline.y}`, { field: 'flexibility.baseline.x' });
  }
  checkCharging(s, source, ids);
  s.members.forEach((m, k) => {
    if (m.data && m.count !== 1) throw new OpenlecError('E_SCENARIO', `${source}: members.${k}.count: a member with a data file stands for one household`, { field: `members.${k}.count` });
    if (m.data && m.pv) throw new OpenlecError('E_SCENARIO', `${source}: members.${k}.pv: a member with a data file takes its PV from the file (citylearn: give data.pvKwp)`, { field: `members.${k}.pv` });
    if (m.feeder !== null && !ids.has(m.feeder)) throw new OpenlecError('E_SCENARIO', `${source}: members.${k}.feeder: "${m.feeder}" is not a feeder of the scenario`, { field: `members.${k}.feeder` });
  });
  return s;
}

/** checkCharging: the charging part's feeder exists, its ranges are ordered, its tariff is the CPO's and in the scenario's currency. */
function checkCharging(s: Scenario, source: string, feeders: ReadonlySet<string>): void {
  const c = s.charging;
  if (typeof c !== 'object') return;
  const bad = (field: string, message: string) => new OpenlecError('E_SCENARIO', `${source}: charging.${field}: ${message}`, { field: `charging.${field}` });
  if (c.feeder !== null && !feeders.has(c.feeder)) throw bad('feeder', `"${c.feeder}" is not a feeder of the scenario`);
  if (c.kwh.min > c.kwh.max) throw bad('kwh.min', `${c.kwh.min} exceeds kwh.max ${c.kwh.max}`);
  if (c.dwellMinutes.min > c.dwellMinutes.max) throw bad('dwellMinutes.min', `${c.dwellMinutes.min} exceeds dwellMinutes.max ${c.dwellMinutes.max}`);
  if (c.arrival.from > c.arrival.to) throw bad('arrival.from', `${c.arrival.from} is after arrival.to ${c.arrival.to}`);
  if (c.tariff && c.tariff.currency !== s.currency) throw bad('tariff.currency', `${c.tariff.currency} is not the scenario's currency ${s.currency}`);
  if (c.tariff && c.cpo && (c.tariff.country_code !== c.cpo.country_code || c.tariff.party_id !== c.cpo.party_id)) throw bad('tariff.party_id', `the tariff must be the CPO's (${c.cpo.country_code}*${c.cpo.party_id})`);
}

/** demo: about 40 households and a shared PV plant on two feeders, the scale of the Walenstadt pilot. */
export const DEMO_SCENARIO = {
  name: 'demo', timeZone: 'Europe/Zurich', latitude: 47.12, longitude: 9.31, start: '2026-06-01', days: 7,
  currency: 'CHF', prices: { retailMicroPerKwh: 220_000, feedInMicroPerKwh: 80_000 },
  fees: { local: 0, feeder: 20_000, substation: 40_000, beyond: 90_000 },
  feeders: [{ id: 'substation' }, { id: 'feeder-east', parent: 'substation' }, { id: 'feeder-west', parent: 'substation', exportLimitW: 60_000 }],
  members: [
    { name: 'household-east', count: 14, feeder: 'feeder-east', annualKwh: 4_000 },
    { name: 'ev-east', count: 3, feeder: 'feeder-east', annualKwh: 4_000, ev: { arrival: '17:30', departure: '07:30', kwhPerDay: 8, chargerKw: 11, smart: true } },
    { name: 'prosumer-east', count: 5, feeder: 'feeder-east', annualKwh: 4_500, pv: { kWp: 8 }, standing: { sellMinMicroPerKwh: 100_000 } },
    { name: 'household-west', count: 13, feeder: 'feeder-west', annualKwh: 3_200, standing: { buyMaxMicroPerKwh: 180_000 } },
    { name: 'prosumer-west', count: 3, feeder: 'feeder-west', annualKwh: 5_000, pv: { kWp: 10, azimuth: 200 }, battery: { capacityKwh: 10, powerKw: 5, strategy: 'self-consumption' } },
    { name: 'school-pv', feeder: 'feeder-west', annualKwh: 12_000, pv: { kWp: 60, tilt: 15 } },
  ],
};

const RETAIL = { retailMicroPerKwh: 300_000, feedInMicroPerKwh: 80_000 };
const FEES = { local: 10_000, feeder: 30_000, substation: 50_000, beyond: 100_000 };
const EV_COMMUTER = { arrival: '18:00', departure: '07:00', kwhPerDay: 9, chargerKw: 11, smart: true };
const BATTERY = { capacityKwh: 10, powerKw: 5, strategy: 'community-price' };

/**
 * village: 500 members on four feeders; a 300 kWp solar park sits on a feeder whose
 * export limit (10 kW of trades out of the feeder) binds around noon, so trades must respect it.
 */
export const VILLAGE_SCENARIO = {
  name: 'village', timeZone: 'Europe/Berlin', latitude: 48.4, longitude: 10.0, start: '2026-06-01', days: 7,
  currency: 'EUR', prices: RETAIL, fees: FEES,
  feeders: [
    { id: 'substation' },
    { id: 'north', parent: 'substation' }, { id: 'south', parent: 'substation' }, { id: 'east', parent: 'substation' },
    { id: 'solar', parent: 'substation', exportLimitW: 10_000 },
  ],
  members: [
    { name: 'north-household', count: 100, feeder: 'north', annualKwh: 3_500 },
    { name: 'north-prosumer', count: 30, feeder: 'north', annualKwh: 4_500, pv: { kWp: 6 } },
    { name: 'north-battery', count: 10, feeder: 'north', annualKwh: 4_500, pv: { kWp: 8 }, battery: { ...BATTERY, strategy: 'self-consumption' } },
    { name: 'north-ev', count: 10, feeder: 'north', annualKwh: 3_500, ev: { ...EV_COMMUTER, smart: false } },
    { name: 'south-household', count: 110, feeder: 'south', annualKwh: 3_200 },
    { name: 'south-prosumer', count: 25, feeder: 'south', annualKwh: 4_000, pv: { kWp: 7, azimuth: 160 } },
    { name: 'south-ev', count: 15, feeder: 'south', annualKwh: 3_500, ev: EV_COMMUTER },
    { name: 'east-household', count: 90, feeder: 'east', annualKwh: 3_000, standing: { buyMaxMicroPerKwh: 250_000 } },
    { name: 'east-battery', count: 20, feeder: 'east', annualKwh: 4_000, pv: { kWp: 9, azimuth: 220 }, battery: BATTERY },
    { name: 'east-ev-home', count: 10, feeder: 'east', annualKwh: 3_500, pv: { kWp: 5 }, ev: { arrival: '08:00', departure: '07:00', kwhPerDay: 7, chargerKw: 7.4, smart: true } },
    { name: 'solar-household', count: 79, feeder: 'solar', annualKwh: 3_500 },
    { name: 'solar-park', feeder: 'solar', annualKwh: 1_000, pv: { kWp: 300, tilt: 25 }, standing: { sellMinMicroPerKwh: 90_000 } },
  ],
};

/** city: 10,000 members on 20 feeders of 500 (households, prosumers, batteries, EVs); every fifth feeder has an export limit. */
export const CITY_SCENARIO = {
  name: 'city', timeZone: 'Europe/Paris', latitude: 45.76, longitude: 4.84, start: '2026-06-01', days: 2,
  currency: 'EUR', prices: RETAIL, fees: FEES,
  feeders: [{ id: 'substation' }, ...Array.from({ length: 20 }, (_, i) => ({ id: `feeder-${String(i + 1).padStart(2, '0')}`, parent: 'substation', ...(i % 5 === 0 ? { exportLimitW: 150_000 } : {}) }))],
  members: Array.from({ length: 20 }, (_, i) => {
    const feeder = `feeder-${String(i + 1).padStart(2, '0')}`;
    return [
      { name: `${feeder}-household`, count: 380, feeder, annualKwh: 2_800 },
      { name: `${feeder}-prosumer`, count: 80, feeder, annualKwh: 4_000, pv: { kWp: 6 } },
      { name: `${feeder}-battery`, count: 20, feeder, annualKwh: 4_000, pv: { kWp: 8 }, battery: BATTERY },
      { name: `${feeder}-ev`, count: 20, feeder, annualKwh: 3_000, ev: EV_COMMUTER },
    ];
  }).flat(),
};

/**
 * ev-congestion: a street of 40 households in a Berlin winter week on one feeder whose
 * 60 kW import limit holds for the households alone but not when the commuters' EVs start
 * charging at full power as they come home: 16 EVs (arrivals from 17:00 to 18:30), 6 homes
 * with PV and a 10 kWh battery. Flexibility is on: the aggregator defers the EVs past the
 * evening peak, the batteries discharge into it (`--flexibility off,on` compares).
 */
export const EV_CONGESTION_SCENARIO = {
  name: 'ev-congestion', timeZone: 'Europe/Berlin', latitude: 52.52, longitude: 13.4, start: '2026-01-12', days: 7,
  currency: 'EUR', prices: RETAIL, fees: FEES, clearness: 0.6,
  feeders: [{ id: 'substation' }, { id: 'street', parent: 'substation', importLimitW: 60_000 }],
  members: [
    { name: 'household', count: 18, feeder: 'street', annualKwh: 3_500 },
    { name: 'solar-battery', count: 6, feeder: 'street', annualKwh: 3_000, pv: { kWp: 12 }, battery: { capacityKwh: 10, powerKw: 5, strategy: 'self-consumption' } },
    ...(['17:00', '17:30', '18:00', '18:30'] as const).map((arrival, i) => ({
      name: `ev-${arrival.replace(':', '')}`, count: 4, feeder: 'street', annualKwh: 3_500, ev: { arrival, departure: '07:00', kwhPerDay: 8, chargerKw: i % 2 === 0 ? 11 : 7.4, smart: false },
    })),
  ],
  flexibility: { enabled: true, evPriceMicroPerKwh: 100_000, batteryPriceMicroPerKwh: 80_000 },
};

/**
 * ev-chargers: a village square near Lyon in a June week: 30 households, 10 rooftop
 * prosumers and a 60 kWp school roof on one feeder, and 6 community chargers of 22 kW
 * behind the CPO's member meter. Each day about 5 sessions by members (through the
 * community's own eMSP) and 12 by roaming drivers of two eMSPs, arriving from 08:00 to
 * 20:00 for 8 to 45 kWh and 45 minutes to 5 hours; the default day/night tariff.
 */
export const EV_CHARGERS_SCENARIO = {
  name: 'ev-chargers', timeZone: 'Europe/Paris', latitude: 45.76, longitude: 4.84, start: '2026-06-08', days: 7,
  currency: 'EUR', prices: RETAIL, fees: FEES, clearness: 0.7,
  feeders: [{ id: 'substation' }, { id: 'square', parent: 'substation' }],
  members: [
    { name: 'household', count: 30, feeder: 'square', annualKwh: 3_500 },
    { name: 'prosumer', count: 10, feeder: 'square', annualKwh: 4_000, pv: { kWp: 9 }, standing: { sellMinMicroPerKwh: 90_000 } },
    { name: 'school-pv', feeder: 'square', annualKwh: 15_000, pv: { kWp: 60, tilt: 15 } },
  ],
  charging: {
    chargers: 6, powerKw: 22, feeder: 'square', memberSessionsPerDay: 5, roamingSessionsPerDay: 12,
    arrival: { from: '08:00', to: '20:00' }, kwh: { min: 8, max: 45 }, dwellMinutes: { min: 45, max: 300 },
  },
};
