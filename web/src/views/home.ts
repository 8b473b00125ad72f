import { type ApiError, api, session } from '../api.ts';
import { localDay } from '../../../src/units/index.ts';
import { mountCharts, timeChart } from '../plot.ts';
import { type AllocationShown, type Check, type CurveDay, type InvoiceRecords, pinnedKey, type ServerInvoice, type Trade, verifyHome } from '../verify.ts';
import { addDays, type Community, community, esc, localDate, localTime, loginPrompt, money, perKwh, table, tile, view } from '../ui.ts';
import './home.css';

/**
 * The member's home (#/me), what a member sees first: money first (this month's bill so
 * far, the saving against the supplier alone, the share of their energy from neighbours and
 * the community's sun, the energy used), then their energy by day, month or year with
 * history as far as the log goes, the load curve of a chosen day, their invoice, trades and
 * certificates. One line says whether every record the page shows (readings, trades, the
 * month's allocation, and the invoice, recomputed here from the proven records with the
 * server's own settlement code) checks against the operator's signed log; the checks
 * themselves are a disclosure away. The check runs by itself when the page opens.
 */
type By = 'day' | 'month' | 'year';

interface Bucket {
  period: string;
  drawnWh: number;
  fedWh: number;
  neighboursWh: number;
  sunWh: number;
  supplierWh: number;
  soldWh: number;
  missingIntervals: number;
  billMicro: number | null;
  savingMicro: number | null;
}

type ShownTrade = Trade & { amountMicro: number };

/** Plain names of the invoice's lines. */
const LINE_NAMES: Record<string, string> = {
  'peer-purchase': 'Bought from neighbours',
  'network-fee': 'Network fee on energy from neighbours',
  'supplier-purchase': 'Bought from the supplier',
  'peer-sale': 'Sold to neighbours',
  'grid-sale': 'Sold to the grid (feed-in)',
  'flex-revenue': 'Flexibility delivered',
  'flex-fee-relief': 'Network fee refund (flexibility)',
  'flex-penalty': 'Flexibility not delivered (penalty)',
};

/** Energy with a unit and a precision that fits its size. */
export const energy = (wh: number) => (Math.abs(wh) >= 10_000_000 ? `${(wh / 1e6).toFixed(2)} MWh` : Math.abs(wh) >= 100_000 ? `${(wh / 1000).toFixed(0)} kWh`
  : Math.abs(wh) >= 1000 ? `${(wh / 1000).toFixed(1)} kWh` : `${Math.round(wh)} Wh`);

const COLORS = { neighbours: '#27ae60', sun: '#f1c40f', supplier: '#95a5a6', fed: '#e67e22', drawn: '#c0392b' };

/** The instant a bucket is drawn at: the middle of its local day, month or year (noon UTC is the same date in any European zone). */
const bucketTime = (period: string) => Date.parse(period.length === 10 ? `${period}T12:00:00Z` : period.length === 7 ? `${period}-15T12:00:00Z` : `${period}-07-01T12:00:00Z`);

const monthEnd = (month: string) => addDays(`${addDays(`${month}-28`, 4).slice(0, 7)}-01`, -1);

const monthName = (month: string, timeZone: string) => new Intl.DateTimeFormat('en-GB', { timeZone, month: 'long', year: 'numeric' }).format(new Date(`${month}-15T12:00:00Z`));

function barsChart(c: Community, by: By, buckets: readonly Bucket[]): string {
  if (!buckets.length) return '<p class="empty">No readings yet: your meters have not sent any values.</p>';
  const times = buckets.map((b) => bucketTime(b.period));
  const kwh = (f: (b: Bucket) => number) => buckets.map((b) => f(b) / 1000);
  const decimals = by === 'day' ? 1 : 0;
  const fed = buckets.some((b) => b.fedWh > 0);
  return timeChart({
    id: 'chart-my-bars', title: `Energy I used per ${by}: from neighbours, the community's sun and the supplier`, unit: 'kWh', timeZone: c.timeZone, step: by, stacked: true, decimals, times,
    series: [
      { label: 'from neighbours', color: COLORS.neighbours, kind: 'bars', values: kwh((b) => b.neighboursWh) },
      { label: 'community sun', color: COLORS.sun, kind: 'bars', values: kwh((b) => b.sunWh) },
      { label: 'from the supplier', color: COLORS.supplier, kind: 'bars', values: kwh((b) => b.supplierWh) },
    ],
  }) + (fed ? timeChart({
    id: 'chart-my-fed', title: `Energy I fed in per ${by}`, unit: 'kWh', timeZone: c.timeZone, step: by, decimals, times, height: 160,
    series: [{ label: 'fed in', color: COLORS.fed, kind: 'bars', values: kwh((b) => b.fedWh) }],
  }) : '');
}

