// npm run bench -- [name ...]: runs the named benchmarks (all when none is named).
// Each prints a table and, as its last line, one JSON object with its figures.
const BENCHES: Record<string, () => Promise<void>> = {
  ledger: async () => (await import('./ledger.ts')).run(),
  market: async () => {
    const figures = await (await import('./market.ts')).run();
    process.stdout.write(`${JSON.stringify({ bench: 'market', ...figures })}\n`);
  },
  allocation: async () => {
    const figures = await (await import('./allocation.ts')).run();
    const imports = await (await import('./import.ts')).run();
    process.stdout.write(`${JSON.stringify({ bench: 'allocation', ...figures, ...imports })}\n`);
  },
  server: async () => (await import('./server.ts')).run(),
  'ledger-cost': async () => (await import('./ledger-cost.ts')).run(),
  sim: async () => {
    const figures = await (await import('./sim.ts')).run31();
    process.stdout.write(`${JSON.stringify({ bench: 'sim', ...figures })}\n`);
  },
  certificates: async () => {
    const figures = await (await import('./certificates.ts')).run();
    process.stdout.write(`${JSON.stringify({ bench: 'certificates', ...figures })}\n`);
  },
  flex: async () => {
    const figures = await (await import('./flex.ts')).run();
    process.stdout.write(`${JSON.stringify({ bench: 'flex', ...figures })}\n`);
  },
  scale: async () => (await import('./scale.ts')).run(),
  'api-keys': async () => (await import('./api-keys.ts')).run(),
  charging: async () => {
    const figures = await (await import('./charging.ts')).run();
    process.stdout.write(`${JSON.stringify({ bench: 'charging', ...figures })}\n`);
  },
};

// Flags are the benchmarks' own (e.g. scale --communities 10): a word after "--flag" is its value, not a name.
const args = process.argv.slice(2);
const names = args.filter((a, i) => !a.startsWith('-') && (a in BENCHES || !(args[i - 1]?.startsWith('--') && !args[i - 1]!.includes('='))));
for (const name of names.length > 0 ? names : Object.keys(BENCHES)) {
  const bench = BENCHES[name];
  if (!bench) {
    process.stderr.write(`unknown benchmark "${name}"; known: ${Object.keys(BENCHES).join(', ')}\n`);
    process.exit(2);
  }
  await bench();
}
