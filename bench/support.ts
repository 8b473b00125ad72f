import { execFileSync, spawn, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { keyPairFromSeed } from '../src/ledger/index.ts';

export function tempPath(name: string): string {
  return join(mkdtempSync(join(tmpdir(), 'openlec-bench-')), name);
}

/** timed runs f and returns its result and wall seconds. */
export async function timed<T>(f: () => T | Promise<T>): Promise<{ value: T; seconds: number }> {
  const t0 = process.hrtime.bigint();
  const value = await f();
  return { value, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

export function printTable(title: string, rows: (string | number)[][], header: string[]): void {
  const all = [header, ...rows].map((r) => r.map((v) => (typeof v === 'number' ? v.toLocaleString('en-US', { maximumFractionDigits: 3 }) : v)));
  const widths = header.map((_, c) => Math.max(...all.map((r) => r[c]!.length)));
  process.stdout.write(`\n${title}\n`);
  for (const [i, r] of all.entries()) {
    process.stdout.write(r.map((v, c) => (c === 0 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join('  ') + '\n');
    if (i === 0) process.stdout.write(widths.map((w) => '-'.repeat(w)).join('  ') + '\n');
  }
}

export const round = (x: number, digits = 0) => Number(x.toFixed(digits));

/** lcg: a seeded 32-bit linear congruential generator in [0, 1), the benchmarks' reproducible randomness. */
export function lcg(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
}

/** labelKey: an Ed25519 key pair seeded by a label (padded with dots to 32 bytes), so every run signs with the same keys. */
export const labelKey = (label: string) => {
  const seed = new Uint8Array(32);
  new TextEncoder().encodeInto(label.padEnd(32, '.'), seed);
  return keyPairFromSeed(seed);
};

/** quantile of ascending values by nearest rank (the latency percentiles of the server benchmarks). */
export const quantile = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;

/** latencySummary sorts latencies (ms) and returns their count, p50, p90, p99 and max. */
export function latencySummary(latencies: number[]) {
  latencies.sort((a, b) => a - b);
  return { n: latencies.length, p50Ms: quantile(latencies, 0.5), p90Ms: quantile(latencies, 0.9), p99Ms: quantile(latencies, 0.99), maxMs: latencies[latencies.length - 1] ?? 0 };
}

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** procStat reads /proc/<pid>/stat: parent pid, and user + system CPU seconds of the process (all threads) and of its reaped children; undefined once it is gone. */
export function procStat(pid: number): { ppid: number; cpu: number; children: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the command name (in parentheses, which may hold spaces): state is field 3.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const t = ticksPerSecond();
  return { ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12])) / t, children: (Number(f[13]) + Number(f[14])) / t };
}

/** procCpuSeconds is the user + system CPU a process has used so far (0 once it is gone). */
export const procCpuSeconds = (pid: number) => procStat(pid)?.cpu ?? 0;

/**
 * treeCpuSeconds is the CPU of a process and its direct children, those still running and
 * those it has reaped: a PostgreSQL postmaster and its backends.
 */
export function treeCpuSeconds(pid: number): number {
  const root = procStat(pid);
  if (!root) return 0;
  let total = root.cpu + root.children;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = procStat(Number(name));
    if (s?.ppid === pid) total += s.cpu;
  }
  return total;
}

/** spawnLines starts a process and reads its stdout line by line: `waitFor` resolves with the first line matching, or rejects if it exits first. */
export function spawnLines(command: string, args: string[], options: SpawnOptions = {}) {
  const p = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'], ...options });
  const lines = createInterface({ input: p.stdout! });
  const seen: string[] = [];
  const waiters: { match: RegExp; resolve: (line: string) => void }[] = [];
  lines.on('line', (line) => {
    const i = waiters.findIndex((w) => w.match.test(line));
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(line);
    else seen.push(line);
  });
  let exited: Error | undefined;
  const rejecters = new Set<(e: Error) => void>();
  p.once('exit', (code, signal) => {
    exited = new Error(`${command} ${args.slice(0, 3).join(' ')} exited with ${code ?? signal}: ${seen.slice(-5).join(' | ')}`);
    for (const r of rejecters) r(exited);
  });
  const waitFor = (match: RegExp) => new Promise<string>((resolve, reject) => {
    const i = seen.findIndex((l) => match.test(l));
    if (i >= 0) return resolve(seen.splice(i, 1)[0]!);
    if (exited) return reject(exited);
    rejecters.add(reject);
    waiters.push({ match, resolve: (line) => {
      rejecters.delete(reject);
      resolve(line);
    } });
  });
  const stop = () => new Promise<void>((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve();
    p.once('exit', () => resolve());
    p.kill('SIGTERM');
  });
  return { p, waitFor, stop };
}

/**
 * serveUntilTerm is the end of a benchmark's server process: it listens on loopback, prints
 * its URL, and on SIGTERM closes, runs `close` (which gives the log's size) and prints its CPU
 * time, peak memory and that size as JSON, then exits.
 */
export async function serveUntilTerm(app: { listen(o: { port: number; host: string }): Promise<string>; close(): Promise<unknown> }, close: () => Promise<number>): Promise<void> {
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const cpu0 = process.cpuUsage();
  process.stdout.write(`listening ${url}\n`);
  process.once('SIGTERM', () => {
    void (async () => {
      await app.close();
      const size = await close();
      const cpu = process.cpuUsage(cpu0);
      process.stdout.write(`${JSON.stringify({ cpuSeconds: (cpu.user + cpu.system) / 1e6, maxRssMb: process.resourceUsage().maxRSS / 1024, size })}\n`);
      process.exit(0);
    })();
  });
}
