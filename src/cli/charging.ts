import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cdrFromOcpp, creditCdr } from '../charging/cdr.ts';
import { type OcpiCdr, type OcpiCdrToken, type OcpiSession, type OcpiTariff, ocpiTime, parseCdr, parseLocation, parseSession, parseTariff } from '../charging/ocpi.ts';
import { sessionFromOcpp } from '../charging/ocpp.ts';
import { compileTariff, ocpiTotals, type PricedDimension, type PricedSession, priceSession, pricingSession } from '../charging/price.ts';
import { cdrPriceProblem, cdrsOfMonth, partyOf, planChargingSettle } from '../charging/roaming.ts';
import { type OriginRow, planChargingOrigin } from '../charging/origin.ts';
import {
  type CdrRow, currentTariffs, findCdr, findLocation, findParty, PARTY_ROLES, partyRef, type PartyRole, type PartyRow, type SettlementLine, type SettlementRow,
} from '../charging/tables.ts';
import { PSEUDONYM, tokenPseudonym } from '../charging/token.ts';
import { Signer } from '../client.ts';
import { community } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import { jcs } from '../ledger/jcs.ts';
import { encodeKey } from '../ledger/index.ts';
import { readKeyFile } from '../node/key-file.ts';
import type { State } from '../state/tables.ts';
import { SqliteLedger } from '../store/sqlite-ledger.ts';
import { formatDecimal, formatInstant, formatLocal, localDateOf, parseInstant } from '../units/index.ts';
import { participantKey } from './certificates.ts';
import { defaultKeyPath, withLedger } from './commands.ts';
import { type Shown, type Signing, signingTime } from './flex.ts';
import { table } from './output.ts';

/**
 * The `openlec charging` commands: EV charging under OCPI 2.2.1 on the log. `price` needs
 * no database: it prices a CDR's (or a Session's) charging periods under a tariff, exactly
 * as charging.cdr prices them on apply. The others sign a transaction with a key file as
 * of `--at` (default now) and append it (party and settle: the operator; location,
 * tariff, cdr and credit: the CPO, key file default keys/cpo.key beside the database), or
 * read a view (statement, sessions). Drivers' card ids never reach the log: `cdr` replaces
 * them by their pseudonym under the CPO's token key, a file of at least 32 random bytes
 * kept off the log (default keys/token.key beside the database, made by `token-key`).
 * Each command returns what `--json` prints and the text printed otherwise.
 */

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;
const PARTY = /^([A-Za-z]{2})\*([A-Za-z0-9]{3})$/;

const usage = (option: string, message: string) => new OpenlecError('E_USAGE', `--${option} ${message}`, { field: option });

function checkMonth(v: string | undefined, option = 'month'): string {
  if (v === undefined || !MONTH.test(v)) throw usage(option, `must be YYYY-MM (got "${v ?? ''}")`);
  return v;
}

/** party reads an OCPI party as "NL*TST" (country code * party id), upper-cased. */
function party(v: string | undefined, option: string): { ref: string; countryCode: string; partyId: string } {
  const m = PARTY.exec(v ?? '');
  if (!m) throw usage(option, `must be COUNTRY*PARTY, e.g. NL*TST (got "${v ?? ''}")`);
  return { ref: partyRef(m[1]!, m[2]!), countryCode: m[1]!.toUpperCase(), partyId: m[2]!.toUpperCase() };
}

/** cpoKeyPath: the CPO's key file by the rule of defaultKeyPath, `keys/cpo.key` beside the database. */
export const cpoKeyPath = (db: string) => join(dirname(defaultKeyPath(db)), 'cpo.key');
/** tokenKeyPath: the CPO's token key, `keys/token.key` beside the database. */
export const tokenKeyPath = (db: string) => join(dirname(defaultKeyPath(db)), 'token.key');

/** readJson reads a JSON file named by an option; an OCPI response envelope ({data, status_code}) is unwrapped. */
function readJson(path: string | undefined, option: string): unknown {
  if (path === undefined) throw usage(option, 'is required');
  const text = readFileSync(path, 'utf8');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new OpenlecError('E_JSON', `--${option} ${path}: not JSON (${(e as Error).message})`, { field: option });
  }
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && 'data' in v && 'status_code' in v) return (v as { data: unknown }).data;
  return v;
}

/** readTokenKey reads the CPO's token key: the file's bytes, at least 32. */
function readTokenKey(path: string): Uint8Array {
  const key = new Uint8Array(readFileSync(path));
  if (key.length < 32) throw new OpenlecError('E_TOKEN_KEY', `--token-key ${path} holds ${key.length} bytes: a token key has at least 32 random bytes (openlec charging token-key makes one)`, { field: 'token-key' });
  return key;
}


/** The option a field of a planning error came from. */
const OPTIONS: Record<string, string> = { evse_uid: 'evse', connector_id: 'connector', tokenKey: 'token-key' };

