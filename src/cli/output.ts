import { SingleBar } from 'cli-progress';
import { CommanderError } from 'commander';
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

/**
 * EXIT are the CLI's exit codes, so scripts can tell a log that failed a check from a
 * command they called wrongly: 0 done (or the check passed), 1 a check failed (verify,
 * check-proof, verify-evidence found the log, proof or evidence bad; witness or follow
 * caught the operator equivocating), 2 usage (unknown
 * command or option, missing or invalid option value), 3 any other error (bad input
 * file, refused transaction, a database another process writes, network).
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, error: 3 } as const;

/** CheckFailed marks an error that is the answer of a check (exit 1), not a failure to run it. */
export class CheckFailed extends OpenlecError {}

/** checked runs a check and reports what it throws as a failed check (exit 1), except usage and file errors. */
export async function checked<T>(f: () => T | Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof OpenlecError && !['E_USAGE', 'E_FILE'].includes(e.code) && !(e instanceof CheckFailed)) {
      throw new CheckFailed(e.code, e.message, { ...(e.field ? { field: e.field } : {}), details: e.details, cause: e });
    }
    throw e;
  }
}

const FILE_ERRORS: Record<string, string> = {
  ENOENT: 'no such file or directory', EACCES: 'permission denied', EISDIR: 'is a folder, not a file', ENOTDIR: 'a part of the path is not a folder',
};

function isFileError(e: unknown): e is NodeJS.ErrnoException & { code: string; path: string } {
  const x = e as NodeJS.ErrnoException;
  return x instanceof Error && typeof x.path === 'string' && typeof x.code === 'string' && x.code in FILE_ERRORS;
}

/** exitCodeOf is the exit code an error ends the command with (see EXIT). */
export function exitCodeOf(e: unknown): number {
  if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
  if (e instanceof CheckFailed || (e instanceof OpenlecError && e.code === 'E_EQUIVOCATION')) return EXIT.failed;
  if (e instanceof OpenlecError && e.code === 'E_USAGE') return EXIT.usage;
  return EXIT.error;
}

/** reportError prints an error the way every command does and sets the exit code. */
export function reportError(e: unknown): void {
  // commander has already printed its own usage errors (and help or version).
  if (e instanceof CommanderError) {
    /* printed */
  } else if (e instanceof OpenlecError) {
    process.stderr.write(`openlec: ${e.message} [${e.code}${e.field ? `, field ${e.field}` : ''}]\n`);
  } else if (isFileError(e)) {
    // A file that is missing or not readable is the user's input, not a bug: no stack trace.
    process.stderr.write(`openlec: ${e.path}: ${FILE_ERRORS[e.code]} [E_FILE, field ${e.path}]\n`);
  } else {
    process.stderr.write(`openlec: ${(e as Error)?.stack ?? String(e)}\n`);
  }
  process.exitCode = exitCodeOf(e);
}
