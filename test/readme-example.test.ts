import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { buildApp } from '../src/server/app.ts';
import { PersonalVault } from '../src/server/vault.ts';
import { smallCommunity } from './support/community.ts';

const ROOT = join(import.meta.dirname, '..');

/** The README's integrator example, run as written (against the built package) on a real server. */
test('the README\'s integrator example runs against a server and appends its readings once', { timeout: 60_000 }, async () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const block = /<!-- readme-example: start -->\n```ts\n([\s\S]*?)```\n<!-- readme-example: end -->/.exec(readme);
  assert.ok(block, 'the README has its example');
  const dir = mkdtempSync(join(tmpdir(), 'openlec-readme-'));
  const file = join(dir, 'example.mts');
  writeFileSync(file, block[1]!.replace("from 'openlec'", `from ${JSON.stringify(join(ROOT, 'dist', 'index.js'))}`));
  const c = await smallCommunity();
  const vault = PersonalVault.open(join(c.path, '..', 'personal.db'), randomBytes(32));
  const { app } = await buildApp({ ledger: c.ledger, vault, tokenSecret: randomBytes(32) });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const seed = Buffer.alloc(32);
    seed.write('dso'.padEnd(32, '.'));
    const size = c.ledger.size;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', file], { cwd: ROOT, env: { ...process.env, OPENLEC_URL: url, OPENLEC_SEED_HEX: seed.toString('hex') } });
    assert.equal(stdout, `log of ${size} entries, server time ${stdout.split('server time ')[1]!.split('\n')[0]}\nreadings in entry ${size}\nmeter.readings\n`);
    assert.equal(c.ledger.size, size + 1);
  } finally {
    await app.close();
    vault.close();
    await c.ledger.close();
  }
});
