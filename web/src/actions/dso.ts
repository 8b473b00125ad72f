import { api, session } from '../api.ts';
import { actionForm, type Sent } from '../sign.ts';
import { community, type Community, esc, localTime, loginPrompt, perKwh, table, view } from '../ui.ts';
import './actions.css';
import { announce, checked, FieldError, instantField, localClock, microAsDecimal, priceField, text } from './member.ts';
import { bindMeterFiles, meterFilesSection } from './meter-files.ts';

/**
 * The DSO's network, each action a transaction signed in this page (web/src/sign.ts): a
 * feeder's import and export limits over a time range (feeder.limit), the network fees by
 * path (tariff.set), a flexibility request (flex.request), and the DSO's meter files.
 *
 * The limits and tariffs come from the network's public read model (GET /v1/network, read
 * at the server's time): the feeder tree, the published limits in force and to come, the
 * tariffs, each with its entry and the key that signed it.
 */

interface Limits { importLimitW: number | null; exportLimitW: number | null; entry: number }
interface Published extends Limits { from: string; to: string; signedBy: string; status: 'in force' | 'overridden' | 'to come' }
interface NetworkNode { id: string; parent: string | null; depth: number; kind: string; children: string[]; standing: Limits; applies: Limits; limits: Published[]; ended: number }
interface Tariff { from: string; feesMicroPerKwh: Record<string, number>; entry: number; signedBy: string; status: 'in force' | 'superseded' | 'to come' }
interface Network { at: string; feeders: NetworkNode[]; tariffs: { inForce: Tariff | null; history: Tariff[] } }
interface LimitBody { feeder: string; from: string; to: string; importLimitW: number | null; exportLimitW: number | null }
interface FlexRequest { request: string; feeder: string; direction: string; start: string; isps: unknown[]; maxPriceMicroPerKwh: number; expires: string; status: string; entry: number }

const PATHS = ['local', 'feeder', 'substation', 'beyond'] as const;

const kw = (w: number | null) => (w === null ? 'none' : `${(w / 1000).toLocaleString('en-GB', { maximumFractionDigits: 3 })} kW`);

/** kwField reads an optional limit in kW (up to 3 decimals) as integer W; empty means no limit. */
function kwField(d: FormData, name: string, label: string): number | null {
  const v = text(d, name);
  if (v === '') return null;
  if (v.startsWith('-')) throw new FieldError(name, label, 'a limit cannot be negative (leave it empty for no limit)');
  const m = /^(\d{1,9})(?:[.,](\d{0,3}))?$/.exec(v);
  if (!m) throw new FieldError(name, label, 'give kW with at most 3 decimals, or leave it empty for no limit');
  return Number(`${m[1]}${(m[2] ?? '').padEnd(3, '0')}`);
}

