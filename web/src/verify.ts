import { checkCheckpointConsistency } from '../../src/audit/consistency.ts';
import { checkEntryProof, checkTradeInclusion, type EntryProof } from '../../src/audit/entry-proof.ts';
import { COMMUNITY_TABLE } from '../../src/community/tables.ts';
import { SETTLEMENTS_TABLE as FLEX_SETTLEMENTS_TABLE } from '../../src/flex/tables.ts';
import { CLEARINGS_TABLE, MARKET_CONFIG_TABLE } from '../../src/market/tables.ts';
import { METERS_TABLE } from '../../src/metering/meter-register.ts';
import { READINGS_TABLE } from '../../src/metering/readings.ts';
import { type Invoice, settleMonth } from '../../src/settlement/invoice.ts';
import { type Json, type Row, State } from '../../src/state/tables.ts';
import { api } from './api.ts';

/**
 * "Verify my records", in the browser, with the CLI's own verification code: each record
 * shown to the member is fetched with its inclusion proof and checked against the
 * operator's checkpoint key pinned on first use (never the key sent with the proof).
 */
export interface CurveDay {
  meter: string;
  direction: string;
  date: string;
  values: (number | null)[];
  entry: number;
}

export interface Trade {
  interval: string;
  side: string;
  wh: number;
  priceMicroPerKwh: number;
  entry: number;
  record: string;
  index: number;
  proof: string[];
}

export interface Check {
  what: string;
  entry: number;
  ok: boolean;
  detail: string;
}

const PIN = (origin: string) => `openlec.verifierKey.${origin}`;

/** pinnedKey returns the operator key this browser first saw for the log, and whether the server now announces a different one. */
export function pinnedKey(origin: string, announced: string): { key: string; changed: boolean } {
  const pinned = localStorage.getItem(PIN(origin));
  if (!pinned) {
    localStorage.setItem(PIN(origin), announced);
    return { key: announced, changed: false };
  }
  return { key: pinned, changed: pinned !== announced };
}

/** The invoice as the server sends it (GET /v1/members/:key/invoices/:month). */
export interface ServerInvoice {
  month: string;
  participant: string;
  lines: { kind: string; wh: number; priceMicroPerKwh: number | null; amountMicro: number; credit: boolean }[];
  chargesMicro: number;
  creditsMicro: number;
  totalMicro: number;
  withoutCommunityMicro: number;
  savingsMicro: number;
  missingIntervals: number;
}

/** The entries an invoice rests on besides readings and trades (GET /v1/members/:key/invoice-records/:month). */
export interface InvoiceRecords {
  month: string;
  community: { entry: number };
  meters: { meter: string; direction: string; entry: number }[];
  marketConfigs: { from: string; entry: number }[];
}

/** A member's share of a month's allocation, as shown (GET /v1/members/:key/allocations). */
export interface AllocationShown {
  month: string;
  entry: number;
  meters: { meter: string; consumedWh: number; allocatedWh: number }[];
}

export interface HomeRecords {
  /** The member's key: whose invoice is recomputed. */
  member: string;
  curves: readonly CurveDay[];
  trades: readonly (Trade & { amountMicro?: number })[];
  allocation?: AllocationShown | undefined;
  invoice?: { shown: ServerInvoice; records: InvoiceRecords } | undefined;
}

/**
 * verifyHome checks every record the member's home shows against the log: each day of
 * readings and each trade (with its inclusion proof), the month's allocation entry, and
 * the invoice: its community, meters and market rules are proven too, then the invoice is
 * recomputed in this browser with the server's own settlement code (settleMonth, run on a
 * state built from the proven records only) and compared with what the server sent, line
 * by line. The first difference fails the invoice's check and names the line.
 */
