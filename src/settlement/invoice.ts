import { monthDays } from '../allocation/month.ts';
import { community } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import { type ClearingRow, marketConfig, tradesOf } from '../market/tables.ts';
import type { MeterRow } from '../metering/meter-register.ts';
import { findReadings } from '../metering/readings.ts';
import type { SettlementRow } from '../flex/tables.ts';
import type { State } from '../state/tables.ts';
import { costMicro, dayIntervals, formatInstant, localDay } from '../units/index.ts';

/**
 * Settlement and monthly invoices. For every interval and meter, traded volumes are
 * reconciled with the metered value:
 * - a buyer's import beyond its peer purchases comes from the residual supplier at the
 *   retail price; peer energy it bought but did not take is sold to the grid at the
 *   feed-in price;
 * - a seller's export beyond its peer sales is sold to the grid at the feed-in price; a
 *   shortfall against its sales is bought from the supplier at the retail price.
 * Peer amounts are those of the recorded trades; supplier and grid energy is summed per
 * price over the month and priced once. A meter-interval without a metered value is not
 * billed for supplier or grid energy and is counted as missing: bills rest on metered
 * values only. Intervals before the first market.configure have no prices and are not
 * billed by openlec (counted in `unpricedIntervals`).
 * Flexibility (flex.settle of the month, src/flex/settle.ts): the DSO pays each provider
 * (member or aggregator) its delivered flexibility at the offer's price (`flex-revenue`,
 * per price), the network-fee refund on energy its batteries delivered when the community
 * refunds double charging (`flex-fee-relief`), and charges the one-sided penalty on
 * deficiency (`flex-penalty`).
 */
export const LINE_KINDS = ['peer-purchase', 'network-fee', 'supplier-purchase', 'peer-sale', 'grid-sale', 'flex-revenue', 'flex-fee-relief', 'flex-penalty'] as const;
export type LineKind = (typeof LINE_KINDS)[number];
const CREDITS = new Set<LineKind>(['peer-sale', 'grid-sale', 'flex-revenue', 'flex-fee-relief']);

export interface InvoiceLine {
  readonly kind: LineKind;
  readonly wh: number;
  /** Price per kWh for supplier and grid lines; null for peer lines (each trade has its own price). */
  readonly priceMicroPerKwh: number | null;
  /** Always >= 0: a charge for purchases and fees, a credit for sales. */
  readonly amountMicro: number;
  readonly credit: boolean;
}

export interface Invoice {
  readonly month: string;
  readonly participant: string;
  readonly meters: string[];
  readonly lines: InvoiceLine[];
  readonly chargesMicro: number;
  readonly creditsMicro: number;
  /** What the member owes: charges minus credits (negative when it is owed money). */
  readonly totalMicro: number;
  /** The same metered energy with the supplier alone: import at retail minus export at feed-in. */
  readonly withoutCommunityMicro: number;
  readonly savingsMicro: number;
  readonly missingIntervals: number;
}

export interface MonthSettlement {
  readonly month: string;
  /** Intervals of the month before the market's first rules: not billed. */
  readonly unpricedIntervals: number;
  readonly invoices: Invoice[];
  readonly totals: {
    readonly peerWh: number;
    readonly peerPaidMicro: number;
    readonly peerProceedsMicro: number;
    readonly feesMicro: number;
    readonly surplusMicro: number;
    readonly supplierMicro: number;
    readonly gridMicro: number;
    readonly chargesMicro: number;
    readonly creditsMicro: number;
    /** What the DSO pays providers for flexibility this month (flex.settle's total: revenue − penalties + relief). */
    readonly flexMicro: number;
  };
}

class Account {
  readonly peer = { boughtWh: 0, paid: 0, fees: 0, soldWh: 0, proceeds: 0 };
  /** Wh per price, so each price is applied once per month. */
  readonly supplier = new Map<number, number>();
  readonly grid = new Map<number, number>();
  readonly without = { retail: new Map<number, number>(), feedIn: new Map<number, number>() };
  readonly meters = new Set<string>();
  readonly flex = { revenue: new Map<number, { wh: number; amount: number }>(), reliefWh: 0, relief: 0, deficiencyWh: 0, penalty: 0 };
  missing = 0;
}

