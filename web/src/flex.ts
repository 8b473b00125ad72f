import { barChart, esc } from '../../src/charts/svg.ts';
import type { Earnings, RequestInterval } from '../../src/flex/reports.ts';
import type { MeritLine, OfferRow, OrderRow, RequestRow, SettlementLine } from '../../src/flex/tables.ts';
import { api } from './api.ts';
import type { Ui } from './certificates.ts';
import { mountCharts, timeChart } from './plot.ts';

/**
 * Flexibility in the dashboard: the DSO's view (#/flex, public with more for staff): its
 * requests, and for one request the feeder's metered load against its limit, requested vs
 * ordered vs delivered power per interval, the merit order and the cost; a provider's
 * view (#/flex-earnings): what its flexibility earned, order by order.
 */
interface View {
  request: RequestRow;
  order: (OrderRow & { merit: MeritLine[] }) | null;
  offers: OfferRow[];
  intervals: RequestInterval[];
  settlement: SettlementLine[];
  costMicro: number | null;
}

const kw = (w: number | null) => (w === null ? '–' : (w / 1000).toFixed(1));
const kwh = (wh: number) => (wh / 1000).toFixed(1);
const money = (micro: number | null) => (micro === null ? '–' : (micro / 1e6).toFixed(2));
const localTime = (iso: string, timeZone: string) => new Intl.DateTimeFormat('en-GB', { timeZone, month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }).format(new Date(iso));
const DECISIONS: Record<string, string> = {
  selected: 'ordered', 'above-max-price': 'above the maximum price', covered: 'not needed: already covered', 'too-large': 'its minimum activation exceeds what is still wanted',
  violation: 'refused: would break a limit', 'wrong-direction': 'wrong direction',
};

export async function flexView(ui: Ui, q: URLSearchParams): Promise<void> {
  const c = await ui.community();
  const all = await api<RequestRow[]>('/v1/flex/requests');
  const chosen = q.get('request') ?? all[all.length - 1]?.request ?? null;
  const list = ui.table(['request', 'feeder', 'direction', 'first interval', 'ISPs', 'status', 'order'], all.slice(-50).reverse().map((r) => [
    `<a href="#/flex?request=${encodeURIComponent(r.request)}">${esc(r.request)}</a>`, esc(r.feeder), esc(r.direction), esc(localTime(r.start, c.timeZone)), String(r.isps.length), esc(r.status), esc(r.order ?? '–'),
  ]), 'flex-requests');
  if (!chosen) {
    ui.view.innerHTML = '<h1>Flexibility</h1><p class="empty">The DSO has made no flexibility request yet.</p>';
    return;
  }
  const v = await api<View>(`/v1/flex/requests/${encodeURIComponent(chosen)}`);
  const r = v.request;
  const iv = v.intervals;
  const times = iv.map((x) => Date.parse(x.start));
  const kwOf = (w: number | null) => (w === null ? null : w / 1000);
  const limit = r.direction === 'reduce-import' ? iv.map((x) => kwOf(x.importLimitW)) : iv.map((x) => (x.exportLimitW === null ? null : -x.exportLimitW / 1000));
  // Power per interval (kW, positive = consumption): missing readings are gaps, the limit a dashed step line.
  const load = iv.length ? timeChart({
    id: 'chart-flex-load', title: `Feeder ${r.feeder}: power per interval`, unit: 'kW', decimals: 1, timeZone: c.timeZone, step: 'interval', times,
    series: [
      { label: `feeder ${r.feeder}: metered load`, color: '#2c3e50', kind: 'step', values: iv.map((x) => kwOf(x.loadW)) },
      { label: 'DSO forecast without flexibility', color: '#7f8c8d', kind: 'step', values: iv.map((x) => kwOf(x.forecastW)) },
      { label: `${r.direction === 'reduce-import' ? 'import' : 'export'} limit`, color: '#c0392b', kind: 'step', dash: true, values: limit },
    ],
  }) : '<p class="empty">The request has no interval.</p>';
  // Stacked per interval: delivered (blank until settled), what was ordered beyond it, what was requested beyond the order.
  const bars = iv.length ? timeChart({
    id: 'chart-flex-power', title: `Flexibility on feeder ${r.feeder} per interval`, unit: 'kW', decimals: 1, timeZone: c.timeZone, step: 'interval', stacked: true, times,
    series: [
      { label: 'delivered', color: '#27ae60', kind: 'bars', values: iv.map((x) => kwOf(x.deliveredW)) },
      { label: v.settlement.length ? 'ordered, not delivered' : 'ordered (delivery not settled yet)', color: '#f39c12', kind: 'bars', values: iv.map((x) => Math.max(0, x.orderedW - (x.deliveredW ?? 0)) / 1000) },
      { label: 'requested minimum, not ordered', color: '#c8ced6', kind: 'bars', values: iv.map((x) => Math.max(0, x.requestedMinW - x.orderedW) / 1000) },
    ],
  }) : '';
  const delivered = v.settlement.reduce((s, l) => s + l.deliveredWh, 0);
  const ordered = (v.order?.ordered ?? []).reduce((s, o) => s + o.powerW.reduce((a, p) => a + Math.abs(p), 0), 0) * c.intervalMinutes / 60;
  ui.view.innerHTML = `<h1>Flexibility: request ${esc(r.request)}</h1>
  <p class="sub">The DSO asks to ${r.direction === 'reduce-import' ? 'reduce consumption' : 'reduce injection'} on feeder <b>${esc(r.feeder)}</b> over ${r.isps.length} intervals from ${esc(localTime(r.start, c.timeZone))}, at most ${money(r.maxPriceMicroPerKwh)} per kWh; offers until ${esc(localTime(r.expires, c.timeZone))}. Status: <b id="flex-status">${esc(r.status)}</b>.</p>
  <div class="tiles">
    ${ui.tile('Requested (min), kWh', kwh(iv.reduce((s, x) => s + x.requestedMinW, 0) * c.intervalMinutes / 60), 'flex-requested')}
    ${ui.tile('Ordered, kWh', kwh(ordered), 'flex-ordered')}
    ${ui.tile('Delivered, kWh', v.settlement.length ? kwh(delivered) : 'not settled', 'flex-delivered')}
    ${ui.tile('Cost to the DSO', v.costMicro === null ? '–' : v.settlement.length ? money(v.costMicro) : `≤ ${money(v.order?.costMicro ?? 0)}`, 'flex-cost')}
  </div>
  <section><h2>Feeder load against its limit</h2>${load}
  <p class="note">Metered load: the net of every meter on the feeder or below it, from the DSO's readings (blank until they are in).</p></section>
  <section><h2>Requested, ordered and delivered power per interval</h2>${bars}</section>
  ${v.order ? `<section><h2>Merit order (why each offer was or was not ordered)</h2>
  ${ui.table(['offer', 'price per kWh', 'decision', 'factor', 'where'], v.order.merit.map((m) => [esc(m.offer), money(m.priceMicroPerKwh), esc(DECISIONS[m.decision] ?? m.decision), m.factorPct ? `${m.factorPct} %` : '–', m.feeder ? esc(`${m.feeder} at ${localTime(m.interval!, c.timeZone)}`) : '']), 'flex-merit')}
  <p class="note">Offers are taken by price; each is activated by the smallest factor that covers what is still missing, and refused when it would break a limit of a feeder the DSO forecasts (its rebound included). Recomputed by <code>openlec verify</code>.</p></section>` : ''}
  ${v.settlement.length ? `<section><h2>Settlement</h2>${ui.table(['offer', 'delivered kWh', 'deficiency kWh', 'revenue', 'penalty', 'relief', 'net'], v.settlement.map((l) => [esc(l.offer), kwh(l.deliveredWh), kwh(l.deficiencyWh), money(l.revenueMicro), money(l.penaltyMicro), money(l.reliefMicro), money(l.netMicro)]), 'flex-settlement')}</section>` : ''}
  <section><h2>Requests</h2>${list}</section>`;
  mountCharts();
}