function named(e: unknown): unknown {
  if (!(e instanceof OpenlecError) || e.field === undefined || !(e.field in OPTIONS)) return e;
  const option = OPTIONS[e.field]!;
  return new OpenlecError(e.code, `${e.message} (--${option})`, { field: option, details: e.details, cause: e });
}

/**
 * append signs one transaction with a key file as of `at`, its body planned on the log's
 * state (knowing the signer's key), and appends it; with `dryRun` it plans only.
 */
async function append<B>(o: Signing, defaultKey: string, type: string, plan: (state: State, atMs: number, actor: string) => B, dryRun = false) {
  const atMs = signingTime(o.at);
  const key = readKeyFile(o.key ?? defaultKey);
  const ledger = SqliteLedger.open(o.db);
  try {
    if (!community(ledger.state)) throw new OpenlecError('E_NO_COMMUNITY', 'the log has no community yet', { field: 'db' });
    const body = plan(ledger.state, atMs, encodeKey(key.publicKey));
    const signer = Signer.forState(ledger.state, key);
    const issuedAt = formatInstant(atMs);
    if (dryRun) return { entry: null as number | null, body, actor: signer.actor, issuedAt };
    const r = await ledger.submit(signer.sign(type, body, issuedAt));
    if (!r.ok) throw r.error;
    return { entry: r.entry as number | null, body, actor: signer.actor, issuedAt };
  } catch (e) {
    throw named(e);
  } finally {
    await ledger.close();
  }
}

/** The CPO the signing key signs for (the one of --cpo when it signs for several). */
function cpoOfKey(state: State, actor: string, cpo?: string): PartyRow {
  if (cpo !== undefined) {
    const ref = party(cpo, 'cpo').ref;
    const row = findParty(state, ref, 'CPO');
    if (!row) throw usage('cpo', `names no registered CPO (got "${cpo}")`);
    if (row.key !== actor) throw usage('key', `does not sign for CPO ${ref}`);
    return row;
  }
  const row = partyOf(state, actor, 'CPO');
  if (!row) throw new OpenlecError('E_NOT_PARTY', `the key ${short(actor)} signs for no CPO: register it with openlec charging party --role CPO --party-key`, { field: 'key' });
  return row;
}

