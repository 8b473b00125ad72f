import { mountCharts, timeChart, xyChart } from '../plot.ts';
import { api } from '../api.ts';
import { bindPeriod, community, esc, instants, localDate, localTime, period, periodForm, table, tile, view } from '../ui.ts';
import { clock, energy, price } from './community.ts';
import './views.css';

interface Clearing {
  interval: string;
  mechanism: string;
  path: string;
  orders: number;
  priceMicroPerKwh: number | null;
  volumeWh: number;
  feesMicro: number;
  trades: number;
  entry: number;
}

interface Rules {
  currency: string;
  configs: { from: string; mode: string; mechanism: string; kPpm: number; gateClosureMinutes: number; feedInMicroPerKwh: number; retailMicroPerKwh: number }[];
  tariffs: { from: string; feesMicroPerKwh: Record<string, number> }[];
  mechanisms: string[];
}

/** The clearing mechanisms of src/market/mechanisms.ts in plain words, one sentence each. */
const EXPLAINED: Record<string, string> = {
  uniform: 'Uniform price: the offers to sell are lined up from the cheapest and the bids to buy from the highest; as much energy trades as the two lines allow, and every matched buyer pays and every seller receives the same price, the one where supply meets demand.',
  midpoint: 'Paired midpoint: the highest bid is matched with the cheapest offer, then the next two, and so on; each pair trades at the price halfway between its own bid and offer.',
  mcafee: 'Trade reduction (McAfee): like the uniform price, but when that price would reward bidding untruthfully the last unit is left out, buyers pay the last matched bid and sellers receive the last matched offer, and the small difference stays with the community.',
  continuous: 'Continuous book: orders trade as they arrive against the best waiting order on the other side, at the waiting order\'s price, as long as the prices cross; what is left waits in the book.',
};

/** inForce: the market rules that apply at an interval (the latest configure from before it). */
const inForce = (r: Rules, interval: string) => r.configs.filter((c) => c.from <= interval).pop();

type Row = { kind: 'interval'; x: Clearing } | { kind: 'fold'; from: Clearing; to: Clearing; n: number };

/** foldQuiet: runs of two or more intervals without a trade become one row, so the night does not fill the table. */
export function foldQuiet(cl: readonly Clearing[]): Row[] {
  const out: Row[] = [];
  let run: Clearing[] = [];
  const flush = () => {
    if (run.length >= 2) out.push({ kind: 'fold', from: run[0]!, to: run[run.length - 1]!, n: run.length });
    else for (const x of run) out.push({ kind: 'interval', x });
    run = [];
  };
  for (const x of cl) {
    if (x.volumeWh === 0) run.push(x);
    else { flush(); out.push({ kind: 'interval', x }); }
  }
  flush();
  return out;
}

