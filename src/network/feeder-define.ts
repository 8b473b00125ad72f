import { z } from 'zod';
import { OpenlecError } from '../errors.ts';
import { defineTx } from '../state/registry.ts';
import type { State, TableSpec } from '../state/tables.ts';

export const FEEDERS_TABLE: TableSpec = {
  name: 'feeders',
  columns: { id: 'text', parent: 'text', importLimitW: 'integer', exportLimitW: 'integer', entry: 'integer' },
  primaryKey: ['id'],
};

export interface FeederRow {
  [column: string]: string | number | null;
  id: string;
  parent: string | null;
  importLimitW: number | null;
  exportLimitW: number | null;
  entry: number;
}

export const feederId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/, 'must be 1-64 letters, digits, ".", "_", ":" or "-"');
const limitW = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable().default(null);

export function feeder(state: State, id: string): FeederRow | undefined {
  return state.get<FeederRow>('feeders', id);
}

/**
 * feeder.define adds a node to the low-voltage network tree (a substation, a feeder, a
 * connection point) under an existing parent, with optional import and export limits
 * in W. A parent must be defined first, so the tree can never hold a cycle.
 */
export const feederDefine = defineTx({
  type: 'feeder.define',
  roles: ['dso', 'operator'],
  tables: [FEEDERS_TABLE],
  body: z.strictObject({ id: feederId, parent: feederId.nullable().default(null), importLimitW: limitW, exportLimitW: limitW }),
  apply({ state, entry }, body) {
    if (feeder(state, body.id)) throw new OpenlecError('E_FEEDER_EXISTS', `feeder "${body.id}" is already defined`, { field: 'body.id' });
    if (body.parent !== null && !feeder(state, body.parent)) {
      throw new OpenlecError('E_UNKNOWN_FEEDER', `parent feeder "${body.parent}" is not defined`, { field: 'body.parent' });
    }
    state.put('feeders', { ...body, entry });
  },
});
