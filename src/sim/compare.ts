import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { barChart, esc, lineChart } from '../charts/svg.ts';
import { OpenlecError } from '../errors.ts';
import type { IntervalRow } from './kpis.ts';
import { simulate, type SimulateOptions } from './run.ts';
import type { Scenario } from './scenario.ts';

export interface CompareOptions extends Omit<SimulateOptions, 'scenario' | 'out' | 'flexibility'> {
  /** Two scenarios, or one scenario with two mechanisms, two keys or flexibility off and on (comma-separated). */
  scenarios: (string | Scenario)[];
  out: string;
  /** `off,on` (or `on,off`): one scenario with its DSO flexibility off and on. */
  flexibility?: string;
}

export type ComparedRun = Awaited<ReturnType<typeof simulate>> & { label: string };

/** variants turns the command line into two runs: two scenarios, or one scenario with two mechanisms, two keys, or flexibility off and on. */
function variants(o: CompareOptions): { label: string; options: SimulateOptions }[] {
  const mechanisms = o.mechanism?.split(',') ?? [];
  const keys = o.key?.split(',') ?? [];
  const flex = o.flexibility?.split(',') ?? [];
  const base = { days: o.days, seed: o.seed, progress: o.progress };
  const name = (s: string | Scenario) => (typeof s === 'string' ? s.replace(/^.*\//, '').replace(/\.(ya?ml|json)$/, '') : s.name);
  if (flex.length > 0) {
    if (o.scenarios.length !== 1 || flex.length !== 2 || flex.some((f) => f !== 'on' && f !== 'off') || flex[0] === flex[1] || mechanisms.length > 1 || keys.length > 1) {
      throw new OpenlecError('E_COMPARE', 'compare takes one scenario with --flexibility off,on (or on,off)', { field: 'flexibility' });
    }
    return (flex as ('on' | 'off')[]).map((f) => ({
      label: `flex-${f}`, options: { ...base, scenario: o.scenarios[0]!, out: join(o.out, `flex-${f}`), flexibility: f, mechanism: mechanisms[0], key: keys[0] },
    }));
  }
  if (o.scenarios.length === 2 && mechanisms.length <= 1 && keys.length <= 1) {
    const [a, b] = o.scenarios as [string, string];
    const labels = name(a) === name(b) ? ['a', 'b'] : [name(a), name(b)];
    return [a, b].map((scenario, i) => ({ label: labels[i]!, options: { ...base, scenario, out: join(o.out, labels[i]!), mechanism: mechanisms[0], key: keys[0] } }));
  }
  if (o.scenarios.length === 1 && mechanisms.length === 2 && keys.length <= 1) {
    return mechanisms.map((m) => ({ label: m, options: { ...base, scenario: o.scenarios[0]!, out: join(o.out, m), mechanism: m, key: keys[0] } }));
  }
  if (o.scenarios.length === 1 && keys.length === 2 && mechanisms.length <= 1) {
    return keys.map((k) => ({ label: k, options: { ...base, scenario: o.scenarios[0]!, out: join(o.out, k), key: k, mechanism: mechanisms[0] } }));
  }
  throw new OpenlecError('E_COMPARE', 'compare takes two scenarios, or one scenario with --mechanism a,b, --key a,b or --flexibility off,on', { field: 'scenario' });
}

/** The key figures compared, each with how it is shown (the HTML table and the CLI's). */
export const COMPARE_ROWS: [string, (k: ComparedRun['kpis']) => string][] = [
  ['members', (k) => String(k.members)],
  ['days', (k) => String(k.days)],
  ['mechanism', (k) => k.mechanism],
  ['allocation key', (k) => k.allocationKey ?? '-'],
  ['self-consumption', (k) => pct(k.selfConsumptionRate)],
  ['self-sufficiency', (k) => pct(k.selfSufficiency)],
  ['grid import, kWh', (k) => k.gridImportKwh.toFixed(1)],
  ['grid export, kWh', (k) => k.gridExportKwh.toFixed(1)],
  ['peak import, kW', (k) => k.peakImportKw.toFixed(1)],
  ['peak export, kW', (k) => k.peakExportKw.toFixed(1)],
  ['traded, kWh', (k) => k.tradedKwh.toFixed(1)],
  ['mean price per kWh', (k) => (k.meanPriceMicroPerKwh === null ? '-' : (k.meanPriceMicroPerKwh / 1e6).toFixed(4))],
  ['network fees', (k) => money(k.networkFeesMicro)],
  ['savings, total', (k) => money(k.savings.totalMicro)],
  ['savings, min / max', (k) => `${money(k.savings.minMicro)} / ${money(k.savings.maxMicro)}`],
  ['savings Gini', (k) => String(k.savings.gini)],
  ['feeder limit violations', (k) => String(k.feederLimitViolations)],
  ['certificates issued / claimed, kWh', (k) => (k.certificates ? `${(k.certificates.issuedWh / 1000).toFixed(1)} / ${(k.certificates.claimedWh / 1000).toFixed(1)}` : '-')],
  ['hourly / monthly matching', (k) => (k.certificates ? `${(k.certificates.hourlyMatchingPpm / 10_000).toFixed(1)} % / ${(k.certificates.monthlyMatchingPpm / 10_000).toFixed(1)} %` : '-')],
  ['flexibility', (k) => (k.flexibility.enabled ? 'on' : 'off')],
  ['hours above import limits', (k) => k.flexibility.hoursAboveLimit.toFixed(1)],
  ['energy above import limits, kWh', (k) => k.flexibility.kwhAboveLimit.toFixed(1)],
  ['flex requests / orders', (k) => `${k.flexibility.requests} / ${k.flexibility.orders}`],
  ['flex ordered / delivered, kWh', (k) => `${k.flexibility.orderedKwh.toFixed(1)} / ${k.flexibility.deliveredKwh.toFixed(1)}`],
  ['DSO flexibility cost', (k) => money(k.flexibility.dsoCostMicro)],
  ['flex earnings, members / aggregator', (k) => `${money(k.flexibility.memberEarningsMicro)} / ${money(k.flexibility.aggregatorEarningsMicro)}`],
  ['flex penalties', (k) => money(k.flexibility.penaltiesMicro)],
  ['ledger transactions', (k) => String(k.ledger.transactions)],
  ['bytes per member-day', (k) => String(k.ledger.bytesPerMemberDay)],
  ['log verifies', (k) => (k.ledger.verified ? 'yes' : 'NO')],
];
const pct = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(1)} %`);
const money = (micro: number) => (micro / 1e6).toFixed(2);
const COLORS = ['#2980b9', '#c0392b'];

/** chartedPrice: an interval's price per kWh, the clearing's single price or else the mean of its trades' prices, so that runs of every mechanism can be drawn side by side. */
const chartedPrice = (x: IntervalRow): number | null => {
  const micro = x.priceMicroPerKwh ?? x.meanPriceMicroPerKwh;
  return micro === null ? null : micro / 1e6;
};

/** The length of a run's intervals in minutes, from its first two. */
const intervalMinutes = (r: ComparedRun): number => (r.intervals.length < 2 ? 60 : (Date.parse(r.intervals[1]!.start) - Date.parse(r.intervals[0]!.start)) / 60_000);

/** compareRuns simulates two variants and writes compare.html and compare.json with their KPIs side by side. */
export async function compareRuns(o: CompareOptions) {
  const runs: ComparedRun[] = [];
  for (const v of variants(o)) {
    runs.push({ ...(await simulate(v.options)), label: v.label });
  }
  const table = `<table><tr><th></th>${runs.map((r) => `<th>${esc(r.label)}</th>`).join('')}</tr>${COMPARE_ROWS.map(([name, f]) => `<tr><th>${esc(name)}</th>${runs.map((r) => `<td>${esc(f(r.kpis))}</td>`).join('')}</tr>`).join('')}</table>`;
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>openlec: ${runs.map((r) => esc(r.label)).join(' vs ')}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}h2{font-size:1.1em;margin-top:2em}table{border-collapse:collapse}th,td{padding:2px 12px;text-align:left;border-bottom:1px solid #eee}svg{background:#fafafa;border:1px solid #ddd}.legend span{display:inline-block;margin-right:1.5em}.legend i{display:inline-block;width:12px;height:12px;margin-right:4px}</style></head>
<body><h1>openlec simulation: ${runs.map((r) => esc(r.label)).join(' vs ')}</h1>
<h2>Key figures</h2>${table}
<h2>Clearing price per kWh (where trades have their own prices, their volume-weighted mean)</h2>
${lineChart('chart-price-compare', runs.map((r, i) => ({ name: r.label, color: COLORS[i]!, values: r.intervals.map(chartedPrice) })))}
<h2>Energy traded between members per interval (kWh)</h2>
${lineChart('chart-traded-compare', runs.map((r, i) => ({ name: r.label, color: COLORS[i]!, values: r.intervals.map((x) => x.tradedWh / 1000) })))}
<h2>Net import of the community per interval (kW)</h2>
${lineChart('chart-import-compare', runs.map((r, i) => ({ name: r.label, color: COLORS[i]!, values: r.intervals.map((x) => ((x.importWh - x.exportWh) * 60) / intervalMinutes(r) / 1000) })))}
<h2>Savings per member, sorted (${runs.map((r) => esc(r.label)).join(' / ')})</h2>
${lineChart('chart-savings-compare', runs.map((r, i) => ({ name: r.label, color: COLORS[i]!, values: r.members.map((m) => m.savingsMicro / 1e6).sort((a, b) => a - b) })))}
<h2>Self-sufficiency and self-consumption (%)</h2>
${barChart('chart-rates-compare', runs.flatMap((r) => [{ label: `${r.label}: self-sufficiency`, value: (r.kpis.selfSufficiency ?? 0) * 100 }, { label: `${r.label}: self-consumption`, value: (r.kpis.selfConsumptionRate ?? 0) * 100 }]))}
<p>Each run's own report, log and KPIs: ${runs.map((r) => `<a href="${esc(r.label)}/report.html">${esc(r.label)}</a>`).join(', ')}.</p>
</body></html>
`;
  writeFileSync(join(o.out, 'compare.html'), html);
  writeFileSync(join(o.out, 'compare.json'), JSON.stringify(runs.map((r) => ({ label: r.label, kpis: r.kpis })), null, 2) + '\n');
  return { runs, out: o.out };
}
