import { monthDays } from '../allocation/month.ts';
import { community } from '../community/tables.ts';
import type { MeterRow } from '../metering/meter-register.ts';
import { findReadings } from '../metering/readings.ts';
import type { State } from '../state/tables.ts';
import { formatInstant, localDateOf, parseInstant } from '../units/index.ts';
import { bundleHash, isLive, lineage, quantity } from './bundles.ts';
import { dayGrid } from './calendar.ts';
import { technologyKind } from './codes.ts';
import { expiresAt } from './holder.ts';
import { type Bundle, certKeyDate, type CertificatesRow, type ClaimsRow, claimsKey, type DeviceRow, findDevice, type Status } from './tables.ts';

/** A live bundle as the API and the CLI show it, with its lineage hash and the log entries from issuance to now. */
export interface BundleView {
  device: string;
  technology: string;
  interval: string;
  from: number;
  to: number;
  quantityWh: number;
  holder: string;
  status: Exclude<Status, 'split'>;
  reason: string;
  claim: Bundle['claim'];
  hash: string;
  /** Entries that issued and moved these certificates, oldest first: each can be proven with /v1/proofs/{entry}. */
  entries: number[];
  expires: string;
}

function sortedDevices(state: State): DeviceRow[] {
  return ([...state.rows('devices')] as DeviceRow[]).sort((a, b) => (a.device < b.device ? -1 : 1));
}

/** monthRows gives a month's certificate rows by date, then device: one day's rows read at a time (the rows may be kept deflated). */
function* monthRows(state: State, month: string): Generator<CertificatesRow> {
  for (const date of monthDays(month)) yield* state.lookup<CertificatesRow>('certificates', 'date', date).sort((a, b) => (a.device < b.device ? -1 : 1));
}

/** bundles lists the live bundles of a month, optionally only those of one holder (a member sees only their own). */
export function bundles(state: State, month: string, holder?: string): BundleView[] {
  const out: BundleView[] = [];
  for (const row of monthRows(state, month)) {
    const device = findDevice(state, row.device)!;
    for (const iv of row.intervals) {
      const memo = new Map<number, string>();
      iv.bundles.forEach((b, k) => {
        if (!isLive(b) || (holder !== undefined && b.holder !== holder)) return;
        out.push({
          device: row.device, technology: device.technology, interval: iv.start, from: b.from, to: b.to, quantityWh: quantity(b), holder: b.holder, status: b.status as BundleView['status'],
          reason: b.reason, claim: b.claim, hash: bundleHash(row.device, iv, k, memo), entries: [...new Set(lineage(iv, k).map((i) => iv.bundles[i]!.entry))],
          expires: formatInstant(expiresAt(state, parseInstant(iv.start))),
        });
      });
    }
  }
  return out;
}

/** One local clock hour of a consumer: what was metered, what certificates of that hour were claimed for it, by technology. */
export interface OriginHour {
  hour: string;
  consumedWh: number;
  matchedWh: number;
  byTechnology: Record<string, number>;
}

function importMeters(state: State, holder: string): MeterRow[] {
  return state.lookup<MeterRow>('meters', 'owner', holder).filter((m) => m.direction === 'import');
}

/**
 * origin answers "where did my energy come from", hour by hour over a month: each hour's
 * metered consumption of the holder's import meters and the Wh of it matched by
 * cancelled certificates (claims for the holder), by technology. The rest came from the grid mix.
 */
export function origin(state: State, month: string, holder: string): OriginHour[] {
  const meters = new Set(importMeters(state, holder).map((m) => m.meter));
  const hours = new Map<number, OriginHour>();
  const hourOf = new Map<string, number>();
  for (const date of monthDays(month)) {
    const grid = dayGrid(state, date);
    grid.iso.forEach((iso, k) => hourOf.set(iso, grid.hour[k]!));
    for (const meter of meters) {
      const values = findReadings(state, meter, 'import', date)?.values ?? [];
      grid.hour.forEach((h, k) => {
        const o = hours.get(h) ?? { hour: formatInstant(h), consumedWh: 0, matchedWh: 0, byTechnology: {} };
        o.consumedWh += values[k] ?? 0;
        hours.set(h, o);
      });
    }
  }
  for (const row of monthRows(state, month)) {
    const tech = technologyKind(findDevice(state, row.device)!.technology);
    for (const iv of row.intervals) {
      for (const b of iv.bundles) {
        if (b.status !== 'cancelled' || !b.claim || !meters.has(b.claim.meter)) continue;
        const o = hours.get(hourOf.get(b.claim.interval)!);
        if (!o) continue;
        o.matchedWh += quantity(b);
        o.byTechnology[tech] = (o.byTechnology[tech] ?? 0) + quantity(b);
      }
    }
  }
  return [...hours.entries()].sort((a, b) => a[0] - b[0]).map(([, o]) => o);
}

/** The import meters a matching counts: the holder's, or the community's without one. */
function matchedMeters(state: State, holder?: string): MeterRow[] {
  return holder === undefined ? ([...state.rows('meters')] as MeterRow[]).filter((m) => m.direction === 'import') : importMeters(state, holder);
}

