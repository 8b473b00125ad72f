import { OpenlecError } from '../errors.ts';
import { chargingPeriods, type MeteredSession } from './ocpp.ts';
import { type OcpiCdr, type OcpiCdrToken, type OcpiChargingPeriod, type OcpiLocation, type OcpiTariff, ocpiTime } from './ocpi.ts';
import { ocpiTotals, type PricedSession } from './price.ts';
import { priceCdr } from './roaming.ts';

/** What a CPO knows of a finished session, to write its CDR. */
export interface CdrInput {
  id: string;
  location: OcpiLocation;
  evseUid: string;
  connectorId: string;
  /** The token with uid and contract_id already replaced by their pseudonym (token.ts). */
  token: OcpiCdrToken;
  authMethod?: OcpiCdr['auth_method'];
  tariff: OcpiTariff;
  start: string;
  end: string;
  periods: OcpiChargingPeriod[];
  /** The CDR's last_updated: the CPO's time of writing it. */
  lastUpdated: string;
  sessionId?: string;
  meterId?: string;
}

/** makeCdr writes the OCPI CDR of a session, priced by the tariff (the same function charging.cdr recomputes it with). */
export function makeCdr(input: CdrInput): { cdr: OcpiCdr; priced: PricedSession } {
  const loc = input.location;
  const evse = loc.evses?.find((e) => e.uid === input.evseUid);
  if (!evse) throw new OpenlecError('E_UNKNOWN_EVSE', `EVSE ${input.evseUid} is not at location ${loc.id}`, { field: 'evse_uid' });
  const connector = evse.connectors.find((c) => c.id === input.connectorId);
  if (!connector) throw new OpenlecError('E_UNKNOWN_CONNECTOR', `connector ${input.connectorId} is not on EVSE ${input.evseUid}`, { field: 'connector_id' });
  const base: OcpiCdr = {
    country_code: loc.country_code,
    party_id: loc.party_id,
    id: input.id,
    start_date_time: input.start,
    end_date_time: input.end,
    ...(input.sessionId ? { session_id: input.sessionId } : {}),
    cdr_token: input.token,
    auth_method: input.authMethod ?? 'WHITELIST',
    cdr_location: {
      id: loc.id,
      ...(loc.name ? { name: loc.name } : {}),
      address: loc.address,
      city: loc.city,
      ...(loc.postal_code ? { postal_code: loc.postal_code } : {}),
      country: loc.country,
      coordinates: loc.coordinates,
      evse_uid: evse.uid,
      evse_id: evse.evse_id ?? evse.uid,
      connector_id: connector.id,
      connector_standard: connector.standard,
      connector_format: connector.format,
      connector_power_type: connector.power_type,
    },
    ...(input.meterId ? { meter_id: input.meterId } : {}),
    currency: input.tariff.currency,
    tariffs: [input.tariff],
    charging_periods: input.periods.map((p) => ({ ...p, tariff_id: input.tariff.id })),
    total_cost: { excl_vat: 0 },
    total_energy: 0,
    total_time: 0,
    last_updated: input.lastUpdated,
  };
  const priced = priceCdr(base, input.tariff, loc.time_zone);
  return { cdr: { ...base, ...ocpiTotals(priced) }, priced };
}

/** cdrFromOcpp: the CDR of a session read from a charger's OCPP trace (ocpp.ts): energy from its registers, never estimated. */
export function cdrFromOcpp(session: MeteredSession, input: Omit<CdrInput, 'start' | 'end' | 'periods'>) {
  return makeCdr({ ...input, start: session.start.replace(/\.\d{3}Z$/, 'Z'), end: session.end.replace(/\.\d{3}Z$/, 'Z'), periods: chargingPeriods(session) as OcpiChargingPeriod[] });
}

const negate = (p: { excl_vat: number; incl_vat?: number } | undefined) =>
  p === undefined ? undefined : { excl_vat: -p.excl_vat || 0, ...(p.incl_vat === undefined ? {} : { incl_vat: -p.incl_vat || 0 }) };

/** creditCdr: the Credit CDR that reverses `original` (OCPI: new id, credit, credit_reference_id, negated costs). */
export function creditCdr(original: OcpiCdr, id: string, lastUpdated: string): OcpiCdr {
  const out: OcpiCdr = { ...original, id, credit: true, credit_reference_id: original.id, last_updated: lastUpdated, total_cost: negate(original.total_cost)! };
  for (const f of ['total_fixed_cost', 'total_energy_cost', 'total_time_cost', 'total_parking_cost', 'total_reservation_cost'] as const) {
    const v = negate(original[f]);
    if (v) out[f] = v;
  }
  delete out.invoice_reference_id;
  return out;
}

export { ocpiTime };
