import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { startPg } from '../scripts/pg.ts';
import { Signer } from '../src/client.ts';
import { encodeKey, type SignedTransaction } from '../src/ledger/index.ts';
import { writeKeyFile } from '../src/node/key-file.ts';
import { nodeSign, nodeVerifySignature, type SignatureChecker } from '../src/node/signatures.ts';
import { clearAt } from '../src/market/book.ts';
import { PgLedger, pgPool } from '../src/store/pg-ledger.ts';
import { migrate } from '../src/store/pg-migrate.ts';
import { SqliteLedger } from '../src/store/sqlite-ledger.ts';
import type { State } from '../src/state/tables.ts';
import { dayIntervals, formatInstant, localDateOf, localDay } from '../src/units/index.ts';
import { labelKey, lcg, printTable, round, spawnLines, tempPath, timed, treeCpuSeconds, procCpuSeconds, procStat } from './support.ts';

/**
 * npm run bench -- scale [--communities N] [--members N] [--days N] [--max-seconds S]
 *                        [--connections N] [--ways pg1,pg2,sqlite] [--no-checkpoints]
 *
 * Many communities on one PostgreSQL primary, written through the HTTP API (docs/scale.md).
 *
 * --communities (default 100) communities of --members (default 1,000) members each: every
 * member has an import meter registered by the DSO, one in five (prosumers) an export meter
 * too. The SET-UP (community.create, the DSO, the feeder, the market rules, participants and
 * meters: 5 + 2.2 × members transactions per community) goes straight through
 * PgLedger.submitAtomic in two processes (SqliteLedger for the SQLite way), signed there and
 * not verified again; it is not measured. The MEASURED LOAD goes through POST
 * /v1/transactions from a separate load process (bench/scale-load.ts), each transaction
 * signed just before it is sent (issuedAt is checked against the server's clock, ±30 s).
 * A community's simulated day is 1.608 × members transactions:
 *   - meter.readings: one per meter (1.2 × members), 48 half-hour values, signed by the DSO,
 *     for a past local day (day d of --days is the d-th of the --days days ending yesterday);
 *   - order.place: each prosumer one sell and each fifth consumer one buy order (0.36 ×
 *     members), ex-ante, for an interval of a future day (tomorrow + d): the server admits
 *     orders at its wall clock (txClock), so only future books are open, and their gates
 *     close after the run: those books are not cleared here;
 *   - market.clear: the operator clears each of the day's 48 intervals once the day's
 *     readings are in. The market of past days is ex-post (every metered value is an order
 *     at the feed-in or retail price), so each body, recomputed by the server on apply, is
 *     exact from the readings alone; the load process computes it with the server's own
 *     clearing code (clearAtOnce). Communities share 4 data profiles (index mod 4).
 * One actor's transactions go one at a time (nonces must arrive in order): the DSO's
 * readings of a community are one stream, its members' orders another, kept at the day's
 * mix (3 orders per 10 readings), and the clearings a third after the readings.
 *
 * --days (default 1; 31 is the month) and --max-seconds (default 30; 0 = no limit): the
 * PostgreSQL ways stop sending after S seconds, and say so. The default scale cannot write
 * a whole day in that time on 2 cores (160,800 transactions); the figures are then those of
 * what was sent (readings and orders: the clearings come after a day's readings), and the
 * bytes per member-day come from a PROBE instead: one whole community-day (readings, orders
 * and 48 clearings) written through PgLedger.submitAtomic into a database of its own. The
 * SQLite way (one community) always sends its whole --days.
 *
 * Ways, each on a fresh database: (pg1) one `openlec serve --pg` process; (pg2) two on the
 * same database, each community's writes to one of them (index mod 2); (sqlite) one
 * `openlec serve --db` process for ONE community with the same per-community load (there
 * is no multi-community SQLite server: that row is one community's file and process, and
 * its aggregate is that process). The PostgreSQL ways start from copies of one set-up
 * database (CREATE DATABASE ... TEMPLATE). Before a way is measured, its load process
 * sends one GET per community (the server opens it) and signs once with every key.
 * --connections (default 64): requests in flight at most per server process.
 * --no-checkpoints: serve without operator keys, so no checkpoint is signed (a diagnostic:
 * each served community otherwise signs one per second while it is written).
 * OPENLEC_PG_URL: use that PostgreSQL server instead of starting one (scripts/pg.ts).
 * SERVER_PROF=DIR: CPU profiles of the server processes.
 *
 * Figures per way: transactions (201), wall seconds, aggregate appends/s, p50/p99 of POST
 * /v1/transactions (request written → 201 read, per type too), CPU seconds per 1,000
 * transactions of the server processes, of PostgreSQL (postmaster and backends) and of the
 * load process (/proc/<pid>/stat, utime + stime), database bytes per transaction and per
 * member-day (pg_database_size after − before, WAL excluded; SQLite: file + WAL after −
 * before, read once the server closed). The last line is one JSON object.
 */

