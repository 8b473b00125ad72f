import { barChart, esc, lineChart, stepChart } from '../../src/charts/svg.ts';
import { parseCheckpoint } from '../../src/ledger/index.ts';
import { api, ApiError, download, login, logout, session } from './api.ts';
import { certificatesView, originView, type Ui } from './certificates.ts';
import { flexEarningsView, flexView } from './flex.ts';
import { chargingMineView, chargingView } from './charging.ts';
import './style.css';
import { type Check, checkConsistency, type CurveDay, pinnedKey, type Trade, verifyRecords } from './verify.ts';

/**
 * The dashboard: one page, seven views chosen by the URL's hash (#/, #/market,
 * #/allocation, #/me, #/origin, #/certificates, #/flex, #/flex-earnings, #/charging, #/charging-mine, #/ledger), each rendered from the API. Charts are the same SVG
 * functions as the CLI's reports; proofs are checked with the CLI's verification code.
 */
interface Community {
  id: string;
  name: string;
  timeZone: string;
  intervalMinutes: number;
  currency: string;
  size: number;
  origin: string;
  verifierKey: string;
  lastCleared: string | null;
}

interface Energy {
  intervals: { interval: string; drawnWh: number; fedInWh: number; localWh: number; priceMicroPerKwh: number | null; missing: number }[];
  totals: { drawnWh: number; fedInWh: number; localWh: number; selfSufficiency: string; selfConsumption: string; missing: number };
  flows: { from: string; to: string; wh: number }[];
}

interface Clearing {
  interval: string;
  mechanism: string;
  path: string;
  orders: number;
  priceMicroPerKwh: number | null;
  volumeWh: number;
  feesMicro: number;
  trades: number;
  entry: number;
}

const view = document.getElementById('view')!;
const kwh = (wh: number) => (wh / 1000).toFixed(1);
const money = (micro: number, currency: string) => `${(micro / 1e6).toFixed(2)} ${currency}`;
const perKwh = (micro: number | null, currency: string) => (micro === null ? '–' : `${(micro / 1e6).toFixed(4)} ${currency}/kWh`);
const pct = (ratio: string) => (ratio === '' ? '–' : `${(Number(ratio) * 100).toFixed(1)} %`);
const short = (key: string) => `${key.slice(0, 8)}…`;
const table = (head: string[], rows: string[][], id = '') => `<div class="scroll"><table${id ? ` id="${id}"` : ''}><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead>`
  + `<tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table></div>`;
const tile = (label: string, value: string, id: string) => `<div class="tile"><div class="label">${esc(label)}</div><div class="value" id="${id}">${esc(value)}</div></div>`;

let communityCache: Community | undefined;
async function community(fresh = false): Promise<Community> {
  if (!communityCache || fresh) communityCache = await api<Community>('/v1/community');
  return communityCache;
}

/** localDate of an instant in the community's time zone (YYYY-MM-DD). */
const localDate = (iso: string, timeZone: string) => new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(iso));
const addDays = (date: string, days: number) => new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
const localTime = (iso: string, timeZone: string) => new Intl.DateTimeFormat('en-GB', { timeZone, month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }).format(new Date(iso));

/** period: the local days [from, to] chosen in the URL, by default the week up to the latest cleared interval. */
function period(c: Community, q: URLSearchParams, days = 7): { from: string; to: string } {
  const last = c.lastCleared ? localDate(c.lastCleared, c.timeZone) : localDate(new Date().toISOString(), c.timeZone);
  const to = q.get('to') ?? last;
  return { from: q.get('from') ?? addDays(to, -(days - 1)), to };
}

/** instants: a UTC window that surely covers the local days [from, to] in any time zone (a day either side), for instant-keyed queries. */
const instants = (p: { from: string; to: string }) => ({ from: `${addDays(p.from, -1)}T00:00:00Z`, to: `${addDays(p.to, 2)}T00:00:00Z` });

const periodForm = (route: string, p: { from: string; to: string }) => `<form class="period" data-route="${route}">
  <label>From <input type="date" name="from" value="${p.from}"></label>
  <label>To <input type="date" name="to" value="${p.to}"></label>
  <button type="submit">Show</button></form>`;

