import { z } from 'zod';
import { monthDays } from '../allocation/month.ts';
import { activeWh, copyInterval, moveWh } from '../certificates/bundles.ts';
import { dayGrid, recordsRoot, whereIs } from '../certificates/calendar.ts';
import { technologyKind } from '../certificates/codes.ts';
import { expiresAt } from '../certificates/holder.ts';
import { CERTIFICATES_TABLE, type CertificatesRow, CLAIMS_TABLE, claimsKey, type ClaimsRow, type DeviceRow, findCertificates } from '../certificates/tables.ts';
import { community } from '../community/tables.ts';
import { invariant, OpenlecError } from '../errors.ts';
import { findReadings } from '../metering/readings.ts';
import { latestTime } from '../state/apply.ts';
import { defineTx } from '../state/registry.ts';
import type { State, TableSpec } from '../state/tables.ts';
import { formatInstant, localDay, splitByWeights } from '../units/index.ts';
import { ENERGY_SOURCES, ocpiMs, type OcpiEnergyMix } from './ocpi.ts';
import { type PricingSession, pricingSession } from './price.ts';
import { type CdrRow, findCdr, findLocation, partiesOfKey } from './tables.ts';

/**
 * Local-origin charging. After certificates.settle of a month, a CPO holds the
 * certificates of origin of the local energy allocated (or traded) to its chargers'
 * meters. charging.origin cancels them for the drivers: for each CDR of its metered
 * locations, in each community interval of the session, the part of the session's energy
 * covered by the CPO's active certificates of that same interval, with the driver's token
 * pseudonym as the claim's beneficiary. The CDR's local share is recorded beside it
 * (charging_origin) and shown as an OCPI EnergyMix (cdrEnergyMix).
 *
 * Every integer is exact: a charging period's Wh are apportioned over the intervals it
 * spans by duration, and an interval's certificates over its concurrent sessions by
 * their energy, both with the largest-remainder split (splitByWeights).
 */

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;

/** One CDR's local origin: the Wh of its session covered by cancelled certificates, by OCPI energy source, and interval by interval. */
export const ORIGIN_TABLE: TableSpec = {
  name: 'charging_origin',
  columns: { cpo: 'text', id: 'text', token: 'text', emsp: 'text', importWh: 'integer', localWh: 'integer', sources: 'json', intervals: 'json', entry: 'integer' },
  primaryKey: ['cpo', 'id'],
  indexes: [['token']],
};

export interface OriginInterval {
  [field: string]: string | number;
  /** UTC start of the community interval. */
  interval: string;
  /** The session's energy in the interval (Wh, apportioned by duration). */
  sessionWh: number;
  /** Of it, covered by certificates cancelled for the driver. */
  localWh: number;
}

export interface OriginRow {
  [column: string]: string | number | Record<string, number> | OriginInterval[];
  cpo: string;
  id: string;
  /** The driver's token pseudonym: the beneficiary of the cancelled certificates. */
  token: string;
  emsp: string;
  importWh: number;
  localWh: number;
  /** Wh of localWh by OCPI energy source (SOLAR, WIND, WATER, GENERAL_GREEN). */
  sources: Record<string, number>;
  /** The session's intervals processed so far (a session across a month's end is done by two months' runs). */
  intervals: OriginInterval[];
  entry: number;
}

/** A charging.origin run: one per certificate holder (the CPO's key) and month. */
export const ORIGIN_RUNS_TABLE: TableSpec = {
  name: 'charging_origin_runs',
  columns: { holder: 'text', month: 'text', cdrs: 'integer', localWh: 'integer', records: 'integer', root: 'text', entry: 'integer' },
  primaryKey: ['holder', 'month'],
};

/** What a run cancelled: `wh` certificates of `device` in `interval`, against `meter`, for the driver of CDR `cdr` of `cpo`. */
export interface OriginRecord {
  [field: string]: string | number;
  interval: string;
  cpo: string;
  cdr: string;
  device: string;
  meter: string;
  beneficiary: string;
  wh: number;
}

export interface OriginSummary {
  month: string;
  /** CDRs of the CPO's metered locations with energy in the month. */
  cdrs: number;
  /** Σ Wh cancelled for drivers. */
  localWh: number;
  records: number;
  /** recordsRoot of the records: one leaf per interval. */
  root: string;
}

