import { z } from 'zod';
import { monthDays } from '../allocation/month.ts';
import { actorKey } from '../community/community-create.ts';
import { community, participant } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import { jcs } from '../ledger/jcs.ts';
import { findMeter } from '../metering/meter-register.ts';
import { earliestTime, latestTime } from '../state/apply.ts';
import { type ApplyContext, defineTx } from '../state/registry.ts';
import type { State } from '../state/tables.ts';
import { assertTimeZone, formatInstant, localDateOf, localDay } from '../units/index.ts';
import { cdr as cdrSchema, location as locationSchema, ocpiMs, type OcpiCdr, type OcpiTariff, tariff as tariffSchema } from './ocpi.ts';
import { compileTariff, ocpiTotals, type PricedSession, priceSession, pricingSession } from './price.ts';
import {
  CDRS_TABLE, type CdrCosts, type CdrRow, findCdr, findLocation, findParty, findTariffVersion, LOCATIONS_TABLE, PARTIES_TABLE, PARTY_ROLES, partyRef, type PartyRole, type PartyRow,
  SETTLEMENTS_TABLE, type SettlementLine, TARIFFS_TABLE, type TariffRow, currentTariffs,
} from './tables.ts';
import { PSEUDONYM } from './token.ts';

const ALL_TABLES = [PARTIES_TABLE, LOCATIONS_TABLE, TARIFFS_TABLE, CDRS_TABLE, SETTLEMENTS_TABLE];
const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;

/** The CPO party a signed OCPI object belongs to: its country code and party id must be a CPO the actor signs for. */
function cpoOf(ctx: ApplyContext, countryCode: string, partyId: string, field: string): PartyRow {
  const ref = partyRef(countryCode, partyId);
  const party = findParty(ctx.state, ref, 'CPO');
  if (!party) throw new OpenlecError('E_UNKNOWN_PARTY', `${field}: ${ref} is not a registered CPO`, { field });
  if (party.key !== ctx.tx.actor) throw new OpenlecError('E_NOT_PARTY', `${field}: ${ref} is signed for by another key`, { field });
  return party;
}

/**
 * charging.party (operator): a roaming party by OCPI country code and party id. A CPO
 * needs a participant key with role `cpo`, which signs its locations, tariffs and CDRs;
 * an eMSP may have one (role `emsp`) to read its statements. Company names only.
 */
export const chargingParty = defineTx({
  type: 'charging.party',
  roles: ['operator'],
  tables: ALL_TABLES,
  body: z.strictObject({
    role: z.enum(PARTY_ROLES),
    country_code: z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 country code, upper case'),
    party_id: z.string().regex(/^[A-Z0-9]{3}$/, 'must be 3 upper-case letters or digits (ISO 15118 party id)'),
    name: z.string().min(1).max(100),
    key: actorKey.nullable().default(null),
  }),
  apply({ state, entry }, body) {
    const party = partyRef(body.country_code, body.party_id);
    if (findParty(state, party, body.role)) throw new OpenlecError('E_PARTY_EXISTS', `${body.role} ${party} is already registered`, { field: 'body.party_id' });
    const need = body.role === 'CPO' ? 'cpo' : 'emsp';
    if (body.role === 'CPO' && body.key === null) throw new OpenlecError('E_PARTY_KEY', 'a CPO needs the key that signs its CDRs', { field: 'body.key' });
    if (body.key !== null && !participant(state, body.key)?.roles.includes(need)) {
      throw new OpenlecError('E_PARTY_KEY', `${body.key} is not a participant with the ${need} role`, { field: 'body.key' });
    }
    state.put('charging_parties', { party, role: body.role, countryCode: body.country_code, partyId: body.party_id, name: body.name, key: body.key, entry });
  },
});

/**
 * charging.location (CPO): an OCPI Location (PUT: a later one replaces it), and the
 * community import meter its chargers sit behind, if any: charging there is also
 * consumption of that meter, which allocation and the P2P market see. Its time_zone is
 * the zone the tariffs' time restrictions are read in.
 */