const short = (key: string) => `${key.slice(0, 10)}…`;
const kwh = (wh: number) => formatDecimal(wh, 3);
/** money shows micro-units with OCPI's 4 decimals (half up, as the CDR's totals); JSON keeps exact micro-units. */
const money = (micro: number | null) => (micro === null ? '-' : formatDecimal(Math.round(micro / 100) || 0, 4));
const hms = (s: number) => `${Math.floor(s / 3600)}:${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
const local = (iso: string, zone: string) => formatLocal(parseInstant(iso.endsWith('Z') ? iso : `${iso}Z`), zone).slice(0, 16).replace('T', ' ');

// ---------------------------------------------------------------------------- price

export interface PriceCommand {
  tariff?: string;
  cdr: string;
  timeZone?: string;
}

/** The first restriction of a tariff that reads local time (time of day, date, day of week), as a field path, or null. */
export function localRestriction(t: OcpiTariff): string | null {
  for (const [i, e] of t.elements.entries()) {
    for (const k of ['start_time', 'end_time', 'start_date', 'end_date', 'day_of_week'] as const) {
      if (e.restrictions?.[k] !== undefined) return `elements.${i}.restrictions.${k}`;
    }
  }
  return null;
}

type Micro = Pick<PricedSession, 'fixed' | 'energy' | 'time' | 'parking' | 'reservation' | 'subtotal' | 'total' | 'bounded' | 'timeStep' | 'importWh' | 'exportWh' | 'seconds' | 'segments'>;

export interface PriceView {
  kind: 'cdr' | 'session';
  id: string;
  currency: string;
  tariff: { id: string; last_updated: string; from: 'file' | 'cdr' };
  /** The zone the tariff's local-time restrictions were read in; null when the tariff has none (the zone does not matter). */
  timeZone: string | null;
  start: string;
  end: string;
  /** The OCPI CDR total_* fields of the priced session. */
  ocpi: ReturnType<typeof ocpiTotals>;
  /** The exact figures: micro-units of the currency, Wh, seconds. */
  micro: Micro;
  /** The file's own totals against the recomputed ones: the first field that differs, or null when they agree (or the file states none). */
  check: { stated: boolean; field: string; recorded: unknown; recomputed: unknown } | { stated: boolean; field: null };
}

/** What is priced: the start, the end and the charging periods of a CDR or a Session (told apart by their fields). */
function pricedInput(v: unknown): { kind: 'cdr'; value: OcpiCdr } | { kind: 'session'; value: OcpiSession } {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new OpenlecError('E_OCPI', '--cdr must hold an OCPI CDR or Session object', { field: 'cdr' });
  if ('cdr_location' in v || 'total_energy' in v || ('cdr_token' in v && !('location_id' in v))) return { kind: 'cdr', value: parseCdr(v, 'CDR') };
  if ('location_id' in v || 'kwh' in v || 'status' in v) return { kind: 'session', value: parseSession(v, 'session') };
  throw new OpenlecError('E_OCPI', '--cdr holds neither an OCPI CDR (cdr_location, total_energy) nor a Session (location_id, kwh, status)', { field: 'cdr' });
}

/**
 * pricePeriods prices the charging periods of an OCPI CDR or Session (detected by its
 * fields) under an OCPI tariff (--tariff, or the one tariff the CDR carries). A CDR
 * carries no time zone: a tariff with time-of-day, date or weekday restrictions needs
 * --time-zone (the location's); one without is priced the same in every zone and needs
 * none. An unfinished session is priced up to its last_updated.
 */
export function pricePeriods(o: PriceCommand): Shown<PriceView> {
  const input = pricedInput(readJson(o.cdr, 'cdr'));
  let tariff: OcpiTariff;
  let from: 'file' | 'cdr' = 'file';
  if (o.tariff !== undefined) tariff = parseTariff(readJson(o.tariff, 'tariff'), 'tariff');
  else if (input.kind === 'cdr' && input.value.tariffs?.length === 1) {
    tariff = input.value.tariffs[0]!;
    from = 'cdr';
  } else throw usage('tariff', input.kind === 'cdr' && (input.value.tariffs?.length ?? 0) > 1 ? 'is required: the CDR carries several tariffs' : 'is required: the file carries no tariff');
  const c = input.value;
  if (tariff.currency !== c.currency) throw new OpenlecError('E_CDR_CURRENCY', `the ${input.kind}'s currency ${c.currency} is not the tariff's ${tariff.currency}`, { field: 'currency' });
  const needs = localRestriction(tariff);
  if (needs && o.timeZone === undefined) {
    throw usage('time-zone', `is required: tariff ${tariff.id} has restrictions in local time (${needs}) and an OCPI ${input.kind === 'cdr' ? 'CDR' : 'Session'} carries no time zone; give the location's, e.g. Europe/Paris`);
  }
  const zone = o.timeZone ?? 'UTC';
  const periods = c.charging_periods ?? [];
  if (periods.length === 0) throw new OpenlecError('E_OCPI', `session charging_periods: a session without charging periods cannot be priced`, { field: 'charging_periods' });
  const end = c.end_date_time ?? c.last_updated;
  let priced: PricedSession;
  try {
    priced = priceSession(compileTariff(tariff, zone), pricingSession(c.start_date_time, end, periods));
  } catch (e) {
    if (e instanceof OpenlecError && e.code === 'E_TIME_ZONE') throw usage('time-zone', `is not an IANA time zone (got "${zone}")`);
    throw e;
  }
  const totals = ocpiTotals(priced);
  let check: PriceView['check'];
  if (input.kind === 'cdr') {
    const p = cdrPriceProblem(input.value, priced);
    check = p ? { stated: true, ...p } : { stated: true, field: null };
  } else {
    const stated = input.value.total_cost;
    check = stated === undefined ? { stated: false, field: null }
      : jcs(stated) === jcs(totals.total_cost) ? { stated: true, field: null } : { stated: true, field: 'total_cost', recorded: stated, recomputed: totals.total_cost };
  }
  const { currency: _c, tariffId: _t, ...figures } = priced;
  const view: PriceView = {
    kind: input.kind, id: c.id, currency: tariff.currency, tariff: { id: tariff.id, last_updated: tariff.last_updated, from }, timeZone: needs ? zone : null,
    start: c.start_date_time, end, ocpi: totals, micro: figures, check,
  };
  const dim = (name: string, d: PricedDimension, q: (n: number) => string) => [name, d.quantity ? q(d.quantity) : '-', d.quantity ? q(d.billed) : '-', money(d.excl), money(d.incl)];
  const rows = [
    dim('fixed', priced.fixed, (n) => String(n)),
    dim('energy (kWh)', priced.energy, kwh),
    dim('time (h:mm:ss)', priced.time, hms),
    dim('parking (h:mm:ss)', priced.parking, hms),
    dim('reservation (h:mm:ss)', priced.reservation, hms),
    ['total', '', '', money(priced.total.excl), money(priced.total.incl)],
  ];
  const bounded = [priced.bounded.excl && `excl. VAT raised/capped to the tariff's ${priced.bounded.excl}_price`, priced.bounded.incl && `incl. VAT to its ${priced.bounded.incl}_price`].filter(Boolean);
  const checked = check.field === null
    ? (check.stated ? `the ${input.kind}'s own totals agree` : `the ${input.kind} states no total_cost`)
    : `the ${input.kind === 'cdr' ? 'CDR' : 'session'} says ${check.field} ${jcs(check.recorded)}, recomputed ${jcs(check.recomputed)}`;
  return {
    json: view,
    text: [
      `${input.kind === 'cdr' ? 'CDR' : 'session'} ${c.id}, ${c.start_date_time} to ${end}${c.end_date_time === undefined ? ' (unfinished: priced up to its last_updated)' : ''}, under tariff ${tariff.id} (${tariff.last_updated}${from === 'cdr' ? ', carried by the CDR' : ''}) in ${tariff.currency}`,
      needs ? `local time ${zone} (the tariff's restrictions in local time, e.g. ${needs}, read in it)` : 'time zone: none needed (the tariff has no time-of-day, date or weekday restriction)',
      table(rows, ['dimension', 'metered', 'billed', `excl. VAT`, `incl. VAT`]),
      `step rule for time and parking: ${priced.timeStep}; ${priced.segments} segment(s); imported ${kwh(priced.importWh)} kWh${priced.exportWh ? `, exported ${kwh(priced.exportWh)} kWh (not priced)` : ''}, ${hms(priced.seconds)} in all`,
      ...(bounded.length ? [bounded.join('; ')] : []),
      `total_cost ${jcs(totals.total_cost)}; ${checked}`,
    ].join('\n'),
  };
}

