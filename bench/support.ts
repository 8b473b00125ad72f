import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