export const TZ = 'Europe/Paris';
const NAME = 'openlec.bench/scale';
export const communityId = (c: number) => `${NAME}-${String(c).padStart(4, '0')}`;
export const operatorKey = (c: number) => labelKey(`scale-operator-${c}`);
export const dsoKey = (c: number) => labelKey(`scale-dso-${c}`);
/**
 * Member i has the same key in every community: deriving an Ed25519 public key costs about
 * 2 ms on this machine, 100,000 of them would take minutes. The server keeps a key object
 * per key it has verified (up to 100,000), so this only spares it the first verification of
 * each member's key, about 0.6 ms, for the 0.36 × members order signers a day.
 */
export const memberKey = (i: number) => labelKey(`scale-member-${i}`);
export const importMeter = (i: number) => String(30_000_000_000_000 + i);
export const exportMeter = (i: number) => String(31_000_000_000_000 + i);
export const isProsumer = (i: number) => i % 5 === 0;
/** Orders a day: every prosumer (sell) and every fifth consumer (buy). */
export const ordersToday = (i: number) => isProsumer(i) || (i - Math.floor(i / 5) - 1) % 5 === 0;
const FEED_IN = 60_000;
const RETAIL = 220_000;

export interface LoadPlan {
  mode: 'pg' | 'sqlite';
  targets: string[];
  communities: { id: string; index: number; target: number }[];
  members: number;
  readingDates: string[];
  orderDates: string[];
  rowsFile: string;
  connections: number;
  profiles: number;
  operatorNonce: number;
  dsoNonce: number;
  maxSeconds?: number;
}

/**
 * dayValues: a meter's half-hourly Wh of a day, deterministic by data profile, day and
 * member. Import: a household's base load with a morning and an evening peak; export: a
 * prosumer's solar surplus between 07:00 and 19:00. Communities share 4 profiles (index
 * mod 4), so the load process computes 4 days' clearings rather than one per community.
 */
export function dayValues(profile: number, day: number, member: number, direction: 'import' | 'export', n: number): number[] {
  const r = lcg((Math.imul(profile + 1, 0x9e3779b1) ^ Math.imul(day + 1, 0x85ebca6b) ^ Math.imul(2 * member + (direction === 'export' ? 2 : 1), 0xc2b2ae35)) >>> 0);
  const out: number[] = new Array(n);
  if (direction === 'import') {
    const base = 60 + 140 * r();
    for (let k = 0; k < n; k++) {
      const t = k / n;
      const shape = 0.6 + 0.5 * Math.exp(-(((t - 0.32) / 0.05) ** 2)) + 0.9 * Math.exp(-(((t - 0.8) / 0.07) ** 2));
      out[k] = Math.round(base * shape * (0.7 + 0.6 * r()));
    }
  } else {
    const peak = 400 + 800 * r();
    for (let k = 0; k < n; k++) {
      const x = Math.sin((Math.PI * (k / n - 0.29)) / 0.5);
      out[k] = k / n >= 0.29 && k / n < 0.79 ? Math.round(peak * Math.max(0, x) * (0.8 + 0.4 * r())) : 0;
    }
  }
  return out;
}

