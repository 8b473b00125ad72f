// The load process of `npm run bench -- scale`, in its own process (bench/scale.ts starts
// it with a JSON plan file): it posts one simulated day after another of every community
// it is given, signing each transaction just before sending it, and measures request →
// 201 of POST /v1/transactions. Protocol on stdio: it prepares (reading vectors, keys, one
// GET per community so that the server opens it), prints "ready", waits for "go" on stdin,
// runs, and prints one JSON object with its figures. SCALE_DEBUG=1 prints request errors.
//
// Per community and day: the DSO's meter.readings (one per meter, 48 half-hour values)
// and the members' order.place go out at once, the orders kept at the day's mix; the
// operator's 48 market.clear of the day follow once the day's readings are in. One actor's
// transactions are sent one at a time (nonces must arrive in order); different actors and
// communities run in parallel, at most `connections` requests in flight per server process.
//
// `scale-load.ts setup FILE` sets up a share of the communities instead (scale.ts runs two).
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createInterface } from 'node:readline';
import { Signer } from '../src/client.ts';
import type { SignedTransaction } from '../src/ledger/index.ts';
import { clearAtOnce } from '../src/market/book.ts';
import { nodeSign } from '../src/node/signatures.ts';
import { createRegistry, emptyState } from '../src/registry.ts';
import type { Row } from '../src/state/tables.ts';
import { dayIntervals, formatInstant, localDay } from '../src/units/index.ts';
import { type LoadPlan, type SetupPlan, dayValues, dsoKey, exportMeter, importMeter, isProsumer, memberKey, operatorKey, orderBody, ordersToday, setupCommunities, TZ } from './scale.ts';
import { latencySummary } from './support.ts';

if (process.argv[2] === 'setup') {
  const nonces = await setupCommunities(JSON.parse(readFileSync(process.argv[3]!, 'utf8')) as SetupPlan);
  process.stdout.write(`${JSON.stringify(nonces)}\n`);
  process.exit(0);
}

const plan = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as LoadPlan;
const KINDS = ['readings', 'orders', 'clears'] as const;
type Kind = (typeof KINDS)[number];

