import { z } from 'zod';
import { OpenlecError } from '../errors.ts';
import { MECHANISMS } from '../market/clear-book.ts';
import { PATH_CLASSES } from '../market/network.ts';

/**
 * A scenario: where and when, prices and fees, the feeder tree, the market, and the
 * members with their assets. Groups (`count` > 1) expand into households that differ by
 * a seeded ±20 % on annual consumption and PV size. Documented in docs/scenarios.md.
 */
const price = z.number().int().min(0).max(1_000_000_000);
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
  market: z.strictObject({ mechanism: z.enum(MECHANISMS).default('uniform'), kPpm: z.number().int().min(0).max(1_000_000).default(500_000) }).default({ mechanism: 'uniform', kPpm: 500_000 }),
  /** Mean share of clear sky, 0..1; each day draws its cloud factor around it. */
  clearness: z.number().min(0).max(1).default(0.6),
  feeders: z.array(feeder).default([]),
  members: z.array(member).min(1),
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
  s.members.forEach((m, k) => {
    if (m.feeder !== null && !ids.has(m.feeder)) throw new OpenlecError('E_SCENARIO', `${source}: members.${k}.feeder: "${m.feeder}" is not a feeder of the scenario`, { field: `members.${k}.feeder` });
  });
  return s;
}

/** demo: about 40 households and a shared PV plant on two feeders, the scale of the Walenstadt pilot. */
export const DEMO_SCENARIO = {
  name: 'demo', timeZone: 'Europe/Zurich', latitude: 47.12, longitude: 9.31, start: '2026-06-01', days: 7,
  currency: 'CHF', prices: { retailMicroPerKwh: 220_000, feedInMicroPerKwh: 80_000 },
  fees: { local: 0, feeder: 20_000, substation: 40_000, beyond: 90_000 },
  feeders: [{ id: 'substation' }, { id: 'feeder-east', parent: 'substation' }, { id: 'feeder-west', parent: 'substation', exportLimitW: 60_000 }],
  members: [
    { name: 'household-east', count: 17, feeder: 'feeder-east', annualKwh: 4_000 },
    { name: 'prosumer-east', count: 5, feeder: 'feeder-east', annualKwh: 4_500, pv: { kWp: 8 }, standing: { sellMinMicroPerKwh: 100_000 } },
    { name: 'household-west', count: 13, feeder: 'feeder-west', annualKwh: 3_200, standing: { buyMaxMicroPerKwh: 180_000 } },
    { name: 'prosumer-west', count: 3, feeder: 'feeder-west', annualKwh: 5_000, pv: { kWp: 10, azimuth: 200 } },
    { name: 'school-pv', feeder: 'feeder-west', annualKwh: 12_000, pv: { kWp: 60, tilt: 15 } },
  ],
};
