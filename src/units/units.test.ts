import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  averagePowerToWh, costMicro, dayIntervals, formatDecimal, formatInstant, formatLocal, intervalsInDay, localDateOf, localDay, mulDivRound, parseDecimal,
  parseInstant, parseIntervalStart, splitByWeights,
} from './index.ts';

describe('intervals and local days', () => {
  test('a Paris DST day has 46 or 50 half-hours, 92 or 100 quarter-hours', () => {
    assert.equal(intervalsInDay('2026-03-29', 'Europe/Paris', 30), 46);
    assert.equal(intervalsInDay('2026-10-25', 'Europe/Paris', 30), 50);
    assert.equal(intervalsInDay('2026-03-29', 'Europe/Paris', 15), 92);
    assert.equal(intervalsInDay('2026-10-25', 'Europe/Paris', 60), 25);
    assert.equal(intervalsInDay('2026-06-01', 'Europe/Paris', 30), 48);
  });

  test('the repeated hour of 2026-10-25 appears twice in local time, at two UTC offsets', () => {
    const starts = dayIntervals(localDay('2026-10-25', 'Europe/Paris'), 30);
    assert.equal(formatInstant(starts[0]!), '2026-10-24T22:00:00Z');
    assert.equal(formatLocal(starts[4]!, 'Europe/Paris'), '2026-10-25T02:00:00+02:00');
    assert.equal(formatLocal(starts[6]!, 'Europe/Paris'), '2026-10-25T02:00:00+01:00');
    assert.equal(localDateOf(starts[49]!, 'Europe/Paris'), '2026-10-25');
    assert.equal(localDateOf(starts[49]! + 1_800_000, 'Europe/Paris'), '2026-10-26');
  });

  test('interval starts must be aligned; dates and zones are checked', () => {
    assert.equal(parseIntervalStart('2026-03-29T03:30:00+02:00', 30), Date.UTC(2026, 2, 29, 1, 30));
    assert.throws(() => parseIntervalStart('2026-03-29T03:20:00+02:00', 30), { code: 'E_INTERVAL_ALIGN' });
    assert.throws(() => parseInstant('2026-02-30T00:00:00Z'), { code: 'E_BAD_INSTANT' });
    assert.throws(() => parseInstant('2026-02-01T00:00:00'), { code: 'E_BAD_INSTANT' });
    assert.throws(() => localDay('2026-02-01', 'Mars/Olympus'), { code: 'E_TIME_ZONE' });
    assert.throws(() => localDay('2026-13-01', 'Europe/Paris'), { code: 'E_BAD_DATE' });
  });
});

describe('integer units', () => {
  test('decimals parse exactly and refuse hidden precision', () => {
    assert.equal(parseDecimal('1.234', 3, 'kWh'), 1234);
    assert.equal(parseDecimal('0,5', 3, 'kWh'), 500);
    assert.equal(parseDecimal('-12', 2, 'x'), -1200);
    assert.throws(() => parseDecimal('1.2345', 3, 'kWh'), { code: 'E_TOO_PRECISE', field: 'kWh' });
    assert.equal(parseDecimal('1.2345', 3, 'kWh', 'even'), 1234);
    assert.equal(parseDecimal('1.2355', 3, 'kWh', 'even'), 1236);
    assert.equal(parseDecimal('1.23451', 3, 'kWh', 'even'), 1235);
    assert.throws(() => parseDecimal('1e3', 0, 'x'), { code: 'E_NOT_DECIMAL' });
    assert.equal(formatDecimal(1234, 3), '1.234');
    assert.equal(formatDecimal(-5, 3, ','), '-0,005');
  });

  test('parse and format decimals round-trip', () => {
    fc.assert(fc.property(fc.integer({ min: -1e12, max: 1e12 }), fc.integer({ min: 0, max: 6 }), (v, scale) => {
      assert.equal(parseDecimal(formatDecimal(v, scale), scale, 'v'), v);
    }));
  });

  test('money and power conversions round half to even, exactly', () => {
    assert.equal(costMicro(1500, 180_000), 270_000); // 1.5 kWh at 0.18/kWh
    assert.equal(costMicro(1, 500), 0); // 0.5 micro rounds to even 0
    assert.equal(costMicro(3, 500), 2); // 1.5 rounds to 2
    assert.equal(averagePowerToWh(1200, 30), 600);
    assert.equal(averagePowerToWh(270, 10), 45);
    assert.equal(mulDivRound(-3, 500, 1000), -2);
    assert.equal(mulDivRound(2 ** 52, 3, 4), 3 * 2 ** 50); // goes through BigInt
  });

  test('mulDivRound equals the exact rational rounded half to even', () => {
    fc.assert(fc.property(fc.integer({ min: -1e9, max: 1e9 }), fc.integer({ min: -1e9, max: 1e9 }), fc.integer({ min: 1, max: 1e6 }), (a, b, c) => {
      const p = BigInt(a) * BigInt(b);
      const C = BigInt(c);
      let q = p / C;
      const r = p - q * C;
      const twice = (r < 0n ? -r : r) * 2n;
      if (twice > C || (twice === C && (q < 0n ? -q : q) % 2n === 1n)) q += p < 0n ? -1n : 1n;
      if (Number.isSafeInteger(Number(q))) assert.equal(mulDivRound(a, b, c), Number(q));
      else assert.throws(() => mulDivRound(a, b, c), { code: 'E_OUT_OF_RANGE' });
    }));
  });

  test('largest remainder: parts sum to the total and stay within one of the exact share', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1e12 }), fc.array(fc.integer({ min: 0, max: 1e9 }), { minLength: 1, maxLength: 50 }), (total, weights) => {
      const sum = weights.reduce((a, b) => a + b, 0);
      fc.pre(sum > 0);
      const parts = splitByWeights(total, weights);
      assert.equal(parts.reduce((a, b) => a + b, 0), total);
      parts.forEach((p, i) => {
        const exact = (total * weights[i]!) / sum;
        assert.ok(Number.isInteger(p) && p >= Math.floor(exact) - 1e-6 * exact && p <= Math.ceil(exact) + 1e-6 * exact, `part ${i}`);
        if (weights[i] === 0) assert.equal(p, 0);
      });
    }));
    assert.deepEqual(splitByWeights(10, [1, 1, 1]), [4, 3, 3]);
    assert.deepEqual(splitByWeights(100, [1, 2, 3]), [17, 33, 50]);
    assert.throws(() => splitByWeights(5, [0, 0]), { code: 'E_NO_WEIGHT' });
  });
});
