import { defineConfig } from 'vite';

// The dashboard imports the platform's own verification code from ../src (ledger, audit,
// charts): the browser checks proofs with exactly the code the CLI uses.
export default defineConfig({
  root: import.meta.dirname,
  // Relative asset URLs: the same build is served at / and under a community's /c/<id>/.
  base: './',
  logLevel: 'warn',
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', sourcemap: true },
  // csv-parse's main entry is node's (a stream.Transform); the generic CSV importer
  // (src/metering/import/csv.ts) runs in the page on the same library's browser build,
  // which carries its own Buffer and stream.
  resolve: { alias: [{ find: /^csv-parse$/, replacement: 'csv-parse/browser/esm' }] },
});
