import { join } from 'node:path';
import { COMPARE_ROWS, type compareRuns } from '../sim/compare.ts';

/** printComparison prints the compared key figures as aligned columns, one run a column. */
export function printComparison(r: Awaited<ReturnType<typeof compareRuns>>): string {
  const w = Math.max(...COMPARE_ROWS.map(([n]) => n.length));
  const cols = r.runs.map((x) => Math.max(x.label.length, ...COMPARE_ROWS.map(([, f]) => f(x.kpis).length)));
  return [
    `${''.padEnd(w)}  ${r.runs.map((x, i) => x.label.padStart(cols[i]!)).join('  ')}`,
    ...COMPARE_ROWS.map(([n, f]) => `${n.padEnd(w)}  ${r.runs.map((x, i) => f(x.kpis).padStart(cols[i]!)).join('  ')}`),
    `wrote ${join(r.out, 'compare.html')} and compare.json`,
  ].join('\n');
}