/** orderBody: member i's order of day d, for a daytime interval (08:00 to 14:00) of that day's future order date. */
export function orderBody(c: number, d: number, i: number, starts: readonly number[]) {
  const r = lcg((Math.imul(c + 1, 0x27d4eb2f) ^ Math.imul(d + 1, 0x165667b1) ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0);
  const sell = isProsumer(i);
  return {
    side: sell ? 'sell' : 'buy', interval: formatInstant(starts[16 + Math.floor(r() * 12)]!), quantityWh: 200 + Math.floor(r() * 800),
    limitMicroPerKwh: sell ? 80_000 + Math.floor(r() * 60_000) : 100_000 + Math.floor(r() * 100_000), meter: sell ? exportMeter(i) : importMeter(i),
  };
}

/** setupTransactions: a community's genesis, DSO, feeder, market rules (ex-post from the first reading day, ex-ante from the first order day), members and meters. */
export function setupTransactions(c: number, members: number, memberKeys: readonly string[], expostFrom: string, exanteFrom: string) {
  const id = communityId(c);
  const operator = new Signer(operatorKey(c), id, 0, undefined, nodeSign);
  const dso = new Signer(dsoKey(c), id, 0, undefined, nodeSign);
  const prices = { mechanism: 'uniform', feedInMicroPerKwh: FEED_IN, retailMicroPerKwh: RETAIL };
  const txs: SignedTransaction[] = [
    operator.sign('community.create', { name: `Scale bench ${c}`, timeZone: TZ, intervalMinutes: 30, currency: 'EUR', operator: operator.actor }),
    operator.sign('participant.register', { key: dso.actor, roles: ['dso'] }),
    dso.sign('feeder.define', { id: 'substation', importLimitW: null, exportLimitW: null }),
    operator.sign('market.configure', { from: expostFrom, mode: 'ex-post', gateClosureMinutes: 0, ...prices }),
    operator.sign('market.configure', { from: exanteFrom, mode: 'ex-ante', gateClosureMinutes: 60, ...prices }),
  ];
  for (let i = 0; i < members; i++) {
    txs.push(operator.sign('participant.register', { key: memberKeys[i]!, roles: ['member'] }));
    txs.push(dso.sign('meter.register', { meter: importMeter(i), scheme: 'PRM', direction: 'import', owner: memberKeys[i]!, feeder: 'substation' }));
    if (isProsumer(i)) txs.push(dso.sign('meter.register', { meter: exportMeter(i), scheme: 'PRM', direction: 'export', owner: memberKeys[i]!, feeder: 'substation', technology: 'solar' }));
  }
  return { txs, operatorNonce: operator.nonce, dsoNonce: dso.nonce };
}

/** The set-up's own signatures, just made here, are not checked again (the measured load is checked as always). */
export const TRUSTED: SignatureChecker = { check: async (items) => items.map(() => true), close: async () => {} };

export const rowsOf = (state: State) => Object.fromEntries([...state.specs.keys()].map((t) => [t, [...state.rows(t)]]));

export interface SetupPlan {
  url: string;
  from: number;
  to: number;
  members: number;
  memberKeys: string[];
  expostFrom: string;
  exanteFrom: string;
  rowsFile: string;
}

/** setupCommunities creates communities [from, to) of a migrated database through PgLedger.submitAtomic (run in two processes at once by run). */
export async function setupCommunities(p: SetupPlan): Promise<{ operatorNonce: number; dsoNonce: number }> {
  const pool = pgPool(p.url, 2);
  let nonces = { operatorNonce: 0, dsoNonce: 0 };
  let probe: Awaited<ReturnType<typeof probeDay>> | undefined;
  const calibration = { ed25519VerifiesPerSecondOneCore: verifyRate(), loadAverage1mAtStart: round(loadavg()[0]!, 2) };
  try {
    for (let c = p.from; c < p.to; c++) {
      const { txs, ...n } = setupTransactions(c, p.members, p.memberKeys, p.expostFrom, p.exanteFrom);
      nonces = n;
      const ledger = await PgLedger.create(pool, communityId(c), { signatures: TRUSTED });
      await ledger.submitAtomic(txs);
      if (c === 0) writeFileSync(p.rowsFile, JSON.stringify(rowsOf(ledger.state)));
      await ledger.close();
      if ((c - p.from + 1) % 10 === 0) process.stderr.write(`  set up ${c - p.from + 1} of communities ${p.from}..${p.to - 1}\n`);
    }
  } finally {
    await pool.end();
  }
  return nonces;
}

/**
 * probeDay writes one whole community-day (readings, orders, the 48 clearings) of a fresh
 * community of its own database straight through PgLedger.submitAtomic and returns the
 * growth of pg_database_size: the bytes per member-day of the PostgreSQL store when the
 * measured load is cut before whole days are written (the clearings, which keep their
 * trade records, come last in a day).
 */
async function probeDay(url: string, members: number, memberKeys: readonly string[], expostFrom: string, exanteFrom: string, readingDate: string, orderDate: string) {
  const pool = pgPool(url, 2);
  try {
    await migrate(pool);
    const c = 0;
    const { txs, operatorNonce, dsoNonce } = setupTransactions(c, members, memberKeys, expostFrom, exanteFrom);
    const ledger = await PgLedger.create(pool, communityId(c), { signatures: TRUSTED });
    await ledger.submitAtomic(txs);
    const size = async () => Number((await pool.query<{ s: string }>('SELECT pg_database_size(current_database()) AS s')).rows[0]!.s);
    const before = await size();
    const id = communityId(c);
    const dso = new Signer(dsoKey(c), id, dsoNonce, undefined, nodeSign);
    const operator = new Signer(operatorKey(c), id, operatorNonce, undefined, nodeSign);
    const starts = dayIntervals(localDay(readingDate, TZ), 30);
    const orderStarts = dayIntervals(localDay(orderDate, TZ), 30);
    const day: SignedTransaction[] = [];
    for (let i = 0; i < members; i++) {
      day.push(dso.sign('meter.readings', { meter: importMeter(i), direction: 'import', date: readingDate, values: dayValues(0, 0, i, 'import', starts.length) }));
      if (isProsumer(i)) day.push(dso.sign('meter.readings', { meter: exportMeter(i), direction: 'export', date: readingDate, values: dayValues(0, 0, i, 'export', starts.length) }));
    }
    for (let i = 0; i < members; i++) if (ordersToday(i)) day.push(new Signer(memberKey(i), id, 0, undefined, nodeSign).sign('order.place', orderBody(c, 0, i, orderStarts)));
    await ledger.submitAtomic(day);
    const cleared = starts.map((s) => operator.sign('market.clear', clearAt(ledger.state, s).body));
    await ledger.submitAtomic(cleared);
    const bytes = (await size()) - before;
    await ledger.close();
    return { transactions: day.length + cleared.length, bytes, bytesPerMemberDay: round(bytes / members) };
  } finally {
    await pool.end();
  }
}

/** verifyRate: Ed25519 verifications per second on one core of this machine (node:crypto), to read the figures by. */
function verifyRate(): number {
  const k = labelKey('scale-calibration');
  const message = new Uint8Array(400);
  const signature = nodeSign(k.secretKey, message);
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 500) {
    nodeVerifySignature(k.publicKey, message, signature);
    n++;
  }
  return round(n / ((performance.now() - t0) / 1000));
}

