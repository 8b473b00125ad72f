import { sankey, sankeyLinkHorizontal } from 'd3-sankey';
import { mountCharts, timeChart } from '../plot.ts';
import { api } from '../api.ts';
import { bindPeriod, community, esc, localDate, localTime, money, pct, period, periodForm, tile, view } from '../ui.ts';
import './views.css';

interface Energy {
  intervals: { interval: string; drawnWh: number; fedInWh: number; localWh: number; priceMicroPerKwh: number | null; missing: number }[];
  totals: { drawnWh: number; fedInWh: number; localWh: number; selfSufficiency: string; selfConsumption: string; missing: number };
  flows: { from: string; to: string; wh: number }[];
}

interface Overview {
  currency: string;
  savingsMicro: number;
  tradedWh: number;
  trades: number;
  storage: { assets: number; capacityWh: number; powerW: number };
}

/**
 * Energy with its unit at a precision that reads well: whole kWh from 1,000 kWh
 * ("3,034 kWh"), one decimal from 1 kWh ("12.4 kWh"), two below ("0.35 kWh").
 */
export function energy(wh: number): string {
  const k = wh / 1000;
  const d = Math.abs(k) >= 1000 ? 0 : Math.abs(k) >= 1 ? 1 : 2;
  return `${k.toLocaleString('en', { minimumFractionDigits: d, maximumFractionDigits: d })} kWh`;
}

/** A price per kWh to the tenth of a cent ("0.215 CHF/kWh"). */
export const price = (micro: number | null, currency: string) => (micro === null ? '–' : `${(micro / 1e6).toFixed(3)} ${currency}/kWh`);

/** clock: hours and minutes of an instant in the community's time zone ("14:30"). */
export const clock = (t: number | string, timeZone: string) => new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(t));

const NODES = [
  { id: 'pv', label: 'Members’ panels', color: '#f39c12' },
  { id: 'supplier', label: 'Supplier', color: '#7f8c8d' },
  { id: 'use', label: 'Members’ consumption', color: '#c0392b' },
  { id: 'grid', label: 'Grid', color: '#34495e' },
] as const;

/**
 * flowDiagram: where the community's energy came from and went, as a Sankey drawn in SVG at
 * the page's width (so its labels keep their size on a phone), with a text alternative and
 * the flows as a table. Sources: the members' panels (their export meters) and the supplier;
 * sinks: the members' consumption (their import meters) and the grid.
 */
function flowDiagram(e: Energy, width: number): string {
  const local = e.totals.localWh;
  const flows = [
    { source: 'pv', target: 'use', wh: local, label: 'shared between members' },
    { source: 'pv', target: 'grid', wh: Math.max(0, e.totals.fedInWh - local), label: 'fed into the grid' },
    { source: 'supplier', target: 'use', wh: Math.max(0, e.totals.drawnWh - local), label: 'bought from the supplier' },
  ];
  const height = 240;
  const layout = sankey<{ id: string; label: string; color: string }, { wh: number; label: string }>()
    .nodeId((n) => n.id).nodeWidth(14).nodePadding(28).extent([[1, 8], [width - 1, height - 8]]);
  const drawnFlows = flows.filter((f) => f.wh > 0);
  const used = new Set(drawnFlows.flatMap((f) => [f.source, f.target]));
  const g = drawnFlows.length ? layout({ nodes: NODES.filter((n) => used.has(n.id)).map((n) => ({ ...n })), links: drawnFlows.map((f) => ({ ...f, value: f.wh })) }) : undefined;
  const path = sankeyLinkHorizontal();
  const nodeName = (id: string) => NODES.find((n) => n.id === id)!.label;
  const alt = `Where the energy came from and went: ${flows.map((f) => `${energy(f.wh)} ${f.label} (${nodeName(f.source)} to ${nodeName(f.target)})`).join('; ')}.`;
  const svg = g ? `<svg class="sankey" id="sankey" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-labelledby="sankey-desc">
    <desc id="sankey-desc">${esc(alt)}</desc>
    ${g.links.map((l) => { const s = l.source as { id: string; color: string }; return `<path class="flow" data-from="${s.id}" data-to="${(l.target as { id: string }).id}" data-wh="${l.wh}" d="${path(l)}" stroke="${s.color}" stroke-opacity=".45" stroke-width="${Math.max(1, l.width ?? 1)}" fill="none"><title>${esc(`${l.label}: ${energy(l.wh)}`)}</title></path>`; }).join('')}
    ${g.nodes.map((n) => {
      const left = (n.x0 ?? 0) < width / 2;
      const x = left ? (n.x1 ?? 0) + 6 : (n.x0 ?? 0) - 6;
      const y = ((n.y0 ?? 0) + (n.y1 ?? 0)) / 2;
      return `<rect class="node" data-node="${n.id}" data-wh="${n.value ?? 0}" x="${n.x0}" y="${n.y0}" width="${(n.x1 ?? 0) - (n.x0 ?? 0)}" height="${Math.max(1, (n.y1 ?? 0) - (n.y0 ?? 0))}" fill="${n.color}"></rect>
      <text x="${x}" y="${y}" text-anchor="${left ? 'start' : 'end'}" dominant-baseline="middle"><tspan x="${x}" dy="-0.6em" font-weight="600">${esc(n.label)}</tspan><tspan x="${x}" dy="1.2em">${esc(energy(n.value ?? 0))}</tspan></text>`;
    }).join('')}
  </svg>` : '<p class="empty">No energy metered in this period.</p>';
  const table = `<div class="scroll" tabindex="0" role="region" aria-label="the flows as a table"><table id="flows"><thead><tr><th scope="col">flow</th><th scope="col">from</th><th scope="col">to</th><th scope="col">energy</th></tr></thead><tbody>${flows.map((f) => `<tr data-wh="${f.wh}"><th scope="row">${esc(f.label)}</th><td>${esc(nodeName(f.source))}</td><td>${esc(nodeName(f.target))}</td><td>${esc(energy(f.wh))}</td></tr>`).join('')}</tbody></table></div>`;
  return `<figure class="flow-view" aria-labelledby="flows-title"><figcaption id="flows-title">Where our energy came from and went</figcaption>${svg}
    <details class="plot-data" open><summary>The flows as a table</summary>${table}</details></figure>`;
}

