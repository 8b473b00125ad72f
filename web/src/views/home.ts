import { lineChart } from '../../../src/charts/svg.ts';
import { type ApiError, session } from '../api.ts';
import { type Check, type CurveDay, pinnedKey, type Trade, verifyRecords } from '../verify.ts';
import { api } from '../api.ts';
import { bindPeriod, community, esc, instants, kwh, localTime, loginPrompt, money, period, periodForm, perKwh, table, tile, view } from '../ui.ts';

interface Invoice {
  month: string;
  lines: { kind: string; wh: number; amountMicro: number; credit: boolean }[];
  totalMicro: number;
  withoutCommunityMicro: number;
  savingsMicro: number;
  missingIntervals: number;
}

/** My energy: the member's load curve, trades, invoice, and the in-browser check of their records. */
export async function meView(q: URLSearchParams): Promise<void> {
  const s = session();
  if (!s) return loginPrompt('Log in with your key to see your own energy, trades and invoices.');
  const c = await community(true);
  const pin = pinnedKey(c.origin, c.verifierKey);
  const p = period(c, q, 3);
  const key = q.get('key') ?? s.key;
  const me = await api<{ key: string; roles: string[]; meters: { meter: string; direction: string; feeder: string }[] }>('/v1/me');
  const [curves, trades] = await Promise.all([
    api<CurveDay[]>(`/v1/members/${key}/curves?from=${p.from}&to=${p.to}`),
    api<Trade[]>(`/v1/members/${key}/trades?from=${instants(p).from}&to=${instants(p).to}`),
  ]);
  const month = p.to.slice(0, 7);
  const invoice = await api<Invoice | null>(`/v1/members/${key}/invoices/${month}`).catch((e: ApiError) => (e.code === 'E_NO_MARKET' ? null : Promise.reject(e)));
  const series = (direction: string) => curves.filter((x) => x.direction === direction).sort((a, b) => a.date.localeCompare(b.date)).flatMap((x) => x.values.map((v) => (v === null ? null : v / 1000)));
  const meters = [...new Set(curves.map((x) => x.meter))];
  view.innerHTML = `<h1>My energy</h1>
  <p class="sub">Key <code id="my-key">${esc(key)}</code>${key === s.key ? '' : ' (viewed by staff)'}; meters <span id="my-meters">${esc(meters.join(', ') || me.meters.map((m) => m.meter).join(', '))}</span>.</p>
  ${periodForm('me', p)}
  <section><h2>My load curve (kWh per interval)</h2>
  ${curves.length ? lineChart('chart-my-load', [
    { name: 'drawn', color: '#c0392b', values: series('import') },
    ...(curves.some((x) => x.direction === 'export') ? [{ name: 'fed in', color: '#f39c12', values: series('export') }] : []),
  ], [p.from, p.to]) : '<p class="empty">No readings in this period.</p>'}</section>
  <section><h2>Verify my records</h2>
  <p>Your browser fetches each record shown here with its inclusion proof and checks it against the operator's signed checkpoint, using key <code>${esc(pin.key)}</code> pinned on first use.${pin.changed ? ' <strong class="error">The server now announces a different checkpoint key than the one pinned in this browser.</strong>' : ''}</p>
  <button id="verify">Verify my records</button>
  <p id="verify-result" role="status"></p><div id="verify-details"></div></section>
  <section><h2>My trades</h2>
  ${table(['interval', 'side', 'kWh', 'price', 'amount', 'entry'], trades.slice(-20).reverse().map((t) => [esc(localTime(t.interval, c.timeZone)), t.side, kwh(t.wh), esc(perKwh(t.priceMicroPerKwh, c.currency)), esc(money((t as Trade & { amountMicro: number }).amountMicro, c.currency)), String(t.entry)]), 'my-trades')}
  <p class="sub">${trades.length} trades in the period.</p></section>
  <section><h2>My invoice for ${month}</h2>${invoice ? `
  ${table(['line', 'kWh', 'amount'], invoice.lines.map((l) => [esc(l.kind), kwh(l.wh), `${l.credit ? '−' : ''}${esc(money(l.amountMicro, c.currency))}`]), 'my-invoice')}
  <div class="tiles">${tile('Total', money(invoice.totalMicro, c.currency), 'invoice-total')}${tile('With the supplier alone', money(invoice.withoutCommunityMicro, c.currency), 'invoice-without')}${tile('Saved', money(invoice.savingsMicro, c.currency), 'invoice-savings')}</div>` : '<p class="empty">No invoice: no market rules for this month.</p>'}</section>`;
  bindPeriod();
  document.getElementById('verify')!.addEventListener('click', () => {
    const result = document.getElementById('verify-result')!;
    result.className = '';
    result.textContent = 'Checking…';
    verifyRecords(curves, trades, pin.key).then((checks) => showChecks(checks)).catch((e: Error) => {
      result.className = 'fail';
      result.textContent = `Verification failed: ${e.message}`;
    });
  });
}

function showChecks(checks: Check[]): void {
  const failed = checks.filter((x) => !x.ok);
  const result = document.getElementById('verify-result')!;
  result.className = failed.length ? 'fail' : 'ok';
  result.textContent = failed.length
    ? `Verification FAILED for ${failed.length} of ${checks.length} records: ${failed[0]!.what}: ${failed[0]!.detail}`
    : `All ${checks.length} records verified: they are in the operator's signed log, unaltered.`;
  document.getElementById('verify-details')!.innerHTML = table(['record', 'entry', 'result'], checks.map((x) => [esc(x.what), String(x.entry), `<span class="${x.ok ? 'ok' : 'fail'}">${x.ok ? '✓' : '✗'} ${esc(x.detail)}</span>`]), 'verify-table');
}

