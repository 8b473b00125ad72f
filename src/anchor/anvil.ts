import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { OpenlecError } from '../errors.ts';

/**
 * startAnvil runs a local EVM node from the npm package @foundry-rs/anvil on a free
 * loopback port, for tests, benchmarks and the demo; stop() ends it. Its first account
 * is funded with this well-known development key (never use it on a real chain).
 */
export const ANVIL_KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80' as const;

function anvilBinary(): string {
  const require = createRequire(import.meta.url);
  const pkg = `@foundry-rs/anvil-${process.platform}-${process.arch === 'x64' ? 'amd64' : process.arch}`;
  try {
    return join(dirname(require.resolve(`${pkg}/package.json`)), 'bin', 'anvil');
  } catch {
    throw new OpenlecError('E_ANVIL', `${pkg} is not installed (npm install @foundry-rs/anvil)`, { field: 'rpc' });
  }
}

/** `statePath` keeps the chain in a file across restarts (loaded at start, written at exit and every few seconds). */
export async function startAnvil(o: { chainId?: number; blockTimeSeconds?: number; statePath?: string } = {}): Promise<{ rpc: string; chainId: number; stop(): Promise<void>; process: ChildProcess }> {
  const chainId = o.chainId ?? 31337;
  const args = ['--port', '0', '--host', '127.0.0.1', '--chain-id', String(chainId), ...(o.blockTimeSeconds ? ['--block-time', String(o.blockTimeSeconds)] : []), ...(o.statePath ? ['--state', o.statePath, '--state-interval', '5'] : [])];
  const child = spawn(anvilBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const rpc = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /Listening on (127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve(`http://${m[1]}`);
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new OpenlecError('E_ANVIL', `anvil exited with ${code}: ${out.slice(-500)}`, { field: 'rpc' })));
  });
  child.stdout!.resume();
  return {
    rpc, chainId, process: child,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}