/** addDays: a calendar date n days after another (YYYY-MM-DD). */
const addDays = (date: string, n: number) => new Date(Date.parse(`${date}T12:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

/** The PostgreSQL ways' load is cut after this many seconds unless --max-seconds says otherwise (0: the whole --days). */
const DEFAULT_MAX_SECONDS = 30;

interface Options {
  communities: number;
  members: number;
  days: number;
  connections: number;
  ways: string[];
  maxSeconds?: number;
  checkpoints: boolean;
}

function options(argv: readonly string[]): Options {
  const get = (name: string): string | undefined => {
    for (let i = 0; i < argv.length; i++) {
      if (argv[i] === `--${name}`) return argv[i + 1];
      if (argv[i]!.startsWith(`--${name}=`)) return argv[i]!.slice(name.length + 3);
    }
    return undefined;
  };
  const int = (name: string, dflt: number) => {
    const v = get(name);
    const n = v === undefined ? dflt : Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${v}`);
    return n;
  };
  const ways = (get('ways') ?? 'pg1,pg2,sqlite').split(',');
  for (const w of ways) if (!['pg1', 'pg2', 'sqlite'].includes(w)) throw new Error(`--ways: unknown way ${w} (pg1, pg2, sqlite)`);
  const max = Number(get('max-seconds') ?? DEFAULT_MAX_SECONDS);
  if (!(max >= 0)) throw new Error('--max-seconds must be a number of seconds (0: no limit)');
  return { communities: int('communities', 100), members: int('members', 1000), days: int('days', 1), connections: int('connections', 64), ways, checkpoints: !argv.includes('--no-checkpoints'), ...(max > 0 ? { maxSeconds: max } : {}) };
}

