import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { startProcess, stopProcess } from './support/cli.ts';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/**
 * The published package, as a user gets it: `npm pack` (of dist/ and the dashboard as
 * `prepack` builds them; `npm test` builds them first), then an install of the tarball into an empty folder, with
 * only the dependencies the package declares (no tsx, no TypeScript, no sources). The
 * installed `openlec` must print its version, serve the live demo with its dashboard, and
 * give integrators `import { verify, signRequest } from 'openlec'`.
 *
 * The install skips packages' install scripts, and better-sqlite3's native addon is copied
 * from this checkout's node_modules instead: it is what that package's own install script
 * compiles on this machine (about a minute), and compiling it twice proves nothing more.
 */
describe('the packed tarball', () => {
  const work = mkdtempSync(join(tmpdir(), 'openlec-pack-'));
  const app = join(work, 'app');
  let tarball = '';

  before(async () => {
    // `npm test` has built dist/ and web/dist (pretest) as prepack would: packing without
    // scripts keeps them in place for the other test files, which run the CLI from dist/.
    const packed = await run(NPM, ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: ROOT, maxBuffer: 64 << 20, timeout: 600_000 });
    const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
    tarball = join(work, info!.filename);
    const files = info!.files.map((f) => f.path);
    assert.ok(files.includes('dist/cli/main.js') && files.includes('dist/index.d.ts'), 'compiled JavaScript with type declarations');
    assert.ok(files.includes('web/dist/index.html'), 'the built dashboard');
    assert.ok(!files.some((f) => f.startsWith('src/') || f.startsWith('test/')), 'no sources or tests');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), '{"private": true}');
    await run(NPM, ['install', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: app, maxBuffer: 64 << 20, timeout: 600_000 });
    cpSync(join(ROOT, 'node_modules', 'better-sqlite3', 'build'), join(app, 'node_modules', 'better-sqlite3', 'build'), { recursive: true });
  });

  const bin = () => join(app, 'node_modules', '.bin', 'openlec');

  test('installs without the build tools: no tsx or TypeScript among its dependencies', () => {
    assert.ok(!existsSync(join(app, 'node_modules', 'tsx')), 'tsx is not installed with the package');
    assert.ok(!existsSync(join(app, 'node_modules', 'typescript')), 'typescript is not installed with the package');
    const manifest = JSON.parse(readFileSync(join(app, 'node_modules', 'openlec', 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    assert.ok(!('tsx' in manifest.dependencies));
  });

  test('openlec --version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await run(bin(), ['--version'], { cwd: app });
    assert.equal(r.stdout.trim(), version);
  });

  test('integrators import the verification API from "openlec"', async () => {
    const script = join(app, 'check.mjs');
    writeFileSync(script, [
      "import { verify, signRequest, checkInclusion, leafHash, SqliteLedger } from 'openlec';",
      "const kinds = [verify, signRequest, checkInclusion, leafHash, SqliteLedger].map((f) => typeof f);",
      'console.log(JSON.stringify(kinds));',
    ].join('\n'));
    const r = await run(process.execPath, [script], { cwd: app });
    assert.deepEqual(JSON.parse(r.stdout), ['function', 'function', 'function', 'function', 'function']);
    assert.ok(existsSync(join(app, 'node_modules', 'openlec', 'dist', 'index.d.ts')));
  });

  test('openlec serve --demo serves the live demo and its dashboard', async () => {
    const served = await startProcess(bin(), ['serve', '--demo', '--dir', join(work, 'data'), '--port', '0', '--no-anchor'], { cwd: app });
    try {
      const page = await (await fetch(`${served.url}/`)).text();
      // Asset paths are relative (./assets/...), so that the same build also runs under /c/<id>/ of a multi-community server.
      const script = /<script type="module"[^>]+src="\.\/(assets\/index-[\w-]+\.js)"/.exec(page)?.[1];
      assert.ok(script, `the built dashboard is served at /: ${page.slice(0, 300)}`);
      assert.equal((await fetch(`${served.url}/${script}`)).status, 200, 'its script is served');
      const community = (await (await fetch(`${served.url}/v1/community`)).json()) as { size: number };
      assert.ok(community.size > 100, 'the demo community was simulated into the log');
    } finally {
      await stopProcess(served.child);
    }
  });
});
