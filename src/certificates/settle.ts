import { z } from 'zod';
import { apportion, ApportionScratch } from '../allocation/apportion.ts';
import { type KeySpec, monthDays, runMonth } from '../allocation/month.ts';
import { invariant, OpenlecError } from '../errors.ts';
import type { TradeRecord } from '../market/tables.ts';
import { findMeter, type MeterRow } from '../metering/meter-register.ts';
import { findReadings } from '../metering/readings.ts';
import { defineTx } from '../state/registry.ts';
import type { Json, State } from '../state/tables.ts';
import { activeHolders, activeWh, copyInterval, distribute, moveWh, type Piece } from './bundles.ts';
import { dayGrid, type DayGrid, recordsRoot } from './calendar.ts';
import {
  autoClaims, CERT_HOLDERS_TABLE, CERT_MONTHS_TABLE, CERTIFICATES_TABLE, type CertInterval, type CertificatesRow, CLAIMS_TABLE, claimsKey, type ClaimsRow, type DeviceRow, deviceOfMeter,
  certKey,
} from './tables.ts';

/** What a settlement did in one interval to one device's certificates, by kind: moved along trades or the allocation, kept by the producer for its own share, or claimed. */
export interface SettleRecord {
  [field: string]: string | number;
  interval: string;
  device: string;
  /** `kept`: a producer's own allocated share, whose certificates stay with it. */
  via: 'trade' | 'allocation' | 'kept' | 'claim';
  wh: number;
  /** Wh trades or the allocation asked for that the producer's certificates could not cover. */
  shortWh: number;
}

/** Tally sums records by device and kind within one interval, in the order they first occur. */
class Tally {
  private readonly open = new Map<string, SettleRecord>();
  constructor(private readonly records: SettleRecord[]) {}
  add(interval: string, device: string, via: SettleRecord['via'], wh: number, shortWh: number): void {
    const key = `${device}\u001f${via}`;
    const r = this.open.get(key);
    if (r) {
      r.wh += wh;
      r.shortWh += shortWh;
    } else {
      this.open.set(key, { interval, device, via, wh, shortWh });
    }
  }
  flush(): void {
    this.records.push(...this.open.values());
    this.open.clear();
  }
}

interface Meters {
  device(meter: string): DeviceRow | undefined;
  owner(meter: string): string | undefined;
}

/** A device's certificates of one interval while its moves are planned: what is still free, and the pieces to hand out. */
interface Slot {
  iv: CertInterval | undefined;
  owner: string;
  free: number;
  pieces: Piece[];
}

export interface SettleSummary {
  month: string;
  movedWh: number;
  claimedWh: number;
  shortWh: number;
  records: number;
  root: string;
}

/**
 * Working copies of a month's certificate rows, one day at a time (a day's moves and
 * claims touch only that day's rows): `open` checks the day's issuance and reads its rows
 * once each; a row is copied when first touched (the state journals rows by reference)
 * and written back when the day is `done`.
 */
class DayRows {
  private date = '';
  private readonly stored = new Map<string, CertificatesRow>();
  private readonly touched = new Map<string, CertificatesRow>();
  constructor(private readonly state: State) {}

  /** open refuses a day while an export reading of it has no certificates, or newer readings than its certificates, and reads its rows. */
  open(date: string, devices: readonly DeviceRow[]): void {
    this.date = date;
    for (const d of devices) {
      // Read without keeping it inflated: the copy is what the settlement works on.
      const row = this.state.peek<CertificatesRow>('certificates', certKey(d.device, date));
      if (row) this.stored.set(d.device, row);
      const readings = findReadings(this.state, d.meter, 'export', date);
      if (!readings) continue;
      if (!row) throw new OpenlecError('E_NOT_ISSUED', `device ${d.device} has export readings on ${date} but no certificates: issue that day first`, { field: 'body.month', details: { device: d.device, date } });
      if (row.readingsEntry !== readings.entry) {
        throw new OpenlecError('E_ISSUANCE_STALE', `device ${d.device}: the readings of ${date} were corrected (entry ${readings.entry}) after its certificates were issued (from entry ${row.readingsEntry}): issue that day again first`, { field: 'body.month', details: { device: d.device, date } });
      }
    }
  }

