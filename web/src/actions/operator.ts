import { MECHANISMS } from '../../../src/market/clear-book.ts';
import { MODES } from '../../../src/market/tables.ts';
import { api, download, session } from '../api.ts';
import { actionForm, type Action } from '../sign.ts';
import { community, communityCached, type Community, esc, kwh, localDate, localTime, loginPrompt, table, tile, view } from '../ui.ts';
import { bindMeterFiles, meterFilesSection } from './meter-files.ts';
import './operator.css';

/**
 * Actions: the operator's month, signed in the browser (web/src/sign.ts): run the month's
 * allocation (the body is planned by the server from the log, GET
 * /v1/allocations/:month/plan, and allocation.run's apply recomputes it and refuses any
 * difference), download its files, configure the market (market.configure), and check a
 * DSO meter file against the log (meter-files.ts; the DSO signs readings, in its view).
 */

interface PlanBody {
  month: string;
  key: { kind: string };
  intervals: number;
  productionWh: number;
  allocatedWh: number;
  surplusWh: number;
  missingProductionIntervals: number;
  members: { meter: string; consumedWh: number; allocatedWh: number; supplierWh: number; missingIntervals: number }[];
}
interface Plan {
  body: PlanBody;
  recorded: { entry: number; runs: number; key: { kind: string } } | null;
}
interface AllocationRow { month: string; key: { kind: string }; productionWh: number; allocatedWh: number; surplusWh: number; runs: number; entry: number }
interface ConfigRow { from: string; mode: string; mechanism: string; kPpm: number; gateClosureMinutes: number; feedInMicroPerKwh: number; retailMicroPerKwh: number; entry: number }
interface MarketConfig { configs: ConfigRow[]; tariffs: { from: string; feesMicroPerKwh: Record<string, number>; entry: number }[]; lastCleared: string | null }

/** Keys the plan form offers: those without parameters (the others need shares per meter, from the CLI). */
const KEYS = ['prorata', 'full-dynamic'] as const;

/** micro reads a price typed in currency units per kWh ("0.085") as integer micro-units, exactly; throws naming the field. */
export function micro(text: string, field: string): number {
  const m = /^\s*(\d{1,4})(?:[.,](\d{1,6}))?\s*$/.exec(text);
  if (!m) throw new Error(`${field}: "${text}" is not a price (e.g. 0.085)`);
  return Number(m[1]) * 1_000_000 + Number((m[2] ?? '').padEnd(6, '0'));
}
const units = (microValue: number) => (microValue / 1e6).toFixed(microValue % 10_000 === 0 ? 2 : 6).replace(/(\.\d\d\d*?)0+$/, '$1');

/** nextRuleStart: the first interval a rule may start at, after the last cleared one and the server's time. */
function nextRuleStart(c: Community, serverTime: string, lastCleared: string | null): string {
  const len = c.intervalMinutes * 60_000;
  const t = Math.max(Date.parse(serverTime), lastCleared ? Date.parse(lastCleared) : 0);
  return new Date((Math.floor(t / len) + 2) * len).toISOString().replace('.000Z', 'Z');
}

function allocationSection(c: Community, month: string, plan: Plan, rows: AllocationRow[]): string {
  const b = plan.body;
  return `<section id="operate-allocation"><h2>The month's allocation</h2>
  <p class="sub">The production of ${esc(month)} shared among the members by the key, computed by the server from the readings in the log. You sign exactly this; the log recomputes it when it appends it and refuses any difference.</p>
  <form id="allocation-form" class="action-grid">
    <label>Month <input type="month" name="month" value="${esc(month)}" required></label>
    <label>Key <select name="key">${KEYS.map((k) => `<option${k === b.key.kind ? ' selected' : ''}>${k}</option>`).join('')}</select></label>
    <button type="button" id="allocation-plan" class="secondary">Show the plan</button>
    <button type="submit" id="allocation-run">Run the allocation</button>
    <p class="action-status" role="status"></p>
  </form>
  <div class="tiles" id="allocation-summary">
    ${tile('production', `${kwh(b.productionWh)} kWh`, 'plan-production')}
    ${tile('allocated to members', `${kwh(b.allocatedWh)} kWh`, 'plan-allocated')}
    ${tile('surplus (to the grid)', `${kwh(b.surplusWh)} kWh`, 'plan-surplus')}
    ${tile('members', String(b.members.length), 'plan-members')}
    ${tile('intervals with production data', `${b.intervals - b.missingProductionIntervals} of ${b.intervals}`, 'plan-intervals')}
    ${tile('recorded', plan.recorded ? `entry ${plan.recorded.entry}, run ${plan.recorded.runs}` : 'not yet', 'plan-recorded')}
  </div>
  <details><summary>Each member's share (${b.members.length} meters)</summary>
  ${table(['meter', 'consumed kWh', 'allocated kWh', 'from supplier kWh', 'missing intervals'], b.members.map((m) => [esc(m.meter), kwh(m.consumedWh), kwh(m.allocatedWh), kwh(m.supplierWh), String(m.missingIntervals)]), 'plan-table')}</details>
  <h3>Recorded allocations</h3>
  ${rows.length ? table(['month', 'key', 'production kWh', 'allocated kWh', 'runs', 'entry', 'files'], rows.map((r) => [r.month, esc(r.key.kind), kwh(r.productionWh), kwh(r.allocatedWh), String(r.runs), String(r.entry),
    `<button class="link" data-file="coefficients-fr.csv" data-month="${r.month}">DSO coefficients</button> <button class="link" data-file="statements.csv" data-month="${r.month}">statements</button>`]), 'operate-allocations') : '<p class="empty">No allocation recorded yet.</p>'}
  <p id="download-status" role="status"></p></section>`;
}