/** Market: clearing prices against the supplier's, volumes, the book's depth with its clearing point, the mechanism in words. */
export async function marketView(q: URLSearchParams): Promise<void> {
  const c = await community(true);
  const p = period(c, q, 3);
  const w = instants(p);
  const [all, rules] = await Promise.all([api<Clearing[]>(`/v1/market/clearings?from=${w.from}&to=${w.to}`), api<Rules>('/v1/market/config')]);
  const cl = all.filter((x) => { const d = localDate(x.interval, c.timeZone); return d >= p.from && d <= p.to; });
  // By default the latest interval in which members traded: a book with both sides.
  const interval = q.get('interval') ?? [...cl].reverse().find((x) => x.volumeWh > 0)?.interval ?? cl[cl.length - 1]?.interval ?? c.lastCleared;
  const current = interval ? inForce(rules, interval) : rules.configs[rules.configs.length - 1];
  let depthHtml = '<p class="empty">No interval cleared yet.</p>';
  if (interval) {
    try {
      const d = await api<{ orders: number; mechanism: string; supply: { cumulativeWh: number; limitMicroPerKwh: number }[]; demand: { cumulativeWh: number; limitMicroPerKwh: number }[] }>(`/v1/market/depth?interval=${encodeURIComponent(interval)}`);
      const points = (xs: { cumulativeWh: number; limitMicroPerKwh: number }[]): [number, number][] => {
        const out: [number, number][] = [];
        let prev = 0;
        for (const x of xs) {
          out.push([prev / 1000, x.limitMicroPerKwh / 1e6]);
          prev = x.cumulativeWh;
        }
        if (xs.length) out.push([prev / 1000, xs[xs.length - 1]!.limitMicroPerKwh / 1e6]);
        return out;
      };
      const k = cl.find((x) => x.interval === interval) ?? all.find((x) => x.interval === interval);
      const marks = k && k.priceMicroPerKwh !== null && k.volumeWh > 0
        ? [{ x: k.volumeWh / 1000, y: k.priceMicroPerKwh / 1e6, label: `cleared: ${energy(k.volumeWh)} at ${price(k.priceMicroPerKwh, c.currency)}` }] : [];
      depthHtml = `<p id="clearing-point" data-wh="${k?.volumeWh ?? ''}" data-price="${k?.priceMicroPerKwh ?? ''}">${d.orders} orders${k ? (k.volumeWh ? `; ${energy(k.volumeWh)} traded${k.priceMicroPerKwh !== null ? ` at ${price(k.priceMicroPerKwh, c.currency)}, where the offers to sell meet the bids to buy` : ' (each pair at its own price)'}` : '; nothing traded: no bid reached an offer') : ''}.</p>`
        + xyChart({ id: 'chart-market-depth', title: 'Order book: offers to sell and bids to buy', series: [
          { label: 'offers to sell (cumulative)', color: '#f39c12', points: points(d.supply) },
          { label: 'bids to buy (cumulative)', color: '#2980b9', points: points(d.demand) },
        ], x: { unit: 'kWh', decimals: 2 }, y: { unit: `${c.currency}/kWh`, decimals: 3 }, marks });
    } catch (e) {
      depthHtml = `<p class="error">${esc((e as Error).message)}</p>`;
    }
  }
  const traded = cl.reduce((a, x) => a + x.volumeWh, 0);
  const pricedWh = cl.reduce((a, x) => a + (x.priceMicroPerKwh === null ? 0 : x.volumeWh), 0);
  const times = cl.map((x) => Date.parse(x.interval));
  const ref = cl.map((x) => inForce(rules, x.interval));
  const rows = foldQuiet([...cl]).reverse();
  const dayOf = (x: Clearing) => localDate(x.interval, c.timeZone);
  const span = (a: Clearing, b: Clearing) => (dayOf(a) === dayOf(b) ? `${localTime(a.interval, c.timeZone).replace(/, ?\d\d:\d\d$/, '')}, ${clock(a.interval, c.timeZone)}–${clock(b.interval, c.timeZone)}` : `${localTime(a.interval, c.timeZone)} – ${localTime(b.interval, c.timeZone)}`);
  view.innerHTML = `<h1>Market</h1>
  ${periodForm('market', p)}
  <div class="tiles">
    ${tile('Intervals cleared', cl.length.toLocaleString('en'), 'kpi-clearings')}
    ${tile('Traded between members', energy(traded), 'kpi-traded')}
    ${tile('Average price', pricedWh ? price(Math.round(cl.reduce((a, x) => a + (x.priceMicroPerKwh ?? 0) * x.volumeWh, 0) / pricedWh), c.currency) : '–', 'kpi-price')}
    ${current ? tile('Supplier’s retail price', price(current.retailMicroPerKwh, c.currency), 'kpi-retail') : ''}
    ${current ? tile('Grid’s feed-in price', price(current.feedInMicroPerKwh, c.currency), 'kpi-feedin') : ''}
  </div>
  <section><h2>How the market clears</h2>
  <p>Every ${c.intervalMinutes} minutes members’ offers to sell and bids to buy are matched ${current?.mode === 'ex-post' ? 'after the fact, on what the meters measured' : `before the interval, until ${current?.gateClosureMinutes ?? 0} minutes ahead (gate closure)`}. Prices stay between what the grid pays for a surplus (feed-in) and what the supplier charges (retail), so trading between members never costs more than the supplier.</p>
  <ul class="mechanisms" id="mechanisms">${rules.mechanisms.map((m) => `<li data-mechanism="${esc(m)}"${m === current?.mechanism ? ' class="current"' : ''}>${esc(EXPLAINED[m] ?? m)}</li>`).join('')}</ul></section>
  <section><h2>Prices</h2>
  ${cl.length ? timeChart({ id: 'chart-market-price', title: `Clearing price against the supplier’s (${c.currency}/kWh)`, unit: `${c.currency}/kWh`, decimals: 3, timeZone: c.timeZone, times, series: [
    { label: 'clearing price', color: '#2c3e50', kind: 'step', values: cl.map((x) => (x.priceMicroPerKwh === null || x.volumeWh === 0 ? null : x.priceMicroPerKwh / 1e6)) },
    { label: 'retail (supplier)', color: '#c0392b', dash: true, kind: 'step', values: ref.map((r) => (r ? r.retailMicroPerKwh / 1e6 : null)) },
    { label: 'feed-in (grid)', color: '#f39c12', dash: true, kind: 'step', values: ref.map((r) => (r ? r.feedInMicroPerKwh / 1e6 : null)) },
  ] }) : '<p class="empty">No clearing in this period.</p>'}</section>
  <section><h2>Energy traded</h2>
  ${cl.length ? timeChart({ id: 'chart-market-volume', title: 'Energy traded per interval', unit: 'kWh', timeZone: c.timeZone, times, series: [{ label: 'traded', color: '#27ae60', kind: 'bars', values: cl.map((x) => (x.volumeWh ? x.volumeWh / 1000 : null)) }] }) : ''}</section>
  <section><h2>Order book${interval ? ` at ${esc(localTime(interval, c.timeZone))}` : ''}</h2>
  <form id="depth-form"><label>Interval <select name="interval">${cl.slice(-96).reverse().map((x) => `<option value="${esc(x.interval)}"${x.interval === interval ? ' selected' : ''}>${esc(localTime(x.interval, c.timeZone))}${x.volumeWh ? ` · ${esc(energy(x.volumeWh))}` : ' · no trade'}</option>`).join('')}</select></label> <button>Show</button></form>
  ${depthHtml}</section>
  <section><h2>Clearings</h2>
  ${table(['interval', 'mechanism', 'orders', 'price', 'traded', 'trades', 'entry'], rows.map((r) => (r.kind === 'fold'
    ? [`<span data-fold="${r.n}">${esc(span(r.from, r.to))}</span>`, `no trade (${r.n} intervals)`, '', '', '', '', '']
    : [esc(localTime(r.x.interval, c.timeZone)), esc(`${r.x.mechanism} (${r.x.path})`), String(r.x.orders), esc(price(r.x.volumeWh ? r.x.priceMicroPerKwh : null, c.currency)), esc(r.x.volumeWh ? energy(r.x.volumeWh) : '–'), String(r.x.trades), String(r.x.entry)])), 'clearings')}</section>`;
  for (const tr of view.querySelectorAll('#clearings span[data-fold]')) tr.closest('tr')!.classList.add('folded');
  mountCharts();
  bindPeriod();
  const f = document.getElementById('depth-form') as HTMLFormElement;
  f.addEventListener('submit', (e) => {
    e.preventDefault();
    location.hash = `#/market?from=${p.from}&to=${p.to}&interval=${encodeURIComponent(String(new FormData(f).get('interval')))}`;
  });
}