export const chargingLocation = defineTx({
  type: 'charging.location',
  roles: ['cpo'],
  tables: ALL_TABLES,
  body: z.strictObject({ location: locationSchema, meter: z.string().min(1).max(64).nullable().default(null) }),
  apply(ctx, body) {
    const { state, tx, entry } = ctx;
    const loc = body.location;
    const cpo = cpoOf(ctx, loc.country_code, loc.party_id, 'body.location.party_id');
    assertTimeZone(loc.time_zone, 'body.location.time_zone');
    const before = findLocation(state, cpo.party, loc.id.toUpperCase());
    if (before && before.timeZone !== loc.time_zone) {
      throw new OpenlecError('E_LOCATION_ZONE', `body.location.time_zone: location ${loc.id} is in ${before.timeZone}; its recorded CDRs were priced in that zone, so it cannot move to ${loc.time_zone}`, { field: 'body.location.time_zone' });
    }
    if (loc.publish_allowed_to !== undefined) {
      throw new OpenlecError('E_LOCATION_PERSONAL', 'body.location.publish_allowed_to names tokens and their holders: personal data stays off the log', { field: 'body.location.publish_allowed_to' });
    }
    if (body.meter !== null) {
      const meter = findMeter(state, body.meter, 'import');
      if (!meter) throw new OpenlecError('E_UNKNOWN_METER', `meter ${body.meter} (import) is not registered`, { field: 'body.meter' });
      if (meter.owner !== tx.actor) throw new OpenlecError('E_METER_OWNER', `meter ${body.meter} belongs to another participant: a CPO links its own metering point`, { field: 'body.meter' });
    }
    state.put('charging_locations', { cpo: cpo.party, id: loc.id.toUpperCase(), timeZone: loc.time_zone, meter: body.meter, location: loc as never, entry });
  },
});

/** charging.tariff (CPO): a version of an OCPI Tariff; a new version has a later last_updated, and versions are kept (CDRs carry copies of theirs). */
export const chargingTariff = defineTx({
  type: 'charging.tariff',
  roles: ['cpo'],
  tables: ALL_TABLES,
  body: z.strictObject({ tariff: tariffSchema }),
  apply(ctx, body) {
    const t = body.tariff;
    const cpo = cpoOf(ctx, t.country_code, t.party_id, 'body.tariff.party_id');
    const id = t.id.toUpperCase();
    if (findTariffVersion(ctx.state, cpo.party, id, t.last_updated)) throw new OpenlecError('E_TARIFF_VERSION', `tariff ${t.id} version ${t.last_updated} is already recorded: a new version needs a new last_updated`, { field: 'body.tariff.last_updated' });
    const latest = currentTariffs(ctx.state, cpo.party).find((r) => r.id === id);
    if (latest && ocpiMs(latest.version) >= ocpiMs(t.last_updated)) {
      throw new OpenlecError('E_TARIFF_VERSION', `tariff ${t.id}: last_updated ${t.last_updated} is not after the recorded version ${latest.version}`, { field: 'body.tariff.last_updated' });
    }
    // Refuses a tariff the pricing cannot read (a bad VAT or bound) now rather than at its first CDR.
    compileTariff(t, community(ctx.state)!.timeZone);
    ctx.state.put('charging_tariffs', { cpo: cpo.party, id, version: t.last_updated, recordedAt: ctx.tx.issuedAt, tariff: t as never, entry: ctx.entry });
  },
});

const COST_FIELDS = ['total_cost', 'total_fixed_cost', 'total_energy_cost', 'total_time_cost', 'total_parking_cost', 'total_reservation_cost'] as const;

/** The month a CDR is settled in: its end's local month, or, when that is settled already, the first unsettled month from the operator's time on. */
export function cdrMonth(state: State, endMs: number, at: number): string {
  const zone = community(state)!.timeZone;
  let month = localDateOf(endMs, zone).slice(0, 7);
  if (state.get('charging_settlements', month)) month = localDateOf(Math.max(endMs, at), zone).slice(0, 7);
  while (state.get('charging_settlements', month)) month = nextMonth(month);
  return month;
}

const nextMonth = (m: string) => {
  const [y, mo] = [Number(m.slice(0, 4)), Number(m.slice(5, 7))];
  return mo === 12 ? `${y + 1}-01` : `${y}-${String(mo + 1).padStart(2, '0')}`;
};

/** priceCdr prices an OCPI CDR's charging periods under its tariff copy, in the location's time zone. */
export function priceCdr(cdr: OcpiCdr, tariff: OcpiTariff, timeZone: string): PricedSession {
  return priceSession(compileTariff(tariff, timeZone), pricingSession(cdr.start_date_time, cdr.end_date_time, cdr.charging_periods));
}

const costsOf = (p: PricedSession): CdrCosts => ({
  fixed: p.fixed, energy: p.energy, time: p.time, parking: p.parking, reservation: p.reservation, total: p.total, timeStep: p.timeStep, importWh: p.importWh, exportWh: p.exportWh, seconds: p.seconds,
});