// ---------------------------------------------------------------------------------------------
// Pure apportionment

const sum = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0);

/**
 * energyByInterval apportions a session's energy over the community intervals (of
 * `intervalSeconds`, aligned to the epoch): each charging period's Wh over the intervals
 * it spans by the seconds it spends in each, exactly (largest remainder). A period of no
 * duration puts its energy in the interval of its start. Returns [interval start (epoch
 * seconds), Wh] in time order, intervals with energy only; the parts sum to the session's
 * import energy.
 */
export function energyByInterval(session: Pick<PricingSession, 'end' | 'periods'>, intervalSeconds: number): [number, number][] {
  const out = new Map<number, number>();
  const add = (t: number, wh: number) => out.set(t, (out.get(t) ?? 0) + wh);
  const cell = (s: number) => Math.floor(s / intervalSeconds) * intervalSeconds;
  session.periods.forEach((p, i) => {
    if (p.energyWh <= 0) return;
    const a = p.start;
    const b = i + 1 < session.periods.length ? session.periods[i + 1]!.start : session.end;
    if (b <= a) return add(cell(a), p.energyWh);
    const starts: number[] = [];
    const weights: number[] = [];
    for (let t = cell(a); t < b; t += intervalSeconds) {
      starts.push(t);
      weights.push(Math.min(b, t + intervalSeconds) - Math.max(a, t));
    }
    splitByWeights(p.energyWh, weights).forEach((wh, j) => wh > 0 && add(starts[j]!, wh));
  });
  return [...out].sort((x, y) => x[0] - y[0]);
}

/** One meter's demand in an interval: the energy of each session behind it, and the consumption still free for claims there. */
export interface MeterDemand {
  room: number;
  sessions: readonly number[];
}

/**
 * shareInterval divides `available` certificates of one interval between the sessions
 * of several meters: each meter can take at most min(its sessions' energy, its room);
 * what is given, min(available, Σ of those), goes to the meters pro rata to what each can
 * take, and each meter's part to its sessions pro rata to their energy (largest
 * remainder both times). No session gets more than its energy, no meter more than its
 * room, and the parts sum to exactly what is given.
 */
export function shareInterval(available: number, meters: readonly MeterDemand[]): number[][] {
  const can = meters.map((m) => Math.min(Math.max(0, m.room), sum(m.sessions)));
  const total = sum(can);
  const give = Math.min(Math.max(0, available), total);
  const perMeter = total === 0 ? can.map(() => 0) : splitByWeights(give, can);
  return meters.map((m, i) => (sum(m.sessions) === 0 ? m.sessions.map(() => 0) : splitByWeights(perMeter[i]!, m.sessions)));
}

// ---------------------------------------------------------------------------------------------
// The month's run

/** The OCPI energy source of a device's certificates. */
function sourceOf(device: DeviceRow): (typeof ENERGY_SOURCES)[number] {
  const kind = technologyKind(device.technology);
  return kind === 'solar' ? 'SOLAR' : kind === 'wind' ? 'WIND' : kind === 'hydro' ? 'WATER' : 'GENERAL_GREEN';
}

/** The CDRs a holder's run covers: its CPO parties' CDRs (not credits, not credited) at locations behind a meter, whose session overlaps [from, to). */
function cdrsOf(state: State, holder: string, from: number, to: number): { cdr: CdrRow; meter: string }[] {
  const out: { cdr: CdrRow; meter: string }[] = [];
  for (const party of partiesOfKey(state, holder)) {
    if (party.role !== 'CPO') continue;
    for (const cdr of state.lookup<CdrRow>('charging_cdrs', 'cpo', party.party)) {
      if (cdr.credit || cdr.creditedBy !== null) continue;
      const meter = findLocation(state, cdr.cpo, cdr.location)?.meter;
      if (!meter) continue;
      if (ocpiMs(cdr.start) >= to || ocpiMs(cdr.end) <= from) continue;
      out.push({ cdr, meter });
    }
  }
  return out.sort((a, b) => a.cdr.entry - b.cdr.entry);
}

