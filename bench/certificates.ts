import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { printTable, round, tempPath } from './support.ts';
import { run as simulateOnce, townScenario } from './sim.ts';

/**
 * Certificates of origin in the simulator: the 1,000-household town over 31 days (June
 * and 1 July: two monthly settlements), with certificates and with `certificates: false`,
 * each run in its own process (peak RSS is the run's own). The extra time is the whole
 * cost of certificates: device registration, daily issuance (planned, applied, and
 * replayed by the final verify), the monthly settlements along every trade, and the
 * report's totals and matching scores.
 */
export async function run(): Promise<Record<string, number>> {
  const dir = dirname(tempPath('x'));
  const days = 31;
  const on = join(dir, 'town-1000-certificates.json');
  const off = join(dir, 'town-1000-plain.json');
  writeFileSync(on, JSON.stringify(townScenario()));
  writeFileSync(off, JSON.stringify({ ...townScenario(), certificates: false }));
  const plain = simulateOnce(off, days, join(dir, 'plain'));
  const certs = simulateOnce(on, days, join(dir, 'certificates'));
  const c = certs.kpis.certificates as { devices: number; issuedWh: number; movedWh: number; claimedWh: number; hourlyMatchingPpm: number; monthlyMatchingPpm: number };
  const members = certs.kpis.members as number;
  const extraSeconds = certs.timing.wallSeconds - plain.timing.wallSeconds;
  const extraCpuSeconds = certs.timing.cpuSeconds - plain.timing.cpuSeconds;
  const extraPct = (100 * extraSeconds) / plain.timing.wallSeconds;
  const extraBytesPerMemberDay = (certs.kpis.ledger.entryBytes - plain.kpis.ledger.entryBytes) / (members * days);
  const perSecond = (wh: number) => (extraSeconds > 0 ? Math.round(wh / extraSeconds) : 0);
  const row = (name: string, r: typeof plain) => [name, r.kpis.ledger.transactions, round(r.timing.wallSeconds, 1), round(r.timing.cpuSeconds, 1), r.timing.peakRssMb, r.kpis.ledger.bytesPerMemberDay, r.kpis.ledger.verified ? 'yes' : 'NO'];
  printTable(`simulate 1,000 households × ${days} days, ex-post uniform market, with and without certificates of origin (${c.devices} PV devices)`,
    [row('certificates: false', plain), row('certificates on', certs), ['extra', certs.kpis.ledger.transactions - plain.kpis.ledger.transactions, `${round(extraSeconds, 1)} (${round(extraPct, 1)} %)`, round(extraCpuSeconds, 1), certs.timing.peakRssMb - plain.timing.peakRssMb, round(extraBytesPerMemberDay, 1), '']],
    ['run', 'transactions', 'wall s', 'CPU s', 'peak RSS MB', 'B/member-day', 'verifies']);
  printTable('certificates (Wh) per second of the extra wall time',
    [['issued', c.issuedWh, perSecond(c.issuedWh)], ['moved', c.movedWh, perSecond(c.movedWh)], ['cancelled (claimed)', c.claimedWh, perSecond(c.claimedWh)]],
    ['', 'Wh', 'Wh/s']);
  return {
    plainWallSeconds: round(plain.timing.wallSeconds, 2), certificatesWallSeconds: round(certs.timing.wallSeconds, 2), extraWallSeconds: round(extraSeconds, 2), extraPct: round(extraPct, 1),
    plainCpuSeconds: round(plain.timing.cpuSeconds, 2), certificatesCpuSeconds: round(certs.timing.cpuSeconds, 2),
    plainTransactions: plain.kpis.ledger.transactions, certificatesTransactions: certs.kpis.ledger.transactions,
    extraBytesPerMemberDay: round(extraBytesPerMemberDay, 1), devices: c.devices,
    issuedWh: c.issuedWh, movedWh: c.movedWh, cancelledWh: c.claimedWh,
    issuedWhPerExtraSecond: perSecond(c.issuedWh), movedWhPerExtraSecond: perSecond(c.movedWh), cancelledWhPerExtraSecond: perSecond(c.claimedWh),
    hourlyMatchingPpm: c.hourlyMatchingPpm, monthlyMatchingPpm: c.monthlyMatchingPpm,
    plainPeakRssMb: plain.timing.peakRssMb, certificatesPeakRssMb: certs.timing.peakRssMb,
    verified: plain.kpis.ledger.verified && certs.kpis.ledger.verified ? 1 : 0,
  };
}
