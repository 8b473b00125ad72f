import { barChart, esc } from '../../src/charts/svg.ts';
import { checkEntryProof, type EntryProof } from '../../src/audit/entry-proof.ts';
import { api, type Session } from './api.ts';
import { mountCharts, timeChart } from './plot.ts';
import { pinnedKey } from './verify.ts';
import type { BundleView, Matching, OriginHour, Totals } from '../../src/certificates/reports.ts';

/**
 * Certificates of origin in the dashboard: "where did my energy come from" for a member
 * (#/origin: hour by hour, matched by claimed certificates by technology, the rest from
 * the grid; the member's bundles, each proven in the browser), and the community's
 * matching over time with its devices (#/certificates, public).
 */
export interface Ui {
  view: HTMLElement;
  session(): Session | undefined;
  community(fresh?: boolean): Promise<{ name: string; timeZone: string; intervalMinutes: number; origin: string; verifierKey: string }>;
  loginPrompt(why: string): void;
  table(head: string[], rows: string[][], id?: string): string;
  tile(label: string, value: string, id: string): string;
}

/** A row of GET /v1/certificates/months: a month's totals (reports.ts) and its settlement. */
interface MonthRow extends Totals {
  month: string;
  settledEntry: number | null;
}

const kwh = (wh: number) => (wh / 1000).toFixed(1);
const ppmPct = (ppm: number) => `${(ppm / 10_000).toFixed(1)} %`;
const TECH_COLORS: Record<string, string> = { solar: '#f39c12', wind: '#2980b9', hydro: '#16a085', biomass: '#8e6e3a', geothermal: '#8e44ad', nuclear: '#7f8c8d' };
const GRID_COLOR = '#c8ced6';
const localTime = (iso: string, timeZone: string) => new Intl.DateTimeFormat('en-GB', { timeZone, month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }).format(new Date(iso));

/** chosenMonth: the month in the URL, else the latest with certificates (else null). */
function chosenMonth(months: readonly MonthRow[], q: URLSearchParams): string | null {
  return q.get('month') ?? months[months.length - 1]?.month ?? null;
}

const monthForm = (route: string, months: readonly MonthRow[], month: string) => `<form class="month" data-route="${route}">
  <label>Month <select name="month">${months.map((m) => `<option value="${m.month}"${m.month === month ? ' selected' : ''}>${m.month}${m.settledEntry === null ? ' (not settled yet)' : ''}</option>`).join('')}</select></label>
  <button type="submit">Show</button></form>`;

function bindMonth(ui: Ui): void {
  const f = ui.view.querySelector<HTMLFormElement>('form.month');
  f?.addEventListener('submit', (e) => {
    e.preventDefault();
    location.hash = `#/${f.dataset.route}?month=${String(new FormData(f).get('month'))}`;
  });
}

