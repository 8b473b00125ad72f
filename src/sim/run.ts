import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { frenchCoefficients } from '../allocation/exports.ts';
import { runMonth } from '../allocation/month.ts';
import { verifyLog } from '../audit/verify.ts';
import { planIssue } from '../certificates/issue.ts';
import { planSettle } from '../certificates/settle.ts';
import { computeBaseline } from '../flex/baseline.ts';
import { planFlexOrder } from '../flex/order.ts';
import { eventDaysOf, flexSettleBody, monthEnd, NetSeries, planFlexSettle } from '../flex/settle.ts';
import type { OrderRow } from '../flex/tables.ts';
import { Signer } from '../client.ts';
import { OpenlecError } from '../errors.ts';
import { clearAt } from '../market/book.ts';
import { limitViolation } from '../market/clear-book.ts';
import { nodeSign, WorkerSignatureChecker } from '../node/signatures.ts';
import { settleMonth } from '../settlement/invoice.ts';
import type { State } from '../state/tables.ts';
import { SqliteLedger } from '../store/sqlite-ledger.ts';
import type { LedgerStore } from '../store/ledger-store.ts';
import type { LogSource } from '../store/log-source.ts';
import { PgLedger, pgPool } from '../store/pg-ledger.ts';
import type { Registry } from '../state/registry.ts';
import { addDays, formatInstant, localDay, MS_PER_MINUTE } from '../units/index.ts';
import { sha256, utf8 } from '../ledger/index.ts';
import { makeApiKey } from '../access/api-keys.ts';
import { planChargingSettle } from '../charging/roaming.ts';
import { ChargingSim, chargingMonthEndMs, chargingOptions, chargingSettled } from './charging.ts';
import { autoClaimers, certificateMonths, type CertificateOptions, certificateOptions, deviceBody } from './certificates.ts';
import { households, simAllocationKey, simCommunityId, simDay, simKey } from './community.ts';
import { activations, addAboveLimit, assetBodies, delegators, type FlexFacts, feederNetWh, flexOptions, type FlexOptions, flexSettled, type Forecast, planFlexDay, withFlexibility } from './flex.ts';
import { type Activation, hasExportMeter, householdDay, type SimDay, type SimHousehold } from './household.ts';
import { type IntervalRow, meanTradePrice, type MemberBill, type MoneyFlows, type RunFacts, runKpis, type SettledRun } from './kpis.ts';
import { intervalsCsv, renderReport } from './report.ts';
import { Rng } from './rng.ts';
import { parseScenario, type Scenario } from './scenario.ts';
import { loadScenario, readDataFile } from './scenario-file.ts';

/**
 * The batch run of a simulation: the simulated community (community.ts) drives the real
 * ledger on disk, signing through node:crypto and checking signatures on worker threads,
 * then the log is verified, settled and written out. This is the part of src/sim that
 * does I/O; the CLI only parses its options and prints its result.
 */

/** A progress display (the CLI's bar on a terminal); the run reports its days to it. */
export interface Progress {
  update(done: number, total: number): void;
  stop(): void;
}

export interface SimulateOptions {
  /** A built-in name, a file, or a parsed scenario. */
  scenario: string | Scenario;
  out: string;
  days?: number;
  mechanism?: string;
  key?: string;
  seed?: string;
  /** Turns the scenario's DSO flexibility on or off (keeping its knobs). */
  flexibility?: 'on' | 'off';
  /** Makes the progress display for a label ("simulating demo"); none by default. */
  progress?: (label: string) => Progress;
  /**
   * A PostgreSQL database (migrated) to write the run into, as a new community of it,
   * instead of `<out>/ledger.db`: the same log, entry for entry, on the other store.
   */
  pg?: string;
}

