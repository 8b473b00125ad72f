/**
 * SVG charts as strings: no script, no network, the same code in the CLI's HTML reports
 * and in the browser dashboard. The viewBox lets CSS scale a chart to any screen width;
 * it is narrow (600 units) and its text large (19 units), so that text stays at least 11 px
 * tall when a chart is drawn 360 px wide on a phone (19 × 360 / 600 = 11.4).
 *
 * Every chart has real axes (round value ticks with their unit; on a time axis, ticks at
 * whole local hours or local midnights in the given time zone, 24-hour), a legend, gaps
 * where a value is missing (null is never drawn as zero), and a text alternative: role="img"
 * with an aria-label summarising the chart, repeated in its <title> and <desc>.
 */
export interface Series {
  name: string;
  color: string;
  values: (number | null)[];
}

/** What a chart may know beyond its values; every field is optional, so the old calls keep working. */
export interface ChartOptions {
  /** The instant of each value (epoch milliseconds, the same index as the values): the x axis becomes a dated time axis. */
  times?: readonly number[];
  /** The IANA time zone of the time axis' ticks and of the text alternative (default UTC). */
  timeZone?: string;
  /** The values' unit, shown on the value axis and in the text alternative: kWh, kW, CHF, CHF/kWh, % … A three-letter code is a currency (2 decimals). */
  unit?: string;
  /** The chart's name, first in its text alternative (default: its series' names). */
  title?: string;
  /** The x axis' name when it is not time (e.g. "members, by savings"). */
  xTitle?: string;
  /** Whether the value axis starts at zero (default true); false fits it to the values (e.g. prices). */
  zero?: boolean;
}

export function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

/** Width of the viewBox; charts are drawn at most this many CSS pixels wide, and scale down to the screen. */
const W = 600;
/** Font size in viewBox units (≥ 11 px at 360 px wide). */
const F = 19;
/** Estimated width of one character of text at F (system sans-serif digits are about 0.55 em), to keep labels apart. */
const CH = 0.55 * F;
/** Text, gridlines and axis lines: text is #333 on white (12.6:1), axes #767676 (4.5:1). */
const INK = '#333';
const GRID = '#e2e2e2';
const AXIS = '#767676';
const PLOT_H = 200;
const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

const svgOpen = (id: string, h: number, label: string, title: string) =>
  `<svg id="${esc(id)}" class="chart" viewBox="0 0 ${W} ${h}" width="${W}" height="${h}" role="img" aria-label="${esc(label)}" style="width:100%;max-width:${W}px;height:auto;font-family:system-ui,sans-serif" font-size="${F}">`
  + `<title>${esc(title)}</title><desc>${esc(label)}</desc>`;

const f1 = (x: number) => x.toFixed(1);
const isCurrency = (unit: string | undefined) => unit !== undefined && /^[A-Z]{3}$/.test(unit);

/** decimalsOf: the fewest decimals that write a tick step exactly (0.25 → 2, 5 → 0). */
function decimalsOf(step: number): number {
  let d = 0;
  while (d < 8 && Math.abs(Math.round(step * 10 ** d) - step * 10 ** d) > 1e-6) d++;
  return d;
}

/**
 * niceTicks: round values (1, 2, 2.5 or 5 × a power of ten apart) that cover min..max in
 * about `count` steps; the first is ≤ min and the last ≥ max.
 */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (max < min) [min, max] = [max, min];
  if (max === min) {
    if (min === 0) return [0, 1];
    const m = Math.abs(min);
    [min, max] = [min - m / 2, max + m / 2];
  }
  const raw = (max - min) / Math.max(1, count);
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((k) => k * p).find((s) => s >= raw * (1 - 1e-9))!;
  const d = decimalsOf(step);
  const lo = Math.floor(min / step + 1e-9);
  const hi = Math.ceil(max / step - 1e-9);
  const out: number[] = [];
  for (let i = lo; i <= hi; i++) out.push(Number((i * step).toFixed(d)) + 0);
  return out;
}

