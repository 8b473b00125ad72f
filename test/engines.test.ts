import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import semver from 'semver';

const ROOT = join(import.meta.dirname, '..');
const read = (file: string) => JSON.parse(readFileSync(join(ROOT, file), 'utf8'));

/**
 * `npm install` warns EBADENGINE when a package in the tree does not accept the running
 * Node. For the range in openlec's `engines` to be true, every package of the lockfile
 * (dependencies and devDependencies, as `npm install` installs both) must accept every
 * Node version that range allows. Optional packages npm did not install here (other
 * platforms, wasm fallbacks) are skipped.
 */
test('every package in the lockfile accepts every Node that package.json engines allows', () => {
  const ours: string = read('package.json').engines.node;
  assert.ok(semver.validRange(ours), `engines.node ${ours} is a valid range`);
  const lock = read('package-lock.json') as { packages: Record<string, { engines?: { node?: string } | string[]; optional?: boolean }> };
  const narrower = Object.entries(lock.packages)
    .filter(([path, p]) => path !== '' && !(p.optional && !existsSync(join(ROOT, path))))
    .flatMap(([path, p]) => {
      const theirs = Array.isArray(p.engines) ? undefined : p.engines?.node;
      return theirs && !semver.subset(ours, theirs, { includePrerelease: false }) ? [`${path.replace(/^.*node_modules\//, '')} wants node ${theirs}`] : [];
    });
  assert.deepEqual(narrower, [], `engines.node is ${ours}`);
});

test('the running Node is one that engines allows', () => {
  assert.ok(semver.satisfies(process.versions.node, read('package.json').engines.node), `node ${process.versions.node}`);
});
