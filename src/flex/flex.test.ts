import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { verifyLog } from '../audit/verify.ts';
import { ALICE, BOB, CAROL, congestedCommunity, day, EVENT_START, flexCommunity, ok, refused } from '../../test/support/flex.ts';
import { planFlexOrder } from './order.ts';
import { flexSettleBody, planFlexSettle, usefIsp } from './settle.ts';
import { settleMonth } from '../settlement/invoice.ts';
import { costMicro } from '../units/index.ts';

const EUR = 1_000_000;
const zeros = () => Array.from({ length: 48 }, () => 0);

describe('USEF settlement', () => {
  it('gives the settle-phase table: baseline 10, 2 ordered, price 7, penalty 11', () => {
    // settle-phase.md: A = 7, 8, 9, 10, 11 -> 14, 14, -4, -22, -33 (here kWh and EUR per kWh).
    const rows = [7, 8, 9, 10, 11].map((a) => {
      const { deliveredWh, deficiencyWh } = usefIsp(10_000, 2_000, a * 1000, true);
      return { a, deliveredWh, deficiencyWh, net: costMicro(deliveredWh, 7 * EUR) - costMicro(deficiencyWh, 11 * EUR) };
    });
    assert.deepEqual(rows.map((r) => r.net / EUR), [14, 14, -4, -22, -33]);
    assert.deepEqual(rows.map((r) => r.deliveredWh), [2000, 2000, 1000, 0, 0]);
    assert.deepEqual(rows.map((r) => r.deficiencyWh), [0, 0, 1000, 2000, 3000]);
    // More consumption (reduce export): the same table with the signs turned.
    assert.deepEqual([13, 12, 11, 10, 9].map((a) => usefIsp(10_000, 2_000, a * 1000, false).deficiencyWh), [0, 0, 1000, 2000, 3000]);
  });

  it('settles an order on the log from DSO readings, and verify recomputes it', async () => {
    const c = await flexCommunity();
    const { ledger, dso, alice, operator, at } = c;
    at('2026-03-09T08:00:00Z');
    await ok(ledger, operator.sign('flex.configure', { doubleCharging: 'refund', networkFeeMicroPerKwh: 40_000 }));
    await ok(ledger, operator.sign('market.configure', { from: '2026-03-01T00:00:00Z', mode: 'ex-ante', mechanism: 'uniform', gateClosureMinutes: 60, feedInMicroPerKwh: 60_000, retailMicroPerKwh: 250_000 }));
    await ok(ledger, dso.sign('flex.request', {
      request: 'R1', feeder: 'feeder-a', direction: 'reduce-import', start: EVENT_START, isps: Array.from({ length: 5 }, () => ({ minW: -4000, maxW: -4000 })),
      maxPriceMicroPerKwh: 7 * EUR, penaltyMicroPerKwh: 11 * EUR, expires: '2026-03-10T12:00:00Z', forecast: [{ feeder: 'feeder-a', W: Array(5).fill(24_000) }],
    }));
    await ok(ledger, alice.sign('flex.offer', {
      offer: 'O1', request: 'R1', feeder: 'feeder-a', start: EVENT_START, assets: ['alice-battery'], powerW: Array(5).fill(-4000), priceMicroPerKwh: 7 * EUR,
      baseline: { method: 'nomination', wh: Array(5).fill(10_000) }, validUntil: '2026-03-10T16:00:00Z',
    }));
    at('2026-03-10T13:00:00Z');
    const body = planFlexOrder(ledger.state, 'R1', 'F1', Date.parse('2026-03-10T13:00:00Z'));
    assert.deepEqual(body.ordered.map((o) => [o.offer, o.factorPct, o.powerW]), [['O1', 100, Array(5).fill(-4000)]]);
    assert.equal(body.costMicro, 70 * EUR);
    await ok(ledger, dso.sign('flex.order', body));
    const actual = zeros();
    [7, 8, 9, 10, 11].forEach((kwh, i) => { actual[36 + i] = kwh * 1000; });
    await ok(ledger, dso.sign('meter.readings', { meter: ALICE, direction: 'import', date: '2026-03-10', values: actual }));
    await ok(ledger, dso.sign('meter.readings', { meter: ALICE, direction: 'export', date: '2026-03-10', values: zeros() }));
    at('2026-04-01T00:00:00Z');
    const settled = planFlexSettle(ledger.state, '2026-03');
    const line = settled.lines[0]!;
    assert.deepEqual(line.isps.map((x) => x.deliveredWh), [2000, 2000, 1000, 0, 0]);
    assert.deepEqual(line.isps.map((x) => costMicro(x.deliveredWh, 7 * EUR) - costMicro(x.deficiencyWh, 11 * EUR)), [14, 14, -4, -22, -33].map((e) => e * EUR));
    assert.equal(line.revenueMicro, 35 * EUR);
    assert.equal(line.penaltyMicro, 66 * EUR);
    // The battery delivered 5 kWh: the 0.04 EUR/kWh network fee on it is refunded.
    assert.equal(line.reliefMicro, 200_000);
    assert.equal(line.netMicro, -31 * EUR + 200_000);
    assert.equal(settled.totalMicro, line.netMicro);
    const signed = flexSettleBody(settled);
    const lying = await refused(ledger, dso.sign('flex.settle', { ...signed, revenueMicro: signed.revenueMicro + 1 }));
    assert.deepEqual([lying.code, lying.field], ['E_FLEX_SETTLE_MISMATCH', 'body.revenueMicro']);
    await ok(ledger, dso.sign('flex.settle', signed));
    assert.equal((await refused(ledger, dso.sign('flex.settle', signed))).code, 'E_FLEX_SETTLED');
    // Alice's invoice carries the flexibility lines; the DSO's total is what providers get.
    const month = settleMonth(ledger.state, '2026-03');
    const invoice = month.invoices.find((i) => i.participant === alice.actor)!;
    const lines = Object.fromEntries(invoice.lines.filter((l) => l.kind.startsWith('flex-')).map((l) => [l.kind, [l.wh, l.amountMicro, l.credit]]));
    assert.deepEqual(lines, { 'flex-revenue': [5000, 35 * EUR, true], 'flex-fee-relief': [5000, 200_000, true], 'flex-penalty': [6000, 66 * EUR, false] });
    assert.equal(month.totals.flexMicro, line.netMicro);
    assert.deepEqual((await verifyLog(ledger, ledger.registry)).problems, []);
  });
});