/** Where did my energy come from: the member's consumption hour by hour, matched by certificates or from the grid; their bundles, provable one by one. */
export async function originView(ui: Ui, q: URLSearchParams): Promise<void> {
  const s = ui.session();
  if (!s) return ui.loginPrompt('Log in with your key to see where your energy came from, hour by hour.');
  const c = await ui.community(true);
  const pin = pinnedKey(c.origin, c.verifierKey);
  const months = await api<MonthRow[]>('/v1/certificates/months');
  const month = chosenMonth(months, q);
  if (!month) {
    ui.view.innerHTML = '<h1>Where did my energy come from</h1><p class="empty">No certificates of origin have been issued yet.</p>';
    return;
  }
  const [o, mine] = await Promise.all([
    api<{ holder: string; hours: OriginHour[]; matching: Matching }>(`/v1/certificates/origin?month=${month}`),
    api<BundleView[]>(`/v1/certificates?month=${month}`),
  ]);
  const techs = [...new Set(o.hours.flatMap((h) => Object.keys(h.byTechnology)))].sort();
  const hours = o.hours;
  // One stacked bar per local clock hour: each technology's claimed certificates, then the rest from the grid (kWh, exact to the Wh).
  const chart = hours.length ? timeChart({
    id: 'chart-origin', title: `My consumption per hour in ${month}`, unit: 'kWh', decimals: 3, timeZone: c.timeZone, stacked: true, step: 'interval',
    times: hours.map((h) => Date.parse(h.hour)),
    series: [
      ...techs.map((t) => ({ label: `matched by ${t} certificates`, color: TECH_COLORS[t] ?? '#27ae60', kind: 'bars' as const, values: hours.map((h) => (h.byTechnology[t] ?? 0) / 1000) })),
      { label: 'from the grid (no certificate)', color: GRID_COLOR, kind: 'bars' as const, values: hours.map((h) => Math.max(0, h.consumedWh - h.matchedWh) / 1000) },
    ],
  }) : '<p class="empty">No consumption metered this month.</p>';
  const m = o.matching;
  const shown = mine.slice(0, 100);
  ui.view.innerHTML = `<h1>Where did my energy come from</h1>
  <p class="sub">Your consumption in ${esc(month)}, each local clock hour, matched by the certificates of origin claimed for you in that same hour (1 certificate = 1 Wh); the rest came from the grid mix.${months.find((x) => x.month === month)?.settledEntry === null ? ' This month is not settled yet: certificates move to consumers and are claimed when it is.' : ''}</p>
  ${monthForm('origin', months, month)}
  <div class="tiles">
    ${ui.tile('Consumed', `${kwh(m.consumedWh)} kWh`, 'origin-consumed')}
    ${ui.tile('Hourly matching (24/7)', ppmPct(m.hourlyPpm), 'origin-hourly')}
    ${ui.tile('Monthly matching', ppmPct(m.monthlyPpm), 'origin-monthly')}
    ${ui.tile('Matched in the hour', `${kwh(m.hourlyMatchedWh)} kWh`, 'origin-matched')}
  </div>
  <section><h2>My consumption per hour: certificates by technology, and the grid</h2>${chart}
  <p class="note">Hourly matching counts only certificates claimed in the hour of consumption; monthly matching counts every certificate of the month against the month's consumption, as today's guarantees of origin do.</p></section>
  <section><h2>My certificates</h2>
  <p>Each bundle's history (issuance, moves, claim) is a chain of log entries: "prove" fetches each one's inclusion proof and checks it in this browser against the operator's checkpoint key <code>${esc(pin.key)}</code>.${pin.changed ? ' <strong class="error">The server now announces a different checkpoint key than the one pinned in this browser.</strong>' : ''}</p>
  ${mine.length ? ui.table(['interval', 'device', 'technology', 'IDs', 'kWh', 'status', 'claimed for', 'entries', 'proof'], shown.map((b, i) => [
    esc(localTime(b.interval, c.timeZone)), esc(b.device), esc(b.technology), `${b.from}–${b.to}`, kwh(b.quantityWh), esc(b.status),
    b.claim ? esc(`${b.claim.meter} ${localTime(b.claim.interval, c.timeZone)}`) : '–', esc(b.entries.join(', ')),
    `<button class="link prove" data-bundle="${i}">prove</button> <span class="proof" id="proof-${i}"></span>`,
  ]), 'my-bundles') : '<p class="empty">You hold no certificates this month.</p>'}
  ${mine.length > shown.length ? `<p class="sub">The first ${shown.length} of ${mine.length} bundles.</p>` : ''}</section>`;
  mountCharts();
  bindMonth(ui);
  const proofs = new Map<number, Promise<string>>();
  const prove = (entry: number) => {
    let p = proofs.get(entry);
    if (!p) {
      p = api<EntryProof>(`/v1/proofs/${entry}`).then((proof) => {
        const r = checkEntryProof(proof, pin.key);
        return `${(r.transaction as { type: string }).type} under checkpoint ${r.checkpoint.size}`;
      });
      proofs.set(entry, p);
    }
    return p;
  };
  for (const button of ui.view.querySelectorAll<HTMLButtonElement>('button.prove')) {
    button.addEventListener('click', () => {
      const i = Number(button.dataset.bundle);
      const out = document.getElementById(`proof-${i}`)!;
      out.textContent = 'checking…';
      void Promise.all(shown[i]!.entries.map((e) => prove(e).then((what) => ({ e, ok: true, what }), (err: Error) => ({ e, ok: false, what: err.message })))).then((results) => {
        out.innerHTML = results.map((r) => `<span class="${r.ok ? 'ok' : 'fail'}" title="${esc(r.what)}">${r.ok ? '✓' : '✗'} ${r.e}</span>`).join(' ');
        out.dataset.done = results.every((r) => r.ok) ? 'ok' : 'fail';
      });
    });
  }
}

/** The community's certificates, public: hourly against monthly matching per month, totals by status, the devices. */
export async function certificatesView(ui: Ui): Promise<void> {
  const [months, devices] = await Promise.all([
    api<MonthRow[]>('/v1/certificates/months'),
    api<{ device: string; fuel: string; technology: string; capacityW: number; commissioned: string; zone: string; gridArea: string; entry: number }[]>('/v1/certificates/devices'),
  ]);
  const scores = await Promise.all(months.map((m) => api<Matching>(`/v1/certificates/matching?month=${m.month}`)));
  ui.view.innerHTML = `<h1>Certificates of origin</h1>
  <p class="sub">Granular certificates (1 Wh each) issued by the DSO from the metered export of ${devices.length} registered devices, moved along trades and the monthly allocation, and claimed against consumption in the same hour.</p>
  <section><h2>Matching per month: hourly (24/7) vs monthly (%)</h2>
  ${scores.length ? barChart('chart-matching', scores.flatMap((x) => [{ label: `${x.month} hourly`, value: x.hourlyPpm / 10_000 }, { label: `${x.month} monthly`, value: x.monthlyPpm / 10_000 }])) : '<p class="empty">No certificates issued yet.</p>'}
  ${ui.table(['month', 'consumed kWh', 'hourly matched kWh', 'hourly', 'monthly', 'issued kWh', 'moved kWh', 'claimed kWh', 'active kWh', 'settled'], months.map((m, i) => {
    const x = scores[i]!;
    return [m.month, kwh(x.consumedWh), kwh(x.hourlyMatchedWh), ppmPct(x.hourlyPpm), ppmPct(x.monthlyPpm), kwh(m.issuedWh), kwh(m.transferredWh), kwh(m.cancelled), kwh(m.active), m.settledEntry === null ? 'not yet' : `entry ${m.settledEntry}`];
  }), 'matching')}
  <p class="note">Hourly matching: consumption covered by certificates claimed in the same hour. Monthly matching: the month's certificates against the month's consumption, as annual or monthly guarantees of origin allow.</p></section>
  <section><h2>Devices</h2>
  ${ui.table(['device', 'fuel', 'technology', 'capacity kW', 'commissioned', 'zone', 'grid area', 'entry'], devices.map((d) => [esc(d.device), esc(d.fuel), esc(d.technology), (d.capacityW / 1000).toFixed(1), esc(d.commissioned), esc(d.zone), esc(d.gridArea), String(d.entry)]), 'devices')}</section>`;
}