/** One local clock hour of matching: the metered consumption and the part of it matched by claims in the same interval. */
export interface MatchHour {
  hour: string;
  date: string;
  consumedWh: number;
  matchedWh: number;
}

/**
 * matchingHours is the hourly series behind the 24/7 score: for each local clock hour,
 * Σ consumption and Σ min(consumption, claimed) over the intervals of the hour and the
 * import meters of the holder (every import meter without one).
 */
export function matchingHours(state: State, month: string, holder?: string): MatchHour[] {
  const c = community(state)!;
  const meters = matchedMeters(state, holder).map((m) => m.meter);
  const hours: MatchHour[] = [];
  for (const date of monthDays(month)) {
    const grid = dayGrid(state, date);
    const at = new Map<number, MatchHour>();
    for (const h of grid.hour) {
      if (!at.has(h)) {
        const o = { hour: formatInstant(h), date: localDateOf(h, c.timeZone), consumedWh: 0, matchedWh: 0 };
        at.set(h, o);
        hours.push(o);
      }
    }
    for (const meter of meters) {
      const values = findReadings(state, meter, 'import', date)?.values;
      if (!values) continue;
      const claimed = state.get<ClaimsRow>('claims', claimsKey(meter, date))?.claimedWh;
      values.forEach((v, k) => {
        const o = at.get(grid.hour[k]!)!;
        o.consumedWh += v ?? 0;
        o.matchedWh += Math.min(v ?? 0, claimed?.[k] ?? 0);
      });
    }
  }
  return hours;
}

/** Matching scores in parts per million: hourly (24/7, granular certificates) against monthly (what today's GOs allow). */
export interface Matching {
  month: string;
  consumedWh: number;
  /** Consumption matched by claims in the same hour. */
  hourlyMatchedWh: number;
  /** min(consumption, certificates of the month claimed or held) : matching by volume over the month. */
  monthlyMatchedWh: number;
  hourlyPpm: number;
  monthlyPpm: number;
}

const ppm = (part: number, whole: number) => (whole === 0 ? 0 : Math.floor((part * 1_000_000) / whole));

/**
 * matching computes the carbon-free-energy scores of a holder, or of the whole community
 * (holder undefined: every import meter, every certificate held or claimed by a member):
 * hourly = Σ_hours min(consumption, claimed in the hour) / consumption; monthly =
 * min(consumption, certificates of the month) / consumption, as a monthly GO claim counts them.
 */
export function matching(state: State, month: string, holder?: string): Matching {
  const m = matchingCounter(state, month, holder);
  for (const row of monthRows(state, month)) m.add(row);
  return m.result();
}

/** A month's rows, one at a time (they may be kept deflated: each is read once), and a figure built from them. */
interface RowCounter<T> {
  add(row: CertificatesRow): void;
  result(): T;
}

function matchingCounter(state: State, month: string, holder?: string): RowCounter<Matching> {
  const owners = new Set(matchedMeters(state, holder).map((m) => m.owner));
  let consumed = 0;
  let hourly = 0;
  for (const h of matchingHours(state, month, holder)) {
    consumed += h.consumedWh;
    hourly += h.matchedWh;
  }
  let certificates = 0;
  return {
    add(row) {
      for (const iv of row.intervals) {
        for (const b of iv.bundles) {
          if (!isLive(b) || b.status === 'withdrawn' || !owners.has(b.holder)) continue;
          certificates += quantity(b);
        }
      }
    },
    result() {
      const monthly = Math.min(consumed, certificates);
      return { month, consumedWh: consumed, hourlyMatchedWh: hourly, monthlyMatchedWh: monthly, hourlyPpm: ppm(hourly, consumed), monthlyPpm: ppm(monthly, consumed) };
    },
  };
}

/** One device-month of the EECS guarantee-of-origin export: whole-MWh GOs, the remainder carried to the next month. */
export interface GuaranteeOfOrigin {
  device: string;
  month: string;
  energySource: string;
  technology: string;
  capacityW: number;
  commissioned: string;
  zone: string;
  gridArea: string;
  supportReceived: boolean;
  productionStart: string;
  productionEnd: string;
  /** Certificates issued in the month and not withdrawn, Wh. */
  producedWh: number;
  carriedInWh: number;
  /** Whole guarantees of origin of 1 MWh. */
  gos: number;
  carriedOutWh: number;
  issuingBody: string;
}

const MWH = 1_000_000;

/**
 * eecsExport turns granular certificates into EECS guarantees of origin (EN 16325: 1 MWh
 * each) for one month: per device, floor((carried in + produced) / 1 MWh) GOs, and the
 * Wh below one MWh carried to the device's next month, computed from its first month so
 * no Wh is ever counted twice or lost.
 */