interface LoadResult {
  accepted: number; requests: number; statuses: Record<string, number>; refusals: string[]; seconds: number; deadlineHit: boolean;
  perSecond: number; p50Ms: number; p90Ms: number; p99Ms: number; maxMs: number; byKind: Record<string, { n: number; p50Ms: number; p99Ms: number }>;
  prepareSeconds: number; loaderCpuSeconds: number; retried: number;
}

const BIN = join(import.meta.dirname, '..', 'bin', 'openlec.js');
/** SERVER_PROF=DIR writes a CPU profile of each server process there (as in the server benchmark). */
const PROF = process.env.SERVER_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.SERVER_PROF] : [];

/** serveProcess starts `openlec serve`, its stderr passed on without Fastify's deprecation warnings (one per community served). */
function serveProcess(args: string[]) {
  const s = spawnLines(process.execPath, [...PROF, BIN, 'serve', ...args, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  createInterface({ input: s.p.stderr! }).on('line', (line) => {
    if (!/FSTDEP022|--trace-warnings/.test(line)) process.stderr.write(`${line}\n`);
  });
  return s;
}

/** measure runs the load against started servers: CPU and size are read right before "go" and right after the result. */
async function measure(plan: LoadPlan, planFile: string, serverPids: number[], pgPid: number | undefined, size: () => Promise<number>) {
  writeFileSync(planFile, JSON.stringify(plan));
  const load = spawnLines(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'scale-load.ts'), planFile]);
  process.stderr.write(`  load ${(await load.waitFor(/^ready/)).slice(6)}\n`);
  const cpu = () => ({ servers: serverPids.reduce((a, p) => a + procCpuSeconds(p), 0), pg: pgPid === undefined ? 0 : treeCpuSeconds(pgPid) });
  const bytes0 = await size();
  const cpu0 = cpu();
  load.p.stdin!.write('go\n');
  const result = JSON.parse(await load.waitFor(/^\{/)) as LoadResult;
  const cpu1 = cpu();
  await load.stop();
  return { result, serverCpu: cpu1.servers - cpu0.servers, pgCpu: pgPid === undefined ? null : cpu1.pg - cpu0.pg, bytes0, size };
}

export async function run(argv: readonly string[] = process.argv.slice(2)) {
  const o = options(argv);
  const dir = dirname(tempPath('x'));
  try {
    await runIn(dir, o);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function runIn(dir: string, o: Options) {
  const today = localDateOf(Date.now(), TZ);
  const readingDates = Array.from({ length: o.days }, (_, d) => addDays(today, d - o.days));
  const orderDates = Array.from({ length: o.days }, (_, d) => addDays(today, d + 1));
  const expostFrom = formatInstant(localDay(readingDates[0]!, TZ).startMs);
  const exanteFrom = formatInstant(localDay(orderDates[0]!, TZ).startMs);
  const memberKeys = Array.from({ length: o.members }, (_, i) => encodeKey(memberKey(i).publicKey));
  const profiles = Math.min(4, o.communities);
  const prosumers = Array.from({ length: o.members }, (_, i) => i).filter(isProsumer).length;
  const perDay = {
    readings: o.members + prosumers, orders: Array.from({ length: o.members }, (_, i) => i).filter(ordersToday).length,
    clears: readingDates.reduce((a, d) => a + dayIntervals(localDay(d, TZ), 30).length, 0) / o.days,
  };
  const txPerCommunityDay = perDay.readings + perDay.orders + perDay.clears;
  process.stdout.write(`scale: ${o.communities} communities × ${o.members} members, ${o.days} simulated day(s) (readings ${readingDates[0]}..${readingDates.at(-1)}, orders for ${orderDates[0]}..${orderDates.at(-1)}), `
    + `${txPerCommunityDay} transactions per community-day (${perDay.readings} meter.readings, ${perDay.orders} order.place, ${perDay.clears} market.clear), ${o.connections} connections per server process\n`);
  const rowsFile = join(dir, 'rows.json');
  const ways: Record<string, unknown>[] = [];
  let setupSeconds: number | null = null;
  let nonces = { operatorNonce: 0, dsoNonce: 0 };
  let probe: Awaited<ReturnType<typeof probeDay>> | undefined;
  const calibration = { ed25519VerifiesPerSecondOneCore: verifyRate(), loadAverage1mAtStart: round(loadavg()[0]!, 2) };

  const needPg = o.ways.some((w) => w.startsWith('pg'));
  if (needPg) {
    const running = await startPg();
    const admin = new pg.Client({ connectionString: running.adminUrl });
    await admin.connect();
    const setupDb = new URL(running.url).pathname.slice(1);
    const urlOf = (db: string) => {
      const u = new URL(running.url);
      u.pathname = `/${db}`;
      return u.toString();
    };
    try {
      // Set-up, once: straight through PgLedger (not measured), in two processes (half the communities each), then copied per way.
      const pool = pgPool(running.url, 1);
      await migrate(pool);
      const setup = await timed(() => Promise.all([0, 1].map(async (k) => {
        const from = Math.floor((k * o.communities) / 2);
        const to = Math.floor(((k + 1) * o.communities) / 2);
        if (from === to) return;
        const file = join(dir, `setup-${k}.json`);
        writeFileSync(file, JSON.stringify({ url: running.url, from, to, members: o.members, memberKeys, expostFrom, exanteFrom, rowsFile } satisfies SetupPlan));
        const child = spawnLines(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'scale-load.ts'), 'setup', file], { stdio: ['ignore', 'pipe', 'inherit'] });
        nonces = JSON.parse(await child.waitFor(/^\{/)) as typeof nonces;
        await child.stop();
      })));
      setupSeconds = setup.seconds;
      const setupBytes = Number((await pool.query<{ s: string }>('SELECT pg_database_size(current_database()) AS s')).rows[0]!.s);
      await pool.end();
      process.stdout.write(`set-up through PgLedger.submitAtomic (not measured): ${o.communities * (5 + o.members * 2 + prosumers)} transactions in ${round(setup.seconds, 1)} s, database ${round(setupBytes / 1e6, 1)} MB\n`);
      if (o.maxSeconds) {
        const probeDb = `${setupDb}_probe`;
        await admin.query(`CREATE DATABASE "${probeDb}"`);
        probe = await probeDay(urlOf(probeDb), o.members, memberKeys, expostFrom, exanteFrom, readingDates[0]!, orderDates[0]!);
        await admin.query(`DROP DATABASE "${probeDb}" WITH (FORCE)`);
        process.stdout.write(`probe: one whole community-day (${probe.transactions} transactions) through PgLedger.submitAtomic grew the database by ${probe.bytes} bytes, ${probe.bytesPerMemberDay} per member-day\n`);
      }
      const keys = join(dir, 'keys');
      mkdirSync(keys, { recursive: true });
      for (let c = 0; c < o.communities; c++) writeKeyFile(join(keys, `operator-${c}.key`), operatorKey(c));

      // A fresh database per way: the first takes the set-up database itself, the others copies made before it runs.
      const pgWays = o.ways.filter((w) => w.startsWith('pg'));
      const dbOf = new Map(pgWays.map((w, k) => [w, k === 0 ? setupDb : `${setupDb}_${w}`]));
      for (const w of pgWays.slice(1)) await admin.query(`CREATE DATABASE "${dbOf.get(w)}" TEMPLATE "${setupDb}" STRATEGY FILE_COPY`);
      for (const way of pgWays) {
        const n = way === 'pg2' ? 2 : 1;
        const db = dbOf.get(way)!;
        const url = urlOf(db);
        const sizePool = pgPool(url, 1);
        const pgPid = procStat(Number((await sizePool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid))?.ppid;
        const size = async () => Number((await sizePool.query<{ s: string }>('SELECT pg_database_size(current_database()) AS s')).rows[0]!.s);
        const servers = Array.from({ length: n }, (_, k) => serveProcess(['--pg', url, ...(o.checkpoints ? ['--keys', keys] : []), '--secret', join(dir, `${way}.secret`), '--data-dir', join(dir, `${way}-data`)]));
        try {
          const targets = await Promise.all(servers.map(async (s) => /(http:\/\/\S+)/.exec(await s.waitFor(/^openlec is serving/))![1]!));
          process.stderr.write(`${way}: ${n} serve --pg process(es) at ${targets.join(', ')}\n`);
          const plan: LoadPlan = {
            mode: 'pg', targets, communities: Array.from({ length: o.communities }, (_, c) => ({ id: communityId(c), index: c, target: c % n })),
            members: o.members, readingDates, orderDates, rowsFile, connections: o.connections, profiles, ...nonces, ...(o.maxSeconds ? { maxSeconds: o.maxSeconds } : {}),
          };
          const m = await measure(plan, join(dir, `${way}.plan.json`), servers.map((s) => s.p.pid!), pgPid, size);
          const bytes = (await size()) - m.bytes0;
          ways.push(figures(way, `PostgreSQL, ${n} serve --pg process${n > 1 ? 'es (each community on one, by index mod 2)' : ''}`, n, o.communities, o.members, o.days, m, bytes, txPerCommunityDay * o.communities * o.days));
        } finally {
          await Promise.all(servers.map((s) => s.stop()));
          await sizePool.end();
          if (db !== setupDb) await admin.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
        }
      }
    } finally {
      await admin.end();
      await running.stop();
    }
  }

  if (o.ways.includes('sqlite')) {
    // One community in its own file, set up the same way as community 0 of the PostgreSQL database.
    const file = join(dir, 'community.db');
    const { txs, ...n } = setupTransactions(0, o.members, memberKeys, expostFrom, exanteFrom);
    const ledger = SqliteLedger.create(file, { signatures: TRUSTED });
    await ledger.submitAtomic(txs);
    if (!existsSync(rowsFile)) writeFileSync(rowsFile, JSON.stringify(rowsOf(ledger.state)));
    nonces = n;
    await ledger.close();
    const keyFile = join(dir, 'operator-0.key');
    writeKeyFile(keyFile, operatorKey(0));
    const fileBytes = () => [file, `${file}-wal`].reduce((a, f) => a + (existsSync(f) ? statSync(f).size : 0), 0);
    const server = serveProcess(['--db', file, ...(o.checkpoints ? ['--key', keyFile] : [])]);
    try {
      const target = /(http:\/\/\S+)/.exec(await server.waitFor(/^openlec is serving/))![1]!;
      const plan: LoadPlan = {
        mode: 'sqlite', targets: [target], communities: [{ id: communityId(0), index: 0, target: 0 }], members: o.members, readingDates, orderDates, rowsFile,
        connections: o.connections, profiles, ...nonces,
      };
      const m = await measure(plan, join(dir, 'sqlite.plan.json'), [server.p.pid!], undefined, async () => fileBytes());
      await server.stop();
      ways.push(figures('sqlite', 'SQLite, 1 serve --db process, ONE community (its own file)', 1, 1, o.members, o.days, m, fileBytes() - m.bytes0, txPerCommunityDay * o.days));
    } finally {
      await server.stop();
    }
  }

  const head = ['way', 'communities', 'transactions', 'refused', 'wall s', 'appends/s', 'p50 ms', 'p99 ms', 'server CPU s/1k tx', 'PostgreSQL CPU s/1k tx', 'load CPU s/1k tx', 'DB bytes/tx', 'DB bytes/member-day'];
  const perMemberDay = (w: Record<string, unknown>) => (w.dbBytesPerMemberDay !== null ? (w.dbBytesPerMemberDay as number) : probe && String(w.way).startsWith('pg') ? `${probe.bytesPerMemberDay.toLocaleString('en-US')} (probe)` : '-');
  printTable(`scale: ${o.members} members per community, POST /v1/transactions from a separate load process, ${o.connections} connections per server process`, ways.map((w) => [
    String(w.way), w.communities as number, w.transactions as number, w.refused as number, w.seconds as number, w.appendsPerSecond as number, w.p50Ms as number, w.p99Ms as number,
    w.serverCpuSecondsPer1kTx as number, w.pgCpuSecondsPer1kTx === null ? '-' : (w.pgCpuSecondsPer1kTx as number), w.loadCpuSecondsPer1kTx as number, w.dbBytesPerTx as number, perMemberDay(w),
  ]), head);
  for (const w of ways) {
    const kinds = Object.entries(w.byKind as Record<string, { n: number; p50Ms: number; p99Ms: number }>).map(([k, v]) => `${k} ${v.n} (p50 ${v.p50Ms} ms, p99 ${v.p99Ms} ms)`).join(', ');
    process.stdout.write(`  ${w.way}: ${w.label}. ${kinds}.${w.complete ? ` Whole: ${o.days} simulated day(s).` : ` CUT at ${o.maxSeconds} s after ${w.transactions} of ${w.expected} transactions (${o.days} day(s)): the figures are of what was sent; no clearing yet (they follow a day's readings).`}\n`);
  }
  process.stdout.write(`  set-up (genesis, DSO, feeder, market rules, participants, meters) went straight through submitAtomic, not measured${setupSeconds === null ? '' : ` (${round(setupSeconds, 1)} s for PostgreSQL)`}; member keys are shared across communities (bench/scale.ts says why).\n`);
  process.stdout.write(`  machine: ${calibration.ed25519VerifiesPerSecondOneCore.toLocaleString('en-US')} Ed25519 verifications/s on one core; load average ${calibration.loadAverage1mAtStart} at start, ${round(loadavg()[0]!, 2)} at the end (other work on the same cores counts in every figure).\n`);
  process.stdout.write(`${JSON.stringify({
    bench: 'scale', date: new Date().toISOString().slice(0, 10), communities: o.communities, members: o.members, days: o.days, connections: o.connections, maxSeconds: o.maxSeconds ?? null, checkpoints: o.checkpoints,
    txPerCommunityDay, readingDates: [readingDates[0], readingDates.at(-1)], setupSeconds: setupSeconds === null ? null : round(setupSeconds, 1),
    ...calibration, loadAverage1mAtEnd: round(loadavg()[0]!, 2), ...(probe ? { pgProbe: probe } : {}), ways,
  })}\n`);
  const bad = ways.filter((w) => (w.refused as number) > 0);
  if (bad.length) throw new Error(`refused transactions: ${bad.map((w) => `${w.way}: ${JSON.stringify(w.statuses)} ${(w.refusals as string[]).join(' | ')}`).join('; ')}`);
}

function figures(way: string, label: string, servers: number, communities: number, members: number, days: number, m: Awaited<ReturnType<typeof measure>>, bytes: number, expected: number) {
  const r = m.result;
  const per1k = (s: number | null) => (s === null ? null : round((1000 * s) / r.accepted, 3));
  const complete = r.accepted === expected;
  return {
    way, label, servers, communities, transactions: r.accepted, expected, complete, refused: r.requests - r.accepted, statuses: r.statuses, refusals: r.refusals,
    seconds: round(r.seconds, 1), appendsPerSecond: round(r.perSecond), p50Ms: round(r.p50Ms, 1), p90Ms: round(r.p90Ms, 1), p99Ms: round(r.p99Ms, 1), maxMs: round(r.maxMs),
    byKind: Object.fromEntries(Object.entries(r.byKind).map(([k, v]) => [k, { n: v.n, p50Ms: round(v.p50Ms, 1), p99Ms: round(v.p99Ms, 1) }])),
    serverCpuSecondsPer1kTx: per1k(m.serverCpu), pgCpuSecondsPer1kTx: per1k(m.pgCpu), loadCpuSecondsPer1kTx: per1k(r.loaderCpuSeconds),
    retriedOnNewConnection: r.retried, dbBytes: bytes, dbBytesPerTx: round(bytes / r.accepted),
    // Only whole days give bytes per member-day: a cut load has no clearing yet (see pgProbe).
    dbBytesPerMemberDay: complete ? round(bytes / (members * communities * days)) : null,
  };
}
