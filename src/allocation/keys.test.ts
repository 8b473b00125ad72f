import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { allocate, type AllocationKey, PPM } from './keys.ts';

/** one interval: production P and consumptions C (null = missing) */
function one(P: number, C: (number | null)[], key: AllocationKey) {
  const r = allocate({ intervals: 1, members: C.length, production: Float64Array.of(P), consumption: Float64Array.from(C.map((c) => c ?? NaN)) }, key);
  return { a: [...r.allocation], s: r.surplus[0], ms: r.memberSurplus && [...r.memberSurplus], missing: r.missingConsumption };
}

describe('allocation keys, hand-computed', () => {
  test('pro rata of consumption (the default)', () => {
    // 300 Wh for consumptions of 100, 200 and 300: half of each; 1000 Wh covers everyone, 400 Wh left.
    assert.deepEqual(one(300, [100, 200, 300], { kind: 'prorata' }), { a: [50, 100, 150], s: 0, ms: undefined, missing: 0 });
    assert.deepEqual(one(1000, [100, 200, 300], { kind: 'prorata' }).a, [100, 200, 300]);
    assert.equal(one(1000, [100, 200, 300], { kind: 'prorata' }).s, 400);
    // 10 Wh over three equal members: 4, 3, 3 (ties to the lower index).
    assert.deepEqual(one(10, [50, 50, 50], { kind: 'prorata' }).a, [4, 3, 3]);
  });

  test('static: unused shares become surplus', () => {
    const key: AllocationKey = { kind: 'static', sharesPpm: [500_000, 300_000, 200_000] };
    assert.deepEqual(one(1000, [100, 1000, 1000], key), { a: [100, 300, 200], s: 400, ms: undefined, missing: 0 });
    // Shares summing below 100 %: the rest is surplus.
    assert.deepEqual(one(1000, [1000, 1000], { kind: 'static', sharesPpm: [250_000, 250_000] }).a, [250, 250]);
  });

  test('redistribution: what one cannot use goes to the others by share', () => {
    const key: AllocationKey = { kind: 'redistribute', sharesPpm: [500_000, 300_000, 200_000] };
    // Member 0 uses 100 of its 500; the other 900 are split 3:2 (540, 360). Next, member 1 is capped at 500.
    assert.deepEqual(one(1000, [100, 1000, 1000], key).a, [100, 540, 360]);
    assert.deepEqual(one(1000, [100, 500, 1000], key).a, [100, 500, 400]);
    assert.equal(one(1000, [100, 200, 300], key).s, 400);
  });

  test('full dynamic: shares per interval', () => {
    const r = allocate({ intervals: 2, members: 2, production: Float64Array.of(100, 100), consumption: Float64Array.of(80, 80, 80, 80) },
      { kind: 'full-dynamic', sharesPpm: Float64Array.of(1_000_000, 0, 250_000, 750_000) });
    assert.deepEqual([...r.allocation], [80, 0, 25, 75]);
    assert.deepEqual([...r.surplus], [20, 0]);
  });

  test('priority cascade: the first group is served first, pro rata inside', () => {
    const key: AllocationKey = { kind: 'cascade', groups: [1, 0, 0, 1] };
    assert.deepEqual(one(500, [100, 200, 200, 300], key).a, [25, 200, 200, 75]);
    assert.deepEqual(one(300, [100, 200, 200, 300], key).a, [0, 150, 150, 0]);
  });

  test('Spain: beta_i G, self-consumed min(beta_i G, C_i), the rest is the member\'s surplus', () => {
    const r = one(1000, [100, 1000], { kind: 'spain', betasPpm: [400_000, 600_000] });
    assert.deepEqual(r.a, [100, 600]);
    assert.deepEqual(r.ms, [300, 0]);
    assert.equal(r.s, 300);
    assert.throws(() => one(1000, [1, 1], { kind: 'spain', betasPpm: [400_000, 500_000] }), { code: 'E_KEY_SHARES' });
  });

  test('missing consumption gets nothing and is counted; missing production allocates nothing', () => {
    assert.deepEqual(one(300, [100, null, 300], { kind: 'prorata' }), { a: [75, 0, 225], s: 0, ms: undefined, missing: 1 });
    const r = allocate({ intervals: 1, members: 1, production: Float64Array.of(NaN), consumption: Float64Array.of(10) }, { kind: 'prorata' });
    assert.equal(r.missingProduction, 1);
    assert.deepEqual([...r.allocation], [0]);
  });
});

const period = fc.record({
  intervals: fc.integer({ min: 1, max: 6 }),
  members: fc.integer({ min: 1, max: 8 }),
  seed: fc.array(fc.integer({ min: -50, max: 5000 }), { minLength: 60, maxLength: 60 }),
});