  get(device: string, date: string): CertificatesRow | undefined {
    invariant(date === this.date, 'a settlement works on one day at a time');
    let row = this.touched.get(device);
    if (!row) {
      const stored = this.stored.get(device);
      if (!stored) return undefined;
      row = { ...stored, intervals: stored.intervals.map(copyInterval) };
      this.touched.set(device, row);
    }
    return row;
  }

  /** done writes the day's touched rows (unless only planning) and lets the day go. */
  done(entry: number, write: boolean): void {
    if (write) for (const row of this.touched.values()) this.state.put('certificates', { ...row, entry });
    this.stored.clear();
    this.touched.clear();
  }
}

function ownerOfMeter(state: State, meter: string): string | undefined {
  return (findMeter(state, meter, 'import') ?? findMeter(state, meter, 'export'))?.owner;
}

/** memo keeps the meter lookups of one settlement: a month's trades name the same meters thousands of times. */
function memo<V>(f: (key: string) => V): (key: string) => V {
  const cache = new Map<string, V>();
  return (key) => {
    if (!cache.has(key)) cache.set(key, f(key));
    return cache.get(key)!;
  };
}

/**
 * settleMonth moves the certificates of a month the way the energy went, then claims
 * them for the members who asked for it:
 * 1. P2P trades: a trade of q Wh from seller meter s to buyer b in interval t moves q Wh of
 *    the certificates of s's device for t from its owner to b's owner.
 * 2. The month's allocation (its recorded key, recomputed): a member's allocated Wh of t
 *    move from the producers' devices, apportioned by D'Hondt over the Wh each still holds.
 * 3. Automatic claims: a holder who opted in has the active certificates of t cancelled
 *    against the metered consumption of their import meters, first in t, then in the other
 *    intervals of the same local clock hour, never above what is metered and not yet claimed.
 * What a trade or allocation asked for beyond the producer's certificates is recorded as short.
 */
export function settleMonth(state: State, month: string, entry: number, write = true): { summary: SettleSummary; records: SettleRecord[] } {
  const days = monthDays(month);
  const devices = ([...state.rows('devices')] as DeviceRow[]).sort((a, b) => (a.device < b.device ? -1 : a.device > b.device ? 1 : 0));
  const rows = new DayRows(state);
  // Moves first, then claims, each in day order: the order the records' root is taken in.
  const records: SettleRecord[] = [];
  const claimRecords: SettleRecord[] = [];
  const allocation = state.get<{ key: KeySpec }>('allocations', month);
  const run = allocation ? runMonth(state, month, allocation.key) : undefined;
  const producers = run ? run.input.producers.map((p) => deviceOfMeter(state, p)) : [];
  const memberOwners = run ? run.input.members.map((m) => ownerOfMeter(state, m)!) : [];
  const scratch = new ApportionScratch();
  const tally = new Tally(records);
  const meters: Meters = { device: memo((m) => deviceOfMeter(state, m)), owner: memo((m) => ownerOfMeter(state, m)) };
  const claimTally = new Tally(claimRecords);
  let t = 0;
  for (const date of days) {
    rows.open(date, devices);
    const grid = dayGrid(state, date);
    grid.iso.forEach((iso, k) => {
      const slots = new Map<string, Slot>();
      const slot = (d: DeviceRow): Slot => {
        let s = slots.get(d.device);
        if (!s) {
          const iv = rows.get(d.device, date)?.intervals[k];
          slots.set(d.device, (s = { iv, owner: d.owner, free: iv ? activeWh(iv, d.owner) : 0, pieces: [] }));
        }
        return s;
      };
      planTrades(state, iso, slot, tally, meters);
      if (run) planAllocation(run, t, producers, memberOwners, slot, iso, tally, scratch);
      for (const s of slots.values()) if (s.pieces.length > 0) distribute(s.iv!, s.owner, s.pieces, entry);
      tally.flush();
      t++;
    });
    claimDay(state, rows, devices, grid, claimTally, entry, write);
    rows.done(entry, write);
  }
  for (const r of claimRecords) records.push(r);
  const sum = (via: SettleRecord['via'][], f: (r: SettleRecord) => number) => records.filter((r) => via.includes(r.via)).reduce((s, r) => s + f(r), 0);
  return {
    records,
    summary: { month, movedWh: sum(['trade', 'allocation'], (r) => r.wh), claimedWh: sum(['claim'], (r) => r.wh), shortWh: sum(['trade', 'allocation'], (r) => r.shortWh), records: records.length, root: recordsRoot(records) },
  };
}

