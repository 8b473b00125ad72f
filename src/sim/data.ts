import { OpenlecError } from '../errors.ts';

/**
 * Real load and PV series for a simulated member, from the files of public smart-meter
 * datasets (docs/scenarios.md lists the columns):
 * - `citylearn`: CityLearn building files, one row per hour with `month`, `hour` (1..24,
 *   hour ending) and no day: the rows are taken as consecutive hours, dated from the first
 *   change of month, and every row is checked against its month and hour columns.
 *   `non_shiftable_load` is kWh in the hour; `solar_generation` is Wh per kW installed.
 * - `opsd`: Open Power System Data household files, CUMULATIVE kWh per column at each
 *   `utc_timestamp`; the energy of an hour is the difference to the next reading, and a gap
 *   in a counter is bridged linearly (the counter's own total is kept). Consumption =
 *   grid import − grid export + PV.
 *
 * The series are keyed by local month, day and hour in the scenario's time zone and
 * replayed on the simulated dates: a simulated 14 June takes the file's 14 June. The
 * parsers take the file's text (the CLI reads it); `source` names it in errors.
 */
export type DataFormat = 'citylearn' | 'opsd';

export interface HourlySeries {
  readonly source: string;
  /** Wh in each local hour, keyed "MM-DDTHH". */
  readonly loadWh: Map<string, number>;
  readonly pvWh: Map<string, number>;
  /** Hours whose counter was bridged across a gap (OPSD). */
  readonly bridgedHours: number;
}

export interface DataSpec {
  readonly format: DataFormat;
  readonly file: string;
  /** CityLearn: kW of PV installed (the file gives Wh per kW). */
  readonly pvKwp?: number;
  /** OPSD: the column prefix of the household (found when the file has only one). */
  readonly household?: string;
}

const bad = (source: string, line: number | null, message: string, field = 'data') =>
  new OpenlecError('E_SCENARIO_DATA', `${source}${line === null ? '' : `:${line}`}: ${message}`, { field, ...(line === null ? {} : { details: { line } }) });

function table(file: string, text: string): { header: string[]; rows: string[][] } {
  const lines = text.split(/\r?\n/).filter((l) => l !== '');
  if (lines.length < 2) throw bad(file, null, 'no data rows');
  return { header: lines[0]!.split(','), rows: lines.slice(1).map((l) => l.split(',')) };
}

function column(file: string, header: string[], name: string): number {
  const i = header.indexOf(name);
  if (i < 0) throw bad(file, 1, `missing column "${name}"`);
  return i;
}

function number(file: string, line: number, name: string, text: string | undefined): number {
  const x = Number(text);
  if (text === undefined || text.trim() === '' || !Number.isFinite(x) || x < 0) throw bad(file, line, `${name}: "${text ?? ''}" is not a non-negative number`);
  return x;
}

const key = (month: number, day: number, hour: number) => `${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}T${String(hour).padStart(2, '0')}`;

/** readCityLearn dates the consecutive hourly rows from the first change of month (2021/22, not leap years). */
export function readCityLearn(file: string, text: string, pvKwp = 0): HourlySeries {
  const { header, rows } = table(file, text);
  const [mo, hr, load, solar] = ['month', 'hour', 'non_shiftable_load', 'solar_generation'].map((c) => column(file, header, c)) as [number, number, number, number];
  const months = rows.map((r, i) => number(file, i + 2, 'month', r[mo]));
  const first = months.findIndex((m, i) => i > 0 && m !== months[i - 1]);
  if (first < 0) throw bad(file, null, 'the rows never change month, so they cannot be dated');
  const t0 = Date.UTC(months[first]! >= 8 ? 2021 : 2022, months[first]! - 1, 1);
  const loadWh = new Map<string, number>();
  const pvWh = new Map<string, number>();
  rows.forEach((r, i) => {
    const t = new Date(t0 + (i - first) * 3_600_000);
    const line = i + 2;
    const hour = number(file, line, 'hour', r[hr]);
    if (months[i] !== t.getUTCMonth() + 1 || hour !== t.getUTCHours() + 1) throw bad(file, line, `expected month ${t.getUTCMonth() + 1} hour ${t.getUTCHours() + 1} for consecutive hours, found month ${months[i]} hour ${hour}`);
    const k = key(t.getUTCMonth() + 1, t.getUTCDate(), t.getUTCHours());
    loadWh.set(k, number(file, line, 'non_shiftable_load', r[load]) * 1000);
    pvWh.set(k, number(file, line, 'solar_generation', r[solar]) * pvKwp);
  });
  return { source: file, loadWh, pvWh, bridgedHours: 0 };
}

