import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { meanTradePrice } from './kpis.ts';

const trade = fc.record({ quantityWh: fc.integer({ min: 1, max: 1_000_000 }), buyerPriceMicroPerKwh: fc.integer({ min: 0, max: 1_000_000 }) });

describe('meanTradePrice', () => {
  test('no trades, no price', () => {
    assert.equal(meanTradePrice([]), null);
  });

  test('weighted by volume: 1 kWh at 0.10 and 3 kWh at 0.20 make 0.175', () => {
    assert.equal(meanTradePrice([{ quantityWh: 1_000, buyerPriceMicroPerKwh: 100_000 }, { quantityWh: 3_000, buyerPriceMicroPerKwh: 200_000 }]), 175_000);
  });

  test('an integer between the lowest and the highest price; a single price where every trade has it', () => {
    fc.assert(fc.property(fc.array(trade, { minLength: 1, maxLength: 50 }), (trades) => {
      const mean = meanTradePrice(trades)!;
      const prices = trades.map((t) => t.buyerPriceMicroPerKwh);
      assert.ok(Number.isInteger(mean));
      assert.ok(mean >= Math.min(...prices) && mean <= Math.max(...prices), `${mean} within ${prices}`);
      assert.equal(meanTradePrice(trades.map((t) => ({ ...t, buyerPriceMicroPerKwh: prices[0]! }))), prices[0]);
    }));
  });
});
