import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { costMicro } from '../units/index.ts';
import { type BookClearing, clearBook, eligible, MECHANISMS } from './clear-book.ts';
import { flowMatch } from './flow.ts';
import { Flows, type FeeSchedule, Network, type NetworkNode, NO_FEES } from './network.ts';
import type { Conditions, Match, Order } from './order.ts';

/** Two substations; A feeds F1 (with connection point C1) and F2, B feeds F3. */
const TREE: NetworkNode[] = [
  { id: 'A', parent: null, importLimitWh: null, exportLimitWh: null },
  { id: 'F1', parent: 'A', importLimitWh: null, exportLimitWh: null },
  { id: 'C1', parent: 'F1', importLimitWh: null, exportLimitWh: null },
  { id: 'F2', parent: 'A', importLimitWh: null, exportLimitWh: null },
  { id: 'B', parent: null, importLimitWh: null, exportLimitWh: null },
  { id: 'F3', parent: 'B', importLimitWh: null, exportLimitWh: null },
];
const FEES: FeeSchedule = { local: 1_000, feeder: 5_000, substation: 20_000, beyond: 50_000 };

let seq = 0;
function order(id: string, side: 'buy' | 'sell', q: number, p: number, node: number, extra: { renewable?: boolean; conditions?: Conditions } = {}): Order {
  return { id, side, quantityWh: q, limitMicroPerKwh: p, seq: seq++, node, ...extra };
}

describe('network-aware clearing, hand-computed', () => {
  const net = new Network(TREE, FEES);
  const [F1, C1, F2, F3] = [net.node('F1'), net.node('C1'), net.node('F2'), net.node('F3')];

  test('path classes follow the lowest common ancestor: connection point, feeder, substation, beyond', () => {
    assert.equal(net.pathClass(C1, C1), 'local');
    assert.equal(net.pathClass(C1, F1), 'feeder');
    assert.equal(net.pathClass(C1, F2), 'substation');
    assert.equal(net.pathClass(F2, F3), 'beyond');
    assert.equal(net.pathClass(0, F3), 'beyond');
    assert.throws(() => new Network(TREE, { ...FEES, feeder: 0 }), { code: 'E_TARIFF_ORDER' });
  });

  test('the buyer pays the fee of its path; a nearer seller wins when the fee difference outweighs the price', () => {
    // Sellers rest first, so the continuous book sees the same choice as the auctions.
    const orders = [order('far', 'sell', 100, 100_000, F3), order('near', 'sell', 100, 120_000, F1), order('b', 'buy', 100, 200_000, F1)];
    for (const mechanism of MECHANISMS) {
      const c = clearBook(orders, net, mechanism);
      assert.equal(c.trades[0]!.sellId, 'near', mechanism);
      assert.equal(c.trades[0]!.feeMicroPerKwh, 5_000, mechanism);
      assert.ok(c.trades[0]!.buyerPriceMicroPerKwh + 5_000 <= 200_000);
    }
    const uniform = clearBook(orders, net, 'uniform');
    assert.equal(uniform.path, 'flow');
    assert.equal(uniform.priceMicroPerKwh, 120_000 + Math.floor((195_000 - 120_000) / 2));
    assert.equal(uniform.feesMicro, costMicro(100, uniform.priceMicroPerKwh! + 5_000) - costMicro(100, uniform.priceMicroPerKwh!));
  });

  test('a binding export limit caps what leaves a feeder; welfare is maximised under it', () => {
    const limited = new Network(TREE.map((x) => (x.id === 'F1' ? { ...x, exportLimitWh: 50 } : x)));
    const orders = [order('s1', 'sell', 100, 100_000, F1), order('b2', 'buy', 100, 300_000, F2), order('b1', 'buy', 30, 150_000, F1)];
    const c = clearBook(orders, limited, 'uniform');
    assert.equal(c.path, 'flow');
    const to = (id: string) => c.trades.filter((t) => t.buyId === id).reduce((s, t) => s + t.quantityWh, 0);
    assert.equal(to('b2'), 50);
    assert.equal(to('b1'), 30);
    const without = clearBook(orders, new Network(TREE), 'uniform');
    assert.equal(without.path, 'fast');
    assert.equal(without.volumeWh, 100);
  });

  test('conditions: renewable only, same feeder, maximum fee', () => {
    const orders = [
      order('b', 'buy', 100, 300_000, F1, { conditions: { renewableOnly: true } }),
      order('gas', 'sell', 100, 50_000, F1, { renewable: false }),
      order('pv', 'sell', 60, 100_000, F2, { renewable: true }),
    ];
    const c = clearBook(orders, net, 'midpoint');
    assert.equal(c.path, 'walk');
    assert.deepEqual(c.trades.map((t) => [t.sellId, t.quantityWh]), [['pv', 60]]);
    const sameFeeder = clearBook([order('b', 'buy', 100, 300_000, C1, { conditions: { within: 'feeder' } }), order('x', 'sell', 100, 1, F2)], net, 'uniform');
    assert.equal(sameFeeder.volumeWh, 0);
    const cheapPath = clearBook([order('b', 'buy', 100, 300_000, C1, { conditions: { maxFeeMicroPerKwh: 5_000 } }), order('x', 'sell', 100, 1, F1)], net, 'uniform');
    assert.equal(cheapPath.volumeWh, 100);
  });

  test('continuous book on the network: resting price, net of the fee for a resting bid', () => {
    const c = clearBook([order('b', 'buy', 10, 200_000, F1), order('s', 'sell', 10, 100_000, F2)], net, 'continuous');
    assert.equal(c.path, 'sequential');
    assert.equal(c.trades[0]!.buyerPriceMicroPerKwh, 200_000 - 20_000);
    assert.equal(c.trades[0]!.feeMicroPerKwh, 20_000);
  });

  test('empty book, one side only, no crossing', () => {
    for (const mechanism of MECHANISMS) {
      assert.equal(clearBook([], net, mechanism).volumeWh, 0);
      assert.equal(clearBook([order('b', 'buy', 10, 1, F1)], net, mechanism).volumeWh, 0);
      assert.equal(clearBook([order('b', 'buy', 10, 10_000, F1), order('s', 'sell', 10, 9_000, F1)], net, mechanism).volumeWh, 0, 'the fee eats the spread');
    }
  });
});

