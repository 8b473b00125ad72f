import { readFileSync, statSync } from 'node:fs';
import { makeCdr } from '../src/charging/cdr.ts';
import type { OcpiChargingPeriod, OcpiLocation, OcpiTariff } from '../src/charging/ocpi.ts';
import { compileTariff, priceSession, pricingSession } from '../src/charging/price.ts';
import { planChargingSettle, priceCdr } from '../src/charging/roaming.ts';
import { tokenPseudonym } from '../src/charging/token.ts';
import { verifyLog } from '../src/audit/verify.ts';
import { Signer } from '../src/client.ts';
import { encodeEntry, type SignedTransaction } from '../src/ledger/index.ts';
import { nodeSign, WorkerSignatureChecker } from '../src/node/signatures.ts';
import { SqliteLedger } from '../src/store/sqlite-ledger.ts';
import { labelKey as key, lcg, printTable, round, tempPath } from './support.ts';

/**
 * EV charging: (a) how many CDRs a second the pricing gets through on complex tariffs
 * (OCPI's tariff_4_complex: current- and weekday-dependent TIME, time-of-day PARKING_TIME,
 * VAT per component; and a time-of-day energy tariff with min/max_kwh, min/max_duration,
 * min/max price), sessions of 1 to 10 charging periods with energy, current and power, and
 * a parking period half the time; priced with the tariff compiled once, compiled for every
 * CDR as charging.cdr's apply does (priceCdr), and as a whole CDR (makeCdr). (b) A month of
 * sessions (January 2026, Europe/Berlin, 100 EVSEs, 20 eMSPs, 10,000 cards): each CDR
 * written by makeCdr, signed by the CPO and appended as charging.cdr through the
 * SqliteLedger in batches (signatures on two worker threads, every CDR priced again on
 * apply), the month settled (planChargingSettle, then charging.settle recomputes it), the
 * whole log verified.
 *
 * Size: CHARGING_BENCH_SESSIONS (or --sessions=N), 100,000 by default;
 * CHARGING_BENCH_PRICINGS (or --pricings=N), 2,000 by default per tariff and way.
 */
const COMMUNITY = 'openlec.bench/charging';
const ZONE = 'Europe/Berlin';
const BATCH = 5_000;
/** EVSEs per location; a month's sessions get one EVSE per 150 (about 5 a day), at least 100, spread over locations. */
const EVSES_PER_LOCATION = 50;
const EVSES = 100;
const SESSIONS_PER_EVSE = 150;
const EMSPS = 20;
const CARDS = 10_000;
const MONTH = '2026-01';
const MONTH_START = Date.UTC(2025, 11, 31, 23); // 2026-01-01T00:00 Berlin
const MONTH_END = Date.UTC(2026, 0, 31, 23); // 2026-02-01T00:00 Berlin

