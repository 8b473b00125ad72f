import { makeCdr } from '../charging/cdr.ts';
import type { OcpiCdr, OcpiCdrToken, OcpiChargingPeriod, OcpiLocation, OcpiTariff } from '../charging/ocpi.ts';
import type { CdrRow, SettlementRow } from '../charging/tables.ts';
import { partyRef } from '../charging/tables.ts';
import { tokenPseudonym } from '../charging/token.ts';
import { sha256, utf8 } from '../ledger/index.ts';
import type { State } from '../state/tables.ts';
import { addDays, formatInstant, localDay, MS_PER_MINUTE, splitByWeights } from '../units/index.ts';
import type { SimDay, SimHousehold } from './household.ts';
import { Rng } from './rng.ts';
import type { Scenario } from './scenario.ts';

/**
 * EV charging in a simulation (src/charging): community chargers at one location, behind
 * one import meter of the community's CPO, who is also a member, so its charging is
 * consumption that the readings, the P2P market and the allocation see. Each simulated
 * day draws, from a stream of its own (seed, scenario, date), the sessions of members
 * (paying through the community's own eMSP) and of roaming drivers (through their eMSPs):
 * arrival, energy, dwell. A session takes the first free charger at its arrival (or is
 * turned away when all are busy), charges at the charger's power until its energy is
 * delivered (or it leaves), then stays parked. Its energy goes into the charger meter's
 * intervals; once it is over, the CPO writes its CDR (makeCdr, priced by the scenario's
 * OCPI tariff) and signs charging.cdr; each month is settled (charging.settle) after its end.
 *
 * This module is pure: it plans the bodies to sign; run.ts signs and appends them.
 */

export interface ChargingParty { country_code: string; party_id: string; name: string }
export interface RoamingEmsp extends ChargingParty { share: number }

/** The charging settings of a run, or null when the scenario leaves it off. */
export interface ChargingOptions {
  chargers: number;
  powerKw: number;
  feeder: string | null;
  memberSessionsPerDay: number;
  roamingSessionsPerDay: number;
  arrival: { from: string; to: string };
  kwh: { min: number; max: number };
  dwellMinutes: { min: number; max: number };
  cpo: ChargingParty;
  memberEmsp: ChargingParty;
  emsps: RoamingEmsp[];
  tariff: OcpiTariff;
}

/** The CPO's country from the community's time zone, where it is known (else DE). */
const ZONE_COUNTRY: Record<string, string> = {
  'Europe/Berlin': 'DE', 'Europe/Paris': 'FR', 'Europe/Zurich': 'CH', 'Europe/Vienna': 'AT', 'Europe/Amsterdam': 'NL', 'Europe/Brussels': 'BE',
  'Europe/Madrid': 'ES', 'Europe/Rome': 'IT', 'Europe/Lisbon': 'PT', 'Europe/Copenhagen': 'DK', 'Europe/Stockholm': 'SE', 'Europe/Oslo': 'NO',
  'Europe/London': 'GB', 'Europe/Dublin': 'IE', 'Europe/Luxembourg': 'LU', 'Europe/Prague': 'CZ', 'Europe/Warsaw': 'PL', 'Europe/Helsinki': 'FI',
};
const ALPHA3: Record<string, string> = {
  DE: 'DEU', FR: 'FRA', CH: 'CHE', AT: 'AUT', NL: 'NLD', BE: 'BEL', ES: 'ESP', IT: 'ITA', PT: 'PRT', DK: 'DNK', SE: 'SWE', NO: 'NOR', GB: 'GBR', IE: 'IRL',
  LU: 'LUX', CZ: 'CZE', PL: 'POL', FI: 'FIN',
};

/** The default tariff: 0.50 a session, 0.39 per kWh from 07:00 to 22:00 and 0.29 at night, 3.00 an hour parked after 3 hours; VAT 20 %. */
export function defaultTariff(cpo: ChargingParty, currency: string, start: string): OcpiTariff {
  return {
    country_code: cpo.country_code, party_id: cpo.party_id, id: 'COMMUNITY', currency, type: 'REGULAR',
    elements: [
      { price_components: [{ type: 'FLAT', price: 0.5, vat: 20, step_size: 1 }] },
      { price_components: [{ type: 'ENERGY', price: 0.39, vat: 20, step_size: 1 }], restrictions: { start_time: '07:00', end_time: '22:00' } },
      { price_components: [{ type: 'ENERGY', price: 0.29, vat: 20, step_size: 1 }] },
      { price_components: [{ type: 'PARKING_TIME', price: 3, vat: 20, step_size: 300 }], restrictions: { min_duration: 10_800 } },
    ],
    last_updated: `${addDays(start, -1)}T00:00:00Z`,
  };
}