/** What a recorded CDR must say, from the log's tariff version and location: the first field that differs, or null. */
export function cdrPriceProblem(cdr: OcpiCdr, priced: PricedSession): { field: string; recorded: unknown; recomputed: unknown } | null {
  const ours = ocpiTotals(priced) as Record<string, unknown>;
  for (const f of COST_FIELDS) {
    if (jcs(cdr[f] ?? null) !== jcs(ours[f] ?? null)) return { field: f, recorded: cdr[f] ?? null, recomputed: ours[f] ?? null };
  }
  const close = (a: number, b: number, eps: number) => Math.abs(a - b) <= eps;
  if (!close(cdr.total_energy, priced.importWh / 1000, 0.0005)) return { field: 'total_energy', recorded: cdr.total_energy, recomputed: priced.importWh / 1000 };
  if (!close(cdr.total_time, (priced.time.quantity + priced.parking.quantity) / 3600, 0.001)) return { field: 'total_time', recorded: cdr.total_time, recomputed: ours.total_time };
  if (!close(cdr.total_parking_time ?? 0, priced.parking.quantity / 3600, 0.001)) return { field: 'total_parking_time', recorded: cdr.total_parking_time ?? null, recomputed: ours.total_parking_time ?? null };
  return null;
}

/**
 * charging.cdr (CPO): an OCPI 2.2.1 CDR, priced again on apply from the recorded tariff
 * version and the location's time zone; a CDR whose costs differ from the recomputed
 * ones is refused, naming the field. The token must be a pseudonym (32 hex digits, a
 * keyed hash: token.ts), free-text remarks stay off the log. A credit CDR (`credit`,
 * `credit_reference_id`) reverses a recorded one with negated costs: corrections never
 * edit a CDR.
 */