/** Where a run's log is written and read back: a new SQLite file, or a new community of a PostgreSQL database. */
interface SimStore {
  create(): Promise<LedgerStore>;
  /** audit replays the stored log as verify does, on one snapshot of it. */
  audit<T>(read: (source: LogSource, registry: Registry) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

function sqliteStore(db: string): SimStore {
  for (const f of [db, `${db}-wal`, `${db}-shm`]) rmSync(f, { force: true });
  return {
    create: async () => SqliteLedger.create(db, { signatures: new WorkerSignatureChecker(2) }),
    async audit(read) {
      const ledger = SqliteLedger.open(db, { projections: false });
      try {
        return await read(ledger, ledger.registry);
      } finally {
        await ledger.close();
      }
    },
    close: async () => {},
  };
}

function pgStore(url: string, id: string): SimStore {
  const pool = pgPool(url, 4);
  return {
    create: () => PgLedger.create(pool, id, { signatures: new WorkerSignatureChecker(2) }),
    async audit(read) {
      const ledger = await PgLedger.open(pool, id, { projections: false });
      try {
        return await ledger.snapshot((source) => read(source, ledger.registry));
      } finally {
        await ledger.close();
      }
    },
    close: () => pool.end(),
  };
}

type Tx = ReturnType<Signer['sign']>;
type Home = SimHousehold & { signer: Signer };

/** A run under way: its scenario and seed, the parties' seeded keys, and one clock for every signature (the simulation's, not the machine's). */
interface Run {
  s: Scenario;
  seed: string;
  rng: Rng;
  out: string;
  months: readonly string[];
  clock: { ms: number };
  operator: Signer;
  dso: Signer;
  homes: Home[];
  /** Certificates of origin, unless the scenario turned them off. */
  certs: CertificateOptions | null;
  /** DSO flexibility, when the scenario turns it on: the aggregator and the EV owners who delegate to it. */
  flex: { o: FlexOptions; aggregator: Signer; delegated: Set<SimHousehold> } | null;
  /** EV charging, when the scenario turns it on: the chargers and their sessions, and the CPO (also a member: its meter is in `homes`). */
  charging: { sim: ChargingSim; cpo: Signer } | null;
}

function scenarioFor(o: SimulateOptions): Scenario {
  const base = typeof o.scenario === 'string' ? loadScenario(o.scenario) : o.scenario;
  const source = typeof o.scenario === 'string' ? o.scenario : base.name;
  return parseScenario({
    ...base, days: o.days ?? base.days, market: { ...base.market, mechanism: o.mechanism ?? base.market.mechanism },
    ...(o.key ? { allocationKey: o.key } : {}),
    ...(o.flexibility ? { flexibility: withFlexibility(base, o.flexibility === 'on') } : {}),
  }, source);
}

function runOf(s: Scenario, seed: string, out: string): Run {
  const rng = new Rng(`${seed}/${s.name}`);
  const id = simCommunityId(s.name);
  const clock = { ms: localDay(s.start, s.timeZone).startMs - 86_400_000 };
  const now = () => formatInstant(clock.ms);
  const signer = (label: string) => new Signer(simKey(seed, s.name, label), id, 0, now, nodeSign);
  const months = [...new Set(Array.from({ length: s.days }, (_, d) => addDays(s.start, d).slice(0, 7)))];
  const homes = households(s, rng, signer, readDataFile);
  const o = flexOptions(s);
  const flex = o ? { o, aggregator: signer('aggregator'), delegated: delegators<SimHousehold>(homes, seed, s, o.aggregatorShare) } : null;
  const co = chargingOptions(s);
  let charging: Run['charging'] = null;
  if (co) {
    // The charger meter is a member meter of the CPO, after the households (their draws do not change).
    const sim = new ChargingSim(s, seed, co);
    const cpo = signer('cpo');
    homes.push({ ...sim.household(rng), signer: cpo });
    charging = { sim, cpo };
  }
  return { s, seed, rng, out, months, clock, operator: signer('operator'), dso: signer('dso'), homes, certs: certificateOptions(s), flex, charging };
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
  mkdirSync(o.out, { recursive: true });
  const store = o.pg ? pgStore(o.pg, simCommunityId(s.name)) : sqliteStore(join(o.out, 'ledger.db'));
  const run = runOf(s, o.seed ?? '1', o.out);
  let appended: Awaited<ReturnType<typeof appendRun>>;
  let settled: SettledRun;
  try {
    appended = await appendRun(store, run, o.progress?.(`simulating ${s.name}`) ?? { update() {}, stop() {} });
    settled = await settleAndVerify(store, run, new Map(run.homes.map((h) => [h.signer.actor, h])));
  } finally {
    await store.close();
  }
  const { intervals, facts } = appended;
  const kpis = runKpis(s, run.seed, run.homes.length, intervals, settled, facts);
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const timing = { wallSeconds: Number(process.hrtime.bigint() - t0) / 1e9, cpuSeconds, cpuMicrosecondsPerTransaction: Math.round((cpuSeconds * 1e6) / settled.entries), peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) };
  const members = settled.members;
  writeFileSync(join(o.out, 'kpis.json'), JSON.stringify({ ...kpis, perMember: members }, null, 2) + '\n');
  writeFileSync(join(o.out, 'intervals.csv'), intervalsCsv(intervals));
  writeFileSync(join(o.out, 'report.html'), renderReport({ scenario: s, kpis, intervals, members }));
  writeFileSync(join(o.out, 'timing.json'), JSON.stringify(timing, null, 2) + '\n');
  return { kpis, timing, out: o.out, intervals, members };
}

/**
 * appendRun writes the whole run into a new ledger: the community, every day's readings
 * and clearings, the monthly allocations, a checkpoint. It closes its ledger, so that the
 * ledger and its state can be collected before the log is read back for settlement and verify.
 */
async function appendRun(store: SimStore, run: Run, bar: Progress) {
  const { s } = run;
  const intervals: IntervalRow[] = [];
  const facts: RunFacts = {
    violations: 0, entryBytes: 0, soc: { minPct: Infinity, maxPct: -Infinity }, allocations: [], certificates: run.certs ? { devices: 0, autoClaimMembers: 0, issues: [], settles: [] } : null,
    flexibility: { above: new Map(), requests: 0, offers: 0, settles: [] },
    charging: run.charging ? { options: run.charging.sim.o, facts: run.charging.sim.facts } : null,
    apiKeys: { issued: 0, rotated: 0 },
  };
  // Signatures are checked on worker threads as each day is appended.
  const ledger = await store.create();
  try {
    const submit = async (txs: Tx[]) => {
      for (const r of await ledger.submitMany(txs)) if (!r.ok) throw r.error;
    };
    await openCommunity(submit, run, facts);
    let yesterday: IntervalRow[] = [];
    for (let d = 0; d < s.days; d++) {
      const date = addDays(s.start, d);
      const day = simDay(s, run.rng, date, yesterday);
      const activated = run.flex ? await flexDay(ledger, submit, run, day, facts.flexibility) : new Map<number, Activation>();
      const rows = await meterDay(submit, run, day, facts, activated);
      if (run.charging) await chargingCdrs(submit, run);
      if (facts.certificates) await issueDay(ledger, submit, run, date, facts);
      run.clock.ms += 30 * 60_000;
      await ledger.submitAtomic(day.starts.map((t, k) => signClearing(ledger, run, t, rows[k]!, facts)));
      // Without an allocation, a month's certificates move along its trades once its last day is cleared.
      const monthEnds = d === s.days - 1 || addDays(date, 1).slice(0, 7) !== date.slice(0, 7);
      if (facts.certificates && !s.allocationKey && monthEnds) await settleCertificates(ledger, submit, run, date.slice(0, 7), facts);
      if (run.flex && monthEnds) await settleFlex(ledger, submit, run, date.slice(0, 7), facts.flexibility);
      if (run.charging && monthEnds) await settleCharging(ledger, submit, run, date.slice(0, 7));
      if (monthEnds && d < s.days - 1) await rotateDsoKey(submit, run, facts);
      intervals.push(...rows);
      yesterday = rows;
      bar.update(d + 1, s.days);
    }
    bar.stop();
    if (s.allocationKey) await allocateMonths(ledger, submit, run, facts);
    await ledger.signCheckpoint(simKey(run.seed, s.name, 'operator'));
    for (let lo = 0; lo < ledger.size; lo += 4096) for (const e of await ledger.readEntries(lo, lo + 4096)) facts.entryBytes += e.bytes.length;
  } finally {
    bar.stop();
    await ledger.close();
  }
  return { intervals, facts };
}

/** openCommunity: the operator creates the community, registers everyone and opens the ex-post market; the DSO defines the network and meters; standing orders last the whole run. */
async function openCommunity(submit: (txs: Tx[]) => Promise<void>, { s, seed, operator, dso, homes, certs, flex, charging }: Run, facts: RunFacts) {
  const from = formatInstant(localDay(s.start, s.timeZone).startMs);
  await submit([operator.sign('community.create', { name: s.name, timeZone: s.timeZone, intervalMinutes: s.intervalMinutes, currency: s.currency, operator: operator.actor })]);
  await submit([
    operator.sign('participant.register', { key: dso.actor, roles: ['dso'] }),
    ...homes.map((h) => operator.sign('participant.register', { key: h.signer.actor, roles: charging && h.signer === charging.cpo ? ['cpo', 'member'] : ['member'] })),
    ...(flex ? [operator.sign('participant.register', { key: flex.aggregator.actor, roles: ['aggregator'] })] : []),
    operator.sign('market.configure', { from, mode: 'ex-post', mechanism: s.market.mechanism, kPpm: s.market.kPpm, gateClosureMinutes: 0, ...s.prices }),
  ]);
  // The DSO's meter-data system pushes readings every night and reads with an API key (src/access): only its digest enters the log.
  const k = dsoApiKey(seed, s.name, 0);
  await submit([dso.sign('apikey.issue', { id: k.id, digest: k.digest, roles: ['dso'], expiresAt: formatInstant(Date.parse(from) + API_KEY_DAYS * 86_400_000) })]);
  facts.apiKeys!.issued++;
  await submit([
    ...s.feeders.map((f) => dso.sign('feeder.define', f)),
    ...(s.fees ? [dso.sign('tariff.set', { from, feesMicroPerKwh: s.fees })] : []),
  ]);
  // Every meter that can export is registered as such: a battery or a data file may export too.
  await submit(homes.flatMap((h) => [
    dso.sign('meter.register', { meter: h.meter, scheme: 'other', direction: 'import', owner: h.signer.actor, feeder: h.feeder }),
    ...(hasExportMeter(h) ? [dso.sign('meter.register', { meter: h.meter, scheme: 'other', direction: 'export', owner: h.signer.actor, feeder: h.feeder, technology: h.pv || h.series ? 'solar' : 'storage' })] : []),
  ]));
  // Charging: the roaming parties, then the CPO's location behind its meter and its tariff.
  if (charging) await submit(charging.sim.setupBodies(charging.cpo.actor).map((t) => (t.signer === 'cpo' ? charging.cpo : operator).sign(t.type, t.body)));
  // Flexibility: every battery and EV charger is an asset; the community refunds the feeder fee on what batteries deliver to the DSO.
  if (flex) {
    await submit([
      operator.sign('flex.configure', { doubleCharging: 'refund', networkFeeMicroPerKwh: s.fees?.feeder ?? 0 }),
      ...assetBodies(homes, flex.delegated, flex.aggregator.actor).map(({ home, body }) => (home as Home).signer.sign('asset.register', body)),
    ]);
  }
  // A certificate device for every home with PV (a battery alone produces nothing renewable of its own).
  const devices = certs ? homes.flatMap((h) => (hasExportMeter(h) ? [deviceBody(h, s, certs)] : [])).filter((b) => b !== null) : [];
  if (devices.length > 0) await submit(devices.map((b) => dso.sign('device.register', b)));
  const lastDate = addDays(s.start, s.days - 1);
  await submit(homes.flatMap((h) => [
    ...(h.standing?.buyMaxMicroPerKwh !== undefined ? [h.signer.sign('order.standing', { side: 'buy', meter: h.meter, fromDate: s.start, toDate: lastDate, quantityWh: null, limitMicroPerKwh: h.standing.buyMaxMicroPerKwh })] : []),
    ...(h.standing?.sellMinMicroPerKwh !== undefined && hasExportMeter(h) ? [h.signer.sign('order.standing', { side: 'sell', meter: h.meter, fromDate: s.start, toDate: lastDate, quantityWh: null, limitMicroPerKwh: h.standing.sellMinMicroPerKwh })] : []),
  ]));
  if (!certs || !facts.certificates) return;
  const claimers = autoClaimers(homes, seed, s, certs.autoClaimShare);
  if (claimers.size > 0) await submit(homes.filter((h) => claimers.has(h)).map((h) => h.signer.sign('certificate.autoclaim', { enabled: true })));
  facts.certificates.devices = devices.length;
  facts.certificates.autoClaimMembers = claimers.size;
}

const API_KEY_DAYS = 90;

/** dsoApiKey: the n-th key of the DSO's meter-data system, from the seed (the machine's own randomness in real life). */
function dsoApiKey(seed: string, scenario: string, n: number) {
  const bytes = sha256(utf8(`openlec simulate ${seed}/${scenario}/dso api key ${n}`));
  return makeApiKey(simCommunityId(scenario), bytes.slice(0, 8), sha256(bytes));
}

/** rotateDsoKey: at a month's end the DSO rotates its system's key, the old one working a day longer. */
async function rotateDsoKey(submit: (txs: Tx[]) => Promise<void>, { s, seed, dso, clock }: Run, facts: RunFacts) {
  const n = facts.apiKeys!.rotated;
  const next = dsoApiKey(seed, s.name, n + 1);
  await submit([dso.sign('apikey.rotate', {
    id: dsoApiKey(seed, s.name, n).id, next: { id: next.id, digest: next.digest, roles: ['dso'], expiresAt: formatInstant(clock.ms + API_KEY_DAYS * 86_400_000) }, overlapSeconds: 86_400,
  })]);
  facts.apiKeys!.rotated++;
}

/** issueDay: the DSO issues the certificates of a day's export readings, as soon as they are in the log. */
async function issueDay(ledger: LedgerStore, submit: (txs: Tx[]) => Promise<void>, { dso }: Run, date: string, facts: RunFacts) {
  const body = planIssue(ledger.state, date);
  if (body.deviceDays === 0) return;
  await submit([dso.sign('certificates.issue', body)]);
  facts.certificates!.issues.push(body);
}

/** settleCertificates: the operator settles a month's certificates (moves by trades and the allocation, automatic claims). */
async function settleCertificates(ledger: LedgerStore, submit: (txs: Tx[]) => Promise<void>, { operator }: Run, month: string, facts: RunFacts) {
  const body = planSettle(ledger.state, month);
  await submit([operator.sign('certificates.settle', body)]);
  facts.certificates!.settles.push(body);
}

/** meterDay runs every household through the day, adds up the community's intervals, and appends the DSO's readings half an hour after the day ends. */
async function meterDay(submit: (txs: Tx[]) => Promise<void>, { s, clock, dso, homes, charging }: Run, day: SimDay, facts: RunFacts, activated: ReadonlyMap<number, Activation>): Promise<IntervalRow[]> {
  const rows: IntervalRow[] = day.starts.map((t) => ({ start: formatInstant(t), loadWh: 0, pvWh: 0, importWh: 0, exportWh: 0, evWh: 0, batteryChargeWh: 0, batteryDischargeWh: 0, tradedWh: 0, priceMicroPerKwh: null, meanPriceMicroPerKwh: null }));
  clock.ms = localDay(day.date, s.timeZone).endMs + 30 * 60_000;
  const readings: Tx[] = [];
  const energies = homes.map((h, i) => householdDay(h, day, activated.get(i)));
  if (charging) {
    // The chargers' sessions are the charger meter's only consumption: EV charging, imported.
    const hub = homes.findIndex((h) => h.meter === charging.sim.meter);
    const wh = charging.sim.addDay(day, homes.filter((_, i) => i !== hub).map((h) => h.label));
    wh.forEach((x, k) => { energies[hub]!.evWh[k]! += x; energies[hub]!.importWh[k]! += x; });
  }
  addAboveLimit(facts.flexibility.above, s, feederNetWh(s, homes, energies, day.starts.length));
  homes.forEach((h, i) => {
    const e = energies[i]!;
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
        facts.soc.minPct = Math.min(facts.soc.minPct, (100 * w) / h.battery.capacityWh);
        facts.soc.maxPct = Math.max(facts.soc.maxPct, (100 * w) / h.battery.capacityWh);
      }
    }
    readings.push(dso.sign('meter.readings', { meter: h.meter, direction: 'import', date: day.date, values: e.importWh }));
    if (hasExportMeter(h)) readings.push(dso.sign('meter.readings', { meter: h.meter, direction: 'export', date: day.date, values: e.exportWh }));
  });
  await submit(readings);
  return rows;
}

