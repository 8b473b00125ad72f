import { z } from 'zod';
import { monthDays } from '../allocation/month.ts';
import { driverCdrs, driverTokens } from '../charging/driver.ts';
import { findOrigin } from '../charging/origin.ts';
import { cdr as cdrSchema, chargingPeriod, ocpiDateTime, type OcpiCdr, type OcpiChargingPeriod, session as ocpiSessionSchema, tariff as tariffSchema } from '../charging/ocpi.ts';
import { compileTariff, ocpiTotals, type PricedSession, priceSession, pricingSession } from '../charging/price.ts';
import { cdrPriceProblem, cdrsOfMonth, planChargingSettle } from '../charging/roaming.ts';
import { type CdrRow, currentTariffs, findCdr, findLocation, findParty, type LocationRow, partiesOfKey, partyRef, type PartyRow, type SettlementLine, type SettlementRow, type TariffRow } from '../charging/tables.ts';
import { community } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import { jcs } from '../ledger/jcs.ts';
import { ROLES, type Role } from '../state/registry.ts';
import type { State } from '../state/tables.ts';
import type { LedgerStore } from '../store/ledger-store.ts';
import { formatDecimal, formatInstant, localDay } from '../units/index.ts';
import type { Session } from './auth.ts';
import { MONTH, type Route } from './route.ts';
import {
  CHARGING_CDR, CHARGING_CDRS, CHARGING_LOCATIONS, CHARGING_PARTIES, CHARGING_PRICE, CHARGING_SETTLEMENT, CHARGING_SETTLE_PLAN, CHARGING_STATEMENT, CHARGING_STATEMENT_EXAMPLE, CHARGING_TARIFFS, MY_CHARGING,
} from './responses.ts';

/**
 * EV charging over HTTP (src/charging). Parties, locations and current tariffs are public,
 * as OCPI publishes them. A CDR is commercial and about a driver: its CPO, its eMSP and
 * staff (operator, auditor, DSO) see it, and a member the CDRs of the tokens a CPO linked
 * to them (charging.driver). A month's roaming settlement shows each party its own lines,
 * staff all. POST /v1/charging/price prices a CDR or a session under a tariff, exactly
 * as charging.cdr does on apply, and writes nothing. Writes (charging.party, .location,
 * .tariff, .cdr, .driver, .settle) go through POST /v1/transactions; the plan route gives
 * the operator the body of charging.settle to sign.
 */
const STAFF: readonly Role[] = ['operator', 'auditor', 'dso'];
const PARTIES: readonly Role[] = ['cpo', 'emsp'];
const isStaff = (s: Session | undefined) => s !== undefined && s.roles.some((r) => STAFF.includes(r));
const SEP = '\u001f';

/** A party in a URL or query: "FR*OLC" (case-insensitive, as OCPI CiStrings compare). */
const PARTY = z.string().regex(/^[A-Za-z]{2}\*[A-Za-z0-9]{3}$/, 'must be a party as "FR*OLC" (country code * party id)').transform((s) => partyRef(s.slice(0, 2), s.slice(3)));
const CDR_ID = z.string().regex(/^[A-Za-z0-9*._-]{1,39}$/, 'must be an OCPI CDR id (1 to 39 characters)').transform((s) => s.toUpperCase());
const MONTH_OPT = z.object({ month: MONTH.shape.month.optional() });

/** What a caller sees of CDRs: staff everything, a CPO or eMSP its parties', a member the CDRs of tokens linked to them. */
interface Viewer {
  staff: boolean;
  cpos: Set<string>;
  emsps: Set<string>;
  tokens: Set<string>;
}

