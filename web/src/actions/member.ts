import { api, download, session } from '../api.ts';
import { actionForm, type Action, Refused, type Sent, signAndSend } from '../sign.ts';
import { addDays, community, type Community, esc, kwh, localDate, localTime, loginPrompt, perKwh, table, view } from '../ui.ts';
import './actions.css';

/**
 * Actions of a member, each a transaction signed in this page (web/src/sign.ts): standing
 * buy and sell orders (order.standing) and their cancellation (standing.cancel), the export
 * of everything the community holds about the member, and, when the community has
 * certificates of origin, cancelling (claiming) or transferring the member's own.
 *
 * The helpers below (exact decimal parsing, local times of the community's zone, field
 * errors) are shared with the DSO's view (dso.ts).
 */

/** The form's value, trimmed. */
export const text = (d: FormData, name: string) => String(d.get(name) ?? '').trim();

/**
 * FieldError: a value the page refuses before anything is signed, naming the field. The
 * form shows the message in its status line and marks the input.
 */
export class FieldError extends Error {
  constructor(readonly field: string, label: string, why: string) {
    super(`${label}: ${why}. Nothing was signed.`);
  }
}

/**
 * checked runs a form's `build` and, when it throws a FieldError, marks that input
 * (aria-invalid, focus) so the error is next to the value at fault.
 */
export function checked<B>(form: HTMLFormElement, build: (d: FormData) => Action<B> | Promise<Action<B>>): (d: FormData) => Promise<Action<B>> {
  return async (d) => {
    for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    try {
      return await build(d);
    } catch (e) {
      if (e instanceof FieldError) {
        const el = form.elements.namedItem(e.field) as HTMLElement | null;
        el?.setAttribute('aria-invalid', 'true');
        el?.focus();
      }
      throw e;
    }
  };
}

/**
 * decimalUnits reads a non-negative decimal string ("0.1234") exactly as an integer of
 * 10^-scale units, without floating point: the integer and fraction digits are joined as
 * text. Null when it is not such a number or has more than `places` decimals.
 */
export function decimalUnits(value: string, places: number, scale: number): number | null {
  const m = /^(\d{1,9})(?:[.,](\d*))?$/.exec(value);
  if (!m || (m[2] ?? '').length > places) return null;
  const digits = `${m[1]}${(m[2] ?? '').padEnd(scale, '0')}`.replace(/^0+(?=\d)/, '');
  const n = Number(digits);
  return Number.isSafeInteger(n) ? n : null;
}

/** MAX_PRICE_MICRO: the protocol's highest price, 1,000 currency units per kWh (src/market/configure.ts). */
const MAX_PRICE_MICRO = 1_000_000_000;

/** priceField reads a price per kWh in the currency with up to 4 decimals as integer micro-units per kWh. */
export function priceField(d: FormData, name: string, label: string, currency: string): number {
  const micro = decimalUnits(text(d, name), 4, 6);
  if (micro === null) throw new FieldError(name, label, `give a price in ${currency} per kWh with at most 4 decimals, e.g. 0.1500`);
  if (micro > MAX_PRICE_MICRO) throw new FieldError(name, label, `at most 1000 ${currency} per kWh`);
  return micro;
}

/** microAsDecimal writes micro-units as the currency with 4 decimals (for form values), exactly. */
export const microAsDecimal = (micro: number) => `${Math.floor(micro / 1e6)}.${String(micro % 1e6).padStart(6, '0').slice(0, 4)}`;

/** The UTC offset (ms) of a time zone at an instant. */
function offsetMs(t: number, timeZone: string): number {
  const p = Object.fromEntries(new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
    .formatToParts(new Date(t)).map((x) => [x.type, x.value]));
  return Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute), Number(p.second)) - t;
}

