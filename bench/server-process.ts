// The server of `npm run bench -- server`, in its own process: the API over a durable
// SQLite ledger (WAL, synchronous=FULL, group commit), as `openlec serve` runs it.
// Prints its URL; on SIGTERM prints its CPU time and peak memory as JSON and exits.
import { randomBytes } from 'node:crypto';
import { readKeyFile } from '../src/node/key-file.ts';
import { buildApp } from '../src/server/app.ts';
import { PersonalVault } from '../src/server/vault.ts';
import { openServedLedger } from '../src/cli/serve.ts';
import { serveUntilTerm } from './support.ts';

const [db, keyFile] = process.argv.slice(2) as [string, string];
const ledger = openServedLedger(db);
const vault = PersonalVault.open(`${db}.personal.db`, randomBytes(32));
const { app } = await buildApp({ ledger, vault, tokenSecret: randomBytes(32), operatorKey: readKeyFile(keyFile), rateLimitPerMinute: 1e9, addressRateLimitPerMinute: 1e9,
  // The orders are signed the evening before the benchmark's day (2026-06-01T01:00Z): the server's clock says so too.
  txClock: () => Date.UTC(2026, 5, 1, 1) });
await serveUntilTerm(app, async () => {
  const size = ledger.size;
  await ledger.close();
  vault.close();
  return size;
});