export async function verifyHome(r: HomeRecords, verifierKey: string): Promise<Check[]> {
  const checks: Check[] = [];
  const proofs = new Map<number, Promise<ReturnType<typeof checkEntryProof>>>();
  const proven = (entry: number) => {
    let p = proofs.get(entry);
    if (!p) proofs.set(entry, (p = api<EntryProof>(`/v1/proofs/${entry}`).then((proof) => checkEntryProof(proof, verifierKey))));
    return p;
  };
  const attempt = async (what: string, entry: number, check: () => Promise<string>) => {
    try {
      checks.push({ what, entry, ok: true, detail: await check() });
    } catch (e) {
      checks.push({ what, entry, ok: false, detail: (e as Error).message });
    }
  };
  // Fetch the proofs side by side (each is checked when its record is).
  for (const e of new Set([...r.curves.map((c) => c.entry), ...r.trades.map((t) => t.entry)])) proven(e).catch(() => undefined);
  // What the invoice's recomputation may rest on: only records whose check passed.
  const readings: CurveDay[] = [];
  const clearings = new Map<string, { interval: string; records: Record<string, unknown>[] }>();
  for (const c of r.curves) {
    await attempt(`readings ${c.meter} ${c.direction} ${c.date}`, c.entry, async () => {
      const { transaction, checkpoint } = await proven(c.entry);
      const body = transaction.body as { meter: string; direction: string; date: string; values: (number | null)[] };
      if (body.meter !== c.meter || body.direction !== c.direction || body.date !== c.date || body.values.length !== c.values.length) {
        throw new Error(`entry ${c.entry} in the log is not this day's readings`);
      }
      // The day's latest entry carries every value it sent; values it left null came from earlier entries of the day.
      const differ = body.values.findIndex((v, i) => v !== null && v !== c.values[i]);
      if (differ >= 0) throw new Error(`value ${differ} shown (${String(c.values[differ])} Wh) differs from the log (${String(body.values[differ])} Wh)`);
      const earlier = body.values.filter((v, i) => v === null && c.values[i] !== null).length;
      readings.push(c);
      return `in the log under checkpoint ${checkpoint.size}${earlier ? ` (${earlier} values from earlier entries)` : ''}`;
    });
  }
  for (const t of r.trades) {
    await attempt(`trade ${t.side} ${t.interval}`, t.entry, async () => {
      const { transaction, checkpoint } = await proven(t.entry);
      const clear = transaction as unknown as { type: string; body: { interval: string; trades: number; tradesRoot: string } };
      if (clear.type !== 'market.clear' || clear.body.interval !== t.interval) throw new Error(`entry ${t.entry} is not the clearing of ${t.interval}`);
      const record = checkTradeInclusion(t, clear);
      if (record.wh !== t.wh) throw new Error(`the energy shown (${t.wh} Wh) differs from the trade record (${String(record.wh)} Wh)`);
      if (record.price !== t.priceMicroPerKwh) throw new Error(`the price shown differs from the trade record (${String(record.price)})`);
      const amount = t.side === 'buy' ? record.amount : record.proceeds;
      if (t.amountMicro !== undefined && amount !== t.amountMicro) throw new Error(`the amount shown (${t.amountMicro}) differs from the trade record (${String(amount)})`);
      const c = clearings.get(t.interval) ?? { interval: t.interval, records: [] };
      c.records.push(record);
      clearings.set(t.interval, c);
      return `in clearing entry ${t.entry}, under checkpoint ${checkpoint.size}`;
    });
  }
  const a = r.allocation;
  if (a) {
    await attempt(`allocation ${a.month}`, a.entry, async () => {
      const { transaction, checkpoint } = await proven(a.entry);
      const run = transaction as unknown as { type: string; body: { month: string; members: { meter: string; consumedWh: number; allocatedWh: number }[] } };
      if (run.type !== 'allocation.run' || run.body.month !== a.month) throw new Error(`entry ${a.entry} is not the allocation of ${a.month}`);
      for (const m of a.meters) {
        const logged = run.body.members.find((x) => x.meter === m.meter);
        if (!logged || logged.allocatedWh !== m.allocatedWh || logged.consumedWh !== m.consumedWh) throw new Error(`the allocation shown for ${m.meter} differs from the log`);
      }
      return `allocation entry under checkpoint ${checkpoint.size}`;
    });
  }
  const inv = r.invoice;
  if (inv) {
    const what = `invoice ${inv.shown.month}`;
    await attempt(what, inv.records.community.entry, async () => {
      const rec = inv.records;
      const state = new State([COMMUNITY_TABLE, METERS_TABLE, READINGS_TABLE, MARKET_CONFIG_TABLE, CLEARINGS_TABLE, FLEX_SETTLEMENTS_TABLE]);
      const body = async <B>(entry: number, type: string): Promise<B> => {
        const tx = (await proven(entry)).transaction as { type: string; body: unknown };
        if (tx.type !== type) throw new Error(`entry ${entry} is a ${tx.type}, not a ${type}`);
        return tx.body as B;
      };
      // A row of each table from the proven bodies: every declared column, those the body lacks null (settleMonth does not read them).
      const put = (table: string, v: Record<string, unknown>) => state.put(table, Object.fromEntries(Object.keys(state.spec(table).columns).map((k) => [k, (v[k] ?? null) as Json])));
      put('community', { ...(await body<Row>(rec.community.entry, 'community.create')), id: 'community', entry: rec.community.entry });
      for (const m of rec.meters) {
        const b = await body<Row & { owner: string }>(m.entry, 'meter.register');
        if (b.owner !== r.member) throw new Error(`meter entry ${m.entry} is not the member's`);
        put('meters', { ...b, entry: m.entry });
      }
      for (const m of rec.marketConfigs) put('market_config', { ...(await body<Row>(m.entry, 'market.configure')), entry: m.entry });
      for (const d of readings) put('readings', { ...d, corrections: 0 });
      for (const x of clearings.values()) put('clearings', { interval: x.interval, surplusMicro: 0, trades: JSON.stringify(x.records), entry: 0 });
      const mine = settleMonth(state, inv.shown.month).invoices.find((i) => i.participant === r.member);
      if (!mine) throw new Error('no invoice can be computed from the proven records');
      compareInvoice(inv.shown, mine);
      return `recomputed in this browser from the ${readings.length + r.trades.length + rec.meters.length + rec.marketConfigs.length + 1} proven records: ${mine.lines.length} lines and the total agree`;
    });
  }
  return checks;
}

