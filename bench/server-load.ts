// The load generator of `npm run bench -- server`, in its own process: C keep-alive
// connections on loopback, each posting the signed orders of its own participants in
// nonce order, one request at a time. Prints one JSON object: counts, rate, latencies.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';

const [url, file, connectionsArg, warmupArg] = process.argv.slice(2) as [string, string, string, string];
const connections = Number(connectionsArg);
const warmup = Number(warmupArg);
const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
const agent = new Agent({ keepAlive: true, maxSockets: connections });
const target = new URL('/v1/transactions', url);

// Lines are "<participant index> <json>": a participant's orders stay on one connection, in order.
const queues: string[][] = Array.from({ length: connections }, () => []);
for (const line of lines) {
  const space = line.indexOf(' ');
  queues[Number(line.slice(0, space)) % connections]!.push(line.slice(space + 1));
}

function post(body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(target, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function phase(take: (q: string[]) => string[]) {
  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  const t0 = process.hrtime.bigint();
  await Promise.all(queues.map(async (q) => {
    for (const body of take(q)) {
      const t = process.hrtime.bigint();
      const status = await post(body);
      latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  }));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  return { requests: latencies.length, accepted: statuses.get(201) ?? 0, statuses: Object.fromEntries(statuses), seconds, perSecond: (statuses.get(201) ?? 0) / seconds, p50Ms: q(0.5), p90Ms: q(0.9), p99Ms: q(0.99), maxMs: latencies[latencies.length - 1] ?? 0 };
}

// Warm-up: the first orders of each queue (JIT, SQLite caches), not counted.
const perQueue = Math.floor(warmup / connections);
const warm = await phase((q) => q.splice(0, perQueue));
const measured = await phase((q) => q);
const cpu = process.cpuUsage();
process.stdout.write(`${JSON.stringify({ warmup: warm.requests, ...measured, loaderCpuSeconds: (cpu.user + cpu.system) / 1e6 })}\n`);
agent.destroy();