export const chargingCdr = defineTx({
  type: 'charging.cdr',
  roles: ['cpo'],
  tables: ALL_TABLES,
  body: z.strictObject({ cdr: cdrSchema }),
  apply(ctx, body) {
    const { state, entry } = ctx;
    const c = body.cdr;
    const cpo = cpoOf(ctx, c.country_code, c.party_id, 'body.cdr.party_id');
    const id = c.id.toUpperCase();
    if (findCdr(state, cpo.party, id)) throw new OpenlecError('E_CDR_EXISTS', `CDR ${c.id} of ${cpo.party} is already recorded: a correction is a credit CDR and a new CDR`, { field: 'body.cdr.id' });
    const emsp = partyRef(c.cdr_token.country_code, c.cdr_token.party_id);
    if (!findParty(state, emsp, 'EMSP')) throw new OpenlecError('E_UNKNOWN_EMSP', `body.cdr.cdr_token: ${emsp} is not a registered eMSP`, { field: 'body.cdr.cdr_token.party_id' });
    for (const k of ['uid', 'contract_id'] as const) {
      if (!PSEUDONYM.test(c.cdr_token[k])) {
        throw new OpenlecError('E_CDR_TOKEN', `body.cdr.cdr_token.${k} must be the token's pseudonym (32 hex digits, a keyed hash), never the card or contract id itself`, { field: `body.cdr.cdr_token.${k}` });
      }
    }
    if (c.remark !== undefined) throw new OpenlecError('E_CDR_PERSONAL', 'body.cdr.remark is free text that may hold personal data: it stays off the log', { field: 'body.cdr.remark' });
    if (c.signed_data !== undefined) {
      throw new OpenlecError('E_CDR_PERSONAL', 'body.cdr.signed_data carries the charger\'s signed meter values with the card id in clear: keep it with the CPO (off the log)', { field: 'body.cdr.signed_data' });
    }
    if (c.meter_id !== undefined && !/^[A-Za-z0-9*._:-]{1,64}$/.test(c.meter_id)) {
      throw new OpenlecError('E_CDR_PERSONAL', 'body.cdr.meter_id must be an identifier (letters, digits, * . _ : -), not free text', { field: 'body.cdr.meter_id' });
    }
    const loc = findLocation(state, cpo.party, c.cdr_location.id.toUpperCase());
    if (!loc) throw new OpenlecError('E_UNKNOWN_LOCATION', `body.cdr.cdr_location.id: location ${c.cdr_location.id} of ${cpo.party} is not registered`, { field: 'body.cdr.cdr_location.id' });
    if (loc.location.evses && !loc.location.evses.some((e) => e.uid.toUpperCase() === c.cdr_location.evse_uid.toUpperCase())) {
      throw new OpenlecError('E_UNKNOWN_EVSE', `body.cdr.cdr_location.evse_uid: EVSE ${c.cdr_location.evse_uid} is not at location ${c.cdr_location.id}`, { field: 'body.cdr.cdr_location.evse_uid' });
    }
    if (!c.tariffs || c.tariffs.length !== 1) throw new OpenlecError('E_CDR_TARIFF', 'body.cdr.tariffs must hold the one tariff the session was priced with', { field: 'body.cdr.tariffs' });
    const tariff = c.tariffs[0]!;
    const version = findTariffVersion(state, cpo.party, tariff.id.toUpperCase(), tariff.last_updated);
    if (!version || jcs(version.tariff) !== jcs(tariff)) {
      throw new OpenlecError('E_CDR_TARIFF', `body.cdr.tariffs.0: tariff ${tariff.id} version ${tariff.last_updated} is not a recorded version of ${cpo.party}'s tariffs`, { field: 'body.cdr.tariffs.0' });
    }
    const inForce = tariffInForce(state, cpo.party, tariff.id.toUpperCase(), ocpiMs(c.start_date_time));
    if (!c.credit && inForce?.version !== tariff.last_updated) {
      throw new OpenlecError('E_CDR_TARIFF', `body.cdr.tariffs.0: version ${tariff.last_updated} of tariff ${tariff.id} was not the one in force at the session's start (${inForce ? `that is ${inForce.version}` : 'none was recorded yet'})`, { field: 'body.cdr.tariffs.0.last_updated' });
    }
    const connectorOf = loc.location.evses?.find((e) => e.uid.toUpperCase() === c.cdr_location.evse_uid.toUpperCase())?.connectors.find((k) => k.id.toUpperCase() === c.cdr_location.connector_id.toUpperCase());
    if (loc.location.evses && !connectorOf) {
      throw new OpenlecError('E_UNKNOWN_CONNECTOR', `body.cdr.cdr_location.connector_id: connector ${c.cdr_location.connector_id} is not on EVSE ${c.cdr_location.evse_uid}`, { field: 'body.cdr.cdr_location.connector_id' });
    }
    if (connectorOf?.tariff_ids && connectorOf.tariff_ids.length > 0 && !connectorOf.tariff_ids.some((t) => t.toUpperCase() === tariff.id.toUpperCase())) {
      throw new OpenlecError('E_CDR_TARIFF', `body.cdr.tariffs.0: tariff ${tariff.id} is not among the connector's tariffs (${connectorOf.tariff_ids.join(', ')})`, { field: 'body.cdr.tariffs.0.id' });
    }
    if (c.currency !== tariff.currency) throw new OpenlecError('E_CDR_CURRENCY', `body.cdr.currency ${c.currency} is not the tariff's ${tariff.currency}`, { field: 'body.cdr.currency' });
    c.charging_periods.forEach((p, i) => {
      if (p.tariff_id !== undefined && p.tariff_id.toUpperCase() !== tariff.id.toUpperCase()) {
        throw new OpenlecError('E_CDR_TARIFF', `body.cdr.charging_periods.${i}.tariff_id ${p.tariff_id} is not the CDR's tariff`, { field: `body.cdr.charging_periods.${i}.tariff_id` });
      }
    });
    const endMs = ocpiMs(c.end_date_time);
    const at = latestTime(ctx);
    if (endMs > earliestTime(ctx)) throw new OpenlecError('E_CDR_FUTURE', `body.cdr.end_date_time ${c.end_date_time} is after the operator's time ${formatInstant(at)}: a CDR follows a finished session`, { field: 'body.cdr.end_date_time' });

    let priced: PricedSession;
    try {
      priced = priceCdr(c, tariff, loc.timeZone);
    } catch (e) {
      if (e instanceof OpenlecError && e.field) throw new OpenlecError(e.code, `body.cdr.${e.message}`, { field: `body.cdr.${e.field}` });
      throw e;
    }
    let creditOf: CdrRow | null = null;
    if (c.credit) {
      const ref = c.credit_reference_id?.toUpperCase();
      creditOf = ref === undefined ? null : (findCdr(state, cpo.party, ref) ?? null);
      if (!creditOf || creditOf.credit) throw new OpenlecError('E_CDR_CREDIT', `body.cdr.credit_reference_id: ${c.credit_reference_id ?? '(missing)'} is not a recorded CDR of ${cpo.party}`, { field: 'body.cdr.credit_reference_id' });
      if (creditOf.creditedBy) throw new OpenlecError('E_CDR_CREDIT', `CDR ${creditOf.id} is already credited by ${creditOf.creditedBy}`, { field: 'body.cdr.credit_reference_id' });
      const o = creditOf.cdr;
      for (const f of ['cdr_token', 'cdr_location', 'start_date_time', 'end_date_time', 'charging_periods', 'currency'] as const) {
        if (jcs(o[f]) !== jcs(c[f])) throw new OpenlecError('E_CDR_CREDIT', `body.cdr.${f} differs from the credited CDR's: a credit CDR repeats it`, { field: `body.cdr.${f}` });
      }
      for (const f of COST_FIELDS) {
        const want = o[f] === undefined ? undefined : { excl_vat: -o[f]!.excl_vat || 0, ...(o[f]!.incl_vat === undefined ? {} : { incl_vat: -o[f]!.incl_vat || 0 }) };
        if (jcs(c[f] ?? null) !== jcs(want ?? null)) throw new OpenlecError('E_CDR_CREDIT', `body.cdr.${f} must be the credited CDR's, negated`, { field: `body.cdr.${f}` });
      }
    } else {
      if (c.credit_reference_id !== undefined) throw new OpenlecError('E_CDR_CREDIT', 'body.cdr.credit_reference_id is for credit CDRs', { field: 'body.cdr.credit_reference_id' });
      const problem = cdrPriceProblem(c, priced);
      if (problem) {
        throw new OpenlecError('E_CDR_PRICE', `body.cdr.${problem.field} is ${jcs(problem.recorded)}, the tariff recorded in the log gives ${jcs(problem.recomputed)}`, {
          field: `body.cdr.${problem.field}`, details: { recorded: problem.recorded, recomputed: problem.recomputed },
        });
      }
      const twin = liveTwin(state, connectorKey(cpo.party, c), c);
      if (twin) {
        throw new OpenlecError('E_CDR_DUPLICATE', `body.cdr: CDR ${twin.id} already bills ${twin.start}..${twin.end} at connector ${c.cdr_location.evse_uid}/${c.cdr_location.connector_id}${c.session_id !== undefined && twin.cdr.session_id === c.session_id ? ` (session ${c.session_id})` : ''}: credit it before billing the session again`, { field: 'body.cdr.start_date_time' });
      }
    }
    const sign = c.credit ? -1 : 1;
    const row: CdrRow = {
      cpo: cpo.party, id, emsp, token: c.cdr_token.uid, location: loc.id, connector: connectorKey(cpo.party, c), month: cdrMonth(state, endMs, at), start: c.start_date_time, end: c.end_date_time, currency: c.currency,
      importWh: sign * priced.importWh, exportWh: sign * priced.exportWh,
      // A credit reverses the exact micro-units of the CDR it credits (its OCPI costs are rounded to 4 decimals).
      exclMicro: creditOf ? -creditOf.exclMicro || 0 : priced.total.excl,
      inclMicro: creditOf ? (creditOf.inclMicro === null ? null : -creditOf.inclMicro || 0) : priced.total.incl,
      credit: c.credit ? 1 : 0, creditOf: creditOf?.id ?? null, creditedBy: null, costs: costsOf(priced), cdr: c, entry,
    };
    state.put('charging_cdrs', row as never);
    if (creditOf) state.put('charging_cdrs', { ...creditOf, creditedBy: id } as never);
  },
});