export function chargingOptions(s: Scenario): ChargingOptions | null {
  const c = s.charging;
  if (c === false) return null;
  const o = c === true ? null : c;
  if (o && !o.enabled) return null;
  const cc = o?.tariff?.country_code ?? ZONE_COUNTRY[s.timeZone] ?? 'DE';
  const cpo = o?.cpo ?? (o?.tariff ? { country_code: o.tariff.country_code, party_id: o.tariff.party_id, name: `${s.name} CPO` } : { country_code: cc, party_id: 'LEC', name: `${s.name} CPO` });
  return {
    chargers: o?.chargers ?? 4, powerKw: o?.powerKw ?? 22, feeder: o?.feeder ?? null,
    memberSessionsPerDay: o?.memberSessionsPerDay ?? 4, roamingSessionsPerDay: o?.roamingSessionsPerDay ?? 8,
    arrival: o?.arrival ?? { from: '07:00', to: '21:00' }, kwh: o?.kwh ?? { min: 5, max: 40 }, dwellMinutes: o?.dwellMinutes ?? { min: 30, max: 240 },
    cpo,
    memberEmsp: o?.memberEmsp ?? { country_code: cpo.country_code, party_id: 'MBR', name: `${s.name} members` },
    emsps: (o?.emsps ?? [
      { country_code: 'NL', party_id: 'EVR', name: 'EV Roaming BV', share: 3 },
      { country_code: 'DE', party_id: 'MSP', name: 'Mobility Service GmbH', share: 2 },
    ]).map((e) => ({ ...e, share: e.share ?? 1 })),
    tariff: o?.tariff ?? defaultTariff(cpo, s.currency, s.start),
  };
}

/** One simulated charging session. */
export interface SimSession {
  id: string;
  kind: 'member' | 'roaming';
  /** partyRef of the driver's eMSP. */
  emsp: string;
  /** The driver's card (never in the log: only its pseudonym). */
  uid: string;
  charger: number;
  /** Local date of arrival. */
  date: string;
  arrivalMs: number;
  chargeEndMs: number;
  endMs: number;
  wh: number;
}

/** What the run counted of its charging as it appended. */
export interface ChargingFacts {
  sessions: number;
  turnedAway: number;
  /** Energy the charger meter bought from other members in the market (its local origin), and what it consumed, Wh. */
  localWh: number;
  consumedWh: number;
  /** Per local date of arrival: sessions, Wh, and the CDRs' total incl. VAT (excl. where the tariff has no VAT), micro-units. */
  perDay: Map<string, { sessions: number; wh: number; revenueMicro: number }>;
  cdrs: number;
  settles: number;
}

export interface PlannedTx { body: Record<string, unknown>; signer: 'operator' | 'cpo'; type: string }

const LOCATION_ID = 'HUB-1';
const DRIVERS_PER_EMSP = 500;
const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/**
 * ChargingSim: the chargers, the sessions in progress, the energy they put into the
 * charger meter's intervals and the CDRs still to write.
 */
export class ChargingSim {
  readonly o: ChargingOptions;
  readonly meter = 'sim-charging-hub';
  readonly label = 'charging-hub';
  readonly location: OcpiLocation;
  readonly facts: ChargingFacts = { sessions: 0, turnedAway: 0, localWh: 0, consumedWh: 0, perDay: new Map(), cdrs: 0, settles: 0 };
  private readonly busyUntil: number[];
  private readonly pendingWh = new Map<number, number>();
  private readonly unwritten: SimSession[] = [];
  private readonly tokenKey: Uint8Array;
  private readonly intervalMs: number;
  private readonly baseMs: number;
  private readonly runEndMs: number;