/** readOpsd takes hourly differences of the cumulative counters, keyed by local hour in `timeZone`. */
export function readOpsd(file: string, text: string, timeZone: string, household?: string): HourlySeries {
  const { header, rows } = table(file, text);
  const prefixes = header.filter((h) => h.endsWith('_grid_import')).map((h) => h.slice(0, -'_grid_import'.length));
  const prefix = household ?? (prefixes.length === 1 ? prefixes[0]! : undefined);
  if (prefix === undefined) throw bad(file, 1, `name the household: one of ${prefixes.join(', ') || '(no *_grid_import column)'}`, 'data.household');
  const ts = column(file, header, 'utc_timestamp');
  const counters = ['grid_import', 'grid_export', 'pv'].map((c) => header.indexOf(`${prefix}_${c}`));
  if (counters[0]! < 0) throw bad(file, 1, `missing column "${prefix}_grid_import"`, 'data.household');
  const times: number[] = [];
  rows.forEach((r, i) => {
    const t = Date.parse(r[ts] ?? '');
    if (!Number.isFinite(t)) throw bad(file, i + 2, `utc_timestamp: "${r[ts] ?? ''}" is not a time stamp`);
    if (i > 0 && t !== times[i - 1]! + 3_600_000) throw bad(file, i + 2, 'utc_timestamp: rows must be consecutive hours');
    times.push(t);
  });
  let bridged = 0;
  const hourly = counters.map((c) => {
    if (c < 0) return rows.map(() => 0 as number | null);
    const cum = rows.map((r, i) => (r[c] === undefined || r[c]!.trim() === '' ? null : number(file, i + 2, header[c]!, r[c])));
    const out: (number | null)[] = rows.map(() => null);
    let last = -1;
    cum.forEach((v, i) => {
      if (v === null) return;
      if (last >= 0) {
        const step = (v - cum[last]!) / (i - last);
        if (step < 0) throw bad(file, i + 2, `${header[c]}: the counter goes down (${cum[last]} then ${v})`);
        for (let j = last; j < i; j++) out[j] = step * 1000;
        bridged += i - last - 1;
      }
      last = i;
    });
    return out;
  });
  const fmt = new Intl.DateTimeFormat('en-CA', { timeZone, month: '2-digit', day: '2-digit', hour: '2-digit', hourCycle: 'h23' });
  const loadWh = new Map<string, number>();
  const pvWh = new Map<string, number>();
  times.forEach((t, i) => {
    const [imp, exp, pv] = hourly.map((h) => h[i] ?? null) as [number | null, number | null, number | null];
    if (imp === null || exp === null || pv === null) return;
    const p = Object.fromEntries(fmt.formatToParts(t).map((x) => [x.type, x.value]));
    const k = `${p.month}-${p.day}T${p.hour}`;
    if (loadWh.has(k)) return; // the repeated hour when clocks go back: the first one counts
    loadWh.set(k, Math.max(0, imp - exp + pv));
    pvWh.set(k, pv);
  });
  return { source: file, loadWh, pvWh, bridgedHours: bridged };
}

export function readSeries(spec: DataSpec, text: string, timeZone: string): HourlySeries {
  return spec.format === 'citylearn' ? readCityLearn(spec.file, text, spec.pvKwp) : readOpsd(spec.file, text, timeZone, spec.household);
}

/**
 * seriesWh gives the Wh of each interval from an hourly series: an hour's energy is split
 * evenly over its intervals with exact integer sums. `localHours[k]` is interval k's local
 * "MM-DDTHH" and `part[k]` its index within the hour. A date the file does not cover is an
 * error; the hour skipped when clocks go forward is absent from the simulated day anyway,
 * and a missing 29 February takes the 28th.
 */
export function seriesWh(series: HourlySeries, which: 'loadWh' | 'pvWh', localHours: readonly string[], part: readonly number[], parts: number): number[] {
  const map = series[which];
  return localHours.map((h, k) => {
    let wh = map.get(h) ?? (h.startsWith('02-29') ? map.get(`02-28${h.slice(5)}`) : undefined);
    if (wh === undefined) {
      const prev = `${h.slice(0, 6)}${String(Number(h.slice(6)) - 1).padStart(2, '0')}`;
      wh = map.get(prev);
      if (wh === undefined) throw bad(series.source, null, `no value for local ${h}:00 (the file covers ${map.size} hours)`);
    }
    const p = part[k]!;
    return Math.round((wh * (p + 1)) / parts) - Math.round((wh * p) / parts);
  });
}
