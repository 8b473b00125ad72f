import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { verifyLog } from '../audit/verify.ts';
import { averagePowerToWh, costMicro, mulDivRound } from '../units/index.ts';
import { build, EVENT_DATE, isUnderGen, limitsGen, type Scenario, scenario } from '../../test/support/flex-gen.ts';
import type { SqliteLedger } from '../store/sqlite-ledger.ts';
import { earnings } from './reports.ts';
import { flexSettleBody, planFlexSettle } from './settle.ts';
import type { ReadingsRow } from '../metering/readings.ts';
import type { OfferRow, OrderRow, SettlementLine } from './tables.ts';

/** The local index of the first ISP (18:00 in Paris on 2026-03-10) in its day's 48 half-hours. */
const FIRST = 36;

/** What must hold of the orders: bounds, the acceptance check recomputed here, and the merit order. */
function checkOrders(s: Scenario, ledger: SqliteLedger, offerIds: (string | null)[]): void {
  const state = ledger.state;
  const takenBefore = new Set<string>();
  s.requests.forEach((r, ri) => {
    const order = state.lookup<OrderRow>('flex_orders', 'request', `R${ri}`)[0]!;
    assert.ok(order, `request R${ri} was ordered`);
    // Merit order: exactly the open, valid candidates, by price then log order.
    const expected = s.offers.map((o, i) => ({ o, i, id: offerIds[i] })).filter(({ o, id }) => {
      if (id === null || o.expired || takenBefore.has(id!)) return false;
      if (o.solicited) return o.request === ri;
      const dir = o.powerW.every((p) => p <= 0) ? 'reduce-import' : 'reduce-export';
      return o.powerW.length === r.isps.length && dir === r.direction && isUnderGen(o.feeder, r.feeder);
    }).sort((a, b) => a.o.price - b.o.price || a.i - b.i);
    assert.deepEqual(order.merit.map((m) => m.offer), expected.map((e) => e.id));
    const byId = new Map(expected.map((e) => [e.id!, e.o]));
    for (const m of order.merit) assert.equal(m.decision === 'above-max-price', byId.get(m.offer)!.price > r.maxPrice, `${m.offer}: above the maximum price iff so decided`);
    // A covered offer: nothing was missing in any ISP it offers; so no later offer whose ISPs it all spans can be selected.
    order.merit.forEach((m, k) => {
      if (m.decision !== 'covered') return;
      const support = byId.get(m.offer)!.powerW.map((p) => p !== 0);
      for (const later of order.merit.slice(k + 1)) {
        if (later.decision !== 'selected') continue;
        const inside = byId.get(later.offer)!.powerW.every((p, i) => p === 0 || support[i]);
        assert.ok(!inside, `${later.offer} is selected after ${m.offer} was covered, over ISPs it spans`);
      }
    });
    // Ordered: within the offer, factor within [min, 100], power scaled toward zero, never above the maximum asked.
    const sums = r.isps.map(() => 0);
    assert.deepEqual(order.ordered.map((o) => o.offer), order.merit.filter((m) => m.decision === 'selected').map((m) => m.offer));
    for (const o of order.ordered) {
      const offer = byId.get(o.offer)!;
      assert.ok(o.factorPct >= offer.minPct && o.factorPct <= 100, `${o.offer}: factor ${o.factorPct} within [${offer.minPct}, 100]`);
      o.powerW.forEach((p, i) => {
        const q = offer.powerW[i]!;
        assert.ok(Math.abs(p) <= Math.abs(q) && (p === 0 || Math.sign(p) === Math.sign(q)), `${o.offer} ISP ${i}: ordered ${p} of ${q}`);
        assert.equal(p, Math.trunc((q * o.factorPct) / 100) || 0);
        sums[i]! += Math.abs(p);
      });
      o.reboundW.forEach((p, i) => assert.ok(Math.abs(p) <= Math.abs(offer.reboundW[i]!)));
      takenBefore.add(o.offer);
    }
    r.isps.forEach(({ hi }, i) => { if (hi > 0) assert.ok(sums[i]! <= hi, `ISP ${i}: ${sums[i]} W ordered, at most ${hi} asked`); });
    // No new violation: with the ordered offers added to the forecasts, a feeder an order pushed toward a limit does not break it.
    for (const f of r.forecast) {
      f.W.forEach((base, t) => {
        let total = base;
        let up = false;
        let down = false;
        for (const o of order.ordered) {
          const offer = byId.get(o.offer)!;
          const all = offer.assets.reduce((x, a) => x + s.meters[a]!.powerW, 0);
          const under = offer.assets.reduce((x, a) => (isUnderGen(s.meters[a]!.feeder, f.feeder) ? x + s.meters[a]!.powerW : x), 0);
          const series = [...o.powerW, ...o.reboundW];
          const d = under === 0 || t >= series.length ? 0 : mulDivRound(series[t]!, under, all);
          total += d;
          if (d > 0) up = true;
          if (d < 0) down = true;
        }
        const l = limitsGen(s, f.feeder, t);
        if (up) assert.ok(total <= l.importW, `${f.feeder} interval ${t}: ${total} W above the import limit ${l.importW} after orders that added load`);
        if (down) assert.ok(-total <= l.exportW, `${f.feeder} interval ${t}: ${-total} W above the export limit ${l.exportW} after orders that added production`);
      });
    }
  });
}