function bindPeriod(): void {
  const f = view.querySelector<HTMLFormElement>('form.period');
  f?.addEventListener('submit', (e) => {
    e.preventDefault();
    const d = new FormData(f);
    location.hash = `#/${f.dataset.route}?from=${String(d.get('from'))}&to=${String(d.get('to'))}`;
  });
}

/** Community: what the members drew, fed in and shared, with self-sufficiency and flows. */
async function communityView(q: URLSearchParams): Promise<void> {
  const c = await community(true);
  const p = period(c, q);
  const e = await api<Energy>(`/v1/community/energy?from=${p.from}&to=${p.to}`);
  const xs = e.intervals;
  const ends: [string, string] | undefined = xs.length ? [localTime(xs[0]!.interval, c.timeZone), localTime(xs[xs.length - 1]!.interval, c.timeZone)] : undefined;
  const flowLabel: Record<string, string> = { 'members→members': 'shared between members', 'members→grid': 'fed into the grid', 'supplier→members': 'bought from the supplier' };
  view.innerHTML = `<h1>${esc(c.name)}</h1>
  <p class="sub">${esc(c.timeZone)}, ${c.intervalMinutes}-minute intervals, ${c.size.toLocaleString('en')} log entries${c.lastCleared ? `, latest interval cleared ${esc(localTime(c.lastCleared, c.timeZone))}` : ''}.</p>
  ${periodForm('', p)}
  <div class="tiles">
    ${tile('Drawn by members', `${kwh(e.totals.drawnWh)} kWh`, 'kpi-drawn')}
    ${tile('Fed in by members', `${kwh(e.totals.fedInWh)} kWh`, 'kpi-fedin')}
    ${tile('Shared locally', `${kwh(e.totals.localWh)} kWh`, 'kpi-local')}
    ${tile('Self-sufficiency', pct(e.totals.selfSufficiency), 'kpi-self-sufficiency')}
    ${tile('Self-consumption', pct(e.totals.selfConsumption), 'kpi-self-consumption')}
  </div>
  <section><h2>Energy per interval (kWh)</h2>
  ${xs.length ? lineChart('chart-community-energy', [
    { name: 'drawn by members', color: '#c0392b', values: xs.map((x) => x.drawnWh / 1000) },
    { name: 'fed in by members', color: '#f39c12', values: xs.map((x) => x.fedInWh / 1000) },
    { name: 'shared between members', color: '#27ae60', values: xs.map((x) => x.localWh / 1000) },
  ], ends) : '<p class="empty">No metered data in this period.</p>'}</section>
  <section><h2>Self-sufficiency per interval (%)</h2>
  ${xs.length ? lineChart('chart-community-self-sufficiency', [{ name: 'shared ÷ drawn', color: '#16a085', values: xs.map((x) => (x.drawnWh ? (100 * x.localWh) / x.drawnWh : null)) }], ends) : ''}</section>
  <section><h2>Flows over the period (kWh)</h2>
  ${barChart('chart-community-flows', e.flows.map((f) => ({ label: flowLabel[`${f.from}→${f.to}`] ?? `${f.from} → ${f.to}`, value: f.wh / 1000 })))}</section>
  ${e.totals.missing ? `<p class="note">${e.totals.missing} meter-intervals have no value yet: they are not billed until the DSO sends them.</p>` : ''}`;
  bindPeriod();
}