function marketSection(c: Community, cfg: MarketConfig, serverTime: string): string {
  const now = [...cfg.configs].reverse().find((r) => r.from <= serverTime) ?? cfg.configs.at(-1);
  const fees = [...cfg.tariffs].reverse().find((r) => r.from <= serverTime) ?? cfg.tariffs.at(-1);
  const from = nextRuleStart(c, serverTime, cfg.lastCleared);
  const d = now ?? { mode: 'ex-post', mechanism: 'uniform', kPpm: 500_000, gateClosureMinutes: 0, feedInMicroPerKwh: 0, retailMicroPerKwh: 0 };
  return `<section id="operate-market"><h2>The market</h2>
  <p class="sub">${now ? `In force since ${esc(localTime(now.from, c.timeZone))} (entry ${now.entry}): ${esc(now.mode)} orders, ${esc(now.mechanism)} clearing, gate closure ${now.gateClosureMinutes} min before the interval, prices between the feed-in ${esc(units(now.feedInMicroPerKwh))} and the retail ${esc(units(now.retailMicroPerKwh))} ${esc(c.currency)}/kWh.` : 'The market is not configured yet.'}
  ${fees ? ` Network fees (the DSO's tariff): ${Object.entries(fees.feesMicroPerKwh).map(([k, v]) => `${esc(k)} ${esc(units(v))}`).join(', ')} ${esc(c.currency)}/kWh.` : ''}</p>
  ${cfg.configs.length ? table(['from', 'mode', 'mechanism', 'k', 'gate closure', `feed-in ${c.currency}/kWh`, `retail ${c.currency}/kWh`, 'entry'], [...cfg.configs].reverse().map((r) => [
    esc(localTime(r.from, c.timeZone)), esc(r.mode), esc(r.mechanism), `${r.kPpm / 10_000} %`, `${r.gateClosureMinutes} min`, esc(units(r.feedInMicroPerKwh)), esc(units(r.retailMicroPerKwh)), String(r.entry)]), 'market-configs') : ''}
  <h3>Change the rules</h3>
  <p class="note">A change applies from an interval still open (after ${cfg.lastCleared ? esc(localTime(cfg.lastCleared, c.timeZone)) : 'none'}, the last cleared); the log keeps every earlier rule.</p>
  <form id="market-form" class="action-grid">
    <label>From (interval start) <input name="from" value="${esc(from)}" required spellcheck="false" aria-describedby="market-from-local"></label>
    <span class="note" id="market-from-local">${esc(localTime(from, c.timeZone))} ${esc(c.timeZone)}</span>
    <label>Mode <select name="mode">${MODES.map((m) => `<option${m === d.mode ? ' selected' : ''}>${m}</option>`).join('')}</select></label>
    <label>Mechanism <select name="mechanism">${MECHANISMS.map((m) => `<option${m === d.mechanism ? ' selected' : ''}>${m}</option>`).join('')}</select></label>
    <label>k (% of the spread to buyers) <input name="k" type="number" min="0" max="100" step="0.0001" value="${d.kPpm / 10_000}"></label>
    <label>Gate closure (minutes) <input name="gate" type="number" min="0" max="10080" value="${d.gateClosureMinutes}"></label>
    <label>Feed-in price (${esc(c.currency)}/kWh) <input name="feedIn" inputmode="decimal" value="${esc(units(d.feedInMicroPerKwh))}"></label>
    <label>Retail price (${esc(c.currency)}/kWh) <input name="retail" inputmode="decimal" value="${esc(units(d.retailMicroPerKwh))}"></label>
    <button type="submit" id="market-configure">Configure the market</button>
    <p class="action-status" role="status"></p>
  </form></section>`;
}

/** operateView: the operator's page (the DSO sees the meter files only: the allocation and the market are the operator's). */
export async function operateView(q: URLSearchParams): Promise<void> {
  const s = session();
  if (!s) return loginPrompt('The operator runs the allocation and configures the market: log in with the operator\'s key.');
  const c = await community(true);
  const operator = s.roles.includes('operator');
  if (!operator) {
    view.innerHTML = `<h1>Operate</h1><p class="sub">Running the allocation and configuring the market are the operator's; as ${esc(s.roles.join(', '))} you can import meter files here.</p>${meterFilesSection()}`;
    bindMeterFiles();
    return;
  }
  // By default the month running at the server's time (the demo's clock), in the community's zone.
  const asked = q.get('month') ?? '';
  const m = /^\d{4}-(0[1-9]|1[0-2])$/.test(asked) ? asked : localDate(await serverTime(), c.timeZone).slice(0, 7);
  const key = q.get('key') ?? undefined;
  const [plan, rows, cfg, st] = await Promise.all([
    api<Plan>(`/v1/allocations/${m}/plan${key ? `?key=${encodeURIComponent(key)}` : ''}`),
    api<AllocationRow[]>('/v1/allocations'),
    api<MarketConfig>('/v1/market/config'),
    serverTime(),
  ]);
  rows.sort((a, b) => b.month.localeCompare(a.month));
  view.innerHTML = `<h1>Operate</h1><p class="sub">The operator's month: the allocation and its files, the market's rules, the DSO's meter files. Every action is signed here with your key, after you have seen exactly what is signed.</p>
  ${allocationSection(c, m, plan, rows)}
  ${marketSection(c, cfg, st)}
  ${meterFilesSection()}`;
  bindAllocation(m);
  bindMarket();
  bindMeterFiles();
}

