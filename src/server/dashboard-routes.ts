import type { SqliteLedger } from '../store/sqlite-ledger.ts';
import type { Route } from './route.ts';

/** Read models of the dashboard's dashboard views (filled in by their issue). */
export function dashboardRoutes(_ledger: SqliteLedger): Route[] {
  return [];
}
