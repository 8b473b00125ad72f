import { z } from 'zod';
import { type KeySpec, monthDays, runMonth } from '../allocation/month.ts';
import { community } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import { type ClearingRow, type MarketConfigRow, tradesOf } from '../market/tables.ts';
import type { MeterRow } from '../metering/meter-register.ts';
import { findReadings } from '../metering/readings.ts';
import { settleMonth } from '../settlement/invoice.ts';
import type { State } from '../state/tables.ts';
import type { LedgerStore } from '../store/ledger-store.ts';
import { dayIntervals, formatInstant, localDay } from '../units/index.ts';
import { KEY, MONTH, type Route } from './route.ts';
import { INVOICE_RECORDS, MEMBER_SUMMARY } from './responses.ts';

/**
 * Read models of the member's home (#/me):
 * - GET /v1/members/:key/summary?by=day|month|year: the member's energy per local day,
 *   month or year over the whole log: drawn and fed in (metered), bought from neighbours
 *   and sold to them (trades), from the community's sun (the month's recorded allocation,
 *   beyond what was bought), from the supplier (the rest), and per month or year the bill
 *   and the saving against the supplier alone (the invoice's figures, settleMonth);
 * - GET /v1/members/:key/invoice-records/:month: the log entries an invoice rests on besides
 *   the member's readings and trades (the community, the member's meters, the market rules
 *   in force), so the browser can prove them and recompute the invoice with settleMonth.
 */
export interface Bucket {
  /** The local day (YYYY-MM-DD), month (YYYY-MM) or year (YYYY). */
  period: string;
  drawnWh: number;
  fedWh: number;
  /** Energy drawn that was bought from neighbours on the market (at most what was metered). */
  neighboursWh: number;
  /** Energy drawn from the community's production allocated to the member beyond the purchases (0 without an allocation). */
  sunWh: number;
  /** The rest of the energy drawn: from the supplier. */
  supplierWh: number;
  soldWh: number;
  /** Intervals of the member's meters without a metered value. */
  missingIntervals: number;
  /** The invoice's total and saving (month and year; null by day, and without market rules). */
  billMicro: number | null;
  savingMicro: number | null;
}

const BY = z.object({ by: z.enum(['day', 'month', 'year']).default('day') });

const empty = (period: string): Bucket => ({ period, drawnWh: 0, fedWh: 0, neighboursWh: 0, sunWh: 0, supplierWh: 0, soldWh: 0, missingIntervals: 0, billMicro: null, savingMicro: null });

/** monthsOf: the months holding the member's readings, oldest first. */
function monthsOf(state: State, meters: readonly MeterRow[]): string[] {
  const months = new Set<string>();
  for (const m of new Set(meters.map((x) => x.meter))) for (const r of state.lookup<{ date: string }>('readings', 'meter', m)) months.add(r.date.slice(0, 7));
  return [...months].sort();
}

/** allocatedPerInterval: the member's import meters' allocated Wh in each interval of the month, from the month's recorded allocation key. */
function allocatedPerInterval(state: State, month: string, meters: readonly string[]): Map<string, Float64Array> | undefined {
  const row = state.get<{ key: KeySpec }>('allocations', month);
  if (!row) return undefined;
  const { input, result } = runMonth(state, month, row.key);
  const out = new Map<string, Float64Array>();
  const m = input.members.length;
  for (const meter of meters) {
    const i = input.members.indexOf(meter);
    if (i < 0) continue;
    const a = new Float64Array(input.starts.length);
    for (let t = 0; t < input.starts.length; t++) a[t] = result.allocation[t * m + i]!;
    out.set(meter, a);
  }
  return out;
}

/** monthDaysOf: the member's day buckets of a month, and the month's bill and saving. */
function monthBuckets(state: State, key: string, meters: readonly MeterRow[], month: string): { days: Bucket[]; billMicro: number | null; savingMicro: number | null } {
  const c = community(state)!;
  const mine = new Set(meters.map((m) => m.meter));
  const days = monthDays(month).map((date) => ({ date, starts: dayIntervals(localDay(date, c.timeZone), c.intervalMinutes).map(formatInstant) }));
  const first = days[0]!.starts[0]!;
  const last = days.at(-1)!.starts.at(-1)!;
  // Bought and sold Wh per interval and meter.
  const bought = new Map<string, number>();
  const sold = new Map<string, number>();
  for (const row of state.rows('clearings') as IterableIterator<unknown> as IterableIterator<ClearingRow>) {
    if (row.interval < first || row.interval > last || ![...mine].some((m) => row.trades.includes(`"${m}"`))) continue;
    for (const t of tradesOf(row)) {
      if (mine.has(t.buyer)) bought.set(`${row.interval}/${t.buyer}`, (bought.get(`${row.interval}/${t.buyer}`) ?? 0) + t.wh);
      if (mine.has(t.seller)) sold.set(`${row.interval}/${t.seller}`, (sold.get(`${row.interval}/${t.seller}`) ?? 0) + t.wh);
    }
  }
  const allocated = allocatedPerInterval(state, month, meters.filter((m) => m.direction === 'import').map((m) => m.meter));
  let t0 = 0;
  const out: Bucket[] = [];
  for (const { date, starts } of days) {
    const b = empty(date);
    let any = false;
    for (const m of meters) {
      const values = findReadings(state, m.meter, m.direction, date)?.values;
      if (values) any = true;
      starts.forEach((iso, k) => {
        const v = values?.[k];
        if (v === null || v === undefined) {
          if (values) b.missingIntervals++;
          return;
        }
        if (m.direction === 'export') {
          b.fedWh += v;
          b.soldWh += sold.get(`${iso}/${m.meter}`) ?? 0;
          return;
        }
        const neighbours = Math.min(v, bought.get(`${iso}/${m.meter}`) ?? 0);
        const sun = Math.min(v - neighbours, Math.max(0, Math.round(allocated?.get(m.meter)?.[t0 + k] ?? 0) - neighbours));
        b.drawnWh += v;
        b.neighboursWh += neighbours;
        b.sunWh += sun;
        b.supplierWh += v - neighbours - sun;
      });
    }
    t0 += starts.length;
    if (any) out.push(b);
  }
  let invoice: { totalMicro: number; savingsMicro: number } | undefined;
  try {
    invoice = settleMonth(state, month).invoices.find((i) => i.participant === key);
  } catch (e) {
    if (!(e instanceof OpenlecError && e.code === 'E_NO_MARKET')) throw e;
  }
  return { days: out, billMicro: invoice?.totalMicro ?? null, savingMicro: invoice?.savingsMicro ?? null };
}

