import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { clearContinuous, clearMcAfee, clearMidpointPairs, clearUniform } from './mechanisms.ts';
import { type Clearing, clearing, type Order, sortBook, trade, walkCurves } from './order.ts';

let seq = 0;
const buy = (id: string, q: number, p: number): Order => ({ id, side: 'buy', quantityWh: q, limitMicroPerKwh: p, seq: seq++ });
const sell = (id: string, q: number, p: number): Order => ({ id, side: 'sell', quantityWh: q, limitMicroPerKwh: p, seq: seq++ });
const pairs = (c: Clearing) => c.trades.map((t) => [t.buyId, t.sellId, t.quantityWh, t.buyerPriceMicroPerKwh]);

describe('market mechanisms, hand-computed', () => {
  const book = [buy('b1', 100, 200_000), buy('b2', 100, 150_000), sell('s1', 100, 100_000), sell('s2', 100, 180_000)];

  test('uniform price: welfare-maximising volume at the midpoint of the marginal pair (or a k rule)', () => {
    const c = clearUniform(book);
    assert.deepEqual(pairs(c), [['b1', 's1', 100, 150_000]]);
    assert.equal(c.priceMicroPerKwh, 150_000);
    assert.equal(c.trades[0]!.amountMicro, 15_000); // 0.1 kWh at 0.15
    assert.equal(clearUniform(book, 0).priceMicroPerKwh, 100_000);
    assert.equal(clearUniform(book, 1_000_000).priceMicroPerKwh, 200_000);
    assert.throws(() => clearUniform(book, 2_000_000), { code: 'E_PRICE_RULE' });
  });

  test('empty sides, a single order, zero crossing and all orders at one price behave', () => {
    assert.deepEqual(clearUniform([]), { trades: [], feesMicro: 0, priceMicroPerKwh: null, volumeWh: 0, surplusMicro: 0 });
    assert.equal(clearUniform([buy('b', 10, 1)]).volumeWh, 0);
    assert.equal(clearUniform([buy('b', 10, 100), sell('s', 10, 101)]).volumeWh, 0);
    const same = clearUniform([buy('b1', 10, 100), buy('b2', 10, 100), sell('s1', 15, 100)]);
    assert.deepEqual(pairs(same), [['b1', 's1', 10, 100], ['b2', 's1', 5, 100]]);
    assert.equal(clearMcAfee([buy('b', 10, 100)]).volumeWh, 0);
    assert.equal(clearContinuous([sell('s', 10, 100)]).resting.length, 1);
  });

  test('ties go to the earlier order', () => {
    const late: Order = { id: 'late', side: 'sell', quantityWh: 10, limitMicroPerKwh: 100, seq: 5 };
    const early: Order = { id: 'early', side: 'sell', quantityWh: 10, limitMicroPerKwh: 100, seq: 1 };
    const b: Order = { id: 'b', side: 'buy', quantityWh: 10, limitMicroPerKwh: 200, seq: 9 };
    assert.equal(clearUniform([late, b, early]).trades[0]!.sellId, 'early');
    assert.equal(clearContinuous([late, early, b]).trades[0]!.sellId, 'early');
  });

  test('Walenstadt pairing: each pair at the midpoint of its own prices', () => {
    const c = clearMidpointPairs([buy('b1', 50, 300), buy('b2', 50, 200), sell('s1', 50, 100), sell('s2', 50, 150)]);
    assert.deepEqual(pairs(c), [['b1', 's1', 50, 200], ['b2', 's2', 50, 175]]);
  });

  test('McAfee: all trade at p0 when it fits, else the marginal Wh is dropped and the market keeps the difference', () => {
    const fits = clearMcAfee([buy('b1', 10, 300), buy('b2', 10, 100), sell('s1', 10, 50), sell('s2', 10, 250)]);
    assert.equal(fits.priceMicroPerKwh, 175); // (b2 100 + s2 250) / 2 lies in [50, 300]
    assert.equal(fits.volumeWh, 10);
    const reduced = clearMcAfee([buy('b1', 10, 300), sell('s1', 10, 50)]);
    assert.equal(reduced.volumeWh, 9);
    assert.deepEqual([reduced.trades[0]!.buyerPriceMicroPerKwh, reduced.trades[0]!.sellerPriceMicroPerKwh], [300, 50]);
    assert.ok(reduced.surplusMicro >= 0);
  });

  test('continuous book: price-time priority at the resting order\'s price', () => {
    const c = clearContinuous([sell('s1', 10, 100), sell('s2', 10, 90), buy('b1', 15, 120), buy('b2', 10, 95)]);
    assert.deepEqual(pairs(c), [['b1', 's2', 10, 90], ['b1', 's1', 5, 100]]);
    assert.deepEqual(c.resting.map((o) => [o.id, o.quantityWh]), [['b2', 10], ['s1', 5]]);
  });
});

