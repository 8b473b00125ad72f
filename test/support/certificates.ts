import type { SqliteLedger, SubmitInput } from '../../src/store/sqlite-ledger.ts';
import { smallCommunity } from './community.ts';

/** Fixtures of the certificate tests: alice's PV on her export meter, one sunny June day metered for her and bob. */
export const DATE = '2026-06-01';
export const MONTH = '2026-06';
export const ALICE_PRM = '30001234567890';
export const BOB_PRM = '30009876543210';
/** A sunny day: 48 half-hours, export from 07:00 to 19:00 local. */
export const sun = (peak: number) => Array.from({ length: 48 }, (_, k) => (k >= 10 && k < 34 ? Math.round(peak * Math.sin((Math.PI * (k - 10)) / 24)) : 0));
export const flat = (wh: number) => Array.from({ length: 48 }, () => wh);

export async function ok(ledger: SqliteLedger, tx: SubmitInput): Promise<number> {
  const r = await ledger.submit(tx);
  if (!r.ok) throw r.error;
  return r.entry;
}

/** certifiedCommunity: smallCommunity with alice's 6 kW PV registered as a device and DATE's readings (her export and import, bob's import). */
export async function certifiedCommunity(path?: string) {
  const c = await smallCommunity(path);
  const { ledger, dso } = c;
  await ok(ledger, dso.sign('device.register', { device: 'pv-alice', meter: ALICE_PRM, fuel: 'F01040100', technology: 'T010100', capacityW: 6000, commissioned: '2024-04-01', zone: '10YFR-RTE------C', gridArea: 'enedis-paris', support: false }));
  await ok(ledger, dso.sign('meter.readings', { meter: ALICE_PRM, direction: 'export', date: DATE, values: sun(2000) }));
  await ok(ledger, dso.sign('meter.readings', { meter: ALICE_PRM, direction: 'import', date: DATE, values: flat(150) }));
  await ok(ledger, dso.sign('meter.readings', { meter: BOB_PRM, direction: 'import', date: DATE, values: flat(400) }));
  return c;
}
