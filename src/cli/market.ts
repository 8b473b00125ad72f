import { Signer } from '../client.ts';
import { community } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import { bookFor, clearAt } from '../market/book.ts';
import type { ClearingRow } from '../market/tables.ts';
import { readKeyFile } from '../node/key-file.ts';
import { type Invoice, type MonthSettlement, settleMonth } from '../settlement/invoice.ts';
import { SqliteLedger } from '../store/sqlite-ledger.ts';
import { dayIntervals, formatDecimal, formatInstant, formatLocal, localDay, mulDivRound, parseIntervalStart } from '../units/index.ts';
import { defaultKeyPath, withLedger } from './commands.ts';
import { progress, table } from './output.ts';

const kwh = (wh: number) => formatDecimal(wh, 3);
const perKwh = (micro: number | null) => (micro === null ? '-' : formatDecimal(micro, 6));
/** money shows micro-units rounded half-even to cents, for reading; JSON and CSV keep exact micro-units. */
const money = (micro: number) => formatDecimal(mulDivRound(micro, 1, 10_000), 2);

/** bookView lists an interval's book as the state machine would clear it now. */
export function marketBook(o: { db: string; interval: string }) {
  return withLedger(o.db, (ledger) => {
    const c = community(ledger.state)!;
    const start = parseIntervalStart(o.interval, c.intervalMinutes, 'interval');
    const book = bookFor(ledger.state, start);
    const cleared = ledger.state.get('clearings', formatInstant(start)) as ClearingRow | undefined;
    return {
      interval: book.interval, local: formatLocal(start, c.timeZone), mode: book.config.mode, mechanism: book.config.mechanism, cleared: cleared ? cleared.entry : null,
      bounds: { feedInMicroPerKwh: book.config.feedInMicroPerKwh, retailMicroPerKwh: book.config.retailMicroPerKwh },
      orders: book.orders.map((x) => ({ id: x.id, side: x.side, quantityWh: x.quantityWh, limitMicroPerKwh: x.limitMicroPerKwh, meter: book.meterOf.get(x.id)!, node: book.network.ids[x.node ?? 0] || 'beyond', conditions: x.conditions ?? null })),
    };
  });
}

/**
 * curveChart draws the supply and demand curves as horizontal bars: one row per price
 * level, cumulative Wh offered at or below it (asks) and bid at or above it (bids).
 */
export function curveChart(orders: readonly { side: string; quantityWh: number; limitMicroPerKwh: number }[], width = 40): string[] {
  // Wh per price and side, then running sums: one pass over the orders, one over the prices.
  const at = new Map<number, { buy: number; sell: number }>();
  for (const o of orders) {
    const v = at.get(o.limitMicroPerKwh) ?? { buy: 0, sell: 0 };
    v[o.side === 'buy' ? 'buy' : 'sell'] += o.quantityWh;
    at.set(o.limitMicroPerKwh, v);
  }
  const prices = [...at.keys()].sort((a, b) => b - a);
  if (prices.length === 0) return ['(empty book)'];
  const demandAt = new Map<number, number>();
  const supplyAt = new Map<number, number>();
  let d = 0;
  for (const p of prices) demandAt.set(p, (d += at.get(p)!.buy));
  let s = 0;
  for (const p of [...prices].reverse()) supplyAt.set(p, (s += at.get(p)!.sell));
  const supply = (p: number) => supplyAt.get(p)!;
  const demand = (p: number) => demandAt.get(p)!;
  let peak = 1;
  for (const p of prices) peak = Math.max(peak, supply(p), demand(p));
  const bar = (wh: number, ch: string) => ch.repeat(Math.round((wh / peak) * width)).padEnd(width);
  return [
    `${'price/kWh'.padStart(10)}  ${'demand (bids at or above)'.padEnd(width)}  supply (asks at or below)`,
    ...prices.slice(0, 30).map((p) => `${perKwh(p).padStart(10)}  ${bar(demand(p), '▓')}  ${bar(supply(p), '░')} ${kwh(demand(p))} / ${kwh(supply(p))} kWh`),
  ];
}

export function printBook(b: Awaited<ReturnType<typeof marketBook>>): string {
  return [
    `book of ${b.interval} (${b.local}), ${b.mode} ${b.mechanism}, prices bounded by [${perKwh(b.bounds.feedInMicroPerKwh)}, ${perKwh(b.bounds.retailMicroPerKwh)}]${b.cleared !== null ? `, cleared in entry ${b.cleared}` : ', open'}`,
    table(b.orders.map((x) => [x.id, x.side, kwh(x.quantityWh), perKwh(x.limitMicroPerKwh), x.meter, x.node, x.conditions ? JSON.stringify(x.conditions) : '']), ['order', 'side', 'kWh', 'limit/kWh', 'meter', 'node', 'conditions']),
    '',
    ...curveChart(b.orders),
  ].join('\n');
}

export interface ClearCommand {
  db: string;
  interval?: string;
  day?: string;
  signer?: string;
}

/**
 * marketClear clears one interval, or every not yet cleared interval of a local day,
 * recording each as market.clear signed by the operator (all or none), then checkpoints.
 */
