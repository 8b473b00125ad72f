import { z } from 'zod';
import { actorKey } from '../community/community-create.ts';
import { community, participant } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import { isoInstant, MAX_PRICE, price } from '../market/configure.ts';
import { findMeter } from '../metering/meter-register.ts';
import { feeder as findFeeder, feederId } from '../network/feeder-define.ts';
import { latestTime } from '../state/apply.ts';
import { type ApplyContext, defineTx } from '../state/registry.ts';
import type { State } from '../state/tables.ts';
import { formatInstant, MS_PER_MINUTE, parseInstant, parseIntervalStart } from '../units/index.ts';
import { baselineProblem } from './baseline.ts';
import { assetFeeder, isUnder } from './network.ts';
import {
  ASSET_KINDS, ASSETS_TABLE, isStorage, type AssetRow, DIRECTIONS, DOUBLE_CHARGING, FLEX_CONFIG_TABLE, type FlexDirection, findAsset, findOffer, findRequest, OFFERS_TABLE, ORDERS_TABLE,
  METER_OFFERS_TABLE, type MeterOfferRow, REQUESTS_TABLE, type RequestIsp, type RequestRow, SETTLEMENTS_TABLE,
} from './tables.ts';

/** Identifiers of requests, offers, orders and assets: they also serve as OpenADR object IDs. */
export const flexId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1 to 64 letters, digits, "_" or "-"');
/** The most ISPs one request spans: two days of 15-minute intervals. */
export const MAX_ISPS = 192;
/** The longest window (ISPs and rebound) an acceptance check looks at. */
export const MAX_WINDOW = 384;
const MAX_W = 1_000_000_000; // 1 GW: far above any feeder of a community
const watts = z.number().int().min(-MAX_W).max(MAX_W);

const ALL_TABLES = [ASSETS_TABLE, FLEX_CONFIG_TABLE, REQUESTS_TABLE, OFFERS_TABLE, METER_OFFERS_TABLE, ORDERS_TABLE, SETTLEMENTS_TABLE];

/** The assets' meter must be registered; its owner owns the asset. */
function meterOwner(state: State, meter: string): string | undefined {
  return (findMeter(state, meter, 'import') ?? findMeter(state, meter, 'export'))?.owner;
}

/**
 * asset.register declares a flexible asset behind a member's metering point: a battery
 * (power and usable energy), an EV on a bidirectional V2G charger (power and the energy
 * its owner lets it give back: it discharges like a battery), an EV charger, a heat pump, a water heater, or PV that can
 * be curtailed. Its owner is the meter's owner; a member registers their own assets, the
 * operator or DSO anyone's. `aggregator` delegates it: only that aggregator may then offer
 * it. Sizes and kinds only: no personal data.
 */
export const assetRegister = defineTx({
  type: 'asset.register',
  roles: ['member', 'operator', 'dso'],
  tables: ALL_TABLES,
  body: z.strictObject({
    asset: flexId,
    meter: z.string().min(1).max(64),
    kind: z.enum(ASSET_KINDS),
    powerW: z.number().int().min(1).max(MAX_W),
    capacityWh: z.number().int().min(1).max(1e12).nullable().default(null),
    aggregator: actorKey.nullable().default(null),
  }),
  apply({ state, tx, entry }, body) {
    if (findAsset(state, body.asset)) throw new OpenlecError('E_ASSET_EXISTS', `asset ${body.asset} is already registered`, { field: 'body.asset' });
    const owner = meterOwner(state, body.meter);
    if (!owner) throw new OpenlecError('E_UNKNOWN_METER', `meter ${body.meter} is not registered`, { field: 'body.meter' });
    const actor = participant(state, tx.actor)!;
    if (owner !== tx.actor && !actor.roles.some((r) => r === 'operator' || r === 'dso')) {
      throw new OpenlecError('E_METER_OWNER', `meter ${body.meter} belongs to another participant: a member registers assets behind their own meter`, { field: 'body.meter' });
    }
    if (isStorage(body.kind) !== (body.capacityWh !== null)) {
      throw new OpenlecError('E_ASSET_CAPACITY', isStorage(body.kind) ? `a ${body.kind} needs capacityWh, the energy it may give back` : `capacityWh is for storage (battery, ev-v2g) only, not a ${body.kind}`, { field: 'body.capacityWh' });
    }
    if (body.aggregator !== null && !participant(state, body.aggregator)?.roles.includes('aggregator')) {
      throw new OpenlecError('E_NOT_AGGREGATOR', `${body.aggregator} is not a participant with the aggregator role`, { field: 'body.aggregator' });
    }
    state.put('flex_assets', { ...body, owner, entry });
  },
});

