// Builds the published JavaScript: dist/ from src/ (tsc -p tsconfig.build.json, with type
// declarations and relative imports rewritten from .ts to .js), plus the files tsc does not
// emit (the signature worker, plain JavaScript).
import { execFileSync } from 'node:child_process';
import { copyFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const root = new URL('..', import.meta.url);
rmSync(new URL('dist', root), { recursive: true, force: true });
const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
copyFileSync(new URL('src/node/signature-worker.mjs', root), new URL('dist/node/signature-worker.mjs', root));