export async function marketClear(o: ClearCommand) {
  if (!o.interval === !o.day) throw new OpenlecError('E_USAGE', 'give --interval ISO or --day YYYY-MM-DD', { field: 'interval' });
  const key = readKeyFile(o.signer ?? defaultKeyPath(o.db));
  const ledger = SqliteLedger.open(o.db);
  try {
    const c = community(ledger.state)!;
    const starts = o.interval
      ? [parseIntervalStart(o.interval, c.intervalMinutes, 'interval')]
      : dayIntervals(localDay(o.day!, c.timeZone), c.intervalMinutes).filter((s) => !ledger.state.has('clearings', formatInstant(s)));
    const signer = Signer.forState(ledger.state, key);
    const bar = progress('clearing');
    // Books of different intervals are independent: clear them all, then append all or none.
    const cleared = starts.map((start, k) => {
      const r = clearAt(ledger.state, start);
      bar.update(k + 1, starts.length);
      return r;
    });
    bar.stop();
    const entries = await ledger.submitAtomic(cleared.map((r) => signer.sign('market.clear', r.body)));
    if (entries.length > 0) ledger.checkpoint(key);
    return cleared.map((r, k) => ({ entry: entries[k]!, ...r.body, local: formatLocal(r.book.start, c.timeZone), records: r.records, book: r.book.orders }));
  } finally {
    await ledger.close();
  }
}

export function printClear(rs: Awaited<ReturnType<typeof marketClear>>): string {
  if (rs.length === 0) return 'nothing to clear';
  if (rs.length === 1) {
    const r = rs[0]!;
    return [
      `cleared ${r.interval} (${r.local}) in entry ${r.entry}: ${r.mode} ${r.mechanism} on the ${r.path} path, ${r.orders} orders, ${kwh(r.volumeWh)} kWh at ${perKwh(r.priceMicroPerKwh)}/kWh${r.priceMicroPerKwh === null ? ' (priced per pair)' : ''}`,
      `fees ${money(r.feesMicro)}, market surplus ${money(r.surplusMicro)}, trades root ${r.tradesRoot.slice(0, 16)}…`,
      table(r.records.map((t) => [t.buy, t.sell, kwh(t.wh), perKwh(t.price), perKwh(t.fee), money(t.amount + t.feeAmount), money(t.proceeds)]), ['buy', 'sell', 'kWh', 'price/kWh', 'fee/kWh', 'buyer pays', 'seller gets']),
      '',
      ...curveChart(r.book),
    ].join('\n');
  }
  const peak = Math.max(1, ...rs.map((r) => r.volumeWh));
  return [
    `cleared ${rs.length} intervals in entries ${rs[0]!.entry}..${rs.at(-1)!.entry}: ${kwh(rs.reduce((s, r) => s + r.volumeWh, 0))} kWh traded`,
    'traded volume per interval (price/kWh):',
    ...rs.map((r) => `${r.local.slice(11, 16)} ${'█'.repeat(Math.round((r.volumeWh / peak) * 40)).padEnd(40)} ${kwh(r.volumeWh)} kWh ${perKwh(r.priceMicroPerKwh)}`),
  ].join('\n');
}

export function invoices(o: { db: string; month: string; participant?: string }): Promise<MonthSettlement & { currency: string }> {
  return withLedger(o.db, (ledger) => {
    const s = settleMonth(ledger.state, o.month);
    const currency = community(ledger.state)!.currency;
    if (!o.participant) return { ...s, currency };
    const mine = s.invoices.filter((i) => i.participant === o.participant);
    if (mine.length === 0) throw new OpenlecError('E_UNKNOWN_PARTICIPANT', `participant ${o.participant} has no meter in this community`, { field: 'participant' });
    return { ...s, invoices: mine, currency };
  });
}

export function invoicesCsv(s: MonthSettlement): string {
  const rows = ['participant;month;kind;wh;priceMicroPerKwh;amountMicro;credit'];
  for (const i of s.invoices) {
    for (const l of i.lines) rows.push([i.participant, i.month, l.kind, l.wh, l.priceMicroPerKwh ?? '', l.amountMicro, l.credit].join(';'));
    rows.push([i.participant, i.month, 'total', '', '', i.totalMicro, ''].join(';'));
  }
  return rows.join('\n') + '\n';
}

function printInvoice(i: Invoice, currency: string): string {
  return [
    `invoice ${i.month} for ${i.participant} (meters ${i.meters.join(', ')})`,
    table(i.lines.map((l) => [l.kind, kwh(l.wh), perKwh(l.priceMicroPerKwh), `${l.credit ? '-' : ''}${money(l.amountMicro)}`]), ['line', 'kWh', 'price/kWh', currency]),
    `total ${money(i.totalMicro)} ${currency}; with the supplier alone ${money(i.withoutCommunityMicro)} ${currency}; saved ${money(i.savingsMicro)} ${currency}${i.missingIntervals ? `; ${i.missingIntervals} meter-interval(s) without metered values are not billed` : ''}`,
  ].join('\n');
}

export function printInvoices(s: Awaited<ReturnType<typeof invoices>>): string {
  const t = s.totals;
  const peak = Math.max(1, ...s.invoices.map((i) => Math.abs(i.savingsMicro)));
  return [
    ...s.invoices.map((i) => printInvoice(i, s.currency) + '\n'),
    `community ${s.month}: ${kwh(t.peerWh)} kWh traded between members; members paid ${money(t.chargesMicro)} and received ${money(t.creditsMicro)} ${s.currency};`,
    `fees to the DSO ${money(t.feesMicro)}, market surplus ${money(t.surplusMicro)}, supplier ${money(t.supplierMicro)}, grid ${money(t.gridMicro)} ${s.currency}`,
    ...(s.invoices.length > 1 ? ['', 'savings against the supplier alone:', ...s.invoices.map((i) => `${i.participant.slice(0, 10)}… ${'█'.repeat(Math.round((Math.max(0, i.savingsMicro) / peak) * 40)).padEnd(40)} ${money(i.savingsMicro)} ${s.currency}`)] : []),
  ].join('\n');
}