/**
 * flex.configure (operator): the community's double-charging rule. With `refund`, the
 * network fee on the energy a battery delivered to a DSO order (energy it imported to
 * serve the grid) is refunded by the DSO in the settlement, so it is not charged twice;
 * with `charged` it is not.
 */
export const flexConfigure = defineTx({
  type: 'flex.configure',
  roles: ['operator'],
  tables: ALL_TABLES,
  body: z.strictObject({ doubleCharging: z.enum(DOUBLE_CHARGING), networkFeeMicroPerKwh: price }),
  apply({ state, entry }, body) {
    state.put('flex_config', { id: 'flex', ...body, entry });
  },
});

/** needOf: the flexibility a request's ISP asks for, as magnitudes: at least `lo`, at most `hi` W. */
export function needOf(direction: FlexDirection, isp: RequestIsp): { lo: number; hi: number } {
  return direction === 'reduce-import' ? { lo: -isp.maxW, hi: -isp.minW } : { lo: isp.minW, hi: isp.maxW };
}

/** windowOf: how many intervals from the request's start its acceptance check covers. */
export function windowOf(r: Pick<RequestRow, 'isps' | 'forecast'>): number {
  return Math.max(r.isps.length, ...r.forecast.map((f) => f.W.length));
}

function intervalStart(state: State, text: string, field: string): number {
  return parseIntervalStart(text, community(state)!.intervalMinutes, field);
}

/**
 * flex.request (DSO), UFTP FlexRequest: on a congestion point (a feeder), per ISP from
 * `start` the flexibility wanted between minW and maxW (UFTP sign: reduce-import asks for
 * less consumption, so values <= 0; reduce-export for more, values >= 0), the most it
 * pays per kWh, the penalty per kWh of deficiency, the gate for offers (`expires`, before
 * the first ISP, not in the past at the operator's time) and its forecast of feeders'
 * net power over the window the acceptance check of orders looks at.
 */
