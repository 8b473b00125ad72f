import { METERS_TABLE } from '../../../src/metering/meter-register.ts';
import { planImport } from '../../../src/metering/import/plan.ts';
import { type DayReadings, importError, type LineError, StepSet } from '../../../src/metering/import/steps.ts';
import { READINGS_TABLE } from '../../../src/metering/readings.ts';
import { State } from '../../../src/state/tables.ts';
import { dayIntervals, type IntervalMinutes, localDay } from '../../../src/units/index.ts';
import { api, session } from '../api.ts';
import { batchRefusal, signAndSendBatch } from '../sign-batch.ts';
import { addDays, community, type Community, esc, kwh, localTime, table } from '../ui.ts';
import './operator.css';

/**
 * Meter files in the browser: the DSO's load-curve exports (generic CSV, the French DSO's
 * CSV, Green Button/ESPI XML) read in this page by the CLI's own importers
 * (src/metering/import/*.ts), with the CLI's errors per line, then planned against the
 * log's readings by the CLI's planImport (the meters and the recorded days of the file
 * come from GET /v1/meters and GET /v1/readings). Readings are the DSO's to sign
 * (meter.readings, role dso): the DSO signs every planned transaction at once, appended
 * all or none (sign-batch.ts); anyone else (the operator) gets the file checked against
 * the DSO-signed readings, line by line, and nothing is signed.
 */

type Format = 'enedis' | 'csv' | 'espi';

/** meterFilesSection: the section's HTML (a form and the place for its outcome); bindMeterFiles wires it. */
export function meterFilesSection(): string {
  const s = session();
  const signs = s?.roles.includes('dso') ?? false;
  return `<section id="meter-files" class="meter-files"><h2>Meter files</h2>
  <p class="sub">${signs
    ? 'Import a load-curve export: it is read in this page with the same importers and errors as <code>openlec meter import</code>, planned against the log, and the readings are signed with your key all at once (all or nothing).'
    : 'Check a load-curve export against the log: it is read in this page with the same importers and errors as <code>openlec meter import</code> and compared, line by line, with the readings the DSO signed. Readings are signed by the DSO only: nothing is signed here.'}</p>
  <form id="meter-file-form" class="action-grid">
    <label>File <input type="file" name="file" id="meter-file" required></label>
    <label>Format <select name="format" id="meter-format">
      <option value="enedis">French DSO CSV (load curve, average W)</option>
      <option value="csv">Generic CSV (meter, start, value)</option>
      <option value="espi">Green Button / ESPI XML</option></select></label>
    <label class="for-csv">Unit <select name="unit"><option>Wh</option><option>kWh</option></select></label>
    <label class="for-csv">Step (minutes) <input name="step" type="number" min="1" max="60" inputmode="numeric" placeholder="the interval"></label>
    <label class="for-espi">Metering point <input name="meter" autocomplete="off" spellcheck="false"></label>
    <label class="for-espi for-csv">Direction <select name="direction"><option>import</option><option>export</option></select></label>
    <button type="submit" id="meter-file-read">${signs ? 'Read and plan' : 'Read and check'}</button>
    <p class="action-status" id="meter-file-status" role="status"></p>
  </form>
  <div id="meter-file-result"></div></section>`;
}

/**
 * LineSteps is the importers' StepSet that also remembers the line each interval's first
 * step came from, so that a value that differs from the log is named by its line.
 */
class LineSteps extends StepSet {
  readonly lines = new Map<string, number>();

  override add(meter: string, direction: 'import' | 'export', startMs: number, minutes: number, numerator: number, line: number): void {
    super.add(meter, direction, startMs, minutes, numerator, line);
    const len = this.intervalMinutes * 60_000;
    const key = `${meter}\u001f${direction}\u001f${Math.floor(startMs / len) * len}`;
    if (!this.lines.has(key)) this.lines.set(key, line);
  }
}

/** readFile runs the CLI's importer of the format over the file's text. */
async function readFile(format: Format, name: string, text: string, c: Community, data: FormData): Promise<{ steps: LineSteps; days: DayReadings[] }> {
  const steps = new LineSteps(c.intervalMinutes as IntervalMinutes, format === 'enedis' ? 60 : 1000, name);
  const direction = String(data.get('direction') ?? 'import') as 'import' | 'export';
  if (format === 'enedis') {
    const { parseEnedis } = await import('../../../src/metering/import/enedis.ts');
    // Lines as node:readline gives them to the CLI: ended by \n, \r\n or a lone \r, no empty last line.
    const lines = text.split(/\r\n|\r|\n/);
    if (lines.at(-1) === '') lines.pop();
    await parseEnedis(lines, steps);
  } else if (format === 'espi') {
    const meter = String(data.get('meter') ?? '').trim();
    if (!meter) throw new Error('ESPI files carry no metering point id: give the metering point');
    const { parseEspi } = await import('../../../src/metering/import/espi.ts');
    parseEspi(text, steps, meter, direction);
  } else {
    const csv = await import('../../../src/metering/import/csv.ts');
    const step = Number(data.get('step') || c.intervalMinutes);
    await csv.parseCsv([new TextEncoder().encode(text)], steps, { ...csv.CSV_DEFAULTS, stepMinutes: step, unit: String(data.get('unit')) === 'kWh' ? 'kWh' : 'Wh', direction });
  }
  return { steps, days: steps.days(c.timeZone) };
}