export function eecsExport(state: State, month: string): GuaranteeOfOrigin[] {
  const c = community(state)!;
  const produced = new Map<string, Map<string, number>>();
  for (const key of state.keys('certificates')) {
    const m = certKeyDate(key).slice(0, 7);
    if (m > month) continue;
    // Read once each, not kept inflated: every month up to this one is read.
    const row = state.peek<CertificatesRow>('certificates', key)!;
    let wh = 0;
    for (const iv of row.intervals) wh += iv.meteredWh;
    const byMonth = produced.get(row.device) ?? new Map<string, number>();
    byMonth.set(m, (byMonth.get(m) ?? 0) + wh);
    produced.set(row.device, byMonth);
  }
  const days = monthDays(month);
  return sortedDevices(state).flatMap((d) => {
    const byMonth = produced.get(d.device);
    if (!byMonth) return [];
    let carry = 0;
    for (const m of [...byMonth.keys()].sort()) {
      if (m >= month) break;
      carry = (carry + byMonth.get(m)!) % MWH;
    }
    const wh = byMonth.get(month) ?? 0;
    const gos = Math.floor((carry + wh) / MWH);
    return [{
      device: d.device, month, energySource: d.fuel, technology: d.technology, capacityW: d.capacityW, commissioned: d.commissioned, zone: d.zone, gridArea: d.gridArea,
      supportReceived: d.support === 1, productionStart: days[0]!, productionEnd: days[days.length - 1]!, producedWh: wh, carriedInWh: carry, gos, carriedOutWh: carry + wh - gos * MWH, issuingBody: c.id,
    }];
  });
}

const CSV_FIELDS: (keyof GuaranteeOfOrigin)[] = ['device', 'month', 'energySource', 'technology', 'capacityW', 'commissioned', 'zone', 'gridArea', 'supportReceived', 'productionStart', 'productionEnd', 'producedWh', 'carriedInWh', 'gos', 'carriedOutWh', 'issuingBody'];

export function eecsCsv(rows: readonly GuaranteeOfOrigin[]): string {
  const cell = (v: unknown) => (/[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v));
  return [CSV_FIELDS.join(','), ...rows.map((r) => CSV_FIELDS.map((f) => cell(r[f])).join(','))].join('\n') + '\n';
}

const STATUS_NAMES: Record<BundleView['status'], string> = { active: 'Active', cancelled: 'Cancelled', expired: 'Expired', withdrawn: 'Withdrawn' };

/** energyTagBundles shapes bundles like the EnergyTag GC Registry API's GranularCertificateBundle (field names of its v2 demonstrator). */
export function energyTagBundles(state: State, views: readonly BundleView[]): Record<string, unknown>[] {
  const c = community(state)!;
  return views.map((v) => {
    const d = findDevice(state, v.device)!;
    const start = parseInstant(v.interval);
    return {
      issuance_id: `${v.device}-${v.interval}`, certificate_bundle_id_range_start: v.from, certificate_bundle_id_range_end: v.to, bundle_quantity: v.quantityWh, face_value: 1,
      energy_carrier: 'electricity', energy_source: technologyKind(d.technology), eecs_fuel_code: d.fuel, eecs_technology_code: d.technology, device_id: v.device, device_capacity_w: d.capacityW,
      device_commissioning_date: d.commissioned, production_starting_interval: v.interval, production_ending_interval: formatInstant(start + c.intervalMinutes * 60_000), expiry_datestamp: v.expires,
      is_storage: false, issuance_post_energy_carrier_conversion: false, certificate_bundle_status: STATUS_NAMES[v.status], account_id: v.holder, beneficiary: v.claim?.beneficiary ?? null,
      connected_grid_identification: d.gridArea, issue_market_zone: d.zone, issuing_body: c.id, support_received: d.support === 1, hash: v.hash, log_entries: v.entries,
    };
  });
}

/** totals sums the live certificates of a month by status, and what was issued: conservation says they are equal. */
export function totals(state: State, month: string): Totals {
  const t = totalsCounter(state);
  for (const row of monthRows(state, month)) t.add(row);
  return t.result();
}

export interface Totals {
  issuedWh: number;
  active: number;
  cancelled: number;
  expired: number;
  withdrawn: number;
  transferredWh: number;
}

function totalsCounter(state: State): RowCounter<Totals> {
  const t = { issuedWh: 0, active: 0, cancelled: 0, expired: 0, withdrawn: 0, transferredWh: 0 };
  return {
    add(row) {
      const owner = findDevice(state, row.device)!.owner;
      for (const iv of row.intervals) {
        for (const b of iv.bundles) {
          if (!isLive(b)) continue;
          t.issuedWh += quantity(b);
          t[b.status as 'active'] += quantity(b);
          if (b.holder !== owner) t.transferredWh += quantity(b);
        }
      }
    },
    result: () => t,
  };
}

/** monthFigures: a month's totals and the whole community's matching, from one reading of its rows. */
export function monthFigures(state: State, month: string): { totals: Totals; matching: Matching } {
  const t = totalsCounter(state);
  const m = matchingCounter(state, month);
  for (const row of monthRows(state, month)) {
    t.add(row);
    m.add(row);
  }
  return { totals: t.result(), matching: m.result() };
}
