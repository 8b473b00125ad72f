import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { OpenlecError } from '../errors.ts';

/** The folder of plain SQL migrations, shipped with the package: NNN_name.sql, run in name order. */
export function migrationsDir(): string {
  // src/store/ (tsx) or dist/store/ (built): migrations/ sits at the package root either way.
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'migrations');
}

export interface Migration {
  readonly version: string;
  readonly sql: string;
}

export function readMigrations(dir = migrationsDir()): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: f.replace(/\.sql$/, ''), sql: readFileSync(join(dir, f), 'utf8') }));
}

/** A number both openlec and a DBA can recognise in pg_locks: migrations never run twice at once. */
const MIGRATE_LOCK = 0x6f6c6563; // "olec"

/**
 * migrate runs the migrations not yet applied, each in its own transaction with its record
 * in schema_migrations, under an advisory lock so that two processes starting together do
 * not both run one. It returns the versions it applied (none when the schema is current).
 * A database with a migration this package does not know is refused: it was migrated by a
 * newer openlec.
 */
export async function migrate(pool: pg.Pool, migrations = readMigrations()): Promise<string[]> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATE_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    const done = new Set((await client.query<{ version: string }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    const known = new Set(migrations.map((m) => m.version));
    const unknown = [...done].filter((v) => !known.has(v));
    if (unknown.length > 0) throw new OpenlecError('E_DB_FORMAT', `the database has migration ${unknown.sort().join(', ')}, which this openlec does not know (a newer version migrated it)`, { field: 'pg' });
    const applied: string[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [m.version]);
        await client.query('COMMIT');
      } catch (e) {
        await client.query('ROLLBACK');
        throw new OpenlecError('E_DB_MIGRATE', `migration ${m.version} failed: ${(e as Error).message}`, { field: 'pg', cause: e });
      }
      applied.push(m.version);
    }
    return applied;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATE_LOCK]).catch(() => undefined);
    client.release();
  }
}

/** assertMigrated refuses a database whose schema is not this package's (run `openlec db migrate`). */
export async function assertMigrated(pool: pg.Pool, migrations = readMigrations()): Promise<void> {
  let done: Set<string>;
  try {
    done = new Set((await pool.query<{ version: string }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
  } catch (e) {
    // Only a missing table means "not migrated"; a refused connection is said as such.
    if ((e as { code?: string }).code !== '42P01') throw e;
    done = new Set();
  }
  const missing = migrations.filter((m) => !done.has(m.version)).map((m) => m.version);
  if (missing.length > 0) throw new OpenlecError('E_DB_FORMAT', `the database lacks migration ${missing.join(', ')}: run "openlec db migrate --pg URL"`, { field: 'pg' });
}