/** Market: prices and volumes over time, and the depth of one interval's book. */
async function marketView(q: URLSearchParams): Promise<void> {
  const c = await community(true);
  const p = period(c, q, 3);
  const w = instants(p);
  const all = await api<Clearing[]>(`/v1/market/clearings?from=${w.from}&to=${w.to}`);
  const cl = all.filter((x) => { const d = localDate(x.interval, c.timeZone); return d >= p.from && d <= p.to; });
  // By default the latest interval in which members traded: a book with both sides.
  const interval = q.get('interval') ?? [...cl].reverse().find((x) => x.volumeWh > 0)?.interval ?? cl[cl.length - 1]?.interval ?? c.lastCleared;
  let depthHtml = '<p class="empty">No interval cleared yet.</p>';
  if (interval) {
    try {
      const d = await api<{ orders: number; supply: { cumulativeWh: number; limitMicroPerKwh: number }[]; demand: { cumulativeWh: number; limitMicroPerKwh: number }[] }>(`/v1/market/depth?interval=${encodeURIComponent(interval)}`);
      const points = (xs: { cumulativeWh: number; limitMicroPerKwh: number }[]): [number, number][] => {
        const out: [number, number][] = [];
        let prev = 0;
        for (const x of xs) {
          out.push([prev / 1000, x.limitMicroPerKwh / 1e6]);
          prev = x.cumulativeWh;
        }
        if (xs.length) out.push([prev / 1000, xs[xs.length - 1]!.limitMicroPerKwh / 1e6]);
        return out;
      };
      const k = cl.find((x) => x.interval === interval);
      depthHtml = `<p>${d.orders} orders${k ? `; cleared ${kwh(k.volumeWh)} kWh at ${perKwh(k.priceMicroPerKwh, c.currency)}` : ''}.</p>`
        + stepChart('chart-market-depth', [
          { name: 'supply (asks)', color: '#f39c12', points: points(d.supply) },
          { name: 'demand (bids)', color: '#2980b9', points: points(d.demand) },
        ], { x: 'kWh', y: `${c.currency}/kWh` });
    } catch (e) {
      depthHtml = `<p class="error">${esc((e as Error).message)}</p>`;
    }
  }
  const ends: [string, string] | undefined = cl.length ? [localTime(cl[0]!.interval, c.timeZone), localTime(cl[cl.length - 1]!.interval, c.timeZone)] : undefined;
  const traded = cl.reduce((a, x) => a + x.volumeWh, 0);
  view.innerHTML = `<h1>Market</h1>
  ${periodForm('market', p)}
  <div class="tiles">
    ${tile('Intervals cleared', String(cl.length), 'kpi-clearings')}
    ${tile('Traded', `${kwh(traded)} kWh`, 'kpi-traded')}
    ${tile('Average price', traded ? perKwh(Math.round(cl.reduce((a, x) => a + (x.priceMicroPerKwh ?? 0) * x.volumeWh, 0) / traded), c.currency) : '–', 'kpi-price')}
  </div>
  <section><h2>Clearing price (${esc(c.currency)}/kWh)</h2>
  ${cl.length ? lineChart('chart-market-price', [{ name: 'price', color: '#2c3e50', values: cl.map((x) => (x.priceMicroPerKwh === null ? null : x.priceMicroPerKwh / 1e6)) }], ends) : '<p class="empty">No clearing in this period.</p>'}</section>
  <section><h2>Volume traded per interval (kWh)</h2>
  ${cl.length ? lineChart('chart-market-volume', [{ name: 'volume', color: '#27ae60', values: cl.map((x) => x.volumeWh / 1000) }], ends) : ''}</section>
  <section><h2>Order book depth${interval ? ` at ${esc(localTime(interval, c.timeZone))}` : ''}</h2>
  <form id="depth-form"><label>Interval <select name="interval">${cl.slice(-96).reverse().map((x) => `<option value="${esc(x.interval)}"${x.interval === interval ? ' selected' : ''}>${esc(localTime(x.interval, c.timeZone))}</option>`).join('')}</select></label> <button>Show</button></form>
  ${depthHtml}</section>
  <section><h2>Latest clearings</h2>
  ${table(['interval', 'mechanism', 'orders', 'price', 'kWh', 'trades', 'entry'], cl.slice(-12).reverse().map((x) => [esc(localTime(x.interval, c.timeZone)), esc(`${x.mechanism} (${x.path})`), String(x.orders), esc(perKwh(x.priceMicroPerKwh, c.currency)), kwh(x.volumeWh), String(x.trades), String(x.entry)]), 'clearings')}</section>`;
  bindPeriod();
  const f = document.getElementById('depth-form') as HTMLFormElement;
  f.addEventListener('submit', (e) => {
    e.preventDefault();
    location.hash = `#/market?from=${p.from}&to=${p.to}&interval=${encodeURIComponent(String(new FormData(f).get('interval')))}`;
  });
}

interface AllocationRow {
  month: string;
  key: { kind: string };
  productionWh: number;
  allocatedWh: number;
  surplusWh: number;
  runs: number;
  entry: number;
  members: { meter: string; consumedWh: number; allocatedWh: number; supplierWh: number; missingIntervals: number }[];
}