function viewerOf(state: State, session: Session | undefined): Viewer {
  if (!session) return { staff: false, cpos: new Set(), emsps: new Set(), tokens: new Set() };
  const parties = partiesOfKey(state, session.key);
  return {
    staff: isStaff(session),
    cpos: new Set(parties.filter((p) => p.role === 'CPO').map((p) => p.party)),
    emsps: new Set(parties.filter((p) => p.role === 'EMSP').map((p) => p.party)),
    tokens: new Set(driverTokens(state, session.key).map((d) => `${d.cpo}${SEP}${d.token}`)),
  };
}
const seesCdr = (v: Viewer, r: CdrRow) => v.staff || v.cpos.has(r.cpo) || v.emsps.has(r.emsp) || v.tokens.has(`${r.cpo}${SEP}${r.token}`);
const seesLine = (v: Viewer, l: SettlementLine) => v.staff || v.cpos.has(l.cpo) || v.emsps.has(l.emsp);

/** The Wh of a CDR's session covered by certificates cancelled for its driver (charging.origin), or null before any run covered it. */
const localWhOf = (state: State, r: CdrRow) => (r as CdrRow & { localWh?: number | null }).localWh ?? findOrigin(state, r.cpo, r.id)?.localWh ?? null;

/** A CDR row without its OCPI document (GET /v1/charging/cdrs/:cpo/:id has it), with its local Wh. */
function summary(state: State, r: CdrRow) {
  const { cdr: _cdr, ...rest } = r;
  return { ...rest, localWh: localWhOf(state, r) };
}

/** The month's settlement lines: the recorded ones once charging.settle is in the log, else the lines it would have now. */
function monthLines(state: State, month: string): { settled: boolean; entry: number | null; lines: SettlementLine[] } {
  const s = state.get('charging_settlements', month) as unknown as SettlementRow | undefined;
  return s ? { settled: true, entry: s.entry, lines: s.lines } : { settled: false, entry: null, lines: planChargingSettle(state, month) };
}

// ---------------------------------------------------------------------------------------------
// The statement of a party

const money = (micro: number | null) => (micro === null ? '' : formatDecimal(micro, 6));
const CSV_COLUMNS = ['kind', 'month', 'cpo', 'emsp', 'currency', 'cdr', 'credit_of', 'start', 'end', 'location', 'token', 'energy_wh', 'excl_vat', 'incl_vat', 'cdrs', 'credits'] as const;

/**
 * csvCell quotes a cell (RFC 4180) when it holds the separator, a quote or a line break, and
 * defuses text a spreadsheet would run as a formula (= + - @ at the start, not a number).
 */