// ---------------------------------------------------------------------------- token key

/** makeTokenKey writes a CPO token key: 32 random bytes, mode 0600, never over an existing file. */
export function makeTokenKey(o: { db?: string; out?: string }): Shown<{ path: string; bytes: number }> {
  const path = o.out ?? (o.db ? tokenKeyPath(o.db) : undefined);
  if (!path) throw usage('out', 'is required without --db (the key goes to keys/token.key beside the database)');
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new OpenlecError('E_KEY_EXISTS', `${path} already exists; refusing to overwrite a token key (the pseudonyms in the log depend on it)`, { field: 'out' });
    throw e;
  }
  try {
    writeSync(fd, randomBytes(32));
  } finally {
    closeSync(fd);
  }
  return { json: { path, bytes: 32 }, text: `token key (32 random bytes) written to ${path}: keep it off the log and back it up; without it no card finds its sessions again` };
}

// ---------------------------------------------------------------------------- party, location, tariff

export interface PartyCommand extends Signing {
  role: string;
  country: string;
  partyId: string;
  name: string;
  partyKey?: string;
}

/** registerParty signs charging.party (operator): a CPO (with the key that signs for it) or an eMSP. */
export async function registerParty(o: PartyCommand): Promise<Shown> {
  const role = String(o.role ?? '').toUpperCase() as PartyRole;
  if (!PARTY_ROLES.includes(role)) throw usage('role', `must be CPO or EMSP (got "${o.role ?? ''}")`);
  if (!/^[A-Za-z]{2}$/.test(o.country ?? '')) throw usage('country', `must be an ISO 3166-1 alpha-2 country code, e.g. FR (got "${o.country ?? ''}")`);
  if (!/^[A-Za-z0-9]{3}$/.test(o.partyId ?? '')) throw usage('party-id', `must be 3 letters or digits, e.g. OLC (got "${o.partyId ?? ''}")`);
  if (role === 'CPO' && o.partyKey === undefined) throw usage('party-key', 'is required for a CPO: the participant key (role cpo) that signs its locations, tariffs and CDRs');
  const body = {
    role, country_code: o.country.toUpperCase(), party_id: o.partyId.toUpperCase(), name: o.name, key: o.partyKey === undefined ? null : participantKey(o.partyKey, 'party-key'),
  };
  const r = await append(o, defaultKeyPath(o.db), 'charging.party', () => body);
  const ref = partyRef(body.country_code, body.party_id);
  return { json: { entry: r.entry, party: ref, ...body }, text: `${role} ${ref} (${body.name}) registered in entry ${r.entry}${body.key ? `, signed for by ${short(body.key)}` : ''}` };
}

/** recordLocation signs charging.location (CPO): an OCPI Location from a file, and the community import meter its chargers are behind. */
export async function recordLocation(o: Signing & { file: string; meter?: string }): Promise<Shown> {
  const location = parseLocation(readJson(o.file, 'file'), 'location');
  const body = { location, meter: o.meter ?? null };
  const r = await append(o, cpoKeyPath(o.db), 'charging.location', () => body);
  const evses = location.evses ?? [];
  return {
    json: { entry: r.entry, cpo: partyRef(location.country_code, location.party_id), id: location.id, timeZone: location.time_zone, meter: body.meter, evses: evses.map((e) => e.uid) },
    text: `location ${location.id} of ${partyRef(location.country_code, location.party_id)} recorded in entry ${r.entry}: ${evses.length} EVSE(s) (${evses.map((e) => e.uid).join(', ') || 'none'}), time zone ${location.time_zone}${body.meter ? `, behind meter ${body.meter}` : ''}`,
  };
}