/**
 * flexDay runs a day's flexibility before its physics: the DSO's forecast of every home
 * without activation (the simulator's perfect forecast; the batteries' charge is put
 * back after it), its requests where a feeder's import limit would break, the providers'
 * offers, then at each gate the order from the merit order. It returns what the orders
 * make each home do, by its index.
 */
async function flexDay(ledger: LedgerStore, submit: (txs: Tx[]) => Promise<void>, run: Run, day: SimDay, facts: FlexFacts): Promise<Map<number, Activation>> {
  const { s, clock, dso, homes } = run;
  const flex = run.flex!;
  clock.ms = Math.max(clock.ms, localDay(day.date, s.timeZone).startMs + 60 * MS_PER_MINUTE);
  const forecasts: Forecast[] = homes.map((home, index) => {
    const soc = home.battery?.socWh ?? null;
    const e = householdDay(home, day);
    if (home.battery) home.battery.socWh = soc!;
    return { home, index, day: e, socBeforeWh: soc };
  });
  const c = { timeZone: s.timeZone, intervalMinutes: s.intervalMinutes };
  const baselineReady = (meters: readonly string[], eventStarts: readonly number[]) => {
    const b = flex.o.baseline;
    if (b.method === 'nomination' || b.method === 'mbma') return true;
    const series = new NetSeries(ledger.state, meters);
    try {
      // The day-of adjustment reads the event day's own readings, which come after it: only the eligible days are checked now.
      computeBaseline(b.method === 'x-of-y' ? { ...b, adjustIntervals: 0 } : b, { ...c, netOf: (d) => series.day(d), eventStarts, eventDays: eventDaysOf(ledger.state, meters) });
      return true;
    } catch {
      return false;
    }
  };
  const requests = planFlexDay({ s, o: flex.o, day, forecasts, delegated: flex.delegated, atMs: clock.ms, baselineReady });
  if (requests.length === 0) return new Map();
  await submit(requests.map((r) => dso.sign('flex.request', r.body)));
  clock.ms += MS_PER_MINUTE;
  const offers = requests.flatMap((r) => r.offers).map((p) => (p.signer === 'aggregator' ? flex.aggregator : homes[p.signer]!.signer).sign('flex.offer', p.body));
  if (offers.length > 0) await submit(offers);
  facts.requests += requests.length;
  facts.offers += offers.length;
  for (const r of [...requests].sort((a, b) => a.orderAtMs - b.orderAtMs)) {
    clock.ms = Math.max(clock.ms, r.orderAtMs);
    await submit([dso.sign('flex.order', planFlexOrder(ledger.state, r.body.request, r.order, clock.ms))]);
  }
  const orders = requests.map((r) => ledger.state.get<OrderRow>('flex_orders', r.order)!);
  return activations(requests, orders, day.starts.length, s.intervalMinutes);
}