  constructor(private readonly s: Scenario, private readonly seed: string, o: ChargingOptions) {
    this.o = o;
    this.busyUntil = new Array<number>(o.chargers).fill(-Infinity);
    this.tokenKey = sha256(utf8(`openlec simulate token key ${seed}/${s.name}`));
    this.intervalMs = s.intervalMinutes * MS_PER_MINUTE;
    this.baseMs = localDay(s.start, s.timeZone).startMs;
    // Sessions end by the last minute of the run, so that each is in a month the run settles.
    this.runEndMs = localDay(addDays(s.start, s.days - 1), s.timeZone).endMs - MS_PER_MINUTE;
    this.location = chargingLocation(s, o, LOCATION_ID);
  }

  /** The charger meter as a household without load of its own (its energy is added per day: `addDay`). */
  household(rng: Rng): SimHousehold {
    return { label: this.label, group: this.label, meter: this.meter, feeder: this.o.feeder, annualKwh: 0, rng: rng.fork(this.label) };
  }

  /** setupBodies: the operator registers the CPO, the members' eMSP and the roaming eMSPs; the CPO its location behind its meter and its tariff. */
  setupBodies(cpoKey: string): PlannedTx[] {
    const { cpo, memberEmsp, emsps, tariff } = this.o;
    return [
      { signer: 'operator', type: 'charging.party', body: { role: 'CPO', ...cpo, key: cpoKey } },
      ...[memberEmsp, ...emsps.map(({ share: _, ...e }) => e)].map((e): PlannedTx => ({ signer: 'operator', type: 'charging.party', body: { role: 'EMSP', ...e } })),
      { signer: 'cpo', type: 'charging.location', body: { location: this.location, meter: this.meter } },
      { signer: 'cpo', type: 'charging.tariff', body: { tariff } },
    ];
  }

  /**
   * addDay draws a day's sessions (members are drawn from `drivers`, the households'
   * labels) and returns the charger meter's energy in each interval of the day: what the
   * sessions of this day and of earlier ones deliver in it.
   */
  addDay(day: SimDay, drivers: readonly string[]): number[] {
    for (const x of this.drawDay(day.date, drivers)) this.start(x);
    return day.starts.map((t) => {
      const wh = this.pendingWh.get(t) ?? 0;
      this.pendingWh.delete(t);
      this.facts.consumedWh += wh;
      return wh;
    });
  }

  /** drawDay: the day's arrivals in order, from the day's own stream. */
  private drawDay(date: string, drivers: readonly string[]) {
    const rng = new Rng(`${this.seed}/${this.s.name}/charging/${date}`);
    const o = this.o;
    const count = (rate: number) => Math.floor(rate) + (rng.next() < rate - Math.floor(rate) ? 1 : 0);
    const members = drivers.length === 0 ? 0 : count(o.memberSessionsPerDay);
    const roaming = count(o.roamingSessionsPerDay);
    const totalShare = o.emsps.reduce((a, e) => a + e.share, 0);
    const from = minutesOf(o.arrival.from);
    const to = minutesOf(o.arrival.to);
    const dayStart = localDay(date, this.s.timeZone).startMs;
    const out: { kind: SimSession['kind']; emsp: string; uid: string; arrivalMs: number; wh: number; dwell: number }[] = [];
    for (let i = 0; i < members + roaming; i++) {
      const member = i < members;
      let emsp: ChargingParty;
      let uid: string;
      if (member) {
        emsp = o.memberEmsp;
        uid = `member:${drivers[Math.floor(rng.next() * drivers.length)]!}`;
      } else {
        let x = rng.next() * totalShare;
        const k = o.emsps.findIndex((e) => (x -= e.share) < 0);
        emsp = o.emsps[k < 0 ? o.emsps.length - 1 : k]!;
        uid = `driver:${emsp.country_code}${emsp.party_id}:${Math.floor(rng.next() * DRIVERS_PER_EMSP)}`;
      }
      const arrivalMs = dayStart + Math.floor(from + rng.next() * (to - from + 1)) * MS_PER_MINUTE;
      const wh = Math.round((o.kwh.min + rng.next() * (o.kwh.max - o.kwh.min)) * 1000);
      const dwell = o.dwellMinutes.min + Math.floor(rng.next() * (o.dwellMinutes.max - o.dwellMinutes.min + 1));
      out.push({ kind: member ? 'member' : 'roaming', emsp: partyRef(emsp.country_code, emsp.party_id), uid, arrivalMs, wh, dwell });
    }
    // Arrivals in time order (draws in draw order at the same minute), numbered within the day.
    return out.map((x, i) => ({ x, i })).sort((a, b) => a.x.arrivalMs - b.x.arrivalMs || a.i - b.i)
      .map(({ x }, n) => ({ ...x, date, id: `S${date.replaceAll('-', '')}-${String(n + 1).padStart(4, '0')}` }));
  }

