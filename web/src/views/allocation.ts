import { download, session } from '../api.ts';
import { api } from '../api.ts';
import { esc, loginPrompt, table, view } from '../ui.ts';
import { energy } from './community.ts';
import './views.css';

interface MeterTotals { meter: string; consumedWh: number; allocatedWh: number; supplierWh: number; missingIntervals: number; recordedMissingIntervals: number }

interface AllocationRow {
  month: string;
  key: { kind: string };
  productionWh: number;
  allocatedWh: number;
  surplusWh: number;
  runs: number;
  entry: number;
  members: MeterTotals[];
}

const KEY_NAMES: Record<string, string> = { prorata: 'pro rata of consumption', 'full-dynamic': 'dynamic shares', static: 'fixed shares', redistribute: 'fixed shares, unused redistributed', cascade: 'cascade by group', spain: 'Spanish coefficients' };

/** monthName: "2026-11" as "November 2026". */
const monthName = (month: string) => new Intl.DateTimeFormat('en-GB', { month: 'long', year: 'numeric', timeZone: 'UTC' }).format(new Date(`${month}-01T12:00:00Z`));
const pctOf = (part: number, whole: number) => (whole ? `${Math.round((100 * part) / whole)} %` : '–');

/** memberBars: one horizontal bar per meter (allocated, then from the supplier) with its meter and numbers as text: readable at any width. */
function memberBars(a: AllocationRow): string {
  const max = Math.max(1, ...a.members.map((m) => m.consumedWh));
  const w = (wh: number) => `${((100 * Math.max(0, wh)) / max).toFixed(2)}%`;
  return `<figure class="plot" id="chart-allocation" data-drawn="${a.members.length}" aria-labelledby="chart-allocation-title">
  <figcaption id="chart-allocation-title">${esc(monthName(a.month))}: energy allocated to each meter, and the rest from the supplier</figcaption>
  <ul class="hbars">${a.members.map((m) => `<li data-meter="${esc(m.meter)}" data-wh="${m.allocatedWh}"><span class="hbar-label"><code>${esc(m.meter)}</code> ${esc(energy(m.allocatedWh))} of ${esc(energy(m.consumedWh))}</span>
    <span class="hbar" aria-hidden="true"><span class="bar-allocated" style="width:${w(m.allocatedWh)}"></span><span class="bar-supplier" style="width:${w(m.supplierWh)}"></span></span></li>`).join('')}</ul>
  <p class="legend"><span><i style="background:#27ae60"></i>allocated from the community’s production</span><span><i style="background:#c9d1d9"></i>from the supplier</span></p></figure>`;
}

/** statement: a member's month in one paragraph, e.g. "In November the community's panels produced 812 kWh; 94 kWh of it ...". */
function statement(m: { month: string; productionWh: number }, x: MeterTotals): string {
  const month = monthName(m.month).replace(/ \d{4}$/, '');
  return `<p class="statement" data-meter="${esc(x.meter)}">In ${esc(month)} the community’s panels produced <strong>${esc(energy(m.productionWh))}</strong>; <strong>${esc(energy(x.allocatedWh))}</strong> of it was allocated to your meter <code>${esc(x.meter)}</code>, <strong>${esc(pctOf(x.allocatedWh, x.consumedWh))}</strong> of the ${esc(energy(x.consumedWh))} you used; the rest, <strong>${esc(energy(x.supplierWh))}</strong>, came from your supplier.${x.missingIntervals ? ` ${x.missingIntervals.toLocaleString('en')} intervals of your meter have no value yet: they are not counted.` : ''}</p>`;
}

/** Allocation: each month's key and every meter's allocated energy (staff), or one's own as a statement (member); the DSO's files. */
export async function allocationView(): Promise<void> {
  const s = session();
  if (!s) return loginPrompt('The monthly allocation is for the operator, the DSO, auditors and members: log in with your key.');
  if (!s.roles.some((r) => r !== 'member')) {
    const mine = (await api<{ month: string; key: string; productionWh: number; entry: number; meters: MeterTotals[] }[]>(`/v1/dashboard/members/${s.key}/allocations`)).reverse();
    view.innerHTML = `<h1>My allocation</h1><p class="sub">Each month the community’s production is shared between its members’ meters (recomputed from the log by everyone who verifies it).</p>
    ${mine.length ? mine.map((m) => `<section><h2>${esc(monthName(m.month))}</h2>${m.meters.map((x) => statement(m, x)).join('')}
      <details><summary>The figures</summary>${table(['meter', 'consumed', 'allocated', 'from the supplier', 'key', 'log entry'], m.meters.map((x) => [`<code>${esc(x.meter)}</code>`, esc(energy(x.consumedWh)), esc(energy(x.allocatedWh)), esc(energy(x.supplierWh)), esc(KEY_NAMES[m.key] ?? m.key), String(m.entry)]))}</details></section>`).join('') : '<p class="empty">No allocation recorded yet.</p>'}`;
    return;
  }
  const rows = (await api<AllocationRow[]>('/v1/dashboard/allocations')).sort((a, b) => b.month.localeCompare(a.month));
  if (rows.length === 0) {
    view.innerHTML = '<h1>Allocation</h1><p class="empty">No allocation recorded yet.</p>';
    return;
  }
  const a = rows[0]!;
  const recordedDiffers = a.members.some((m) => m.recordedMissingIntervals !== m.missingIntervals);
  view.innerHTML = `<h1>Allocation</h1>
  ${table(['month', 'key', 'production', 'allocated', 'surplus to the grid', 'runs', 'entry', 'files'], rows.map((r) => [esc(monthName(r.month)), esc(KEY_NAMES[r.key.kind] ?? r.key.kind), esc(energy(r.productionWh)), esc(energy(r.allocatedWh)), esc(energy(r.surplusWh)), String(r.runs), String(r.entry),
    `<button class="link" data-file="coefficients-fr.csv" data-month="${r.month}">DSO coefficients</button> <button class="link" data-file="statements.csv" data-month="${r.month}">statements</button>`]), 'allocations')}
  <p id="download-status" role="status"></p>
  <section><h2>${esc(monthName(a.month))}: ${esc(energy(a.allocatedWh))} of ${esc(energy(a.productionWh))} allocated to ${a.members.length} meters</h2>
  ${memberBars(a)}
  ${table(['meter', 'consumed', 'allocated', 'share', 'from the supplier', 'missing intervals'], a.members.map((m) => [`<code>${esc(m.meter)}</code>`, esc(energy(m.consumedWh)), esc(energy(m.allocatedWh)), esc(pctOf(m.allocatedWh, m.consumedWh)), esc(energy(m.supplierWh)), m.missingIntervals.toLocaleString('en')]), 'allocation-members')}
  <p class="note">Missing intervals are counted only from when the community began and the meter joined it${recordedDiffers ? ' (the allocation recorded in the log counts every interval of the month, before the meters joined too; the allocation itself is the same)' : ''}.</p></section>`;
  for (const b of view.querySelectorAll<HTMLButtonElement>('button[data-file]')) {
    b.addEventListener('click', () => {
      const name = `${b.dataset.file!.replace('.csv', '')}-${b.dataset.month}.csv`;
      download(`/v1/allocations/${b.dataset.month}/files/${b.dataset.file}`, name)
        .then(() => { document.getElementById('download-status')!.textContent = `Downloaded ${name}.`; })
        .catch((e: Error) => { document.getElementById('download-status')!.textContent = e.message; });
    });
  }
}
