import { statSync } from 'node:fs';
import { Signer } from '../src/client.ts';
import { verifyLog } from '../src/audit/verify.ts';
import { planFlexOrder } from '../src/flex/order.ts';
import { flexSettleBody, planFlexSettle } from '../src/flex/settle.ts';
import type { BaselineSpec, OrderRow, RequestRow } from '../src/flex/tables.ts';
import { encodeEntry, MAX_ENTRY_BYTES } from '../src/ledger/index.ts';
import { nodeSign, WorkerSignatureChecker } from '../src/node/signatures.ts';
import type { SignedTransaction } from '../src/ledger/index.ts';
import { SqliteLedger } from '../src/store/sqlite-ledger.ts';
import { labelKey as key, lcg, printTable, round, tempPath } from './support.ts';

/**
 * The flexibility market over a month: 50 feeders (5 substations of 10) with 20 metering
 * points each, one flexible asset behind every meter (heat pump, EV charger, battery,
 * water heater, delegated to the substation's aggregator); January 2026 in Europe/Paris
 * (31 days × 48 half-hours, no DST change). Every feeder gets one request a day over the
 * evening peak (8 ISPs from 17:00 local, forecast window 12 intervals on the feeder and its
 * substation, so rebounds are checked): 1,550 requests and 10,000 offers (6 or 7 a request,
 * 5 % of them unsolicited), priced around the DSO's maximum, with x-of-y, mbma and
 * nomination baselines. The DSO orders every request (plan, then apply recomputes the merit
 * order), the readings of the month and of the 14 days before (10 weekdays, for x-of-y)
 * are logged for every meter, the month is settled and the whole log verified.
 *
 * Phases: (a) signing and appending the requests and offers, (b) planning and appending
 * every order, (c) planFlexSettle and flex.settle (apply recomputes it), (d) verifyLog.
 */
const COMMUNITY = 'openlec.bench/flex';
const SUBSTATIONS = 5;
const FEEDERS = 50;
const METERS_PER_FEEDER = 20;
const DAYS = 31;
const HISTORY_DAYS = 14; // 2025-12-18 .. 2025-12-31: 10 weekdays
const ISPS = 8;
const WINDOW = 12;
const OFFERS = 10_000;
const FEEDER_LIMIT_W = 100_000;
const SUB_LIMIT_W = 1_050_000;
const MONTH = '2026-01';
const MAX_PRICE = 300_000;
const MS_DAY = 86_400_000;
const MS_ISP = 30 * 60_000;


interface Phase { name: string; transactions: number; wallSeconds: number; cpuSeconds: number; peakRssMb: number }

async function phase<T>(phases: Phase[], name: string, work: () => Promise<{ value: T; transactions: number }>): Promise<T> {
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const { value, transactions } = await work();
  const cpu = process.cpuUsage(cpu0);
  phases.push({
    name, transactions, wallSeconds: Number(process.hrtime.bigint() - t0) / 1e9, cpuSeconds: (cpu.user + cpu.system) / 1e6,
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
  });
  process.stderr.write(`flex bench: ${name} done in ${round(phases.at(-1)!.wallSeconds, 1)} s\n`);
  return value;
}

async function append(ledger: SqliteLedger, txs: SignedTransaction<unknown>[]): Promise<number> {
  let bytes = 0;
  for (let lo = 0; lo < txs.length; lo += 4096) {
    const chunk = txs.slice(lo, lo + 4096);
    for (const r of await ledger.submitMany(chunk)) if (!r.ok) throw r.error;
  }
  for (const t of txs) bytes += encodeEntry(t).length;
  return bytes;
}

const iso = (ms: number) => new Date(ms).toISOString();