/** recordTariff signs charging.tariff (CPO): a version of an OCPI Tariff from a file. */
export async function recordTariff(o: Signing & { file: string }): Promise<Shown> {
  const tariff = parseTariff(readJson(o.file, 'file'), 'tariff');
  const r = await append(o, cpoKeyPath(o.db), 'charging.tariff', () => ({ tariff }));
  return {
    json: { entry: r.entry, cpo: partyRef(tariff.country_code, tariff.party_id), id: tariff.id, version: tariff.last_updated, currency: tariff.currency, elements: tariff.elements.length },
    text: `tariff ${tariff.id} of ${partyRef(tariff.country_code, tariff.party_id)} version ${tariff.last_updated} recorded in entry ${r.entry}: ${tariff.elements.length} element(s), ${tariff.currency}`,
  };
}

// ---------------------------------------------------------------------------- cdr, credit

export interface CdrCommand extends Signing {
  ocpp?: string;
  cdr?: string;
  location?: string;
  evse?: string;
  connector?: string;
  tariff?: string;
  emsp?: string;
  id?: string;
  tokenKey?: string;
  card?: string;
  contract?: string;
  cpo?: string;
}

/** pseudonymous: an OCPI token with uid and contract_id replaced by their pseudonyms under the token key (those that are pseudonyms already stay). */
function pseudonymous(t: OcpiCdrToken, key: Uint8Array): OcpiCdrToken {
  const p = (v: string) => (PSEUDONYM.test(v) ? v : tokenPseudonym(key, t.country_code, t.party_id, v));
  return { ...t, uid: p(t.uid), contract_id: PSEUDONYM.test(t.contract_id) ? t.contract_id : tokenPseudonym(key, t.country_code, t.party_id, `contract:${t.contract_id}`) };
}

const shownCdr = (entry: number | null, c: OcpiCdr, what: string) => ({
  json: { entry, cdr: c },
  text: `${what} ${c.id} (${c.cdr_token.country_code}*${c.cdr_token.party_id}, location ${c.cdr_location.id} EVSE ${c.cdr_location.evse_uid}) recorded in entry ${entry}: `
    + `${c.start_date_time} to ${c.end_date_time}, ${c.total_energy} kWh, total ${c.total_cost.excl_vat} excl. VAT${c.total_cost.incl_vat === undefined ? '' : `, ${c.total_cost.incl_vat} incl.`} ${c.currency}`,
});

/**
 * recordCdr signs charging.cdr (CPO). With --ocpp, the CDR of a charger's OCPP trace
 * (sessionFromOcpp, cdrFromOcpp) at a recorded location, EVSE and connector, under the
 * latest recorded version of a tariff, its last_updated the signing time; the card's
 * idTag (or --card) is replaced by its pseudonym under the token key, the contract id
 * by the pseudonym of "contract:" and the card unless --contract gives it. With --cdr,
 * a ready CDR (its raw token pseudonymised when --token-key is given).
 */
export async function recordCdr(o: CdrCommand): Promise<Shown> {
  if ((o.ocpp === undefined) === (o.cdr === undefined)) throw usage('ocpp', 'or --cdr: give exactly one (a charger\'s OCPP trace, or a ready OCPI CDR)');
  if (o.cdr !== undefined) {
    let c = parseCdr(readJson(o.cdr, 'cdr'), 'CDR');
    if (o.tokenKey !== undefined) c = { ...c, cdr_token: pseudonymous(c.cdr_token, readTokenKey(o.tokenKey)) };
    const r = await append(o, cpoKeyPath(o.db), 'charging.cdr', () => ({ cdr: c }));
    return shownCdr(r.entry, c, c.credit ? 'credit CDR' : 'CDR');
  }
  for (const [k, option] of [[o.location, 'location'], [o.evse, 'evse'], [o.connector, 'connector'], [o.tariff, 'tariff'], [o.emsp, 'emsp'], [o.id, 'id']] as const) {
    if (k === undefined) throw usage(option, 'is required with --ocpp');
  }
  const emsp = party(o.emsp, 'emsp');
  const session = sessionFromOcpp(readJson(o.ocpp, 'ocpp'));
  const card = o.card ?? session.idTag;
  if (!card) throw usage('card', 'is required: the trace names no idTag');
  const key = readTokenKey(o.tokenKey ?? tokenKeyPath(o.db));
  const token: OcpiCdrToken = {
    country_code: emsp.countryCode, party_id: emsp.partyId, uid: tokenPseudonym(key, emsp.countryCode, emsp.partyId, card), type: 'RFID',
    contract_id: tokenPseudonym(key, emsp.countryCode, emsp.partyId, o.contract === undefined ? `contract:${card}` : `contract:${o.contract}`),
  };
  let written: OcpiCdr | undefined;
  const r = await append(o, cpoKeyPath(o.db), 'charging.cdr', (state, atMs, actor) => {
    const cpo = cpoOfKey(state, actor, o.cpo);
    const loc = findLocation(state, cpo.party, o.location!.toUpperCase());
    if (!loc) throw usage('location', `names no recorded location of ${cpo.party} (got "${o.location}")`);
    const tariff = currentTariffs(state, cpo.party).find((t) => t.id === o.tariff!.toUpperCase());
    if (!tariff) throw usage('tariff', `names no recorded tariff of ${cpo.party} (got "${o.tariff}")`);
    const { cdr } = cdrFromOcpp(session, {
      id: o.id!, location: loc.location, evseUid: o.evse!, connectorId: o.connector!, token, tariff: tariff.tariff, lastUpdated: ocpiTime(atMs),
      ...(session.transactionId && session.transactionId.length <= 36 ? { sessionId: session.transactionId } : {}),
    });
    written = cdr;
    return { cdr };
  });
  return shownCdr(r.entry, written!, `CDR (${session.protocol} transaction ${session.transactionId})`);
}