/** fmtTick writes a tick with the decimals of its step. */
const fmtTick = (v: number, ticks: readonly number[]) => {
  const step = ticks.length > 1 ? ticks[1]! - ticks[0]! : 1;
  return (v + 0).toFixed(decimalsOf(Number(step.toPrecision(6))));
};

/** fmtValue writes a value with its unit: money with 2 decimals, % with 1, other values with a precision that suits their size. */
export function fmtValue(v: number, unit?: string): string {
  const a = Math.abs(v);
  const s = isCurrency(unit) ? v.toFixed(2)
    : unit === '%' ? v.toFixed(1)
    : a >= 100 || Number.isInteger(v) ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 0.1 ? v.toFixed(2) : v.toFixed(4);
  return `${s === '-0' || /^-0\.0*$/.test(s) ? s.slice(1) : s}${unit ? ` ${unit}` : ''}`;
}

// --- time in a time zone -----------------------------------------------------

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const formatters = new Map<string, Intl.DateTimeFormat>();

/** Wall-clock fields of an instant in a time zone. */
interface Wall { y: number; mo: number; d: number; h: number; mi: number }

function wall(ms: number, timeZone: string): Wall {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric' });
    formatters.set(timeZone, f);
  }
  const p: Record<string, string> = {};
  for (const x of f.formatToParts(ms)) p[x.type] = x.value;
  return { y: Number(p.year), mo: Number(p.month), d: Number(p.day), h: Number(p.hour) % 24, mi: Number(p.minute) };
}

/** offset of the zone at an instant (local wall clock minus UTC), in ms. */
function offset(ms: number, timeZone: string): number {
  const w = wall(ms, timeZone);
  return Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi) - Math.floor(ms / MINUTE) * MINUTE;
}

/** instantOf a local wall-clock time, or null when the zone skips it (the hour lost when DST begins). */
function instantOf(y: number, mo: number, d: number, h: number, timeZone: string): number | null {
  const asUtc = Date.UTC(y, mo - 1, d, h, 0);
  let t = asUtc - offset(asUtc, timeZone);
  t = asUtc - offset(t, timeZone);
  const w = wall(t, timeZone);
  return w.d === d && w.h === h && w.mi === 0 ? t : null;
}

const pad2 = (n: number) => String(n).padStart(2, '0');
const weekday = (w: Wall) => WEEKDAYS[new Date(Date.UTC(w.y, w.mo - 1, w.d)).getUTCDay()]!;
/** "Tue 24 Nov" */
const dateLabel = (w: Wall) => `${weekday(w)} ${w.d} ${MONTHS[w.mo - 1]}`;
/** "Tue 24 Nov 2026 06:00", for text alternatives. */
export function localDateTime(ms: number, timeZone = 'UTC'): string {
  const w = wall(ms, timeZone);
  return `${dateLabel(w)} ${w.y} ${pad2(w.h)}:${pad2(w.mi)}`;
}

export interface TimeTick {
  t: number;
  /** First line under the axis ("06:00", "Tue", "Nov"). */
  top: string;
  /** Second line, where the day, month or year changes ("Tue 24 Nov", "24 Nov", "2026"); '' for none. */
  bottom: string;
}

type Step = { unit: 'hour' | 'day' | 'month'; n: number };
const STEPS: Step[] = [
  ...[1, 2, 3, 6, 12].map((n) => ({ unit: 'hour' as const, n })),
  ...[1, 2, 7, 14].map((n) => ({ unit: 'day' as const, n })),
  ...[1, 2, 3, 6, 12].map((n) => ({ unit: 'month' as const, n })),
];
const stepMs = (s: Step) => s.n * (s.unit === 'hour' ? HOUR : s.unit === 'day' ? DAY : 30.44 * DAY);
/** Characters of a tick's widest line for each kind of step ("06:00", "24 Nov", "2026"). */
const stepChars = (s: Step) => (s.unit === 'hour' ? 5 : s.unit === 'day' ? 6 : 4);