/** logState: the meters and the readings of the file's days from the log, in a State the CLI's planImport reads. */
async function logState(days: readonly DayReadings[]): Promise<State> {
  const state = new State([METERS_TABLE, READINGS_TABLE]);
  for (const m of await api<Record<string, string | number>[]>('/v1/meters')) state.put('meters', m);
  const dates = days.map((d) => d.date).sort();
  const meters = [...new Set(days.map((d) => d.meter))].join(',');
  // The read model answers at most 93 days at a time.
  for (let from = dates[0]!; from <= dates.at(-1)!; from = addDays(from, 93)) {
    const to = addDays(from, 92) < dates.at(-1)! ? addDays(from, 92) : dates.at(-1)!;
    for (const r of await api<Record<string, unknown>[]>(`/v1/readings?from=${from}&to=${to}&meters=${encodeURIComponent(meters)}`)) state.put('readings', r as never);
  }
  return state;
}

const errorList = (errors: readonly LineError[]) => {
  const e = importError(errors);
  const sorted = (e.details.errors as LineError[]);
  return `<p class="error" id="meter-file-refused">${esc(e.message.split('\n')[0]!)}</p>
  <ol id="meter-file-errors" class="line-errors">${sorted.map((x) => `<li>${x.line === undefined ? esc(x.file) : `<strong>line ${x.line}</strong>`}: ${esc(x.message)}</li>`).join('')}</ol>
  ${errors.length > sorted.length ? `<p class="note">… and ${errors.length - sorted.length} more.</p>` : ''}`;
};

/** Totals of what a set of days brings: meters, days, intervals with a value and their energy. */
function totals(days: readonly { meter: string; direction: string; values: (number | null)[] }[]) {
  let intervals = 0;
  let wh = 0;
  for (const d of days) for (const v of d.values) if (v !== null) { intervals++; wh += v; }
  return { meters: new Set(days.map((d) => `${d.meter}/${d.direction}`)).size, days: days.length, intervals, wh };
}

/** plan: the DSO's import, planned as the CLI plans it, shown and signed all at once. */
function plan(state: State, days: DayReadings[], out: HTMLElement, status: HTMLElement): void {
  let p: ReturnType<typeof planImport>;
  try {
    p = planImport(state, days);
  } catch (e) {
    const problems = ((e as { details?: { problems?: string[] } }).details?.problems ?? [(e as Error).message]);
    out.innerHTML = `<p class="error" id="meter-file-refused">Nothing can be imported: the file disagrees with the log.</p><ol id="meter-file-errors" class="line-errors">${problems.map((x) => `<li>${esc(x)}</li>`).join('')}</ol>`;
    return;
  }
  const t = totals(p.txs.map((x) => x.body as { meter: string; direction: string; values: (number | null)[] }));
  const gaps = p.gaps.reduce((n, g) => n + g.intervals, 0);
  if (p.txs.length === 0) {
    out.innerHTML = `<p class="ok" id="meter-file-plan">Nothing new: all ${p.unchanged} day(s) of the file are recorded already.</p>`;
    return;
  }
  out.innerHTML = `<div class="tiles" id="meter-file-plan">
    <div class="tile"><div class="label">meters</div><div class="value" id="plan-meters">${t.meters}</div></div>
    <div class="tile"><div class="label">days</div><div class="value" id="plan-days">${t.days}</div></div>
    <div class="tile"><div class="label">intervals</div><div class="value" id="plan-intervals">${t.intervals}</div></div>
    <div class="tile"><div class="label">energy</div><div class="value" id="plan-kwh">${kwh(t.wh)} kWh</div></div></div>
  <p class="note">${p.txs.length} meter.readings transaction(s) to sign${p.unchanged ? `; ${p.unchanged} day(s) already recorded are left out` : ''}${gaps ? `; ${gaps} interval(s) stay without a value` : ''}.</p>
  ${table(['meter', 'direction', 'day', 'intervals', 'kWh'], p.txs.slice(0, 50).map((x) => {
    const b = x.body as { meter: string; direction: string; date: string; values: (number | null)[] };
    const one = totals([b]);
    return [esc(b.meter), b.direction, b.date, String(one.intervals), kwh(one.wh)];
  }), 'meter-file-days')}
  <p><button type="button" id="meter-file-sign">Sign and append ${p.txs.length} transaction(s)</button></p>`;
  out.querySelector<HTMLButtonElement>('#meter-file-sign')!.addEventListener('click', () => {
    status.className = 'action-status';
    status.textContent = '';
    signAndSendBatch({ txs: p.txs.map((x) => ({ type: x.type, body: x.body })), summary: `Record the readings of ${t.meters} meter(s) over ${t.days} day(s): ${t.intervals} intervals, ${kwh(t.wh)} kWh.` })
      .then((r) => {
        status.className = 'action-status ok';
        status.textContent = `Appended ${r.entries.length} transaction(s) to the log as entries ${r.entries[0]} to ${r.entries.at(-1)}.`;
        out.querySelector('#meter-file-sign')?.remove();
      })
      .catch((e: unknown) => {
        const text = batchRefusal(e);
        if (text === undefined) return;
        status.className = 'action-status error';
        status.textContent = text;
      });
  });
}

