import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { verifyLog } from '../audit/verify.ts';
import { Signer } from '../client.ts';
import { OpenlecError } from '../errors.ts';
import { keyPairFromSeed, sha256, utf8 } from '../ledger/index.ts';
import { clearAt } from '../market/book.ts';
import { limitViolation } from '../market/clear-book.ts';
import { settleMonth } from '../settlement/invoice.ts';
import { householdLoad } from '../sim/load.ts';
import { renderReport } from '../sim/report.ts';
import { Rng } from '../sim/rng.ts';
import { DEMO_SCENARIO, parseScenario, type Scenario } from '../sim/scenario.ts';
import { pvEnergy } from '../sim/solar.ts';
import { SqliteLedger } from '../store/sqlite-ledger.ts';
import { addDays, dayIntervals, formatInstant, localDay, localMinuteOfDay } from '../units/index.ts';
import { progress } from './output.ts';

export const BUILT_IN: Record<string, unknown> = { demo: DEMO_SCENARIO };

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
  return parseScenario(value, name);
}

export interface SimulateOptions {
  scenario: string;
  out: string;
  days?: number;
  mechanism?: string;
  seed?: string;
  showProgress?: boolean;
}

interface Household {
  readonly label: string;
  readonly group: string;
  readonly meter: string;
  readonly signer: Signer;
  readonly feeder: string | null;
  readonly annualKwh: number;
  readonly pv?: { kWp: number; tilt: number; azimuth: number };
  readonly standing?: { buyMaxMicroPerKwh?: number; sellMinMicroPerKwh?: number };
  readonly rng: Rng;
}

export interface IntervalRow {
  start: string;
  loadWh: number;
  pvWh: number;
  importWh: number;
  exportWh: number;
  tradedWh: number;
  priceMicroPerKwh: number | null;
}

/**
 * simulate drives the real platform over simulated time: seeded keys sign every
 * transaction, each simulated day's meter readings are appended by the DSO, every
 * interval is cleared ex-post by the operator, and the months are invoiced from the log.
 * Outputs are byte-identical for the same scenario and seed (timings go to timing.json).
 */
