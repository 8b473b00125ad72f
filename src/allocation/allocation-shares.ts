import { z } from 'zod';
import { community } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import { findMeter } from '../metering/meter-register.ts';
import { defineTx } from '../state/registry.ts';
import type { State, TableSpec } from '../state/tables.ts';
import { dayIntervals, localDay } from '../units/index.ts';
import { PPM } from './keys.ts';

/**
 * allocation.shares records the operator's shares for every interval of one local day,
 * for the full dynamic key: per consuming meter, one share in ppm per interval; each
 * interval's shares sum to at most 100 %. A later record of the same day replaces it
 * (before the month is allocated); the log keeps both.
 */
export const SHARES_TABLE: TableSpec = {
  name: 'allocation_shares',
  columns: { date: 'text', sharesPpm: 'json', entry: 'integer' },
  primaryKey: ['date'],
};

export function findShares(state: State, date: string): Record<string, number[]> | undefined {
  return state.get<{ sharesPpm: Record<string, number[]> } & Record<string, never>>('allocation_shares', date)?.sharesPpm;
}

export const allocationShares = defineTx({
  type: 'allocation.shares',
  roles: ['operator'],
  tables: [SHARES_TABLE],
  body: z.strictObject({
    date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD'),
    sharesPpm: z.record(z.string().min(1).max(64), z.array(z.number().int().min(0).max(PPM)).max(200)),
  }),
  apply({ state, entry }, body) {
    const c = community(state)!;
    const n = dayIntervals(localDay(body.date, c.timeZone), c.intervalMinutes).length;
    const sums = new Array<number>(n).fill(0);
    for (const [meter, shares] of Object.entries(body.sharesPpm)) {
      if (!findMeter(state, meter, 'import')) throw new OpenlecError('E_KEY_METER', `sharesPpm: ${meter} is not a consuming meter of the community`, { field: `body.sharesPpm.${meter}` });
      if (shares.length !== n) throw new OpenlecError('E_READINGS_LENGTH', `sharesPpm.${meter}: ${body.date} has ${n} intervals, got ${shares.length} shares`, { field: `body.sharesPpm.${meter}` });
      shares.forEach((s, k) => (sums[k]! += s));
    }
    const over = sums.findIndex((s) => s > PPM);
    if (over >= 0) throw new OpenlecError('E_KEY_SHARES', `interval ${over} of ${body.date}: shares sum to ${sums[over]} ppm, above 100 %`, { field: 'body.sharesPpm' });
    state.put('allocation_shares', { date: body.date, sharesPpm: body.sharesPpm, entry });
  },
});
