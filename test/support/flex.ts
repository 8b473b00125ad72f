import { Signer } from '../../src/client.ts';
import type { SqliteLedger, SubmitInput } from '../../src/store/sqlite-ledger.ts';
import { COMMUNITY, seededKey, tempDb } from './community.ts';
import { SqliteLedger as Ledger } from '../../src/store/sqlite-ledger.ts';

/**
 * Fixtures of the flexibility tests: Europe/Paris, 30-minute intervals; feeder-a (import
 * limit 20 kW) holds alice (battery 5 kW / 10 kWh) and bob (EV charger 7 kW delegated to
 * the aggregator) dave (water heater 2 kW) and erin (no asset yet); feeder-b (import limit 8 kW) holds carol (heat pump 3 kW). Every
 * signer reads one clock the test moves (`at`).
 */
export const ALICE = '30001111111111';
export const BOB = '30002222222222';
export const CAROL = '30003333333333';
export const DAVE = '30004444444444';
export const ERIN = '30005555555555';
export const EVENT_DATE = '2026-03-10'; // a Tuesday
/** 18:00 local on the event date (UTC+1 in March before DST). */
export const EVENT_START = '2026-03-10T17:00:00.000Z';

export async function ok(ledger: SqliteLedger, tx: SubmitInput): Promise<number> {
  const r = await ledger.submit(tx);
  if (!r.ok) throw r.error;
  return r.entry;
}

export async function refused(ledger: SqliteLedger, tx: SubmitInput): Promise<{ code: string; message: string; field?: string }> {
  const r = await ledger.submit(tx);
  if (r.ok) throw new Error('the transaction was accepted');
  return r.error as unknown as { code: string; message: string; field?: string };
}

export async function flexCommunity(path = tempDb()) {
  const clock = { ms: Date.UTC(2026, 1, 1) };
  const at = (iso: string) => { clock.ms = Date.parse(iso); };
  const now = () => new Date(clock.ms).toISOString();
  const mk = (label: string) => new Signer(seededKey(label), COMMUNITY, 0, now);
  const [operator, dso, aggregator, alice, bob, carol, dave, erin] = ['operator', 'dso', 'aggregator', 'alice', 'bob', 'carol', 'dave', 'erin'].map(mk) as [Signer, Signer, Signer, Signer, Signer, Signer, Signer, Signer];
  const ledger = Ledger.create(path);
  const results = await ledger.submitMany([
    operator.sign('community.create', { name: 'Flex Street', timeZone: 'Europe/Paris', intervalMinutes: 30, currency: 'EUR', operator: operator.actor }),
    operator.sign('participant.register', { key: dso.actor, roles: ['dso'] }),
    operator.sign('participant.register', { key: aggregator.actor, roles: ['aggregator'] }),
    operator.sign('participant.register', { key: alice.actor, roles: ['member'] }),
    operator.sign('participant.register', { key: bob.actor, roles: ['member'] }),
    operator.sign('participant.register', { key: carol.actor, roles: ['member'] }),
    operator.sign('participant.register', { key: dave.actor, roles: ['member'] }),
    operator.sign('participant.register', { key: erin.actor, roles: ['member'] }),
    dso.sign('feeder.define', { id: 'substation-1', importLimitW: 250000, exportLimitW: 200000 }),
    dso.sign('feeder.define', { id: 'feeder-a', parent: 'substation-1', importLimitW: 20000, exportLimitW: 20000 }),
    dso.sign('feeder.define', { id: 'feeder-b', parent: 'substation-1', importLimitW: 8000, exportLimitW: 8000 }),
    dso.sign('meter.register', { meter: ALICE, scheme: 'PRM', direction: 'import', owner: alice.actor, feeder: 'feeder-a' }),
    dso.sign('meter.register', { meter: ALICE, scheme: 'PRM', direction: 'export', owner: alice.actor, feeder: 'feeder-a' }),
    dso.sign('meter.register', { meter: BOB, scheme: 'PRM', direction: 'import', owner: bob.actor, feeder: 'feeder-a' }),
    dso.sign('meter.register', { meter: CAROL, scheme: 'PRM', direction: 'import', owner: carol.actor, feeder: 'feeder-b' }),
    dso.sign('meter.register', { meter: DAVE, scheme: 'PRM', direction: 'import', owner: dave.actor, feeder: 'feeder-a' }),
    dso.sign('meter.register', { meter: ERIN, scheme: 'PRM', direction: 'import', owner: erin.actor, feeder: 'feeder-a' }),
    alice.sign('asset.register', { asset: 'alice-battery', meter: ALICE, kind: 'battery', powerW: 5000, capacityWh: 10000 }),
    bob.sign('asset.register', { asset: 'bob-ev', meter: BOB, kind: 'ev-charger', powerW: 7000, aggregator: aggregator.actor }),
    carol.sign('asset.register', { asset: 'carol-hp', meter: CAROL, kind: 'heat-pump', powerW: 3000 }),
    dave.sign('asset.register', { asset: 'dave-wh', meter: DAVE, kind: 'water-heater', powerW: 2000 }),
  ]);
  for (const r of results) if (!r.ok) throw r.error;
  return { path, ledger, operator, dso, aggregator, alice, bob, carol, dave, erin, at, clock };
}

