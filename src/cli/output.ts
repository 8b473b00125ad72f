import { SingleBar } from 'cli-progress';
import { OpenlecError } from '../errors.ts';

/** table prints rows as aligned columns. */
export function table(rows: readonly (readonly (string | number)[])[], header: readonly string[]): string {
  const all = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, c) => Math.max(...all.map((r) => r[c]!.length)));
  return all.map((r) => r.map((v, c) => v.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n');
}

/** progress shows a bar on stderr when it is a terminal, and nothing otherwise. */
export function progress(label: string): { update(done: number, total: number): void; stop(): void } {
  if (!process.stderr.isTTY) return { update() {}, stop() {} };
  const bar = new SingleBar({ format: `${label} [{bar}] {percentage}% {value}/{total} {eta}s left`, stream: process.stderr, hideCursor: true });
  let started = false;
  return {
    update(done, total) {
      if (!started) bar.start(total, 0);
      started = true;
      bar.update(done);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

/** fail prints an error the way every command does and sets the exit code. */
export function reportError(e: unknown): void {
  if (e instanceof OpenlecError) {
    process.stderr.write(`openlec: ${e.message} [${e.code}${e.field ? `, field ${e.field}` : ''}]\n`);
  } else {
    process.stderr.write(`openlec: ${(e as Error)?.stack ?? String(e)}\n`);
  }
  process.exitCode = 1;
}