/** Allocation: each month's key and every member's allocated energy (staff), or one's own (member); the DSO's files. */
async function allocationView(): Promise<void> {
  const s = session();
  if (!s) return loginPrompt('The monthly allocation is for the operator, the DSO, auditors and members: log in with your key.');
  if (!s.roles.some((r) => r !== 'member')) {
    const mine = await api<{ month: string; key: string; productionWh: number; entry: number; meters: AllocationRow['members'] }[]>(`/v1/members/${s.key}/allocations`);
    view.innerHTML = `<h1>My allocation</h1><p class="sub">The share of the community's production allocated to your meters each month (recomputed from the log by everyone who verifies it).</p>
    ${mine.length ? table(['month', 'key', 'meter', 'consumed kWh', 'allocated kWh', 'from supplier kWh', 'entry'], mine.flatMap((m) => m.meters.map((x) => [m.month, esc(m.key), esc(x.meter), kwh(x.consumedWh), kwh(x.allocatedWh), kwh(x.supplierWh), String(m.entry)])), 'my-allocations') : '<p class="empty">No allocation recorded yet.</p>'}`;
    return;
  }
  const rows = (await api<AllocationRow[]>('/v1/allocations')).sort((a, b) => b.month.localeCompare(a.month));
  if (rows.length === 0) {
    view.innerHTML = '<h1>Allocation</h1><p class="empty">No allocation recorded yet.</p>';
    return;
  }
  const a = rows[0]!;
  view.innerHTML = `<h1>Allocation</h1>
  ${table(['month', 'key', 'production kWh', 'allocated kWh', 'surplus kWh', 'runs', 'entry', 'files'], rows.map((r) => [r.month, esc(r.key.kind), kwh(r.productionWh), kwh(r.allocatedWh), kwh(r.surplusWh), String(r.runs), String(r.entry),
    `<button class="link" data-file="coefficients-fr.csv" data-month="${r.month}">DSO coefficients</button> <button class="link" data-file="statements.csv" data-month="${r.month}">statements</button>`]), 'allocations')}
  <section><h2>${a.month}: energy allocated to each member (kWh)</h2>
  ${barChart('chart-allocation', a.members.map((m) => ({ label: m.meter, value: m.allocatedWh / 1000 })))}
  ${table(['meter', 'consumed kWh', 'allocated kWh', 'from supplier kWh', 'missing intervals'], a.members.map((m) => [esc(m.meter), kwh(m.consumedWh), kwh(m.allocatedWh), kwh(m.supplierWh), String(m.missingIntervals)]))}</section>
  <p id="download-status"></p>`;
  for (const b of view.querySelectorAll<HTMLButtonElement>('button[data-file]')) {
    b.addEventListener('click', () => {
      const name = `${b.dataset.file!.replace('.csv', '')}-${b.dataset.month}.csv`;
      download(`/v1/allocations/${b.dataset.month}/files/${b.dataset.file}`, name)
        .then(() => { document.getElementById('download-status')!.textContent = `Downloaded ${name}.`; })
        .catch((e: Error) => { document.getElementById('download-status')!.textContent = e.message; });
    });
  }
}

interface Invoice {
  month: string;
  lines: { kind: string; wh: number; amountMicro: number; credit: boolean }[];
  totalMicro: number;
  withoutCommunityMicro: number;
  savingsMicro: number;
  missingIntervals: number;
}