/** A day of 48 half-hours (March 10 has no DST change) with `wh` everywhere and `peak` from 18:00 to 20:00 local. */
export const day = (wh: number, peak = wh) => Array.from({ length: 48 }, (_, k) => (k >= 36 && k < 40 ? peak : wh));

/**
 * congestedCommunity: flexCommunity with a congestion at the substation (request R2, two
 * ISPs from EVENT_START, 10–12 kW less), carol's heat pump offer whose rebound would
 * break feeder-b, the aggregator's EV offer, alice's battery and an offer above the
 * maximum price; the clock stands at 13:00Z on the event day, before the first ISP.
 */
export async function congestedCommunity(path?: string) {
  const c = await flexCommunity(path);
  const { ledger, dso, alice, carol, dave, aggregator, at } = c;
  at('2026-03-09T08:00:00Z');
  await ok(ledger, dso.sign('flex.request', {
    request: 'R2', feeder: 'substation-1', direction: 'reduce-import', start: EVENT_START, isps: [{ minW: -12_000, maxW: -10_000 }, { minW: -12_000, maxW: -10_000 }],
    maxPriceMicroPerKwh: 200_000, penaltyMicroPerKwh: 300_000, expires: '2026-03-10T12:00:00Z',
    forecast: [{ feeder: 'substation-1', W: [260_000, 260_000, 240_000, 240_000] }, { feeder: 'feeder-b', W: [7000, 7000, 6000, 6000] }],
  }));
  const offer = (o: object) => ({ request: 'R2', feeder: 'substation-1', start: EVENT_START, baseline: { method: 'mbma' }, validUntil: '2026-03-10T16:00:00Z', ...o });
  await ok(ledger, carol.sign('flex.offer', offer({ offer: 'hp', assets: ['carol-hp'], powerW: [-3000, -3000], reboundW: [3000, 3000], priceMicroPerKwh: 50_000 })));
  await ok(ledger, aggregator.sign('flex.offer', offer({ offer: 'ev', assets: ['bob-ev'], powerW: [-7000, -7000], priceMicroPerKwh: 100_000 })));
  await ok(ledger, alice.sign('flex.offer', offer({ offer: 'bat', assets: ['alice-battery'], powerW: [-5000, -5000], priceMicroPerKwh: 150_000, minActivationPct: 20 })));
  await ok(ledger, dave.sign('flex.offer', offer({ offer: 'dear', assets: ['dave-wh'], powerW: [-1000, -1000], priceMicroPerKwh: 250_000 })));
  at('2026-03-10T13:00:00Z');
  return c;
}

/** meteredEvent: the event day's readings of every meter of the fixture (the EV charged 7 kW at 18:00 before; deferred in the ISPs). */
export async function meteredEvent(c: Awaited<ReturnType<typeof flexCommunity>>) {
  const { ledger, dso } = c;
  const values = (base: number, during: number) => Array.from({ length: 48 }, (_, k) => (k === 36 || k === 37 ? during : base));
  await ok(ledger, dso.sign('meter.readings', { meter: ALICE, direction: 'import', date: EVENT_DATE, values: values(1500, 0) }));
  await ok(ledger, dso.sign('meter.readings', { meter: ALICE, direction: 'export', date: EVENT_DATE, values: values(0, 0) }));
  await ok(ledger, dso.sign('meter.readings', { meter: BOB, direction: 'import', date: EVENT_DATE, values: values(3500, 100) }));
  await ok(ledger, dso.sign('meter.readings', { meter: CAROL, direction: 'import', date: EVENT_DATE, values: values(1000, 1000) }));
  await ok(ledger, dso.sign('meter.readings', { meter: DAVE, direction: 'import', date: EVENT_DATE, values: values(800, 800) }));
}