/** creditRecorded signs the credit CDR of a recorded CDR (CPO): new id, negated costs, last_updated the signing time. */
export async function creditRecorded(o: Signing & { cdr: string; id: string; cpo?: string }): Promise<Shown> {
  let written: OcpiCdr | undefined;
  const r = await append(o, cpoKeyPath(o.db), 'charging.cdr', (state, atMs, actor) => {
    const cpo = cpoOfKey(state, actor, o.cpo);
    const row = findCdr(state, cpo.party, String(o.cdr).toUpperCase());
    if (!row) throw usage('cdr', `names no recorded CDR of ${cpo.party} (got "${o.cdr}")`);
    if (row.credit) throw usage('cdr', `${row.id} is itself a credit CDR`);
    if (row.creditedBy) throw usage('cdr', `${row.id} is already credited by ${row.creditedBy}`);
    written = creditCdr(row.cdr, o.id, ocpiTime(atMs));
    return { cdr: written };
  });
  return shownCdr(r.entry, written!, `credit CDR (of ${written!.credit_reference_id})`);
}

// ---------------------------------------------------------------------------- settle, statement

function linesTable(lines: readonly SettlementLine[]): string {
  return table(lines.map((l) => [l.cpo, l.emsp, l.currency, l.cdrs, l.credits, kwh(l.energyWh), money(l.grossExclMicro), money(l.creditExclMicro), money(l.netExclMicro), money(l.netInclMicro)]),
    ['CPO', 'eMSP', 'currency', 'CDRs', 'credits', 'kWh', 'gross excl.', 'credits excl.', 'net excl.', 'net incl.']);
}

/** settleCharging signs charging.settle (operator, after the month's end): what each eMSP owes each CPO for the month, per currency. */
export async function settleCharging(o: Signing & { month: string; dryRun?: boolean }): Promise<Shown> {
  const month = checkMonth(o.month);
  const r = await append(o, defaultKeyPath(o.db), 'charging.settle', (state) => ({ month, lines: planChargingSettle(state, month) }), o.dryRun === true);
  const lines = r.body.lines;
  return {
    json: { entry: r.entry, dryRun: o.dryRun === true, ...r.body },
    text: [
      `${o.dryRun ? 'dry run: would settle' : 'settled'} charging of ${month}${r.entry === null ? '' : ` in entry ${r.entry}`}: ${lines.length} line(s) (what each eMSP pays each CPO)`,
      linesTable(lines),
    ].join('\n'),
  };
}

export interface StatementView {
  month: string;
  party: string;
  /** The settlement's entry, or null: not settled yet, the lines are what it would be now. */
  settled: number | null;
  timeZone: string;
  lines: SettlementLine[];
  cdrs: CdrRow[];
}

const CSV_HEAD = 'kind;cpo;emsp;cdr;credit_of;start;end;location;energy_wh;currency;excl_micro;incl_micro';

/** statementCsv: the statement's CDRs, then one total row per line (exact micro-units and Wh). */
export function statementCsv(s: StatementView): string {
  const rows = [CSV_HEAD];
  for (const c of s.cdrs) rows.push([c.credit ? 'credit' : 'cdr', c.cpo, c.emsp, c.id, c.creditOf ?? '', c.start, c.end, c.location, c.importWh, c.currency, c.exclMicro, c.inclMicro ?? ''].join(';'));
  for (const l of s.lines) rows.push(['total', l.cpo, l.emsp, '', '', '', '', '', l.energyWh, l.currency, l.netExclMicro, l.netInclMicro ?? ''].join(';'));
  return rows.join('\n') + '\n';
}