/**
 * timeTicks: ticks between t0 and t1 (epoch ms) at round local times of the zone — whole
 * hours (every 1, 2, 3, 6 or 12 h) within a few days, local midnights (every 1 or 2 days,
 * or Mondays) across more, first days of months across months — the finest step whose
 * labels do not collide on an axis `width` units wide. Wall-clock times are counted in the
 * zone, so across a DST change the ticks stay on 00:00, 06:00 … (the day is 23 or 25 h).
 */
export function timeTicks(t0: number, t1: number, timeZone = 'UTC', width = W - 80): TimeTick[] {
  if (!(t1 > t0)) return [];
  const pxPerMs = width / (t1 - t0);
  const step = STEPS.find((s) => stepMs(s) * pxPerMs >= stepChars(s) * CH + 6
    // Hour ticks name the date under each midnight: a day must be wide enough for "Tue 24 Nov".
    && (s.unit !== 'hour' || DAY * pxPerMs >= 10 * CH + 6)) ?? STEPS[STEPS.length - 1]!;
  const first = wall(t0, timeZone);
  const last = wall(t1, timeZone);
  const out: { t: number; w: Wall }[] = [];
  for (let day = Date.UTC(first.y, first.mo - 1, first.d); day <= Date.UTC(last.y, last.mo - 1, last.d); day += DAY) {
    const c = new Date(day);
    const [y, mo, d] = [c.getUTCFullYear(), c.getUTCMonth() + 1, c.getUTCDate()];
    const dayNo = day / DAY;
    let hours: number[] = [];
    if (step.unit === 'hour') for (let h = 0; h < 24; h += step.n) hours.push(h);
    else if (step.unit === 'day') {
      // Day 0 of the epoch was a Thursday: (dayNo + 3) % 7 === 0 on Mondays.
      const on = step.n >= 7 ? (dayNo + 3) % 7 === 0 && (step.n === 7 || Math.floor((dayNo + 3) / 7) % 2 === 0) : dayNo % step.n === 0;
      if (on) hours = [0];
    } else if (d === 1 && (mo - 1) % step.n === 0) hours = [0];
    for (const h of hours) {
      // A zone that skips midnight (DST at 00:00) starts its day at 01:00.
      const t = instantOf(y, mo, d, h, timeZone) ?? (step.unit === 'hour' ? null : instantOf(y, mo, d, h + 1, timeZone));
      if (t !== null && t >= t0 && t <= t1) out.push({ t, w: wall(t, timeZone) });
    }
  }
  return out.map(({ t, w }, i) => {
    const prev = out[i - 1]?.w;
    if (step.unit === 'hour') return { t, top: `${pad2(w.h)}:${pad2(w.mi)}`, bottom: !prev || prev.d !== w.d ? dateLabel(w) : '' };
    if (step.unit === 'day') return { t, top: weekday(w), bottom: `${w.d} ${MONTHS[w.mo - 1]}` };
    return { t, top: MONTHS[w.mo - 1]!, bottom: !prev || prev.y !== w.y ? String(w.y) : '' };
  });
}

// --- shared pieces -----------------------------------------------------------

/** legend: a line swatch and the name of each series, in rows that wrap at the chart's width; returns the SVG and its height. */
function legend(series: readonly { name: string; color: string }[], y0: number): { svg: string; h: number } {
  let x = 4;
  let row = 0;
  const parts = series.map((s) => {
    const w = 34 + s.name.length * CH + 18;
    if (x > 4 && x + w > W) {
      x = 4;
      row++;
    }
    const y = y0 + row * (F + 10) + F * 0.7;
    const part = `<line x1="${x}" y1="${f1(y - F * 0.35)}" x2="${x + 26}" y2="${f1(y - F * 0.35)}" stroke="${esc(s.color)}" stroke-width="5"/><text x="${x + 34}" y="${f1(y)}" fill="${INK}">${esc(s.name)}</text>`;
    x += w;
    return part;
  });
  return { svg: series.length ? `<g class="legend">${parts.join('')}</g>` : '', h: series.length ? (row + 1) * (F + 10) : 0 };
}

