import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { esc } from './ui.ts';

/**
 * Charts of the dashboard, drawn by uPlot (time axes in the community's time zone, ticks,
 * a hover/touch readout of every series at the cursor, gaps where data is missing, zoom by
 * dragging). A view puts `timeChart(...)` or `xyChart(...)` in its HTML, then calls
 * `mountCharts()` once the HTML is in the page.
 *
 * Every chart is a <figure> with a caption, a text summary (the canvas' accessible name:
 * range, minimum and maximum of each series) and the data as a table on demand, so the
 * figures can be read without seeing the chart.
 */
export interface TimeSeries {
  label: string;
  color: string;
  /** One value per time; null is missing (a gap, never drawn as zero). */
  values: readonly (number | null)[];
  kind?: 'line' | 'bars' | 'step' | 'area';
  /** Dashed, e.g. a reference price. */
  dash?: boolean;
}

export interface TimeChart {
  id: string;
  title: string;
  /** Epoch milliseconds, ascending, one per value. */
  times: readonly number[];
  series: readonly TimeSeries[];
  /** Unit of the y axis, e.g. "kWh" or "CHF/kWh". */
  unit: string;
  timeZone: string;
  /** Decimals of values in the readout and the table (default 2). */
  decimals?: number;
  /** Bars stacked bottom-up in series order (all series must be bars). */
  stacked?: boolean;
  /** Granularity of a bar: its width and the time format of the readout. */
  step?: 'interval' | 'day' | 'month' | 'year';
  height?: number;
  /** Start the y axis at zero (default true). */
  zero?: boolean;
}

export interface XySeries {
  label: string;
  color: string;
  /** [x, y] points, x ascending; drawn as a step curve. */
  points: readonly (readonly [number, number])[];
}

export interface XyChart {
  id: string;
  title: string;
  series: readonly XySeries[];
  x: { unit: string; decimals?: number };
  y: { unit: string; decimals?: number };
  /** Points marked with a dot and a label, e.g. the clearing point. */
  marks?: readonly { x: number; y: number; label: string }[];
  height?: number;
}

/** timeTicks: axis labels in the community's time zone, 24-hour, the date under each midnight. */
function timeTicks(splits: number[], timeZone: string, step: TimeChart['step']): string[] {
  if (step && step !== 'interval') {
    const f = localFormat(timeZone, step === 'day' ? 'day' : step);
    return splits.map((s) => f.format(s * 1000));
  }
  const hm = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  const day = new Intl.DateTimeFormat('en-GB', { timeZone, day: 'numeric', month: 'short' });
  return splits.map((s, i) => {
    const t = hm.format(s * 1000);
    return t === '00:00' ? day.format(s * 1000) : i === 0 ? `${t}\n${day.format(s * 1000)}` : t;
  });
}

const pending = new Map<string, () => uPlot>();
const mounted = new Map<string, uPlot>();

const fmt = (v: number | null | undefined, decimals: number) => (v === null || v === undefined || Number.isNaN(v) ? '–' : v.toLocaleString('en', { minimumFractionDigits: decimals, maximumFractionDigits: decimals }));

function localFormat(timeZone: string, step: TimeChart['step']): Intl.DateTimeFormat {
  const o: Intl.DateTimeFormatOptions = step === 'year' ? { year: 'numeric' }
    : step === 'month' ? { year: 'numeric', month: 'short' }
      : step === 'day' ? { weekday: 'short', month: 'short', day: 'numeric' }
        : { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
  return new Intl.DateTimeFormat('en-GB', { timeZone, ...o });
}

function summary(title: string, names: string[], ranges: { min: number; max: number; n: number }[], unit: string, decimals: number, from: string, to: string): string {
  const parts = names.map((n, i) => {
    const r = ranges[i]!;
    return r.n ? `${n} from ${fmt(r.min, decimals)} to ${fmt(r.max, decimals)} ${unit}` : `${n}: no data`;
  });
  return `${title}, ${from} to ${to}: ${parts.join('; ')}.`;
}

const rangeOf = (values: readonly (number | null)[]) => {
  let min = Infinity;
  let max = -Infinity;
  let n = 0;
  for (const v of values) if (v !== null) { n++; min = Math.min(min, v); max = Math.max(max, v); }
  return { min, max, n };
};

const figure = (id: string, title: string, label: string, tableHtml: string, height: number) => `<figure class="plot" id="${id}" aria-labelledby="${id}-title">
  <figcaption id="${id}-title">${esc(title)}</figcaption>
  <div class="plot-area" id="${id}-area" role="img" aria-label="${esc(label)}" style="min-height:${height}px"></div>
  <details class="plot-data"><summary>Data of “${esc(title)}” as a table</summary><div class="scroll" tabindex="0" role="region" aria-label="${esc(`data of ${title}`)}">${tableHtml}</div></details></figure>`;

const dataTable = (head: string[], rows: string[][]) => `<table><thead><tr>${head.map((h) => `<th scope="col">${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c, i) => (i === 0 ? `<th scope="row">${esc(c)}</th>` : `<td>${esc(c)}</td>`)).join('')}</tr>`).join('')}</tbody></table>`;