/** The next interval start at least `ahead` intervals after the server's time (form defaults). */
function intervalAfter(now: string, c: Community, ahead: number): string {
  const step = c.intervalMinutes * 60_000;
  return new Date((Math.ceil(Date.parse(now) / step) + ahead) * step).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Local date and time inputs named `${name}Date` and `${name}Time`, set to an instant. */
function whenInputs(name: string, label: string, iso: string, c: Community): string {
  const l = localClock(iso, c.timeZone);
  return `<label>${esc(label)} date <input type="date" name="${name}Date" value="${l.date}"></label>
    <label>${esc(label)} time <input type="time" name="${name}Time" value="${l.time}" step="${c.intervalMinutes * 60}"></label>`;
}

/** Actions: the DSO's network: feeder limits, tariffs, flexibility requests (signed in the browser, web/src/sign.ts). */
export async function networkView(q: URLSearchParams): Promise<void> {
  const s = session();
  if (!s) return loginPrompt('Log in with the DSO\'s key to publish feeder limits, tariffs and flexibility requests.');
  const c = await community(true);
  const now = (await api<{ serverTime: string }>('/v1/community')).serverTime;
  const [network, keys, requests, assets] = await Promise.all([
    api<Network>(`/v1/network?at=${encodeURIComponent(now)}`),
    api<{ key: string; roles: string[] }[]>('/v1/dashboard/keys').catch(() => []),
    api<FlexRequest[]>('/v1/flex/requests').catch(() => [] as FlexRequest[]),
    api<unknown[]>('/v1/flex/assets').catch(() => null),
  ]);
  const isDso = s.roles.includes('dso');
  const feeders = network.feeders;
  // Published limits in force or to come, newest entry first.
  const current = feeders.flatMap((f) => f.limits.map((l) => ({ ...l, feeder: f.id }))).sort((x, y) => y.entry - x.entry);
  const ended = feeders.reduce((n, f) => n + f.ended, 0);
  const tariffs = [...network.tariffs.history].sort((x, y) => y.entry - x.entry);
  const inForce = network.tariffs.inForce;
  /** Who signed a rule: the organisation's role (the public keys of /v1/dashboard/keys), else the key's start. */
  const signer = (key: string) => {
    const roles = keys.find((k) => k.key === key)?.roles ?? [];
    return `${roles.includes('dso') ? 'DSO' : roles.includes('operator') ? 'operator' : 'key'} <code title="${esc(key)}">${esc(key.slice(0, 8))}…</code>`;
  };
  const limitsCell = (l: Limits) => `${kw(l.importLimitW)} / ${kw(l.exportLimitW)}`;
  const from = intervalAfter(now, c, 2);
  const to = intervalAfter(now, c, 10);
  const fees = (inForce ?? tariffs[0])?.feesMicroPerKwh;
  const feederOptions = feeders.map((f) => `<option value="${esc(f.id)}">${esc(f.id)}</option>`).join('');
  const lastCleared = c.lastCleared ? localTime(c.lastCleared, c.timeZone) : 'none yet';

  view.innerHTML = `<h1>Network</h1>
  <p class="sub">The DSO's rules for the community's low-voltage network, each signed by the DSO's key in this page and appended to the log. Rules apply only from an interval after the last cleared one (${esc(lastCleared)}); times are local (${esc(c.timeZone)}).${isDso ? '' : ' <strong>Only the DSO can sign these actions:</strong> the log refuses them from your key.'}</p>
  <section aria-labelledby="h-feeders"><h2 id="h-feeders">Feeders and their limits</h2>
  <p class="note">The network tree from the substations down (import / export limits; a published limit overrides the standing one while it is in force). At ${esc(localTime(network.at, c.timeZone))}:</p>
  ${table(['feeder', 'kind', 'parent', 'standing limits', 'limits now', 'defined in entry'], feeders.map((f) => [esc(f.id), esc(f.kind), esc(f.parent ?? '–'), limitsCell(f.standing), `${limitsCell(f.applies)}${f.applies.entry !== f.standing.entry ? ` (entry ${f.applies.entry})` : ''}`, String(f.standing.entry)]), 'feeders')}
  <h3>Published limits in force or to come</h3>
  ${current.length ? table(['feeder', 'from', 'to', 'import limit', 'export limit', 'status', 'signed by', 'entry'], current.map((l) => [esc(l.feeder), esc(localTime(l.from, c.timeZone)), esc(localTime(l.to, c.timeZone)), kw(l.importLimitW), kw(l.exportLimitW), esc(l.status === 'overridden' ? 'overridden by a later entry' : l.status), signer(l.signedBy), String(l.entry)]), 'feeder-limits')
    : '<p class="empty" id="no-limits">No published limit is in force or to come: the standing limits apply.</p>'}
  ${ended ? `<p class="note" id="limits-ended">${ended} earlier limit${ended === 1 ? ' has' : 's have'} ended.</p>` : ''}
  <h3>Publish a limit</h3>
  <form id="limit-form" class="action-form" novalidate>
    <label>Feeder <select name="feeder">${feederOptions}</select></label>
    ${whenInputs('from', 'From', from, c)}
    ${whenInputs('to', 'Until', to, c)}
    <label>Import limit (kW, empty: none) <input name="importKw" inputmode="decimal" size="8" autocomplete="off"></label>
    <label>Export limit (kW, empty: none) <input name="exportKw" inputmode="decimal" size="8" autocomplete="off" value="40"></label>
    <button type="submit">Review and sign…</button>
    <p class="action-status" role="status"></p>
  </form>
  <p class="note">A published limit overrides the feeder's standing limits over its time range (a later one covering the same interval overrides an earlier one); the market's clearing and flexibility checks keep the feeder's subtree within it.</p>
  </section>
  <section aria-labelledby="h-tariff"><h2 id="h-tariff">Network tariff</h2>
  ${inForce ? `<p id="tariff-now">In force since ${esc(localTime(inForce.from, c.timeZone))} (entry ${inForce.entry}): ${PATHS.map((p) => `${p} ${esc(perKwh(inForce.feesMicroPerKwh[p] ?? 0, c.currency))}`).join(', ')}.</p>`
    : `<p class="empty" id="tariff-now">No tariff is in force${tariffs.length ? ' yet' : ''}: trades pay no network fee${tariffs.length ? ' until the first one below starts' : ''}.</p>`}
  ${tariffs.length ? table(['from', 'local', 'feeder', 'substation', 'beyond', 'status', 'signed by', 'entry'], tariffs.map((t) => [esc(localTime(t.from, c.timeZone)), ...PATHS.map((p) => esc(perKwh(t.feesMicroPerKwh[p] ?? 0, c.currency))), esc(t.status), signer(t.signedBy), String(t.entry)]), 'tariffs') : ''}
  <form id="tariff-form" class="action-form" novalidate>
    ${whenInputs('tariffFrom', 'From', from, c)}
    ${PATHS.map((p) => `<label>${p === 'local' ? 'Local (same connection)' : p === 'feeder' ? 'Same feeder' : p === 'substation' ? 'Same substation' : 'Beyond'} (${esc(c.currency)}/kWh) <input name="fee-${p}" inputmode="decimal" size="8" autocomplete="off" value="${fees ? microAsDecimal(fees[p] ?? 0) : '0.0000'}"></label>`).join('')}
    <button type="submit">Review and sign…</button>
    <p class="action-status" role="status"></p>
  </form>
  <p class="note">The fee a trade pays per kWh by the path between seller and buyer; it may not fall as the path widens.</p>
  </section>
  <section aria-labelledby="h-flex"><h2 id="h-flex">Flexibility requests</h2>
  ${assets === null || assets.length === 0 ? '<p class="note" id="flex-none">No flexible assets are registered in this community: a request is recorded, but no provider can offer against it.</p>' : `<p class="note">${assets.length} flexible assets are registered.</p>`}
  ${requests.length ? table(['request', 'feeder', 'direction', 'first interval', 'intervals', 'max price', 'offers until', 'status', 'entry'], requests.map((r) => [`<a href="#/flex?request=${encodeURIComponent(r.request)}">${esc(r.request)}</a>`, esc(r.feeder), esc(r.direction), esc(localTime(r.start, c.timeZone)), String(r.isps.length), esc(perKwh(r.maxPriceMicroPerKwh, c.currency)), esc(localTime(r.expires, c.timeZone)), esc(r.status), String(r.entry)]), 'flex-requests') : '<p class="empty" id="no-requests">No requests yet.</p>'}
  <form id="flex-form" class="action-form" novalidate>
    <label>Request id <input name="request" size="14" autocomplete="off" value="req-${esc(localClock(now, c.timeZone).date)}-${requests.length + 1}"></label>
    <label>Feeder (congestion point) <select name="feeder">${feederOptions}</select></label>
    <label>Direction <select name="direction"><option value="reduce-import">Reduce import (less consumption)</option><option value="reduce-export">Reduce export (more consumption)</option></select></label>
    ${whenInputs('start', 'First interval', intervalAfter(now, c, 4), c)}
    <label>Intervals <input name="isps" inputmode="numeric" size="4" value="4"></label>
    <label>At least (kW) <input name="minKw" inputmode="decimal" size="6" value="0"></label>
    <label>At most (kW) <input name="maxKw" inputmode="decimal" size="6" value="10"></label>
    <label>Max price (${esc(c.currency)}/kWh) <input name="maxPrice" inputmode="decimal" size="8" value="0.2000"></label>
    <label>Penalty (${esc(c.currency)}/kWh short) <input name="penalty" inputmode="decimal" size="8" value="0.0500"></label>
    ${whenInputs('expires', 'Offers until', intervalAfter(now, c, 2), c)}
    <button type="submit">Review and sign…</button>
    <p class="action-status" role="status"></p>
  </form>
  </section>
  ${meterFilesSection()}`;

  const redraw = (form: string) => (sent: Sent) => void networkView(q).then(() => announce(`${form} .action-status`, sent));
  const limitForm = view.querySelector<HTMLFormElement>('#limit-form')!;
  actionForm(limitForm, checked(limitForm, (d) => {
    const feeder = text(d, 'feeder');
    if (!feeder) throw new FieldError('feeder', 'Feeder', 'choose a feeder');
    const body: LimitBody = { feeder, from: instantField(d, 'from', 'From', c), to: instantField(d, 'to', 'Until', c), importLimitW: kwField(d, 'importKw', 'Import limit'), exportLimitW: kwField(d, 'exportKw', 'Export limit') };
    if (body.to <= body.from) throw new FieldError('toDate', 'Until', 'must be after From');
    if (body.importLimitW === null && body.exportLimitW === null) throw new FieldError('importKw', 'Import limit', 'give an import or an export limit (or both)');
    return { type: 'feeder.limit', body, summary: `Limit feeder ${feeder} to import ${kw(body.importLimitW)}, export ${kw(body.exportLimitW)} from ${localTime(body.from, c.timeZone)} until ${localTime(body.to, c.timeZone)} (${c.timeZone}).` };
  }), redraw('#limit-form'));

  const tariffForm = view.querySelector<HTMLFormElement>('#tariff-form')!;
  actionForm(tariffForm, checked(tariffForm, (d) => {
    const feesMicroPerKwh = Object.fromEntries(PATHS.map((p) => [p, priceField(d, `fee-${p}`, `${p} fee`, c.currency)])) as Record<(typeof PATHS)[number], number>;
    for (let k = 1; k < PATHS.length; k++) {
      if (feesMicroPerKwh[PATHS[k]!] < feesMicroPerKwh[PATHS[k - 1]!]) throw new FieldError(`fee-${PATHS[k]}`, `${PATHS[k]} fee`, `must not be below the ${PATHS[k - 1]} fee: fees may not fall as the path widens`);
    }
    const body = { from: instantField(d, 'tariffFrom', 'From', c), feesMicroPerKwh };
    return { type: 'tariff.set', body, summary: `Set the network fees from ${localTime(body.from, c.timeZone)}: ${PATHS.map((p) => `${p} ${perKwh(feesMicroPerKwh[p], c.currency)}`).join(', ')}.` };
  }), redraw('#tariff-form'));

  const flexForm = view.querySelector<HTMLFormElement>('#flex-form')!;
  actionForm(flexForm, checked(flexForm, (d) => {
    const request = text(d, 'request');
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(request)) throw new FieldError('request', 'Request id', '1 to 64 letters, digits, "_" or "-"');
    const n = Number(text(d, 'isps'));
    if (!Number.isInteger(n) || n < 1 || n > 192) throw new FieldError('isps', 'Intervals', 'a whole number from 1 to 192');
    const lo = kwField(d, 'minKw', 'At least');
    const hi = kwField(d, 'maxKw', 'At most');
    if (hi === null || hi <= 0) throw new FieldError('maxKw', 'At most', 'ask for more than 0 kW');
    if ((lo ?? 0) > hi) throw new FieldError('minKw', 'At least', 'must not be above At most');
    const direction = text(d, 'direction');
    // UFTP's sign: reducing import asks for negative power (less consumption), reducing export for positive.
    const isp = direction === 'reduce-import' ? { minW: -hi, maxW: lo ? -lo : 0 } : { minW: lo ?? 0, maxW: hi };
    const start = instantField(d, 'start', 'First interval', c);
    const expires = instantField(d, 'expires', 'Offers until', c);
    if (expires > start) throw new FieldError('expiresTime', 'Offers until', 'must not be after the first interval');
    const body = {
      request, feeder: text(d, 'feeder'), direction, start, isps: Array.from({ length: n }, () => ({ ...isp })),
      maxPriceMicroPerKwh: priceField(d, 'maxPrice', 'Max price', c.currency), penaltyMicroPerKwh: priceField(d, 'penalty', 'Penalty', c.currency), expires, forecast: [],
    };
    return { type: 'flex.request', body, summary: `Request ${direction === 'reduce-import' ? 'a reduction of import' : 'a reduction of export'} of ${kw(lo ?? 0)} to ${kw(hi)} on ${body.feeder} for ${n} intervals from ${localTime(start, c.timeZone)}, at up to ${perKwh(body.maxPriceMicroPerKwh, c.currency)}; offers until ${localTime(expires, c.timeZone)}.` };
  }), redraw('#flex-form'));

  bindMeterFiles();
}