/** Working copies of certificate and claim rows, copied when first touched and written once. */
class Rows {
  private readonly certs = new Map<string, CertificatesRow | undefined>();
  private readonly claims = new Map<string, ClaimsRow>();
  private readonly dirty = new Set<string>();
  constructor(private readonly state: State) {}
  cert(device: string, date: string): CertificatesRow | undefined {
    const key = `${device}\u001f${date}`;
    if (!this.certs.has(key)) {
      const stored = findCertificates(this.state, device, date);
      this.certs.set(key, stored && { ...stored, intervals: stored.intervals.map(copyInterval) });
    }
    return this.certs.get(key);
  }
  claimed(meter: string, date: string): number[] {
    const key = claimsKey(meter, date);
    let row = this.claims.get(key);
    if (!row) {
      const stored = this.state.get<ClaimsRow>('claims', key);
      row = stored ? { ...stored, claimedWh: [...stored.claimedWh] } : { meter, date, claimedWh: dayGrid(this.state, date).starts.map(() => 0), entry: -1 };
      this.claims.set(key, row);
    }
    return row.claimedWh;
  }
  /** claim adds `wh` to the Wh claimed against `meter` in interval k of `date`. */
  claim(meter: string, date: string, k: number, wh: number): void {
    const claimed = this.claimed(meter, date);
    claimed[k] = claimed[k]! + wh;
    this.dirty.add(claimsKey(meter, date));
  }
  /** touch marks a certificate row as changed. */
  touch(device: string, date: string): void {
    this.dirty.add(`cert\u001f${device}\u001f${date}`);
  }
  write(entry: number): void {
    for (const [key, row] of this.certs) if (row && this.dirty.has(`cert\u001f${key}`)) this.state.put('certificates', { ...row, entry });
    for (const [key, row] of this.claims) if (this.dirty.has(key)) this.state.put('claims', { ...row, entry });
  }
}

/**
 * originMonth cancels, for the drivers, the certificates `holder` (a CPO's key) holds for
 * the intervals of `month`, and records each CDR's local origin: per interval, the CPO's
 * active certificates (all devices, lowest device then lowest IDs first) are shared
 * between the sessions of its metered locations by shareInterval, each meter's room being
 * its metered consumption of the interval less what was claimed against it already.
 */
export function originMonth(state: State, month: string, holder: string, entry: number): { summary: OriginSummary; records: OriginRecord[] } {
  const c = community(state)!;
  const days = monthDays(month);
  const from = localDay(days[0]!, c.timeZone).startMs;
  const to = localDay(days.at(-1)!, c.timeZone).endMs;
  const L = c.intervalMinutes * 60;
  const devices = ([...state.rows('devices')] as DeviceRow[]).sort((a, b) => (a.device < b.device ? -1 : a.device > b.device ? 1 : 0));

  // Each CDR's energy per interval of the month, gathered by interval.
  const cdrs = cdrsOf(state, holder, from, to);
  const byInterval = new Map<number, { n: number; meter: string; wh: number }[]>();
  const origin: OriginRow[] = [];
  for (const { cdr, meter } of cdrs) {
    const session = pricingSession(cdr.start, cdr.end, cdr.cdr.charging_periods);
    const parts = energyByInterval(session, L).filter(([t]) => t * 1000 >= from && t * 1000 < to);
    if (parts.length === 0) continue;
    const n = origin.length;
    const prev = state.get<OriginRow>('charging_origin', `${cdr.cpo}\u001f${cdr.id}`);
    origin.push({
      cpo: cdr.cpo, id: cdr.id, token: cdr.token, emsp: cdr.emsp, importWh: cdr.importWh, localWh: prev?.localWh ?? 0, sources: { ...(prev?.sources ?? {}) },
      intervals: [...(prev?.intervals ?? [])], entry,
    });
    for (const [t, wh] of parts) {
      let list = byInterval.get(t);
      if (!list) byInterval.set(t, (list = []));
      list.push({ n, meter, wh });
    }
  }

  const rows = new Rows(state);
  const records: OriginRecord[] = [];
  let localWh = 0;
  for (const t of [...byInterval.keys()].sort((a, b) => a - b)) {
    const ms = t * 1000;
    const iso = formatInstant(ms);
    const { date, k } = whereIs(state, ms);
    invariant(k >= 0, 'an interval of the month is on the community grid');
    const sessions = byInterval.get(t)!;
    const meters = [...new Set(sessions.map((s) => s.meter))].sort();
    const demand = meters.map((m): MeterDemand => {
      const metered = findReadings(state, m, 'import', date)?.values[k] ?? 0;
      return { room: metered - rows.claimed(m, date)[k]!, sessions: sessions.filter((s) => s.meter === m).map((s) => s.wh) };
    });
    const held = devices.map((d) => {
      const iv = rows.cert(d.device, date)?.intervals[k];
      invariant(!iv || iv.start === iso, 'certificate intervals on the community grid');
      return iv && activeWh(iv, holder) > 0 ? iv : undefined;
    });
    const available = sum(held.map((iv) => (iv ? activeWh(iv, holder) : 0)));
    const shares = shareInterval(available, demand);
    meters.forEach((meter, i) => {
      const mine = sessions.filter((s) => s.meter === meter);
      mine.forEach((s, j) => {
        const o = origin[s.n]!;
        let left = shares[i]![j]!;
        const got = left;
        for (let d = 0; d < devices.length && left > 0; d++) {
          const iv = held[d];
          if (!iv) continue;
          const n = moveWh(iv, holder, Math.min(left, activeWh(iv, holder)), { holder, status: 'cancelled', reason: 'claim', claim: { meter, interval: iso, beneficiary: o.token } }, entry);
          if (n === 0) continue;
          left -= n;
          rows.touch(devices[d]!.device, date);
          const source = sourceOf(devices[d]!);
          o.sources[source] = (o.sources[source] ?? 0) + n;
          records.push({ interval: iso, cpo: o.cpo, cdr: o.id, device: devices[d]!.device, meter, beneficiary: o.token, wh: n });
        }
        invariant(left === 0, 'a share within the certificates held');
        o.localWh += got;
        o.intervals.push({ interval: iso, sessionWh: s.wh, localWh: got });
        localWh += got;
        if (got > 0) rows.claim(meter, date, k, got);
      });
    });
  }
  rows.write(entry);
  for (const o of origin) state.put('charging_origin', { ...o, entry });
  return { records, summary: { month, cdrs: origin.length, localWh, records: records.length, root: recordsRoot(records) } };
}