/** timeChart: a chart over time; the HTML to place, drawn by mountCharts(). */
export function timeChart(c: TimeChart): string {
  const decimals = c.decimals ?? 2;
  const height = c.height ?? 260;
  const f = localFormat(c.timeZone, c.step);
  const times = c.times.map((t) => t / 1000);
  const raw = c.series.map((s) => s.values.map((v) => (v === null || v === undefined ? null : v)));
  // Stacked bars: each series is drawn at its cumulative height, the tallest first, and read out raw.
  let drawn: (number | null)[][] = raw;
  if (c.stacked) {
    const acc = times.map(() => 0);
    drawn = raw.map((vs) => vs.map((v, i) => (v === null ? null : (acc[i] = acc[i]! + v))));
  }
  const order = c.stacked ? c.series.map((_, i) => c.series.length - 1 - i) : c.series.map((_, i) => i);
  const from = c.times.length ? f.format(c.times[0]!) : '';
  const to = c.times.length ? f.format(c.times[c.times.length - 1]!) : '';
  const label = summary(c.title, c.series.map((s) => s.label), raw.map(rangeOf), c.unit, decimals, from, to);
  const rows = c.times.map((t, i) => [f.format(t), ...raw.map((vs) => fmt(vs[i], decimals))]);
  pending.set(c.id, () => {
    const el = document.getElementById(`${c.id}-area`)!;
    const barWidth = c.step === 'interval' || c.step === undefined ? 0.9 : 0.7;
    const byPeriod = c.step !== undefined && c.step !== 'interval';
    const bars = c.series.some((x) => x.kind === 'bars');
    // Half a bar's slot either side, so that the first and last bars are whole.
    const half = (times.length > 1 ? times[1]! - times[0]! : 86_400) / 2;
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), c.timeZone),
      cursor: { drag: { x: true, y: false }, points: { size: 7 } },
      legend: { live: true },
      scales: { x: { time: true, ...(bars ? { range: (_u: uPlot, min: number, max: number): uPlot.Range.MinMax => [min - half, max + half] } : {}) }, y: { range: (_u, min, max) => [c.zero === false ? min : Math.min(0, min), max > min ? max + Math.abs(max) * 0.05 : max + 1] } },
      axes: [
        {
          stroke: '#4b5866', grid: { stroke: '#eef1f4' }, ticks: { stroke: '#c9d1d9' }, size: 44, values: (_u, splits) => timeTicks(splits, c.timeZone, c.step),
          // Days, months, years: a tick under bars (as many as fit, 90 px apart), never between them.
          ...(byPeriod ? { splits: (u: uPlot) => { const xs = u.data[0] as number[]; const every = Math.ceil(xs.length / Math.max(1, Math.floor(u.width / 90))); return xs.filter((_, i) => i % every === 0); } } : {}),
        },
        { stroke: '#4b5866', grid: { stroke: '#eef1f4' }, ticks: { stroke: '#c9d1d9' }, label: c.unit, labelSize: 18, size: 60, values: (_u, vals) => vals.map((v) => fmt(v, Math.max(0, Math.min(decimals, -Math.floor(Math.log10(Math.abs((vals[1] ?? 1) - (vals[0] ?? 0)) || 1)))))) },
      ],
      series: [
        { label: 'time', value: (_u, v) => (v === null ? '–' : f.format(v * 1000)) },
        ...order.map((i) => {
          const s = c.series[i]!;
          const bars = s.kind === 'bars';
          return {
            label: s.label,
            stroke: s.color,
            width: bars ? 0 : 2,
            ...(s.dash ? { dash: [6, 4] } : {}),
            ...(bars || s.kind === 'area' ? { fill: bars ? s.color : `${s.color}33` } : {}),
            ...(bars ? { paths: uPlot.paths.bars!({ size: [barWidth, 80], align: 0 }) } : s.kind === 'step' ? { paths: uPlot.paths.stepped!({ align: 1 }) } : {}),
            spanGaps: false,
            points: { show: false },
            value: (_u: uPlot, _v: number | null, _si: number, di: number | null) => (di === null ? '–' : `${fmt(raw[i]![di], decimals)} ${c.unit}`),
          } satisfies uPlot.Series;
        }),
      ],
    };
    return new uPlot(opts, [times, ...order.map((i) => drawn[i]!)] as uPlot.AlignedData, el);
  });
  return figure(c.id, c.title, label, dataTable(['time', ...c.series.map((s) => `${s.label} (${c.unit})`)], rows), height);
}