/** dailySelfSufficiency: per local day, the share of what members drew that came from members (null without consumption). */
function dailySelfSufficiency(e: Energy, timeZone: string): { day: string; start: number; value: number | null }[] {
  const days = new Map<string, { start: number; drawn: number; local: number }>();
  for (const x of e.intervals) {
    const d = localDate(x.interval, timeZone);
    const s = days.get(d) ?? { start: Date.parse(x.interval), drawn: 0, local: 0 };
    s.drawn += x.drawnWh;
    s.local += x.localWh;
    days.set(d, s);
  }
  return [...days].map(([day, s]) => ({ day, start: s.start, value: s.drawn ? (100 * s.local) / s.drawn : null }));
}

/**
 * Community: production, consumption and storage, where the energy came from and went,
 * savings and self-sufficiency. Redrawn live by the router on each interval cleared; "Updated"
 * is the server's time (the demo's clock runs ahead of the wall clock).
 */
export async function communityView(q: URLSearchParams): Promise<void> {
  const c = await community(true);
  const p = period(c, q);
  const [e, o] = await Promise.all([
    api<Energy>(`/v1/community/energy?from=${p.from}&to=${p.to}`),
    api<Overview>(`/v1/dashboard/community?from=${p.from}&to=${p.to}`),
  ]);
  const xs = e.intervals;
  const times = xs.map((x) => Date.parse(x.interval));
  const daily = dailySelfSufficiency(e, c.timeZone);
  const width = Math.max(300, Math.min(1040, view.clientWidth - 34));
  view.innerHTML = `<h1>${esc(c.name)}</h1>
  <p class="sub">${esc(c.timeZone)}, ${c.intervalMinutes}-minute intervals, ${c.size.toLocaleString('en')} log entries.</p>
  <p class="live-status" id="updated" role="status">Updated ${esc(clock((c as typeof c & { serverTime?: string }).serverTime ?? Date.now(), c.timeZone))}${c.lastCleared ? ` · latest interval cleared ${esc(localTime(c.lastCleared, c.timeZone))}` : ''}</p>
  ${periodForm('', p)}
  <div class="tiles">
    ${tile('Saved against the supplier alone', money(o.savingsMicro, o.currency), 'kpi-savings')}
    ${tile('Produced and fed in by members', energy(e.totals.fedInWh), 'kpi-fedin')}
    ${tile('Consumed by members', energy(e.totals.drawnWh), 'kpi-drawn')}
    ${tile('Shared between members', energy(e.totals.localWh), 'kpi-local')}
    ${tile('Self-sufficiency', pct(e.totals.selfSufficiency), 'kpi-self-sufficiency')}
    ${tile('Self-consumption', pct(e.totals.selfConsumption), 'kpi-self-consumption')}
    ${o.storage.assets ? tile('Storage', `${o.storage.assets} batteries, ${energy(o.storage.capacityWh)}`, 'kpi-storage') : ''}
  </div>
  <p class="note">Savings: what members paid and received for the ${energy(o.tradedWh)} they traded between them (${o.trades.toLocaleString('en')} trades), against buying it from the supplier and selling it to the grid.</p>
  <section>${flowDiagram(e, width)}</section>
  <section><h2>Production and consumption</h2>
  ${xs.length ? timeChart({ id: 'chart-community-energy', title: 'Energy per interval', unit: 'kWh', timeZone: c.timeZone, times, series: [
    { label: 'consumed by members', color: '#c0392b', values: xs.map((x) => x.drawnWh / 1000) },
    { label: 'fed in by members', color: '#f39c12', values: xs.map((x) => x.fedInWh / 1000) },
    { label: 'shared between members', color: '#27ae60', kind: 'area', values: xs.map((x) => x.localWh / 1000) },
  ] }) : '<p class="empty">No metered data in this period.</p>'}</section>
  <section><h2>Self-sufficiency over time</h2>
  ${daily.length ? timeChart({ id: 'chart-community-self-daily', title: 'Self-sufficiency per day', unit: '%', decimals: 1, timeZone: c.timeZone, times: daily.map((d) => d.start), series: [{ label: 'shared ÷ consumed', color: '#16a085', kind: 'bars', values: daily.map((d) => d.value) }] }) : ''}
  ${xs.length ? timeChart({ id: 'chart-community-self-sufficiency', title: 'Self-sufficiency per interval', unit: '%', decimals: 1, timeZone: c.timeZone, times, series: [{ label: 'shared ÷ consumed', color: '#16a085', values: xs.map((x) => (x.drawnWh ? (100 * x.localWh) / x.drawnWh : null)) }] }) : ''}</section>
  ${e.totals.missing ? `<p class="note">${e.totals.missing.toLocaleString('en')} meter-intervals have no value yet: they are not billed until the DSO sends them.</p>` : ''}`;
  mountCharts();
  bindPeriod();
}
