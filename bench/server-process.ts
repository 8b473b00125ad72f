// The server of `npm run bench -- server`, in its own process: the API over a durable
// SQLite ledger (WAL, synchronous=FULL, group commit), as `openlec serve` runs it.
// Prints its URL; on SIGTERM prints its CPU time and peak memory as JSON and exits.
import { randomBytes } from 'node:crypto';
import { readKeyFile } from '../src/node/key-file.ts';
import { buildApp } from '../src/server/app.ts';
import { PersonalVault } from '../src/server/vault.ts';
import { openServedLedger } from '../src/cli/serve.ts';

const [db, keyFile] = process.argv.slice(2) as [string, string];
const ledger = openServedLedger(db);
const vault = PersonalVault.open(`${db}.personal.db`, randomBytes(32));
const { app } = await buildApp({ ledger, vault, tokenSecret: randomBytes(32), operatorKey: readKeyFile(keyFile), rateLimitPerMinute: 1e9, addressRateLimitPerMinute: 1e9,
  // The orders are signed the evening before the benchmark's day (2026-06-01T01:00Z): the server's clock says so too.
  txClock: () => Date.UTC(2026, 5, 1, 1) });
const url = await app.listen({ port: 0, host: '127.0.0.1' });
const cpu0 = process.cpuUsage();
process.stdout.write(`listening ${url}\n`);
process.once('SIGTERM', () => {
  void (async () => {
    await app.close();
    const size = ledger.size;
    await ledger.close();
    vault.close();
    const cpu = process.cpuUsage(cpu0);
    process.stdout.write(`${JSON.stringify({ cpuSeconds: (cpu.user + cpu.system) / 1e6, maxRssMb: process.resourceUsage().maxRSS / 1024, size })}\n`);
    process.exit(0);
  })();
});