/** The connector a CDR's session used, as charging_cdrs indexes it. */
export const connectorKey = (cpo: string, c: OcpiCdr) => [cpo, c.cdr_location.id, c.cdr_location.evse_uid, c.cdr_location.connector_id].map((x) => x.toUpperCase()).join('\u001f');

/** A recorded CDR, neither a credit nor credited, that bills the same session (same session_id) or overlaps it in time at the connector. */
function liveTwin(state: State, connector: string, c: OcpiCdr): CdrRow | undefined {
  const start = ocpiMs(c.start_date_time);
  const end = ocpiMs(c.end_date_time);
  return state.lookup<CdrRow>('charging_cdrs', 'connector', connector).find((r) => !r.credit && r.creditedBy === null
    && ((c.session_id !== undefined && r.cdr.session_id === c.session_id) || (ocpiMs(r.start) < end && start < ocpiMs(r.end))));
}

/** The version of a tariff in force at an instant: the last one recorded at or before it. */
export function tariffInForce(state: State, cpo: string, id: string, atMs: number): TariffRow | undefined {
  let best: TariffRow | undefined;
  for (const t of state.lookup<TariffRow>('charging_tariffs', 'cpo', cpo)) {
    if (t.id !== id || ocpiMs(t.recordedAt) > atMs) continue;
    if (!best || t.entry > best.entry) best = t;
  }
  return best;
}

