import type { SqliteLedger } from '../store/sqlite-ledger.ts';
import type { Route } from './route.ts';

/** The network's public rules: feeders, their limits and the DSO's tariffs (filled in by issue 17). */
export function networkRoutes(_ledger: SqliteLedger): Route[] {
  return [];
}