  /** start: the first free charger takes the session (none free: turned away); its energy goes into the intervals it charges in. */
  private start(x: { id: string; kind: SimSession['kind']; emsp: string; uid: string; date: string; arrivalMs: number; wh: number; dwell: number }) {
    const charger = this.busyUntil.findIndex((t) => t <= x.arrivalMs);
    const endMs = Math.min(x.arrivalMs + x.dwell * MS_PER_MINUTE, this.runEndMs);
    const dwell = Math.floor((endMs - x.arrivalMs) / MS_PER_MINUTE);
    if (charger < 0 || dwell < 5) {
      this.facts.turnedAway++;
      return;
    }
    const powerW = Math.floor(this.o.powerKw * 1000);
    let minutes = Math.ceil((x.wh * 60) / powerW);
    let wh = x.wh;
    if (minutes > dwell) {
      minutes = dwell;
      wh = Math.floor((powerW * dwell) / 60);
    }
    const session: SimSession = { id: x.id, kind: x.kind, emsp: x.emsp, uid: x.uid, charger, date: x.date, arrivalMs: x.arrivalMs, chargeEndMs: x.arrivalMs + minutes * MS_PER_MINUTE, endMs: x.arrivalMs + dwell * MS_PER_MINUTE, wh };
    this.busyUntil[charger] = session.endMs;
    // Constant power over the charging minutes: the energy split over the intervals by their overlap.
    const first = Math.floor((session.arrivalMs - this.baseMs) / this.intervalMs);
    const last = Math.floor((session.chargeEndMs - 1 - this.baseMs) / this.intervalMs);
    const starts: number[] = [];
    const overlap: number[] = [];
    for (let k = first; k <= last; k++) {
      const t = this.baseMs + k * this.intervalMs;
      starts.push(t);
      overlap.push(Math.min(t + this.intervalMs, session.chargeEndMs) - Math.max(t, session.arrivalMs));
    }
    splitByWeights(wh, overlap).forEach((w, j) => this.pendingWh.set(starts[j]!, (this.pendingWh.get(starts[j]!) ?? 0) + w));
    this.facts.sessions++;
    this.unwritten.push(session);
  }

  /** dueCdrs: the CDRs of the sessions over by `atMs`, in the order they ended, to be signed by the CPO. */
  dueCdrs(atMs: number): { session: SimSession; cdr: OcpiCdr; totalMicro: number }[] {
    const due = this.unwritten.filter((x) => x.endMs <= atMs).sort((a, b) => a.endMs - b.endMs || (a.id < b.id ? -1 : 1));
    if (due.length === 0) return [];
    const ids = new Set(due.map((x) => x.id));
    this.unwritten.splice(0, this.unwritten.length, ...this.unwritten.filter((x) => !ids.has(x.id)));
    return due.map((session) => {
      const { cdr, priced } = makeCdr(this.cdrInput(session));
      const totalMicro = priced.total.incl ?? priced.total.excl;
      const d = this.facts.perDay.get(session.date) ?? { sessions: 0, wh: 0, revenueMicro: 0 };
      d.sessions++;
      d.wh += session.wh;
      d.revenueMicro += totalMicro;
      this.facts.perDay.set(session.date, d);
      this.facts.cdrs++;
      return { session, cdr, totalMicro };
    });
  }