/** The CDRs of a settlement month, in log order. */
export function cdrsOfMonth(state: State, month: string): CdrRow[] {
  return state.lookup<CdrRow>('charging_cdrs', 'month', month).sort((a, b) => a.entry - b.entry);
}

/** planChargingSettle: what each eMSP owes each CPO for the month, per currency: the month's CDRs minus their credits. */
export function planChargingSettle(state: State, month: string): SettlementLine[] {
  const lines = new Map<string, SettlementLine>();
  for (const r of cdrsOfMonth(state, month)) {
    const key = `${r.cpo}\u001f${r.emsp}\u001f${r.currency}`;
    let l = lines.get(key);
    if (!l) {
      l = { cpo: r.cpo, emsp: r.emsp, currency: r.currency, cdrs: 0, credits: 0, energyWh: 0, grossExclMicro: 0, creditExclMicro: 0, netExclMicro: 0, netInclMicro: 0 };
      lines.set(key, l);
    }
    if (r.credit) {
      l.credits++;
      l.creditExclMicro += r.exclMicro;
    } else {
      l.cdrs++;
      l.grossExclMicro += r.exclMicro;
    }
    l.energyWh += r.importWh;
    l.netExclMicro += r.exclMicro;
    l.netInclMicro = (l.netInclMicro ?? 0) + (r.inclMicro ?? r.exclMicro);
  }
  return [...lines.values()].sort((a, b) => (a.cpo + a.emsp + a.currency < b.cpo + b.emsp + b.currency ? -1 : 1));
}

/**
 * charging.settle (operator, after the month's end at the operator's time): the roaming
 * settlement of the month, one line per CPO, eMSP and currency, recomputed on apply from
 * the recorded CDRs. OCPI moves data, not money: the lines are what each eMSP pays each
 * CPO. CDRs that arrive later go to the next month's settlement.
 */
export const chargingSettle = defineTx({
  type: 'charging.settle',
  roles: ['operator'],
  tables: ALL_TABLES,
  body: z.strictObject({
    month: z.string().regex(MONTH, 'must be YYYY-MM'),
    lines: z.array(z.strictObject({
      cpo: z.string(), emsp: z.string(), currency: z.string(), cdrs: z.number().int(), credits: z.number().int(), energyWh: z.number().int(),
      grossExclMicro: z.number().int(), creditExclMicro: z.number().int(), netExclMicro: z.number().int(), netInclMicro: z.number().int().nullable(),
    })).max(100_000),
  }),
  apply(ctx, body) {
    const { state, entry } = ctx;
    if (state.get('charging_settlements', body.month)) throw new OpenlecError('E_CHARGING_SETTLED', `charging of ${body.month} is already settled`, { field: 'body.month' });
    const end = localDay(monthDays(body.month).at(-1)!, community(state)!.timeZone).endMs;
    const at = earliestTime(ctx);
    if (at < end) throw new OpenlecError('E_CHARGING_GATE', `${body.month} ends at ${formatInstant(end)}: it is settled after its end (now ${formatInstant(at)})`, { field: 'body.month' });
    const lines = planChargingSettle(state, body.month);
    if (jcs(lines) !== jcs(body.lines)) {
      const k = lines.findIndex((l, i) => jcs(l) !== jcs(body.lines[i]));
      const i = k < 0 ? lines.length : k;
      throw new OpenlecError('E_CHARGING_SETTLE_MISMATCH', `body.lines.${i} differs from the settlement recomputed from the month's CDRs (${lines.length} lines)`, { field: `body.lines.${i}`, details: { recomputed: lines[i] ?? null } });
    }
    state.put('charging_settlements', { month: body.month, lines, entry } as never);
  },
});

/** The roles a party's key may act in: used by the interfaces to scope what a CPO or eMSP sees. */
export function partyOf(state: State, key: string, role: PartyRole): PartyRow | undefined {
  return state.lookup<PartyRow>('charging_parties', 'key', key).find((p) => p.role === role);
}
