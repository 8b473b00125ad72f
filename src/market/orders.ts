import { z } from 'zod';
import { community } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import { type Direction, findMeter } from '../metering/meter-register.ts';
import { latestTime } from '../state/apply.ts';
import { type ApplyContext, defineTx } from '../state/registry.ts';
import type { Json, Row, State } from '../state/tables.ts';
import { formatInstant, localDateOf, localDay, localMinuteOfDay, MS_PER_MINUTE, parseInstant, parseIntervalStart } from '../units/index.ts';
import { isoInstant, MAX_PRICE, price } from './configure.ts';
import { type MarketConfigRow, marketConfig, ORDERS_TABLE, type OrderRow, STANDING_ORDERS_TABLE, type StandingOrderRow } from './tables.ts';

const MAX_WH = 1e12;

export const conditionsSchema = z.strictObject({
  within: z.enum(['local', 'feeder', 'substation']).optional(),
  renewableOnly: z.boolean().optional(),
  maxFeeMicroPerKwh: z.number().int().min(0).max(MAX_PRICE).optional(),
});

const side = z.enum(['buy', 'sell']);
const meter = z.string().min(1).max(64);
const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'must be HH:MM (00:00 to 24:00)');
const date = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD');

/** The meter an order delivers to must be the actor's, in the order's direction: buy = import, sell = export. */
function checkMeter(state: State, actor: string, s: 'buy' | 'sell', id: string): void {
  const direction: Direction = s === 'buy' ? 'import' : 'export';
  const m = findMeter(state, id, direction);
  if (!m) throw new OpenlecError('E_UNKNOWN_METER', `meter ${id} has no ${direction} curve registered (a ${s} order needs one)`, { field: 'body.meter' });
  if (m.owner !== actor) throw new OpenlecError('E_METER_OWNER', `meter ${id} (${direction}) belongs to another participant`, { field: 'body.meter' });
}

function checkConditions(s: 'buy' | 'sell', conditions: z.infer<typeof conditionsSchema> | undefined): void {
  if (s === 'sell' && conditions?.renewableOnly) throw new OpenlecError('E_ORDER_CONDITIONS', 'renewableOnly is a condition on sellers: only buy orders may set it', { field: 'body.conditions.renewableOnly' });
}

function checkPrice(cfg: MarketConfigRow, limit: number): void {
  if (limit < cfg.feedInMicroPerKwh || limit > cfg.retailMicroPerKwh) {
    throw new OpenlecError('E_ORDER_PRICE', `limit price ${limit} is outside [${cfg.feedInMicroPerKwh}, ${cfg.retailMicroPerKwh}], the community's feed-in and retail prices (micro per kWh)`, {
      field: 'body.limitMicroPerKwh', details: { feedIn: cfg.feedInMicroPerKwh, retail: cfg.retailMicroPerKwh },
    });
  }
}

/** gateClosure is the instant after which the book of the interval starting at `start` takes no order. */
export function gateClosure(cfg: MarketConfigRow, start: number): number {
  return start - cfg.gateClosureMinutes * MS_PER_MINUTE;
}

/** standingApplies reports whether a standing order puts an order in the book whose local date, minute and gate closure are given. */
export function standingApplies(s: StandingOrderRow, date: string, minute: number, closes: string, cfg: MarketConfigRow): boolean {
  const at = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
  return s.placedAt <= closes && (s.cancelledAt === null || s.cancelledAt > closes) && s.fromDate <= date && date <= s.toDate
    && at(s.window.start) <= minute && minute < at(s.window.end)
    && s.limitMicroPerKwh >= cfg.feedInMicroPerKwh && s.limitMicroPerKwh <= cfg.retailMicroPerKwh;
}

/**
 * A standing order starts (or ends) at its issuedAt, the time the log keeps and replay
 * judges. At admission that time may lie a little before the operator's (within the
 * clock skew the server allows), and a gate that closed in between would let a member
 * add a rule to, or take one out of, a book that was already closed when the server
 * received it. Such a transaction is refused, to be signed again with the current time.
 * Without an admission time (replay) there is nothing to check.
 */
