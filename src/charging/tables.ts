import type { State, TableSpec } from '../state/tables.ts';
import type { OcpiCdr, OcpiLocation, OcpiTariff } from './ocpi.ts';
import type { PricedSession } from './price.ts';

/** OCPI roles openlec records: charge point operators and e-mobility service providers. */
export const PARTY_ROLES = ['CPO', 'EMSP'] as const;
export type PartyRole = (typeof PARTY_ROLES)[number];

/** "NL*TST": an OCPI party by country code and party id (upper case: CiString compares case-insensitively). */
export const partyRef = (countryCode: string, partyId: string) => `${countryCode.toUpperCase()}*${partyId.toUpperCase()}`;

/** A roaming party (charging.party, operator): a CPO signs its locations, tariffs and CDRs with `key`; an eMSP needs no key (it only receives). */
export const PARTIES_TABLE: TableSpec = {
  name: 'charging_parties',
  columns: { party: 'text', role: 'text', countryCode: 'text', partyId: 'text', name: 'text', key: 'text', entry: 'integer' },
  primaryKey: ['party', 'role'],
  indexes: [['key']],
};

export interface PartyRow {
  /** partyRef: "NL*TST". */
  party: string;
  role: PartyRole;
  countryCode: string;
  partyId: string;
  /** The company's trading name (no personal data). */
  name: string;
  /** The participant key that signs for this party (role cpo or emsp); null for an eMSP that only receives. */
  key: string | null;
  entry: number;
}

/** A charging location of a CPO (charging.location): its OCPI Location, and the community meter its chargers are behind, if any. */
export const LOCATIONS_TABLE: TableSpec = {
  name: 'charging_locations',
  columns: { cpo: 'text', id: 'text', timeZone: 'text', meter: 'text', location: 'json', entry: 'integer' },
  primaryKey: ['cpo', 'id'],
  indexes: [['meter'], ['cpo']],
};

export interface LocationRow {
  cpo: string;
  id: string;
  timeZone: string;
  /** The community import meter the location's chargers sit behind: what allocation and the P2P market see of its charging. */
  meter: string | null;
  location: OcpiLocation;
  entry: number;
}

/** Every version of a CPO's tariffs (charging.tariff): a CDR carries a copy of the one it was priced with, which must be one of these. */
export const TARIFFS_TABLE: TableSpec = {
  name: 'charging_tariffs',
  columns: { cpo: 'text', id: 'text', version: 'text', recordedAt: 'text', tariff: 'json', entry: 'integer' },
  primaryKey: ['cpo', 'id', 'version'],
  indexes: [['cpo']],
};

export interface TariffRow {
  cpo: string;
  id: string;
  /** The tariff's last_updated: a CPO publishes a new version with a new last_updated. */
  version: string;
  /** When the version was recorded (its transaction's issuedAt, within the admission skew of the operator's clock): it is in force from then until the next version is recorded. */
  recordedAt: string;
  tariff: OcpiTariff;
  entry: number;
}

/** The integer summary of a priced CDR, stored beside the OCPI CDR. */
export type CdrCosts = Pick<PricedSession, 'fixed' | 'energy' | 'time' | 'parking' | 'reservation' | 'total' | 'timeStep' | 'importWh' | 'exportWh' | 'seconds'>;

/** A charge detail record (charging.cdr, CPO), priced again on apply; credit CDRs reference the original and negate it. */
export const CDRS_TABLE: TableSpec = {
  name: 'charging_cdrs',
  columns: {
    cpo: 'text', id: 'text', emsp: 'text', token: 'text', location: 'text', connector: 'text', month: 'text', start: 'text', end: 'text', currency: 'text', importWh: 'integer', exportWh: 'integer',
    exclMicro: 'integer', inclMicro: 'integer', credit: 'integer', creditOf: 'text', creditedBy: 'text', costs: 'json', cdr: 'json', entry: 'integer',
  },
  primaryKey: ['cpo', 'id'],
  indexes: [['month'], ['token'], ['emsp'], ['cpo'], ['connector']],
};

export interface CdrRow {
  cpo: string;
  id: string;
  /** The eMSP of the driver's token (cdr_token country code and party id): who owes the CPO. */
  emsp: string;
  /** The pseudonymous token (a keyed hash of the card or app id): the driver's only handle in the log. */
  token: string;
  location: string;
  /** cpo, location, EVSE and connector ("FR*OLC\u001fLANE-1\u001fLANE-1-1\u001f1"): one session at a time charges there. */
  connector: string;
  /** The community's local month of the session's end: the settlement period. */
  month: string;
  start: string;
  end: string;
  currency: string;
  importWh: number;
  exportWh: number;
  /** total_cost in micro-units (negative for a credit CDR). */
  exclMicro: number;
  inclMicro: number | null;
  credit: 0 | 1;
  creditOf: string | null;
  /** The credit CDR that reversed this one, if any. */
  creditedBy: string | null;
  costs: CdrCosts;
  cdr: OcpiCdr;
  entry: number;
}

/** One line of a roaming settlement: what an eMSP owes a CPO for a month in one currency. */
export interface SettlementLine {
  [field: string]: string | number | null;
  cpo: string;
  emsp: string;
  currency: string;
  cdrs: number;
  credits: number;
  energyWh: number;
  /** Σ total_cost of the CDRs, and of their credits (≤ 0), and the net, micro-units. */
  grossExclMicro: number;
  creditExclMicro: number;
  netExclMicro: number;
  netInclMicro: number | null;
}

/** A month's roaming settlement (charging.settle): the lines, recomputed on apply from the month's CDRs. */
export const SETTLEMENTS_TABLE: TableSpec = {
  name: 'charging_settlements',
  columns: { month: 'text', lines: 'json', entry: 'integer' },
  primaryKey: ['month'],
};

export interface SettlementRow {
  month: string;
  lines: SettlementLine[];
  entry: number;
}

export const findParty = (state: State, party: string, role: PartyRole) => state.get('charging_parties', `${party}\u001f${role}`) as PartyRow | undefined;
export const findLocation = (state: State, cpo: string, id: string) => state.get('charging_locations', `${cpo}\u001f${id}`) as LocationRow | undefined;
export const findCdr = (state: State, cpo: string, id: string) => state.get('charging_cdrs', `${cpo}\u001f${id}`) as unknown as CdrRow | undefined;
export const findTariffVersion = (state: State, cpo: string, id: string, version: string) => state.get('charging_tariffs', `${cpo}\u001f${id}\u001f${version}`) as unknown as TariffRow | undefined;

/** The latest version of each of a CPO's tariffs. */
export function currentTariffs(state: State, cpo: string): TariffRow[] {
  const latest = new Map<string, TariffRow>();
  for (const t of state.lookup<TariffRow>('charging_tariffs', 'cpo', cpo)) {
    const seen = latest.get(t.id);
    if (!seen || t.entry > seen.entry) latest.set(t.id, t);
  }
  return [...latest.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** The parties a participant key signs for. */
export const partiesOfKey = (state: State, key: string) => state.lookup<PartyRow>('charging_parties', 'key', key);