/** check: the operator's comparison of the file with the DSO-signed readings, per line; nothing is signed. */
function check(state: State, c: Community, steps: LineSteps, days: DayReadings[], out: HTMLElement): void {
  const rows: string[][] = [];
  let same = 0;
  let fresh = 0;
  let differ = 0;
  const unknown = new Set<string>();
  for (const d of days) {
    if (!state.get('meters', `${d.meter}\u001f${d.direction}`)) {
      unknown.add(`${d.meter} (${d.direction})`);
      continue;
    }
    const old = state.get<{ values: (number | null)[]; entry: number }>('readings', `${d.meter}\u001f${d.direction}\u001f${d.date}`);
    const starts = dayIntervals(localDay(d.date, c.timeZone), c.intervalMinutes as IntervalMinutes);
    d.values.forEach((v, k) => {
      if (v === null) return;
      const r = old?.values[k] ?? null;
      if (r === null) fresh++;
      else if (r === v) same++;
      else {
        differ++;
        const line = steps.lines.get(`${d.meter}\u001f${d.direction}\u001f${starts[k]}`);
        rows.push([line === undefined ? '–' : String(line), esc(d.meter), d.direction, esc(localTime(new Date(starts[k]!).toISOString(), c.timeZone)), String(v), String(r), String(old!.entry)]);
      }
    });
  }
  rows.sort((a, b) => Number(a[0]) - Number(b[0]));
  out.innerHTML = `<p class="${differ || unknown.size ? 'error' : 'ok'}" id="meter-file-check">${differ
    ? `${differ} interval value(s) of the file differ from the readings the DSO signed`
    : 'Every value of the file that the log holds is the same as the DSO-signed reading'}; ${same} the same, ${fresh} not in the log yet${unknown.size ? `; unknown meters: ${esc([...unknown].join(', '))}` : ''}.</p>
  ${rows.length ? table(['line', 'meter', 'direction', 'interval', 'file Wh', 'log Wh', 'log entry'], rows.slice(0, 200), 'meter-file-diffs') : ''}
  <p class="note">Nothing was signed: readings are signed by the DSO only (meter.readings, role dso).</p>`;
}

/** bindMeterFiles wires the section's form once it is in the page. */
export function bindMeterFiles(): void {
  const form = document.querySelector<HTMLFormElement>('#meter-file-form');
  if (!form) return;
  const out = document.getElementById('meter-file-result')!;
  const status = document.getElementById('meter-file-status')!;
  const format = form.querySelector<HTMLSelectElement>('#meter-format')!;
  const showOptions = () => {
    for (const el of form.querySelectorAll<HTMLElement>('.for-csv, .for-espi')) el.hidden = !el.classList.contains(`for-${format.value}`);
  };
  format.addEventListener('change', showOptions);
  showOptions();
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    status.className = 'action-status';
    status.textContent = 'Reading…';
    out.innerHTML = '';
    void (async () => {
      try {
        const data = new FormData(form);
        const file = data.get('file') as File | null;
        if (!file || file.size === 0) throw new Error('choose a non-empty file');
        const c = await community();
        const { steps, days } = await readFile(format.value as Format, file.name, await file.text(), c, data);
        if (steps.errors.length > 0) {
          status.textContent = '';
          out.innerHTML = errorList(steps.errors);
          return;
        }
        const state = await logState(days);
        status.textContent = '';
        if (session()?.roles.includes('dso')) plan(state, days, out, status);
        else check(state, c, steps, days, out);
        form.dispatchEvent(new CustomEvent('meter-file-read', { bubbles: true }));
      } catch (err) {
        status.className = 'action-status error';
        status.textContent = (err as Error).message;
      }
    })();
  });
}
