import type { SqliteLedger } from '../store/sqlite-ledger.ts';
import type { Route } from './route.ts';

/** Read models of the dashboard's home views (filled in by their issue). */
export function homeRoutes(_ledger: SqliteLedger): Route[] {
  return [];
}