/** planChargingOrigin computes the body of charging.origin for the CPO key `holder` and a month, without keeping its writes. */
export function planChargingOrigin(state: State, month: string, holder: string): OriginSummary {
  const mark = state.mark();
  try {
    return originMonth(state, month, holder, -1).summary;
  } finally {
    state.rollback(mark);
  }
}

const int = z.number().int().min(0);

/**
 * charging.origin (CPO): the month's local-origin charging, once per CPO key and month,
 * after the month's certificates are settled (certificates.settle): the certificates the
 * CPO holds for the month's intervals are cancelled for the drivers of its CDRs, each
 * against the location's meter in the session's own interval, never above the session's
 * energy there nor the meter's unclaimed consumption. The body holds the totals and the
 * root of the records; apply recomputes them from the log and refuses any difference.
 * CDRs recorded after the run, and credited ones, get no local origin.
 */
export const chargingOrigin = defineTx({
  type: 'charging.origin',
  roles: ['cpo'],
  tables: [CERTIFICATES_TABLE, CLAIMS_TABLE, ORIGIN_TABLE, ORIGIN_RUNS_TABLE],
  body: z.strictObject({
    month: z.string().regex(MONTH, 'must be YYYY-MM'),
    cdrs: int, localWh: int, records: int,
    root: z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 hex digest'),
  }),
  apply(ctx, body) {
    const { state, tx, entry } = ctx;
    const done = state.get<{ entry: number }>('charging_origin_runs', `${tx.actor}\u001f${body.month}`);
    if (done) throw new OpenlecError('E_ORIGIN_DONE', `the local origin of ${body.month} was recorded by entry ${done.entry}: certificates are cancelled once`, { field: 'body.month' });
    if (!partiesOfKey(state, tx.actor).some((p) => p.role === 'CPO')) throw new OpenlecError('E_UNKNOWN_PARTY', 'this key signs for no CPO', { field: 'body.month' });
    const settled = state.get<{ settled: { entry: number } | null }>('certificate_months', body.month)?.settled;
    if (!settled) throw new OpenlecError('E_CERTIFICATES_NOT_SETTLED', `the certificates of ${body.month} are not settled yet (certificates.settle): the CPO holds none of them`, { field: 'body.month' });
    const first = localDay(monthDays(body.month)[0]!, community(state)!.timeZone).startMs;
    const expiry = expiresAt(state, first);
    if (latestTime(ctx) >= expiry) throw new OpenlecError('E_EXPIRED', `certificates of ${body.month} began to expire at ${formatInstant(expiry)}`, { field: 'body.month' });
    const { summary } = originMonth(state, body.month, tx.actor, entry);
    for (const field of Object.keys(summary) as (keyof OriginSummary)[]) {
      if (summary[field] !== body[field]) {
        throw new OpenlecError('E_ORIGIN_MISMATCH', `local origin of ${body.month}: ${field} recorded ${String(body[field])}, recomputed from the log ${String(summary[field])}`, { field: `body.${field}` });
      }
    }
    state.put('charging_origin_runs', { holder: tx.actor, month: body.month, cdrs: summary.cdrs, localWh: summary.localWh, records: summary.records, root: summary.root, entry });
  },
});

