import { writeFileSync } from 'node:fs';
import { barChart, esc, lineChart } from '../charts/svg.ts';
import { Signer } from '../client.ts';
import { community } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import { offerDirection } from '../flex/market.ts';
import { planFlexOrder } from '../flex/order.ts';
import { earnings, type Earnings, requestsOf, requestView, type RequestView } from '../flex/reports.ts';
import { type FlexMonth, flexSettleBody, planFlexSettle } from '../flex/settle.ts';
import {
  ASSET_KINDS, type BaselineSpec, DIRECTIONS, DOUBLE_CHARGING, type FeederForecast, findRequest, type MeritLine, type OfferRow, type OrderRow, type RequestIsp, type RequestRow,
  type SettlementLine, type SettlementRow,
} from '../flex/tables.ts';
import { readKeyFile } from '../node/key-file.ts';
import type { State } from '../state/tables.ts';
import { SqliteLedger } from '../store/sqlite-ledger.ts';
import { averagePowerToWh, formatDecimal, formatInstant, formatLocal, localDateOf, mulDivRound, parseDecimal, parseInstant } from '../units/index.ts';
import { dsoKeyPath, participantKey } from './certificates.ts';
import { defaultKeyPath, withLedger } from './commands.ts';
import { table } from './output.ts';

/**
 * The `openlec asset` and `openlec flex` commands: the DSO flexibility market (USEF/UFTP
 * style: request -> offers -> merit-order order -> monthly settlement). Every command
 * parses its options here (prices as decimals per kWh, stored in micro-units; powers in
 * integer W, UFTP sign), plans the body with src/flex, signs it with a key file as of
 * `--at` (default now) and appends it to the local log, or reads a view; each returns
 * what `--json` prints and the text printed otherwise.
 */

/** Shown is what a command prints: `json` with --json, `text` otherwise. */
export interface Shown<T = unknown> {
  json: T;
  text: string;
}

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;

const usage = (option: string, message: string) => new OpenlecError('E_USAGE', `--${option} ${message}`, { field: option });

function checkMonth(v: string | undefined, option = 'month'): string {
  if (v === undefined || !MONTH.test(v)) throw usage(option, `must be YYYY-MM (got "${v ?? ''}")`);
  return v;
}

/** int reads an integer option (W, Wh, percent), signed unless `min` says otherwise. */
function int(v: string | number | undefined, option: string, min = -Number.MAX_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
  const s = String(v ?? '').trim();
  const n = Number(s);
  if (!/^[+-]?\d+$/.test(s) || !Number.isSafeInteger(n)) throw usage(option, `must be an integer (got "${s}")`);
  if (n < min || n > max) throw usage(option, `must be between ${min} and ${max} (got ${n})`);
  return n || 0;
}

/** ints reads a comma-separated list of integers (`W,W,...`). */
function ints(v: string | undefined, option: string, min?: number): number[] {
  const s = (v ?? '').trim();
  if (s === '') throw usage(option, 'needs a comma-separated list of integers, e.g. -4000,-4000');
  return s.split(',').map((x, i) => {
    try {
      return int(x, option, min);
    } catch {
      throw usage(option, `value ${i + 1} "${x.trim()}" is not an integer`);
    }
  });
}

/** price reads a price in currency per kWh as a decimal ("0.12") into micro-units per kWh, exactly. */
export function price(v: string | undefined, option: string): number {
  try {
    const micro = parseDecimal(String(v ?? ''), 6, `--${option}`);
    if (micro < 0) throw usage(option, `must not be negative (got ${v})`);
    return micro;
  } catch (e) {
    if (e instanceof OpenlecError && e.code !== 'E_USAGE') throw new OpenlecError('E_USAGE', `${e.message} (a price in currency per kWh, at most 6 decimals, e.g. 0.12)`, { field: option });
    throw e;
  }
}

function instant(v: string | undefined, option: string): string {
  if (v === undefined) throw usage(option, 'is required');
  try {
    return formatInstant(parseInstant(v, option));
  } catch {
    throw usage(option, `must be an ISO 8601 instant, e.g. 2026-03-10T17:00:00Z (got "${v}")`);
  }
}

function oneOf<T extends string>(v: string | undefined, all: readonly T[], option: string): T {
  if (!(all as readonly string[]).includes(v ?? '')) throw usage(option, `must be one of ${all.join(', ')} (got "${v ?? ''}")`);
  return v as T;
}

