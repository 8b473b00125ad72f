import type { Role } from '../state/registry.ts';
import type { State, TableSpec } from '../state/tables.ts';
import type { IntervalMinutes } from '../units/index.ts';

export const COMMUNITY_TABLE: TableSpec = {
  name: 'community',
  columns: { id: 'text', name: 'text', timeZone: 'text', intervalMinutes: 'integer', currency: 'text', operator: 'text', createdAt: 'text', entry: 'integer' },
  primaryKey: ['id'],
};

export const PARTICIPANTS_TABLE: TableSpec = {
  name: 'participants',
  columns: { key: 'text', roles: 'json', nonce: 'integer', entry: 'integer' },
  primaryKey: ['key'],
};

export interface CommunityRow {
  [column: string]: string | number;
  id: string;
  name: string;
  timeZone: string;
  intervalMinutes: IntervalMinutes;
  currency: string;
  operator: string;
  createdAt: string;
  entry: number;
}

export interface ParticipantRow {
  [column: string]: string | number | Role[];
  key: string;
  roles: Role[];
  /** The highest nonce this participant has used. */
  nonce: number;
  entry: number;
}

/** community returns the community of the log, or undefined before its first entry. */
export function community(state: State): CommunityRow | undefined {
  for (const row of state.rows('community')) return row as CommunityRow;
  return undefined;
}

export function participant(state: State, key: string): ParticipantRow | undefined {
  return state.get<ParticipantRow>('participants', key);
}