export const flexRequest = defineTx({
  type: 'flex.request',
  roles: ['dso'],
  tables: ALL_TABLES,
  body: z.strictObject({
    request: flexId,
    feeder: feederId,
    direction: z.enum(DIRECTIONS),
    start: isoInstant,
    isps: z.array(z.strictObject({ minW: watts, maxW: watts })).min(1).max(MAX_ISPS),
    maxPriceMicroPerKwh: price,
    penaltyMicroPerKwh: price,
    expires: isoInstant,
    forecast: z.array(z.strictObject({ feeder: feederId, W: z.array(watts).min(1).max(MAX_WINDOW) })).max(64).default([]),
  }),
  apply(ctx, body) {
    const { state, tx, entry } = ctx;
    if (findRequest(state, body.request)) throw new OpenlecError('E_FLEX_EXISTS', `request ${body.request} already exists`, { field: 'body.request' });
    if (!findFeeder(state, body.feeder)) throw new OpenlecError('E_UNKNOWN_FEEDER', `feeder ${body.feeder} is not defined`, { field: 'body.feeder' });
    const start = intervalStart(state, body.start, 'body.start');
    const expires = parseInstant(body.expires, 'body.expires');
    const now = latestTime(ctx);
    if (expires > start) throw new OpenlecError('E_FLEX_GATE', `the gate for offers (${body.expires}) must not be after the first ISP (${formatInstant(start)})`, { field: 'body.expires' });
    if (expires <= now) throw new OpenlecError('E_FLEX_GATE', `the gate for offers (${body.expires}) has passed (now ${formatInstant(now)})`, { field: 'body.expires' });
    let wanted = false;
    body.isps.forEach((isp, i) => {
      if (isp.minW > isp.maxW) throw new OpenlecError('E_FLEX_ISP', `ISP ${i + 1}: minW ${isp.minW} is above maxW ${isp.maxW}`, { field: `body.isps.${i}` });
      const wrong = body.direction === 'reduce-import' ? isp.maxW > 0 : isp.minW < 0;
      if (wrong) throw new OpenlecError('E_FLEX_DIRECTION', `ISP ${i + 1}: ${body.direction} asks for ${body.direction === 'reduce-import' ? 'less consumption: powers <= 0' : 'more consumption: powers >= 0'} (UFTP sign)`, { field: `body.isps.${i}` });
      if (needOf(body.direction, isp).hi > 0) wanted = true;
    });
    if (!wanted) throw new OpenlecError('E_FLEX_ISP', 'the request asks for no flexibility in any ISP', { field: 'body.isps' });
    const seen = new Set<string>();
    body.forecast.forEach((f, i) => {
      if (!findFeeder(state, f.feeder)) throw new OpenlecError('E_UNKNOWN_FEEDER', `forecast ${i}: feeder ${f.feeder} is not defined`, { field: `body.forecast.${i}.feeder` });
      if (seen.has(f.feeder)) throw new OpenlecError('E_FLEX_FORECAST', `forecast ${i}: feeder ${f.feeder} appears twice`, { field: `body.forecast.${i}.feeder` });
      seen.add(f.feeder);
      if (f.W.length < body.isps.length) throw new OpenlecError('E_FLEX_FORECAST', `forecast ${i}: ${f.W.length} values do not cover the ${body.isps.length} ISPs`, { field: `body.forecast.${i}.W` });
    });
    state.put('flex_requests', { ...body, start: formatInstant(start), dso: tx.actor, status: 'open', order: null, entry });
  },
});

const baselineSchema = z.discriminatedUnion('method', [
  z.strictObject({ method: z.literal('nomination'), wh: z.array(z.number().int().min(-1e12).max(1e12)).min(1).max(MAX_ISPS) }),
  z.strictObject({ method: z.literal('mbma') }),
  z.strictObject({ method: z.literal('x-of-y'), x: z.number().int().min(1).max(30), y: z.number().int().min(1).max(30), pick: z.enum(['high', 'mid']), adjustIntervals: z.number().int().min(0).max(8).default(0) }),
  z.strictObject({ method: z.literal('rolling'), days: z.number().int().min(1).max(30) }),
]);

/** Whether the actor may offer an asset: its owner when not delegated, else only its aggregator. */
function checkOfferable(a: AssetRow, actor: string, field: string): void {
  const offerer = a.aggregator ?? a.owner;
  if (offerer !== actor) {
    throw new OpenlecError('E_ASSET_NOT_YOURS', a.aggregator ? `asset ${a.asset} is delegated to aggregator ${a.aggregator}: only it may offer the asset` : `asset ${a.asset} belongs to another member`, { field });
  }
}

/** offerDirection: reduce-import when every power is <= 0, reduce-export when every one is >= 0. */
export function offerDirection(powerW: readonly number[]): FlexDirection | null {
  if (powerW.every((p) => p <= 0)) return 'reduce-import';
  if (powerW.every((p) => p >= 0)) return 'reduce-export';
  return null;
}

