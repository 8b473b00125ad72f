import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OpenlecError } from '../errors.ts';
import { type CosignerKey, type KeyPair } from '../ledger/index.ts';
import { readKeyFile } from '../node/key-file.ts';
import { WorkerSignatureChecker } from '../node/signatures.ts';
import { MultiServer } from '../server/multi.ts';
import { pgPool } from '../store/pg-ledger.ts';
import { assertMigrated } from '../store/pg-migrate.ts';
import { redact } from './db.ts';

export interface ServePgOptions {
  pg: string;
  port: number;
  host: string;
  /** A folder of operator key files (*.key): each community's checkpoints are signed by the one that is its operator's. */
  keys?: string;
  /** The file of the 32-byte secret every process serving this database shares (created on first start). */
  secret: string;
  /** Where the personal-data vaults live, one file per community. */
  dataDir: string;
  witnesses?: { keys: CosignerKey[]; quorum: number };
  maxSkew?: number;
  log?: boolean;
  /** Connections to the database per process. */
  connections?: number;
}

function sharedSecret(path: string): Uint8Array {
  // wx: of two processes starting at once, one writes the file and the other reads it.
  if (!existsSync(path)) {
    try {
      writeFileSync(path, randomBytes(32).toString('base64url') + '\n', { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  const secret = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64url');
  if (secret.length !== 32) throw new OpenlecError('E_BAD_KEY', `${path} must hold a 32-byte secret (base64url)`, { field: 'secret' });
  return secret;
}

/** servePg serves every community of a PostgreSQL database: `openlec serve --pg URL`. */
export async function servePg(o: ServePgOptions) {
  const pool = pgPool(o.pg, o.connections ?? 16);
  try {
    await assertMigrated(pool);
  } catch (e) {
    await pool.end();
    const err = e as Error & { code?: string };
    throw err instanceof OpenlecError ? err : new OpenlecError('E_PG_CONNECT', `cannot use the PostgreSQL database at ${redact(o.pg)}: ${err.message}`, { field: 'pg', cause: e });
  }
  const operatorKeys: KeyPair[] = o.keys ? readdirSync(o.keys).filter((f) => f.endsWith('.key')).sort().map((f) => readKeyFile(join(o.keys!, f))) : [];
  const webRoot = process.env.OPENLEC_WEB_DIR ?? fileURLToPath(new URL('../../web/dist/', import.meta.url));
  const server = new MultiServer({
    url: o.pg, pool, serverSecret: sharedSecret(o.secret), dataDir: o.dataDir, operatorKeys,
    signatures: new WorkerSignatureChecker(Math.max(1, availableParallelism() - 1)),
    ...(existsSync(join(webRoot, 'index.html')) ? { webRoot } : {}),
    ...(o.witnesses ? { witnesses: o.witnesses } : {}),
    maxSkewMs: (o.maxSkew ?? 30) * 1000, logger: o.log === true,
  });
  const url = await server.listen(o.port, o.host);
  return {
    url, server,
    async close() {
      await server.close();
      await pool.end();
    },
  };
}