function build({ intervals, members, seed }: { intervals: number; members: number; seed: number[] }) {
  const v = (k: number) => seed[k % seed.length]!;
  const production = Float64Array.from({ length: intervals }, (_, t) => Math.max(0, v(t * 7 + 3)));
  // A negative draw becomes a missing reading.
  const consumption = Float64Array.from({ length: intervals * members }, (_, k) => (v(k * 3 + 1) < 0 ? NaN : v(k * 3 + 1)));
  const shares = Array.from({ length: members }, (_, i) => Math.floor(PPM / members) - (i % 2));
  return { intervals, members, production, consumption, shares };
}

function keysFor(p: ReturnType<typeof build>): AllocationKey[] {
  const betas = [...p.shares];
  betas[0]! += PPM - betas.reduce((s, x) => s + x, 0);
  return [
    { kind: 'prorata' },
    { kind: 'static', sharesPpm: p.shares },
    { kind: 'redistribute', sharesPpm: p.shares },
    { kind: 'full-dynamic', sharesPpm: Float64Array.from({ length: p.intervals * p.members }, (_, k) => p.shares[k % p.members]!) },
    { kind: 'cascade', groups: p.shares.map((_, i) => i % 3) },
    { kind: 'spain', betasPpm: betas },
  ];
}

describe('allocation keys, properties', () => {
  test('every key conserves energy exactly and never allocates more than consumption', () => {
    fc.assert(fc.property(period, (spec) => {
      const p = build(spec);
      for (const key of keysFor(p)) {
        const r = allocate(p, key);
        for (let t = 0; t < p.intervals; t++) {
          let sum = 0;
          for (let i = 0; i < p.members; i++) {
            const a = r.allocation[t * p.members + i]!;
            const c = p.consumption[t * p.members + i]!;
            assert.ok(Number.isInteger(a) && a >= 0, `${key.kind}: integer, non-negative`);
            assert.ok(Number.isNaN(c) ? a === 0 : a <= c, `${key.kind}: capped at consumption`);
            sum += a;
          }
          assert.equal(sum + r.surplus[t]!, p.production[t], `${key.kind}: conservation in interval ${t}`);
          assert.ok(r.surplus[t]! >= 0);
        }
      }
    }), { numRuns: 300 });
  });

  test('more production never lowers anyone\'s allocation under the default key (nor under redistribution)', () => {
    fc.assert(fc.property(period, fc.integer({ min: 1, max: 3000 }), (spec, extra) => {
      const p = build(spec);
      const more = { ...p, production: p.production.map((x) => x + extra) };
      for (const key of [{ kind: 'prorata' }, { kind: 'redistribute', sharesPpm: p.shares }] as AllocationKey[]) {
        const a = allocate(p, key).allocation;
        const b = allocate(more, key).allocation;
        a.forEach((x, k) => assert.ok(b[k]! >= x, `${key.kind}: member-interval ${k}`));
      }
    }), { numRuns: 300 });
  });

  test('pro rata stays within one Wh of the exact share when production is short', () => {
    fc.assert(fc.property(period, (spec) => {
      const p = build(spec);
      const r = allocate(p, { kind: 'prorata' });
      for (let t = 0; t < p.intervals; t++) {
        let sumC = 0;
        for (let i = 0; i < p.members; i++) sumC += Number.isNaN(p.consumption[t * p.members + i]!) ? 0 : p.consumption[t * p.members + i]!;
        if (sumC <= p.production[t]!) continue;
        for (let i = 0; i < p.members; i++) {
          const c = p.consumption[t * p.members + i]!;
          if (Number.isNaN(c)) continue;
          const exact = (p.production[t]! * c) / sumC;
          assert.ok(r.allocation[t * p.members + i]! >= Math.floor(exact), 'lower quota');
        }
      }
    }), { numRuns: 300 });
  });

  test('pro rata over thousands of members is the one-group cascade, unit for unit (the dense path against the general one)', () => {
    fc.assert(fc.property(fc.integer({ min: 4096, max: 7000 }), fc.integer({ min: 1, max: 4 }), fc.nat(), fc.integer({ min: 1, max: 900 }), (m, T, seed, top) => {
      let s = seed;
      const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
      const consumption = Float64Array.from({ length: T * m }, () => (rand() < 0.02 ? NaN : Math.floor(rand() * (top + 1))));
      const production = Float64Array.from({ length: T }, (_, t) => {
        let sum = 0;
        for (let i = 0; i < m; i++) sum += Number.isNaN(consumption[t * m + i]!) ? 0 : consumption[t * m + i]!;
        return t === 1 && rand() < 0.3 ? NaN : Math.floor(sum * rand() * 1.2);
      });
      const input = { intervals: T, members: m, production, consumption };
      const dense = allocate(input, { kind: 'prorata' });
      const general = allocate(input, { kind: 'cascade', groups: Array.from({ length: m }, () => 0) });
      assert.deepEqual(dense, general);
      // Written into an array used before (here: the other result's), the same.
      assert.deepEqual(allocate(input, { kind: 'prorata' }, general.allocation), dense);
    }), { numRuns: 25 });
  });
});
