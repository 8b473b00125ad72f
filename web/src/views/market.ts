import { lineChart, stepChart } from '../../../src/charts/svg.ts';
import { api } from '../api.ts';
import { bindPeriod, community, esc, instants, kwh, localDate, localTime, period, periodForm, perKwh, table, tile, view } from '../ui.ts';

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

/** Market: prices and volumes over time, and the depth of one interval's book. */
export async function marketView(q: URLSearchParams): Promise<void> {
  const c = await community(true);
  const p = period(c, q, 3);
  const w = instants(p);
  const all = await api<Clearing[]>(`/v1/market/clearings?from=${w.from}&to=${w.to}`);
  const cl = all.filter((x) => { const d = localDate(x.interval, c.timeZone); return d >= p.from && d <= p.to; });
  // By default the latest interval in which members traded: a book with both sides.
  const interval = q.get('interval') ?? [...cl].reverse().find((x) => x.volumeWh > 0)?.interval ?? cl[cl.length - 1]?.interval ?? c.lastCleared;
  let depthHtml = '<p class="empty">No interval cleared yet.</p>';
  if (interval) {
    try {
      const d = await api<{ orders: number; supply: { cumulativeWh: number; limitMicroPerKwh: number }[]; demand: { cumulativeWh: number; limitMicroPerKwh: number }[] }>(`/v1/market/depth?interval=${encodeURIComponent(interval)}`);
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
      const k = cl.find((x) => x.interval === interval);
      depthHtml = `<p>${d.orders} orders${k ? `; cleared ${kwh(k.volumeWh)} kWh at ${perKwh(k.priceMicroPerKwh, c.currency)}` : ''}.</p>`
        + stepChart('chart-market-depth', [
          { name: 'supply (asks)', color: '#f39c12', points: points(d.supply) },
          { name: 'demand (bids)', color: '#2980b9', points: points(d.demand) },
        ], { x: 'kWh', y: `${c.currency}/kWh` });
    } catch (e) {
      depthHtml = `<p class="error">${esc((e as Error).message)}</p>`;
    }
  }
  const ends: [string, string] | undefined = cl.length ? [localTime(cl[0]!.interval, c.timeZone), localTime(cl[cl.length - 1]!.interval, c.timeZone)] : undefined;
  const traded = cl.reduce((a, x) => a + x.volumeWh, 0);
  view.innerHTML = `<h1>Market</h1>
  ${periodForm('market', p)}
  <div class="tiles">
    ${tile('Intervals cleared', String(cl.length), 'kpi-clearings')}
    ${tile('Traded', `${kwh(traded)} kWh`, 'kpi-traded')}
    ${tile('Average price', traded ? perKwh(Math.round(cl.reduce((a, x) => a + (x.priceMicroPerKwh ?? 0) * x.volumeWh, 0) / traded), c.currency) : '–', 'kpi-price')}
  </div>
  <section><h2>Clearing price (${esc(c.currency)}/kWh)</h2>
  ${cl.length ? lineChart('chart-market-price', [{ name: 'price', color: '#2c3e50', values: cl.map((x) => (x.priceMicroPerKwh === null ? null : x.priceMicroPerKwh / 1e6)) }], ends) : '<p class="empty">No clearing in this period.</p>'}</section>
  <section><h2>Volume traded per interval (kWh)</h2>
  ${cl.length ? lineChart('chart-market-volume', [{ name: 'volume', color: '#27ae60', values: cl.map((x) => x.volumeWh / 1000) }], ends) : ''}</section>
  <section><h2>Order book depth${interval ? ` at ${esc(localTime(interval, c.timeZone))}` : ''}</h2>
  <form id="depth-form"><label>Interval <select name="interval">${cl.slice(-96).reverse().map((x) => `<option value="${esc(x.interval)}"${x.interval === interval ? ' selected' : ''}>${esc(localTime(x.interval, c.timeZone))}</option>`).join('')}</select></label> <button>Show</button></form>
  ${depthHtml}</section>
  <section><h2>Latest clearings</h2>
  ${table(['interval', 'mechanism', 'orders', 'price', 'kWh', 'trades', 'entry'], cl.slice(-12).reverse().map((x) => [esc(localTime(x.interval, c.timeZone)), esc(`${x.mechanism} (${x.path})`), String(x.orders), esc(perKwh(x.priceMicroPerKwh, c.currency)), kwh(x.volumeWh), String(x.trades), String(x.entry)]), 'clearings')}</section>`;
  bindPeriod();
  const f = document.getElementById('depth-form') as HTMLFormElement;
  f.addEventListener('submit', (e) => {
    e.preventDefault();
    location.hash = `#/market?from=${p.from}&to=${p.to}&interval=${encodeURIComponent(String(new FormData(f).get('interval')))}`;
  });
}