function refuseGateClosedSinceIssued(ctx: ApplyContext, s: StandingOrderRow): void {
  const issued = parseInstant(ctx.tx.issuedAt, 'issuedAt');
  if (ctx.now === undefined || ctx.now <= issued) return;
  const { state } = ctx;
  const c = community(state)!;
  const step = c.intervalMinutes * MS_PER_MINUTE;
  const gates = new Set<number>();
  for (const r of state.rows('market_config')) gates.add((r as unknown as MarketConfigRow).gateClosureMinutes);
  for (const minutes of gates) {
    // The books whose gate (start - minutes) closed in [issued, now) start in [issued + minutes, now + minutes).
    const lead = minutes * MS_PER_MINUTE;
    for (let start = Math.ceil((issued + lead) / step) * step; start < ctx.now + lead; start += step) {
      const iso = formatInstant(start);
      const cfg = marketConfig(state, iso);
      if (!cfg || cfg.gateClosureMinutes !== minutes || state.has('clearings', iso)) continue;
      const closes = formatInstant(gateClosure(cfg, start));
      if (standingApplies(s, localDateOf(start, c.timeZone), localMinuteOfDay(start, c.timeZone), closes, cfg)) {
        throw new OpenlecError('E_GATE_CLOSED', `the gate of ${iso} closed at ${closes}, after this transaction's issuedAt (${ctx.tx.issuedAt}) but before the server received it: sign it again with the current time`, { field: 'issuedAt' });
      }
    }
  }
}

/** openBook returns the config of an ex-ante book still open at `now`, or throws naming why not. */
function openBook(state: State, start: number, now: number, field: string): MarketConfigRow {
  const iso = formatInstant(start);
  const cfg = marketConfig(state, iso);
  if (!cfg) throw new OpenlecError('E_NO_MARKET', `no market is configured for ${iso} (market.configure)`, { field });
  if (state.has('clearings', iso)) throw new OpenlecError('E_BOOK_CLEARED', `the book of ${iso} is already cleared`, { field });
  if (start < now) throw new OpenlecError('E_ORDER_PAST', `interval ${iso} has already started`, { field });
  if (now > gateClosure(cfg, start)) {
    throw new OpenlecError('E_GATE_CLOSED', `the gate of ${iso} closed at ${formatInstant(gateClosure(cfg, start))} (${cfg.gateClosureMinutes} min before delivery)`, { field });
  }
  return cfg;
}

/**
 * order.place: a participant's order for one delivery interval, in Wh and micro per kWh,
 * on one of its meters. Refused for a past interval, after gate closure, outside the
 * community's price bounds, or when the market runs ex-post (orders come from metering).
 */
export const orderPlace = defineTx({
  type: 'order.place',
  roles: ['member', 'operator'],
  tables: [ORDERS_TABLE],
  body: z.strictObject({
    side,
    interval: isoInstant,
    quantityWh: z.number().int().min(1, 'must be a positive number of Wh').max(MAX_WH),
    limitMicroPerKwh: price,
    meter,
    conditions: conditionsSchema.optional(),
  }),
  apply(ctx, body) {
    const { state, tx, entry } = ctx;
    const c = community(state)!;
    const start = parseIntervalStart(body.interval, c.intervalMinutes, 'body.interval');
    const cfg = openBook(state, start, latestTime(ctx), 'body.interval');
    if (cfg.mode !== 'ex-ante') throw new OpenlecError('E_MARKET_MODE', `the market of ${formatInstant(start)} matches metered values ex-post: send a standing order instead`, { field: 'type' });
    checkPrice(cfg, body.limitMicroPerKwh);
    checkMeter(state, tx.actor, body.side, body.meter);
    checkConditions(body.side, body.conditions);
    state.put('orders', {
      id: `o${entry}`, owner: tx.actor, side: body.side, interval: formatInstant(start), quantityWh: body.quantityWh, limitMicroPerKwh: body.limitMicroPerKwh,
      meter: body.meter, conditions: (body.conditions ?? null) as Json, status: 'open', entry,
    });
  },
});

/** ownOrder finds an order (or standing order) of the actor, or throws naming why not. */
function ownOrder<R extends { owner: string }>(state: State, table: 'orders' | 'standing_orders', id: string, actor: string): R {
  const label = table === 'orders' ? 'order' : 'standing order';
  const o = state.get(table, id) as R | undefined;
  if (!o) throw new OpenlecError('E_UNKNOWN_ORDER', `${label} ${id} does not exist`, { field: 'body.order' });
  if (o.owner !== actor) throw new OpenlecError('E_ORDER_OWNER', `${label} ${id} belongs to another participant`, { field: 'body.order' });
  return o;
}

