import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { signer, smallCommunity, tempDb } from '../../test/support/community.ts';
import { verifyLog } from '../audit/verify.ts';
import { createRegistry } from '../registry.ts';
import { settleMonth } from '../settlement/invoice.ts';
import { Registry } from '../state/registry.ts';
import { SqliteLedger, type SubmitResult } from '../store/sqlite-ledger.ts';
import { costMicro, parseInstant } from '../units/index.ts';
import fc from 'fast-check';
import { canonicalJson } from '../ledger/index.ts';
import { clearAt, tradeRecordJson } from './book.ts';
import { marketClear } from './market-clear.ts';

const ALICE = '30001234567890';
const BOB = '30009876543210';
const CAROL = '30005555555555';
/** 2026-02-02 11:00 in Paris. */
const I = '2026-02-02T10:00:00Z';
const START = parseInstant(I);
const BEFORE = '2026-02-02T08:00:00Z';
const AFTER = '2026-02-02T09:30:00Z';

function ok(r: SubmitResult): number {
  if (!r.ok) throw r.error;
  return r.entry;
}

/** The small community plus carol's solar export on another feeder, a market and the DSO's fees. */
async function market(mode: 'ex-ante' | 'ex-post' = 'ex-ante', mechanism = 'uniform') {
  const c = await smallCommunity(tempDb());
  const carol = signer('carol');
  for (const r of await c.ledger.submitMany([
    c.operator.sign('participant.register', { key: carol.actor, roles: ['member'] }),
    c.dso.sign('feeder.define', { id: 'feeder-b', parent: 'substation-1' }),
    c.dso.sign('meter.register', { meter: CAROL, scheme: 'PRM', direction: 'export', owner: carol.actor, feeder: 'feeder-b', technology: 'solar' }),
    c.operator.sign('market.configure', { from: '2026-01-31T23:00:00Z', mode, mechanism, gateClosureMinutes: 60, feedInMicroPerKwh: 60_000, retailMicroPerKwh: 200_000 }),
    c.dso.sign('tariff.set', { from: '2026-01-31T23:00:00Z', feesMicroPerKwh: { local: 0, feeder: 10_000, substation: 20_000, beyond: 40_000 } }),
  ])) ok(r);
  return { ...c, carol };
}

/** The DSO's readings of 2026-02-02: alice exports 800 and imports 100, bob imports 2000, carol exports 600 (at 11:00 local). */
async function meterTheDay(c: Awaited<ReturnType<typeof market>>) {
  for (const r of await c.ledger.submitMany([
    c.dso.sign('meter.readings', { meter: ALICE, direction: 'export', date: '2026-02-02', values: day(800) }),
    c.dso.sign('meter.readings', { meter: ALICE, direction: 'import', date: '2026-02-02', values: day(100) }),
    c.dso.sign('meter.readings', { meter: BOB, direction: 'import', date: '2026-02-02', values: day(2000) }),
    c.dso.sign('meter.readings', { meter: CAROL, direction: 'export', date: '2026-02-02', values: day(600) }),
  ])) ok(r);
}

/** Readings of 2026-02-02 (48 half-hours) with one value at 11:00 local (index 22) and zeros elsewhere. */
function day(value: number): number[] {
  return Array.from({ length: 48 }, (_, k) => (k === 22 ? value : 0));
}

test('trade records: the fast canonical form equals RFC 8785 canonicalJson', () => {
  const int = fc.oneof(fc.integer(), fc.maxSafeInteger(), fc.constant(-0), fc.double({ noNaN: true, noDefaultInfinity: true }));
  fc.assert(fc.property(fc.record({ buy: fc.string(), sell: fc.string({ unit: 'grapheme' }), buyer: fc.string(), seller: fc.string(), wh: int, price: int, sellerPrice: int, fee: int, amount: int, proceeds: int, feeAmount: int }), (r) => {
    assert.equal(tradeRecordJson(r), canonicalJson(r));
  }), { numRuns: 500 });
});

