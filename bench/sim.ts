import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { VILLAGE_SCENARIO } from '../src/sim/scenario.ts';
import { printTable, round, tempPath } from './support.ts';

const ROOT = join(import.meta.dirname, '..');

/** town: the village with every group doubled, 1,000 households (the solar park stays one). */
export function townScenario() {
  return { ...VILLAGE_SCENARIO, name: 'town-1000', members: VILLAGE_SCENARIO.members.map((m) => ({ ...m, count: (m.count ?? 1) === 1 ? 2 : m.count! * 2 })) };
}

/** One run in its own process, so that peak memory is the run's own. */
export function run(scenario: string, days: number, out: string) {
  execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bin', 'openlec.js'), 'simulate', scenario, '--days', String(days), '--out', out, '--json'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  const timing = JSON.parse(readFileSync(join(out, 'timing.json'), 'utf8'));
  const kpis = JSON.parse(readFileSync(join(out, 'kpis.json'), 'utf8'));
  return { timing, kpis };
}

export async function run31(): Promise<Record<string, number>> {
  const dir = dirname(tempPath('x'));
  const town = join(dir, 'town-1000.json');
  // The aim is for the full pipeline: certificates (on by default) and flexibility on.
  writeFileSync(town, JSON.stringify({ ...townScenario(), flexibility: true }));
  const demo = run('demo', 31, join(dir, 'demo'));
  const big = run(town, 31, join(dir, 'town'));
  const row = (name: string, r: typeof demo) => [name, r.kpis.members, r.kpis.days, r.kpis.ledger.transactions, round(r.timing.wallSeconds, 1), round(r.timing.cpuSeconds, 1), r.timing.cpuMicrosecondsPerTransaction, r.timing.peakRssMb, r.kpis.ledger.bytesPerMemberDay, r.kpis.ledger.verified ? 'yes' : 'NO'];
  printTable('simulate, ex-post uniform market, ledger writes and final verify included', [row('demo', demo), row('1,000 households, certificates and flexibility', big)],
    ['run', 'members', 'days', 'transactions', 'wall s', 'CPU s', 'CPU µs/tx', 'peak RSS MB', 'B/member-day', 'verifies']);
  return {
    demoWallSeconds: round(demo.timing.wallSeconds, 2), demoPeakRssMb: demo.timing.peakRssMb, demoTransactions: demo.kpis.ledger.transactions,
    town1000WallSeconds: round(big.timing.wallSeconds, 2), town1000CpuSeconds: round(big.timing.cpuSeconds, 2), town1000PeakRssMb: big.timing.peakRssMb,
    town1000Transactions: big.kpis.ledger.transactions, town1000CpuMicrosecondsPerTransaction: big.timing.cpuMicrosecondsPerTransaction,
    town1000BytesPerMemberDay: big.kpis.ledger.bytesPerMemberDay, town1000Verified: big.kpis.ledger.verified ? 1 : 0,
  };
}