function addTo(m: Map<number, number>, price: number, wh: number): void {
  if (wh > 0) m.set(price, (m.get(price) ?? 0) + wh);
}

function priced(m: Map<number, number>): { price: number; wh: number; amount: number }[] {
  return [...m].sort((a, b) => a[0] - b[0]).map(([price, wh]) => ({ price, wh, amount: costMicro(wh, price) }));
}

/** settleMonth computes every member's invoice for a local month (YYYY-MM) from the log. */
export function settleMonth(state: State, month: string): MonthSettlement {
  const c = community(state)!;
  const days = monthDays(month).map((date) => ({ date, starts: dayIntervals(localDay(date, c.timeZone), c.intervalMinutes) }));
  const first = formatInstant(days[0]!.starts[0]!);
  const last = formatInstant(days[days.length - 1]!.starts.at(-1)!);
  const clearings = new Map<string, ClearingRow>();
  // Clearings are keyed by their interval: only the month's rows are read (they may be kept deflated).
  for (const interval of state.keys('clearings')) {
    if (interval >= first && interval <= last) clearings.set(interval, state.peek('clearings', interval) as unknown as ClearingRow);
  }
  const meters = [...(state.rows('meters') as IterableIterator<unknown> as IterableIterator<MeterRow>)];
  const accounts = new Map<string, Account>();
  const account = (owner: string) => {
    let a = accounts.get(owner);
    if (!a) accounts.set(owner, (a = new Account()));
    return a;
  };
  const ownerOf = new Map<string, string>();
  for (const m of meters) {
    ownerOf.set(`${m.meter}/${m.direction}`, m.owner);
    account(m.owner).meters.add(m.meter);
  }
  let surplusMicro = 0;
  let unpriced = 0;
  for (const { date, starts } of days) {
    // Traded Wh per meter and direction in each interval of the day.
    const traded = starts.map((start) => {
      const iso = formatInstant(start);
      const cfg = marketConfig(state, iso);
      const t = new Map<string, number>();
      if (!cfg) {
        unpriced++;
        return { cfg, t };
      }
      const row = clearings.get(iso);
      if (!row) return { cfg, t };
      surplusMicro += row.surplusMicro;
      for (const tr of tradesOf(row)) {
        const buyer = account(ownerOf.get(`${tr.buyer}/import`)!);
        buyer.peer.boughtWh += tr.wh;
        buyer.peer.paid += tr.amount;
        buyer.peer.fees += tr.feeAmount;
        const seller = account(ownerOf.get(`${tr.seller}/export`)!);
        seller.peer.soldWh += tr.wh;
        seller.peer.proceeds += tr.proceeds;
        t.set(`${tr.buyer}/import`, (t.get(`${tr.buyer}/import`) ?? 0) + tr.wh);
        t.set(`${tr.seller}/export`, (t.get(`${tr.seller}/export`) ?? 0) + tr.wh);
      }
      return { cfg, t };
    });
    for (const m of meters) {
      const key = `${m.meter}/${m.direction}`;
      const a = account(m.owner);
      const values = findReadings(state, m.meter, m.direction, date)?.values;
      starts.forEach((_, k) => {
        const { cfg, t } = traded[k]!;
        if (!cfg) return;
        const metered = values?.[k];
        if (metered === null || metered === undefined) {
          a.missing++;
          return;
        }
        const tr = t.get(key) ?? 0;
        const retail = cfg.retailMicroPerKwh;
        const feedIn = cfg.feedInMicroPerKwh;
        if (m.direction === 'import') {
          addTo(a.supplier, retail, metered - tr);
          addTo(a.grid, feedIn, tr - metered);
          addTo(a.without.retail, retail, metered);
        } else {
          addTo(a.grid, feedIn, metered - tr);
          addTo(a.supplier, retail, tr - metered);
          addTo(a.without.feedIn, feedIn, metered);
        }
      });
    }
  }
  const flexMonth = state.get<SettlementRow>('flex_settlements', month);
  for (const l of flexMonth?.lines ?? []) {
    const f = account(l.provider).flex;
    const r = f.revenue.get(l.priceMicroPerKwh) ?? { wh: 0, amount: 0 };
    f.revenue.set(l.priceMicroPerKwh, { wh: r.wh + l.deliveredWh, amount: r.amount + l.revenueMicro });
    if (l.reliefMicro) { f.reliefWh += l.deliveredWh; f.relief += l.reliefMicro; }
    f.deficiencyWh += l.deficiencyWh;
    f.penalty += l.penaltyMicro;
  }
  const totals = { peerWh: 0, peerPaidMicro: 0, peerProceedsMicro: 0, feesMicro: 0, surplusMicro, supplierMicro: 0, gridMicro: 0, chargesMicro: 0, creditsMicro: 0, flexMicro: flexMonth?.totalMicro ?? 0 };
  const invoices = [...accounts].sort((x, y) => (x[0] < y[0] ? -1 : 1)).map(([participant, a]): Invoice => {
    const lines: InvoiceLine[] = [];
    const line = (kind: LineKind, wh: number, price: number | null, amountMicro: number) => {
      if (wh !== 0 || amountMicro !== 0) lines.push({ kind, wh, priceMicroPerKwh: price, amountMicro, credit: CREDITS.has(kind) });
    };
    line('peer-purchase', a.peer.boughtWh, null, a.peer.paid);
    line('network-fee', a.peer.boughtWh, null, a.peer.fees);
    for (const p of priced(a.supplier)) line('supplier-purchase', p.wh, p.price, p.amount);
    line('peer-sale', a.peer.soldWh, null, a.peer.proceeds);
    for (const p of priced(a.grid)) line('grid-sale', p.wh, p.price, p.amount);
    for (const [price, r] of [...a.flex.revenue].sort((x, y) => x[0] - y[0])) line('flex-revenue', r.wh, price, r.amount);
    line('flex-fee-relief', a.flex.reliefWh, null, a.flex.relief);
    line('flex-penalty', a.flex.deficiencyWh, null, a.flex.penalty);
    const chargesMicro = lines.filter((l) => !l.credit).reduce((s, l) => s + l.amountMicro, 0);
    const creditsMicro = lines.filter((l) => l.credit).reduce((s, l) => s + l.amountMicro, 0);
    const withoutCommunityMicro = priced(a.without.retail).reduce((s, p) => s + p.amount, 0) - priced(a.without.feedIn).reduce((s, p) => s + p.amount, 0);
    totals.peerWh += a.peer.boughtWh;
    totals.peerPaidMicro += a.peer.paid;
    totals.peerProceedsMicro += a.peer.proceeds;
    totals.feesMicro += a.peer.fees;
    totals.supplierMicro += lines.filter((l) => l.kind === 'supplier-purchase').reduce((s, l) => s + l.amountMicro, 0);
    totals.gridMicro += lines.filter((l) => l.kind === 'grid-sale').reduce((s, l) => s + l.amountMicro, 0);
    totals.chargesMicro += chargesMicro;
    totals.creditsMicro += creditsMicro;
    const totalMicro = chargesMicro - creditsMicro;
    return {
      month, participant, meters: [...a.meters].sort(), lines, chargesMicro, creditsMicro, totalMicro, withoutCommunityMicro,
      savingsMicro: withoutCommunityMicro - totalMicro, missingIntervals: a.missing,
    };
  });
  if (unpriced === days.reduce((n, d) => n + d.starts.length, 0)) {
    throw new OpenlecError('E_NO_MARKET', `no market is configured in ${month}: no retail or feed-in price to bill with (market.configure)`, { field: 'month' });
  }
  return { month, invoices, totals, unpricedIntervals: unpriced };
}
