import type { IntervalRow } from '../cli/simulate.ts';
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

export function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

const W = 1000;
const H = 260;
const PAD = 40;
const fmt = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(2));

export function lineChart(id: string, series: { name: string; color: string; values: (number | null)[] }[]): string {
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const max = Math.max(1e-9, ...all);
  const min = Math.min(0, ...all);
  const n = Math.max(1, ...series.map((s) => s.values.length - 1));
  const x = (i: number) => PAD + (i / n) * (W - 2 * PAD);
  const y = (v: number) => H - PAD + ((min - v) / (max - min)) * (H - 2 * PAD);
  const paths = series.map((s) => {
    let d = '';
    s.values.forEach((v, i) => {
      if (v === null) return;
      d += `${d === '' || s.values[i - 1] === null ? 'M' : 'L'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
    });
    return `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.2"><title>${esc(s.name)}</title></path>`;
  }).join('');
  const axis = `<line x1="${PAD}" y1="${H - PAD}" x2="${W - PAD}" y2="${H - PAD}" stroke="#999"/><line x1="${PAD}" y1="${PAD}" x2="${PAD}" y2="${H - PAD}" stroke="#999"/>`
    + `<text x="4" y="${PAD + 4}" font-size="11">${fmt(max)}</text><text x="4" y="${H - PAD}" font-size="11">${fmt(min)}</text>`;
  const legend = series.map((s) => `<span><i style="background:${s.color}"></i>${esc(s.name)}</span>`).join('');
  return `<div class="legend">${legend}</div><svg id="${id}" class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img">${axis}${paths}</svg>`;
}

export function barChart(id: string, bars: { label: string; value: number }[]): string {
  const rowH = 18;
  const h = PAD + bars.length * rowH;
  const max = Math.max(1e-9, ...bars.map((b) => Math.abs(b.value)));
  const labelW = 260;
  const scale = (W - labelW - 120) / max;
  const zero = labelW + (bars.some((b) => b.value < 0) ? (W - labelW - 120) / 2 : 0);
  const k = bars.some((b) => b.value < 0) ? scale / 2 : scale;
  const rects = bars.map((b, i) => {
    const w = Math.abs(b.value) * k;
    const x0 = b.value < 0 ? zero - w : zero;
    const yy = 10 + i * rowH;
    return `<text x="4" y="${yy + 12}" font-size="11">${esc(b.label)}</text><rect x="${x0.toFixed(1)}" y="${yy}" width="${w.toFixed(1)}" height="${rowH - 4}" fill="${b.value < 0 ? '#c0392b' : '#2980b9'}"><title>${esc(b.label)}: ${fmt(b.value)}</title></rect>`
      + `<text x="${(Math.max(x0 + w, zero) + 4).toFixed(1)}" y="${yy + 12}" font-size="11">${fmt(b.value)}</text>`;
  }).join('');
  return `<svg id="${id}" class="chart" viewBox="0 0 ${W} ${h}" width="${W}" height="${h}" role="img">${rects}</svg>`;
}