describe('market: orders, clearing and settlement in the log', () => {
  test('orders outside the rules are refused with the field named, and nothing is appended', async () => {
    const c = await market();
    const size = c.ledger.size;
    const refused = async (tx: Parameters<SqliteLedger['submit']>[0], code: string, field: string) => {
      const r = await c.ledger.submit(tx);
      assert.equal(r.ok, false);
      if (!r.ok) {
        assert.equal(r.error.code, code, r.error.message);
        assert.equal(r.error.field, field);
      }
    };
    const order = { side: 'buy', interval: I, quantityWh: 1000, limitMicroPerKwh: 150_000, meter: BOB };
    await refused(c.bob.sign('order.place', { ...order, limitMicroPerKwh: 250_000 }, BEFORE), 'E_ORDER_PRICE', 'body.limitMicroPerKwh');
    await refused(c.bob.sign('order.place', { ...order, limitMicroPerKwh: 50_000 }, BEFORE), 'E_ORDER_PRICE', 'body.limitMicroPerKwh');
    await refused(c.bob.sign('order.place', { ...order, quantityWh: 0 }, BEFORE), 'E_TX_BODY', 'body.quantityWh');
    await refused(c.bob.sign('order.place', order, AFTER), 'E_GATE_CLOSED', 'body.interval');
    await refused(c.bob.sign('order.place', order, '2026-02-02T11:00:00Z'), 'E_ORDER_PAST', 'body.interval');
    await refused(c.bob.sign('order.place', { ...order, interval: '2026-02-02T10:10:00Z' }, BEFORE), 'E_INTERVAL_ALIGN', 'body.interval');
    await refused(c.bob.sign('order.place', { ...order, side: 'sell' }, BEFORE), 'E_UNKNOWN_METER', 'body.meter');
    await refused(c.alice.sign('order.place', order, BEFORE), 'E_METER_OWNER', 'body.meter');
    await refused(c.bob.sign('order.place', { ...order, interval: '2026-01-15T10:00:00Z' }, '2026-01-14T00:00:00Z'), 'E_NO_MARKET', 'body.interval');
    await refused(c.carol.sign('order.place', { side: 'sell', interval: I, quantityWh: 10, limitMicroPerKwh: 70_000, meter: CAROL, conditions: { renewableOnly: true } }, BEFORE), 'E_ORDER_CONDITIONS', 'body.conditions.renewableOnly');
    await refused(c.dso.sign('tariff.set', { from: I, feesMicroPerKwh: { local: 5, feeder: 1, substation: 2, beyond: 3 } }), 'E_TARIFF_ORDER', 'body.feesMicroPerKwh.feeder');
    assert.equal(c.ledger.size, size);
    await c.ledger.close();
  });

  test('ex-ante uniform auction with path fees, recorded and recomputed; invoices rest on metered values and balance exactly', async () => {
    const c = await market();
    ok(await c.ledger.submit(c.alice.sign('order.place', { side: 'sell', interval: I, quantityWh: 1000, limitMicroPerKwh: 80_000, meter: ALICE }, BEFORE)));
    ok(await c.ledger.submit(c.carol.sign('order.place', { side: 'sell', interval: I, quantityWh: 1000, limitMicroPerKwh: 75_000, meter: CAROL }, BEFORE)));
    const bobOrder = ok(await c.ledger.submit(c.bob.sign('order.place', { side: 'buy', interval: I, quantityWh: 1500, limitMicroPerKwh: 180_000, meter: BOB }, BEFORE)));
    // A cancelled order leaves the book.
    const extra = ok(await c.ledger.submit(c.bob.sign('order.place', { side: 'buy', interval: I, quantityWh: 700, limitMicroPerKwh: 190_000, meter: BOB }, BEFORE)));
    ok(await c.ledger.submit(c.bob.sign('order.cancel', { order: `o${extra}` }, BEFORE)));
    const cancelAgain = await c.ledger.submit(c.bob.sign('order.cancel', { order: `o${extra}` }, BEFORE));
    assert.equal(!cancelAgain.ok && cancelAgain.error.code, 'E_ORDER_STATUS');

    const { body, records } = clearAt(c.ledger.state, START);
    // Alice is on bob's feeder (fee 10,000: 90,000 in all), carol under the same substation (20,000: 95,000 in all).
    assert.deepEqual(records.map((t) => [t.sell, t.wh, t.fee]), [['o' + (bobOrder - 2), 1000, 10_000], ['o' + (bobOrder - 1), 500, 20_000]]);
    assert.equal(body.path, 'flow');
    // Uniform price between the highest matched ask (alice, 80,000) and the lowest matched bid net of fee (180,000 - 20,000).
    assert.equal(body.priceMicroPerKwh, 80_000 + Math.floor((160_000 - 80_000) / 2));
    const early = await c.ledger.submit(c.operator.sign('market.clear', body, '2026-02-02T08:30:00Z'));
    assert.equal(!early.ok && early.error.code, 'E_GATE_OPEN');
    const forged = await c.ledger.submit(c.operator.sign('market.clear', { ...body, feesMicro: body.feesMicro - 1 }, AFTER));
    assert.equal(!forged.ok && forged.error.code, 'E_CLEARING_MISMATCH');
    assert.equal(!forged.ok && forged.error.field, 'body.feesMicro');
    ok(await c.ledger.submit(c.operator.sign('market.clear', body, AFTER)));
    const twice = await c.ledger.submit(c.operator.sign('market.clear', body, AFTER));
    assert.equal(!twice.ok && twice.error.code, 'E_BOOK_CLEARED');

    // Metered: alice exports 800 (200 short), carol 600 (100 beyond her sales), bob imports 2000, alice 100.
    await meterTheDay(c);
    const s = settleMonth(c.ledger.state, '2026-02');
    const inv = (who: { actor: string }) => s.invoices.find((i) => i.participant === who.actor)!;
    const line = (who: { actor: string }, kind: string) => inv(who).lines.filter((l) => l.kind === kind);
    const p = body.priceMicroPerKwh!;
    assert.deepEqual(line(c.bob, 'peer-purchase').map((l) => [l.wh, l.amountMicro]), [[1500, costMicro(1000, p) + costMicro(500, p)]]);
    assert.deepEqual(line(c.bob, 'supplier-purchase').map((l) => [l.wh, l.priceMicroPerKwh]), [[500, 200_000]]);
    assert.deepEqual(line(c.alice, 'supplier-purchase').map((l) => [l.wh, l.amountMicro]), [[300, costMicro(300, 200_000)]], 'her 100 Wh import and her 200 Wh shortfall');
    assert.deepEqual(line(c.carol, 'grid-sale').map((l) => [l.wh, l.amountMicro]), [[100, costMicro(100, 60_000)]]);
    assert.equal(inv(c.bob).missingIntervals, 27 * 48, 'February in Paris less the day read');
    const t = s.totals;
    assert.equal(t.chargesMicro - t.creditsMicro, t.feesMicro + t.surplusMicro + t.supplierMicro - t.gridMicro, 'members pay exactly fees, surplus and supplier net of grid');
    assert.equal(t.peerPaidMicro, t.peerProceedsMicro + t.surplusMicro);
    assert.ok(inv(c.bob).savingsMicro > 0);

    const report = await verifyLog(c.ledger, c.ledger.registry);
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    await c.ledger.close();
  });

  test('ex-post matching: metered values at standing prices, capped by the standing quantity; waits for every reading', async () => {
    const c = await market('ex-post', 'midpoint');
    ok(await c.ledger.submit(c.alice.sign('order.standing', { side: 'sell', meter: ALICE, fromDate: '2026-02-01', toDate: '2026-02-28', quantityWh: null, limitMicroPerKwh: 75_000 })));
    ok(await c.ledger.submit(c.bob.sign('order.standing', { side: 'buy', meter: BOB, fromDate: '2026-02-01', toDate: '2026-02-28', window: { start: '10:00', end: '16:00' }, quantityWh: 300, limitMicroPerKwh: 150_000 })));
    const placed = await c.ledger.submit(c.bob.sign('order.place', { side: 'buy', interval: I, quantityWh: 10, limitMicroPerKwh: 150_000, meter: BOB }, BEFORE));
    assert.equal(!placed.ok && placed.error.code, 'E_MARKET_MODE');
    ok(await c.ledger.submit(c.dso.sign('meter.readings', { meter: ALICE, direction: 'export', date: '2026-02-02', values: day(800) })));
    assert.throws(() => clearAt(c.ledger.state, START), { code: 'E_READINGS_MISSING' });
    for (const r of await c.ledger.submitMany([
      c.dso.sign('meter.readings', { meter: ALICE, direction: 'import', date: '2026-02-02', values: day(100) }),
      c.dso.sign('meter.readings', { meter: BOB, direction: 'import', date: '2026-02-02', values: day(2000) }),
      c.dso.sign('meter.readings', { meter: CAROL, direction: 'export', date: '2026-02-02', values: day(600) }),
    ])) ok(r);
    const { body, records, book } = clearAt(c.ledger.state, START);
    assert.deepEqual(book.orders.map((o) => [o.id, o.side, o.quantityWh, o.limitMicroPerKwh]).sort(), [
      [`${ALICE}/export`, 'sell', 800, 75_000], [`${ALICE}/import`, 'buy', 100, 200_000], [`${BOB}/import`, 'buy', 300, 150_000], [`${CAROL}/export`, 'sell', 600, 60_000],
    ].sort());
    assert.equal(body.volumeWh, 400);
    // Per kWh, carol to alice gains 200,000 - 60,000 - 20,000 = 120,000 against 115,000 for alice's own export on
    // her feeder, and carol to bob 70,000 against 65,000: carol's 600 Wh serve both, alice's export goes to the grid.
    assert.deepEqual(records.map((t) => [t.buyer, t.seller, t.wh, t.fee]), [[ALICE, CAROL, 100, 20_000], [BOB, CAROL, 300, 20_000]]);
    ok(await c.ledger.submit(c.operator.sign('market.clear', body, AFTER)));
    // Outside bob's window (08:00 local) his standing order does not apply: his whole import bids at retail.
    const morning = clearAt(c.ledger.state, parseInstant('2026-02-02T07:00:00Z'));
    assert.equal(morning.book.orders.length, 0, 'all metered values are zero at 08:00');
    const s = settleMonth(c.ledger.state, '2026-02');
    for (const inv of s.invoices) assert.ok(inv.lines.every((l) => l.kind !== 'grid-sale' || l.wh >= 0));
    const report = await verifyLog(c.ledger, c.ledger.registry);
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    await c.ledger.close();
  });

  test('a clearing computed before the book changed is recomputed on apply and refused, never reused', async () => {
    const c = await market('ex-post', 'uniform');
    await meterTheDay(c);
    const stale = clearAt(c.ledger.state, START).body;
    // The DSO corrects carol's export after the operator computed the clearing, before it is appended.
    ok(await c.ledger.submit(c.dso.sign('meter.correct', { meter: CAROL, direction: 'export', date: '2026-02-02', values: day(100), reason: 'transmission-error' })));
    const r = await c.ledger.submit(c.operator.sign('market.clear', stale, AFTER));
    assert.equal(!r.ok && r.error.code, 'E_CLEARING_MISMATCH');
    // Computed again from the corrected book, it is accepted; other clearings and nonces in between do not matter.
    const fresh = clearAt(c.ledger.state, START).body;
    const other = clearAt(c.ledger.state, START + 30 * 60_000).body;
    ok(await c.ledger.submit(c.operator.sign('market.clear', other, AFTER)));
    ok(await c.ledger.submit(c.operator.sign('market.clear', fresh, AFTER)));
    assert.equal((await verifyLog(c.ledger, c.ledger.registry)).ok, true);
    await c.ledger.close();
  });

  test('a feeder limit from the DSO binds: carol cannot export, and verify recomputes the limited clearing', async () => {
    const c = await market();
    ok(await c.ledger.submit(c.dso.sign('feeder.limit', { feeder: 'feeder-b', from: I, to: '2026-02-02T10:30:00Z', importLimitW: null, exportLimitW: 400 })));
    ok(await c.ledger.submit(c.carol.sign('order.place', { side: 'sell', interval: I, quantityWh: 1000, limitMicroPerKwh: 60_000, meter: CAROL }, BEFORE)));
    ok(await c.ledger.submit(c.bob.sign('order.place', { side: 'buy', interval: I, quantityWh: 1500, limitMicroPerKwh: 180_000, meter: BOB }, BEFORE)));
    const { body } = clearAt(c.ledger.state, START);
    assert.equal(body.volumeWh, 200, '400 W for half an hour');
    ok(await c.ledger.submit(c.operator.sign('market.clear', body, AFTER)));
    const late = await c.ledger.submit(c.dso.sign('feeder.limit', { feeder: 'feeder-b', from: I, to: '2026-02-02T11:00:00Z', importLimitW: null, exportLimitW: 0 }));
    assert.equal(!late.ok && late.error.code, 'E_RULE_RETROACTIVE');
    await c.ledger.close();

    // An operator whose software skipped the recomputation records a clearing that ignores the limit: verify names it.
    const d = await market();
    ok(await d.ledger.submit(d.dso.sign('feeder.limit', { feeder: 'feeder-b', from: I, to: '2026-02-02T10:30:00Z', importLimitW: null, exportLimitW: 400 })));
    ok(await d.ledger.submit(d.carol.sign('order.place', { side: 'sell', interval: I, quantityWh: 1000, limitMicroPerKwh: 60_000, meter: CAROL }, BEFORE)));
    ok(await d.ledger.submit(d.bob.sign('order.place', { side: 'buy', interval: I, quantityWh: 1500, limitMicroPerKwh: 180_000, meter: BOB }, BEFORE)));
    const honest = clearAt(d.ledger.state, START).body;
    await d.ledger.close();
    const lax = new Registry(createRegistry().tables, createRegistry().list().map((t) => (t.type === 'market.clear' ? { ...marketClear, apply: () => {} } : t)));
    const forgedLedger = SqliteLedger.open(d.path, { registry: lax });
    const entry = ok(await forgedLedger.submit(d.operator.sign('market.clear', { ...honest, volumeWh: 1000 }, AFTER)));
    await forgedLedger.close();
    const check = SqliteLedger.open(d.path);
    const report = await verifyLog(check, check.registry);
    assert.equal(report.ok, false);
    assert.equal(report.problems[0]!.entry, entry);
    assert.match(report.problems[0]!.message, /volumeWh differs from the recomputation/);
    await check.close();
  });
});