  private cdrInput(x: SimSession) {
    const [cc, pid] = x.emsp.split('*') as [string, string];
    const token: OcpiCdrToken = {
      country_code: cc, party_id: pid, uid: tokenPseudonym(this.tokenKey, cc, pid, x.uid), type: 'RFID', contract_id: tokenPseudonym(this.tokenKey, cc, pid, `contract:${x.uid}`),
    };
    const periods: OcpiChargingPeriod[] = [{ start_date_time: formatInstant(x.arrivalMs), dimensions: [{ type: 'ENERGY', volume: x.wh / 1000 }] }];
    if (x.endMs > x.chargeEndMs) periods.push({ start_date_time: formatInstant(x.chargeEndMs), dimensions: [{ type: 'PARKING_TIME', volume: Math.round((x.endMs - x.chargeEndMs) / 3_600) / 1000 }] });
    return {
      id: x.id, location: this.location, evseUid: `${LOCATION_ID}-${x.charger + 1}`, connectorId: '1', token, tariff: this.o.tariff,
      start: formatInstant(x.arrivalMs), end: formatInstant(x.endMs), periods, lastUpdated: formatInstant(x.endMs), sessionId: x.id,
    };
  }
}

/** The OCPI Location of the community's chargers, at the scenario's coordinates. */
function chargingLocation(s: Scenario, o: ChargingOptions, id: string): OcpiLocation {
  const powerW = Math.floor(o.powerKw * 1000);
  const dc = o.powerKw > 43;
  const updated = o.tariff.last_updated;
  return {
    country_code: o.cpo.country_code, party_id: o.cpo.party_id, id, publish: true, name: `${s.name} community chargers`, address: 'Community car park', city: s.name.slice(0, 45),
    country: ALPHA3[o.cpo.country_code] ?? 'DEU',
    coordinates: { latitude: s.latitude.toFixed(6), longitude: s.longitude.toFixed(6) }, time_zone: s.timeZone, parking_type: 'PARKING_LOT',
    evses: Array.from({ length: o.chargers }, (_, i) => ({
      uid: `${id}-${i + 1}`, evse_id: `${o.cpo.country_code}*${o.cpo.party_id}*E${String(i + 1).padStart(4, '0')}`, status: 'AVAILABLE' as const, capabilities: ['RFID_READER' as const],
      connectors: [{
        id: '1', standard: dc ? 'IEC_62196_T2_COMBO' as const : 'IEC_62196_T2' as const, format: dc ? 'CABLE' as const : 'SOCKET' as const, power_type: dc ? 'DC' as const : 'AC_3_PHASE' as const,
        max_voltage: dc ? 920 : 400, max_amperage: Math.ceil(powerW / (dc ? 920 : 693)), max_electric_power: powerW, tariff_ids: [o.tariff.id], last_updated: updated,
      }],
      last_updated: updated,
    })),
    last_updated: updated,
  };
}

/** chargingMonthEndMs: when a month ends in the community's time zone (charging.settle comes after it). */
export const chargingMonthEndMs = (s: Scenario, month: string) => {
  const [y, m] = [Number(month.slice(0, 4)), Number(month.slice(5, 7))];
  const next = m === 12 ? `${y + 1}-01-01` : `${y}-${String(m + 1).padStart(2, '0')}-01`;
  return localDay(next, s.timeZone).startMs;
};

/** What the verified replay says of the run's charging: its CDRs and settlements. */
export interface ChargingSettled {
  cdrs: { emsp: string; cpo: string; currency: string; importWh: number; exclMicro: number; inclMicro: number | null; credit: 0 | 1; end: string }[];
  settlements: SettlementRow[];
  parties: { party: string; role: string; name: string }[];
}

export function chargingSettled(state: State): ChargingSettled {
  const cdrs = [...(state.rows('charging_cdrs') as IterableIterator<unknown> as IterableIterator<CdrRow>)]
    .sort((a, b) => a.entry - b.entry)
    .map((r) => ({ emsp: r.emsp, cpo: r.cpo, currency: r.currency, importWh: r.importWh, exclMicro: r.exclMicro, inclMicro: r.inclMicro, credit: r.credit, end: r.end }));
  const settlements = [...(state.rows('charging_settlements') as IterableIterator<unknown> as IterableIterator<SettlementRow>)].sort((a, b) => (a.month < b.month ? -1 : 1));
  const parties = [...(state.rows('charging_parties') as IterableIterator<unknown> as IterableIterator<{ party: string; role: string; name: string }>)].map((p) => ({ party: p.party, role: p.role, name: p.name }));
  return { cdrs, settlements, parties };
}

/** money formats micro-units exactly with 2 decimals (half away from zero) and the currency. */
export function money(micro: number, currency: string): string {
  const sign = micro < 0 ? '-' : '';
  const cents = Math.floor((Math.abs(micro) + 5_000) / 10_000);
  return `${sign}${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')} ${currency}`;
}