/** zonedInstant: the UTC instant ("…Z", no milliseconds) of a local date and time in the community's zone. */
export function zonedInstant(date: string, time: string, timeZone: string): string {
  const wall = Date.parse(`${date}T${time}:00Z`);
  const t = wall - offsetMs(wall - offsetMs(wall, timeZone), timeZone);
  return new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** localClock: the local date and HH:MM of an instant in the community's zone (for form defaults). */
export function localClock(iso: string, timeZone: string): { date: string; time: string } {
  const time = new Intl.DateTimeFormat('en-GB', { timeZone, hourCycle: 'h23', hour: '2-digit', minute: '2-digit' }).format(new Date(iso));
  return { date: localDate(iso, timeZone), time };
}

/**
 * instantField reads a local date and time field pair as a UTC instant on the community's
 * interval grid, naming the field when either is missing or off the grid.
 */
export function instantField(d: FormData, name: string, label: string, c: Community): string {
  const date = text(d, `${name}Date`);
  const time = text(d, `${name}Time`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) throw new FieldError(`${name}Date`, `${label} (date)`, 'choose a date');
  if (!/^([01]\d|2[0-3]):[0-5]\d$/.test(time)) throw new FieldError(`${name}Time`, `${label} (time)`, 'give a time as HH:MM');
  const iso = zonedInstant(date, time, c.timeZone);
  if ((Date.parse(iso) / 60_000) % c.intervalMinutes !== 0) throw new FieldError(`${name}Time`, `${label} (time)`, `must be the start of a ${c.intervalMinutes}-minute interval (e.g. ${c.intervalMinutes === 30 ? '14:00 or 14:30' : '14:00'})`);
  return iso;
}

/** The server's time (the time transactions are judged by) and the community. */
export const serverNow = async () => (await api<{ serverTime: string }>('/v1/community')).serverTime;

/**
 * announce: after a redraw (which replaces the form), the new form's status says what was
 * appended, so the outcome stays on screen next to the new state.
 */
export function announce(selector: string, sent: Sent): void {
  const el = view.querySelector<HTMLElement>(selector);
  if (!el) return;
  el.className = 'action-status ok';
  el.textContent = `Appended to the log as entry ${sent.entry}.`;
}

/** Refusals of a button's action (outside a form) go to a status element, as actionForm does. */
export async function runAction<B>(status: HTMLElement, action: Action<B>, done: (sent: Sent) => void): Promise<void> {
  status.className = 'action-status';
  status.textContent = '';
  try {
    const sent = await signAndSend(action);
    status.className = 'action-status ok';
    status.textContent = `Appended to the log as entry ${sent.entry}.`;
    done(sent);
  } catch (err) {
    const r = err as Refused | Error;
    if (r instanceof Refused && r.code === 'E_CANCELLED') return;
    status.className = 'action-status error';
    status.textContent = r instanceof Refused ? `Refused (${r.code}${r.field ? `, field ${r.field}` : ''}): ${r.message}. Nothing was appended.` : r.message;
  }
}

interface StandingOrder {
  id: string; side: 'buy' | 'sell'; meter: string; fromDate: string; toDate: string; window: { start: string; end: string };
  quantityWh: number | null; limitMicroPerKwh: number; placedAt: string; cancelledAt: string | null; entry: number;
}
interface Order { id: string; side: string; interval: string; quantityWh: number; limitMicroPerKwh: number; meter: string; status: string; entry: number }
interface Me { key: string; roles: string[]; meters: { meter: string; direction: 'import' | 'export'; feeder: string }[] }
interface Bundle {
  device: string; technology: string; interval: string; from: number; to: number; quantityWh: number; holder: string; status: string; expires: string;
}
interface MarketConfig { from: string; retailMicroPerKwh: number; feedInMicroPerKwh: number; entry: number }

/**
 * referencePrices: the residual supplier's retail and feed-in prices, which bound every
 * order: those of the market configuration in force for the next interval to clear (the
 * latest market.configure from at or before it, GET /v1/market/config, public), the same
 * for every member, consumer or prosumer.
 */
async function referencePrices(c: Community, now: string): Promise<{ retail: number | null; feedIn: number | null; source: string }> {
  const step = c.intervalMinutes * 60_000;
  const next = new Date(Math.ceil(Date.parse(now) / step) * step).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const { configs } = await api<{ configs: MarketConfig[] }>('/v1/market/config');
  const inForce = configs.filter((k) => k.from <= next).pop();
  if (!inForce) return { retail: null, feedIn: null, source: 'the market is not configured yet' };
  return { retail: inForce.retailMicroPerKwh, feedIn: inForce.feedInMicroPerKwh, source: `the market configuration in force since ${localTime(inForce.from, c.timeZone)}, entry ${inForce.entry}` };
}

/** The cells of a standing order's row. */
const orderCells = (o: StandingOrder, c: Community) => [
  `<code>${esc(o.id)}</code>`, o.side, esc(o.meter), `${esc(o.fromDate)} – ${esc(o.toDate)}`, esc(windowText(o.window)), o.quantityWh === null ? 'all metered' : `${kwh(o.quantityWh)} kWh`,
  esc(perKwh(o.limitMicroPerKwh, c.currency)), esc(localTime(o.placedAt, c.timeZone)),
];

const windowText = (w: { start: string; end: string }) => (w.start === '00:00' && w.end === '24:00' ? 'all day' : `${w.start}–${w.end}`);

/** Actions: a member's standing buy and sell prices, their data, their certificates (signed in the browser, web/src/sign.ts). */
export async function ordersView(q: URLSearchParams): Promise<void> {
  const s = session();
  if (!s) return loginPrompt('Log in with your key to set your buy and sell prices, export your data or move your certificates.');
  const c = await community(true);
  const now = (await api<{ serverTime: string }>('/v1/community')).serverTime;
  const [me, mine, months, ref] = await Promise.all([
    api<Me>('/v1/me'),
    api<{ orders: Order[]; standing: StandingOrder[] }>(`/v1/members/${s.key}/orders`),
    api<{ month: string; active: number }[]>('/v1/certificates/months').catch(() => []),
    referencePrices(c, now),
  ]);
  const today = localDate(now, c.timeZone);
  const sides = { buy: me.meters.filter((m) => m.direction === 'import'), sell: me.meters.filter((m) => m.direction === 'export') };
  const firstSide = sides.sell.length ? 'sell' : 'buy';
  // The month asked for, else the latest (of the last three) in which I hold active certificates:
  // a month's certificates reach consumers at its settlement, so the running month may hold none yet.
  const held = async (month: string) => (await api<Bundle[]>(`/v1/certificates?month=${month}`).catch(() => [])).filter((b) => b.status === 'active' && b.holder === s.key);
  let certMonth = q.get('month') ?? months[months.length - 1]?.month;
  let bundles = certMonth ? await held(certMonth) : [];
  for (const m of q.get('month') ? [] : months.slice(-3, -1).reverse()) {
    if (bundles.length) break;
    const b = await held(m.month);
    if (b.length) [certMonth, bundles] = [m.month, b];
  }
  const shownBundles = bundles.slice(0, 200);
  const standing = [...mine.standing].sort((a, b) => b.entry - a.entry);
  const active = standing.filter((o) => o.cancelledAt === null);
  const refText = (micro: number | null) => (micro === null ? 'not known' : perKwh(micro, c.currency));

  view.innerHTML = `<h1>My orders</h1>
  <p class="sub">A standing order is a rule your key signs once: in every ${c.intervalMinutes}-minute interval of its dates and daily window, the market places an order for you, buying at no more than your price or selling at no less, until you cancel it.</p>
  <section aria-labelledby="h-new-order"><h2 id="h-new-order">Set a standing price</h2>
  <p class="note" id="reference-prices">Reference prices (${esc(ref.source)}): retail <strong id="ref-retail">${esc(refText(ref.retail))}</strong>, feed-in <strong id="ref-feedin">${esc(refText(ref.feedIn))}</strong>. Every price must lie between the community's feed-in and retail prices: below feed-in the grid pays more for your surplus, above retail the supplier sells for less.</p>
  <form id="order-form" class="action-form" novalidate>
    <label>Side <select name="side">
      <option value="sell"${firstSide === 'sell' ? ' selected' : ''}>Sell my surplus</option>
      <option value="buy"${firstSide === 'buy' ? ' selected' : ''}>Buy for my consumption</option></select></label>
    <label>Meter <select name="meter"></select></label>
    <label>Price limit (${esc(c.currency)}/kWh) <input name="price" inputmode="decimal" autocomplete="off" size="9" value="${ref.feedIn !== null && firstSide === 'sell' ? microAsDecimal(ref.feedIn + Math.round(((ref.retail ?? ref.feedIn) - ref.feedIn) / 2)) : ref.retail !== null ? microAsDecimal(ref.retail) : ''}" aria-describedby="reference-prices"></label>
    <label>From <input type="date" name="fromDate" value="${today}"></label>
    <label>To <input type="date" name="toDate" value="${addDays(today, 30)}"></label>
    <label>Daily window from <input name="windowStart" value="00:00" size="5" inputmode="numeric" placeholder="HH:MM"></label>
    <label>until <input name="windowEnd" value="24:00" size="5" inputmode="numeric" placeholder="HH:MM"></label>
    <label>Energy per interval (kWh, empty: all metered) <input name="quantity" inputmode="decimal" size="7" autocomplete="off"></label>
    <button type="submit">Review and sign…</button>
    <p class="action-status" role="status"></p>
  </form>
  <p class="note" id="meters-note">${sides.sell.length ? '' : 'You have no export (production) meter: you can only buy. '}${sides.buy.length ? '' : 'You have no import (consumption) meter: you can only sell. '}Times are local (${esc(c.timeZone)}).</p>
  </section>
  <section aria-labelledby="h-standing"><h2 id="h-standing">My standing orders</h2>
  ${active.length ? table(['order', 'side', 'meter', 'dates', 'daily window', 'energy per interval', 'price limit', 'placed', ''], active.map((o) => [
    ...orderCells(o, c),
    `<button type="button" class="secondary cancel-order" data-order="${esc(o.id)}" aria-label="Cancel standing order ${esc(o.id)}">Cancel</button>`,
  ]), 'standing-orders') : '<p class="empty" id="no-standing">No active standing orders.</p>'}
  ${standing.length > active.length ? `<details><summary>${standing.length - active.length} cancelled</summary>${table(['order', 'side', 'meter', 'dates', 'daily window', 'energy per interval', 'price limit', 'placed', 'cancelled'], standing.filter((o) => o.cancelledAt !== null).map((o) => [
    ...orderCells(o, c), esc(localTime(o.cancelledAt!, c.timeZone)),
  ]), 'cancelled-orders')}</details>` : ''}
  <p class="action-status" id="cancel-status" role="status"></p>
  ${mine.orders.length ? `<h3>Single-interval orders</h3>${table(['order', 'side', 'interval', 'energy', 'price limit', 'meter', 'status'], mine.orders.map((o) => [`<code>${esc(o.id)}</code>`, o.side, esc(localTime(o.interval, c.timeZone)), `${kwh(o.quantityWh)} kWh`, esc(perKwh(o.limitMicroPerKwh, c.currency)), esc(o.meter), esc(o.status)]), 'orders')}` : ''}
  </section>
  ${certMonth ? certificatesSection(c, certMonth, months.map((m) => m.month), shownBundles, bundles.length, me) : ''}
  <section aria-labelledby="h-export"><h2 id="h-export">My data</h2>
  <p>Everything the community holds about you (participant record, meters, load curves, orders, trades and personal data), as one JSON file.</p>
  <button type="button" id="export-data">Export my data</button>
  <p class="action-status" id="export-status" role="status"></p></section>`;

  bindOrderForm(c, sides, firstSide);
  for (const b of view.querySelectorAll<HTMLButtonElement>('button.cancel-order')) {
    b.addEventListener('click', () => {
      const o = standing.find((x) => x.id === b.dataset.order)!;
      void runAction(view.querySelector<HTMLElement>('#cancel-status')!, {
        type: 'standing.cancel', body: { order: o.id },
        summary: `Cancel standing order ${o.id}: ${o.side} on ${o.meter} at ${perKwh(o.limitMicroPerKwh, c.currency)}. Books whose gate closes from now on no longer get its orders.`,
      }, (sent) => void ordersView(q).then(() => announce('#cancel-status', sent)));
    });
  }
  view.querySelector('#export-data')!.addEventListener('click', () => {
    const status = view.querySelector<HTMLElement>('#export-status')!;
    status.className = 'action-status';
    status.textContent = 'Preparing…';
    download(`/v1/members/${s.key}/export`, `openlec-export-${s.key.slice(0, 8)}-${today}.json`)
      .then(() => { status.className = 'action-status ok'; status.textContent = 'Downloaded.'; })
      .catch((e: Error) => { status.className = 'action-status error'; status.textContent = `Export failed: ${e.message}`; });
  });
  if (certMonth) bindCertificates(c, bundles, me, q);
}

/** The order form: the meter choice follows the side (buy: import meters, sell: export meters). */
function bindOrderForm(c: Community, sides: Record<'buy' | 'sell', Me['meters']>, first: 'buy' | 'sell'): void {
  const form = view.querySelector<HTMLFormElement>('#order-form')!;
  const sideSel = form.elements.namedItem('side') as HTMLSelectElement;
  const meterSel = form.elements.namedItem('meter') as HTMLSelectElement;
  const fill = () => {
    const list = sides[sideSel.value as 'buy' | 'sell'];
    meterSel.innerHTML = list.length ? list.map((m) => `<option value="${esc(m.meter)}">${esc(m.meter)} (${m.direction}, ${esc(m.feeder)})</option>`).join('') : '<option value="">no meter for this side</option>';
  };
  sideSel.value = first;
  sideSel.addEventListener('change', fill);
  fill();
  actionForm(form, checked(form, (d) => {
    const side = text(d, 'side') as 'buy' | 'sell';
    const meter = text(d, 'meter');
    if (!meter) throw new FieldError('meter', 'Meter', `you have no ${side === 'buy' ? 'import (consumption)' : 'export (production)'} meter to ${side} with`);
    const limitMicroPerKwh = priceField(d, 'price', 'Price limit', c.currency);
    const fromDate = text(d, 'fromDate');
    const toDate = text(d, 'toDate');
    if (!/^\d{4}-\d{2}-\d{2}$/.test(fromDate)) throw new FieldError('fromDate', 'From', 'choose a date');
    if (!/^\d{4}-\d{2}-\d{2}$/.test(toDate)) throw new FieldError('toDate', 'To', 'choose a date');
    if (toDate < fromDate) throw new FieldError('toDate', 'To', `must not be before the first day (${fromDate})`);
    const hhmm = /^([01]\d|2[0-3]):[0-5]\d$|^24:00$/;
    const start = text(d, 'windowStart');
    const end = text(d, 'windowEnd');
    if (!hhmm.test(start)) throw new FieldError('windowStart', 'Daily window from', 'give a time as HH:MM, 00:00 to 24:00');
    if (!hhmm.test(end)) throw new FieldError('windowEnd', 'Daily window until', 'give a time as HH:MM, 00:00 to 24:00');
    if (end <= start) throw new FieldError('windowEnd', 'Daily window until', `must be after ${start}`);
    const q = text(d, 'quantity');
    let quantityWh: number | null = null;
    if (q !== '') {
      quantityWh = decimalUnits(q, 3, 3);
      if (quantityWh === null || quantityWh < 1) throw new FieldError('quantity', 'Energy per interval', 'give kWh with at most 3 decimals (at least 0.001), or leave it empty for all metered energy');
    }
    const body = { side, meter, fromDate, toDate, window: { start, end }, quantityWh, limitMicroPerKwh };
    const verb = side === 'sell' ? 'Sell' : 'Buy';
    return {
      type: 'order.standing', body,
      summary: `${verb} ${quantityWh === null ? 'all metered energy' : `up to ${kwh(quantityWh)} kWh per interval`} on ${meter} at ${side === 'sell' ? 'no less' : 'no more'} than ${perKwh(limitMicroPerKwh, c.currency)}, every day from ${fromDate} to ${toDate}, ${windowText(body.window)} (${c.timeZone}).`,
    };
  }), (sent) => void ordersView(new URLSearchParams(location.hash.split('?')[1] ?? '')).then(() => announce('#order-form .action-status', sent)));
}

/** The member's active certificates of a month and the form to claim (cancel) or transfer some of them. */
function certificatesSection(c: Community, month: string, months: string[], shown: Bundle[], total: number, me: Me): string {
  const imports = me.meters.filter((m) => m.direction === 'import');
  return `<section aria-labelledby="h-certs"><h2 id="h-certs">My certificates of ${esc(month)}</h2>
  <p class="note">Certificates of origin, 1 Wh each. Cancelling claims them for your own consumption in the same interval (it can no longer move); transferring hands them to another participant.</p>
  ${months.length > 1 ? `<p>Month: ${months.map((m) => (m === month ? `<strong>${esc(m)}</strong>` : `<a href="#/orders?month=${esc(m)}">${esc(m)}</a>`)).join(' ')}</p>` : ''}
  ${total ? `<p id="cert-total">You hold <strong>${total}</strong> active bundles, ${shown.reduce((a, b) => a + b.quantityWh, 0)} Wh${total > shown.length ? ` in the first ${shown.length}` : ''}.</p>
  <details><summary>The bundles</summary>${table(['#', 'device', 'technology', 'interval', 'certificates', 'Wh', 'expires'], shown.map((b, i) => [String(i + 1), esc(b.device), esc(b.technology), esc(localTime(b.interval, c.timeZone)), `${b.from}–${b.to}`, String(b.quantityWh), esc(localTime(b.expires, c.timeZone))]), 'my-bundles')}</details>
  ${total > shown.length ? `<p class="note">The first ${shown.length} of ${total} bundles are shown.</p>` : ''}
  <form id="cert-form" class="action-form" novalidate>
    <label>Bundle <select name="bundle">${shown.map((b, i) => `<option value="${i}">#${i + 1} ${esc(b.device)}, ${esc(localTime(b.interval, c.timeZone))}, ${b.quantityWh} Wh</option>`).join('')}</select></label>
    <label>Wh <input name="quantityWh" inputmode="numeric" size="7" value="1"></label>
    <label>Action <select name="what"><option value="cancel">Cancel (claim for my consumption)</option><option value="transfer">Transfer to another participant</option></select></label>
    <label>Meter (for a claim) <select name="meter">${imports.map((m) => `<option value="${esc(m.meter)}">${esc(m.meter)}</option>`).join('') || '<option value="">no import meter</option>'}</select></label>
    <label>Recipient key (for a transfer) <input name="to" size="30" autocomplete="off" spellcheck="false"></label>
    <button type="submit">Review and sign…</button>
    <p class="action-status" role="status"></p>
  </form>` : `<p class="empty" id="no-certs">You hold no active certificates of ${esc(month)}.</p>`}</section>`;
}

function bindCertificates(c: Community, bundles: Bundle[], me: Me, q: URLSearchParams): void {
  const form = view.querySelector<HTMLFormElement>('#cert-form');
  if (!form) return;
  actionForm(form, checked<Record<string, unknown>>(form, (d) => {
    const b = bundles[Number(text(d, 'bundle'))];
    if (!b) throw new FieldError('bundle', 'Bundle', 'choose one of your bundles');
    const n = decimalUnits(text(d, 'quantityWh'), 0, 0);
    if (n === null || n < 1 || n > b.quantityWh) throw new FieldError('quantityWh', 'Wh', `a whole number from 1 to ${b.quantityWh} (the bundle's size)`);
    const ref = { device: b.device, interval: b.interval, from: b.from, quantityWh: n };
    if (text(d, 'what') === 'transfer') {
      const to = text(d, 'to');
      if (!/^[A-Za-z0-9_-]{43}$/.test(to)) throw new FieldError('to', 'Recipient key', 'a participant key is 43 base64url characters');
      if (to === me.key) throw new FieldError('to', 'Recipient key', 'that is your own key');
      return { type: 'certificate.transfer', body: { ...ref, to }, summary: `Transfer ${n} Wh of certificates (${b.device}, ${localTime(b.interval, c.timeZone)}) to ${to.slice(0, 8)}….` };
    }
    const meter = text(d, 'meter');
    if (!meter) throw new FieldError('meter', 'Meter', 'a claim needs one of your import meters');
    return { type: 'certificate.cancel', body: { ...ref, meter }, summary: `Cancel ${n} Wh of certificates (${b.device}, ${localTime(b.interval, c.timeZone)}), claimed for the consumption of ${meter} in that interval.` };
  }), (sent) => void ordersView(q).then(() => announce('#cert-form .action-status', sent)));
}