// ---------------------------------------------------------------------------------------------
// Reads

export const findOrigin = (state: State, cpo: string, id: string) => state.get<OriginRow>('charging_origin', `${cpo}\u001f${id.toUpperCase()}`);

const GREEN = new Set<string>(['SOLAR', 'WIND', 'WATER', 'GENERAL_GREEN']);
/** Percentages are apportioned in units of 0.0001 % (OCPI numbers carry 4 decimals): 1 000 000 is 100 %. */
const WHOLE = 1_000_000;

/**
 * cdrEnergyMix: the OCPI EnergyMix of a CDR's session, from its cancelled certificates:
 * each local source's share of the session's energy, the shares apportioned exactly so
 * they add up. The rest of the session came from the grid: with `residual` (the
 * supplier's mix, OCPI energy_sources) it is spread over those sources, else it is left
 * out (OCPI has no "unknown" source, and calling grid energy fossil would be a claim the
 * certificates do not make). is_green_energy as OCPI defines it: 100 % renewable.
 * null when the CDR is not recorded.
 */
export function cdrEnergyMix(state: State, cpo: string, id: string, residual?: NonNullable<OcpiEnergyMix['energy_sources']>): OcpiEnergyMix | null {
  const cdr = findCdr(state, cpo, id.toUpperCase());
  if (!cdr) return null;
  const o = findOrigin(state, cpo, id);
  const importWh = Math.abs(cdr.importWh);
  if (importWh === 0) return { is_green_energy: false, energy_sources: [] };
  const local = ENERGY_SOURCES.filter((s) => (o?.sources[s] ?? 0) > 0);
  const localWh = o?.localWh ?? 0;
  const parts = splitByWeights(WHOLE, [...local.map((s) => o!.sources[s]!), importWh - localWh]);
  const share = new Map<string, number>();
  local.forEach((s, i) => share.set(s, parts[i]!));
  const rest = parts.at(-1)!;
  if (residual && residual.length > 0 && rest > 0) {
    const weights = residual.map((r) => Math.round(r.percentage * 10_000));
    if (sum(weights) > 0) splitByWeights(rest, weights).forEach((p, i) => share.set(residual[i]!.source, (share.get(residual[i]!.source) ?? 0) + p));
  }
  const sources = ENERGY_SOURCES.filter((s) => (share.get(s) ?? 0) > 0).map((s) => ({ source: s, percentage: share.get(s)! / 10_000 }));
  const green = sources.every((s) => GREEN.has(s.source)) && sum(sources.map((s) => share.get(s.source)!)) === WHOLE;
  return { is_green_energy: green, energy_sources: sources };
}

/** A driver's session as their view shows it: the energy charged, the local part, and the OCPI energy mix. */
export interface DriverSession {
  cpo: string;
  id: string;
  location: string;
  start: string;
  end: string;
  importWh: number;
  localWh: number;
  energyMix: OcpiEnergyMix;
}

/** driverSessions: the CDRs of a token pseudonym (the driver's view), credited ones and credits left out, in log order. */
export function driverSessions(state: State, token: string): DriverSession[] {
  return state.lookup<CdrRow>('charging_cdrs', 'token', token)
    .filter((r) => !r.credit && r.creditedBy === null)
    .sort((a, b) => a.entry - b.entry)
    .map((r) => ({
      cpo: r.cpo, id: r.id, location: r.location, start: r.start, end: r.end, importWh: r.importWh, localWh: findOrigin(state, r.cpo, r.id)?.localWh ?? 0, energyMix: cdrEnergyMix(state, r.cpo, r.id)!,
    }));
}
