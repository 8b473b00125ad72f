import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { Signer } from '../src/client.ts';
import { keyPairFromSeed } from '../src/ledger/index.ts';
import { writeKeyFile } from '../src/node/key-file.ts';
import { nodeSign } from '../src/node/signatures.ts';
import { SqliteLedger } from '../src/store/sqlite-ledger.ts';
import { printTable, round, tempPath } from './support.ts';

/**
 * npm run bench -- server: signed orders accepted per second over loopback, and their
 * latency, with the store durable (every 201 is committed with synchronous=FULL). Three
 * processes: this one prepares a community of MEMBERS members and pre-signs ORDERS
 * order.place transactions; the server runs the API as `openlec serve` does; the load
 * generator posts them on CONNECTIONS keep-alive connections (env CONNECTIONS, default 64).
 * SERVER_PROF=DIR writes a CPU profile of the server process there.
 */
const MEMBERS = 2_000;
const ORDERS = 60_000;
const WARMUP = 6_000;
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 64);
const COMMUNITY = 'openlec.bench/server';
const prm = (i: number) => String(30_000_000_000_000 + i);

const key = (label: string) => {
  const seed = new Uint8Array(32);
  new TextEncoder().encodeInto(label.padEnd(32, '.'), seed);
  return keyPairFromSeed(seed);
};

async function prepare(db: string): Promise<string> {
  const at = (ms: number) => () => new Date(ms).toISOString();
  const t0 = Date.UTC(2026, 5, 1);
  const operator = new Signer(key('operator'), COMMUNITY, 0, at(t0), nodeSign);
  const dso = new Signer(key('dso'), COMMUNITY, 0, at(t0), nodeSign);
  const members = Array.from({ length: MEMBERS }, (_, i) => new Signer(key(`member-${i}`), COMMUNITY, 0, at(t0 + 3_600_000), nodeSign));
  const ledger = SqliteLedger.create(db);
  await ledger.submitAtomic([
    operator.sign('community.create', { name: 'Server bench', timeZone: 'Europe/Paris', intervalMinutes: 30, currency: 'EUR', operator: operator.actor }),
    operator.sign('participant.register', { key: dso.actor, roles: ['dso'] }),
    dso.sign('feeder.define', { id: 'substation', importLimitW: null, exportLimitW: null }),
    operator.sign('market.configure', { from: '2026-06-01T00:00:00Z', mode: 'ex-ante', mechanism: 'uniform', gateClosureMinutes: 30, feedInMicroPerKwh: 60_000, retailMicroPerKwh: 220_000 }),
    ...members.flatMap((m, i) => [
      operator.sign('participant.register', { key: m.actor, roles: ['member'] }),
      dso.sign('meter.register', { meter: prm(i), scheme: 'PRM', direction: i % 2 ? 'import' : 'export', owner: m.actor, feeder: 'substation' }),
    ]),
  ]);
  ledger.checkpoint(key('operator'));
  const size = ledger.size;
  await ledger.close();
  // Orders for the next day's 48 intervals, placed the evening before.
  const day = Date.UTC(2026, 5, 2);
  const lines: string[] = [];
  for (let n = 0; n < ORDERS; n++) {
    const i = n % MEMBERS;
    const tx = members[i]!.sign('order.place', {
      side: i % 2 ? 'buy' : 'sell', interval: new Date(day + (Math.floor(n / MEMBERS) % 48) * 1_800_000).toISOString().replace('.000Z', 'Z'),
      quantityWh: 100 + ((n * 7919) % 900), limitMicroPerKwh: 80_000 + ((n * 104_729) % 120_000), meter: prm(i),
    });
    lines.push(`${i} ${JSON.stringify(tx)}`);
  }
  const file = join(dirname(db), 'orders.jsonl');
  writeFileSync(file, lines.join('\n') + '\n');
  process.stdout.write(`prepared ${size} entries (${MEMBERS} members) and ${ORDERS} signed orders\n`);
  return file;
}

/** child starts a TypeScript process and resolves with it and a reader of its stdout lines. */
function child(script: string, args: string[]) {
  const p = spawn(process.execPath, [...(script === 'server-process.ts' && process.env.SERVER_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.SERVER_PROF] : []), '--import', 'tsx', join(import.meta.dirname, script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: p.stdout! });
  const next = () => new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    p.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  return { p, next };
}