const orderArb = fc.record({ buy: fc.boolean(), q: fc.integer({ min: 1, max: 40 }), p: fc.integer({ min: 50_000, max: 300_000 }) });
const books = fc.array(orderArb, { maxLength: 14 }).map((xs) => xs.map((x, i): Order => ({ id: `o${i}`, side: x.buy ? 'buy' : 'sell', quantityWh: x.q, limitMicroPerKwh: x.p, seq: i })));

/** The welfare-maximising volume, unit by unit: the largest Q whose Q-th Wh is bid at least as high as it is asked. */
function efficientVolume(orders: Order[]): number {
  const units = (side: 'buy' | 'sell') => orders.filter((o) => o.side === side).flatMap((o) => Array(o.quantityWh).fill(o.limitMicroPerKwh) as number[]);
  const b = units('buy').sort((x, y) => y - x);
  const s = units('sell').sort((x, y) => x - y);
  let q = 0;
  while (q < b.length && q < s.length && b[q]! >= s[q]!) q++;
  return q;
}

describe('market mechanisms, properties', () => {
  const mechanisms = { uniform: clearUniform, midpoint: clearMidpointPairs, mcafee: clearMcAfee, continuous: clearContinuous };

  test('individually rational, budget balanced, feasible, for every mechanism', () => {
    fc.assert(fc.property(books, (orders) => {
      const byId = new Map(orders.map((o) => [o.id, o]));
      for (const [name, clear] of Object.entries(mechanisms)) {
        const c = clear(orders);
        const filled = new Map<string, number>();
        let paid = 0;
        let received = 0;
        for (const t of c.trades) {
          assert.ok(t.buyerPriceMicroPerKwh <= byId.get(t.buyId)!.limitMicroPerKwh, `${name}: buyer pays at most its limit`);
          assert.ok(t.sellerPriceMicroPerKwh >= byId.get(t.sellId)!.limitMicroPerKwh, `${name}: seller gets at least its ask`);
          assert.ok(t.quantityWh > 0);
          filled.set(t.buyId, (filled.get(t.buyId) ?? 0) + t.quantityWh);
          filled.set(t.sellId, (filled.get(t.sellId) ?? 0) + t.quantityWh);
          paid += t.amountMicro;
          received += t.proceedsMicro;
        }
        for (const [id, q] of filled) assert.ok(q <= byId.get(id)!.quantityWh, `${name}: ${id} trades no more than it offered`);
        assert.equal(paid, received + c.surplusMicro, `${name}: payments = receipts + what the market keeps`);
        assert.ok(c.surplusMicro >= 0);
        if (name !== 'mcafee') assert.equal(c.surplusMicro, 0, `${name}: strictly budget balanced`);
      }
    }), { numRuns: 400 });
  });

  test('the uniform auction trades the welfare-maximising volume; McAfee at most one Wh less', () => {
    fc.assert(fc.property(books, (orders) => {
      const q = efficientVolume(orders);
      assert.equal(clearUniform(orders).volumeWh, q);
      assert.equal(clearMidpointPairs(orders).volumeWh, q);
      assert.ok([q, Math.max(0, q - 1)].includes(clearMcAfee(orders).volumeWh));
    }), { numRuns: 400 });
  });

  // Books as the radix sort sees them: unsorted times, equal prices and times, empty orders,
  // and prices spread over one 16-bit digit or across two, up to the top of the keyed range.
  const wideBooks = fc.tuple(fc.constantFrom(100, 70_000, 2 ** 30 - 1), fc.array(fc.record({
    side: fc.constantFrom('buy', 'sell'), q: fc.integer({ min: 0, max: 3000 }), p: fc.nat(), seq: fc.integer({ min: 0, max: 40 }),
  }), { maxLength: 400 })).map(([span, rows]) => rows.map((r, k): Order => ({ id: `o${k}`, side: r.side as Order['side'], quantityWh: r.q, limitMicroPerKwh: 2 ** 30 - 1 - (r.p % (span + 1)), seq: r.seq })));

  test('sortBook\'s radix sort gives the comparator\'s order: price, then time, then id', () => {
    fc.assert(fc.property(wideBooks, (orders) => {
      const tie = (a: Order, b: Order) => a.seq - b.seq || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
      const live = orders.filter((o) => o.quantityWh > 0);
      const bids = live.filter((o) => o.side === 'buy').sort((a, b) => b.limitMicroPerKwh - a.limitMicroPerKwh || tie(a, b));
      const asks = live.filter((o) => o.side === 'sell').sort((a, b) => a.limitMicroPerKwh - b.limitMicroPerKwh || tie(a, b));
      const sorted = sortBook(orders);
      assert.deepEqual(sorted.bids.map((o) => o.id), bids.map((o) => o.id));
      assert.deepEqual(sorted.asks.map((o) => o.id), asks.map((o) => o.id));
    }), { numRuns: 300 });
  });

  // Spans of every number of radix passes and digit widths: none (one price), 1 bit, 11 bits
  // (one pass of the widest digit), 12 bits (two of 6), 16, 17 and 30 bits (three of 10).
  test('sortBook on books of thousands (the radix sort\'s size) gives the comparator\'s order', () => {
    fc.assert(fc.property(fc.integer({ min: 2048, max: 9000 }), fc.constantFrom(0, 1, 1000, 2047, 2048, 65_535, 70_000, 2 ** 30 - 1), fc.nat(), (n, span, seed) => {
      let s = seed;
      const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
      const orders = Array.from({ length: n }, (_, k): Order => ({
        id: `o${k}`, side: rand() < 0.5 ? 'buy' : 'sell', quantityWh: rand() < 0.05 ? 0 : 1 + Math.floor(rand() * 3000),
        limitMicroPerKwh: 2 ** 30 - 1 - Math.floor(rand() * (span + 1)), seq: Math.floor(rand() * n),
      }));
      const tie = (a: Order, b: Order) => a.seq - b.seq || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
      const live = orders.filter((o) => o.quantityWh > 0);
      const sorted = sortBook(orders);
      assert.deepEqual(sorted.bids.map((o) => o.id), live.filter((o) => o.side === 'buy').sort((a, b) => b.limitMicroPerKwh - a.limitMicroPerKwh || tie(a, b)).map((o) => o.id));
      assert.deepEqual(sorted.asks.map((o) => o.id), live.filter((o) => o.side === 'sell').sort((a, b) => a.limitMicroPerKwh - b.limitMicroPerKwh || tie(a, b)).map((o) => o.id));
    }), { numRuns: 60 });
  });

  test('the uniform auction on the sorted ranks is the walk of the sorted curves, trade for trade', () => {
    fc.assert(fc.property(fc.oneof(books, wideBooks), fc.integer({ min: 0, max: 1_000_000 }), (orders, k) => {
      const { bids, asks } = sortBook(orders);
      const matches = walkCurves(bids, asks);
      const last = matches[matches.length - 1];
      const price = last && last.ask.limitMicroPerKwh + Math.floor(((last.bid.limitMicroPerKwh - last.ask.limitMicroPerKwh) * k) / 1_000_000);
      const expected = last ? clearing(matches.map((m) => trade(m, price!)), price!) : clearing([], null);
      assert.deepEqual(clearUniform(orders, k), expected);
    }), { numRuns: 300 });
  });
});