/** settleFlex: the DSO settles a month's flexibility from the readings, once the month is over (the clock moves past a month the run ends in). */
async function settleFlex(ledger: LedgerStore, submit: (txs: Tx[]) => Promise<void>, { clock, dso }: Run, month: string, facts: FlexFacts) {
  clock.ms = Math.max(clock.ms, monthEnd(ledger.state, month) + 60 * MS_PER_MINUTE);
  const plan = planFlexSettle(ledger.state, month);
  await submit([dso.sign('flex.settle', flexSettleBody(plan))]);
  facts.settles.push(plan);
}

/** chargingCdrs: the CPO writes and signs the CDRs of the sessions over by now. */
async function chargingCdrs(submit: (txs: Tx[]) => Promise<void>, { clock, charging }: Run) {
  const due = charging!.sim.dueCdrs(clock.ms);
  if (due.length > 0) await submit(due.map((d) => charging!.cpo.sign('charging.cdr', { cdr: d.cdr })));
}

/** settleCharging: the operator settles a month's roaming charging once it is over (the clock moves past a month the run ends in). */
async function settleCharging(ledger: LedgerStore, submit: (txs: Tx[]) => Promise<void>, run: Run, month: string) {
  const { clock, operator, s } = run;
  clock.ms = Math.max(clock.ms, chargingMonthEndMs(s, month) + 60 * MS_PER_MINUTE);
  await chargingCdrs(submit, run);
  await submit([operator.sign('charging.settle', { month, lines: planChargingSettle(ledger.state, month) })]);
  run.charging!.sim.facts.settles++;
}