// ---------------------------------------------------------------- properties

const limitArb = fc.option(fc.integer({ min: 0, max: 60 }), { nil: null });
const networkArb = fc.record({
  limits: fc.array(fc.tuple(limitArb, limitArb), { minLength: TREE.length, maxLength: TREE.length }),
  fees: fc.array(fc.integer({ min: 0, max: 30_000 }), { minLength: 4, maxLength: 4 }).map((xs) => xs.sort((a, b) => a - b)),
  flat: fc.boolean(),
}).map(({ limits, fees, flat }) => new Network(
  TREE.map((x, k) => ({ ...x, importLimitWh: limits[k]![0], exportLimitWh: limits[k]![1] })),
  flat ? NO_FEES : { local: fees[0]!, feeder: fees[1]!, substation: fees[2]!, beyond: fees[3]! },
));
const conditionsArb = fc.option(fc.record({
  within: fc.option(fc.constantFrom('local' as const, 'feeder' as const, 'substation' as const), { nil: undefined }),
  renewableOnly: fc.option(fc.boolean(), { nil: undefined }),
  maxFeeMicroPerKwh: fc.option(fc.integer({ min: 0, max: 30_000 }), { nil: undefined }),
}, { requiredKeys: [] }), { nil: undefined });
const booksArb = (maxQ: number, maxLength: number, withConditions: boolean) => fc.array(fc.record({
  buy: fc.boolean(), q: fc.integer({ min: 1, max: maxQ }), p: fc.integer({ min: 50_000, max: 300_000 }), node: fc.integer({ min: 0, max: TREE.length }),
  renewable: fc.boolean(), conditions: withConditions ? conditionsArb : fc.constant(undefined),
}), { maxLength }).map((xs) => xs.map((x, i): Order => ({
  id: `o${i}`, side: x.buy ? 'buy' : 'sell', quantityWh: x.q, limitMicroPerKwh: x.p, seq: i, node: x.node, renewable: x.renewable, ...(x.conditions ? { conditions: x.conditions } : {}),
})));