function arg(name: string, env: string, fallback: number): number {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  const v = a ? a.slice(name.length + 3) : process.env[env];
  const n = v === undefined ? fallback : Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${env} / --${name} must be a positive integer (got ${v})`);
  return n;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** A time-of-day energy tariff: weekday peak and day rates up to 20 kWh, a bulk rate above, a night default; charging time after 1 h and 3 h; parking by day after 2 h; min and max price. */
export const TOD_TARIFF: OcpiTariff = {
  country_code: 'DE', party_id: 'OLC', id: 'TOD-KWH', currency: 'EUR', type: 'REGULAR',
  min_price: { excl_vat: 1, incl_vat: 1.19 }, max_price: { excl_vat: 120, incl_vat: 142.8 },
  elements: [
    { price_components: [{ type: 'FLAT', price: 0.99, vat: 19, step_size: 1 }] },
    { price_components: [{ type: 'ENERGY', price: 0.59, vat: 19, step_size: 100 }], restrictions: { start_time: '17:00', end_time: '21:00', max_kwh: 20, day_of_week: ['MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY'] } },
    { price_components: [{ type: 'ENERGY', price: 0.49, vat: 19, step_size: 100 }], restrictions: { start_time: '07:00', end_time: '22:00', max_kwh: 20 } },
    { price_components: [{ type: 'ENERGY', price: 0.39, vat: 19, step_size: 100 }], restrictions: { min_kwh: 20 } },
    { price_components: [{ type: 'ENERGY', price: 0.29, vat: 19, step_size: 100 }] },
    { price_components: [{ type: 'TIME', price: 1.2, vat: 19, step_size: 60 }], restrictions: { min_duration: 3_600, max_duration: 10_800 } },
    { price_components: [{ type: 'TIME', price: 2.4, vat: 19, step_size: 60 }], restrictions: { min_duration: 10_800 } },
    { price_components: [{ type: 'PARKING_TIME', price: 6, vat: 19, step_size: 300 }], restrictions: { start_time: '08:00', end_time: '20:00', min_duration: 7_200 } },
  ],
  last_updated: '2025-12-01T00:00:00Z',
};

function benchLocation(id: string, evses: number): OcpiLocation {
  return {
    country_code: 'DE', party_id: 'OLC', id, publish: true, name: 'Bench car park', address: 'Hauptstrasse 1', city: 'Berlin', postal_code: '10115', country: 'DEU',
    coordinates: { latitude: '52.520000', longitude: '13.400000' }, time_zone: ZONE, parking_type: 'PARKING_LOT',
    evses: Array.from({ length: evses }, (_, i) => ({
      uid: `${id}-${i + 1}`, evse_id: `DE*OLC*E${id.slice(6)}${String(i + 1).padStart(4, '0')}`, status: 'AVAILABLE' as const, capabilities: ['RFID_READER' as const],
      connectors: [{ id: '1', standard: 'IEC_62196_T2' as const, format: 'SOCKET' as const, power_type: 'AC_3_PHASE' as const, max_voltage: 400, max_amperage: 32, max_electric_power: 22_000, tariff_ids: ['TOD-KWH'], last_updated: '2025-12-01T00:00:00Z' }],
      last_updated: '2025-12-01T00:00:00Z',
    })),
    last_updated: '2025-12-01T00:00:00Z',
  };
}
const LOCATION = benchLocation('BENCH-1', EVSES_PER_LOCATION);

/**
 * A session of 1–10 periods in January 2026: charging periods (energy, current, power) of
 * 5–60 min, the last one parking half the time; within [from, to) when given (one EVSE's
 * slot: a connector charges one session at a time).
 */
function session(rand: () => number, from = MONTH_START, to = MONTH_END - 12 * 3_600_000) {
  const periodsN = 1 + Math.floor(rand() * 10);
  const parking = periodsN > 1 && rand() < 0.5;
  let t = from + Math.floor((rand() * (to - from)) / 10 / 60_000) * 60_000;
  const start = t;
  const periods: OcpiChargingPeriod[] = [];
  for (let i = 0; i < periodsN; i++) {
    const minutes = Math.min(5 + Math.floor(rand() * 56), Math.floor((to - t) / 60_000));
    if (minutes < 1) break;
    if (parking && i === periodsN - 1) {
      periods.push({ start_date_time: iso(t), dimensions: [{ type: 'PARKING_TIME', volume: Math.round((minutes / 60) * 1000) / 1000 }] });
    } else {
      const kw = Math.round((3.7 + rand() * 18.3) * 100) / 100;
      const amps = Math.round((kw * 1000 / 693) * 100) / 100;
      periods.push({ start_date_time: iso(t), dimensions: [{ type: 'ENERGY', volume: Math.round(kw * minutes / 60 * 1000) / 1000 }, { type: 'CURRENT', volume: amps }, { type: 'POWER', volume: kw }] });
    }
    t += minutes * 60_000;
  }
  return { start: iso(start), end: iso(t), periods };
}

interface Pricing { tariff: string; way: string; cdrs: number; seconds: number; perSecond: number }

export function benchPricing(n: number): Pricing[] {
  const complex = JSON.parse(readFileSync(new URL('../test/fixtures/charging/ocpi/tariff_4_complex.json', import.meta.url), 'utf8')) as OcpiTariff;
  const out: Pricing[] = [];
  for (const [name, tariff] of [['tariff_4_complex', complex], ['TOD-KWH (time of day, kWh and duration bounds)', TOD_TARIFF]] as const) {
    const rand = lcg(7);
    const sessions = Array.from({ length: n }, () => session(rand));
    const compiled = compileTariff(tariff, ZONE);
    let check = 0;
    const time = (way: string, f: (x: (typeof sessions)[number], i: number) => number) => {
      const t0 = process.hrtime.bigint();
      sessions.forEach((x, i) => { check += f(x, i); });
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      out.push({ tariff: name, way, cdrs: n, seconds, perSecond: Math.round(n / seconds) });
    };
    time('compiled once', (x) => priceSession(compiled, pricingSession(x.start, x.end, x.periods)).total.excl);
    time('compile + price (as apply)', (x) => priceCdr({ start_date_time: x.start, end_date_time: x.end, charging_periods: x.periods } as never, tariff, ZONE).total.excl);
    time('makeCdr (whole CDR)', (x, i) => makeCdr({
      id: `P${i}`, location: { ...LOCATION, country_code: tariff.country_code, party_id: tariff.party_id }, evseUid: 'BENCH-1-1', connectorId: '1',
      token: { country_code: 'NL', party_id: 'TST', uid: '0'.repeat(32), type: 'RFID', contract_id: '1'.repeat(32) }, tariff, ...x, lastUpdated: x.end,
    }).priced.total.excl);
    if (!Number.isFinite(check)) throw new Error('pricing gave a non-number');
    process.stderr.write(`charging bench: priced ${n} sessions ×3 on ${name}\n`);
  }
  return out;
}

interface Phase { name: string; transactions: number; wallSeconds: number; cpuSeconds: number; peakRssMb: number }

async function phase<T>(phases: Phase[], name: string, work: () => Promise<{ value: T; transactions: number }>): Promise<T> {
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const { value, transactions } = await work();
  const cpu = process.cpuUsage(cpu0);
  phases.push({ name, transactions, wallSeconds: Number(process.hrtime.bigint() - t0) / 1e9, cpuSeconds: (cpu.user + cpu.system) / 1e6, peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) });
  process.stderr.write(`charging bench: ${name} done in ${round(phases.at(-1)!.wallSeconds, 1)} s\n`);
  return value;
}

async function submit(ledger: SqliteLedger, txs: SignedTransaction<unknown>[]) {
  for (const r of await ledger.submitMany(txs)) if (!r.ok) throw r.error;
}

/** verifyFile: verifyLog of a ledger file reopened without projections, as the simulator verifies its run. */
export async function verifyFile(path: string, phases: Phase[] = []) {
  const ledger = SqliteLedger.open(path, { projections: false });
  const checker = new WorkerSignatureChecker(2);
  try {
    return await phase(phases, '(d) verifyLog', async () => {
      const r = await verifyLog(ledger, ledger.registry, { checkSignatures: (items) => checker.check(items) });
      return { value: r, transactions: r.entries };
    });
  } finally {
    await checker.close();
    await ledger.close();
  }
}

export async function run(): Promise<Record<string, number>> {
  const sessions = arg('sessions', 'CHARGING_BENCH_SESSIONS', 100_000);
  const pricings = arg('pricings', 'CHARGING_BENCH_PRICINGS', 2_000);
  const pricing = benchPricing(pricings);

  const path = tempPath('charging.db');
  const ledger = SqliteLedger.create(path, { signatures: new WorkerSignatureChecker(2) });
  const mk = (label: string) => new Signer(key(label), COMMUNITY, 0, () => '2025-12-01T00:00:00.000Z', nodeSign);
  const evses = Math.max(EVSES, Math.ceil(sessions / SESSIONS_PER_EVSE));
  const locations = Array.from({ length: Math.ceil(evses / EVSES_PER_LOCATION) }, (_, k) => benchLocation(`BENCH-${k + 1}`, Math.min(EVSES_PER_LOCATION, evses - k * EVSES_PER_LOCATION)));
  const perEvse = Math.ceil(sessions / evses);
  const slot = Math.floor((MONTH_END - MONTH_START) / perEvse / 60_000) * 60_000;
  const operator = mk('operator');
  const cpo = mk('cpo');
  const emsps = Array.from({ length: EMSPS }, (_, i) => ({ cc: ['NL', 'DE', 'FR', 'BE', 'AT'][i % 5]!, pid: `E${String(i).padStart(2, '0')}` }));
  await submit(ledger, [
    operator.sign('community.create', { name: 'Charge Town', timeZone: ZONE, intervalMinutes: 15, currency: 'EUR', operator: operator.actor }),
    operator.sign('participant.register', { key: cpo.actor, roles: ['cpo'] }),
    operator.sign('charging.party', { role: 'CPO', country_code: 'DE', party_id: 'OLC', name: 'Charge Town CPO', key: cpo.actor }),
    ...emsps.map((e) => operator.sign('charging.party', { role: 'EMSP', country_code: e.cc, party_id: e.pid, name: `eMSP ${e.pid}` })),
    ...locations.map((location) => cpo.sign('charging.location', { location })),
    cpo.sign('charging.tariff', { tariff: TOD_TARIFF }),
  ]);
  const tokenKey = new Uint8Array(32).fill(9);
  const cards = Array.from({ length: CARDS }, (_, i) => {
    const e = emsps[i % EMSPS]!;
    return { country_code: e.cc, party_id: e.pid, uid: tokenPseudonym(tokenKey, e.cc, e.pid, `card-${i}`), type: 'RFID' as const, contract_id: tokenPseudonym(tokenKey, e.cc, e.pid, `contract-${i}`) };
  });

  // (b) The month's CDRs: written and signed per batch (timed apart), appended through the ledger.
  const phases: Phase[] = [];
  const rand = lcg(2026);
  let signSeconds = 0;
  let cdrBytes = 0;
  let cdrTotalMicro = 0;
  const appendedAt = '2026-02-01T00:30:00Z';
  const t0 = process.hrtime.bigint();
  await phase(phases, `(b1) ${sessions.toLocaleString('en-US')} charging.cdr`, async () => {
    for (let lo = 0; lo < sessions; lo += BATCH) {
      const s0 = process.hrtime.bigint();
      const txs: SignedTransaction<unknown>[] = [];
      for (let i = lo; i < Math.min(sessions, lo + BATCH); i++) {
        const e = i % evses;
        const from = MONTH_START + Math.floor(i / evses) * slot;
        const x = session(rand, from, from + slot - 60_000);
        const location = locations[Math.floor(e / EVSES_PER_LOCATION)]!;
        const { cdr, priced } = makeCdr({ id: `CDR-${i}`, location, evseUid: `${location.id}-${1 + (e % EVSES_PER_LOCATION)}`, connectorId: '1', token: cards[Math.floor(rand() * CARDS)]!, tariff: TOD_TARIFF, ...x, lastUpdated: x.end });
        cdrTotalMicro += priced.total.excl;
        const tx = cpo.sign('charging.cdr', { cdr }, appendedAt);
        cdrBytes += encodeEntry(tx).length;
        txs.push(tx);
      }
      signSeconds += Number(process.hrtime.bigint() - s0) / 1e9;
      await submit(ledger, txs);
      const done = Math.min(sessions, lo + BATCH);
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      process.stderr.write(`charging bench: ${done.toLocaleString('en-US')} / ${sessions.toLocaleString('en-US')} CDRs appended (${Math.round(done / wall)}/s, RSS ${Math.round(process.memoryUsage().rss / 2 ** 20)} MB)\n`);
    }
    return { value: undefined, transactions: sessions };
  });
  const appendSeconds = phases[0]!.wallSeconds - signSeconds;

  // (c) The month's settlement: planned, signed, appended (apply recomputes it from the CDRs).
  let planSeconds = 0;
  let lines = 0;
  let settleBytes = 0;
  let linesTotal = 0;
  await phase(phases, '(c) planChargingSettle + charging.settle', async () => {
    const p0 = process.hrtime.bigint();
    const plan = planChargingSettle(ledger.state, MONTH);
    planSeconds = Number(process.hrtime.bigint() - p0) / 1e9;
    lines = plan.length;
    linesTotal = plan.reduce((s, l) => s + l.netExclMicro, 0);
    const tx = operator.sign('charging.settle', { month: MONTH, lines: plan }, '2026-02-01T12:00:00Z');
    settleBytes = encodeEntry(tx).length;
    await submit(ledger, [tx]);
    return { value: undefined, transactions: 1 };
  });
  if (linesTotal !== cdrTotalMicro) throw new Error(`settlement ${linesTotal} differs from the CDRs' total ${cdrTotalMicro}`);

  // (d) verifyLog of the whole log from disk (every CDR priced again), signatures on two worker
  // threads. The appending ledger is closed first: its state and the replay's would not fit one heap.
  await ledger.close();
  const report = await verifyFile(path, phases);
  const entries = report.entries;
  const logBytes = statSync(path).size;
  const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);

  printTable(`pricing: sessions of 1-10 periods (energy, current, power; parking half the time), ${pricings.toLocaleString('en-US')} per row`,
    pricing.map((p) => [p.tariff, p.way, p.cdrs, round(p.seconds, 3), p.perSecond, round(1e6 / p.perSecond, 1)]),
    ['tariff', 'way', 'CDRs', 'seconds', 'CDRs/s', 'µs/CDR']);
  printTable(`a month of ${sessions.toLocaleString('en-US')} sessions on ${evses} EVSEs at ${locations.length} locations, ${EMSPS} eMSPs, ${CARDS.toLocaleString('en-US')} cards (tariff TOD-KWH)`,
    phases.map((p) => [p.name, p.transactions, round(p.wallSeconds, 2), round(p.cpuSeconds, 2), p.peakRssMb, p.transactions > 0 ? round(p.transactions / p.wallSeconds) : 0]),
    ['phase', 'transactions', 'wall s', 'CPU s', 'peak RSS MB', 'tx/s']);
  printTable('figures', [
    ['makeCdr + sign (of b1)', round(signSeconds, 2), round(sessions / signSeconds)],
    ['append through SqliteLedger (of b1: worker signature checks, priced again on apply)', round(appendSeconds, 2), round(sessions / appendSeconds)],
    [`planChargingSettle (${lines} lines)`, round(planSeconds, 3), 0],
    [`bytes per charging.cdr entry (settle entry ${settleBytes} B; log file ${logBytes.toLocaleString('en-US')} B)`, round(cdrBytes / sessions), 0],
  ], ['what', 'seconds / bytes', 'per second']);
  process.stdout.write(`verify ok: ${report.ok} (${report.problems.length} problems${report.problems[0] ? `: ${report.problems[0].message}` : ''}); Σ settlement = Σ CDRs = ${cdrTotalMicro} µEUR\n`);
  const [b1, c, d] = phases;
  const byWay = (tariff: number, way: number) => pricing[tariff * 3 + way]!.perSecond;
  return {
    pricings, complexCompiledPerSecond: byWay(0, 0), complexApplyPerSecond: byWay(0, 1), complexMakeCdrPerSecond: byWay(0, 2),
    todCompiledPerSecond: byWay(1, 0), todApplyPerSecond: byWay(1, 1), todMakeCdrPerSecond: byWay(1, 2),
    sessions, entries, cdrPhaseWallSeconds: round(b1!.wallSeconds, 2), cdrPhaseCpuSeconds: round(b1!.cpuSeconds, 2),
    signSeconds: round(signSeconds, 2), appendSeconds: round(appendSeconds, 2), appendsPerSecond: round(sessions / appendSeconds),
    settleSeconds: round(c!.wallSeconds, 3), settlePlanSeconds: round(planSeconds, 3), settleLines: lines, settleBytes,
    verifySeconds: round(d!.wallSeconds, 2), verifyCpuSeconds: round(d!.cpuSeconds, 2), verified: report.ok ? 1 : 0,
    bytesPerCdrEntry: round(cdrBytes / sessions), logFileBytes: logBytes, peakRssMb,
  };
}
