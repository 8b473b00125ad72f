import { join } from 'node:path';
import type { simulate } from '../sim/run.ts';

/** printSimulation prints a run's key figures in six lines (seven with import limits or flexibility), and where its files are. */
export function printSimulation(r: Awaited<ReturnType<typeof simulate>>): string {
  const k = r.kpis;
  const pct = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(1)} %`);
  return [
    `simulated ${k.scenario}: ${k.members} members, ${k.days} days, ${k.intervals} intervals, ${k.mechanism} ex-post (seed ${k.seed})`,
    `load ${k.loadKwh.toFixed(1)} kWh, PV ${k.pvKwh.toFixed(1)} kWh; self-consumption ${pct(k.selfConsumptionRate)}, self-sufficiency ${pct(k.selfSufficiency)}`,
    `traded ${k.tradedKwh.toFixed(1)} kWh at ${k.meanPriceMicroPerKwh === null ? '-' : (k.meanPriceMicroPerKwh / 1e6).toFixed(4)} per kWh; grid import ${k.gridImportKwh.toFixed(1)} kWh (peak ${k.peakImportKw.toFixed(1)} kW), export ${k.gridExportKwh.toFixed(1)} kWh (peak ${k.peakExportKw.toFixed(1)} kW)`,
    `savings: total ${(k.savings.totalMicro / 1e6).toFixed(2)}, min ${(k.savings.minMicro / 1e6).toFixed(2)}, max ${(k.savings.maxMicro / 1e6).toFixed(2)}, Gini ${k.savings.gini}; feeder limit violations ${k.feederLimitViolations}`,
    ...(k.flexibility.enabled || k.flexibility.feeders.length > 0
      ? [`flexibility ${k.flexibility.enabled ? 'on' : 'off'}: ${k.flexibility.hoursAboveLimit.toFixed(1)} h and ${k.flexibility.kwhAboveLimit.toFixed(1)} kWh above import limits; ${k.flexibility.requests} requests, ${k.flexibility.orders} orders, ${k.flexibility.orderedKwh.toFixed(1)} kWh ordered, ${k.flexibility.deliveredKwh.toFixed(1)} delivered; DSO paid ${(k.flexibility.dsoCostMicro / 1e6).toFixed(2)} (members ${(k.flexibility.memberEarningsMicro / 1e6).toFixed(2)}, aggregator ${(k.flexibility.aggregatorEarningsMicro / 1e6).toFixed(2)})`]
      : []),
    `ledger: ${k.ledger.transactions} transactions, ${k.ledger.entryBytes} bytes of entries (${k.ledger.bytesPerMemberDay} per member-day), verify ${k.ledger.verified ? 'ok' : 'FAILED'}; ${r.timing.cpuSeconds.toFixed(1)} CPU s, ${r.timing.cpuMicrosecondsPerTransaction} µs per transaction`,
    `wrote ${join(r.out, 'report.html')}, kpis.json, intervals.csv, ledger.db, timing.json`,
  ].join('\n');
}
