import { esc } from '../../src/charts/svg.ts';
import type { SettlementLine } from '../../src/charging/tables.ts';
import { localDay } from '../../src/units/index.ts';
import { api } from './api.ts';
import type { Ui } from './certificates.ts';
import { mountCharts, timeChart } from './plot.ts';

/**
 * EV charging in the dashboard: the CPO's or staff's view (#/charging: sessions per
 * settlement month with energy and revenue, the month's settlement per eMSP, daily
 * charged energy by eMSP, the month's sessions) and a driver's (#/charging-mine: my
 * sessions, their cost and, where local-origin cancellation recorded it, the share of
 * the energy that came from the community). An eMSP's key sees its own CDRs the same way.
 */
interface Cdr {
  cpo: string;
  id: string;
  emsp: string;
  location: string;
  month: string;
  start: string;
  end: string;
  currency: string;
  importWh: number;
  exclMicro: number;
  inclMicro: number | null;
  credit: 0 | 1;
  creditOf: string | null;
  creditedBy: string | null;
  localWh: number | null;
}

interface Mine {
  sessions: { cpo: string; id: string; location: string; month: string; start: string; end: string; currency: string; energyWh: number; exclMicro: number; inclMicro: number | null; credit: boolean; creditOf: string | null; creditedBy: string | null; localWh: number | null }[];
  totals: { currency: string; sessions: number; energyWh: number; exclMicro: number; inclMicro: number; localWh: number | null }[];
}

const kwh = (wh: number) => (wh / 1000).toFixed(1);
const money = (micro: number | null, currency = '') => (micro === null ? '–' : `${(micro / 1e6).toFixed(2)}${currency ? ` ${currency}` : ''}`);
const share = (part: number | null, whole: number) => (part === null ? '–' : whole > 0 ? `${((100 * part) / whole).toFixed(1)} %` : '–');
const localTime = (iso: string, timeZone: string) => new Intl.DateTimeFormat('en-GB', { timeZone, month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }).format(new Date(iso));
const localDate = (iso: string, timeZone: string) => new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(iso));
const daysOf = (month: string) => {
  const [y, m] = month.split('-').map(Number) as [number, number];
  const n = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return Array.from({ length: n }, (_, i) => `${month}-${String(i + 1).padStart(2, '0')}`);
};
const EMSP_COLORS = ['#2980b9', '#27ae60', '#8e44ad', '#f39c12', '#16a085', '#c0392b', '#7f8c8d'];
const SEES_SETTLEMENTS = ['operator', 'auditor', 'dso', 'cpo', 'emsp'];

const monthForm = (route: string, months: readonly string[], month: string) => `<form class="month" data-route="${route}">
  <label>Month <select name="month">${months.map((m) => `<option${m === month ? ' selected' : ''}>${m}</option>`).join('')}</select></label> <button type="submit">Show</button></form>`;

function bindMonth(ui: Ui, route: string): void {
  const f = ui.view.querySelector<HTMLFormElement>('form.month');
  f?.addEventListener('submit', (ev) => { ev.preventDefault(); location.hash = `#/${route}?month=${String(new FormData(f).get('month'))}`; });
}

