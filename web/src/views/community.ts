import { mountCharts, timeChart } from '../plot.ts';
import { barChart, lineChart } from '../../../src/charts/svg.ts';
import { api } from '../api.ts';
import { bindPeriod, community, esc, kwh, localTime, pct, period, periodForm, tile, view } from '../ui.ts';

interface Energy {
  intervals: { interval: string; drawnWh: number; fedInWh: number; localWh: number; priceMicroPerKwh: number | null; missing: number }[];
  totals: { drawnWh: number; fedInWh: number; localWh: number; selfSufficiency: string; selfConsumption: string; missing: number };
  flows: { from: string; to: string; wh: number }[];
}

/** Community: what the members drew, fed in and shared, with self-sufficiency and flows. */
export async function communityView(q: URLSearchParams): Promise<void> {
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
  ${xs.length ? timeChart({ id: 'chart-community-energy', title: 'Energy per interval', unit: 'kWh', timeZone: c.timeZone, times: xs.map((x) => Date.parse(x.interval)), series: [
    { label: 'drawn by members', color: '#c0392b', values: xs.map((x) => x.drawnWh / 1000) },
    { label: 'fed in by members', color: '#f39c12', values: xs.map((x) => x.fedInWh / 1000) },
    { label: 'shared between members', color: '#27ae60', values: xs.map((x) => x.localWh / 1000) },
  ] }) : '<p class="empty">No metered data in this period.</p>'}</section>
  <section><h2>Self-sufficiency per interval (%)</h2>
  ${xs.length ? lineChart('chart-community-self-sufficiency', [{ name: 'shared ÷ drawn', color: '#16a085', values: xs.map((x) => (x.drawnWh ? (100 * x.localWh) / x.drawnWh : null)) }], ends) : ''}</section>
  <section><h2>Flows over the period (kWh)</h2>
  ${barChart('chart-community-flows', e.flows.map((f) => ({ label: flowLabel[`${f.from}→${f.to}`] ?? `${f.from} → ${f.to}`, value: f.wh / 1000 })))}</section>
  ${e.totals.missing ? `<p class="note">${e.totals.missing} meter-intervals have no value yet: they are not billed until the DSO sends them.</p>` : ''}`;
  mountCharts();
  bindPeriod();
}