/** xyChart: step curves over a numeric x (e.g. a book's depth), with marked points. */
export function xyChart(c: XyChart): string {
  const height = c.height ?? 280;
  const xd = c.x.decimals ?? 1;
  const yd = c.y.decimals ?? 4;
  const xs = [...new Set(c.series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  // Aligned on the union of x: each curve holds its value from its point to the next one.
  const ys = c.series.map((s) => xs.map((x) => {
    let y: number | null = null;
    for (const p of s.points) if (p[0] <= x) y = p[1];
    return x > (s.points[s.points.length - 1]?.[0] ?? -Infinity) ? null : y;
  }));
  const label = `${c.title}: ${c.series.map((s) => `${s.label}, ${s.points.length} steps`).join('; ')}${(c.marks ?? []).map((m) => `; ${m.label} at ${fmt(m.x, xd)} ${c.x.unit} and ${fmt(m.y, yd)} ${c.y.unit}`).join('')}.`;
  const rows = c.series.flatMap((s) => s.points.map((p) => [s.label, fmt(p[0], xd), fmt(p[1], yd)]));
  pending.set(c.id, () => {
    const el = document.getElementById(`${c.id}-area`)!;
    const marks = c.marks ?? [];
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      cursor: { points: { size: 7 } },
      scales: { x: { time: false } },
      axes: [
        { stroke: '#4b5866', grid: { stroke: '#eef1f4' }, label: c.x.unit, labelSize: 18 },
        { stroke: '#4b5866', grid: { stroke: '#eef1f4' }, label: c.y.unit, labelSize: 18, size: 64 },
      ],
      series: [
        { label: c.x.unit, value: (_u, v) => fmt(v, xd) },
        ...c.series.map((s) => ({ label: s.label, stroke: s.color, width: 2, paths: uPlot.paths.stepped!({ align: 1 }), spanGaps: false, points: { show: false }, value: (_u: uPlot, v: number | null) => `${fmt(v, yd)} ${c.y.unit}` })),
      ],
      hooks: {
        draw: [(u) => {
          const ctx = u.ctx;
          for (const m of marks) {
            const px = u.valToPos(m.x, 'x', true);
            const py = u.valToPos(m.y, 'y', true);
            ctx.save();
            ctx.fillStyle = '#1d2733';
            ctx.beginPath();
            ctx.arc(px, py, 6 * devicePixelRatio, 0, 2 * Math.PI);
            ctx.fill();
            ctx.font = `${12 * devicePixelRatio}px system-ui, sans-serif`;
            ctx.fillText(m.label, px + 10 * devicePixelRatio, py - 8 * devicePixelRatio);
            ctx.restore();
          }
        }],
      },
    };
    return new uPlot(opts, [xs, ...ys] as uPlot.AlignedData, el);
  });
  return figure(c.id, c.title, label, dataTable(['curve', c.x.unit, c.y.unit], rows), height);
}

let observer: ResizeObserver | undefined;

/** mountCharts draws the charts placed in the page since the last call, and keeps them sized to their box. */
export function mountCharts(): void {
  for (const [id, u] of mounted) if (!document.getElementById(`${id}-area`)?.contains(u.root)) { u.destroy(); mounted.delete(id); }
  observer ??= new ResizeObserver((entries) => {
    for (const e of entries) {
      const id = (e.target as HTMLElement).id.replace(/-area$/, '');
      const u = mounted.get(id);
      if (u && Math.abs(u.width - e.contentRect.width) > 4) u.setSize({ width: Math.max(200, e.contentRect.width), height: u.height });
    }
  });
  for (const [id, make] of pending) {
    const el = document.getElementById(`${id}-area`);
    if (!el) continue;
    mounted.get(id)?.destroy();
    const u = make();
    mounted.set(id, u);
    observer.observe(el);
    // data-drawn: how many values the chart drew (tests and scripts wait for it).
    el.closest('figure')!.setAttribute('data-drawn', String(u.data.slice(1).reduce((a, s) => a + (s as (number | null)[]).filter((v) => v !== null && v !== undefined).length, 0)));
  }
  pending.clear();
}

/** chartOf: the drawn uPlot instance of a chart id (tests and scripts read its data). */
export const chartOf = (id: string): uPlot | undefined => mounted.get(id);
