import { readFileSync } from 'node:fs';
import { Signer } from '../../src/client.ts';
import { cdrFromOcpp, makeCdr } from '../../src/charging/cdr.ts';
import { sessionFromOcpp } from '../../src/charging/ocpp.ts';
import type { OcpiCdrToken, OcpiChargingPeriod, OcpiLocation, OcpiTariff } from '../../src/charging/ocpi.ts';
import { tokenPseudonym } from '../../src/charging/token.ts';
import { SqliteLedger as Ledger } from '../../src/store/sqlite-ledger.ts';
import { COMMUNITY, seededKey, tempDb } from './community.ts';
import { ok } from './flex.ts';

/**
 * Fixtures of the EV charging tests: community "Charge Lane" (Europe/Paris, 30 min, EUR).
 * The CPO FR*OLC (the community's own charge point operator, key `cpo`) runs location
 * LANE-1 (two EVSEs) behind the community meter CHARGER; roaming partners: the eMSP NL*TST
 * (no key) and DE*EMS (key `emsp`). Tariff LANE (version 2025-01-01): 0.50 start fee,
 * 0.30 €/kWh from 06:00 to 22:00 and 0.20 €/kWh at night, parking 2.00 €/h after 2 h,
 * VAT 20 %. Every signer reads one clock the test moves (`at`).
 */
export const CHARGER = '30009999999999';
export const TOKEN_KEY = new Uint8Array(32).fill(7);
export const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/charging/${name}`, import.meta.url), 'utf8'));

export const LOCATION: OcpiLocation = {
  country_code: 'FR', party_id: 'OLC', id: 'LANE-1', publish: true, name: 'Charge Lane car park', address: '3 rue des Lilas', city: 'Lyon', postal_code: '69003', country: 'FRA',
  coordinates: { latitude: '45.760000', longitude: '4.850000' }, time_zone: 'Europe/Paris', parking_type: 'PARKING_LOT',
  evses: ['1', '2'].map((n) => ({
    uid: `LANE-1-${n}`, evse_id: `FR*OLC*E1000${n}`, status: 'AVAILABLE' as const, capabilities: ['RFID_READER' as const],
    connectors: [{ id: '1', standard: 'IEC_62196_T2' as const, format: 'SOCKET' as const, power_type: 'AC_3_PHASE' as const, max_voltage: 400, max_amperage: 32, max_electric_power: 22000, tariff_ids: ['LANE'], last_updated: '2025-01-01T00:00:00Z' }],
    last_updated: '2025-01-01T00:00:00Z',
  })),
  last_updated: '2025-01-01T00:00:00Z',
};

export const TARIFF: OcpiTariff = {
  country_code: 'FR', party_id: 'OLC', id: 'LANE', currency: 'EUR', type: 'REGULAR',
  elements: [
    { price_components: [{ type: 'FLAT', price: 0.5, vat: 20, step_size: 1 }] },
    { price_components: [{ type: 'ENERGY', price: 0.3, vat: 20, step_size: 1 }], restrictions: { start_time: '06:00', end_time: '22:00' } },
    { price_components: [{ type: 'ENERGY', price: 0.2, vat: 20, step_size: 1 }] },
    { price_components: [{ type: 'PARKING_TIME', price: 2, vat: 20, step_size: 300 }], restrictions: { min_duration: 7200 } },
  ],
  last_updated: '2025-01-01T00:00:00Z',
};

/** A pseudonymous OCPI token of eMSP `emsp` ("NL*TST") for a card uid. */
export function token(uid: string, emsp = 'NL*TST'): OcpiCdrToken {
  const [cc, pid] = emsp.split('*') as [string, string];
  return { country_code: cc, party_id: pid, uid: tokenPseudonym(TOKEN_KEY, cc, pid, uid), type: 'RFID', contract_id: tokenPseudonym(TOKEN_KEY, cc, pid, `contract:${uid}`) };
}

export async function chargingCommunity(path = tempDb()) {
  const clock = { ms: Date.UTC(2025, 0, 1) };
  const at = (iso: string) => { clock.ms = Date.parse(iso); };
  const now = () => new Date(clock.ms).toISOString();
  const mk = (label: string) => new Signer(seededKey(label), COMMUNITY, 0, now);
  const [operator, dso, cpo, emsp, alice] = ['operator', 'dso', 'cpo', 'emsp', 'alice'].map(mk) as [Signer, Signer, Signer, Signer, Signer];
  const ledger = Ledger.create(path);
  const results = await ledger.submitMany([
    operator.sign('community.create', { name: 'Charge Lane', timeZone: 'Europe/Paris', intervalMinutes: 30, currency: 'EUR', operator: operator.actor }),
    operator.sign('participant.register', { key: dso.actor, roles: ['dso'] }),
    operator.sign('participant.register', { key: cpo.actor, roles: ['cpo', 'member'] }),
    operator.sign('participant.register', { key: emsp.actor, roles: ['emsp'] }),
    operator.sign('participant.register', { key: alice.actor, roles: ['member'] }),
    dso.sign('meter.register', { meter: CHARGER, scheme: 'PRM', direction: 'import', owner: cpo.actor }),
    operator.sign('charging.party', { role: 'CPO', country_code: 'FR', party_id: 'OLC', name: 'Charge Lane CPO', key: cpo.actor }),
    operator.sign('charging.party', { role: 'EMSP', country_code: 'NL', party_id: 'TST', name: 'Test Mobility' }),
    operator.sign('charging.party', { role: 'EMSP', country_code: 'DE', party_id: 'EMS', name: 'EMS Mobility', key: emsp.actor }),
    cpo.sign('charging.location', { location: LOCATION, meter: CHARGER }),
    cpo.sign('charging.tariff', { tariff: TARIFF }),
  ]);
  for (const r of results) if (!r.ok) throw r.error;
  return { path, ledger, operator, dso, cpo, emsp, alice, at, clock };
}

/** The CDR of the OCPP 1.6 fixture trace (2025-03-14, 09:00–11:10 UTC: 15.065 kWh, 40 min parked) for card `uid`. */
export function ocpp16Cdr(id = 'CDR-1', uid = '04A1B2C3D4E5F6', emsp = 'NL*TST') {
  const session = sessionFromOcpp(fixture('ocpp16-trace.json'));
  return cdrFromOcpp(session, { id, location: LOCATION, evseUid: 'LANE-1-1', connectorId: '1', token: token(uid, emsp), tariff: TARIFF, lastUpdated: session.end.replace(/\.\d{3}Z$/, 'Z') });
}

/** A simple CDR: `kwh` charged at constant power from `start` for `minutes`, then `parkMinutes` parked. */
export function simpleCdr(id: string, start: string, minutes: number, kwh: number, parkMinutes = 0, uid = 'CARD-A', emsp = 'NL*TST', evse = 'LANE-1-1') {
  const s = Date.parse(start);
  const t = (m: number) => new Date(s + m * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const periods: OcpiChargingPeriod[] = [{ start_date_time: t(0), dimensions: [{ type: 'ENERGY', volume: kwh }] }];
  if (parkMinutes > 0) periods.push({ start_date_time: t(minutes), dimensions: [{ type: 'PARKING_TIME', volume: Math.round((parkMinutes / 60) * 1000) / 1000 }] });
  return makeCdr({ id, location: LOCATION, evseUid: evse, connectorId: '1', token: token(uid, emsp), tariff: TARIFF, start: t(0), end: t(minutes + parkMinutes), periods, lastUpdated: t(minutes + parkMinutes) });
}

export { ok };