export async function run(): Promise<Record<string, number>> {
  const rand = lcg(2026);
  const phases: Phase[] = [];
  const path = tempPath('flex.db');
  const ledger = SqliteLedger.create(path, { signatures: new WorkerSignatureChecker(2) });
  const mk = (label: string) => new Signer(key(label), COMMUNITY, 0, () => '2025-12-01T00:00:00.000Z', nodeSign);
  const operator = mk('operator');
  const dso = mk('dso');
  const members = Array.from({ length: 10 }, (_, i) => mk(`member-${i}`));
  const aggregators = Array.from({ length: SUBSTATIONS }, (_, i) => mk(`aggregator-${i}`));

  // Setup: community, participants, feeders, meters, assets, weekly feeder limits.
  const setup: SignedTransaction<unknown>[] = [
    operator.sign('community.create', { name: 'Flex Town', timeZone: 'Europe/Paris', intervalMinutes: 30, currency: 'EUR', operator: operator.actor }),
    operator.sign('participant.register', { key: dso.actor, roles: ['dso'] }),
    ...members.map((m) => operator.sign('participant.register', { key: m.actor, roles: ['member'] })),
    ...aggregators.map((a) => operator.sign('participant.register', { key: a.actor, roles: ['aggregator'] })),
    operator.sign('flex.configure', { doubleCharging: 'refund', networkFeeMicroPerKwh: 40_000 }),
  ];
  const feederOf = (f: number) => `feeder-${f}`;
  const subOf = (f: number) => `sub-${Math.floor(f / (FEEDERS / SUBSTATIONS))}`;
  for (let s = 0; s < SUBSTATIONS; s++) setup.push(dso.sign('feeder.define', { id: `sub-${s}`, importLimitW: SUB_LIMIT_W, exportLimitW: SUB_LIMIT_W }));
  const KINDS = ['heat-pump', 'ev-charger', 'battery', 'water-heater'] as const;
  const assets: { asset: string; meter: string; feeder: number; powerW: number; kind: (typeof KINDS)[number] }[] = [];
  for (let f = 0; f < FEEDERS; f++) {
    setup.push(dso.sign('feeder.define', { id: feederOf(f), parent: subOf(f), importLimitW: FEEDER_LIMIT_W, exportLimitW: FEEDER_LIMIT_W }));
    for (let m = 0; m < METERS_PER_FEEDER; m++) {
      const meter = `m-${f}-${m}`;
      const kind = KINDS[(f + m) % 4]!;
      const powerW = 3000 + 1000 * Math.floor(rand() * 5);
      const agg = aggregators[Math.floor(f / (FEEDERS / SUBSTATIONS))]!;
      setup.push(dso.sign('meter.register', { meter, scheme: 'other', direction: 'import', owner: members[(f * METERS_PER_FEEDER + m) % members.length]!.actor, feeder: feederOf(f) }));
      setup.push(dso.sign('asset.register', { asset: `a-${f}-${m}`, meter, kind, powerW, capacityWh: kind === 'battery' ? powerW * 4 : null, aggregator: agg.actor }));
      assets.push({ asset: `a-${f}-${m}`, meter, feeder: f, powerW, kind });
    }
  }
  const monthStart = Date.UTC(2025, 11, 31, 23); // 2026-01-01 00:00 Paris
  for (let w = 0; w < 5; w++) {
    for (let f = 0; f < FEEDERS; f++) {
      setup.push(dso.sign('feeder.limit', { feeder: feederOf(f), from: iso(monthStart + w * 7 * MS_DAY), to: iso(monthStart + (w + 1) * 7 * MS_DAY), importLimitW: FEEDER_LIMIT_W, exportLimitW: FEEDER_LIMIT_W }));
    }
  }
  const setupBytes = await append(ledger, setup);

  // (a) Requests and offers: one request per feeder and day, 17:00-21:00 local (16:00Z), offers 6 or 7 each.
  const t0a = process.hrtime.bigint();
  const cpu0a = process.cpuUsage();
  const requests: { id: string; feeder: number; start: number }[] = [];
  const offersPer: number[] = Array.from({ length: DAYS * FEEDERS }, (_, i) => (i < OFFERS - 6 * DAYS * FEEDERS ? 7 : 6));
  for (let i = offersPer.length - 1; i > 0; i--) { const j = Math.floor(rand() * (i + 1)); [offersPer[i], offersPer[j]] = [offersPer[j]!, offersPer[i]!]; }
  const baselineCounts: Record<string, number> = { 'x-of-y': 0, mbma: 0, nomination: 0 };
  let unsolicited = 0;
  const flexTx: SignedTransaction<unknown>[] = [];
  for (let d = 0; d < DAYS; d++) {
    const start = monthStart + d * MS_DAY + 17 * 3_600_000;
    const weekend = [0, 6].includes(new Date(start).getUTCDay());
    const issued = iso(start - 32 * 3_600_000); // the day before, 08:00 UTC
    const expires = iso(start - 4 * 3_600_000);
    for (let f = 0; f < FEEDERS; f++) {
      const id = `r-${d}-${f}`;
      // The feeder above its limit over the peak, just below it after (where rebounds land); the substation close to its own limit after the peak.
      const W = Array.from({ length: WINDOW }, (_, t) => (t < ISPS ? FEEDER_LIMIT_W + 4000 + Math.floor(rand() * 8000) : FEEDER_LIMIT_W - 1000 - Math.floor(rand() * 3000)));
      const sub = Array.from({ length: WINDOW }, (_, t) => (t < ISPS ? SUB_LIMIT_W - 10_000 : SUB_LIMIT_W - 8000 - Math.floor(rand() * 6000)));
      flexTx.push(dso.sign('flex.request', {
        request: id, feeder: feederOf(f), direction: 'reduce-import', start: iso(start),
        isps: W.slice(0, ISPS).map((w) => ({ minW: -(w - FEEDER_LIMIT_W + 4000), maxW: -(w - FEEDER_LIMIT_W) })),
        maxPriceMicroPerKwh: MAX_PRICE, penaltyMicroPerKwh: 400_000, expires, forecast: [{ feeder: feederOf(f), W }, { feeder: subOf(f), W: sub }],
      }, issued));
      requests.push({ id, feeder: f, start });
      const n = offersPer[d * FEEDERS + f]!;
      const pool = assets.filter((a) => a.feeder === f);
      for (let k = 0; k < n; k++) {
        const picked = [pool[(d * 7 + k * 3) % pool.length]!];
        if (rand() < 0.3) picked.push(pool[(d * 7 + k * 3 + 1) % pool.length]!);
        const powerSum = picked.reduce((s, a) => s + a.powerW, 0);
        const powerW = Array.from({ length: ISPS }, () => -Math.max(500, Math.floor(powerSum * (0.3 + 0.7 * rand()) / 100) * 100));
        const shifts = picked.some((a) => a.kind === 'ev-charger' || a.kind === 'heat-pump' || a.kind === 'water-heater');
        const reboundW = shifts ? Array.from({ length: WINDOW - ISPS }, () => Math.floor(Math.abs(powerW[0]!) * rand() * 0.6)) : [];
        const which = rand();
        const baseline: BaselineSpec = which < 0.5
          ? (weekend ? { method: 'x-of-y', x: 2, y: 4, pick: 'high', adjustIntervals: 0 } : { method: 'x-of-y', x: 5, y: 10, pick: rand() < 0.5 ? 'high' : 'mid', adjustIntervals: rand() < 0.5 ? 2 : 0 })
          : which < 0.8 ? { method: 'mbma' } : { method: 'nomination', wh: powerW.map(() => 600 * picked.length + Math.floor(rand() * 1500)) };
        baselineCounts[baseline.method]!++;
        const solicited = rand() >= 0.05;
        if (!solicited) unsolicited++;
        const agg = aggregators[Math.floor(f / (FEEDERS / SUBSTATIONS))]!;
        flexTx.push(agg.sign('flex.offer', {
          offer: `o-${d}-${f}-${k}`, request: solicited ? id : null, feeder: feederOf(f), start: iso(start), assets: picked.map((a) => a.asset), powerW, reboundW,
          priceMicroPerKwh: 50_000 + Math.floor(rand() * 300_000), minActivationPct: rand() < 0.7 ? 100 : 20 + Math.floor(rand() * 60), baseline, validUntil: iso(start - 60 * 60_000),
        }, iso(start - 30 * 3_600_000 + k * 60_000)));
      }
    }
  }
  const signSeconds = Number(process.hrtime.bigint() - t0a) / 1e9;
  const flexBytes = await append(ledger, flexTx);
  const cpuA = process.cpuUsage(cpu0a);
  phases.push({ name: '(a) sign + append requests and offers', transactions: flexTx.length, wallSeconds: Number(process.hrtime.bigint() - t0a) / 1e9, cpuSeconds: (cpuA.user + cpuA.system) / 1e6, peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) });
  process.stderr.write(`flex bench: requests and offers signed in ${round(signSeconds, 1)} s, appended in ${round(phases[0]!.wallSeconds - signSeconds, 1)} s\n`);

  // (b) Orders, in the order of their requests: plan at 13:00Z of the event day, sign, append (apply recomputes the merit order).
  let orderBytes = 0;
  await phase(phases, '(b) plan + append orders', async () => {
    for (const r of requests) {
      const at = r.start - 3 * 3_600_000;
      const body = planFlexOrder(ledger.state, r.id, `f-${r.id}`, at);
      const tx = dso.sign('flex.order', body, iso(at));
      orderBytes += encodeEntry(tx).length;
      const res = await ledger.submit(tx);
      if (!res.ok) throw res.error;
    }
    return { value: undefined, transactions: requests.length };
  });
  const orders = [...ledger.state.rows('flex_orders')] as OrderRow[];
  const decisions: Record<string, number> = {};
  for (const o of orders) for (const m of o.merit) decisions[m.decision] = (decisions[m.decision] ?? 0) + 1;
  const orderedOffers = orders.reduce((s, o) => s + o.ordered.length, 0);

  // Readings: every meter, 14 days before the month and the month; on ordered ISPs the load drops by 60-110 % of what was ordered.
  const cut = new Map<string, number>(); // meter|ms -> Wh less
  const meterOfAsset = new Map(assets.map((a) => [a.asset, a.meter]));
  for (const o of orders) {
    const r = ledger.state.get<RequestRow>('flex_requests', o.request)!;
    const s = Date.parse(r.start);
    for (const x of o.ordered) {
      const offer = ledger.state.get<{ assets: string[] }>('flex_offers', x.offer)!;
      const share = 0.6 + 0.5 * rand();
      x.powerW.forEach((p, t) => {
        for (const a of offer.assets) {
          const meter = meterOfAsset.get(a)!;
          const k = `${meter}|${s + t * MS_ISP}`;
          cut.set(k, (cut.get(k) ?? 0) + Math.round((Math.abs(p) / 2 / offer.assets.length) * share));
        }
      });
    }
  }
  const readings: SignedTransaction<unknown>[] = [];
  for (let d = -HISTORY_DAYS; d < DAYS; d++) {
    const dayStart = monthStart + d * MS_DAY;
    const date = new Date(dayStart + 3_600_000).toISOString().slice(0, 10);
    for (const a of assets) {
      const values = Array.from({ length: 48 }, (_, k) => {
        const base = 150 + Math.floor(rand() * 250) + (k >= 34 && k < 42 ? 1200 + Math.floor(rand() * 900) : 0);
        return Math.max(0, base - (cut.get(`${a.meter}|${dayStart + k * MS_ISP}`) ?? 0));
      });
      readings.push(dso.sign('meter.readings', { meter: a.meter, direction: 'import', date, values }, '2026-02-01T06:00:00.000Z'));
    }
  }
  const readT0 = process.hrtime.bigint();
  const readingBytes = await append(ledger, readings);
  const readingSeconds = Number(process.hrtime.bigint() - readT0) / 1e9;
  process.stderr.write(`flex bench: ${readings.length} readings appended in ${round(readingSeconds, 1)} s\n`);

  // (c) The month's settlement: planned, signed, appended (apply recomputes it).
  let settleBytes = 0;
  let settleRefused = '';
  let lines = 0;
  let planSeconds = 0;
  await phase(phases, '(c) planFlexSettle + flex.settle', async () => {
    const t0 = process.hrtime.bigint();
    const plan = planFlexSettle(ledger.state, MONTH);
    planSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    lines = plan.lines.length;
    const tx = dso.sign('flex.settle', flexSettleBody(plan), '2026-02-01T12:00:00.000Z');
    settleBytes = encodeEntry(tx).length;
    const res = await ledger.submit(tx);
    if (!res.ok) settleRefused = (res.error as { code?: string }).code ?? String(res.error);
    return { value: undefined, transactions: 1 };
  });

  // (d) verifyLog of the whole log, signatures on two worker threads.
  const checker = new WorkerSignatureChecker(2);
  const report = await phase(phases, '(d) verifyLog', async () => {
    const r = await verifyLog(ledger, ledger.registry, { checkSignatures: (items) => checker.check(items) });
    return { value: r, transactions: r.entries };
  });
  await checker.close();
  const logBytes = statSync(path).size;
  const totalEntries = ledger.size;
  await ledger.close();

  printTable(`flexibility month: ${FEEDERS} feeders × ${DAYS * 48} intervals, ${requests.length} requests, ${flexTx.length - requests.length} offers (${unsolicited} unsolicited), ${orders.length} orders of ${orderedOffers} offers`,
    phases.map((p) => [p.name, p.transactions, round(p.wallSeconds, 2), round(p.cpuSeconds, 2), p.peakRssMb, p.transactions > 0 ? round((1000 * p.wallSeconds) / p.transactions, 3) : 0]),
    ['phase', 'transactions', 'wall s', 'CPU s', 'peak RSS MB', 'ms/tx']);
  printTable('log', [
    ['setup (community, 1,000 meters and assets, 250 limits)', setup.length, setupBytes, round(setupBytes / setup.length)],
    ['requests + offers', flexTx.length, flexBytes, round(flexBytes / flexTx.length)],
    ['orders', orders.length, orderBytes, round(orderBytes / orders.length)],
    [`readings (${round(readingSeconds, 1)} s to append)`, readings.length, readingBytes, round(readingBytes / readings.length)],
    [`flex.settle (${lines} lines${settleRefused ? `, refused: ${settleRefused}, limit ${MAX_ENTRY_BYTES} B` : ''})`, 1, settleBytes, settleBytes],
  ], ['entries', 'count', 'bytes', 'bytes/entry']);
  process.stdout.write(`merit decisions: ${JSON.stringify(decisions)}; baselines: ${JSON.stringify(baselineCounts)}; verify ok: ${report.ok} (${report.problems.length} problems${report.problems[0] ? `: ${report.problems[0].message}` : ''})\n`);
  const fig = (p: Phase | undefined, k: 'wallSeconds' | 'cpuSeconds') => round(p?.[k] ?? 0, 2);
  const [a, b, c, d] = phases;
  return {
    feeders: FEEDERS, intervals: DAYS * 48, requests: requests.length, offers: flexTx.length - requests.length, unsolicitedOffers: unsolicited, orders: orders.length, orderedOffers,
    selected: decisions['selected'] ?? 0, covered: decisions['covered'] ?? 0, violation: decisions['violation'] ?? 0, aboveMaxPrice: decisions['above-max-price'] ?? 0, tooLarge: decisions['too-large'] ?? 0,
    offersWallSeconds: fig(a, 'wallSeconds'), offersCpuSeconds: fig(a, 'cpuSeconds'), offersPeakRssMb: a?.peakRssMb ?? 0,
    ordersWallSeconds: fig(b, 'wallSeconds'), ordersCpuSeconds: fig(b, 'cpuSeconds'), ordersPeakRssMb: b?.peakRssMb ?? 0, msPerOrder: round((1000 * (b?.wallSeconds ?? 0)) / orders.length, 2),
    settleWallSeconds: fig(c, 'wallSeconds'), settleCpuSeconds: fig(c, 'cpuSeconds'), settlePeakRssMb: c?.peakRssMb ?? 0, settlePlanSeconds: round(planSeconds, 2), settleLines: lines,
    settleBytes, settleAppended: settleRefused ? 0 : 1,
    verifyWallSeconds: fig(d, 'wallSeconds'), verifyCpuSeconds: fig(d, 'cpuSeconds'), verifyPeakRssMb: d?.peakRssMb ?? 0, verified: report.ok ? 1 : 0,
    readings: readings.length, readingsAppendSeconds: round(readingSeconds, 2), entries: totalEntries, logFileBytes: logBytes,
    bytesPerOrder: round(orderBytes / orders.length), bytesPerOffer: round(flexBytes / flexTx.length),
  };
}
