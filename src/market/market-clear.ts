import { z } from 'zod';
import { community } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import { canonicalJson } from '../ledger/index.ts';
import { earliestTime } from '../state/apply.ts';
import { defineTx } from '../state/registry.ts';
import { formatInstant, parseIntervalStart } from '../units/index.ts';
import { clearAtOnce, recordsText } from './book.ts';
import { MECHANISMS } from './clear-book.ts';
import { isoInstant } from './configure.ts';
import { gateClosure } from './orders.ts';
import { CLEARINGS_TABLE, marketConfig, MODES } from './tables.ts';

const int = z.number().int();

/**
 * market.clear records the clearing of one interval's book: the rule used, the price,
 * volume, fees, and the number and Merkle root of the trades. Its apply gathers the book from the log (orders,
 * standing orders or metered values, network fees and limits in force) and clears it
 * again, refusing any difference: `openlec verify` recomputes every clearing. An
 * interval is cleared once, after its gate closes: at admission by both the issuedAt and
 * the server's clock (earlier is stricter here), so no book is closed while members may
 * still place orders in it.
 */
export const marketClear = defineTx({
  type: 'market.clear',
  roles: ['operator'],
  tables: [CLEARINGS_TABLE],
  body: z.strictObject({
    interval: isoInstant,
    mode: z.enum(MODES),
    mechanism: z.enum(MECHANISMS),
    path: z.enum(['fast', 'flow', 'walk', 'sequential']),
    orders: int,
    priceMicroPerKwh: int.nullable(),
    volumeWh: int,
    feesMicro: int,
    surplusMicro: int,
    trades: int,
    tradesRoot: z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 hex digest'),
  }),
  apply(ctx, body) {
    const { state, entry } = ctx;
    const start = parseIntervalStart(body.interval, community(state)!.intervalMinutes, 'body.interval');
    const iso = formatInstant(start);
    if (state.has('clearings', iso)) throw new OpenlecError('E_BOOK_CLEARED', `the book of ${iso} is already cleared`, { field: 'body.interval' });
    // The gate is checked before the book is cleared again; without rules, clearAt names the missing market.
    const cfg = marketConfig(state, iso);
    const closes = cfg ? gateClosure(cfg, start) : -Infinity;
    if (earliestTime(ctx) < closes) throw new OpenlecError('E_GATE_OPEN', `the gate of ${iso} closes at ${formatInstant(closes)}: the book is still open`, { field: 'body.interval' });
    const { body: want, texts } = clearAtOnce(state, start);
    for (const field of Object.keys(want) as (keyof typeof want)[]) {
      if (field === 'interval') continue;
      if (canonicalJson(want[field]) !== canonicalJson(body[field])) {
        const detail = `recorded ${canonicalJson(body[field])}, recomputed ${canonicalJson(want[field])}`;
        throw new OpenlecError('E_CLEARING_MISMATCH', `clearing of ${iso}: ${field} differs from the recomputation from the log: ${detail}`, { field: `body.${field}` });
      }
    }
    const { tradesRoot: _root, trades: _count, ...summary } = want;
    state.put('clearings', { ...summary, interval: iso, trades: recordsText(texts), entry });
  },
});