/** What must hold of the settlement: USEF per ISP from the readings, sums, and money conserved. */
function checkSettlement(s: Scenario, ledger: SqliteLedger, lines: SettlementLine[], totalMicro: number): void {
  const state = ledger.state;
  const d = 14; // the event date's index in DATES
  for (const line of lines) {
    const order = state.get<OrderRow>('flex_orders', line.order)!;
    const ordered = order.ordered.find((o) => o.offer === line.offer)!;
    const offer = state.get<OfferRow>('flex_offers', line.offer)!;
    const request = s.requests[Number(order.request.slice(1))]!;
    const less = request.direction === 'reduce-import';
    const meters = [...new Set(offer.assets.map((a) => Number(a.slice(1))))];
    line.isps.forEach((x, i) => {
      const actual = meters.reduce((sum, m) => sum + s.readings[m]!.imp[d]![FIRST + i]! - (s.meters[m]!.exports ? s.readings[m]!.exp[d]![FIRST + i]! : 0), 0);
      assert.equal(x.actualWh, actual, `${line.offer} ISP ${i}: actual`);
      assert.equal(x.orderedWh, averagePowerToWh(Math.abs(ordered.powerW[i]!), 30));
      assert.ok(x.deliveredWh >= 0 && x.deliveredWh <= x.orderedWh, `${line.offer} ISP ${i}: delivered ${x.deliveredWh} of ${x.orderedWh}`);
      assert.ok(x.deficiencyWh >= 0);
      const gain = less ? x.baselineWh - x.actualWh : x.actualWh - x.baselineWh;
      assert.equal(x.deliveredWh, Math.min(Math.max(gain, 0), x.orderedWh));
      assert.equal(x.deficiencyWh, Math.max(0, x.orderedWh - gain));
      if (offer.baseline.method === 'nomination') assert.equal(x.baselineWh, offer.baseline.wh[i]);
      if (offer.baseline.method === 'mbma') assert.equal(x.baselineWh, meters.reduce((sum, m) => sum + s.readings[m]!.imp[d]![FIRST - 1]! - (s.meters[m]!.exports ? s.readings[m]!.exp[d]![FIRST - 1]! : 0), 0));
    });
    assert.equal(line.deliveredWh, line.isps.reduce((x, i) => x + i.deliveredWh, 0));
    assert.equal(line.deficiencyWh, line.isps.reduce((x, i) => x + i.deficiencyWh, 0));
    assert.equal(line.revenueMicro, costMicro(line.deliveredWh, ordered.priceMicroPerKwh));
    assert.equal(line.penaltyMicro, costMicro(line.deficiencyWh, request.penalty));
    assert.ok(line.reliefMicro >= 0);
    assert.equal(line.netMicro, line.revenueMicro - line.penaltyMicro + line.reliefMicro);
  }
  assert.equal(lines.length, [...state.rows('flex_orders')].reduce((n, o) => n + (o as OrderRow).ordered.length, 0));
  assert.equal(totalMicro, lines.reduce((x, l) => x + l.netMicro, 0));
}