const switchHtml = (by: By) => `<div class="by-switch" role="group" aria-label="Show per">${(['day', 'month', 'year'] as const).map((b) => `<button type="button" data-by="${b}" aria-pressed="${b === by}">${b[0]!.toUpperCase()}${b.slice(1)}</button>`).join('')}</div>`;

/** A trade as a sentence: "Sold 0.4 kWh to neighbours at 0.1200 CHF/kWh". */
const tradeLine = (t: ShownTrade, c: Community) => `<li><span class="when">${esc(localTime(t.interval, c.timeZone))}</span> ${t.side === 'buy' ? 'Bought' : 'Sold'} ${esc(energy(t.wh))} ${t.side === 'buy' ? 'from' : 'to'} neighbours at ${esc(perKwh(t.priceMicroPerKwh, c.currency))}: <strong>${t.side === 'buy' ? '−' : '+'}${esc(money(t.amountMicro, c.currency))}</strong></li>`;

/** My energy: the member's home. */
export async function meView(q: URLSearchParams): Promise<void> {
  const s = session();
  if (!s) return loginPrompt('Log in with your key to see your bill, your savings and where your energy came from.');
  const c = await community(true);
  const pin = pinnedKey(c.origin, c.verifierKey);
  const key = q.get('key') ?? s.key;
  const latest = c.lastCleared ? localDate(c.lastCleared, c.timeZone) : localDate(new Date().toISOString(), c.timeZone);
  const month = /^\d{4}-\d{2}$/.test(q.get('month') ?? '') ? q.get('month')! : latest.slice(0, 7);
  const first = `${month}-01`;
  const last = monthEnd(month);
  const by: By = (['day', 'month', 'year'] as const).find((b) => b === q.get('by')) ?? 'day';
  const noMarket = (e: ApiError) => (e.code === 'E_NO_MARKET' ? null : Promise.reject(e));
  // One snapshot of the log: the invoice must be checked against the very readings and
  // trades it rests on, so the page reads again when an entry was appended meanwhile (the
  // live demo clears an interval every few seconds).
  const snapshot = () => Promise.all([
    api<{ key: string; meters: { meter: string; direction: string }[] }>('/v1/me'),
    api<CurveDay[]>(`/v1/members/${key}/curves?from=${first}&to=${last}`),
    api<ShownTrade[]>(`/v1/members/${key}/trades?from=${addDays(first, -1)}T00:00:00Z&to=${addDays(last, 2)}T00:00:00Z`),
    api<ServerInvoice | null>(`/v1/members/${key}/invoices/${month}`).catch(noMarket),
    api<InvoiceRecords>(`/v1/members/${key}/invoice-records/${month}`),
    api<AllocationShown[]>(`/v1/members/${key}/allocations`),
    api<{ buckets: Bucket[] }>(`/v1/members/${key}/summary?by=${by}`),
    api<{ month: string }[]>('/v1/certificates/months').catch(() => []),
  ] as const);
  let read = await snapshot();
  for (let attempt = 0, size = c.size; attempt < 3; attempt++) {
    const now = (await api<{ size: number }>('/v1/community')).size;
    if (now === size) break;
    size = now;
    read = await snapshot();
  }
  const [me, curves, allTrades, invoice, records, allocations, summary, certMonths] = read;
  // Trades of the month in the community's zone (the query's window is a day wider either side).
  const trades = allTrades.filter((t) => localDate(t.interval, c.timeZone).slice(0, 7) === month);
  const allocation = allocations.find((a) => a.month === month);
  const bundles = certMonths.some((m) => m.month === month) && key === s.key
    ? await api<{ quantityWh: number; status: string }[]>(`/v1/certificates?month=${month}`).catch(() => [])
    : [];
  const monthBucket = by === 'month' ? summary.buckets.find((b) => b.period === month)
    : (await api<{ buckets: Bucket[] }>(`/v1/members/${key}/summary?by=month`)).buckets.find((b) => b.period === month);
  const days = [...new Set(curves.map((x) => x.date))].sort();
  const day = days.includes(q.get('day') ?? '') ? q.get('day')! : days.at(-1);
  const meters = [...new Set(curves.map((x) => x.meter))];
  const used = monthBucket?.drawnWh ?? 0;
  const local = (monthBucket?.neighboursWh ?? 0) + (monthBucket?.sunWh ?? 0);
  const name = monthName(month, c.timeZone);
  const bought = trades.filter((t) => t.side === 'buy');
  const sold = trades.filter((t) => t.side === 'sell');
  const sum = (ts: ShownTrade[], f: (t: ShownTrade) => number) => ts.reduce((a, t) => a + f(t), 0);

  view.innerHTML = `<h1>My home</h1>
  <h2 class="month-title">${esc(name)}${month === latest.slice(0, 7) ? ' so far' : ''}</h2>
  <div class="tiles home-tiles">
    ${tile('My bill', invoice ? money(invoice.totalMicro, c.currency) : '–', 'bill-total')}
    ${tile('Saved vs the supplier alone', invoice ? money(invoice.savingsMicro, c.currency) : '–', 'bill-saving')}
    ${tile('From neighbours and the sun', used ? `${Math.round((100 * local) / used)} %` : '–', 'share-local')}
    ${tile('Energy used', energy(used), 'used-month')}
  </div>
  <p class="sub" id="bill-note">${invoice
    ? `With the supplier alone the same energy would have cost ${esc(money(invoice.withoutCommunityMicro, c.currency))}.${invoice.missingIntervals ? ` ${invoice.missingIntervals} half-hours have no meter value yet and are not billed.` : ''}`
    : 'No invoice yet: the community has no market prices for this month.'}</p>
  <div class="verify-line">
    <p id="verify-result" role="status">Checking the records of ${esc(name)} against the operator's signed log…</p>
    <button id="verify" type="button" class="small">Check again</button>
    <details id="verify-more"><summary>details</summary>
      <p class="note">Your browser fetches each record shown on this page with its inclusion proof and checks it against the operator's signed checkpoint, using key <code>${esc(pin.key)}</code> pinned on first use; it recomputes your invoice from those records with the same settlement code as the server.${pin.changed ? ' <strong class="error">The server now announces a different checkpoint key than the one pinned in this browser.</strong>' : ''}</p>
      <div id="verify-details"></div></details>
  </div>
  <p class="sub key-line">Key <code id="my-key">${esc(key)}</code>${key === s.key ? '' : ' (viewed by staff)'}; meters <span id="my-meters">${esc(meters.join(', ') || me.meters.map((m) => m.meter).join(', '))}</span>. Times in ${esc(c.timeZone)}.</p>
  <section><h2>Where my energy came from</h2>
  ${switchHtml(by)}
  <div id="bars">${barsChart(c, by, summary.buckets)}</div>
  <p class="note">From neighbours: energy you bought on the community's market. Community sun: the community's production allocated to you${allocation ? ` (${esc(energy(allocation.meters.reduce((a, m) => a + m.allocatedWh, 0)))} in ${esc(name)}, allocation entry ${allocation.entry})` : ''} beyond what you bought. From the supplier: the rest.</p></section>
  <section><h2>My load${day ? ` on ${esc(new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', weekday: 'long', day: 'numeric', month: 'long' }).format(new Date(`${day}T12:00:00Z`)))}` : ''}</h2>
  ${day ? `<form class="day-form"><label>Day <input type="date" name="day" value="${day}" min="${days[0]}" max="${days.at(-1)}"></label> <button type="submit">Show</button></form>
  ${loadChart(c, curves.filter((x) => x.date === day))}` : '<p class="empty">No readings this month yet.</p>'}</section>
  <section><h2>My invoice for ${esc(name)}</h2>${invoice && invoice.lines.length ? `
  ${table(['line', 'energy', 'amount'], invoice.lines.map((l) => [esc(LINE_NAMES[l.kind] ?? l.kind), esc(energy(l.wh)), `${l.credit ? '−' : ''}${esc(money(l.amountMicro, c.currency))}`]), 'my-invoice')}
  <p class="total">Total <strong id="invoice-total">${esc(money(invoice.totalMicro, c.currency))}</strong> · with the supplier alone <span id="invoice-without">${esc(money(invoice.withoutCommunityMicro, c.currency))}</span> · saved <span id="invoice-savings">${esc(money(invoice.savingsMicro, c.currency))}</span></p>`
    : invoice ? '<p class="empty">Nothing billed yet this month.</p>' : '<p class="empty">No invoice yet: the community has no market prices for this month.</p>'}</section>
  <section><h2>My trades</h2>
  ${trades.length ? `<p id="trades-total">${bought.length ? `Bought ${esc(energy(sum(bought, (t) => t.wh)))} from neighbours for ${esc(money(sum(bought, (t) => t.amountMicro), c.currency))}` : 'Nothing bought from neighbours'}; ${sold.length ? `sold ${esc(energy(sum(sold, (t) => t.wh)))} to them for ${esc(money(sum(sold, (t) => t.amountMicro), c.currency))}` : 'nothing sold to them'} (${trades.length} trades in ${esc(name)}).</p>
  <ul class="trades" id="my-trades">${trades.slice(-8).reverse().map((t) => tradeLine(t, c)).join('')}</ul>${trades.length > 8 ? `<details><summary>all ${trades.length} trades</summary>${table(['time', 'side', 'energy', 'price', 'amount'], [...trades].reverse().map((t) => [esc(localTime(t.interval, c.timeZone)), t.side, esc(energy(t.wh)), esc(perKwh(t.priceMicroPerKwh, c.currency)), esc(money(t.amountMicro, c.currency))]), 'my-trades-all')}</details>` : ''}`
    : '<p class="empty" id="trades-total">No trades this month: you have not bought from or sold to your neighbours.</p>'}
  <p><a href="#/orders">Set my buy and sell prices →</a></p></section>
  ${bundles.length ? `<section><h2>My certificates</h2><p id="my-certificates">${bundles.length} certificate bundles of origin for ${esc(energy(bundles.reduce((a, b) => a + b.quantityWh, 0)))} in ${esc(name)} (${bundles.filter((b) => b.status === 'cancelled').length} claimed for your consumption). <a href="#/origin?month=${month}">Where my energy came from, hour by hour →</a></p></section>` : ''}`;

  mountCharts();
  view.querySelector<HTMLFormElement>('form.day-form')?.addEventListener('submit', (e) => {
    e.preventDefault();
    const d = String(new FormData(e.target as HTMLFormElement).get('day'));
    location.hash = `#/me?${new URLSearchParams({ ...Object.fromEntries(q), day: d }).toString()}`;
  });
  // The switch redraws the bars only, and keeps the choice in the URL (without redrawing the page).
  for (const b of view.querySelectorAll<HTMLButtonElement>('.by-switch button')) {
    b.addEventListener('click', () => {
      const next = b.dataset.by as By;
      for (const x of view.querySelectorAll<HTMLButtonElement>('.by-switch button')) x.setAttribute('aria-pressed', String(x === b));
      void api<{ buckets: Bucket[] }>(`/v1/members/${key}/summary?by=${next}`).then((r) => {
        document.getElementById('bars')!.innerHTML = barsChart(c, next, r.buckets);
        mountCharts();
        history.replaceState(null, '', `#/me?${new URLSearchParams({ ...Object.fromEntries(q), by: next }).toString()}`);
      });
    });
  }
  const run = () => {
    const result = document.getElementById('verify-result')!;
    result.className = '';
    result.textContent = `Checking the records of ${name} against the operator's signed log…`;
    verifyHome({ member: key, curves, trades, allocation, invoice: invoice ? { shown: invoice, records } : undefined }, pin.key)
      .then((checks) => showChecks(checks, name))
      .catch((e: Error) => {
        result.className = 'fail';
        result.textContent = `✗ Verification failed: ${e.message}`;
      });
  };
  document.getElementById('verify')!.addEventListener('click', run);
  run();
}