/** A frame: the value axis' ticks and gridlines, its unit above, and the plot's area, for line and step charts. */
interface Frame { left: number; right: number; top: number; bottom: number; y: (v: number) => number; svg: string }

function frame(ticks: readonly number[], unit: string, top: number): Frame {
  const labels = ticks.map((t) => fmtTick(t, ticks));
  const left = Math.max(...labels.map((l) => l.length), 2) * CH + 12;
  const plotTop = top + F + 12;
  const bottom = plotTop + PLOT_H;
  const right = W - 16;
  const lo = ticks[0]!;
  const hi = ticks[ticks.length - 1]!;
  const y = (v: number) => bottom - ((v - lo) / (hi - lo)) * PLOT_H;
  const grid = ticks.map((t, i) => `<line x1="${f1(left)}" y1="${f1(y(t))}" x2="${right}" y2="${f1(y(t))}" stroke="${t === 0 && lo < 0 ? AXIS : GRID}"/>`
    + `<text x="${f1(left - 6)}" y="${f1(y(t) + F * 0.35)}" text-anchor="end" fill="${INK}">${labels[i]}</text>`).join('');
  const svg = `<g class="y-axis">${grid}${unit ? `<text x="4" y="${top + F}" fill="${INK}">${esc(unit)}</text>` : ''}</g>`
    + `<line x1="${f1(left)}" y1="${bottom}" x2="${right}" y2="${bottom}" stroke="${AXIS}"/><line x1="${f1(left)}" y1="${plotTop}" x2="${f1(left)}" y2="${bottom}" stroke="${AXIS}"/>`;
  return { left, right, top: plotTop, bottom, y, svg };
}

/** xLabels draws tick labels under the axis, kept inside the chart and skipped where they would overlap the previous one. */
function xLabels(ticks: readonly { x: number; top: string; bottom: string }[], bottom: number): string {
  const placed = [-Infinity, -Infinity];
  const out: string[] = [];
  const line = (i: 0 | 1, x: number, text: string, extraEnd?: number) => {
    if (!text) return;
    const w = text.length * CH;
    const cx = Math.min(Math.max(x, w / 2 + 2), W - w / 2 - 2);
    if (cx - w / 2 < placed[i]! + 4 || (extraEnd !== undefined && cx + w / 2 + 8 > extraEnd)) return;
    placed[i] = cx + w / 2;
    out.push(`<text x="${f1(cx)}" y="${f1(bottom + (i + 1) * (F + 4))}" text-anchor="middle" fill="${INK}">${esc(text)}</text>`);
  };
  ticks.forEach((t, i) => {
    out.push(`<line x1="${f1(t.x)}" y1="${bottom}" x2="${f1(t.x)}" y2="${bottom + 6}" stroke="${AXIS}"/>`);
    line(0, t.x, t.top);
    // The first tick's date yields to the next one's (a midnight), which names the day more clearly.
    const nextBottom = ticks.slice(i + 1).find((n) => n.bottom);
    line(1, t.x, t.bottom, i === 0 && nextBottom && nextBottom.x !== t.x ? nextBottom.x - nextBottom.bottom.length * CH / 2 : undefined);
  });
  return `<g class="x-axis">${out.join('')}</g>`;
}

/** summary of one series for the text alternative: its range, where it peaks and how many values are missing. */
function seriesSummary(s: Series, unit: string | undefined, at: (i: number) => string): string {
  const present = s.values.map((v, i) => [v, i] as const).filter((x): x is readonly [number, number] => x[0] !== null);
  if (present.length === 0) return `${s.name}: no values`;
  let lo = present[0]!;
  let hi = present[0]!;
  for (const p of present) {
    if (p[0] < lo[0]) lo = p;
    if (p[0] > hi[0]) hi = p;
  }
  const missing = s.values.length - present.length;
  return `${s.name}: from ${fmtValue(lo[0], unit)} to ${fmtValue(hi[0], unit)} (highest ${at(hi[1])})${missing ? `, ${missing} of ${s.values.length} values missing` : ''}`;
}

