/**
 * SVG charts as strings: no script, no network, the same code in the CLI's HTML reports
 * and in the browser dashboard. The viewBox lets CSS scale a chart to any screen width.
 */
export interface Series {
  name: string;
  color: string;
  values: (number | null)[];
}

export function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

const W = 1000;
const H = 260;
const PAD = 40;
const fmt = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(2));

/** lineChart draws series over a shared index axis; `xLabels` names its two ends (e.g. the first and last interval). */
export function lineChart(id: string, series: Series[], xLabels?: [string, string]): string {
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
    + `<text x="4" y="${PAD + 4}" font-size="11">${fmt(max)}</text><text x="4" y="${H - PAD}" font-size="11">${fmt(min)}</text>`
    + (xLabels ? `<text x="${PAD}" y="${H - PAD + 16}" font-size="11">${esc(xLabels[0])}</text><text x="${W - PAD}" y="${H - PAD + 16}" font-size="11" text-anchor="end">${esc(xLabels[1])}</text>` : '');
  const legend = series.map((s) => `<span><i style="background:${s.color}"></i>${esc(s.name)}</span>`).join('');
  return `<div class="legend">${legend}</div><svg id="${id}" class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img">${axis}${paths}</svg>`;
}

/** barChart draws labelled horizontal bars; negative values go left of zero, in red. */
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

/**
 * stepChart draws step curves in x–y space, such as the supply and demand curves of an
 * order book (x: cumulative energy, y: price). Each point starts a step that holds until the next.
 */
export function stepChart(id: string, series: { name: string; color: string; points: [number, number][] }[], axes: { x: string; y: string }): string {
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const xMax = Math.max(1e-9, ...xs);
  const yMax = Math.max(1e-9, ...ys);
  const yMin = Math.min(0, ...ys);
  const x = (v: number) => PAD + (v / xMax) * (W - 2 * PAD);
  const y = (v: number) => H - PAD + ((yMin - v) / (yMax - yMin)) * (H - 2 * PAD);
  const paths = series.map((s) => {
    let d = '';
    s.points.forEach(([px, py], i) => {
      d += i === 0 ? `M${x(px).toFixed(1)},${y(py).toFixed(1)}` : `H${x(px).toFixed(1)}V${y(py).toFixed(1)}`;
    });
    return `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.5"><title>${esc(s.name)}</title></path>`;
  }).join('');
  const axis = `<line x1="${PAD}" y1="${H - PAD}" x2="${W - PAD}" y2="${H - PAD}" stroke="#999"/><line x1="${PAD}" y1="${PAD}" x2="${PAD}" y2="${H - PAD}" stroke="#999"/>`
    + `<text x="4" y="${PAD + 4}" font-size="11">${fmt(yMax)}</text><text x="4" y="${H - PAD}" font-size="11">${fmt(yMin)}</text>`
    + `<text x="${PAD}" y="${PAD - 8}" font-size="11">${esc(axes.y)}</text><text x="${W - PAD}" y="${H - PAD + 16}" font-size="11" text-anchor="end">${esc(axes.x)}: 0 to ${fmt(xMax)}</text>`;
  const legend = series.map((s) => `<span><i style="background:${s.color}"></i>${esc(s.name)}</span>`).join('');
  return `<div class="legend">${legend}</div><svg id="${id}" class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img">${axis}${paths}</svg>`;
}