function loadChart(c: Community, days: readonly CurveDay[]): string {
  const imp = days.find((x) => x.direction === 'import');
  const exp = days.find((x) => x.direction === 'export');
  const n = (imp ?? exp)!.values.length;
  // The day's interval starts in the community's zone, from local midnight (a day of a clock change has 46 or 50 half-hours).
  const start = localDay(days[0]!.date, c.timeZone).startMs;
  const times = Array.from({ length: n }, (_, k) => start + k * c.intervalMinutes * 60_000);
  return timeChart({
    id: 'chart-my-load', title: 'My load curve (kWh per half-hour)', unit: 'kWh', timeZone: c.timeZone, step: 'interval', decimals: 2, times, height: 220,
    series: [
      ...(imp ? [{ label: 'drawn', color: COLORS.drawn, kind: 'area' as const, values: imp.values.map((v) => (v === null ? null : v / 1000)) }] : []),
      ...(exp ? [{ label: 'fed in', color: COLORS.fed, kind: 'area' as const, values: exp.values.map((v) => (v === null ? null : v / 1000)) }] : []),
    ],
  });
}

function showChecks(checks: Check[], name: string): void {
  const failed = checks.filter((x) => !x.ok);
  const result = document.getElementById('verify-result')!;
  result.className = failed.length ? 'fail' : 'ok';
  result.textContent = failed.length
    ? `✗ Verification FAILED for ${failed.length} of ${checks.length} records: ${failed[0]!.what}: ${failed[0]!.detail}`
    : `✓ All ${checks.length} records of ${name} verified against the operator's signed log, the invoice included.`;
  if (failed.length) (document.getElementById('verify-more') as HTMLDetailsElement).open = true;
  const order = [...failed, ...checks.filter((x) => x.ok)];
  document.getElementById('verify-details')!.innerHTML = table(['record', 'entry', 'result'], order.map((x) => [esc(x.what), String(x.entry), `<span class="${x.ok ? 'ok' : 'fail'}">${x.ok ? '✓' : '✗'} ${esc(x.detail)}</span>`]), 'verify-table');
}