export async function simulate(o: SimulateOptions) {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const base = loadScenario(o.scenario);
  const s: Scenario = parseScenario({ ...base, days: o.days ?? base.days, market: { ...base.market, mechanism: o.mechanism ?? base.market.mechanism } }, o.scenario);
  const seed = o.seed ?? '1';
  const rng = new Rng(`${seed}/${s.name}`);
  mkdirSync(o.out, { recursive: true });
  const db = join(o.out, 'ledger.db');
  for (const f of [db, `${db}-wal`, `${db}-shm`]) rmSync(f, { force: true });
  const key = (label: string) => keyPairFromSeed(sha256(utf8(`openlec simulate ${seed}/${s.name}/${label}`)));
  const id = `openlec.sim/${s.name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  let clock = localDay(s.start, s.timeZone).startMs - 86_400_000;
  const now = () => formatInstant(clock);
  const operator = new Signer(key('operator'), id, 0, now);
  const dso = new Signer(key('dso'), id, 0, now);
  const households: Household[] = [];
  for (const m of s.members) {
    for (let i = 0; i < m.count; i++) {
      const label = m.count === 1 ? m.name : `${m.name}-${String(i + 1).padStart(String(m.count).length, '0')}`;
      const r = rng.fork(label);
      const vary = m.count === 1 ? 1 : r.between(0.8, 1.2);
      households.push({
        label, group: m.name, meter: `sim-${label}`, signer: new Signer(key(label), id, 0, now), feeder: m.feeder, annualKwh: m.annualKwh * vary,
        ...(m.pv ? { pv: { ...m.pv, kWp: m.pv.kWp * (m.count === 1 ? 1 : r.between(0.8, 1.2)) } } : {}), ...(m.standing ? { standing: m.standing } : {}), rng: r,
      });
    }
  }

  const ledger = SqliteLedger.create(db);
  const bar = o.showProgress ? progress('simulating') : { update() {}, stop() {} };
  const intervals: IntervalRow[] = [];
  let violations = 0;
  let entryBytes = 0;
  try {
    const submit = async (txs: ReturnType<Signer['sign']>[]) => {
      for (const r of await ledger.submitMany(txs)) if (!r.ok) throw r.error;
    };
    const from = formatInstant(localDay(s.start, s.timeZone).startMs);
    await submit([operator.sign('community.create', { name: s.name, timeZone: s.timeZone, intervalMinutes: s.intervalMinutes, currency: s.currency, operator: operator.actor })]);
    await submit([
      operator.sign('participant.register', { key: dso.actor, roles: ['dso'] }),
      ...households.map((h) => operator.sign('participant.register', { key: h.signer.actor, roles: ['member'] })),
      operator.sign('market.configure', { from, mode: 'ex-post', mechanism: s.market.mechanism, kPpm: s.market.kPpm, gateClosureMinutes: 0, ...s.prices }),
    ]);
    await submit([
      ...s.feeders.map((f) => dso.sign('feeder.define', f)),
      ...(s.fees ? [dso.sign('tariff.set', { from, feesMicroPerKwh: s.fees })] : []),
    ]);
    await submit(households.flatMap((h) => [
      dso.sign('meter.register', { meter: h.meter, scheme: 'other', direction: 'import', owner: h.signer.actor, feeder: h.feeder }),
      ...(h.pv ? [dso.sign('meter.register', { meter: h.meter, scheme: 'other', direction: 'export', owner: h.signer.actor, feeder: h.feeder, technology: 'solar' })] : []),
    ]));
    const lastDate = addDays(s.start, s.days - 1);
    await submit(households.flatMap((h) => [
      ...(h.standing?.buyMaxMicroPerKwh !== undefined ? [h.signer.sign('order.standing', { side: 'buy', meter: h.meter, fromDate: s.start, toDate: lastDate, quantityWh: null, limitMicroPerKwh: h.standing.buyMaxMicroPerKwh })] : []),
      ...(h.standing?.sellMinMicroPerKwh !== undefined && h.pv ? [h.signer.sign('order.standing', { side: 'sell', meter: h.meter, fromDate: s.start, toDate: lastDate, quantityWh: null, limitMicroPerKwh: h.standing.sellMinMicroPerKwh })] : []),
    ]));

    for (let d = 0; d < s.days; d++) {
      const date = addDays(s.start, d);
      const day = localDay(date, s.timeZone);
      const starts = dayIntervals(day, s.intervalMinutes);
      const perQuarter = s.intervalMinutes / 15;
      const quarters = starts.map((t) => {
        const q = Math.floor(localMinuteOfDay(t, s.timeZone) / 15);
        return Array.from({ length: perQuarter }, (_, k) => (q + k) % 96);
      });
      const dayRng = rng.fork(`clouds/${date}`);
      const dayClear = Math.min(1, Math.max(0.05, s.clearness + dayRng.between(-0.4, 0.4)));
      const cloud = starts.map(() => Math.min(1, dayClear * dayRng.between(0.85, 1.15)));
      const rows: IntervalRow[] = starts.map((t) => ({ start: formatInstant(t), loadWh: 0, pvWh: 0, importWh: 0, exportWh: 0, tradedWh: 0, priceMicroPerKwh: null }));
      clock = day.endMs + 30 * 60_000;
      const readings: ReturnType<Signer['sign']>[] = [];
      for (const h of households) {
        const load = householdLoad(date, h.annualKwh, quarters, h.rng.fork(date));
        const pv = h.pv ? starts.map((t, k) => pvEnergy(h.pv!, t, s.intervalMinutes, s.latitude, s.longitude, cloud[k]!)) : null;
        const imp = load.map((l, k) => Math.max(0, l - (pv?.[k] ?? 0)));
        load.forEach((l, k) => {
          const row = rows[k]!;
          row.loadWh += l;
          row.pvWh += pv?.[k] ?? 0;
          row.importWh += imp[k]!;
          row.exportWh += Math.max(0, (pv?.[k] ?? 0) - l);
        });
        readings.push(dso.sign('meter.readings', { meter: h.meter, direction: 'import', date, values: imp }));
        if (pv) readings.push(dso.sign('meter.readings', { meter: h.meter, direction: 'export', date, values: pv.map((p, k) => Math.max(0, p - load[k]!)) }));
      }
      await submit(readings);
      clock += 30 * 60_000;
      const clearings = starts.map((t, k) => {
        const c = clearAt(ledger.state, t);
        rows[k]!.tradedWh = c.body.volumeWh;
        rows[k]!.priceMicroPerKwh = c.body.priceMicroPerKwh;
        if (limitViolation(c.clearing.trades, c.book.orders, c.book.network)) violations++;
        return operator.sign('market.clear', c.body);
      });
      await ledger.submitAtomic(clearings);
      intervals.push(...rows);
      bar.update(d + 1, s.days);
    }
    bar.stop();
    ledger.checkpoint(key('operator'));
    for (let i = 0; i < ledger.size; i++) entryBytes += ledger.entry(i).length;
  } finally {
    await ledger.close();
  }

  // Settlement: every month the run touches, from the log.
  const reopened = SqliteLedger.open(db);
  let verified: boolean;
  const bills = new Map<string, { label: string; group: string; totalMicro: number; withoutMicro: number }>();
  let feesMicro = 0;
  let tradedValueMicro = 0;
  let entries: number;
  const byActor = new Map(households.map((h) => [h.signer.actor, h]));
  try {
    for (const month of new Set(Array.from({ length: s.days }, (_, d) => addDays(s.start, d).slice(0, 7)))) {
      const settlement = settleMonth(reopened.state, month);
      feesMicro += settlement.totals.feesMicro;
      tradedValueMicro += settlement.totals.peerPaidMicro;
      for (const inv of settlement.invoices) {
        const h = byActor.get(inv.participant)!;
        const b = bills.get(h.label) ?? { label: h.label, group: h.group, totalMicro: 0, withoutMicro: 0 };
        b.totalMicro += inv.totalMicro;
        b.withoutMicro += inv.withoutCommunityMicro;
        bills.set(h.label, b);
      }
    }
    entries = reopened.size;
    verified = (await verifyLog(reopened, reopened.registry)).ok;
  } finally {
    await reopened.close();
  }

  const sum = (f: (r: IntervalRow) => number) => intervals.reduce((a, r) => a + f(r), 0);
  const load = sum((r) => r.loadWh);
  const pv = sum((r) => r.pvWh);
  const traded = sum((r) => r.tradedWh);
  const gridImport = sum((r) => r.importWh - r.tradedWh);
  const gridExport = sum((r) => r.exportWh - r.tradedWh);
  const toW = 60 / s.intervalMinutes;
  const members = [...bills.values()].map((b) => ({ ...b, savingsMicro: b.withoutMicro - b.totalMicro }));
  const savings = members.map((m) => m.savingsMicro);
  const kpis = {
    scenario: s.name, seed, days: s.days, members: households.length, mechanism: s.market.mechanism, intervals: intervals.length,
    loadKwh: load / 1000, pvKwh: pv / 1000,
    selfConsumptionRate: pv === 0 ? null : round4((pv - gridExport) / pv),
    selfSufficiency: load === 0 ? null : round4((load - gridImport) / load),
    gridImportKwh: gridImport / 1000, gridExportKwh: gridExport / 1000,
    peakImportKw: Math.max(...intervals.map((r) => r.importWh - r.tradedWh)) * toW / 1000,
    peakExportKw: Math.max(...intervals.map((r) => r.exportWh - r.tradedWh)) * toW / 1000,
    tradedKwh: traded / 1000, meanPriceMicroPerKwh: traded === 0 ? null : Math.round((tradedValueMicro * 1000) / traded),
    networkFeesMicro: feesMicro, feederLimitViolations: violations,
    savings: { totalMicro: savings.reduce((a, x) => a + x, 0), minMicro: Math.min(...savings), maxMicro: Math.max(...savings), gini: round4(gini(savings)) },
    ledger: { transactions: entries, entryBytes, bytesPerMemberDay: Math.round(entryBytes / (households.length * s.days)), verified },
  };
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const timing = { wallSeconds: Number(process.hrtime.bigint() - t0) / 1e9, cpuSeconds, cpuMicrosecondsPerTransaction: Math.round((cpuSeconds * 1e6) / entries), peakRssMb: Math.round(process.memoryUsage().rss / 2 ** 20) };
  writeFileSync(join(o.out, 'kpis.json'), JSON.stringify({ ...kpis, members: members.length, perMember: members }, null, 2) + '\n');
  writeFileSync(join(o.out, 'intervals.csv'), ['start;loadWh;pvWh;importWh;exportWh;tradedWh;priceMicroPerKwh', ...intervals.map((r) => [r.start, r.loadWh, r.pvWh, r.importWh, r.exportWh, r.tradedWh, r.priceMicroPerKwh ?? ''].join(';'))].join('\n') + '\n');
  writeFileSync(join(o.out, 'report.html'), renderReport({ scenario: s, kpis, intervals, members }));
  writeFileSync(join(o.out, 'timing.json'), JSON.stringify(timing, null, 2) + '\n');
  return { kpis, timing, out: o.out };
}

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