/** order.cancel withdraws an open order of the actor before its gate closes. */
export const orderCancel = defineTx({
  type: 'order.cancel',
  roles: ['member', 'operator'],
  tables: [ORDERS_TABLE],
  body: z.strictObject({ order: z.string().regex(/^o\d+$/, 'must be an order id such as o42') }),
  apply(ctx, body) {
    const { state, tx } = ctx;
    const o = ownOrder<OrderRow>(state, 'orders', body.order, tx.actor);
    if (o.status !== 'open') throw new OpenlecError('E_ORDER_STATUS', `order ${body.order} is already ${o.status}`, { field: 'body.order' });
    openBook(state, parseInstant(o.interval), latestTime(ctx), 'body.order');
    state.put('orders', { ...o, status: 'cancelled' } as unknown as Row);
  },
});

/**
 * order.standing: a rule that places an order in every interval whose local date lies in
 * [fromDate, toDate] and whose local start time lies in the daily window, e.g. "sell all my
 * surplus at no less than 8 c/kWh" (quantity null, ex-post) or "buy up to 3 kWh per
 * interval between 10:00 and 16:00 at no more than 18 c/kWh". The market expands it when
 * each book closes, only into books whose gate closes after the rule was placed.
 */
export const orderStanding = defineTx({
  type: 'order.standing',
  roles: ['member', 'operator'],
  tables: [STANDING_ORDERS_TABLE],
  body: z.strictObject({
    side,
    meter,
    fromDate: date,
    toDate: date,
    window: z.strictObject({ start: hhmm, end: hhmm }).default({ start: '00:00', end: '24:00' }),
    quantityWh: z.number().int().min(1, 'must be a positive number of Wh, or null for all metered energy').max(MAX_WH).nullable(),
    limitMicroPerKwh: price,
    conditions: conditionsSchema.optional(),
  }),
  apply(ctx, body) {
    const { state, tx, entry } = ctx;
    const c = community(state)!;
    localDay(body.fromDate, c.timeZone);
    localDay(body.toDate, c.timeZone);
    if (body.toDate < body.fromDate) throw new OpenlecError('E_EMPTY_RANGE', `body.toDate (${body.toDate}) is before body.fromDate (${body.fromDate})`, { field: 'body.toDate' });
    if (body.window.end <= body.window.start) throw new OpenlecError('E_EMPTY_RANGE', `the window ends (${body.window.end}) before it starts (${body.window.start})`, { field: 'body.window.end' });
    const first = formatInstant(localDay(body.fromDate, c.timeZone).startMs);
    const cfg = marketConfig(state, first) ?? marketConfig(state, tx.issuedAt);
    if (!cfg) throw new OpenlecError('E_NO_MARKET', `no market is configured for ${body.fromDate} (market.configure)`, { field: 'body.fromDate' });
    checkPrice(cfg, body.limitMicroPerKwh);
    checkMeter(state, tx.actor, body.side, body.meter);
    checkConditions(body.side, body.conditions);
    const row: StandingOrderRow = {
      id: `s${entry}`, owner: tx.actor, side: body.side, meter: body.meter, fromDate: body.fromDate, toDate: body.toDate, window: body.window,
      quantityWh: body.quantityWh, limitMicroPerKwh: body.limitMicroPerKwh, conditions: body.conditions ?? null, placedAt: tx.issuedAt, cancelledAt: null, entry,
    };
    refuseGateClosedSinceIssued(ctx, row);
    state.put('standing_orders', row as unknown as Row);
  },
});

/** standing.cancel ends a standing order: books whose gate closes after now no longer get its orders. */
export const standingCancel = defineTx({
  type: 'standing.cancel',
  roles: ['member', 'operator'],
  tables: [STANDING_ORDERS_TABLE],
  body: z.strictObject({ order: z.string().regex(/^s\d+$/, 'must be a standing order id such as s42') }),
  apply(ctx, body) {
    const { state, tx } = ctx;
    const s = ownOrder<StandingOrderRow>(state, 'standing_orders', body.order, tx.actor);
    if (s.cancelledAt !== null) throw new OpenlecError('E_ORDER_STATUS', `standing order ${body.order} was cancelled at ${s.cancelledAt}`, { field: 'body.order' });
    refuseGateClosedSinceIssued(ctx, s);
    state.put('standing_orders', { ...s, cancelledAt: tx.issuedAt } as unknown as Row);
  },
});