/** parseIsps reads `MIN:MAX,MIN:MAX,...` (W per ISP, UFTP sign). */
export function parseIsps(v: string | undefined): RequestIsp[] {
  const s = (v ?? '').trim();
  if (s === '') throw usage('isps', 'needs MIN:MAX per ISP, comma-separated, e.g. -6000:-4000,-6000:-4000');
  return s.split(',').map((pair, i) => {
    const m = /^\s*([+-]?\d+)\s*:\s*([+-]?\d+)\s*$/.exec(pair);
    if (!m) throw usage('isps', `ISP ${i + 1} "${pair.trim()}" is not MIN:MAX in W`);
    return { minW: int(m[1], 'isps'), maxW: int(m[2], 'isps') };
  });
}

/** parseForecasts reads repeated `FEEDER=W,W,...` options. */
export function parseForecasts(vs: readonly string[] | undefined): FeederForecast[] {
  return (vs ?? []).map((v) => {
    const k = v.indexOf('=');
    if (k <= 0) throw usage('forecast', `takes FEEDER=W,W,... (got "${v}")`);
    return { feeder: v.slice(0, k).trim(), W: ints(v.slice(k + 1), 'forecast') };
  });
}

/** parseBaseline reads `mbma`, `nomination:WH,WH,...`, `x-of-y:X:Y:high|mid[:ADJ]` or `rolling:DAYS`. */
export function parseBaseline(v: string | undefined): BaselineSpec {
  const s = (v ?? '').trim();
  const [method, ...rest] = s.split(':');
  switch (method) {
    case 'mbma':
      if (rest.length) break;
      return { method: 'mbma' };
    case 'nomination':
      if (rest.length !== 1) break;
      return { method: 'nomination', wh: ints(rest[0], 'baseline') };
    case 'x-of-y': {
      if (rest.length < 3 || rest.length > 4 || !['high', 'mid'].includes(rest[2]!)) break;
      return { method: 'x-of-y', x: int(rest[0], 'baseline', 1), y: int(rest[1], 'baseline', 1), pick: rest[2] as 'high' | 'mid', adjustIntervals: rest[3] === undefined ? 0 : int(rest[3], 'baseline', 0) };
    }
    case 'rolling':
      if (rest.length !== 1) break;
      return { method: 'rolling', days: int(rest[0], 'baseline', 1) };
  }
  throw usage('baseline', `must be mbma, nomination:WH,WH,..., x-of-y:X:Y:high|mid[:ADJ] or rolling:DAYS (got "${s}")`);
}

/** The option of the command a refused body field came from (body.powerW.0 -> power-w), when there is one. */
const OPTIONS: Record<string, string> = {
  priceMicroPerKwh: 'price', maxPriceMicroPerKwh: 'max-price', penaltyMicroPerKwh: 'penalty', networkFeeMicroPerKwh: 'network-fee', minActivationPct: 'min-activation',
  ordered: 'request', merit: 'request', costMicro: 'request', month: 'month', lines: 'month', totalMicro: 'month',
};