export async function flexEarningsView(ui: Ui, q: URLSearchParams): Promise<void> {
  const s = ui.session();
  if (!s) return ui.loginPrompt('Log in with your key to see what your flexibility earned.');
  const c = await ui.community();
  const months = [...new Set((await api<RequestRow[]>('/v1/flex/requests')).map((r) => new Intl.DateTimeFormat('en-CA', { timeZone: c.timeZone, year: 'numeric', month: '2-digit' }).format(new Date(r.start))))];
  const month = q.get('month') ?? months[months.length - 1] ?? null;
  if (!month) {
    ui.view.innerHTML = '<h1>My flexibility</h1><p class="empty">The DSO has made no flexibility request yet.</p>';
    return;
  }
  const e = await api<Earnings>(`/v1/flex/earnings?month=${month}`);
  ui.view.innerHTML = `<h1>My flexibility</h1>
  <p class="sub">What the DSO pays you in ${esc(month)} for the flexibility it ordered from your assets: delivered energy at your offer's price, measured against the baseline your offer named on the DSO's meter readings; a penalty where the metered load went the wrong way beyond the order.${e.settled ? '' : ' The month is not settled yet.'}</p>
  <form class="month" data-route="flex-earnings"><label>Month <select name="month">${months.map((m) => `<option${m === month ? ' selected' : ''}>${m}</option>`).join('')}</select></label> <button type="submit">Show</button></form>
  <div class="tiles">
    ${ui.tile('Ordered, kWh', kwh(e.orderedWh), 'earn-ordered')}
    ${ui.tile('Delivered, kWh', kwh(e.deliveredWh), 'earn-delivered')}
    ${ui.tile('Net earnings', money(e.netMicro), 'earn-net')}
    ${ui.tile('Penalties', money(e.penaltyMicro), 'earn-penalty')}
  </div>
  ${e.lines.length ? `<section><h2>Per order</h2>${barChart('chart-earnings', e.lines.map((l) => ({ label: `${l.order} / ${l.offer}`, value: l.netMicro / 1e6 })))}
  ${ui.table(['order', 'offer', 'delivered kWh', 'deficiency kWh', 'revenue', 'penalty', 'network-fee relief', 'net'], e.lines.map((l) => [esc(l.order), esc(l.offer), kwh(l.deliveredWh), kwh(l.deficiencyWh), money(l.revenueMicro), money(l.penaltyMicro), money(l.reliefMicro), money(l.netMicro)]), 'earn-lines')}
  <p class="note">Network-fee relief: energy your battery took from the grid to serve the DSO is not charged the network fee twice when the community refunds it.</p></section>` : '<p class="empty">No settled flexibility this month.</p>'}`;
  const f = ui.view.querySelector<HTMLFormElement>('form.month');
  f?.addEventListener('submit', (ev) => { ev.preventDefault(); location.hash = `#/flex-earnings?month=${String(new FormData(f).get('month'))}`; });
}