/** My energy: the member's load curve, trades, invoice, and the in-browser check of their records. */
async function meView(q: URLSearchParams): Promise<void> {
  const s = session();
  if (!s) return loginPrompt('Log in with your key to see your own energy, trades and invoices.');
  const c = await community(true);
  const pin = pinnedKey(c.origin, c.verifierKey);
  const p = period(c, q, 3);
  const key = q.get('key') ?? s.key;
  const me = await api<{ key: string; roles: string[]; meters: { meter: string; direction: string; feeder: string }[] }>('/v1/me');
  const [curves, trades] = await Promise.all([
    api<CurveDay[]>(`/v1/members/${key}/curves?from=${p.from}&to=${p.to}`),
    api<Trade[]>(`/v1/members/${key}/trades?from=${instants(p).from}&to=${instants(p).to}`),
  ]);
  const month = p.to.slice(0, 7);
  const invoice = await api<Invoice | null>(`/v1/members/${key}/invoices/${month}`).catch((e: ApiError) => (e.code === 'E_NO_MARKET' ? null : Promise.reject(e)));
  const series = (direction: string) => curves.filter((x) => x.direction === direction).sort((a, b) => a.date.localeCompare(b.date)).flatMap((x) => x.values.map((v) => (v === null ? null : v / 1000)));
  const meters = [...new Set(curves.map((x) => x.meter))];
  view.innerHTML = `<h1>My energy</h1>
  <p class="sub">Key <code id="my-key">${esc(key)}</code>${key === s.key ? '' : ' (viewed by staff)'}; meters <span id="my-meters">${esc(meters.join(', ') || me.meters.map((m) => m.meter).join(', '))}</span>.</p>
  ${periodForm('me', p)}
  <section><h2>My load curve (kWh per interval)</h2>
  ${curves.length ? lineChart('chart-my-load', [
    { name: 'drawn', color: '#c0392b', values: series('import') },
    ...(curves.some((x) => x.direction === 'export') ? [{ name: 'fed in', color: '#f39c12', values: series('export') }] : []),
  ], [p.from, p.to]) : '<p class="empty">No readings in this period.</p>'}</section>
  <section><h2>Verify my records</h2>
  <p>Your browser fetches each record shown here with its inclusion proof and checks it against the operator's signed checkpoint, using key <code>${esc(pin.key)}</code> pinned on first use.${pin.changed ? ' <strong class="error">The server now announces a different checkpoint key than the one pinned in this browser.</strong>' : ''}</p>
  <button id="verify">Verify my records</button>
  <p id="verify-result" role="status"></p><div id="verify-details"></div></section>
  <section><h2>My trades</h2>
  ${table(['interval', 'side', 'kWh', 'price', 'amount', 'entry'], trades.slice(-20).reverse().map((t) => [esc(localTime(t.interval, c.timeZone)), t.side, kwh(t.wh), esc(perKwh(t.priceMicroPerKwh, c.currency)), esc(money((t as Trade & { amountMicro: number }).amountMicro, c.currency)), String(t.entry)]), 'my-trades')}
  <p class="sub">${trades.length} trades in the period.</p></section>
  <section><h2>My invoice for ${month}</h2>${invoice ? `
  ${table(['line', 'kWh', 'amount'], invoice.lines.map((l) => [esc(l.kind), kwh(l.wh), `${l.credit ? '−' : ''}${esc(money(l.amountMicro, c.currency))}`]), 'my-invoice')}
  <div class="tiles">${tile('Total', money(invoice.totalMicro, c.currency), 'invoice-total')}${tile('With the supplier alone', money(invoice.withoutCommunityMicro, c.currency), 'invoice-without')}${tile('Saved', money(invoice.savingsMicro, c.currency), 'invoice-savings')}</div>` : '<p class="empty">No invoice: no market rules for this month.</p>'}</section>`;
  bindPeriod();
  document.getElementById('verify')!.addEventListener('click', () => {
    const result = document.getElementById('verify-result')!;
    result.className = '';
    result.textContent = 'Checking…';
    verifyRecords(curves, trades, pin.key).then((checks) => showChecks(checks)).catch((e: Error) => {
      result.className = 'fail';
      result.textContent = `Verification failed: ${e.message}`;
    });
  });
}

function showChecks(checks: Check[]): void {
  const failed = checks.filter((x) => !x.ok);
  const result = document.getElementById('verify-result')!;
  result.className = failed.length ? 'fail' : 'ok';
  result.textContent = failed.length
    ? `Verification FAILED for ${failed.length} of ${checks.length} records: ${failed[0]!.what}: ${failed[0]!.detail}`
    : `All ${checks.length} records verified: they are in the operator's signed log, unaltered.`;
  document.getElementById('verify-details')!.innerHTML = table(['record', 'entry', 'result'], checks.map((x) => [esc(x.what), String(x.entry), `<span class="${x.ok ? 'ok' : 'fail'}">${x.ok ? '✓' : '✗'} ${esc(x.detail)}</span>`]), 'verify-table');
}

