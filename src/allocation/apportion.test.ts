import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { apportion, ApportionScratch } from './apportion.ts';

// The definition itself: hand out units one by one to the highest w/(a+1) under its cap, ties to the lower index.
function reference(total: number, w: number[], caps: number[] | null): number[] {
  const a = w.map(() => 0);
  for (let u = 0; u < total; u++) {
    let best = -1;
    for (let i = 0; i < w.length; i++) {
      if (w[i]! <= 0 || (caps && a[i]! >= caps[i]!)) continue;
      if (best < 0 || w[i]! * (a[best]! + 1) > w[best]! * (a[i]! + 1)) best = i;
    }
    a[best]!++;
  }
  return a;
}

function run(total: number, w: number[], caps: number[] | null): number[] {
  const out = new Float64Array(w.length);
  const members = Int32Array.from(w.keys());
  apportion(total, Float64Array.from(w), caps && Float64Array.from(caps), members, w.length, out, new ApportionScratch());
  return [...out];
}

const weights = fc.array(fc.integer({ min: 0, max: 60 }), { minLength: 1, maxLength: 12 }).filter((w) => w.some((x) => x > 0));

describe('apportion (D\'Hondt with caps)', () => {
  test('equals handing out units one by one, with and without caps', () => {
    fc.assert(fc.property(weights, fc.nat(), (w, seed) => {
      const total = seed % 200;
      assert.deepEqual(run(total, w, null), reference(total, w, null));
      const capSum = w.reduce((s, x) => s + x, 0);
      assert.deepEqual(run(Math.min(total, capSum), w, w), reference(Math.min(total, capSum), w, w));
    }), { numRuns: 500 });
  });

  test('sums exactly, respects caps, gives at least the floor of the exact share, and is monotone in the total', () => {
    fc.assert(fc.property(weights, fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 12, maxLength: 12 }), fc.nat(), (w, capList, seed) => {
      const caps = w.map((x, i) => (x > 0 ? capList[i]! : 0));
      const capSum = caps.reduce((s, x) => s + x, 0);
      fc.pre(capSum > 0);
      const total = seed % (capSum + 1);
      const a = run(total, w, caps);
      const b = total < capSum ? run(total + 1, w, caps) : a;
      assert.equal(a.reduce((s, x) => s + x, 0), total);
      a.forEach((x, i) => {
        assert.ok(x <= caps[i]!, 'cap');
        assert.ok(b[i]! >= x, 'monotone');
      });
      const free = run(total, w, null);
      const W = w.reduce((s, x) => s + x, 0);
      free.forEach((x, i) => assert.ok(x >= Math.floor((total * w[i]!) / W), 'lower quota'));
    }), { numRuns: 500 });
  });

  test('the O(n) selection path gives exactly what the heap gives, on large member sets', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 64, maxLength: 400 }), fc.nat(), fc.boolean(), (w, seed, capped) => {
      fc.pre(w.some((x) => x > 0));
      const n = w.length;
      const members = Int32Array.from(w.keys());
      const caps = capped ? Float64Array.from(w, (x) => x) : null;
      const capSum = w.reduce((s, x) => s + x, 0);
      const total = seed % (caps ? capSum + 1 : 5 * capSum + 1);
      const fast = new Float64Array(n);
      apportion(total, Float64Array.from(w), caps, members, n, fast, new ApportionScratch());
      // Compared with the unit-by-unit definition itself.
      assert.deepEqual([...fast], reference(total, w, caps && w));
    }), { numRuns: 60 });
  });

  test('the sampled selection gives exactly the definition, on member sets of thousands, ties and caps included', () => {
    // The definition, unit by unit, with a max-heap of exact priorities (fast enough for thousands).
    const byUnits = (total: number, w: number[], caps: number[] | null): number[] => {
      const a = w.map(() => 0);
      const before = (i: number, j: number) => w[i]! * (a[j]! + 1) > w[j]! * (a[i]! + 1) || (w[i]! * (a[j]! + 1) === w[j]! * (a[i]! + 1) && i < j);
      const heap = [...w.keys()].filter((i) => w[i]! > 0 && (!caps || caps[i]! > 0));
      const down = (k: number) => {
        for (;;) {
          const l = 2 * k + 1;
          const r = l + 1;
          let c = k;
          if (l < heap.length && before(heap[l]!, heap[c]!)) c = l;
          if (r < heap.length && before(heap[r]!, heap[c]!)) c = r;
          if (c === k) return;
          [heap[c], heap[k]] = [heap[k]!, heap[c]!];
          k = c;
        }
      };
      for (let k = (heap.length >> 1) - 1; k >= 0; k--) down(k);
      for (let u = 0; u < total; u++) {
        const i = heap[0]!;
        a[i]!++;
        if (caps && a[i]! >= caps[i]!) heap[0] = heap.pop()!;
        if (heap.length > 0 && heap[0] !== undefined) down(0);
      }
      return a;
    };
    fc.assert(fc.property(fc.integer({ min: 4096, max: 6000 }), fc.integer({ min: 1, max: 3000 }), fc.nat(), fc.boolean(), fc.integer({ min: 1, max: 40 }), (n, top, seed, capped, perMember) => {
      let s = seed;
      const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
      const w = Array.from({ length: n }, () => Math.floor(rand() * (top + 1)));
      fc.pre(w.some((x) => x > 0));
      const caps = capped ? w.map((x) => Math.floor(x / 2) + (x > 0 ? 1 : 0)) : null;
      const capSum = caps ? caps.reduce((t, x) => t + x, 0) : Infinity;
      const total = Math.min(capSum, Math.floor(rand() * n * perMember));
      assert.deepEqual(run(total, w, caps), byUnits(total, w, caps));
    }), { numRuns: 40 });
  });

  test('hand-computed cases', () => {
    assert.deepEqual(run(10, [1, 1, 1], null), [4, 3, 3]);
    assert.deepEqual(run(100, [50, 30, 20], null), [50, 30, 20]);
    // Member 0 can only use 2: the 8 others are shared 1:1 by the rest.
    assert.deepEqual(run(10, [2, 1, 1], [2, 100, 100]), [2, 4, 4]);
    assert.deepEqual(run(0, [1, 2], null), [0, 0]);
  });
});