export function csvCell(v: string): string {
  const text = /^[=+\-@\t\r]/.test(v) && !/^-?\d+(\.\d+)?$/.test(v) ? `'${v}` : v;
  return /[;"\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * statementCsv: a party's month as CSV (";" separated, a header row): one `line` row per
 * settlement line (CPO, eMSP, currency: net energy and amounts, CDR and credit counts),
 * then one `cdr` row per CDR behind the lines (credits negative). Amounts in the
 * currency's units with 6 decimals: the log's micro-units, exactly.
 */
export function statementCsv(month: string, lines: readonly SettlementLine[], cdrs: readonly CdrRow[]): string {
  const rows: string[][] = [
    ...lines.map((l) => ['line', month, l.cpo, l.emsp, l.currency, '', '', '', '', '', '', String(l.energyWh), money(l.netExclMicro), money(l.netInclMicro), String(l.cdrs), String(l.credits)]),
    ...cdrs.map((r) => ['cdr', month, r.cpo, r.emsp, r.currency, r.id, r.creditOf ?? '', r.start, r.end, r.location, r.token, String(r.importWh), money(r.exclMicro), money(r.inclMicro), '', '']),
  ];
  return [CSV_COLUMNS.join(';'), ...rows.map((r) => r.map(csvCell).join(';'))].join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// Pricing without the log

/** A session to price: its start and end, charging periods, and the reservation if any (an OCPI Session is also accepted). */
export const PRICE_SESSION = z.strictObject({
  start_date_time: ocpiDateTime,
  end_date_time: ocpiDateTime,
  charging_periods: z.array(chargingPeriod).min(1),
  reservation: z.enum(['RESERVATION', 'RESERVATION_EXPIRES']).nullable().optional(),
});

export const PRICE_REQUEST = z.strictObject({
  /** Default: the one tariff the CDR carries. */
  tariff: tariffSchema.optional(),
  cdr: cdrSchema.optional(),
  session: z.union([PRICE_SESSION, ocpiSessionSchema]).optional(),
  /** IANA zone the tariff's times are read in; default: the CDR's or session's location in the log, else the community's. */
  timeZone: z.string().min(1).max(64).optional(),
});
export type PriceRequest = z.infer<typeof PRICE_REQUEST>;

/** The answer of POST /v1/charging/price: OCPI totals, the integer costs per dimension, and for a CDR the CDR priced and whether its own totals agree. */
export interface PriceAnswer {
  tariff: string;
  currency: string;
  timeZone: string;
  timeZoneFrom: 'request' | 'location' | 'community';
  totals: ReturnType<typeof ocpiTotals>;
  costs: Omit<PricedSession, 'currency' | 'tariffId'>;
  cdr?: OcpiCdr;
  /** For a CDR (or a Session stating its total_cost): the first total that differs from what its tariff gives (charging.cdr would refuse it with E_CDR_PRICE), or null. */
  problem?: { field: string; recorded: unknown; recomputed: unknown } | null;
}

/** Errors of the pricing name fields of the session ("charging_periods.1.dimensions"): in the request they are under body.cdr or body.session. */
function within<T>(prefix: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof OpenlecError) throw new OpenlecError(e.code, e.field && e.message.startsWith(e.field) ? `${prefix}.${e.message}` : `${prefix}: ${e.message}`, { field: e.field ? `${prefix}.${e.field}` : prefix, details: e.details });
    throw e;
  }
}

/**
 * priceRequest prices a CDR's or a session's charging periods under a tariff, with the
 * functions charging.cdr uses on apply (compileTariff, pricingSession, priceSession,
 * ocpiTotals). Pure but for reading the log's locations and the community's zone.
 */
export function priceRequest(state: State, body: PriceRequest): PriceAnswer {
  if ((body.cdr === undefined) === (body.session === undefined)) throw new OpenlecError('E_REQUEST', 'body: give either cdr or session', { field: body.cdr ? 'body.session' : 'body.cdr' });
  const tariff = body.tariff ?? (body.cdr?.tariffs?.length === 1 ? body.cdr.tariffs[0]! : undefined);
  if (!tariff) throw new OpenlecError('E_REQUEST', `body.tariff: is required${body.cdr?.tariffs?.length ? ': the CDR carries several tariffs' : ''}`, { field: 'body.tariff' });
  let what: 'cdr' | 'session';
  let start: string;
  let end: string | undefined;
  let periods: OcpiChargingPeriod[] | undefined;
  let reservation: PricingSessionReservation;
  let location: LocationRow | undefined;
  if (body.cdr) {
    what = 'cdr';
    if (body.cdr.currency !== tariff.currency) throw new OpenlecError('E_CDR_CURRENCY', `body.cdr.currency ${body.cdr.currency} is not the tariff's ${tariff.currency}`, { field: 'body.cdr.currency' });
    ({ start_date_time: start, end_date_time: end, charging_periods: periods } = body.cdr);
    location = findLocation(state, partyRef(body.cdr.country_code, body.cdr.party_id), body.cdr.cdr_location.id.toUpperCase());
  } else {
    what = 'session';
    const s = body.session!;
    start = s.start_date_time;
    end = s.end_date_time;
    periods = s.charging_periods;
    reservation = 'reservation' in s ? s.reservation : undefined;
    if ('location_id' in s) {
      location = findLocation(state, partyRef(s.country_code, s.party_id), s.location_id.toUpperCase());
      // An unfinished OCPI Session is priced up to its last_updated (as `openlec charging price`).
      end ??= s.last_updated;
      if (s.currency !== tariff.currency) throw new OpenlecError('E_CDR_CURRENCY', `body.session.currency ${s.currency} is not the tariff's ${tariff.currency}`, { field: 'body.session.currency' });
    }
    if (!periods || periods.length === 0) throw new OpenlecError('E_REQUEST', 'body.session.charging_periods: a session is priced from its charging periods', { field: 'body.session.charging_periods' });
  }
  const zone = community(state)?.timeZone;
  const [timeZone, timeZoneFrom] = body.timeZone !== undefined ? [body.timeZone, 'request' as const] : location ? [location.timeZone, 'location' as const] : [zone, 'community' as const];
  if (timeZone === undefined) throw new OpenlecError('E_REQUEST', 'body.timeZone: this log has no community yet, name the zone', { field: 'body.timeZone' });
  const compiled = within('body.tariff', () => compileTariff(tariff, timeZone));
  const priced = within(`body.${what}`, () => priceSession(compiled, pricingSession(start, end!, periods!, reservation)));
  const { currency, tariffId: _id, ...costs } = priced;
  const totals = ocpiTotals(priced);
  const answer: PriceAnswer = { tariff: tariff.id, currency, timeZone, timeZoneFrom, totals, costs };
  if (body.cdr) {
    const { total_fixed_cost: _f, total_energy_cost: _e, total_time_cost: _t, total_parking_time: _pt, total_parking_cost: _p, total_reservation_cost: _r, ...rest } = body.cdr;
    answer.cdr = { ...rest, ...totals };
    answer.problem = cdrPriceProblem(body.cdr, priced);
  } else if (body.session && 'total_cost' in body.session && body.session.total_cost !== undefined) {
    const stated = body.session.total_cost;
    answer.problem = jcs(stated) === jcs(totals.total_cost) ? null : { field: 'total_cost', recorded: stated, recomputed: totals.total_cost };
  }
  return answer;
}
type PricingSessionReservation = 'RESERVATION' | 'RESERVATION_EXPIRES' | null | undefined;

// ---------------------------------------------------------------------------------------------

export function chargingRoutes(ledger: LedgerStore): Route[] {
  const state = () => ledger.state;
  return [
    {
      method: 'GET', url: '/v1/charging/parties', operationId: 'listChargingParties', tags: ['charging'], response: CHARGING_PARTIES, summary: 'Roaming parties (OCPI country code and party id, role CPO or EMSP, trading name, the key that signs for it): public.', access: 'public',
      handler: () => ([...state().rows('charging_parties')] as unknown as PartyRow[]).sort((a, b) => (a.party + a.role < b.party + b.role ? -1 : 1)),
    },
    {
      method: 'GET', url: '/v1/charging/locations', operationId: 'listChargingLocations', tags: ['charging'], response: CHARGING_LOCATIONS, summary: 'Published charging locations (OCPI Location, time zone, the community meter their chargers sit behind): public; a location with publish false (a home charger) is not listed.', access: 'public',
      handler: () => ([...state().rows('charging_locations')] as unknown as LocationRow[]).filter((l) => l.location.publish).sort((a, b) => (a.cpo + SEP + a.id < b.cpo + SEP + b.id ? -1 : 1)),
    },
    {
      method: 'GET', url: '/v1/charging/tariffs', operationId: 'listChargingTariffs', tags: ['charging'], response: CHARGING_TARIFFS, summary: 'The current version of each CPO\'s tariffs (OCPI Tariff; earlier versions stay in the log for the CDRs priced with them): public.', access: 'public',
      handler: () => ([...state().rows('charging_parties')] as unknown as PartyRow[]).filter((p) => p.role === 'CPO').sort((a, b) => (a.party < b.party ? -1 : 1))
        .flatMap((p) => currentTariffs(state(), p.party)) as TariffRow[],
    },
    {
      method: 'GET', url: '/v1/charging/cdrs', operationId: 'listChargingCdrs', tags: ['charging'], response: CHARGING_CDRS, summary: 'CDRs (without the OCPI document), optionally of one settlement month: a CPO its own, an eMSP its own, staff all, a member those of the tokens linked to them.', access: { roles: [...STAFF, ...PARTIES, 'member'] },
      query: MONTH_OPT,
      handler: ({ query, session }) => {
        const v = viewerOf(state(), session);
        const rows = query.month !== undefined ? cdrsOfMonth(state(), query.month) : ([...state().rows('charging_cdrs')] as unknown as CdrRow[]).sort((a, b) => a.entry - b.entry);
        return rows.filter((r) => seesCdr(v, r)).map((r) => summary(state(), r));
      },
    },
    {
      method: 'GET', url: '/v1/charging/cdrs/:cpo/:id', operationId: 'getChargingCdr', tags: ['charging'], response: CHARGING_CDR, summary: 'One CDR with its OCPI document and integer costs: its CPO, its eMSP, staff, and the driver whose token it is.', access: { roles: [...STAFF, ...PARTIES, 'member'] },
      params: z.object({ cpo: PARTY, id: CDR_ID }),
      handler: ({ params, session }) => {
        const r = findCdr(state(), params.cpo, params.id);
        if (!r) throw new OpenlecError('E_NOT_FOUND', `CDR ${params.id} of ${params.cpo} is not recorded`, { field: 'params.id' });
        if (!seesCdr(viewerOf(state(), session), r)) throw new OpenlecError('E_FORBIDDEN', `CDR ${params.id} of ${params.cpo} is not yours`, { field: 'params.id' });
        return { ...r, localWh: localWhOf(state(), r) };
      },
    },
    {
      method: 'GET', url: '/v1/charging/settlements/:month', operationId: 'getChargingSettlement', tags: ['charging', 'settlement'], response: CHARGING_SETTLEMENT, summary: 'A month\'s roaming settlement (what each eMSP owes each CPO, per currency): the recorded lines once settled, else the lines as they stand (settled: false). Staff see all lines, a CPO or eMSP its own.', access: { roles: [...STAFF, ...PARTIES] },
      params: MONTH,
      handler: ({ params, session }) => {
        const v = viewerOf(state(), session);
        const m = monthLines(state(), params.month);
        return { month: params.month, settled: m.settled, entry: m.entry, lines: m.lines.filter((l) => seesLine(v, l)) };
      },
    },
    {
      method: 'GET', url: '/v1/charging/statement', operationId: 'getChargingStatement', tags: ['charging'], response: CHARGING_STATEMENT, alsoText: { contentType: 'text/csv', when: 'for format=csv: the statement\'s lines and CDRs, separated by semicolons' }, example: CHARGING_STATEMENT_EXAMPLE, summary: 'A party\'s statement of a month: its settlement lines and the CDRs behind them, as JSON or CSV (";", header row). The party\'s own key, or staff.', access: { roles: [...STAFF, ...PARTIES] },
      query: MONTH.extend({ party: PARTY, format: z.enum(['json', 'csv']).default('json') }),
      handler: ({ query, session, reply }) => {
        const s = state();
        const rows = (['CPO', 'EMSP'] as const).map((role) => findParty(s, query.party, role)).filter((p): p is PartyRow => p !== undefined);
        if (rows.length === 0) throw new OpenlecError('E_NOT_FOUND', `${query.party} is not a registered party`, { field: 'query.party' });
        if (!isStaff(session) && !rows.some((p) => p.key === session!.key)) throw new OpenlecError('E_FORBIDDEN', `the statement of ${query.party} is for its own key or staff`, { field: 'query.party' });
        // A party registered in both roles under two keys: each key sees the role it signs for.
        const signsFor = (p: PartyRow) => isStaff(session) || p.key === session!.key;
        const asCpo = rows.some((p) => p.role === 'CPO' && signsFor(p));
        const asEmsp = rows.some((p) => p.role === 'EMSP' && signsFor(p));
        const mine = (x: { cpo: string; emsp: string }) => (asCpo && x.cpo === query.party) || (asEmsp && x.emsp === query.party);
        const m = monthLines(s, query.month);
        const lines = m.lines.filter(mine);
        const cdrs = cdrsOfMonth(s, query.month).filter(mine);
        if (query.format === 'csv') {
          reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="charging-${query.party.replace('*', '-')}-${query.month}.csv"`);
          return statementCsv(query.month, lines, cdrs);
        }
        return { party: query.party, roles: rows.map((p) => p.role), name: rows[0]!.name, month: query.month, settled: m.settled, entry: m.entry, lines, cdrs: cdrs.map((r) => summary(s, r)) };
      },
    },
    {
      method: 'GET', url: '/v1/charging/plan/settle', operationId: 'planChargingSettlement', tags: ['charging', 'settlement'], response: CHARGING_SETTLE_PLAN, summary: 'The body of a charging.settle for a month, recomputed from the log\'s CDRs (operator): sign `body` after `opensAt`, the month\'s end, and POST it to /v1/transactions.', access: { roles: ['operator'] },
      query: MONTH,
      handler: ({ query }) => {
        const s = state();
        if (s.get('charging_settlements', query.month)) throw new OpenlecError('E_CHARGING_SETTLED', `charging of ${query.month} is already settled`, { field: 'query.month' });
        const opensAt = formatInstant(localDay(monthDays(query.month).at(-1)!, community(s)!.timeZone).endMs);
        return { opensAt, body: { month: query.month, lines: planChargingSettle(s, query.month) } };
      },
    },
    {
      method: 'POST', url: '/v1/charging/price', operationId: 'priceCharging', tags: ['charging'], response: CHARGING_PRICE, summary: 'Price a CDR or a session under an OCPI tariff, exactly as charging.cdr does (integer micro-units, step_size, min/max, VAT per component): OCPI totals and the cost of each dimension; for a CDR, the CDR priced and the first total of its own that differs. Writes nothing: public.', access: 'public',
      body: PRICE_REQUEST,
      handler: ({ body }) => priceRequest(state(), body as PriceRequest),
    },
    {
      method: 'GET', url: '/v1/charging/mine', operationId: 'listMyCharging', tags: ['charging'], response: MY_CHARGING, summary: 'The logged-in member\'s charging sessions (the CDRs of tokens a CPO linked to them, charging.driver), optionally of one month: energy, cost, the local share where known, and totals per currency.', access: { roles: ROLES },
      query: MONTH_OPT,
      handler: ({ query, session }) => {
        const cdrs = driverCdrs(state(), session!.key).filter((r) => query.month === undefined || r.month === query.month);
        const sessions = cdrs.map((r) => {
          const s = summary(state(), r);
          return {
            cpo: s.cpo, id: s.id, location: s.location, month: s.month, start: s.start, end: s.end, currency: s.currency, energyWh: s.importWh, exportWh: s.exportWh,
            exclMicro: s.exclMicro, inclMicro: s.inclMicro, credit: s.credit === 1, creditOf: s.creditOf, creditedBy: s.creditedBy, localWh: s.localWh,
            costs: { fixedMicro: r.costs.fixed.excl, energyMicro: r.costs.energy.excl, timeMicro: r.costs.time.excl, parkingMicro: r.costs.parking.excl, reservationMicro: r.costs.reservation.excl },
          };
        });
        const totals = new Map<string, { currency: string; sessions: number; energyWh: number; exclMicro: number; inclMicro: number; localWh: number | null }>();
        for (const s of sessions) {
          let t = totals.get(s.currency);
          if (!t) totals.set(s.currency, (t = { currency: s.currency, sessions: 0, energyWh: 0, exclMicro: 0, inclMicro: 0, localWh: null }));
          // A credited CDR and its credit cancel: the session counts once, through its correction.
          if (!s.credit && s.creditedBy === null) t.sessions++;
          t.energyWh += s.energyWh;
          t.exclMicro += s.exclMicro;
          t.inclMicro += s.inclMicro ?? s.exclMicro;
          if (s.localWh !== null) t.localWh = (t.localWh ?? 0) + s.localWh;
        }
        return { member: session!.key, month: query.month ?? null, sessions, totals: [...totals.values()] };
      },
    },
  ];
}
