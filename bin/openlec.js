#!/usr/bin/env node
// openlec command line. The published package runs the compiled JavaScript in dist/; a
// checkout of the sources (src/ present) runs the TypeScript through tsx, a devDependency.
import { existsSync } from 'node:fs';

const sources = new URL('../src/cli/main.ts', import.meta.url);
let main;
if (existsSync(sources)) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(sources.href));
} else {
  ({ main } = await import('../dist/cli/main.js'));
}
await main(process.argv);