function optionOf(field: string | undefined): string | undefined {
  const m = /^body\.([A-Za-z]+)/.exec(field ?? '');
  if (!m) return undefined;
  return OPTIONS[m[1]!] ?? m[1]!.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** named: a refusal of the log, its message naming the option the refused field came from. */
function named(e: unknown): unknown {
  if (!(e instanceof OpenlecError)) return e;
  const option = optionOf(e.field);
  if (!option) return e;
  return new OpenlecError(e.code, `${e.message} (--${option})`, { field: option, details: { ...e.details, bodyField: e.field }, cause: e });
}

/** signingTime: `--at` as whole seconds (the log's issuedAt), or now. */
export function signingTime(at: string | undefined): number {
  if (at === undefined) return Math.floor(Date.now() / 1000) * 1000;
  const ms = parseInstant(instant(at, 'at'));
  if (ms % 1000 !== 0) throw usage('at', `must be whole seconds (got "${at}")`);
  return ms;
}

export interface Signing {
  db: string;
  key?: string;
  /** Sign as of this instant (the transaction's issuedAt), default now. */
  at?: string;
}

/**
 * append signs one transaction with a key file, as of `at`, its body planned on the log's
 * state for that instant, and appends it; with `dryRun` it plans only. Refusals name the
 * option they came from.
 */
export async function append<B>(o: Signing, defaultKey: string, type: string, plan: (state: State, atMs: number) => B, dryRun = false): Promise<{ entry: number | null; body: B; actor: string; issuedAt: string }> {
  const atMs = signingTime(o.at);
  const key = readKeyFile(o.key ?? defaultKey);
  const ledger = SqliteLedger.open(o.db);
  try {
    if (!community(ledger.state)) throw new OpenlecError('E_NO_COMMUNITY', 'the log has no community yet', { field: 'db' });
    const body = plan(ledger.state, atMs);
    const signer = Signer.forState(ledger.state, key);
    const issuedAt = formatInstant(atMs);
    if (dryRun) return { entry: null, body, actor: signer.actor, issuedAt };
    const r = await ledger.submit(signer.sign(type, body, issuedAt));
    if (!r.ok) throw r.error;
    return { entry: r.entry, body, actor: signer.actor, issuedAt };
  } catch (e) {
    throw named(e);
  } finally {
    await ledger.close();
  }
}

const short = (key: string) => `${key.slice(0, 10)}…`;
const kwh = (wh: number) => formatDecimal(wh, 3);
const perKwh = (micro: number) => formatDecimal(micro, 6);
/** money shows micro-units rounded half-even to cents, for reading; JSON keeps exact micro-units. */
const money = (micro: number) => formatDecimal(mulDivRound(micro, 1, 10_000), 2);
const local = (iso: string, zone: string) => formatLocal(parseInstant(iso), zone).slice(0, 16).replace('T', ' ');
/** range shows a series compactly: `2 x -4000` when every value is the same, else the values. */
const range = (xs: readonly (number | string)[]) => (xs.length > 1 && xs.every((x) => x === xs[0]) ? `${xs.length} x ${xs[0]}` : xs.join(','));

// ---------------------------------------------------------------------------- asset register

export interface AssetCommand extends Signing {
  asset: string;
  meter: string;
  kind: string;
  powerW: string;
  capacityWh?: string;
  aggregator?: string;
}

/** registerAsset signs asset.register: a flexible asset behind a meter (by its owner, the operator or the DSO), optionally delegated to an aggregator. */
export async function registerAsset(o: AssetCommand): Promise<Shown> {
  if (!o.key) throw usage('key', 'is required: the key file of the meter\'s owner, the operator or the DSO');
  const body = {
    asset: o.asset, meter: o.meter, kind: oneOf(o.kind, ASSET_KINDS, 'kind'), powerW: int(o.powerW, 'power-w', 1),
    capacityWh: o.capacityWh === undefined ? null : int(o.capacityWh, 'capacity-wh', 1), aggregator: o.aggregator === undefined ? null : participantKey(o.aggregator, 'aggregator'),
  };
  const r = await append(o, o.key, 'asset.register', () => body);
  return {
    json: { entry: r.entry, ...body },
    text: `asset ${body.asset} (${body.kind}, ${body.powerW} W${body.capacityWh === null ? '' : `, ${body.capacityWh} Wh`}) behind meter ${body.meter} registered in entry ${r.entry}; offered by ${body.aggregator ? `aggregator ${short(body.aggregator)}` : 'its owner'}`,
  };
}

// ---------------------------------------------------------------------------- flex configure

/** configureFlex signs flex.configure (operator): the double-charging rule and the network fee refunded on batteries' delivered energy. */
export async function configureFlex(o: Signing & { doubleCharging: string; networkFee: string }): Promise<Shown> {
  const body = { doubleCharging: oneOf(o.doubleCharging, DOUBLE_CHARGING, 'double-charging'), networkFeeMicroPerKwh: price(o.networkFee, 'network-fee') };
  const r = await append(o, defaultKeyPath(o.db), 'flex.configure', () => body);
  return { json: { entry: r.entry, ...body }, text: `flexibility rules set in entry ${r.entry}: double charging ${body.doubleCharging}, network fee ${perKwh(body.networkFeeMicroPerKwh)}/kWh` };
}

// ---------------------------------------------------------------------------- flex request

export interface RequestCommand extends Signing {
  request: string;
  feeder: string;
  direction: string;
  start: string;
  isps: string;
  maxPrice: string;
  penalty: string;
  expires: string;
  forecast?: string[];
}

/** makeRequest signs flex.request (DSO): the flexibility wanted per ISP on a feeder, prices, the gate for offers and the forecast the acceptance check uses. */
export async function makeRequest(o: RequestCommand): Promise<Shown> {
  const body = {
    request: o.request, feeder: o.feeder, direction: oneOf(o.direction, DIRECTIONS, 'direction'), start: instant(o.start, 'start'), isps: parseIsps(o.isps),
    maxPriceMicroPerKwh: price(o.maxPrice, 'max-price'), penaltyMicroPerKwh: price(o.penalty, 'penalty'), expires: instant(o.expires, 'expires'), forecast: parseForecasts(o.forecast),
  };
  const r = await append(o, dsoKeyPath(o.db), 'flex.request', () => body);
  const asked = body.isps.map((i) => (body.direction === 'reduce-import' ? `${-i.maxW}-${-i.minW}` : `${i.minW}-${i.maxW}`));
  return {
    json: { entry: r.entry, ...body },
    text: `request ${body.request} on ${body.feeder} (${body.direction}) recorded in entry ${r.entry}: ${body.isps.length} ISP(s) from ${body.start}, W asked ${range(asked)}; `
      + `max price ${perKwh(body.maxPriceMicroPerKwh)}/kWh, penalty ${perKwh(body.penaltyMicroPerKwh)}/kWh; offers until ${body.expires}`,
  };
}

// ---------------------------------------------------------------------------- flex offer

export interface OfferCommand extends Signing {
  offer: string;
  request?: string;
  feeder: string;
  start: string;
  assets: string;
  powerW: string;
  reboundW?: string;
  price: string;
  minActivation?: string;
  baseline: string;
  validUntil: string;
}

/** makeOffer signs flex.offer (member or aggregator): assets, W per ISP, rebound, price, smallest activation factor, baseline, validity. */
export async function makeOffer(o: OfferCommand): Promise<Shown> {
  if (!o.key) throw usage('key', 'is required: the key file of the member or aggregator who offers');
  const assets = (o.assets ?? '').split(',').map((a) => a.trim()).filter((a) => a !== '');
  if (assets.length === 0) throw usage('assets', 'needs at least one asset id (comma-separated)');
  const powerW = ints(o.powerW, 'power-w');
  const body = {
    offer: o.offer, request: o.request ?? null, feeder: o.feeder, start: instant(o.start, 'start'), assets, powerW, reboundW: o.reboundW === undefined ? [] : ints(o.reboundW, 'rebound-w'),
    priceMicroPerKwh: price(o.price, 'price'), minActivationPct: o.minActivation === undefined ? 100 : int(o.minActivation, 'min-activation', 1, 100),
    baseline: parseBaseline(o.baseline), validUntil: instant(o.validUntil, 'valid-until'),
  };
  const r = await append(o, o.key, 'flex.offer', () => body);
  return {
    json: { entry: r.entry, provider: r.actor, ...body },
    text: `offer ${body.offer}${body.request ? ` on request ${body.request}` : ' (unsolicited)'} by ${short(r.actor)} recorded in entry ${r.entry}: ${body.assets.join(', ')}, ${offerDirection(powerW) ?? ''} `
      + `W ${range(powerW)}${body.reboundW.length ? `, rebound ${range(body.reboundW)}` : ''} at ${perKwh(body.priceMicroPerKwh)}/kWh, at least ${body.minActivationPct} %, baseline ${body.baseline.method}, valid until ${body.validUntil}`,
  };
}

// ---------------------------------------------------------------------------- lists

/** listOffers: the offers of a request (every offer without --request), in log order. */
export function listOffers(o: { db: string; request?: string }): Promise<Shown<{ timeZone: string; offers: OfferRow[] }>> {
  return withLedger(o.db, (ledger) => {
    const zone = community(ledger.state)!.timeZone;
    if (o.request !== undefined && !findRequest(ledger.state, o.request)) throw usage('request', `names no request (got "${o.request}")`);
    const offers = (o.request === undefined ? ([...ledger.state.rows('flex_offers')] as OfferRow[]) : ledger.state.lookup<OfferRow>('flex_offers', 'request', o.request))
      .sort((a, b) => a.entry - b.entry);
    const rows = offers.map((x) => [
      x.offer, short(x.provider), x.request ?? '-', x.feeder, local(x.start, zone), x.assets.join(','), range(x.powerW), x.reboundW.length ? range(x.reboundW) : '-', perKwh(x.priceMicroPerKwh),
      `${x.minActivationPct} %`, x.baseline.method, local(x.validUntil, zone), x.status,
    ]);
    return {
      json: { timeZone: zone, offers },
      text: [
        `${offers.length} offer(s)${o.request ? ` on request ${o.request}` : ''}; local time ${zone}`,
        table(rows, ['offer', 'provider', 'request', 'feeder', 'start', 'assets', 'W per ISP', 'rebound W', 'price/kWh', 'min', 'baseline', 'valid until', 'status']),
      ].join('\n'),
    };
  });
}

/** listRequests: the requests whose first ISP lies in the local month (every one without --month), in log order. */
export function listRequests(o: { db: string; month?: string }): Promise<Shown<{ timeZone: string; requests: RequestRow[] }>> {
  const month = o.month === undefined ? undefined : checkMonth(o.month);
  return withLedger(o.db, (ledger) => {
    const zone = community(ledger.state)!.timeZone;
    const requests = requestsOf(ledger.state, month);
    const rows = requests.map((r) => [
      r.request, r.feeder, r.direction, local(r.start, zone), r.isps.length, range(r.isps.map((i) => i.minW)) + ' : ' + range(r.isps.map((i) => i.maxW)),
      perKwh(r.maxPriceMicroPerKwh), perKwh(r.penaltyMicroPerKwh), local(r.expires, zone), r.status, r.order ?? '-',
    ]);
    return {
      json: { timeZone: zone, requests },
      text: [
        `${requests.length} request(s)${month ? ` starting in ${month}` : ''}; local time ${zone}`,
        table(rows, ['request', 'feeder', 'direction', 'start', 'ISPs', 'min W : max W', 'max price/kWh', 'penalty/kWh', 'offers until', 'status', 'order']),
      ].join('\n'),
    };
  });
}

// ---------------------------------------------------------------------------- flex order

export interface OrderCommand extends Signing {
  request: string;
  order: string;
  dryRun?: boolean;
}

function meritTable(merit: readonly MeritLine[], zone: string): string {
  return table(merit.map((m) => [m.offer, perKwh(m.priceMicroPerKwh), m.decision, m.factorPct ? `${m.factorPct} %` : '-', m.feeder ?? '', m.interval ? local(m.interval, zone) : '']),
    ['offer', 'price/kWh', 'decision', 'factor', 'violated feeder', 'interval']);
}

/**
 * orderFlex runs the merit order of a request at the signing time (planFlexOrder) and
 * signs flex.order with that same issuedAt (DSO); with --dry-run it only shows the plan.
 */
export async function orderFlex(o: OrderCommand): Promise<Shown> {
  let zone = '';
  let minutes = 30;
  const r = await append(o, dsoKeyPath(o.db), 'flex.order', (state, atMs) => {
    ({ timeZone: zone, intervalMinutes: minutes } = community(state)!);
    return planFlexOrder(state, o.request, o.order, atMs);
  }, o.dryRun === true);
  const b = r.body;
  const energyWh = b.ordered.reduce((s, x) => s + x.powerW.reduce((t, p) => t + averagePowerToWh(Math.abs(p), minutes), 0), 0);
  const ordered = b.ordered.length
    ? table(b.ordered.map((x) => [x.offer, short(x.provider), `${x.factorPct} %`, x.powerW.join(','), x.reboundW.length ? x.reboundW.join(',') : '-']), ['ordered offer', 'provider', 'factor', 'W per ISP', 'rebound W'])
    : 'no offer ordered: the request stays unfilled';
  return {
    json: { entry: r.entry, dryRun: o.dryRun === true, issuedAt: r.issuedAt, ...b, energyWh },
    text: [
      `${o.dryRun ? 'dry run: would order' : `order ${b.order} recorded in entry ${r.entry}:`} request ${b.request} at ${r.issuedAt}, merit order (pay-as-bid; local time ${zone}):`,
      meritTable(b.merit, zone),
      '',
      ordered,
      `cost at most ${money(b.costMicro)} for ${kwh(energyWh)} kWh (${b.costMicro} micro-units)`,
    ].join('\n'),
  };
}

// ---------------------------------------------------------------------------- flex settle

function settlementTable(lines: readonly SettlementLine[], zone: string, isps: boolean): string {
  const head = table(lines.map((l) => [
    l.order, l.offer, short(l.provider), l.feeder, kwh(l.deliveredWh), kwh(l.deficiencyWh), money(l.revenueMicro), money(l.penaltyMicro), money(l.reliefMicro), money(l.netMicro),
  ]), ['order', 'offer', 'provider', 'feeder', 'delivered kWh', 'deficiency kWh', 'revenue', 'penalty', 'relief', 'net']);
  if (!isps) return head;
  const rows = lines.flatMap((l) => l.isps.map((x) => [l.offer, local(x.start, zone), x.baselineWh, x.orderedWh, x.actualWh, x.deliveredWh, x.deficiencyWh]));
  return `${head}\n\n${table(rows, ['offer', 'ISP', 'baseline Wh', 'ordered Wh', 'actual Wh', 'delivered Wh', 'deficiency Wh'])}`;
}

/** settleFlex signs flex.settle for a month (DSO, or the operator with --key): every order of the month settled from DSO readings and the offers' baselines. */
export async function settleFlex(o: Signing & { month: string; dryRun?: boolean; isps?: boolean }): Promise<Shown> {
  const month = checkMonth(o.month);
  let zone = '';
  let plan: FlexMonth | undefined;
  const r = await append(o, dsoKeyPath(o.db), 'flex.settle', (state) => {
    zone = community(state)!.timeZone;
    plan = planFlexSettle(state, month);
    return flexSettleBody(plan);
  }, o.dryRun === true);
  const b = r.body;
  const lines = plan!.lines;
  return {
    // The signed body holds the totals and the lines' root; the JSON shows the lines it commits to.
    json: { entry: r.entry, dryRun: o.dryRun === true, ...b, lines },
    text: [
      `${o.dryRun ? 'dry run: would settle' : 'settled'} flexibility of ${month}${r.entry === null ? '' : ` in entry ${r.entry}`}: ${lines.length} line(s), net paid by the DSO ${money(b.totalMicro)}, lines root ${b.linesRoot}; local time ${zone}`,
      settlementTable(lines, zone, o.isps === true),
    ].join('\n'),
  };
}

// ---------------------------------------------------------------------------- flex report

/** reportPage: a self-contained HTML page of a request (src/charts/svg.ts): the feeder's load against its limits, then requested, ordered and delivered per interval. */
export function reportPage(v: RequestView, zone: string): string {
  const r = v.request;
  const xs = v.intervals;
  const ends: [string, string] | undefined = xs.length ? [local(xs[0]!.start, zone), local(xs.at(-1)!.start, zone)] : undefined;
  // The limit the request relieves: the import limit, or the export limit as a negative load.
  const limit = r.direction === 'reduce-import'
    ? { name: 'import limit', color: '#c0392b', values: xs.map((x) => x.importLimitW) }
    : { name: 'export limit (as negative load)', color: '#c0392b', values: xs.map((x) => (x.exportLimitW === null ? null : -x.exportLimitW)) };
  const limits = limit.values.some((v) => v !== null) ? [limit] : [];
  const bars = xs.flatMap((x) => {
    const at = local(x.start, zone).slice(11);
    return [
      { label: `${at} requested (min)`, value: x.requestedMinW },
      { label: `${at} ordered`, value: x.orderedW },
      ...(x.deliveredW === null ? [] : [{ label: `${at} delivered`, value: x.deliveredW }]),
    ];
  });
  const title = `Flexibility request ${r.request} on ${r.feeder}`;
  const rows = xs.map((x) => `<tr><td>${esc(local(x.start, zone))}</td><td>${x.loadW ?? ''}</td><td>${x.forecastW ?? ''}</td><td>${x.importLimitW ?? ''}</td><td>${x.exportLimitW ?? ''}</td>`
    + `<td>${x.requestedMinW}–${x.requestedMaxW}</td><td>${x.orderedW}</td><td>${x.deliveredW ?? ''}</td></tr>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:1040px;margin:2em auto;padding:0 1em;color:#222}.chart{width:100%;height:auto}.legend span{margin-right:1.5em}.legend i{display:inline-block;width:.8em;height:.8em;margin-right:.3em;vertical-align:middle}td,th{padding:.2em .8em;text-align:right}</style></head>
<body><h1>${esc(title)}</h1>
<p>${esc(r.direction)}, ${xs.length} ISP(s) from ${esc(local(r.start, zone))} (${esc(zone)}); max price ${perKwh(r.maxPriceMicroPerKwh)}/kWh, penalty ${perKwh(r.penaltyMicroPerKwh)}/kWh; status ${esc(r.status)}${v.order ? `, order ${esc(v.order.order)} (at most ${money(v.order.costMicro)})` : ''}${v.settlement.length ? `; settled: net paid by the DSO ${money(v.costMicro)}` : ''}</p>
<h2>Feeder load against its limit (W, positive = consumption)</h2>
${lineChart('load', [
    { name: 'metered load', color: '#2c3e50', values: xs.map((x) => x.loadW) },
    { name: 'DSO forecast', color: '#7f8c8d', values: xs.map((x) => x.forecastW) },
    ...limits,
  ], ends)}
<h2>Flexibility requested, ordered and delivered per interval (W)</h2>
${barChart('flex', bars)}
<table><tr><th>interval</th><th>load W</th><th>forecast W</th><th>import limit W</th><th>export limit W</th><th>requested W</th><th>ordered W</th><th>delivered W</th></tr>
${rows}</table>
<p>Delivered flexibility is the settlement's (USEF: baseline minus metered, at most the ordered), as an average power over the interval.</p>
</body></html>
`;
}

/** reportRequest: the request view (requestView) interval by interval; with --html also an SVG chart page. */
export function reportRequest(o: { db: string; request: string; html?: string }): Promise<Shown<RequestView>> {
  return withLedger(o.db, (ledger) => {
    const zone = community(ledger.state)!.timeZone;
    const v = requestView(ledger.state, o.request);
    if (!v) throw usage('request', `names no request (got "${o.request}")`);
    if (o.html) writeFileSync(o.html, reportPage(v, zone));
    const r = v.request;
    const rows = v.intervals.map((x) => [
      local(x.start, zone), x.loadW ?? '-', x.forecastW ?? '-', x.importLimitW ?? '-', x.exportLimitW ?? '-', `${x.requestedMinW}-${x.requestedMaxW}`, x.orderedW, x.deliveredW ?? '-',
    ]);
    return {
      json: v,
      text: [
        `request ${r.request} on ${r.feeder} (${r.direction}), ${r.status}${v.order ? `, order ${v.order.order} at most ${money(v.order.costMicro)}` : ''}; ${v.offers.length} offer(s); local time ${zone}`,
        table(rows, ['interval', 'load W', 'forecast W', 'import limit W', 'export limit W', 'requested W', 'ordered W', 'delivered W']),
        ...(v.order ? ['', meritTable(v.order.merit, zone)] : []),
        ...(v.settlement.length ? ['', settlementTable(v.settlement, zone, false), `settled: net paid by the DSO ${money(v.costMicro)}`] : []),
        ...(o.html ? [`wrote ${o.html}`] : []),
      ].join('\n'),
    };
  });
}

// ---------------------------------------------------------------------------- flex earnings

/** The providers with an order line or a settlement line in the month, in order of appearance. */
function providersOf(state: State, month: string, zone: string): string[] {
  const seen = new Set<string>();
  for (const l of state.get<SettlementRow>('flex_settlements', month)?.lines ?? []) seen.add(l.provider);
  for (const o of [...state.rows('flex_orders')] as OrderRow[]) {
    if (localDateOf(parseInstant(o.start), zone).slice(0, 7) === month) for (const x of o.ordered) seen.add(x.provider);
  }
  return [...seen];
}

/** flexEarnings: what providers earned from flexibility in a month (earnings()), one provider with --provider, else every one with an order. */
export function flexEarnings(o: { db: string; month: string; provider?: string }): Promise<Shown<{ month: string; providers: Earnings[] }>> {
  const month = checkMonth(o.month);
  const provider = o.provider === undefined ? undefined : participantKey(o.provider, 'provider');
  return withLedger(o.db, (ledger) => {
    const zone = community(ledger.state)!.timeZone;
    const providers = (provider ? [provider] : providersOf(ledger.state, month, zone)).map((p) => earnings(ledger.state, month, p));
    const rows = providers.map((e) => [short(e.provider), e.settled ? 'settled' : 'open', kwh(e.orderedWh), kwh(e.deliveredWh), kwh(e.deficiencyWh), money(e.revenueMicro), money(e.penaltyMicro), money(e.reliefMicro), money(e.netMicro)]);
    return {
      json: { month, providers },
      text: [
        `flexibility earnings of ${month}${provider ? ` of ${provider}` : ''}`,
        table(rows, ['provider', 'month', 'ordered kWh', 'delivered kWh', 'deficiency kWh', 'revenue', 'penalty', 'relief', 'net']),
      ].join('\n'),
    };
  });
}
