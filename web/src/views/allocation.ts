import { barChart } from '../../../src/charts/svg.ts';
import { download, session } from '../api.ts';
import { api } from '../api.ts';
import { esc, kwh, loginPrompt, table, view } from '../ui.ts';

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
export async function allocationView(): Promise<void> {
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