/** planTrades: each trade of the interval's clearing takes what its seller's device still has free for the buyer. */
function planTrades(state: State, iso: string, slot: (d: DeviceRow) => Slot, tally: Tally, meters: Meters): void {
  // Each clearing is read once a settlement: not kept inflated.
  const clearing = state.peek<{ trades: string }>('clearings', iso);
  if (!clearing) return;
  for (const trade of JSON.parse(clearing.trades) as TradeRecord[]) {
    const device = meters.device(trade.seller);
    const buyer = meters.owner(trade.buyer);
    if (!device || !buyer || buyer === device.owner) continue;
    const s = slot(device);
    const n = Math.min(trade.wh, s.free);
    s.free -= n;
    if (n > 0) s.pieces.push({ holder: buyer, wh: n, reason: 'trade' });
    tally.add(iso, device.device, 'trade', n, trade.wh - n);
  }
}

/** planAllocation: each member's allocated Wh of the interval, apportioned by D'Hondt over what the producers' devices still have free. */
function planAllocation(
  run: ReturnType<typeof runMonth>, t: number, producers: (DeviceRow | undefined)[], owners: string[], slot: (d: DeviceRow) => Slot, iso: string, tally: Tally, scratch: ApportionScratch,
): void {
  const m = run.input.members.length;
  const slots = producers.map((d) => (d ? slot(d) : undefined));
  const held = new Float64Array(producers.length);
  const out = new Float64Array(producers.length);
  const open = new Int32Array(producers.length);
  for (let i = 0; i < m; i++) {
    const want = run.result.allocation[t * m + i]!;
    if (want <= 0) continue;
    let count = 0;
    let total = 0;
    slots.forEach((s, p) => {
      held[p] = s ? s.free : 0;
      out[p] = 0;
      if (held[p]! > 0) open[count++] = p;
      total += held[p]!;
    });
    const give = Math.min(want, total);
    if (give > 0) apportion(give, held, held, open, count, out, scratch);
    for (let c = 0; c < count; c++) {
      const p = open[c]!;
      const n = out[p]!;
      if (n === 0) continue;
      const s = slots[p]!;
      s.free -= n;
      // A producer's own allocated share keeps its certificates, and nobody else takes them.
      if (s.owner === owners[i]) tally.add(iso, producers[p]!.device, 'kept', n, 0);
      else {
        s.pieces.push({ holder: owners[i]!, wh: n, reason: 'allocation' });
        tally.add(iso, producers[p]!.device, 'allocation', n, 0);
      }
    }
    if (want > give) tally.add(iso, '', 'allocation', 0, want - give);
  }
}