/** chargingStatement: a party's (CPO or eMSP) settlement lines of a month and the CDRs behind them; a preview before the month is settled. */
export function chargingStatement(o: { db: string; party: string; month: string; csv?: string }): Promise<Shown<StatementView>> {
  const month = checkMonth(o.month);
  const p = party(o.party, 'party').ref;
  return withLedger(o.db, (ledger) => {
    const state = ledger.state;
    const zone = community(state)!.timeZone;
    if (!findParty(state, p, 'CPO') && !findParty(state, p, 'EMSP')) throw usage('party', `names no registered CPO or eMSP (got "${o.party}")`);
    const settlement = state.get('charging_settlements', month) as unknown as SettlementRow | undefined;
    const mine = (x: { cpo: string; emsp: string }) => x.cpo === p || x.emsp === p;
    const lines = (settlement?.lines ?? planChargingSettle(state, month)).filter(mine);
    const cdrs = cdrsOfMonth(state, month).filter(mine);
    const view: StatementView = { month, party: p, settled: settlement?.entry ?? null, timeZone: zone, lines, cdrs };
    if (o.csv) writeFileSync(o.csv, statementCsv(view));
    const rows = cdrs.map((c) => [c.id, c.credit ? `credit of ${c.creditOf}` : c.creditedBy ? `credited by ${c.creditedBy}` : '', c.cpo, c.emsp, c.location, local(c.start, zone), local(c.end, zone), kwh(c.importWh), c.currency, money(c.exclMicro), money(c.inclMicro)]);
    return {
      json: view,
      text: [
        `charging statement of ${p} for ${month}: ${settlement ? `settled in entry ${settlement.entry}` : 'not settled yet (what the settlement would be now)'}; local time ${zone}`,
        linesTable(lines),
        '',
        `${cdrs.length} CDR(s)`,
        table(rows, ['CDR', 'credit', 'CPO', 'eMSP', 'location', 'start', 'end', 'kWh', 'currency', 'excl. VAT', 'incl. VAT']),
        ...(o.csv ? [`wrote ${o.csv}`] : []),
      ].join('\n'),
    };
  });
}

// ---------------------------------------------------------------------------- sessions

export interface SessionsCommand {
  db: string;
  month?: string;
  tokenKey?: string;
  card?: string;
  emsp?: string;
  cpo?: string;
}

/**
 * chargingSessions: recorded CDRs, by session start in the community's local time.
 * --card finds a driver's through the pseudonym (under the token key, for every
 * registered eMSP, or --emsp's); --cpo lists a CPO's; neither lists every one.
 */
export function chargingSessions(o: SessionsCommand): Promise<Shown<{ timeZone: string; month: string | null; sessions: CdrRow[] }>> {
  const month = o.month === undefined ? undefined : checkMonth(o.month);
  if (o.card !== undefined && o.cpo !== undefined) throw usage('card', 'and --cpo exclude each other');
  const cpo = o.cpo === undefined ? undefined : party(o.cpo, 'cpo').ref;
  const emsp = o.emsp === undefined ? undefined : party(o.emsp, 'emsp');
  const key = o.card === undefined ? undefined : readTokenKey(o.tokenKey ?? tokenKeyPath(o.db));
  return withLedger(o.db, (ledger) => {
    const state = ledger.state;
    const zone = community(state)!.timeZone;
    let rows: CdrRow[];
    if (key) {
      const emsps = emsp ? [emsp] : ([...state.rows('charging_parties')] as unknown as PartyRow[]).filter((p) => p.role === 'EMSP');
      rows = emsps.flatMap((e) => state.lookup<CdrRow>('charging_cdrs', 'token', tokenPseudonym(key, e.countryCode, e.partyId, o.card!)).filter((r) => r.emsp === partyRef(e.countryCode, e.partyId)));
    } else if (cpo) {
      if (!findParty(state, cpo, 'CPO')) throw usage('cpo', `names no registered CPO (got "${o.cpo}")`);
      rows = state.lookup<CdrRow>('charging_cdrs', 'cpo', cpo);
    } else rows = [...state.rows('charging_cdrs')] as unknown as CdrRow[];
    if (emsp && !key) rows = rows.filter((r) => r.emsp === emsp.ref);
    if (month) rows = rows.filter((r) => localDateOf(parseInstant(r.start.endsWith('Z') ? r.start : `${r.start}Z`), zone).slice(0, 7) === month);
    rows.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.entry - b.entry));
    const table_ = table(rows.map((r) => [
      r.id, r.credit ? `credit of ${r.creditOf}` : r.creditedBy ? `credited by ${r.creditedBy}` : '', r.cpo, r.emsp, r.location, local(r.start, zone), hms(r.costs.seconds), kwh(r.importWh), r.currency, money(r.exclMicro), money(r.inclMicro), r.month,
    ]), ['CDR', 'credit', 'CPO', 'eMSP', 'location', 'start', 'duration', 'kWh', 'currency', 'excl. VAT', 'incl. VAT', 'settled in']);
    const who = key ? `of card ${o.card} (by its pseudonym)` : cpo ? `of ${cpo}` : '';
    return {
      json: { timeZone: zone, month: month ?? null, sessions: rows },
      text: [`${rows.length} charging session(s)${who ? ` ${who}` : ''}${month ? ` started in ${month}` : ''}; local time ${zone}`, table_].join('\n'),
    };
  });
}