/** Money is conserved: once settled, what the DSO pays is what the providers receive (or pay), provider by provider. */
function checkEarnings(ledger: SqliteLedger, lines: SettlementLine[], totalMicro: number): void {
  const providers = [...new Set(lines.map((l) => l.provider))];
  assert.equal(providers.reduce((x, p) => x + earnings(ledger.state, '2026-03', p).netMicro, 0), totalMicro);
}

/**
 * The baseline uses only data before the event: values from the first ISP on (the event's own
 * and every later interval and day) never change baselineWh; for x-of-y without adjustment
 * and rolling, nothing of the event day does. Checked on the state, rolled back afterwards.
 */
function checkBaselineInputs(ledger: SqliteLedger, lines: SettlementLine[]): void {
  const state = ledger.state;
  const baselines = (ls: SettlementLine[]) => ls.map((l) => l.isps.map((x) => x.baselineWh));
  const before = baselines(lines);
  for (const wholeDay of [false, true]) {
    const mark = state.mark();
    for (const row of [...state.rows('readings')] as ReadingsRow[]) {
      if (row.date < EVENT_DATE) continue;
      const from = row.date === EVENT_DATE && !wholeDay ? FIRST : 0;
      state.put('readings', { ...row, values: row.values.map((v, k) => (k >= from && v !== null ? (v * 7 + 1234) % 4999 : v)) });
    }
    const after = baselines(planFlexSettle(state, '2026-03').lines);
    state.rollback(mark);
    lines.forEach((l, i) => {
      const offer = state.get<OfferRow>('flex_offers', l.offer)!;
      const b = offer.baseline;
      const dayFree = b.method === 'nomination' || b.method === 'rolling' || (b.method === 'x-of-y' && b.adjustIntervals === 0);
      if (!wholeDay || dayFree) assert.deepEqual(after[i], before[i], `${l.offer} (${b.method}): baseline moved when readings ${wholeDay ? 'of the event day' : 'from the first ISP'} on changed`);
    });
  }
  assert.deepEqual(baselines(planFlexSettle(state, '2026-03').lines), before);
}

test('flexibility: random requests, offers, forecasts and limits order and settle within their rules, and replay', { timeout: 120_000 }, async () => {
  let runs = 0;
  await fc.assert(fc.asyncProperty(scenario, async (s) => {
    const built = await build(s).catch((e: Error) => {
      process.stderr.write(`flex property: building: ${e.message}\n`);
      throw e;
    });
    const { ledger, dso, offerIds } = built;
    try {
      checkOrders(s, ledger, offerIds);
      const plan = planFlexSettle(ledger.state, '2026-03');
      checkSettlement(s, ledger, plan.lines, plan.totalMicro);
      const r = await ledger.submit(dso.sign('flex.settle', flexSettleBody(plan)));
      assert.ok(r.ok, r.ok ? '' : String((r as { error: unknown }).error));
      checkEarnings(ledger, plan.lines, plan.totalMicro);
      assert.deepEqual((await verifyLog(ledger, ledger.registry)).problems, []);
      checkBaselineInputs(ledger, plan.lines);
      runs++;
    } catch (e) {
      // fast-check prints the (long) counterexample; say first what broke.
      process.stderr.write(`flex property: ${(e as Error).message}\n`);
      throw e;
    } finally {
      await ledger.close();
    }
  }), { numRuns: Number(process.env.FLEX_RUNS ?? 12), endOnFailure: true });
  assert.equal(runs, Number(process.env.FLEX_RUNS ?? 12));
});
