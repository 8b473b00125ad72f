import { type CertificateFacts, certificateKpis, type CertificateMonth } from './certificates.ts';
import { type ChargingFacts, chargingKpis, type ChargingOptions, type ChargingSettled } from './charging.ts';
import { type FlexFacts, flexKpis, type FlexSettled } from './flex.ts';
import type { Scenario } from './scenario.ts';

/** One interval of the whole community, summed over its households (Wh), and its clearing. */
export interface IntervalRow {
  start: string;
  loadWh: number;
  pvWh: number;
  importWh: number;
  exportWh: number;
  evWh: number;
  batteryChargeWh: number;
  batteryDischargeWh: number;
  tradedWh: number;
  /** The clearing's single price, where its mechanism has one. */
  priceMicroPerKwh: number | null;
  /** The volume-weighted mean of the trades' prices (null without trades): midpoint pairing prices each trade on its own. */
  meanPriceMicroPerKwh: number | null;
}

/**
 * meanTradePrice is the volume-weighted mean of the prices buyers pay for the energy of
 * an interval's trades, rounded to the micro-unit per kWh; null when nothing traded.
 */
export function meanTradePrice(trades: readonly { quantityWh: number; buyerPriceMicroPerKwh: number }[]): number | null {
  let wh = 0;
  let weighted = 0;
  for (const t of trades) {
    wh += t.quantityWh;
    weighted += t.quantityWh * t.buyerPriceMicroPerKwh;
  }
  return wh === 0 ? null : Math.round(weighted / wh);
}

/** A member's bills over the run, with and without the community. */
export interface MemberBill {
  label: string;
  group: string;
  totalMicro: number;
  withoutMicro: number;
  savingsMicro: number;
}

/** The money flows of every month of the run added up (settleMonth's totals). */
export interface MoneyFlows {
  chargesMicro: number;
  creditsMicro: number;
  supplierMicro: number;
  gridMicro: number;
  peerPaidMicro: number;
  peerProceedsMicro: number;
  feesMicro: number;
  surplusMicro: number;
  peerWh: number;
  /** What the DSO paid flexibility providers (flex.settle totals). */
  flexMicro: number;
}

/** What the settlement of the verified log gives back. */
export interface SettledRun {
  members: MemberBill[];
  money: MoneyFlows;
  entries: number;
  verified: boolean;
  /** Each month's certificates in the verified replay; null when the run had none. */
  certificates: CertificateMonth[] | null;
  /** Requests, orders and settlements of flexibility in the verified replay; null when it was off. */
  flexibility: FlexSettled | null;
  /** The CDRs and roaming settlements in the verified replay; null (or absent) when charging was off. */
  charging?: ChargingSettled | null;
}

/** What the run counted as it appended. */
export interface RunFacts {
  violations: number;
  entryBytes: number;
  soc: { minPct: number; maxPct: number };
  allocations: unknown[];
  /** Devices, opt-ins, and the bodies of certificates.issue and .settle appended; null when certificates are off. */
  certificates: CertificateFacts | null;
  /** Hours and energy above the import limits (counted either way) and the flexibility appended. */
  flexibility: FlexFacts;
  /** The charging settings and what the run counted of its sessions; null (or absent) when charging is off. */
  charging?: { options: ChargingOptions; facts: ChargingFacts } | null;
  /** The DSO's meter-data system reads with an API key: issued at the start, rotated at each month's end. */
  apiKeys?: { issued: number; rotated: number };
}

/** runKpis: the key figures of a run (kpis.json, without the members), from its intervals and its settlement. */
export function runKpis(s: Scenario, seed: string, members: number, intervals: readonly IntervalRow[], settled: SettledRun, run: RunFacts) {
  const sum = (f: (r: IntervalRow) => number) => intervals.reduce((a, r) => a + f(r), 0);
  const demand = sum((r) => r.loadWh + r.evWh);
  const pv = sum((r) => r.pvWh);
  const traded = sum((r) => r.tradedWh);
  const gridImport = sum((r) => r.importWh - r.tradedWh);
  const gridExport = sum((r) => r.exportWh - r.tradedWh);
  const toKw = 60 / s.intervalMinutes / 1000;
  const savings = settled.members.map((m) => m.savingsMicro);
  const m = settled.money;
  return {
    scenario: s.name, seed, days: s.days, members, mechanism: s.market.mechanism, allocationKey: s.allocationKey ?? null, intervals: intervals.length,
    loadKwh: sum((r) => r.loadWh) / 1000, evKwh: sum((r) => r.evWh) / 1000, pvKwh: pv / 1000,
    selfConsumptionRate: pv === 0 ? null : round4((pv - gridExport) / pv),
    selfSufficiency: demand === 0 ? null : round4((demand - gridImport) / demand),
    gridImportKwh: gridImport / 1000, gridExportKwh: gridExport / 1000,
    peakImportKw: Math.max(...intervals.map((r) => r.importWh - r.tradedWh)) * toKw,
    peakExportKw: Math.max(...intervals.map((r) => r.exportWh - r.tradedWh)) * toKw,
    tradedKwh: traded / 1000, meanPriceMicroPerKwh: traded === 0 ? null : Math.round((m.peerPaidMicro * 1000) / traded),
    networkFeesMicro: m.feesMicro, feederLimitViolations: run.violations,
    battery: { chargedKwh: sum((r) => r.batteryChargeWh) / 1000, dischargedKwh: sum((r) => r.batteryDischargeWh) / 1000, socMinPct: finite(run.soc.minPct), socMaxPct: finite(run.soc.maxPct) },
    savings: { totalMicro: savings.reduce((a, x) => a + x, 0), minMicro: Math.min(...savings), maxMicro: Math.max(...savings), gini: round4(gini(savings)) },
    // Members pay (charges − credits) = what the supplier, the DSO and the market's surplus receive, less what the grid pays for exports and the DSO for flexibility.
    money: { ...m, balanceMicro: m.chargesMicro - m.creditsMicro - (m.supplierMicro - m.gridMicro + m.feesMicro + m.surplusMicro - m.flexMicro) },
    allocation: run.allocations,
    certificates: run.certificates && settled.certificates ? certificateKpis(run.certificates, settled.certificates) : null,
    flexibility: flexKpis(settled.flexibility !== null, s.intervalMinutes, run.flexibility, settled.flexibility),
    charging: run.charging && settled.charging ? chargingKpis(run.charging.options, run.charging.facts, settled.charging) : null,
    ledger: { transactions: settled.entries, entryBytes: run.entryBytes, bytesPerMemberDay: Math.round(run.entryBytes / (members * s.days)), verified: settled.verified, apiKeysIssued: run.apiKeys?.issued ?? 0, apiKeyRotations: run.apiKeys?.rotated ?? 0 },
  };
}

export type RunKpis = ReturnType<typeof runKpis>;

const finite = (x: number) => (Number.isFinite(x) ? round4(x) : null);

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

/** gini of a list (savings may be negative: shifted to be non-negative first). */
export function gini(xs: readonly number[]): number {
  if (xs.length === 0) return 0;
  const min = Math.min(...xs);
  const v = xs.map((x) => x - Math.min(0, min)).sort((a, b) => a - b);
  const total = v.reduce((a, x) => a + x, 0);
  if (total === 0) return 0;
  let weighted = 0;
  v.forEach((x, i) => (weighted += (i + 1) * x));
  return (2 * weighted) / (v.length * total) - (v.length + 1) / v.length;
}