describe('flex.order', () => {
  const congested = () => congestedCommunity();

  it('takes offers in merit order, skips one that breaks another feeder, and records why', async () => {
    const { ledger, dso } = await congested();
    const body = planFlexOrder(ledger.state, 'R2', 'F2', Date.parse('2026-03-10T13:00:00Z'));
    assert.deepEqual(body.merit.map((m) => [m.offer, m.decision, m.factorPct, m.feeder, m.interval]), [
      ['hp', 'violation', 0, 'feeder-b', '2026-03-10T18:00:00Z'],
      ['ev', 'selected', 100, null, null],
      ['bat', 'selected', 60, null, null],
      ['dear', 'above-max-price', 0, null, null],
    ]);
    assert.deepEqual(body.ordered.map((o) => o.powerW), [[-7000, -7000], [-3000, -3000]]);
    // 7 kWh at 0.10 + 3 kWh at 0.15
    assert.equal(body.costMicro, 700_000 + 450_000);
    await ok(ledger, dso.sign('flex.order', body));
    assert.equal(ledger.state.get<{ status: string }>('flex_requests', 'R2')!.status, 'ordered');
    assert.equal(ledger.state.get<{ status: string }>('flex_offers', 'hp')!.status, 'not-selected');
    assert.deepEqual((await verifyLog(ledger, ledger.registry)).problems, []);
  });

  it('refuses an order that would create a violation, naming the feeder and interval', async () => {
    const { ledger, dso } = await congested();
    const body = planFlexOrder(ledger.state, 'R2', 'F2', Date.parse('2026-03-10T13:00:00Z'));
    const forced = { ...body, ordered: [{ offer: 'hp', provider: 'x', factorPct: 100, priceMicroPerKwh: 50_000, powerW: [-3000, -3000], reboundW: [3000, 3000] }, ...body.ordered] };
    const e = await refused(ledger, dso.sign('flex.order', forced));
    assert.equal(e.code, 'E_FLEX_VIOLATION');
    assert.match(e.message, /feeder feeder-b in the interval starting 2026-03-10T18:00:00Z/);
    const cheaper = await refused(ledger, dso.sign('flex.order', { ...body, costMicro: body.costMicro - 1 }));
    assert.equal(cheaper.code, 'E_FLEX_ORDER_MISMATCH');
    assert.equal(cheaper.field, 'body.costMicro');
  });

  it('enforces gates at the operator\'s time and who may offer what', async () => {
    const { ledger, dso, bob, carol, aggregator, at } = await congested();
    const offer = { offer: 'late', request: 'R2', feeder: 'substation-1', start: EVENT_START, assets: ['bob-ev'], powerW: [-1000, -1000], priceMicroPerKwh: 1, baseline: { method: 'mbma' }, validUntil: '2026-03-10T16:00:00Z' };
    // After the gate (12:00Z), even when the member backdates issuedAt: the operator's clock decides at admission.
    const backdated = aggregator.sign('flex.offer', offer, '2026-03-10T11:59:00Z');
    const r = await ledger.submit(backdated, { now: Date.parse('2026-03-10T13:00:00Z') });
    assert.equal(r.ok ? '' : (r.error as unknown as { code: string }).code, 'E_FLEX_GATE');
    at('2026-03-10T11:00:00Z');
    assert.equal((await refused(ledger, bob.sign('flex.offer', { ...offer, offer: 'mine' }))).code, 'E_ASSET_NOT_YOURS');
    assert.equal((await refused(ledger, carol.sign('flex.offer', { ...offer, offer: 'far', request: null, feeder: 'feeder-a', assets: ['carol-hp'] }))).code, 'E_FLEX_LOCATION');
    assert.equal((await refused(ledger, aggregator.sign('flex.offer', { ...offer, offer: 'big', powerW: [-8000, -8000] }))).field, 'body.powerW.0');
    assert.equal((await refused(ledger, aggregator.sign('flex.offer', { ...offer, offer: 'up', powerW: [1000, 1000] }))).code, 'E_FLEX_DIRECTION');
    // bob's meter is already in offer "ev": a second live offer on it would be paid twice for one reduction.
    const twice = await refused(ledger, aggregator.sign('flex.offer', { ...offer, offer: 'twice' }));
    assert.equal(twice.code, 'E_FLEX_METER_OFFERED');
    assert.match(twice.message, /meter 30002222222222 is already in offer ev/);
    at('2026-03-10T17:30:00Z');
    const late = planFlexOrder(ledger.state, 'R2', 'F3', Date.parse('2026-03-10T17:30:00Z'));
    assert.equal((await refused(ledger, dso.sign('flex.order', late))).code, 'E_FLEX_GATE');
  });

  it('refuses to settle without metered values, naming the meter and interval', async () => {
    const { ledger, dso, at } = await congested();
    await ok(ledger, dso.sign('flex.order', planFlexOrder(ledger.state, 'R2', 'F2', Date.parse('2026-03-10T13:00:00Z'))));
    for (const m of [BOB, CAROL]) await ok(ledger, dso.sign('meter.readings', { meter: m, direction: 'import', date: '2026-03-10', values: day(500, 2000) }));
    at('2026-04-01T00:00:00Z');
    assert.throws(() => planFlexSettle(ledger.state, '2026-03'), (e: Error & { code?: string }) => e.code === 'E_FLEX_READINGS' && /30001111111111/.test(e.message));
  });
});