/**
 * flex.offer (member or aggregator), UFTP FlexOffer with one option: the assets it
 * activates (the actor's own, or delegated to it), per ISP the flexibility in W, the
 * rebound after the last ISP (opposite sign: an EV charges later), the price per kWh
 * (pay-as-bid), the smallest activation factor it accepts, the baseline it will be
 * measured against and until when it holds. Solicited: answers an open request before its
 * gate, with the request's start and ISP count. Unsolicited (`request: null`): names its
 * congestion point and start; any request with the same start and ISP count on that feeder
 * or above it may order it. The assets must hang on the congestion point or below it.
 */
export const flexOffer = defineTx({
  type: 'flex.offer',
  roles: ['member', 'aggregator'],
  tables: ALL_TABLES,
  body: z.strictObject({
    offer: flexId,
    request: flexId.nullable().default(null),
    feeder: feederId,
    start: isoInstant,
    assets: z.array(flexId).min(1).max(200).refine((a) => new Set(a).size === a.length, 'assets must not repeat'),
    powerW: z.array(watts).min(1).max(MAX_ISPS),
    reboundW: z.array(watts).max(MAX_WINDOW).default([]),
    priceMicroPerKwh: z.number().int().min(0).max(MAX_PRICE),
    minActivationPct: z.number().int().min(1).max(100).default(100),
    baseline: baselineSchema,
    validUntil: isoInstant,
  }),
  apply(ctx: ApplyContext, body) {
    const { state, tx, entry } = ctx;
    if (findOffer(state, body.offer)) throw new OpenlecError('E_FLEX_EXISTS', `offer ${body.offer} already exists`, { field: 'body.offer' });
    if (!findFeeder(state, body.feeder)) throw new OpenlecError('E_UNKNOWN_FEEDER', `feeder ${body.feeder} is not defined`, { field: 'body.feeder' });
    const start = intervalStart(state, body.start, 'body.start');
    const now = latestTime(ctx);
    const validUntil = parseInstant(body.validUntil, 'body.validUntil');
    if (validUntil <= now) throw new OpenlecError('E_FLEX_EXPIRED', `validUntil ${body.validUntil} has passed (now ${formatInstant(now)})`, { field: 'body.validUntil' });
    if (start <= now) throw new OpenlecError('E_FLEX_GATE', `the offer's first ISP ${formatInstant(start)} has started (now ${formatInstant(now)})`, { field: 'body.start' });
    const direction = offerDirection(body.powerW);
    if (direction === null || body.powerW.every((p) => p === 0)) {
      throw new OpenlecError('E_FLEX_DIRECTION', 'powerW must all be <= 0 (less consumption) or all >= 0 (more consumption), and not all 0', { field: 'body.powerW' });
    }
    if (body.reboundW.some((r) => (direction === 'reduce-import' ? r < 0 : r > 0))) {
      throw new OpenlecError('E_FLEX_DIRECTION', `the rebound moves power the other way: ${direction === 'reduce-import' ? '>= 0' : '<= 0'} for ${direction}`, { field: 'body.reboundW' });
    }
    if (body.request !== null) {
      const r = findRequest(state, body.request);
      if (!r) throw new OpenlecError('E_FLEX_UNKNOWN', `request ${body.request} does not exist`, { field: 'body.request' });
      if (r.status !== 'open') throw new OpenlecError('E_FLEX_CLOSED', `request ${r.request} is ${r.status}: it takes no more offers`, { field: 'body.request' });
      if (now > parseInstant(r.expires)) throw new OpenlecError('E_FLEX_GATE', `the gate for offers on request ${r.request} closed at ${r.expires} (now ${formatInstant(now)})`, { field: 'body.request' });
      if (r.feeder !== body.feeder) throw new OpenlecError('E_FLEX_FEEDER', `request ${r.request} is for feeder ${r.feeder}, not ${body.feeder}`, { field: 'body.feeder' });
      if (r.start !== formatInstant(start)) throw new OpenlecError('E_FLEX_ISP', `the offer starts at ${formatInstant(start)}, request ${r.request} at ${r.start}: the ISP list must equal the request's`, { field: 'body.start' });
      if (body.powerW.length !== r.isps.length) throw new OpenlecError('E_FLEX_ISP', `${body.powerW.length} ISPs offered, request ${r.request} has ${r.isps.length}: the ISP list must equal the request's`, { field: 'body.powerW' });
      if (direction !== r.direction && body.powerW.some((p) => p !== 0)) throw new OpenlecError('E_FLEX_DIRECTION', `request ${r.request} asks to ${r.direction}`, { field: 'body.powerW' });
      if (body.powerW.length + body.reboundW.length > windowOf(r)) {
        throw new OpenlecError('E_FLEX_REBOUND', `the rebound reaches beyond request ${r.request}'s window of ${windowOf(r)} intervals, where the DSO cannot check it`, { field: 'body.reboundW' });
      }
    }
    const problem = baselineProblem(body.baseline, body.powerW.length);
    if (problem) throw new OpenlecError('E_FLEX_BASELINE', `baseline: ${problem}`, { field: 'body.baseline' });
    let powerSum = 0;
    let capacity = 0;
    let batteries = 0;
    body.assets.forEach((id, i) => {
      const a = findAsset(state, id);
      if (!a) throw new OpenlecError('E_UNKNOWN_ASSET', `asset ${id} is not registered`, { field: `body.assets.${i}` });
      checkOfferable(a, tx.actor, `body.assets.${i}`);
      const at = assetFeeder(state, a);
      if (at === null || !isUnder(state, at, body.feeder)) {
        throw new OpenlecError('E_FLEX_LOCATION', `asset ${id} (meter ${a.meter}, feeder ${at ?? 'unknown'}) is not on feeder ${body.feeder} or below it: it cannot relieve that congestion point`, { field: `body.assets.${i}` });
      }
      powerSum += a.powerW;
      if (isStorage(a.kind)) { batteries++; capacity += a.capacityWh ?? 0; }
    });
    const over = [...body.powerW, ...body.reboundW].findIndex((p) => Math.abs(p) > powerSum);
    if (over >= 0) throw new OpenlecError('E_FLEX_POWER', `${Math.abs([...body.powerW, ...body.reboundW][over]!)} W in interval ${over + 1} is above the assets' ${powerSum} W`, { field: over < body.powerW.length ? `body.powerW.${over}` : `body.reboundW.${over - body.powerW.length}` });
    if (batteries === body.assets.length) {
      const minutes = community(state)!.intervalMinutes;
      const energy = body.powerW.reduce((s, p) => s + Math.abs(p) * minutes, 0) / 60;
      if (energy > capacity) throw new OpenlecError('E_FLEX_ENERGY', `the offer moves ${Math.ceil(energy)} Wh, above the batteries' ${capacity} Wh`, { field: 'body.powerW' });
    }
    // One live offer per meter and interval: delivery is measured at the meter.
    const minutes = community(state)!.intervalMinutes;
    const from = formatInstant(start);
    const to = formatInstant(start + (body.powerW.length + body.reboundW.length) * minutes * MS_PER_MINUTE);
    const meters = [...new Set(body.assets.map((id) => findAsset(state, id)!.meter))];
    for (const meter of meters) {
      for (const m of state.lookup<MeterOfferRow>('flex_meter_offers', 'meter', meter)) {
        const other = findOffer(state, m.offer)!;
        const live = other.status === 'ordered' || (other.status === 'open' && parseInstant(other.validUntil) > now);
        if (live && m.from < to && from < m.to) {
          throw new OpenlecError('E_FLEX_METER_OFFERED', `meter ${meter} is already in offer ${m.offer} (${other.status}) for ${m.from}..${m.to}: delivery is measured at the meter, so it can be in one live offer per interval`, { field: 'body.assets' });
        }
      }
    }
    for (const meter of meters) state.put('flex_meter_offers', { meter, offer: body.offer, from, to, entry });
    state.put('flex_offers', { ...body, start: formatInstant(start), provider: tx.actor, status: 'open', entry });
  },
});