// ---------------------------------------------------------------------------- OCPI registration token

/**
 * ocpiToken issues an OCPI credentials token A for a registered eMSP into the OCPI store
 * beside the log (`<log>.ocpi.db`, off the log, kept hashed): hand it over out of band
 * with the versions URL; it works once, for the eMSP's POST credentials.
 */
export async function ocpiToken(o: { db: string; country: string; partyId: string }): Promise<Shown<{ party: string; token: string; store: string }>> {
  const { issueRegistrationToken, OcpiStore, ocpiStorePath } = await import('../server/ocpi.ts');
  const ref = party(`${o.country ?? ''}*${o.partyId ?? ''}`, 'party-id');
  return withLedger(o.db, (ledger) => {
    if (!community(ledger.state)) throw new OpenlecError('E_NO_COMMUNITY', 'the log has no community yet', { field: 'db' });
    if (!findParty(ledger.state, ref.ref, 'EMSP')) throw usage('party-id', `${ref.ref} is not a registered eMSP (openlec charging party --role EMSP registers it)`);
    const path = ocpiStorePath(o.db);
    const store = OcpiStore.open(path);
    try {
      const token = issueRegistrationToken(store, { country_code: ref.countryCode, party_id: ref.partyId }, ledger.state, formatInstant(Math.floor(Date.now() / 1000) * 1000));
      return {
        json: { party: ref.ref, token, store: path },
        text: `OCPI registration token A for ${ref.ref} (shown once, stored hashed in ${path}):\n${token}\nhand it over with the versions URL <server>/ocpi/versions; it serves once, for the eMSP's POST credentials`,
      };
    } finally {
      store.close();
    }
  });
}

/**
 * linkDriver signs charging.driver (CPO): the card's pseudonym under the CPO's token key
 * is linked to a member, who then sees those sessions (and their local share) as theirs.
 */
export async function linkDriver(o: Signing & { card: string; emsp: string; member: string; tokenKey?: string; cpo?: string }): Promise<Shown> {
  const emsp = party(o.emsp, 'emsp');
  const key = readTokenKey(o.tokenKey ?? join(dirname(o.db), 'keys', 'token.key'));
  const token = tokenPseudonym(key, emsp.countryCode, emsp.partyId, o.card);
  const member = participantKey(o.member, 'member');
  const r = await append(o, cpoKeyPath(o.db), 'charging.driver', (state, _at, actor) => ({ token, member, ...(o.cpo ? { cpo: cpoOfKey(state, actor, o.cpo).party } : {}) }));
  return { json: { entry: r.entry, ...r.body }, text: `card of ${emsp.ref} (pseudonym ${token}) linked to member ${short(member)} in entry ${r.entry}` };
}

/**
 * runOrigin signs charging.origin (CPO, after the month's certificates.settle): the CPO's
 * certificates of each interval cancelled for the drivers of its CDRs at metered
 * locations; prints the local share per CDR.
 */
export async function runOrigin(o: Signing & { month: string; dryRun?: boolean }): Promise<Shown> {
  const month = checkMonth(o.month);
  const r = await append(o, cpoKeyPath(o.db), 'charging.origin', (state, _at, actor) => planChargingOrigin(state, month, actor), o.dryRun === true);
  const s = r.body;
  const rows = o.dryRun ? [] : await withLedger(o.db, (ledger) => [...ledger.state.rows('charging_origin')].map((x) => x as unknown as OriginRow).filter((x) => x.entry === r.entry));
  return {
    json: { entry: r.entry, dryRun: o.dryRun === true, ...s, sessions: rows.map((x) => ({ cpo: x.cpo, id: x.id, importWh: x.importWh, localWh: x.localWh })) },
    text: [
      `${o.dryRun ? 'dry run: would cancel' : 'cancelled'} ${kwh(s.localWh)} kWh of local certificates for the drivers of ${s.cdrs} CDR(s) of ${month}${r.entry === null ? '' : ` in entry ${r.entry}`}`,
      ...(rows.length ? [table(rows.map((x) => [x.cpo, x.id, kwh(x.importWh), kwh(x.localWh), `${x.importWh > 0 ? ((100 * x.localWh) / x.importWh).toFixed(1) : '0.0'} %`]), ['CPO', 'CDR', 'kWh', 'local kWh', 'local share'])] : []),
    ].join('\n'),
  };
}