/** claimDay cancels opted-in holders' active certificates of a day against their metered consumption in the same clock hour. */
function claimDay(state: State, rows: DayRows, devices: DeviceRow[], grid: DayGrid, tally: Tally, entry: number, write: boolean): void {
  const claims = new Map<string, ClaimsRow>();
  const claimRow = (meter: string): ClaimsRow => {
    let row = claims.get(meter);
    if (!row) {
      const stored = state.get<ClaimsRow>('claims', claimsKey(meter, grid.date));
      row = stored ? { ...stored, claimedWh: [...stored.claimedWh] } : { meter, date: grid.date, claimedWh: grid.starts.map(() => 0), entry };
      claims.set(meter, row);
    }
    return row;
  };
  const importMeters = new Map<string, MeterRow[]>();
  const metersOf = (holder: string) => {
    let list = importMeters.get(holder);
    if (!list) importMeters.set(holder, (list = (state.lookup<MeterRow>('meters', 'owner', holder)).filter((m) => m.direction === 'import').sort((a, b) => (a.meter < b.meter ? -1 : 1))));
    return list;
  };
  // For each interval: itself first, then the other intervals of its clock hour, in time order.
  const targetsOf = grid.hour.map((h, k) => [k, ...grid.hour.flatMap((g, j) => (g === h && j !== k ? [j] : []))]);
  const consumption = new Map<string, (number | null)[] | undefined>();
  const consumed = (meter: string) => {
    if (!consumption.has(meter)) consumption.set(meter, findReadings(state, meter, 'import', grid.date)?.values);
    return consumption.get(meter);
  };
  for (const device of devices) {
    const row = rows.get(device.device, grid.date);
    if (!row) continue;
    row.intervals.forEach((iv, k) => {
      const holders = activeHolders(iv).filter((h) => autoClaims(state, h)).sort();
      for (const holder of holders) {
        for (const meter of metersOf(holder)) {
          const values = consumed(meter.meter);
          if (!values) continue;
          for (const j of targetsOf[k]!) {
            const have = activeWh(iv, holder);
            if (have === 0) break;
            const claimed = claimRow(meter.meter);
            const room = (values[j] ?? 0) - claimed.claimedWh[j]!;
            if (room <= 0) continue;
            const n = moveWh(iv, holder, Math.min(have, room), { holder, status: 'cancelled', reason: 'claim', claim: { beneficiary: holder, interval: grid.iso[j]!, meter: meter.meter } }, entry);
            claimed.claimedWh[j] = claimed.claimedWh[j]! + n;
            tally.add(iv.start, device.device, 'claim', n, 0);
          }
        }
      }
      tally.flush();
    });
  }
  if (write) for (const row of claims.values()) state.put('claims', { ...row, entry });
}

const int = z.number().int().min(0);

/**
 * certificates.settle records the month's automatic movements of certificates (by P2P
 * trades and by the self-consumption allocation) and the automatic claims, as totals and
 * the Merkle root of each move. Nobody chooses these moves: apply recomputes them from
 * the log and refuses any difference, and a month is settled once, after every export
 * reading of it has been issued.
 */
export const certificatesSettle = defineTx({
  type: 'certificates.settle',
  roles: ['operator'],
  tables: [CERTIFICATES_TABLE, CLAIMS_TABLE, CERT_MONTHS_TABLE, CERT_HOLDERS_TABLE],
  body: z.strictObject({
    month: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'must be YYYY-MM'),
    movedWh: int, claimedWh: int, shortWh: int, records: int,
    root: z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 hex digest'),
  }),
  apply({ state, entry }, body) {
    const done = state.get<{ settled: { entry: number } | null; expired: Json }>('certificate_months', body.month);
    if (done?.settled) throw new OpenlecError('E_MONTH_SETTLED', `the certificates of ${body.month} were settled by entry ${done.settled.entry}`, { field: 'body.month' });
    const { summary } = settleMonth(state, body.month, entry);
    for (const field of Object.keys(summary) as (keyof SettleSummary)[]) {
      if (summary[field] !== body[field]) {
        throw new OpenlecError('E_SETTLEMENT_MISMATCH', `certificates of ${body.month}: ${field} recorded ${String(body[field])}, recomputed from the log ${String(summary[field])}`, { field: `body.${field}` });
      }
    }
    state.put('certificate_months', { month: body.month, settled: { entry, movedWh: summary.movedWh, claimedWh: summary.claimedWh, shortWh: summary.shortWh }, expired: done?.expired ?? null, entry });
  },
});

/** planSettle computes the body of certificates.settle for a month without writing anything. */
export function planSettle(state: State, month: string): SettleSummary {
  const mark = state.mark();
  try {
    return settleMonth(state, month, -1, false).summary;
  } finally {
    state.rollback(mark);
  }
}
