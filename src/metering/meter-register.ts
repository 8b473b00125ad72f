import { z } from 'zod';
import { actorKey } from '../community/community-create.ts';
import { participant } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import { feeder, feederId } from '../network/feeder-define.ts';
import { defineTx } from '../state/registry.ts';
import type { State, TableSpec } from '../state/tables.ts';
import { METER_SCHEMES, meterIdProblem } from './meter-id.ts';

export const METERS_TABLE: TableSpec = {
  name: 'meters',
  columns: { meter: 'text', direction: 'text', scheme: 'text', owner: 'text', feeder: 'text', technology: 'text', entry: 'integer' },
  primaryKey: ['meter', 'direction'],
  indexes: [['owner']],
};

export const DIRECTIONS = ['import', 'export'] as const;

/** Technologies of production meters; the first four are renewable for the market's "renewable only" condition. */
export const TECHNOLOGIES = ['solar', 'wind', 'hydro', 'biomass', 'chp', 'storage', 'other'] as const;
export const RENEWABLE = new Set<string>(['solar', 'wind', 'hydro', 'biomass']);
export type Direction = (typeof DIRECTIONS)[number];

export interface MeterRow {
  [column: string]: string | number | null;
  meter: string;
  direction: Direction;
  scheme: string;
  owner: string;
  feeder: string | null;
  technology: string | null;
  entry: number;
}

export function meterKey(meter: string, direction: Direction): string {
  return `${meter}\u001f${direction}`;
}

export function findMeter(state: State, meter: string, direction: Direction): MeterRow | undefined {
  return state.get<MeterRow>('meters', meterKey(meter, direction));
}

/**
 * meter.register declares a metering point and the direction of its load curve
 * (import: energy drawn from the grid; export: energy injected), its owner and, when
 * known, the feeder it hangs on. A PRM that both consumes and injects is registered once
 * per direction.
 */
export const meterRegister = defineTx({
  type: 'meter.register',
  roles: ['operator', 'dso'],
  tables: [METERS_TABLE],
  body: z.strictObject({
    meter: z.string().min(1).max(64),
    scheme: z.enum(METER_SCHEMES),
    direction: z.enum(DIRECTIONS),
    owner: actorKey,
    feeder: feederId.nullable().default(null),
    technology: z.enum(TECHNOLOGIES).nullable().default(null),
  }),
  apply({ state, entry }, body) {
    const problem = meterIdProblem(body.scheme, body.meter);
    if (problem) throw new OpenlecError('E_METER_ID', `meter "${body.meter}": ${problem}`, { field: 'body.meter' });
    if (findMeter(state, body.meter, body.direction)) {
      throw new OpenlecError('E_METER_EXISTS', `meter ${body.meter} (${body.direction}) is already registered`, { field: 'body.meter' });
    }
    if (!participant(state, body.owner)) throw new OpenlecError('E_UNKNOWN_PARTICIPANT', `owner ${body.owner} is not a registered participant`, { field: 'body.owner' });
    if (body.feeder !== null && !feeder(state, body.feeder)) {
      throw new OpenlecError('E_UNKNOWN_FEEDER', `feeder "${body.feeder}" is not defined`, { field: 'body.feeder' });
    }
    state.put('meters', { ...body, entry });
  },
});