/** Ledger explorer: checkpoints and their consistency for everyone; entries for the operator, DSO and auditors. */
async function ledgerView(q: URLSearchParams): Promise<void> {
  const c = await community(true);
  const pin = pinnedKey(c.origin, c.verifierKey);
  const cps = await api<{ size: number; note: string; cosigners?: number }[]>('/v1/checkpoints');
  const s = session();
  const staff = s?.roles.some((r) => r !== 'member') ?? false;
  const from = Math.max(0, Number(q.get('from') ?? Math.max(0, c.size - 50)));
  let entries = '<p class="note">Entries are shown to the operator, the DSO and auditors: log in with such a key. Checkpoints and consistency proofs are public.</p>';
  if (staff) {
    const log = await api<{ size: number; entries: { entry: number; type: string; actor: string; nonce: number; issuedAt: string; body: unknown }[] }>(`/v1/log?from=${from}&limit=50`);
    entries = `<p><a href="#/ledger?from=${Math.max(0, from - 50)}">← older</a> · entries ${from}–${from + log.entries.length - 1} of ${log.size} · <a href="#/ledger?from=${Math.min(Math.max(0, log.size - 50), from + 50)}">newer →</a></p>`
      + table(['entry', 'type', 'actor', 'nonce', 'issued at', 'body'], log.entries.map((e) => [String(e.entry), esc(e.type), `<code>${esc(short(e.actor))}</code>`, String(e.nonce), esc(e.issuedAt), `<details><summary>body</summary><pre>${esc(JSON.stringify(e.body, null, 1))}</pre></details>`]), 'entries');
  }
  const rootOf = (note: string) => {
    const text = note.slice(0, note.indexOf('\n\n') + 1);
    return parseCheckpoint(text).root;
  };
  const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));
  const recent = cps.slice(-20).reverse();
  view.innerHTML = `<h1>Ledger</h1>
  <p class="sub">Origin <code>${esc(c.origin)}</code>, ${c.size.toLocaleString('en')} entries, ${cps.length} signed checkpoints. Checkpoint key <code id="verifier-key">${esc(c.verifierKey)}</code>.</p>
  <section><h2>Consistency between two checkpoints</h2>
  <form id="consistency-form">
    <label>Older <select name="older">${recent.map((x, i) => `<option value="${x.size}"${i === Math.min(recent.length - 1, 5) ? ' selected' : ''}>${x.size}</option>`).join('')}</select></label>
    <label>Newer <select name="newer">${recent.map((x) => `<option value="${x.size}">${x.size}</option>`).join('')}</select></label>
    <button>Check in this browser</button></form>
  <p id="consistency-result" role="status"></p></section>
  <section><h2>Checkpoints</h2>${table(['tree size', 'root hash', 'witness cosignatures'], recent.map((x) => [String(x.size), `<code>${esc(b64(rootOf(x.note)).slice(0, 24))}…</code>`, String(x.cosigners ?? 0)]), 'checkpoints')}
  <p class="note">Witnesses (other organisations running <code>openlec witness</code>) cosign a checkpoint only after checking it extends the last one they cosigned; a checkpoint with a quorum of cosignatures is final (<code>/v1/checkpoints/final</code>).</p></section>
  <section><h2>Entries</h2>${entries}</section>`;
  const f = document.getElementById('consistency-form') as HTMLFormElement;
  f.addEventListener('submit', (e) => {
    e.preventDefault();
    const d = new FormData(f);
    const [older, newer] = [Number(d.get('older')), Number(d.get('newer'))].sort((x, y) => x - y).map((size) => cps.find((x) => x.size === size)!);
    const out = document.getElementById('consistency-result')!;
    checkConsistency(older!, newer!, pin.key)
      .then((r) => { out.className = 'ok'; out.textContent = `Consistent: the log of ${r.newer.size} entries extends the log of ${r.older.size} entries without changing it.`; })
      .catch((err: Error) => { out.className = 'fail'; out.textContent = `Inconsistent: ${err.message}`; });
  });
}