/** Slots: at most n requests in flight to one server process (latency is measured from the write, not from a queue). */
class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];
  constructor(n: number) {
    this.free = n;
  }
  async take(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((r) => this.waiting.push(r));
  }
  give(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

// fifo: every pooled connection takes turns, so that none sits idle until the server's keep-alive timeout closes it.
const agents = plan.targets.map(() => new Agent({ keepAlive: true, maxSockets: plan.connections, scheduling: 'fifo' }));
const slots = plan.targets.map(() => new Slots(plan.connections));

/**
 * http sends one request. A keep-alive socket the server closed while idle fails the next
 * request before the server read it (ECONNRESET on a reused socket): that one is sent
 * again on a new connection of its own, as Node's documentation advises (the agent's pool
 * may hold more such sockets).
 */
let retried = 0;
async function http(method: 'GET' | 'POST', target: number, url: URL, body?: string): Promise<{ status: number; text: string }> {
  try {
    return await httpOnce(method, agents[target]!, url, body);
  } catch (e) {
    if (process.env.SCALE_DEBUG) process.stderr.write(`request error: ${(e as NodeJS.ErrnoException).code} reused=${(e as { reused?: boolean }).reused} ${(e as Error).message}\n`);
    if ((e as { reused?: boolean }).reused && (e as NodeJS.ErrnoException).code === 'ECONNRESET') {
      retried++;
      return httpOnce(method, false, url, body);
    }
    throw e;
  }
}

function httpOnce(method: 'GET' | 'POST', agent: Agent | false, url: URL, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    const req = request(url, { method, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', (e) => reject(Object.assign(e, { reused: req.reusedSocket })));
    req.end(body);
  });
}

// The day's reading vectors and the exact clearings they give, per data profile and day:
// an ex-post book is every meter's metered value, so market.clear's body follows from the
// readings alone, computed here with the server's own code (clearAtOnce) before the run.
const t0 = process.hrtime.bigint();
const template = JSON.parse(readFileSync(plan.rowsFile, 'utf8')) as Record<string, Row[]>;
const state = emptyState(createRegistry());
for (const [table, rows] of Object.entries(template)) if (state.specs.has(table)) state.load(table, rows);
const meters: { meter: string; direction: 'import' | 'export'; member: number }[] = [];
for (let i = 0; i < plan.members; i++) {
  meters.push({ meter: importMeter(i), direction: 'import', member: i });
  if (isProsumer(i)) meters.push({ meter: exportMeter(i), direction: 'export', member: i });
}
const starts = plan.readingDates.map((date) => dayIntervals(localDay(date, TZ), 30));
const values: number[][][][] = [];
for (let p = 0; p < plan.profiles; p++) values.push(plan.readingDates.map((_, d) => meters.map((m) => dayValues(p, d, m.member, m.direction, starts[d]!.length))));
const clears = new Map<string, Record<string, unknown>[]>();
function clearsOf(p: number, d: number): Record<string, unknown>[] {
  let list = clears.get(`${p}/${d}`);
  if (!list) {
    const date = plan.readingDates[d]!;
    state.load('readings', meters.map((m, k) => ({ meter: m.meter, direction: m.direction, date, values: values[p]![d]![k]!, corrections: 0, entry: 0 })));
    clears.set(`${p}/${d}`, (list = starts[d]!.map((s) => clearAtOnce(state, s).body as unknown as Record<string, unknown>)));
  }
  return list;
}
// A whole run computes every clearing before it starts; a cut one (--max-seconds) when a day's readings are in, if ever.
if (!plan.maxSeconds) for (let p = 0; p < plan.profiles; p++) for (let d = 0; d < plan.readingDates.length; d++) clearsOf(p, d);
const orderStarts = plan.orderDates.map((date) => dayIntervals(localDay(date, TZ), 30));
const prepareSeconds = Number(process.hrtime.bigint() - t0) / 1e9;

interface Community {
  id: string;
  index: number;
  profile: number;
  target: number;
  txUrl: URL;
  operator: Signer;
  dso: Signer;
  members: Map<number, Signer>;
}

const memberKeys = new Map<number, ReturnType<typeof memberKey>>();
const communities: Community[] = plan.communities.map((c) => {
  const base = plan.targets[c.target]!;
  const prefix = plan.mode === 'pg' ? `/c/${encodeURIComponent(c.id)}` : '';
  return {
    id: c.id, index: c.index, profile: c.index % plan.profiles, target: c.target, txUrl: new URL(`${prefix}/v1/transactions`, base),
    operator: new Signer(operatorKey(c.index), c.id, plan.operatorNonce, undefined, nodeSign),
    dso: new Signer(dsoKey(c.index), c.id, plan.dsoNonce, undefined, nodeSign),
    members: new Map(),
  };
});
const orderers = Array.from({ length: plan.members }, (_, i) => i).filter(ordersToday);
function member(c: Community, i: number): Signer {
  let s = c.members.get(i);
  if (!s) {
    let key = memberKeys.get(i);
    if (!key) memberKeys.set(i, (key = memberKey(i)));
    c.members.set(i, (s = new Signer(key, c.id, 0, undefined, nodeSign)));
  }
  return s;
}

// Warm-up, not measured: every signing key once (node:crypto builds its key object on first
// use), and one GET per community, which opens it on the server that will take its writes.
for (const c of communities) {
  for (const s of [c.operator, c.dso, ...orderers.map((i) => member(c, i))]) nodeSign(s.key.secretKey, new Uint8Array(1));
}
const warm0 = process.hrtime.bigint();
await Promise.all(communities.map(async (c) => {
  await slots[c.target]!.take();
  try {
    const r = await http('GET', c.target, new URL(plan.mode === 'pg' ? `/c/${encodeURIComponent(c.id)}/v1/community` : '/v1/community', plan.targets[c.target]));
    if (r.status !== 200) throw new Error(`GET ${c.id}/v1/community: ${r.status} ${r.text.slice(0, 200)}`);
  } finally {
    slots[c.target]!.give();
  }
}));
const openSeconds = Number(process.hrtime.bigint() - warm0) / 1e9;
process.stdout.write(`ready ${JSON.stringify({ prepareSeconds, openSeconds, meters: meters.length, clearsPerDay: starts.map((s) => s.length) })}\n`);
await new Promise<void>((resolve) => {
  const input = createInterface({ input: process.stdin });
  input.on('line', (line) => {
    if (line.trim() === 'go') {
      input.close();
      resolve();
    }
  });
});

const latencies = Object.fromEntries(KINDS.map((k) => [k, [] as number[]])) as Record<Kind, number[]>;
const statuses = new Map<string, number>();
const refusals: string[] = [];
let deadlineHit = false;
let deadline = Infinity;

/** send signs a transaction once a connection is free, posts it and records its latency (201 only) and status. */
async function send(c: Community, kind: Kind, make: () => SignedTransaction): Promise<boolean> {
  if (Date.now() > deadline) {
    deadlineHit = true;
    return false;
  }
  await slots[c.target]!.take();
  try {
    const body = JSON.stringify(make());
    const t = process.hrtime.bigint();
    const r = await http('POST', c.target, c.txUrl, body).catch((e: Error) => ({ status: 0, text: `${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}` }));
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    statuses.set(`${kind} ${r.status}`, (statuses.get(`${kind} ${r.status}`) ?? 0) + 1);
    if (r.status === 201) {
      latencies[kind].push(ms);
      return true;
    }
    if (refusals.length < 5) refusals.push(`${c.id} ${kind}: ${r.status} ${r.text.slice(0, 300)}`);
    return false;
  } finally {
    slots[c.target]!.give();
  }
}

/**
 * One community's day. The members' orders keep pace with the DSO's readings (order j
 * waits for j × readings/orders readings), so that a load cut by --max-seconds has the
 * day's mix of the two; the clearings need the whole day's readings and come last.
 */
async function day(c: Community, d: number): Promise<void> {
  const date = plan.readingDates[d]!;
  let sent = 0;
  const waiting: { at: number; go: () => void }[] = [];
  const readings = (async () => {
    for (const [k, m] of meters.entries()) {
      const ok = await send(c, 'readings', () => c.dso.sign('meter.readings', { meter: m.meter, direction: m.direction, date, values: values[c.profile]![d]![k]! }));
      sent++;
      for (let i = waiting.length - 1; i >= 0; i--) if (waiting[i]!.at <= sent) waiting.splice(i, 1)[0]!.go();
      if (!ok && deadlineHit) break;
    }
    sent = Infinity;
    for (const w of waiting.splice(0)) w.go();
  })();
  const orders = (async () => {
    for (const [j, i] of orderers.entries()) {
      const at = Math.floor((j * meters.length) / orderers.length);
      if (sent < at) await new Promise<void>((go) => waiting.push({ at, go }));
      if (deadlineHit) return;
      await send(c, 'orders', () => member(c, i).sign('order.place', orderBody(c.index, d, i, orderStarts[d]!)));
    }
  })();
  await readings;
  for (const body of clearsOf(c.profile, d)) {
    if (!(await send(c, 'clears', () => c.operator.sign('market.clear', body))) && deadlineHit) break;
  }
  await orders;
}

const cpu0 = process.cpuUsage();
const start = process.hrtime.bigint();
if (plan.maxSeconds) deadline = Date.now() + plan.maxSeconds * 1000;
await Promise.all(communities.map(async (c) => {
  for (let d = 0; d < plan.readingDates.length && !deadlineHit; d++) await day(c, d);
}));
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
const cpu = process.cpuUsage(cpu0);
const byKind = Object.fromEntries(KINDS.map((k) => [k, latencySummary([...latencies[k]])]));
const all = latencySummary(KINDS.flatMap((k) => latencies[k]));
process.stdout.write(`${JSON.stringify({
  accepted: all.n, requests: [...statuses.values()].reduce((a, b) => a + b, 0), statuses: Object.fromEntries(statuses), refusals, seconds, deadlineHit,
  retried, perSecond: all.n / seconds, p50Ms: all.p50Ms, p90Ms: all.p90Ms, p99Ms: all.p99Ms, maxMs: all.maxMs, byKind, prepareSeconds,
  loaderCpuSeconds: (cpu.user + cpu.system) / 1e6, firstInterval: formatInstant(starts[0]![0]!),
})}\n`);
for (const a of agents) a.destroy();
process.exit(0);
