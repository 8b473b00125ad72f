import { defineConfig } from 'vite';

// The dashboard imports the platform's own verification code from ../src (ledger, audit,
// charts): the browser checks proofs with exactly the code the CLI uses.
export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  logLevel: 'warn',
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', sourcemap: true },
});
