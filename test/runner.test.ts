import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const ROOT = join(import.meta.dirname, '..');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'runner');

// The runner marks its children; a child with that mark would not run its own files.
const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' };
delete env.NODE_TEST_CONTEXT;

/** runs node --test over fixture files with the spec reporter and the unfinished-file guard, as npm test does. */
function runTests(...files: string[]) {
  const r = spawnSync(process.execPath, [
    '--test', '--test-reporter=spec', '--test-reporter-destination=stdout', `--test-reporter=${join(ROOT, 'test', 'support', 'unfinished-reporter.mjs')}`, '--test-reporter-destination=stderr',
    ...files.map((f) => join(FIXTURES, f)),
  ], { cwd: ROOT, encoding: 'utf8', env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('npm test runs every test file with the guard against files that end before their tests', () => {
  const script: string = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.test;
  assert.match(script, /--test-reporter=\.\/test\/support\/unfinished-reporter\.mjs --test-reporter-destination=stderr/);
});

test('a file whose process exits early, with status 0, fails the run and is named with its unfinished suite', () => {
  const r = runTests('passes.fixture.mjs', 'exits-early.fixture.mjs');
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /1 test file\(s\) ended without reporting their tests/);
  assert.match(r.stderr, /exits-early\.fixture\.mjs: "a store started in before" never finished/);
  assert.doesNotMatch(r.stderr, /passes\.fixture\.mjs/);
});

test('files whose tests pass, skip, are todo or fail are not flagged: failures fail the run as they always did', () => {
  const ok = runTests('passes.fixture.mjs');
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  assert.equal(ok.stderr.trim(), '');
  const failing = runTests('passes.fixture.mjs', 'fails.fixture.mjs');
  assert.equal(failing.status, 1);
  assert.doesNotMatch(failing.stderr, /ended without reporting/);
});