/** redraw draws the view again after an append (data-ready is set again once it is drawn). */
function redraw(query: string): void {
  delete document.body.dataset.ready;
  void operateView(new URLSearchParams(query)).then(() => { document.body.dataset.ready = 'operate'; });
}

const serverTime = async () => (await api<{ serverTime: string }>('/v1/community')).serverTime;

function bindAllocation(month: string): void {
  const form = view.querySelector<HTMLFormElement>('#allocation-form')!;
  const target = () => {
    const d = new FormData(form);
    return { month: String(d.get('month')), key: String(d.get('key')) };
  };
  view.querySelector('#allocation-plan')!.addEventListener('click', () => {
    const t = target();
    location.hash = `#/operate?month=${t.month}&key=${t.key}`;
  });
  // The body is planned afresh when the user signs: the readings may have grown since the page was drawn.
  actionForm(form, async (): Promise<Action<PlanBody>> => {
    const t = target();
    if (!/^\d{4}-\d{2}$/.test(t.month)) throw new Error('month: choose a month');
    const plan = await api<Plan>(`/v1/allocations/${t.month}/plan?key=${encodeURIComponent(t.key)}`);
    const b = plan.body;
    return {
      type: 'allocation.run', body: b,
      summary: `Record the ${t.key} allocation of ${t.month}: ${kwh(b.allocatedWh)} of ${kwh(b.productionWh)} kWh produced go to ${b.members.length} members, ${kwh(b.surplusWh)} kWh to the grid${plan.recorded ? ` (run ${plan.recorded.runs + 1}; it supersedes entry ${plan.recorded.entry})` : ''}.`,
    };
  }, () => redraw(`month=${month}`));
  for (const b of view.querySelectorAll<HTMLButtonElement>('button[data-file]')) {
    b.addEventListener('click', () => {
      const name = `${b.dataset.file!.replace('.csv', '')}-${b.dataset.month}.csv`;
      const out = document.getElementById('download-status')!;
      download(`/v1/allocations/${b.dataset.month}/files/${b.dataset.file}`, name)
        .then(() => { out.textContent = `Downloaded ${name}.`; })
        .catch((e: Error) => { out.textContent = e.message; });
    });
  }
}

function bindMarket(): void {
  const form = view.querySelector<HTMLFormElement>('#market-form')!;
  actionForm(form, (d) => {
    const k = Number(d.get('k'));
    const gate = Number(d.get('gate'));
    if (!Number.isFinite(k) || k < 0 || k > 100) throw new Error('k: a percentage from 0 to 100');
    if (!Number.isInteger(gate) || gate < 0) throw new Error('gate closure: whole minutes, 0 or more');
    if (Number.isNaN(Date.parse(String(d.get('from'))))) throw new Error('from: an interval start such as 2026-12-01T22:00:00Z');
    const body = {
      from: String(d.get('from')).trim(), mode: String(d.get('mode')), mechanism: String(d.get('mechanism')), kPpm: Math.round(k * 10_000), gateClosureMinutes: gate,
      feedInMicroPerKwh: micro(String(d.get('feedIn')), 'feed-in price'), retailMicroPerKwh: micro(String(d.get('retail')), 'retail price'),
    };
    const c = communityCached();
    return { type: 'market.configure', body, summary: `From ${c ? `${localTime(body.from, c.timeZone)} ${c.timeZone}` : body.from}: ${body.mode} orders cleared by ${body.mechanism}, gate closure ${gate} min, prices between ${d.get('feedIn')} and ${d.get('retail')} per kWh.` };
  }, () => redraw(location.hash.split('?')[1] ?? ''));
}
