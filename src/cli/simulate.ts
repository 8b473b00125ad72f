import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { verifyLog } from '../audit/verify.ts';
import { Signer } from '../client.ts';
import type { State } from '../state/tables.ts';
import { OpenlecError } from '../errors.ts';
import { keyPairFromSeed, sha256, utf8 } from '../ledger/index.ts';
import { clearAt } from '../market/book.ts';
import { limitViolation } from '../market/clear-book.ts';
import { frenchCoefficients } from '../allocation/exports.ts';
import { type KeySpec, runMonth } from '../allocation/month.ts';
import { settleMonth } from '../settlement/invoice.ts';
import { Battery } from '../sim/battery.ts';
import { readSeries } from '../sim/data.ts';
import { hasExportMeter, householdDay, type SimDay, type SimHousehold } from '../sim/household.ts';
import { renderReport } from '../sim/report.ts';
import { Rng } from '../sim/rng.ts';
import { CITY_SCENARIO, DEMO_SCENARIO, parseScenario, type Scenario, VILLAGE_SCENARIO } from '../sim/scenario.ts';
import { nodeSign, WorkerSignatureChecker } from '../node/signatures.ts';
import { SqliteLedger } from '../store/sqlite-ledger.ts';
import { addDays, dayIntervals, formatInstant, localDay, localMinuteOfDay, splitByWeights } from '../units/index.ts';
import { progress } from './output.ts';

export const BUILT_IN: Record<string, unknown> = { demo: DEMO_SCENARIO, village: VILLAGE_SCENARIO, city: CITY_SCENARIO };

export function loadScenario(name: string): Scenario {
  if (name in BUILT_IN) return parseScenario(BUILT_IN[name], name);
  if (!existsSync(name)) throw new OpenlecError('E_SCENARIO', `${name}: no such file, and not a built-in scenario (${Object.keys(BUILT_IN).join(', ')})`, { field: 'scenario' });
  const text = readFileSync(name, 'utf8');
  let value: unknown;
  try {
    value = name.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new OpenlecError('E_SCENARIO', `${name}: ${(e as Error).message}`, { field: 'scenario' });
  }
  const s = parseScenario(value, name);
  // Data files are named relative to the scenario file.
  for (const m of s.members) if (m.data) m.data.file = resolve(dirname(name), m.data.file);
  return s;
}

export interface SimulateOptions {
  /** A built-in name, a file, or a parsed scenario. */
  scenario: string | Scenario;
  out: string;
  days?: number;
  mechanism?: string;
  key?: string;
  seed?: string;
  showProgress?: boolean;
}

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
  priceMicroPerKwh: number | null;
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new OpenlecError('E_SCENARIO_DATA', `${file}: ${(e as Error).message}`, { field: 'data.file' });
  }
}