/** compareInvoice throws naming the first figure of the server's invoice that differs from the recomputed one. */
function compareInvoice(shown: ServerInvoice, computed: Invoice): void {
  const n = Math.max(shown.lines.length, computed.lines.length);
  for (let i = 0; i < n; i++) {
    const s = shown.lines[i];
    const c = computed.lines[i];
    if (!s || !c || s.kind !== c.kind || s.wh !== c.wh || s.amountMicro !== c.amountMicro || s.priceMicroPerKwh !== c.priceMicroPerKwh || s.credit !== c.credit) {
      const name = s ? `${s.kind}${s.priceMicroPerKwh !== null ? ` at ${s.priceMicroPerKwh / 1e6}/kWh` : ''}` : c!.kind;
      throw new Error(`line ${i + 1} (${name}) differs: the server says ${s ? `${s.wh} Wh, ${s.amountMicro} µ` : 'nothing'}, the records give ${c ? `${c.wh} Wh, ${c.amountMicro} µ` : 'nothing'}`);
    }
  }
  for (const k of ['chargesMicro', 'creditsMicro', 'totalMicro', 'withoutCommunityMicro', 'savingsMicro', 'missingIntervals'] as const) {
    if (shown[k] !== computed[k]) throw new Error(`${k} differs: the server says ${shown[k]}, the records give ${computed[k]}`);
  }
}

/** checkConsistency checks that the newer checkpoint extends the older, with the proof from the server. */
export async function checkConsistency(older: { size: number; note: string }, newer: { size: number; note: string }, verifierKey: string) {
  const r = older.size === newer.size
    ? { proof: [] as string[] }
    : await api<{ proof: string[] }>(`/v1/consistency?from=${older.size}&to=${newer.size}`);
  return checkCheckpointConsistency(older.note, newer.note, r.proof, verifierKey);
}