const add = (into: Bucket, b: Bucket) => {
  for (const k of ['drawnWh', 'fedWh', 'neighboursWh', 'sunWh', 'supplierWh', 'soldWh', 'missingIntervals'] as const) into[k] += b[k];
};
const addMoney = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : a + b);

/** memberSummary: the member's buckets by day, month or year, oldest first. */
export function memberSummary(state: State, key: string, by: 'day' | 'month' | 'year'): Bucket[] {
  const meters = state.lookup<MeterRow>('meters', 'owner', key);
  const out: Bucket[] = [];
  for (const month of monthsOf(state, meters)) {
    const m = monthBuckets(state, key, meters, month);
    if (by === 'day') {
      out.push(...m.days);
      continue;
    }
    const period = by === 'month' ? month : month.slice(0, 4);
    let b = out.at(-1);
    if (!b || b.period !== period) out.push((b = empty(period)));
    for (const d of m.days) add(b, d);
    b.billMicro = addMoney(b.billMicro, m.billMicro);
    b.savingMicro = addMoney(b.savingMicro, m.savingMicro);
  }
  return out;
}

export function homeRoutes(ledger: LedgerStore): Route[] {
  // The summary reads every month of the log: computed once per state of the log and member.
  const cache = new Map<string, { revision: number; buckets: Bucket[] }>();
  return [
    {
      method: 'GET', url: '/v1/members/:key/summary', operationId: 'getMemberSummary', tags: ['members'], response: MEMBER_SUMMARY, summary: 'A member\'s energy per local day, month or year (drawn, fed in, from neighbours, from the community\'s sun, from the supplier, sold) with the bill and saving of each month or year.', access: { roles: ['operator'], self: true },
      params: KEY, query: BY,
      handler: ({ params, query }) => {
        if (!ledger.state.get('participants', params.key)) throw new OpenlecError('E_NOT_FOUND', `no participant ${params.key}`, { field: 'key' });
        const id = `${params.key}/${query.by}`;
        const revision = ledger.state.revision();
        let hit = cache.get(id);
        if (!hit || hit.revision !== revision) {
          hit = { revision, buckets: memberSummary(ledger.state, params.key, query.by) };
          if (cache.size > 64) cache.clear();
          cache.set(id, hit);
        }
        return { by: query.by, currency: community(ledger.state)!.currency, buckets: hit.buckets };
      },
    },
    {
      method: 'GET', url: '/v1/members/:key/invoice-records/:month', operationId: 'getMemberInvoiceRecords', tags: ['members', 'settlement'], response: INVOICE_RECORDS, summary: 'The log entries a member\'s invoice rests on besides their readings and trades: the community, the member\'s meters and the market rules in force in the month (for recomputing it).', access: { roles: ['operator'], self: true },
      params: KEY.extend(MONTH.shape),
      handler: ({ params }) => {
        if (!ledger.state.get('participants', params.key)) throw new OpenlecError('E_NOT_FOUND', `no participant ${params.key}`, { field: 'key' });
        const c = community(ledger.state)!;
        const days = monthDays(params.month);
        const first = formatInstant(dayIntervals(localDay(days[0]!, c.timeZone), c.intervalMinutes)[0]!);
        const last = formatInstant(dayIntervals(localDay(days.at(-1)!, c.timeZone), c.intervalMinutes).at(-1)!);
        const configs = ([...ledger.state.rows('market_config')] as MarketConfigRow[]).sort((a, b) => (a.from < b.from ? -1 : 1));
        // The rules in force at the month's first interval, and those that start within it.
        const start = configs.filter((x) => x.from <= first).at(-1);
        const within = configs.filter((x) => x.from > first && x.from <= last);
        return {
          month: params.month,
          community: { entry: c.entry },
          meters: ledger.state.lookup<MeterRow>('meters', 'owner', params.key).map((m) => ({ meter: m.meter, direction: m.direction, entry: m.entry })),
          marketConfigs: [...(start ? [start] : []), ...within].map((x) => ({ from: x.from, entry: x.entry })),
        };
      },
    },
  ];
}
