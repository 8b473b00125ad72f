#!/usr/bin/env node
// openlec command line. The published package runs the compiled JavaScript in dist/; a
// checkout of the sources (src/ present) runs the TypeScript through tsx, a devDependency,
// unless OPENLEC_USE_DIST=1 asks for dist/ (npm test builds it first, and its many CLI
// processes start several times faster without a TypeScript loader).
import { existsSync } from 'node:fs';

const sources = new URL('../src/cli/main.ts', import.meta.url);
const compiled = new URL('../dist/cli/main.js', import.meta.url);
let main;
if (existsSync(sources) && !(process.env.OPENLEC_USE_DIST === '1' && existsSync(compiled))) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(sources.href));
} else {
  ({ main } = await import('../dist/cli/main.js'));
}
await main(process.argv);
