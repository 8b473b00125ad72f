import { z } from 'zod';
import { community } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import { feeder, feederId } from '../network/feeder-define.ts';
import { defineTx } from '../state/registry.ts';
import type { State } from '../state/tables.ts';
import { formatInstant, parseIntervalStart } from '../units/index.ts';
import { MECHANISMS } from './clear-book.ts';
import { PATH_CLASSES } from './network.ts';
import { FEEDER_LIMITS_TABLE, lastCleared, MARKET_CONFIG_TABLE, MODES, TARIFFS_TABLE } from './tables.ts';

export const MAX_PRICE = 1_000_000_000; // 1,000 currency units per kWh
export const price = z.number().int().min(0).max(MAX_PRICE);
export const isoInstant = z.string().min(16).max(40);

/**
 * startOf reads an interval start of the community and checks that rules starting there
 * change no interval already cleared: the log keeps what was, the rules apply onward.
 */
function ruleStart(state: State, text: string, field: string): string {
  const c = community(state)!;
  const from = formatInstant(parseIntervalStart(text, c.intervalMinutes, field));
  const last = lastCleared(state);
  if (from <= last) throw new OpenlecError('E_RULE_RETROACTIVE', `${field}: ${from} is not after the last cleared interval ${last}; rules change only for books still open`, { field });
  return from;
}

/**
 * market.configure sets, from an interval onward, how the community's market works:
 * ex-ante orders or ex-post matching of metered values, the clearing mechanism and its
 * k rule, the gate closure lead time, and the residual supplier's prices that bound
 * every order: the feed-in price (what the grid pays for a surplus) and the retail price.
 */
export const marketConfigure = defineTx({
  type: 'market.configure',
  roles: ['operator'],
  tables: [MARKET_CONFIG_TABLE],
  body: z.strictObject({
    from: isoInstant,
    mode: z.enum(MODES),
    mechanism: z.enum(MECHANISMS),
    kPpm: z.number().int().min(0).max(1_000_000).default(500_000),
    gateClosureMinutes: z.number().int().min(0).max(7 * 24 * 60),
    feedInMicroPerKwh: price,
    retailMicroPerKwh: price,
  }),
  apply({ state, entry }, body) {
    const from = ruleStart(state, body.from, 'body.from');
    if (body.feedInMicroPerKwh > body.retailMicroPerKwh) {
      throw new OpenlecError('E_PRICE_BOUNDS', `feed-in price ${body.feedInMicroPerKwh} is above the retail price ${body.retailMicroPerKwh}`, { field: 'body.feedInMicroPerKwh' });
    }
    state.put('market_config', { ...body, from, entry });
  },
});

/**
 * tariff.set: the DSO's network fee per kWh by the path between seller and buyer. Fees
 * may not fall as the path widens (local <= feeder <= substation <= beyond).
 */
export const tariffSet = defineTx({
  type: 'tariff.set',
  roles: ['dso'],
  tables: [TARIFFS_TABLE],
  body: z.strictObject({ from: isoInstant, feesMicroPerKwh: z.strictObject(Object.fromEntries(PATH_CLASSES.map((c) => [c, price])) as Record<(typeof PATH_CLASSES)[number], typeof price>) }),
  apply({ state, entry }, body) {
    const from = ruleStart(state, body.from, 'body.from');
    for (let k = 1; k < PATH_CLASSES.length; k++) {
      const [lo, hi] = [PATH_CLASSES[k - 1]!, PATH_CLASSES[k]!];
      if (body.feesMicroPerKwh[hi] < body.feesMicroPerKwh[lo]) {
        throw new OpenlecError('E_TARIFF_ORDER', `the ${hi} fee (${body.feesMicroPerKwh[hi]}) must not be below the ${lo} fee (${body.feesMicroPerKwh[lo]})`, { field: `body.feesMicroPerKwh.${hi}` });
      }
    }
    state.put('tariffs', { from, feesMicroPerKwh: body.feesMicroPerKwh, entry });
  },
});

const limitW = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable();

/**
 * feeder.limit: the DSO's import and export limits (W, null for none) of a feeder's
 * subtree over [from, to). They override the feeder's standing limits; a later
 * feeder.limit covering the same interval overrides an earlier one.
 */
export const feederLimit = defineTx({
  type: 'feeder.limit',
  roles: ['dso'],
  tables: [FEEDER_LIMITS_TABLE],
  body: z.strictObject({ feeder: feederId, from: isoInstant, to: isoInstant, importLimitW: limitW, exportLimitW: limitW }),
  apply({ state, entry }, body) {
    if (!feeder(state, body.feeder)) throw new OpenlecError('E_UNKNOWN_FEEDER', `feeder "${body.feeder}" is not defined`, { field: 'body.feeder' });
    const from = ruleStart(state, body.from, 'body.from');
    const to = formatInstant(parseIntervalStart(body.to, community(state)!.intervalMinutes, 'body.to'));
    if (to <= from) throw new OpenlecError('E_EMPTY_RANGE', `body.to (${to}) must be after body.from (${from})`, { field: 'body.to' });
    state.put('feeder_limits', { ...body, from, to, entry });
  },
});