const kwh = (wh: number) => wh / 1000;
const round4 = (x: number) => Math.round(x * 1e4) / 1e4;

/**
 * chargingKpis: kpis.json's `charging`: sessions and energy (members / roaming), revenue
 * per CPO and payments per eMSP from the settled months (micro-units and formatted), the
 * share of local origin of the charger meter's consumption, and per day the charged kWh and revenue.
 */
export function chargingKpis(o: ChargingOptions, facts: ChargingFacts, settled: ChargingSettled) {
  const memberRef = partyRef(o.memberEmsp.country_code, o.memberEmsp.party_id);
  const live = settled.cdrs.filter((c) => !c.credit);
  const members = live.filter((c) => c.emsp === memberRef);
  const sumWh = (xs: typeof live) => xs.reduce((a, c) => a + c.importWh, 0);
  const lines = settled.settlements.flatMap((m) => m.lines);
  const nameOf = (party: string, role: string) => settled.parties.find((p) => p.party === party && p.role === role)?.name ?? party;
  const group = (key: 'cpo' | 'emsp') => {
    const by = new Map<string, { party: string; currency: string; cdrs: number; energyWh: number; exclMicro: number; inclMicro: number }>();
    for (const l of lines) {
      const k = `${l[key]}\u001f${l.currency}`;
      const g = by.get(k) ?? { party: l[key], currency: l.currency, cdrs: 0, energyWh: 0, exclMicro: 0, inclMicro: 0 };
      g.cdrs += l.cdrs - l.credits;
      g.energyWh += l.energyWh;
      g.exclMicro += l.netExclMicro;
      g.inclMicro += l.netInclMicro ?? l.netExclMicro;
      by.set(k, g);
    }
    return [...by.values()].sort((a, b) => (a.party < b.party ? -1 : a.party > b.party ? 1 : 0));
  };
  const revenue = group('cpo').map((g) => ({ cpo: g.party, name: nameOf(g.party, 'CPO'), currency: g.currency, cdrs: g.cdrs, energyKwh: kwh(g.energyWh), exclMicro: g.exclMicro, inclMicro: g.inclMicro, excl: money(g.exclMicro, g.currency), incl: money(g.inclMicro, g.currency) }));
  const payments = group('emsp').map((g) => ({
    emsp: g.party, name: nameOf(g.party, 'EMSP'), members: g.party === memberRef, currency: g.currency, cdrs: g.cdrs, energyKwh: kwh(g.energyWh),
    exclMicro: g.exclMicro, inclMicro: g.inclMicro, excl: money(g.exclMicro, g.currency), incl: money(g.inclMicro, g.currency),
  }));
  return {
    enabled: true,
    chargers: o.chargers, powerKw: o.powerKw, tariff: o.tariff.id,
    sessions: { total: live.length, members: members.length, roaming: live.length - members.length, turnedAway: facts.turnedAway },
    energyKwh: { total: kwh(sumWh(live)), members: kwh(sumWh(members)), roaming: kwh(sumWh(live) - sumWh(members)) },
    cdrTotalExclMicro: live.reduce((a, c) => a + c.exclMicro, 0),
    cdrTotalInclMicro: live.reduce((a, c) => a + (c.inclMicro ?? c.exclMicro), 0),
    revenue, payments,
    // The charger meter consumes only while sessions charge: what it bought from members in the market over what it consumed.
    localOrigin: { localKwh: kwh(facts.localWh), consumedKwh: kwh(facts.consumedWh), share: facts.consumedWh === 0 ? null : round4(facts.localWh / facts.consumedWh) },
    perMonth: settled.settlements.map((m) => ({ month: m.month, lines: m.lines.length, cdrs: m.lines.reduce((a, l) => a + l.cdrs, 0), netExclMicro: m.lines.reduce((a, l) => a + l.netExclMicro, 0), netInclMicro: m.lines.reduce((a, l) => a + (l.netInclMicro ?? l.netExclMicro), 0) })),
    perDay: [...facts.perDay.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([date, d]) => ({ date, sessions: d.sessions, kwh: kwh(d.wh), revenueMicro: d.revenueMicro })),
  };
}

export type ChargingKpis = ReturnType<typeof chargingKpis>;