/** #/charging: a CPO's (or eMSP's, or staff's) charging, month by month. */
export async function chargingView(ui: Ui, q: URLSearchParams): Promise<void> {
  const s = ui.session();
  if (!s) return ui.loginPrompt('Log in with a CPO, eMSP or staff key to see the charging sessions and their settlement.');
  const c = await ui.community();
  const all = await api<Cdr[]>('/v1/charging/cdrs');
  const months = [...new Set(all.map((r) => r.month))].sort();
  const month = q.get('month') ?? months[months.length - 1] ?? null;
  if (!month) {
    ui.view.innerHTML = '<h1>Charging</h1><p class="empty">No charging session is recorded that you may see.</p>';
    return;
  }
  const perMonth = months.map((m) => {
    const rows = all.filter((r) => r.month === m);
    return { month: m, sessions: rows.filter((r) => !r.credit && !r.creditedBy).length, energyWh: rows.reduce((t, r) => t + r.importWh, 0), exclMicro: rows.reduce((t, r) => t + r.exclMicro, 0), inclMicro: rows.reduce((t, r) => t + (r.inclMicro ?? r.exclMicro), 0), currency: rows[0]?.currency ?? '' };
  });
  const cur = perMonth.find((m) => m.month === month) ?? { month, sessions: 0, energyWh: 0, exclMicro: 0, inclMicro: 0, currency: '' };
  const rows = all.filter((r) => r.month === month);
  const settlement = s.roles.some((r) => SEES_SETTLEMENTS.includes(r)) ? await api<{ settled: boolean; entry: number | null; lines: SettlementLine[] }>(`/v1/charging/settlements/${month}`) : null;
  // Charged energy per local day of the session's start, stacked by eMSP (credits subtract from their day).
  const days = daysOf(month);
  const emsps = [...new Set(rows.map((r) => r.emsp))].sort();
  const starts = days.map((d) => localDay(d, c.timeZone).startMs);
  // Days not begun yet are blank (unknown), not zero.
  const now = Date.now();
  const series = emsps.map((e, i) => ({
    label: e, color: EMSP_COLORS[i % EMSP_COLORS.length]!, kind: 'bars' as const,
    values: days.map((d, k) => (starts[k]! > now ? null : Math.max(0, rows.filter((r) => r.emsp === e && localDate(r.start, c.timeZone) === d).reduce((t, r) => t + r.importWh, 0)) / 1000)),
  }));
  ui.view.innerHTML = `<h1>Charging</h1>
  <p class="sub">Charge detail records (OCPI 2.2.1) in the log, priced again from the recorded tariff when they were appended; a month is the settlement period (a session's end in ${esc(c.timeZone)}, or the next open month for a late CDR).</p>
  ${monthForm('charging', months, month)}
  <div class="tiles">
    ${ui.tile('Sessions', String(cur.sessions), 'charging-sessions')}
    ${ui.tile('Energy, kWh', kwh(cur.energyWh), 'charging-energy')}
    ${ui.tile('Revenue excl. VAT', money(cur.exclMicro, cur.currency), 'charging-revenue')}
    ${ui.tile('Revenue incl. VAT', money(cur.inclMicro, cur.currency), 'charging-revenue-incl')}
  </div>
  <section><h2>Charged energy per day, by eMSP</h2>${rows.length ? timeChart({ id: 'chart-charging-daily', title: `Charged energy per day in ${month}`, unit: 'kWh', decimals: 1, timeZone: c.timeZone, step: 'day', stacked: true, times: starts, series }) : '<p class="empty">No session this month.</p>'}</section>
  ${settlement ? `<section><h2>Settlement per eMSP ${settlement.settled ? `(settled, entry ${settlement.entry})` : '(provisional: not settled yet)'}</h2>
  ${settlement.lines.length ? ui.table(['CPO', 'eMSP', 'currency', 'CDRs', 'credits', 'energy kWh', 'gross excl. VAT', 'credits excl. VAT', 'net excl. VAT', 'net incl. VAT'], settlement.lines.map((l) => [
    esc(l.cpo), esc(l.emsp), esc(l.currency), String(l.cdrs), String(l.credits), kwh(l.energyWh), money(l.grossExclMicro), money(l.creditExclMicro), money(l.netExclMicro), money(l.netInclMicro),
  ]), 'charging-settlement') : '<p class="empty">No line.</p>'}
  <p class="note">What each eMSP owes each CPO for the month: its drivers' CDRs minus their credit CDRs. <code>charging.settle</code> records the lines; <code>openlec verify</code> recomputes them.</p></section>` : ''}
  <section><h2>Sessions per month</h2>${ui.table(['month', 'sessions', 'energy kWh', 'revenue excl. VAT', 'revenue incl. VAT'], perMonth.map((m) => [
    `<a href="#/charging?month=${m.month}">${esc(m.month)}</a>`, String(m.sessions), kwh(m.energyWh), money(m.exclMicro, m.currency), money(m.inclMicro, m.currency),
  ]), 'charging-months')}</section>
  <section><h2>Sessions of ${esc(month)}</h2>${ui.table(['CDR', 'eMSP', 'location', 'start', 'end', 'energy kWh', 'excl. VAT', 'incl. VAT', ''], rows.map((r) => [
    esc(r.id), esc(r.emsp), esc(r.location), esc(localTime(r.start, c.timeZone)), esc(localTime(r.end, c.timeZone)), kwh(r.importWh), money(r.exclMicro), money(r.inclMicro),
    r.credit ? `credit of ${esc(r.creditOf ?? '')}` : r.creditedBy ? `credited by ${esc(r.creditedBy)}` : '',
  ]), 'charging-cdrs')}</section>`;
  mountCharts();
  bindMonth(ui, 'charging');
}

/** #/charging-mine: a driver's sessions (the CDRs of the tokens a CPO linked to their key). */
export async function chargingMineView(ui: Ui, q: URLSearchParams): Promise<void> {
  const s = ui.session();
  if (!s) return ui.loginPrompt('Log in with your key to see your charging sessions.');
  const c = await ui.community();
  const all = await api<Mine>('/v1/charging/mine');
  const months = [...new Set(all.sessions.map((x) => x.month))].sort();
  const month = q.get('month') ?? months[months.length - 1] ?? null;
  if (!month) {
    ui.view.innerHTML = `<h1>My charging</h1><p class="empty">No charging session is linked to your key. A charge point operator links your card's pseudonym to your key (<code>charging.driver</code>); the card number itself never enters the log.</p>`;
    return;
  }
  const m = await api<Mine>(`/v1/charging/mine?month=${month}`);
  const t = m.totals[0] ?? { currency: '', sessions: 0, energyWh: 0, exclMicro: 0, inclMicro: 0, localWh: null };
  ui.view.innerHTML = `<h1>My charging</h1>
  <p class="sub">Your charging sessions settled in ${esc(month)}, as the charge point operator recorded them; each price is recomputed from the tariff in the log. What you pay is billed by your mobility provider under its own terms.</p>
  ${monthForm('charging-mine', months, month)}
  <div class="tiles">
    ${ui.tile('Sessions', String(t.sessions), 'mine-sessions')}
    ${ui.tile('Energy, kWh', kwh(t.energyWh), 'mine-energy')}
    ${ui.tile('Cost incl. VAT', money(t.inclMicro, t.currency), 'mine-cost')}
    ${ui.tile('Local share', share(t.localWh, t.energyWh), 'mine-local')}
  </div>
  <section><h2>Sessions</h2>${ui.table(['start', 'end', 'location', 'energy kWh', 'excl. VAT', 'incl. VAT', 'local kWh', 'local share', ''], m.sessions.map((x) => [
    esc(localTime(x.start, c.timeZone)), esc(localTime(x.end, c.timeZone)), esc(x.location), kwh(x.energyWh), money(x.exclMicro, x.currency), money(x.inclMicro, x.currency),
    x.localWh === null ? '–' : kwh(x.localWh), share(x.localWh, x.energyWh), x.credit ? `correction of ${esc(x.creditOf ?? '')}` : x.creditedBy ? 'corrected' : '',
  ]), 'mine-cdrs')}
  <p class="note">Local share: the part of a session's energy matched by the community's certificates of origin and cancelled in your name; "–" where none is recorded.</p></section>`;
  bindMonth(ui, 'charging-mine');
}