function loginPrompt(why: string): void {
  view.innerHTML = `<h1>Log in</h1><p>${esc(why)}</p>
  <form id="login-form">
    <label>Your key (the key file's content, or the secret key)<br><textarea name="secret" rows="4" spellcheck="false" autocomplete="off"></textarea></label>
    <p><label>or a key file <input type="file" name="file" accept=".key,.json,application/json"></label></p>
    <button>Log in</button></form>
  <p id="login-error" class="error" role="alert"></p>
  <p class="note">The key stays in this page: it signs a one-time challenge and only the signature is sent. <code>npm start</code> prints demo keys for a member, the operator, the DSO and an auditor (files in <code>data/live/keys</code>).</p>`;
  const f = document.getElementById('login-form') as HTMLFormElement;
  f.addEventListener('submit', (e) => {
    e.preventDefault();
    const file = (f.elements.namedItem('file') as HTMLInputElement).files?.[0];
    const text = file ? file.text() : Promise.resolve(String(new FormData(f).get('secret')));
    text.then(async (t) => login(t, (await community()).origin)).then(() => { whoAmI(); void render(); })
      .catch((err: Error) => { document.getElementById('login-error')!.textContent = err.message; });
  });
}

function whoAmI(): void {
  const s = session();
  const who = document.getElementById('who')!;
  who.innerHTML = s ? `<span title="${esc(s.key)}">${esc(s.roles.join(', '))} <code>${esc(short(s.key))}</code></span> <button class="link" id="logout">log out</button>` : '<a href="#/me">log in</a>';
  document.getElementById('logout')?.addEventListener('click', () => { logout(); whoAmI(); void render(); });
}

const ui: Ui = { view, session, community, loginPrompt, table, tile };
const VIEWS: Record<string, (q: URLSearchParams) => Promise<void>> = {
  '': communityView, market: marketView, allocation: allocationView, me: meView, origin: (q) => originView(ui, q), certificates: () => certificatesView(ui), flex: (q) => flexView(ui, q), 'flex-earnings': (q) => flexEarningsView(ui, q), charging: (q) => chargingView(ui, q), 'charging-mine': (q) => chargingMineView(ui, q), ledger: ledgerView,
};
// The certificate views' links, after "My energy" (the page's nav lists the first five).
document.querySelector('nav a[href="#/me"]')?.insertAdjacentHTML('afterend', '<a href="#/origin" data-view="origin">My origin</a><a href="#/certificates" data-view="certificates">Certificates</a><a href="#/flex" data-view="flex">Flexibility</a><a href="#/flex-earnings" data-view="flex-earnings">My flexibility</a><a href="#/charging" data-view="charging">Charging</a><a href="#/charging-mine" data-view="charging-mine">My charging</a>');
let current = '';

async function render(): Promise<void> {
  const [path, query] = location.hash.replace(/^#\/?/, '').split('?') as [string, string | undefined];
  current = path in VIEWS ? path : '';
  for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a')) a.classList.toggle('active', a.getAttribute('href') === `#/${current}`);
  document.body.dataset.view = current || 'community';
  delete document.body.dataset.ready;
  try {
    await VIEWS[current]!(new URLSearchParams(query ?? ''));
    // data-ready tells the browser tests (and anyone scripting the page) that the view is drawn.
    document.body.dataset.ready = document.getElementById('login-form') ? 'login' : current || 'community';
  } catch (e) {
    const err = e as ApiError;
    if (err.status === 401) {
      logout();
      whoAmI();
      return loginPrompt('Your session ended: log in again.');
    }
    view.innerHTML = `<h1>Something went wrong</h1><p class="error" id="error">${esc(err.code ? `${err.code}: ` : '')}${esc(err.message)}</p>`;
  }
}

/** Live: the header shows each interval as it clears; the community and market views redraw (at most every 3 s) when they show the latest data. */
function live(): void {
  const es = new EventSource('/v1/events');
  let pending: ReturnType<typeof setTimeout> | undefined;
  es.addEventListener('interval-cleared', (m) => {
    const d = JSON.parse((m as MessageEvent<string>).data) as { interval: string; volumeWh: number };
    const c = communityCache;
    document.getElementById('live')!.textContent = `● live: ${c ? localTime(d.interval, c.timeZone) : d.interval} cleared, ${kwh(d.volumeWh)} kWh`;
    const showsLatest = !location.hash.includes('to=') && (current === '' || current === 'market');
    if (showsLatest && !pending) pending = setTimeout(() => { pending = undefined; void render(); }, 3000);
  });
}

window.addEventListener('hashchange', () => void render());
whoAmI();
live();
void render();