/** simKey: the seeded key of a simulated party (operator, dso, a household's label). */
export const simKey = (seed: string, scenario: string, label: string) => keyPairFromSeed(sha256(utf8(`openlec simulate ${seed}/${scenario}/${label}`)));
export const simCommunityId = (scenario: string) => `openlec.sim/${scenario.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;

/** households expands the scenario's member groups, each with its own seeded stream and key. */
export function households(s: Scenario, rng: Rng, signer: (label: string) => Signer): (SimHousehold & { signer: Signer })[] {
  const out: (SimHousehold & { signer: Signer })[] = [];
  for (const m of s.members) {
    const series = m.data ? readSeries(m.data, readText(m.data.file), s.timeZone) : undefined;
    for (let i = 0; i < m.count; i++) {
      const label = m.count === 1 ? m.name : `${m.name}-${String(i + 1).padStart(String(m.count).length, '0')}`;
      const r = rng.fork(label);
      const vary = m.count === 1 ? 1 : r.between(0.8, 1.2);
      const pvVary = m.count === 1 ? 1 : r.between(0.8, 1.2);
      out.push({
        label, group: m.name, meter: `sim-${label}`, signer: signer(label), feeder: m.feeder, annualKwh: m.annualKwh * vary, rng: r,
        ...(m.pv ? { pv: { ...m.pv, kWp: m.pv.kWp * pvVary } } : {}),
        ...(m.standing ? { standing: m.standing } : {}),
        ...(m.battery ? { battery: new Battery(m.battery) } : {}),
        ...(m.ev ? { ev: m.ev } : {}),
        ...(series ? { series } : {}),
      });
    }
  }
  return out;
}

/** simDay: the intervals of a local date, its clouds, and yesterday's community as the forecast. */
export function simDay(s: Scenario, rng: Rng, date: string, yesterday: readonly IntervalRow[]): SimDay {
  const day = localDay(date, s.timeZone);
  const starts = dayIntervals(day, s.intervalMinutes);
  const minuteOfDay = starts.map((t) => localMinuteOfDay(t, s.timeZone));
  const perQuarter = s.intervalMinutes / 15;
  const dayRng = rng.fork(`clouds/${date}`);
  const dayClear = Math.min(1, Math.max(0.05, s.clearness + dayRng.between(-0.4, 0.4)));
  const hour = (m: number) => String(Math.floor(m / 60)).padStart(2, '0');
  return {
    date, intervalMinutes: s.intervalMinutes, starts, minuteOfDay, latitude: s.latitude, longitude: s.longitude,
    quarters: minuteOfDay.map((m) => Array.from({ length: perQuarter }, (_, k) => (Math.floor(m / 15) + k) % 96)),
    localHours: minuteOfDay.map((m) => `${date.slice(5)}T${hour(m)}`),
    cloud: starts.map(() => Math.min(1, dayClear * dayRng.between(0.85, 1.15))),
    cheap: starts.map((_, k) => (yesterday[k] ? yesterday[k]!.exportWh > yesterday[k]!.importWh : false)),
    communitySurplusWh: starts.map((_, k) => (yesterday[k] ? yesterday[k]!.exportWh - yesterday[k]!.importWh : 0)),
  };
}

/** equalPpm shares a million parts per million equally among meters, exactly. */
function equalPpm(meters: readonly string[]): Record<string, number> {
  const parts = splitByWeights(1_000_000, meters.map(() => 1));
  return Object.fromEntries(meters.map((m, i) => [m, parts[i]!]));
}

export const SIM_KEYS = ['prorata', 'static', 'redistribute', 'spain'] as const;

function keyFor(kind: string, meters: readonly string[]): KeySpec {
  if (kind === 'prorata') return { kind };
  if (kind === 'static' || kind === 'redistribute') return { kind, sharesPpm: equalPpm(meters) };
  if (kind === 'spain') return { kind, betasPpm: equalPpm(meters) };
  throw new OpenlecError('E_KEY_KIND', `--key must be one of ${SIM_KEYS.join(', ')} (got "${kind}")`, { field: 'key' });
}

function scenarioFor(o: SimulateOptions): Scenario {
  const base = typeof o.scenario === 'string' ? loadScenario(o.scenario) : o.scenario;
  const source = typeof o.scenario === 'string' ? o.scenario : base.name;
  return parseScenario({
    ...base, days: o.days ?? base.days, market: { ...base.market, mechanism: o.mechanism ?? base.market.mechanism },
    ...(o.key ? { allocationKey: o.key } : {}),
  }, source);
}

/**
 * simulate drives the real platform over simulated time: seeded keys sign every
 * transaction, each simulated day's meter readings are appended by the DSO, every
 * interval is cleared ex-post by the operator, each month is allocated with the
 * scenario's key (if any) and invoiced from the log, and the log is verified.
 * Outputs are byte-identical for the same scenario and seed (timings go to timing.json).
 */
export async function simulate(o: SimulateOptions) {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const s = scenarioFor(o);
  const seed = o.seed ?? '1';
  const rng = new Rng(`${seed}/${s.name}`);
  mkdirSync(o.out, { recursive: true });
  const db = join(o.out, 'ledger.db');
  for (const f of [db, `${db}-wal`, `${db}-shm`]) rmSync(f, { force: true });
  const key = (label: string) => simKey(seed, s.name, label);
  const id = simCommunityId(s.name);
  let clock = localDay(s.start, s.timeZone).startMs - 86_400_000;
  const now = () => formatInstant(clock);
  const operator = new Signer(key('operator'), id, 0, now, nodeSign);
  const dso = new Signer(key('dso'), id, 0, now, nodeSign);
  const homes = households(s, rng, (label) => new Signer(key(label), id, 0, now, nodeSign));
  const months = [...new Set(Array.from({ length: s.days }, (_, d) => addDays(s.start, d).slice(0, 7)))];

  const bar = o.showProgress ? progress(`simulating ${s.name}`) : { update() {}, stop() {} };
  const intervals: IntervalRow[] = [];
  const soc = { minPct: Infinity, maxPct: -Infinity };
  const allocations: { month: string; key: string; productionWh: number; allocatedWh: number; surplusWh: number; file: string }[] = [];
  let violations = 0;
  let entryBytes = 0;
  // The append phase runs in its own scope: once it returns, its ledger and state can be
  // collected before the log is read back for settlement and verify.
  await (async () => {
    // Signatures are checked on worker threads as each day is appended.
    const ledger = SqliteLedger.create(db, { signatures: new WorkerSignatureChecker(2) });
    try {
      const submit = async (txs: ReturnType<Signer['sign']>[]) => {
        for (const r of await ledger.submitMany(txs)) if (!r.ok) throw r.error;
      };
      const from = formatInstant(localDay(s.start, s.timeZone).startMs);
      await submit([operator.sign('community.create', { name: s.name, timeZone: s.timeZone, intervalMinutes: s.intervalMinutes, currency: s.currency, operator: operator.actor })]);
      await submit([
        operator.sign('participant.register', { key: dso.actor, roles: ['dso'] }),
        ...homes.map((h) => operator.sign('participant.register', { key: h.signer.actor, roles: ['member'] })),
        operator.sign('market.configure', { from, mode: 'ex-post', mechanism: s.market.mechanism, kPpm: s.market.kPpm, gateClosureMinutes: 0, ...s.prices }),
      ]);
      await submit([
        ...s.feeders.map((f) => dso.sign('feeder.define', f)),
        ...(s.fees ? [dso.sign('tariff.set', { from, feesMicroPerKwh: s.fees })] : []),
      ]);
      // Every meter that can export is registered as such: a battery or a data file may export too.
      await submit(homes.flatMap((h) => [
        dso.sign('meter.register', { meter: h.meter, scheme: 'other', direction: 'import', owner: h.signer.actor, feeder: h.feeder }),
        ...(hasExportMeter(h) ? [dso.sign('meter.register', { meter: h.meter, scheme: 'other', direction: 'export', owner: h.signer.actor, feeder: h.feeder, technology: h.pv || h.series ? 'solar' : 'storage' })] : []),
      ]));
      const lastDate = addDays(s.start, s.days - 1);
      await submit(homes.flatMap((h) => [
        ...(h.standing?.buyMaxMicroPerKwh !== undefined ? [h.signer.sign('order.standing', { side: 'buy', meter: h.meter, fromDate: s.start, toDate: lastDate, quantityWh: null, limitMicroPerKwh: h.standing.buyMaxMicroPerKwh })] : []),
        ...(h.standing?.sellMinMicroPerKwh !== undefined && hasExportMeter(h) ? [h.signer.sign('order.standing', { side: 'sell', meter: h.meter, fromDate: s.start, toDate: lastDate, quantityWh: null, limitMicroPerKwh: h.standing.sellMinMicroPerKwh })] : []),
      ]));

      let yesterday: IntervalRow[] = [];
      for (let d = 0; d < s.days; d++) {
        const date = addDays(s.start, d);
        const day = simDay(s, rng, date, yesterday);
        const rows: IntervalRow[] = day.starts.map((t) => ({ start: formatInstant(t), loadWh: 0, pvWh: 0, importWh: 0, exportWh: 0, evWh: 0, batteryChargeWh: 0, batteryDischargeWh: 0, tradedWh: 0, priceMicroPerKwh: null }));
        clock = localDay(date, s.timeZone).endMs + 30 * 60_000;
        const readings: ReturnType<Signer['sign']>[] = [];
        for (const h of homes) {
          const e = householdDay(h, day);
          rows.forEach((row, k) => {
            row.loadWh += e.loadWh[k]!;
            row.pvWh += e.pvWh[k]!;
            row.evWh += e.evWh[k]!;
            row.batteryChargeWh += e.chargeWh[k]!;
            row.batteryDischargeWh += e.dischargeWh[k]!;
            row.importWh += e.importWh[k]!;
            row.exportWh += e.exportWh[k]!;
          });
          if (h.battery) {
            for (const w of e.socWh) {
              soc.minPct = Math.min(soc.minPct, (100 * w) / h.battery.capacityWh);
              soc.maxPct = Math.max(soc.maxPct, (100 * w) / h.battery.capacityWh);
            }
          }
          readings.push(dso.sign('meter.readings', { meter: h.meter, direction: 'import', date, values: e.importWh }));
          if (hasExportMeter(h)) readings.push(dso.sign('meter.readings', { meter: h.meter, direction: 'export', date, values: e.exportWh }));
        }
        await submit(readings);
        clock += 30 * 60_000;
        const clearings = day.starts.map((t, k) => {
          const c = clearAt(ledger.state, t);
          rows[k]!.tradedWh = c.body.volumeWh;
          rows[k]!.priceMicroPerKwh = c.body.priceMicroPerKwh;
          if (limitViolation(c.clearing.trades, c.book.orders, c.book.network)) violations++;
          return operator.sign('market.clear', c.body);
        });
        await ledger.submitAtomic(clearings);
        intervals.push(...rows);
        yesterday = rows;
        bar.update(d + 1, s.days);
      }
      bar.stop();
      if (s.allocationKey) {
        // The monthly collective self-consumption run, as `openlec allocate` records it, and the DSO's coefficient file.
        const importMeters = homes.map((h) => h.meter).sort();
        for (const month of months) {
          const { input, result, summary } = runMonth(ledger.state, month, keyFor(s.allocationKey, importMeters));
          await submit([operator.sign('allocation.run', summary)]);
          const file = `coefficients-fr-${month}.csv`;
          writeFileSync(join(o.out, file), frenchCoefficients(input, result, s.timeZone));
          allocations.push({ month, key: s.allocationKey, productionWh: summary.productionWh, allocatedWh: summary.allocatedWh, surplusWh: summary.surplusWh, file });
        }
      }
      ledger.checkpoint(key('operator'));
      for (let i = 0; i < ledger.size; i++) entryBytes += ledger.entry(i).length;
    } finally {
      bar.stop();
      await ledger.close();
    }
  })();
  const settled = await settleAndVerify(db, months, new Map(homes.map((h) => [h.signer.actor, h])));
  const kpis = kpisOf(s, seed, homes.length, intervals, settled, { violations, entryBytes, soc, allocations });
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const timing = { wallSeconds: Number(process.hrtime.bigint() - t0) / 1e9, cpuSeconds, cpuMicrosecondsPerTransaction: Math.round((cpuSeconds * 1e6) / settled.entries), peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) };
  const members = settled.members;
  writeFileSync(join(o.out, 'kpis.json'), JSON.stringify({ ...kpis, perMember: members }, null, 2) + '\n');
  writeFileSync(join(o.out, 'intervals.csv'), [INTERVAL_COLUMNS.join(';'), ...intervals.map((r) => INTERVAL_COLUMNS.map((c) => r[c] ?? '').join(';'))].join('\n') + '\n');
  writeFileSync(join(o.out, 'report.html'), renderReport({ scenario: s, kpis, intervals, members }));
  writeFileSync(join(o.out, 'timing.json'), JSON.stringify(timing, null, 2) + '\n');
  return { kpis, timing, out: o.out, intervals, members };
}

const INTERVAL_COLUMNS = ['start', 'loadWh', 'pvWh', 'evWh', 'batteryChargeWh', 'batteryDischargeWh', 'importWh', 'exportWh', 'tradedWh', 'priceMicroPerKwh'] as const;

export interface MemberBill {
  label: string;
  group: string;
  totalMicro: number;
  withoutMicro: number;
  savingsMicro: number;
}

/** settleAndVerify invoices every month of the run from the log, adds up the money flows, and verifies the log. */
/** settleAndVerify replays the log from disk (verify), then bills every month from the verified replay. */
async function settleAndVerify(db: string, months: readonly string[], byActor: ReadonlyMap<string, SimHousehold>) {
  const ledger = SqliteLedger.open(db, { projections: false });
  const bills = new Map<string, MemberBill>();
  const money = { chargesMicro: 0, creditsMicro: 0, supplierMicro: 0, gridMicro: 0, peerPaidMicro: 0, peerProceedsMicro: 0, feesMicro: 0, surplusMicro: 0, peerWh: 0 };
  try {
    let state: State | undefined;
    const checker = new WorkerSignatureChecker();
    let verified: boolean;
    try {
      verified = (await verifyLog(ledger, ledger.registry, { checkSignatures: (items) => checker.check(items), onReplayed: (s) => (state = s) })).ok;
    } finally {
      await checker.close();
    }
    if (!state) throw new OpenlecError('E_VERIFY', 'the simulated log did not replay', { field: 'db' });
    for (const month of months) {
      const settlement = settleMonth(state, month);
      for (const k of Object.keys(money) as (keyof typeof money)[]) money[k] += settlement.totals[k];
      for (const inv of settlement.invoices) {
        const h = byActor.get(inv.participant)!;
        const b = bills.get(h.label) ?? { label: h.label, group: h.group, totalMicro: 0, withoutMicro: 0, savingsMicro: 0 };
        b.totalMicro += inv.totalMicro;
        b.withoutMicro += inv.withoutCommunityMicro;
        b.savingsMicro = b.withoutMicro - b.totalMicro;
        bills.set(h.label, b);
      }
    }
    return { members: [...bills.values()], money, entries: ledger.size, verified };
  } finally {
    await ledger.close();
  }
}

function kpisOf(
  s: Scenario, seed: string, members: number, intervals: readonly IntervalRow[], settled: Awaited<ReturnType<typeof settleAndVerify>>,
  run: { violations: number; entryBytes: number; soc: { minPct: number; maxPct: number }; allocations: unknown[] },
) {
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
    // Members pay (charges − credits) = what the supplier, the DSO and the market's surplus receive, less what the grid pays for exports.
    money: { ...m, balanceMicro: m.chargesMicro - m.creditsMicro - (m.supplierMicro - m.gridMicro + m.feesMicro + m.surplusMicro) },
    allocation: run.allocations,
    ledger: { transactions: settled.entries, entryBytes: run.entryBytes, bytesPerMemberDay: Math.round(run.entryBytes / (members * s.days)), verified: settled.verified },
  };
}

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

export function printSimulation(r: Awaited<ReturnType<typeof simulate>>): string {
  const k = r.kpis;
  const pct = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(1)} %`);
  return [
    `simulated ${k.scenario}: ${k.members} members, ${k.days} days, ${k.intervals} intervals, ${k.mechanism} ex-post (seed ${k.seed})`,
    `load ${k.loadKwh.toFixed(1)} kWh, PV ${k.pvKwh.toFixed(1)} kWh; self-consumption ${pct(k.selfConsumptionRate)}, self-sufficiency ${pct(k.selfSufficiency)}`,
    `traded ${k.tradedKwh.toFixed(1)} kWh at ${k.meanPriceMicroPerKwh === null ? '-' : (k.meanPriceMicroPerKwh / 1e6).toFixed(4)} per kWh; grid import ${k.gridImportKwh.toFixed(1)} kWh (peak ${k.peakImportKw.toFixed(1)} kW), export ${k.gridExportKwh.toFixed(1)} kWh (peak ${k.peakExportKw.toFixed(1)} kW)`,
    `savings: total ${(k.savings.totalMicro / 1e6).toFixed(2)}, min ${(k.savings.minMicro / 1e6).toFixed(2)}, max ${(k.savings.maxMicro / 1e6).toFixed(2)}, Gini ${k.savings.gini}; feeder limit violations ${k.feederLimitViolations}`,
    `ledger: ${k.ledger.transactions} transactions, ${k.ledger.entryBytes} bytes of entries (${k.ledger.bytesPerMemberDay} per member-day), verify ${k.ledger.verified ? 'ok' : 'FAILED'}; ${r.timing.cpuSeconds.toFixed(1)} CPU s, ${r.timing.cpuMicrosecondsPerTransaction} µs per transaction`,
    `wrote ${join(r.out, 'report.html')}, kpis.json, intervals.csv, ledger.db, timing.json`,
  ].join('\n');
}
