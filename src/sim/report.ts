import { barChart, esc, lineChart } from '../charts/svg.ts';
import type { IntervalRow } from './kpis.ts';
import type { Scenario } from './scenario.ts';

/**
 * renderReport writes a self-contained HTML page (inline SVG, no script, no network):
 * community load, PV and traded energy over time, the clearing price, the energy flows,
 * the money flows and the savings per member.
 */
export function renderReport(r: { scenario: Scenario; kpis: Record<string, unknown>; intervals: readonly IntervalRow[]; members: readonly { label: string; savingsMicro: number }[] }): string {
  const kwh = (wh: number) => wh / 1000;
  const flows = {
    'local PV used behind the meter or stored': r.intervals.reduce((a, x) => a + x.pvWh - x.exportWh, 0),
    'EV charging': r.intervals.reduce((a, x) => a + x.evWh, 0),
    'battery discharge': r.intervals.reduce((a, x) => a + x.batteryDischargeWh, 0),
    'traded between members': r.intervals.reduce((a, x) => a + x.tradedWh, 0),
    'bought from the supplier': r.intervals.reduce((a, x) => a + x.importWh - x.tradedWh, 0),
    'sold to the grid': r.intervals.reduce((a, x) => a + x.exportWh - x.tradedWh, 0),
  };
  const kpiRows = Object.entries(r.kpis).filter(([, v]) => typeof v !== 'object' || v === null).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(String(v))}</td></tr>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>openlec simulation: ${esc(r.scenario.name)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}h1{font-size:1.4em}h2{font-size:1.1em;margin-top:2em}
table{border-collapse:collapse}th,td{padding:2px 10px;text-align:left;border-bottom:1px solid #eee}svg{background:#fafafa;border:1px solid #ddd}
.legend span{display:inline-block;margin-right:1.5em}.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}</style></head>
<body>
<h1>openlec simulation: ${esc(r.scenario.name)}</h1>
<p>${r.scenario.days} days from ${esc(r.scenario.start)} in ${esc(r.scenario.timeZone)}, ${r.intervals.length} intervals of ${r.scenario.intervalMinutes} minutes, ${esc(String(r.kpis.members))} members, ${esc(r.scenario.market.mechanism)} ex-post.</p>
<h2>Community load, PV production and energy traded between members (kWh per interval)</h2>
${lineChart('chart-energy', [
    { name: 'load', color: '#c0392b', values: r.intervals.map((x) => kwh(x.loadWh)) },
    { name: 'PV', color: '#f39c12', values: r.intervals.map((x) => kwh(x.pvWh)) },
    { name: 'traded', color: '#27ae60', values: r.intervals.map((x) => kwh(x.tradedWh)) },
  ])}
<h2>Clearing price (per kWh)</h2>
${lineChart('chart-price', [{ name: 'price', color: '#2c3e50', values: r.intervals.map((x) => (x.priceMicroPerKwh === null ? null : x.priceMicroPerKwh / 1e6)) }])}
<h2>Energy flows over the run (kWh)</h2>
${barChart('chart-flows', Object.entries(flows).map(([k, v]) => ({ label: k, value: kwh(v) })))}
<h2>Money flows over the run (${esc(r.scenario.currency)})</h2>
${barChart('chart-money', moneyBars(r.kpis.money as Money))}
<h2>Savings per member against the supplier alone (${esc(r.scenario.currency)})</h2>
${barChart('chart-savings', r.members.map((m) => ({ label: m.label, value: m.savingsMicro / 1e6 })))}
<h2>Key figures</h2>
<table>${kpiRows}</table>
</body></html>
`;
}

const INTERVAL_COLUMNS = ['start', 'loadWh', 'pvWh', 'evWh', 'batteryChargeWh', 'batteryDischargeWh', 'importWh', 'exportWh', 'tradedWh', 'priceMicroPerKwh'] as const;

/** intervalsCsv writes the community's intervals, one line each (";"-separated, an empty cell where no price was set). */
export function intervalsCsv(intervals: readonly IntervalRow[]): string {
  return [INTERVAL_COLUMNS.join(';'), ...intervals.map((r) => INTERVAL_COLUMNS.map((c) => r[c] ?? '').join(';'))].join('\n') + '\n';
}

interface Money {
  chargesMicro: number;
  creditsMicro: number;
  supplierMicro: number;
  gridMicro: number;
  peerPaidMicro: number;
  feesMicro: number;
  surplusMicro: number;
}

/** moneyBars: who pays whom. Members' charges and credits, and where the money goes (the grid's payment for exports is negative). */
function moneyBars(m: Money): { label: string; value: number }[] {
  return [
    ['members pay (charges)', m.chargesMicro], ['members are credited', -m.creditsMicro],
    ['to the supplier', m.supplierMicro], ['from the grid for exports', -m.gridMicro],
    ['between members', m.peerPaidMicro], ['network fees to the DSO', m.feesMicro], ['market surplus', m.surplusMicro],
  ].map(([label, v]) => ({ label: label as string, value: (v as number) / 1e6 }));
}