/** signClearing clears one interval's book as the state machine will, notes it in the interval's row, and signs the operator's market.clear. */
function signClearing(ledger: LedgerStore, { operator, charging }: Run, start: number, row: IntervalRow, facts: RunFacts): Tx {
  const c = clearAt(ledger.state, start);
  if (charging) for (const r of c.records) if (r.buyer === charging.sim.meter) charging.sim.facts.localWh += r.wh;
  row.tradedWh = c.body.volumeWh;
  row.priceMicroPerKwh = c.body.priceMicroPerKwh;
  row.meanPriceMicroPerKwh = meanTradePrice(c.clearing.trades);
  if (limitViolation(c.clearing.trades, c.book.orders, c.book.network)) facts.violations++;
  return operator.sign('market.clear', c.body);
}

/** allocateMonths records the monthly collective self-consumption run, as `openlec allocate` does, and writes the DSO's coefficient file. */
async function allocateMonths(ledger: LedgerStore, submit: (txs: Tx[]) => Promise<void>, run: Run, facts: RunFacts) {
  const { s, out, months, operator, homes } = run;
  const key = s.allocationKey!;
  const importMeters = homes.map((h) => h.meter).sort();
  for (const month of months) {
    const { input, result, summary } = runMonth(ledger.state, month, simAllocationKey(key, importMeters));
    await submit([operator.sign('allocation.run', summary)]);
    if (facts.certificates) await settleCertificates(ledger, submit, run, month, facts);
    const file = `coefficients-fr-${month}.csv`;
    writeFileSync(join(out, file), frenchCoefficients(input, result, s.timeZone));
    facts.allocations.push({ month, key, productionWh: summary.productionWh, allocatedWh: summary.allocatedWh, surplusWh: summary.surplusWh, file });
  }
}