type LoadResult = { requests: number; accepted: number; statuses: Record<string, number>; seconds: number; perSecond: number; p50Ms: number; p90Ms: number; p99Ms: number; maxMs: number; loaderCpuSeconds: number };
type ServerStats = { cpuSeconds: number; maxRssMb: number; size: number };

/** load runs a server process and the load generator against it, then stops the server. */
async function load(script: string, args: string[], file: string): Promise<{ r: LoadResult; s: ServerStats }> {
  const server = child(script, args);
  const url = (await server.next()).replace('listening ', '');
  const loader = child('server-load.ts', [url, file, String(CONNECTIONS), String(WARMUP)]);
  const r = JSON.parse(await loader.next()) as LoadResult;
  const stats = server.next();
  server.p.kill('SIGTERM');
  return { r, s: JSON.parse(await stats) as ServerStats };
}

export async function run() {
  const db = tempPath('server.db');
  const file = await prepare(db);
  const keyFile = join(dirname(db), 'operator.key');
  writeKeyFile(keyFile, key('operator'));
  const { r, s } = await load('server-process.ts', [db, keyFile], file);
  // The machine's ceiling for this load: the same requests to a bare fastify route, without
  // and with the Ed25519 check on its one thread (server-floor.ts).
  const bare = await load('server-floor.ts', ['bare'], file);
  const verified = await load('server-floor.ts', ['verify'], file);
  const figures = {
    orders: r.requests, accepted: r.accepted, statuses: r.statuses, connections: CONNECTIONS, seconds: round(r.seconds, 2), ordersPerSecond: round(r.perSecond),
    p50Ms: round(r.p50Ms, 2), p90Ms: round(r.p90Ms, 2), p99Ms: round(r.p99Ms, 2), maxMs: round(r.maxMs, 1),
    serverCpuSeconds: round(s.cpuSeconds, 2), loaderCpuSeconds: round(r.loaderCpuSeconds, 2), serverCpuMsPerOrder: round((1000 * s.cpuSeconds) / (r.requests + WARMUP), 3), serverMaxRssMb: round(s.maxRssMb), logSize: s.size,
    bareHttpPerSecond: round(bare.r.perSecond), bareHttpCpuMsPerRequest: round((1000 * bare.s.cpuSeconds) / (bare.r.requests + WARMUP), 3), bareHttpLoaderCpuSeconds: round(bare.r.loaderCpuSeconds, 2),
    verifiedHttpPerSecond: round(verified.r.perSecond), verifiedHttpCpuMsPerRequest: round((1000 * verified.s.cpuSeconds) / (verified.r.requests + WARMUP), 3),
    durable: 'WAL, synchronous=FULL, group commit', aim: { ordersPerSecond: 5000, p99Ms: 50 },
  };
  printTable(`signed order.place over loopback HTTP, ${CONNECTIONS} connections, ${MEMBERS} members (after ${WARMUP} warm-up orders)`, [
    ['orders accepted (201)', r.accepted], ['other statuses', r.requests - r.accepted], ['orders/s', figures.ordersPerSecond],
    ['p50 latency ms', figures.p50Ms], ['p90 latency ms', figures.p90Ms], ['p99 latency ms', figures.p99Ms], ['max latency ms', figures.maxMs],
    ['server CPU ms per order', figures.serverCpuMsPerOrder], ['load generator CPU s', figures.loaderCpuSeconds], ['server peak RSS MB', figures.serverMaxRssMb], ['log entries after', s.size],
  ], ['figure', 'value']);
  printTable('the same requests to a bare fastify route (server-floor.ts): the machine\'s ceiling for this load', [
    ['openlec (rules, log, durable commit)', figures.ordersPerSecond, figures.serverCpuMsPerOrder, round(r.p99Ms, 2)],
    ['JSON body, Ed25519 check, 201', figures.verifiedHttpPerSecond, figures.verifiedHttpCpuMsPerRequest, round(verified.r.p99Ms, 2)],
    ['JSON body, 201', figures.bareHttpPerSecond, figures.bareHttpCpuMsPerRequest, round(bare.r.p99Ms, 2)],
  ], ['server', 'requests/s', 'server CPU ms per request', 'p99 ms']);
  process.stdout.write(`${JSON.stringify({ bench: 'server', ...figures })}\n`);
  if (r.accepted !== r.requests) throw new Error(`${r.requests - r.accepted} orders were refused: ${JSON.stringify(r.statuses)}`);
}
