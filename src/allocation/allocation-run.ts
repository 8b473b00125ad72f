import { z } from 'zod';
import { OpenlecError } from '../errors.ts';
import { canonicalJson } from '../ledger/index.ts';
import { defineTx } from '../state/registry.ts';
import type { TableSpec } from '../state/tables.ts';
import { PPM } from './keys.ts';
import { runMonth } from './month.ts';

export const ALLOCATIONS_TABLE: TableSpec = {
  name: 'allocations',
  columns: { month: 'text', key: 'json', inputHash: 'text', allocationRoot: 'text', productionWh: 'integer', allocatedWh: 'integer', surplusWh: 'integer', members: 'json', runs: 'integer', entry: 'integer' },
  primaryKey: ['month'],
};

const ppmMap = z.record(z.string().min(1).max(64), z.number().int().min(0).max(PPM));
export const keySpecSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('prorata') }),
  z.strictObject({ kind: z.literal('full-dynamic') }),
  z.strictObject({ kind: z.enum(['static', 'redistribute']), sharesPpm: ppmMap }),
  z.strictObject({ kind: z.literal('cascade'), groups: z.record(z.string().min(1).max(64), z.number().int().min(0).max(1000)) }),
  z.strictObject({ kind: z.literal('spain'), betasPpm: ppmMap.optional() }),
]);

const totals = z.strictObject({
  meter: z.string(), consumedWh: z.number().int(), allocatedWh: z.number().int(), supplierWh: z.number().int(), surplusWh: z.number().int(), missingIntervals: z.number().int(),
});

/**
 * allocation.run records the monthly allocation: the key and its parameters, a hash of
 * the metered input, per-member totals and the Merkle root of the per-interval records.
 * Its apply recomputes the month from the readings in the log and refuses any
 * difference, so a wrong allocation can never be recorded, and `openlec verify`, which
 * replays apply, recomputes every month. A new run of the same month supersedes the
 * previous one in the projection; both stay in the log.
 */
export const allocationRun = defineTx({
  type: 'allocation.run',
  roles: ['operator'],
  tables: [ALLOCATIONS_TABLE],
  body: z.strictObject({
    month: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'must be YYYY-MM'),
    key: keySpecSchema,
    inputHash: z.string().regex(/^[0-9a-f]{64}$/),
    intervals: z.number().int(),
    productionWh: z.number().int(),
    allocatedWh: z.number().int(),
    surplusWh: z.number().int(),
    missingProductionIntervals: z.number().int(),
    allocationRoot: z.string().regex(/^[0-9a-f]{64}$/),
    members: z.array(totals),
  }),
  apply({ state, entry }, body) {
    const { summary } = runMonth(state, body.month, body.key);
    for (const field of Object.keys(summary) as (keyof typeof summary)[]) {
      if (canonicalJson(summary[field]) !== canonicalJson(body[field])) {
        const detail = field === 'members' ? firstMemberDifference(summary.members as unknown as Record<string, unknown>[], body.members) : `${canonicalJson(body[field])}, recomputed ${canonicalJson(summary[field])}`;
        throw new OpenlecError('E_ALLOCATION_MISMATCH', `allocation of ${body.month}: ${field} differs from the recomputation from logged readings: ${detail}`, { field: `body.${field}` });
      }
    }
    const previous = state.get<{ runs: number }>('allocations', body.month);
    state.put('allocations', {
      month: body.month, key: body.key, inputHash: body.inputHash, allocationRoot: body.allocationRoot, productionWh: body.productionWh,
      allocatedWh: body.allocatedWh, surplusWh: body.surplusWh, members: body.members, runs: (previous?.runs ?? 0) + 1, entry,
    });
  },
});

function firstMemberDifference(want: readonly Record<string, unknown>[], got: readonly Record<string, unknown>[]): string {
  if (want.length !== got.length) return `${got.length} members recorded, ${want.length} recomputed`;
  for (let i = 0; i < want.length; i++) {
    for (const k of Object.keys(want[i]!)) {
      if (want[i]![k] !== got[i]![k]) return `meter ${String(want[i]!.meter)} ${k} recorded ${String(got[i]![k])}, recomputed ${String(want[i]![k])}`;
    }
  }
  return 'order differs';
}