/** settleAndVerify replays the log from disk (verify), then bills every month and reads its certificates from the verified replay. */
async function settleAndVerify(store: SimStore, run: Run, byActor: ReadonlyMap<string, SimHousehold>): Promise<SettledRun> {
  return store.audit((source, registry) => settleSource(source, registry, run, byActor));
}

async function settleSource(ledger: LogSource, registry: Registry, run: Run, byActor: ReadonlyMap<string, SimHousehold>): Promise<SettledRun> {
  const { months } = run;
  const bills = new Map<string, MemberBill>();
  const money: MoneyFlows = { chargesMicro: 0, creditsMicro: 0, supplierMicro: 0, gridMicro: 0, peerPaidMicro: 0, peerProceedsMicro: 0, feesMicro: 0, surplusMicro: 0, peerWh: 0, flexMicro: 0 };
  let state: State | undefined;
  const checker = new WorkerSignatureChecker();
  let verified: boolean;
  try {
    verified = (await verifyLog(ledger, registry, { checkSignatures: (items) => checker.check(items), onReplayed: (s) => (state = s) })).ok;
  } finally {
    await checker.close();
  }
  if (!state) throw new OpenlecError('E_VERIFY', 'the simulated log did not replay', { field: 'db' });
  for (const month of months) {
    const settlement = settleMonth(state, month);
    for (const k of Object.keys(money) as (keyof MoneyFlows)[]) money[k] += settlement.totals[k];
    for (const inv of settlement.invoices) {
      const h = byActor.get(inv.participant);
      if (!h) continue; // the aggregator's invoice (its flexibility): in kpis.json's flexibility
      const b = bills.get(h.label) ?? { label: h.label, group: h.group, totalMicro: 0, withoutMicro: 0, savingsMicro: 0 };
      b.totalMicro += inv.totalMicro;
      b.withoutMicro += inv.withoutCommunityMicro;
      b.savingsMicro = b.withoutMicro - b.totalMicro;
      bills.set(h.label, b);
    }
  }
  return {
    members: [...bills.values()], money, entries: ledger.size, verified, certificates: run.certs !== null ? certificateMonths(state, months) : null,
    flexibility: run.flex ? flexSettled(state, run.flex.aggregator.actor, run.s.intervalMinutes) : null,
    charging: run.charging ? chargingSettled(state) : null,
  };
}