const namesOf = (names: readonly string[]) => (names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`);

// --- charts ------------------------------------------------------------------

/**
 * lineChart draws series over a shared axis: time when `opts.times` gives each value's
 * instant (ticks at local hours or dates of `opts.timeZone`), else the values' index.
 * `xLabels` names the axis' two ends (e.g. the first and last interval) where there are no
 * times; options may come third instead. A null value, or a jump in time larger than 1.5
 * intervals, leaves a gap; a value alone between gaps is a dot.
 */
export function lineChart(id: string, series: Series[], xLabelsOrOpts?: [string, string] | ChartOptions, options: ChartOptions = {}): string {
  const ends = Array.isArray(xLabelsOrOpts) ? xLabelsOrOpts : undefined;
  const o = Array.isArray(xLabelsOrOpts) || !xLabelsOrOpts ? options : { ...xLabelsOrOpts, ...options };
  const n = Math.max(0, ...series.map((s) => s.values.length));
  const times = o.times && o.times.length >= n && n > 0 ? o.times : undefined;
  const tz = o.timeZone ?? 'UTC';
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)));
  const base = o.zero === false && all.length ? [] : [0];
  const ticks = niceTicks(Math.min(...base, ...all), Math.max(...base, ...all));
  const lg = legend(series, 4);
  const fr = frame(ticks, o.unit ?? '', lg.h + 4);
  const plotW = fr.right - fr.left;
  const t0 = times ? times[0]! : 0;
  const t1 = times ? Math.max(times[n - 1]!, t0 + 1) : Math.max(1, n - 1);
  const x = (i: number) => fr.left + (((times ? times[i]! : i) - t0) / (t1 - t0)) * plotW;
  // Consecutive instants further apart than 1.5 of the shortest step are a gap in the data.
  let dt = Infinity;
  if (times) for (let i = 1; i < n; i++) if (times[i]! - times[i - 1]! > 0) dt = Math.min(dt, times[i]! - times[i - 1]!);
  const joined = (i: number) => !times || times[i]! - times[i - 1]! <= 1.5 * dt;
  const paths = series.map((s) => {
    let d = '';
    let dots = '';
    s.values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) return;
      const cont = i > 0 && s.values[i - 1] !== null && joined(i);
      const alone = !cont && !(i + 1 < s.values.length && s.values[i + 1] !== null && joined(i + 1));
      if (alone) dots += `<circle cx="${f1(x(i))}" cy="${f1(fr.y(v))}" r="3.5" fill="${esc(s.color)}"/>`;
      d += `${cont ? 'L' : 'M'}${f1(x(i))},${f1(fr.y(v))}`;
    });
    return `<path d="${d}" fill="none" stroke="${esc(s.color)}" stroke-width="2.5" stroke-linejoin="round"><title>${esc(s.name)}</title></path>${dots}`;
  }).join('');
  let axis: string;
  let span: string;
  let at: (i: number) => string;
  if (times) {
    const tt = timeTicks(t0, t1, tz, plotW).map((k) => ({ ...k, x: fr.left + ((k.t - t0) / (t1 - t0)) * plotW }));
    axis = xLabels(tt, fr.bottom);
    span = `, ${localDateTime(t0, tz)} to ${localDateTime(times[n - 1]!, tz)} (${tz} time)`;
    at = (i) => localDateTime(times[i]!, tz);
  } else if (ends) {
    axis = xLabels([{ x: fr.left, top: ends[0], bottom: '' }, { x: fr.right, top: ends[1], bottom: '' }], fr.bottom);
    span = `, ${ends[0]} to ${ends[1]}`;
    at = (i) => `at ${i + 1} of ${n}`;
  } else {
    const xt = niceTicks(1, Math.max(2, n), 5).filter((k) => Number.isInteger(k) && k >= 1 && k <= Math.max(n, 1));
    axis = xLabels(xt.map((k) => ({ x: x(k - 1), top: String(k), bottom: '' })), fr.bottom);
    span = n ? `, ${n} values${o.xTitle ? ` (${o.xTitle})` : ''}` : '';
    at = (i) => `at ${i + 1} of ${n}`;
  }
  const xTitle = o.xTitle && !times ? `<text x="${fr.right}" y="${f1(fr.bottom + 2 * (F + 4))}" text-anchor="end" fill="${INK}">${esc(o.xTitle)}</text>` : '';
  const title = o.title ?? namesOf(series.map((s) => s.name));
  const label = `${title}: line chart${span}. ${all.length ? series.map((s) => seriesSummary(s, o.unit, at)).join('; ') : 'No values'}.`;
  const h = fr.bottom + 2 * (F + 4) + 10;
  const empty = all.length ? '' : `<text x="${f1((fr.left + fr.right) / 2)}" y="${f1((fr.top + fr.bottom) / 2)}" text-anchor="middle" fill="${INK}">no data</text>`;
  return `${svgOpen(id, h, label, title)}${fr.svg}${axis}${xTitle}${lg.svg}${paths}${empty}</svg>`;
}

/**
 * barChart draws labelled horizontal bars against a value axis with round ticks and the
 * unit; each bar's value is written at its end. Negative values go left of zero, in red.
 * Short labels stand left of their bars, long ones above them (so both fit on a phone).
 */
export function barChart(id: string, bars: { label: string; value: number }[], opts: ChartOptions = {}): string {
  const unit = opts.unit;
  const values = bars.map((b) => (Number.isFinite(b.value) ? b.value : 0));
  const ticks = niceTicks(Math.min(0, ...values), Math.max(0, ...values), 4);
  // One precision for every bar of a chart, set by the largest (so 48 and 535 kWh, not 48 and 27.2).
  const big = Math.max(0, ...values.map(Math.abs));
  const digits = isCurrency(unit) ? 2 : unit === '%' ? 1 : big >= 100 ? 0 : big >= 10 ? 1 : big >= 1 ? 2 : 3;
  const valueTexts = values.map((v) => `${(v + 0).toFixed(digits).replace(/^-(0\.?0*)$/, '$1')}${unit ? ` ${unit}` : ''}`);
  const labelW = Math.max(0, ...bars.map((b) => b.label.length)) * CH;
  const beside = labelW <= 0.4 * W;
  const valueW = Math.max(0, ...valueTexts.map((t) => t.length)) * CH + 10;
  const x0 = beside ? labelW + 12 : 6;
  const x1 = W - valueW - 6;
  const lo = ticks[0]!;
  const hi = ticks[ticks.length - 1]!;
  const x = (v: number) => x0 + ((v - lo) / (hi - lo)) * (x1 - x0);
  const barH = 20;
  const rowH = beside ? barH + 12 : F + 6 + barH + 12;
  const top = 8;
  const rows = bars.map((b, i) => {
    const v = values[i]!;
    const y = top + i * rowH + (beside ? 0 : F + 6);
    const a = x(Math.min(0, v));
    const w = Math.abs(x(v) - x(0));
    const label = beside
      ? `<text x="${f1(x0 - 8)}" y="${f1(y + barH / 2 + F * 0.35)}" text-anchor="end" fill="${INK}">${esc(b.label)}</text>`
      : `<text x="${f1(x0)}" y="${f1(y - 6)}" fill="${INK}">${esc(b.label)}</text>`;
    return `${label}<rect x="${f1(a)}" y="${f1(y)}" width="${f1(w)}" height="${barH}" fill="${v < 0 ? '#c0392b' : '#2471a3'}"><title>${esc(b.label)}: ${esc(valueTexts[i]!)}</title></rect>`
      + `<text x="${f1(Math.max(a + w, x(0)) + 6)}" y="${f1(y + barH / 2 + F * 0.35)}" fill="${INK}">${esc(valueTexts[i]!)}</text>`;
  }).join('');
  const bottom = top + bars.length * rowH;
  const tickLabels = ticks.map((t) => fmtTick(t, ticks));
  const grid = ticks.map((t) => `<line x1="${f1(x(t))}" y1="${top - 4}" x2="${f1(x(t))}" y2="${bottom}" stroke="${t === 0 ? AXIS : GRID}"/>`).join('');
  const axis = xLabels(ticks.map((t, i) => ({ x: x(t), top: tickLabels[i]!, bottom: '' })), bottom)
    + (unit ? `<text x="${W - 4}" y="${f1(bottom + 2 * (F + 4))}" text-anchor="end" fill="${INK}">${esc(unit)}</text>` : '');
  const title = opts.title ?? (bars.length ? namesOf(bars.slice(0, 3).map((b) => b.label)) + (bars.length > 3 ? ' …' : '') : 'Bar chart');
  const listed = bars.slice(0, 24).map((b, i) => `${b.label}: ${valueTexts[i]}`).join('; ');
  const label = `${title}: bar chart of ${bars.length} ${bars.length === 1 ? 'value' : 'values'}${bars.length ? `. ${listed}${bars.length > 24 ? `; and ${bars.length - 24} more` : ''}` : ''}.`;
  const h = bottom + 2 * (F + 4) + 10;
  return `${svgOpen(id, h, label, title)}${grid}${axis}${rows}</svg>`;
}

/**
 * stepChart draws step curves in x–y space, such as the supply and demand curves of an
 * order book (x: cumulative energy, y: price). Each point starts a step that holds until the
 * next. `axes` names the units of x and y (e.g. kWh, CHF/kWh).
 */
export function stepChart(id: string, series: { name: string; color: string; points: [number, number][] }[], axes: { x: string; y: string }, opts: ChartOptions = {}): string {
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const yTicks = niceTicks(Math.min(0, ...ys), Math.max(0, ...ys));
  const xTicks = niceTicks(0, Math.max(0, ...xs), 4);
  const lg = legend(series, 4);
  const fr = frame(yTicks, axes.y, lg.h + 4);
  const xMax = xTicks[xTicks.length - 1]!;
  const x = (v: number) => fr.left + (v / xMax) * (fr.right - fr.left);
  const paths = series.map((s) => {
    let d = '';
    s.points.forEach(([px, py], i) => {
      d += i === 0 ? `M${f1(x(px))},${f1(fr.y(py))}` : `H${f1(x(px))}V${f1(fr.y(py))}`;
    });
    return `<path d="${d}" fill="none" stroke="${esc(s.color)}" stroke-width="2.5"><title>${esc(s.name)}</title></path>`;
  }).join('');
  const xl = xTicks.map((t) => fmtTick(t, xTicks));
  const axis = xLabels(xTicks.map((t, i) => ({ x: x(t), top: xl[i]!, bottom: '' })), fr.bottom)
    + `<text x="${fr.right}" y="${f1(fr.bottom + 2 * (F + 4))}" text-anchor="end" fill="${INK}">${esc(axes.x)}</text>`;
  const title = opts.title ?? namesOf(series.map((s) => s.name));
  const range = (v: number[]) => (v.length ? `${fmtValue(Math.min(...v))} to ${fmtValue(Math.max(...v))}` : 'none');
  const label = `${title}: step chart. ${series.map((s) => `${s.name}: ${range(s.points.map((p) => p[0]))} ${axes.x}, at ${range(s.points.map((p) => p[1]))} ${axes.y}`).join('; ')}.`;
  const h = fr.bottom + 2 * (F + 4) + 10;
  return `${svgOpen(id, h, label, title)}${fr.svg}${axis}${lg.svg}${paths}</svg>`;
}
