import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const BIN = join(import.meta.dirname, '..', '..', 'bin', 'openlec.js');

/** openlec runs the CLI in its own process and returns its exit code and output (never throws). */
export async function openlec(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

export interface Started {
  readonly url: string;
  readonly child: ChildProcess;
  /** output is what the process has printed so far, stdout and stderr. */
  output(): string;
}

/** startProcess runs a long-lived process and resolves with the first loopback URL it prints; it rejects if the process exits first. */
export function startProcess(command: string, args: readonly string[], o: { cwd?: string } = {}): Promise<Started> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(o.cwd ? { cwd: o.cwd } : {}) });
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /(http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve({ url: m[1]!, child, output: () => out });
    });
    child.stderr!.on('data', (b: Buffer) => { out += b.toString(); });
    child.on('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}: ${out}`)));
  });
}

/** startOpenlec runs a long-lived `openlec` command (serve, follow) of this checkout. */
export const startOpenlec = (...args: string[]) => startProcess(process.execPath, [BIN, ...args]);

/** stopProcess ends a started process with SIGINT, as Ctrl-C would, and waits for it. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  // Ended already: by itself (exitCode) or by a signal, such as a test's SIGKILL (signalCode).
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGINT');
  await new Promise((r) => child.once('exit', r));
}