function checkClearing(c: BookClearing, orders: readonly Order[], net: Network): void {
  const byId = new Map(orders.map((o) => [o.id, o]));
  const filled = new Map<string, number>();
  const flows = new Flows(net);
  let paid = 0;
  let received = 0;
  let fees = 0;
  for (const t of c.trades) {
    const bid = byId.get(t.buyId)!;
    const ask = byId.get(t.sellId)!;
    const cls = net.pathClass(ask.node!, bid.node!);
    assert.ok(t.quantityWh > 0);
    assert.equal(t.feeMicroPerKwh, net.fees[cls], 'the fee is the tariff of the path');
    assert.ok(t.buyerPriceMicroPerKwh + t.feeMicroPerKwh <= bid.limitMicroPerKwh, `${c.mechanism}: buyer pays at most its limit including the fee`);
    assert.ok(t.amountMicro + t.feeAmountMicro <= costMicro(t.quantityWh, bid.limitMicroPerKwh));
    assert.ok(t.sellerPriceMicroPerKwh >= ask.limitMicroPerKwh, `${c.mechanism}: seller gets at least its ask`);
    assert.ok(t.proceedsMicro >= costMicro(t.quantityWh, ask.limitMicroPerKwh));
    assert.ok(eligible(bid, ask, cls, t.feeMicroPerKwh), 'conditions hold');
    filled.set(t.buyId, (filled.get(t.buyId) ?? 0) + t.quantityWh);
    filled.set(t.sellId, (filled.get(t.sellId) ?? 0) + t.quantityWh);
    flows.add(ask.node!, bid.node!, t.quantityWh);
    paid += t.amountMicro + t.feeAmountMicro;
    received += t.proceedsMicro;
    fees += t.feeAmountMicro;
  }
  for (const [id, q] of filled) assert.ok(q <= byId.get(id)!.quantityWh, `${id} trades no more than it offered`);
  assert.equal(flows.violation(), undefined, 'feeder limits hold');
  assert.equal(fees, c.feesMicro);
  assert.equal(paid, received + c.feesMicro + c.surplusMicro, 'payments = proceeds + fees + surplus');
  assert.ok(c.surplusMicro >= 0);
}

function welfare(matches: readonly Match[]): number {
  return matches.reduce((s, m) => s + m.quantityWh * (m.bid.limitMicroPerKwh - m.ask.limitMicroPerKwh - (m.fee ?? 0)), 0);
}

/** Best welfare by brute force over every integer allocation between bids and asks. */
function bruteForceWelfare(orders: readonly Order[], net: Network): number {
  const bids = orders.filter((o) => o.side === 'buy');
  const asks = orders.filter((o) => o.side === 'sell');
  const pairs = bids.flatMap((b) => asks.map((a) => ({ b, a, gain: b.limitMicroPerKwh - a.limitMicroPerKwh - net.fee(a.node!, b.node!) })));
  const x = new Array<number>(pairs.length).fill(0);
  let best = 0;
  const visit = (k: number) => {
    if (k === pairs.length) {
      const used = new Map<string, number>();
      const flows = new Flows(net);
      let w = 0;
      pairs.forEach((p, i) => {
        if (x[i] === 0) return;
        used.set(p.b.id, (used.get(p.b.id) ?? 0) + x[i]!);
        used.set(p.a.id, (used.get(p.a.id) ?? 0) + x[i]!);
        flows.add(p.a.node!, p.b.node!, x[i]!);
        w += x[i]! * p.gain;
      });
      if (w > best && [...used].every(([id, q]) => q <= orders.find((o) => o.id === id)!.quantityWh) && !flows.violation()) best = w;
      return;
    }
    const p = pairs[k]!;
    for (let v = 0; v <= (p.gain >= 0 ? Math.min(p.a.quantityWh, p.b.quantityWh) : 0); v++) {
      x[k] = v;
      visit(k + 1);
    }
    x[k] = 0;
  };
  visit(0);
  return best;
}

describe('network-aware clearing, properties', () => {
  test('every mechanism on every path: rational with fees, budget balanced, within offers, limits and conditions', () => {
    fc.assert(fc.property(networkArb, booksArb(60, 14, true), (net, orders) => {
      for (const mechanism of MECHANISMS) checkClearing(clearBook(orders, net, mechanism), orders, net);
    }), { numRuns: 300 });
  });

  test('the min-cost flow reaches the best welfare under fees and limits (brute force on small books)', () => {
    const small = booksArb(3, 5, false).filter((os) => os.filter((o) => o.side === 'buy').length <= 3 && os.filter((o) => o.side === 'sell').length <= 3);
    fc.assert(fc.property(networkArb, small, (net, orders) => {
      assert.equal(welfare(flowMatch(orders, net)), bruteForceWelfare(orders, net));
    }), { numRuns: 200 });
  });

  test('with one fee everywhere and no limits, the flow and the sorted walk agree on welfare and volume', () => {
    fc.assert(fc.property(booksArb(40, 20, false), fc.integer({ min: 0, max: 20_000 }), (orders, fee) => {
      const net = new Network(TREE, { local: fee, feeder: fee, substation: fee, beyond: fee });
      const fast = clearBook(orders, net, 'uniform');
      assert.equal(fast.path, 'fast');
      const flow = flowMatch(orders, net);
      assert.equal(flow.reduce((s, m) => s + m.quantityWh, 0), fast.volumeWh);
    }), { numRuns: 200 });
  });
});
