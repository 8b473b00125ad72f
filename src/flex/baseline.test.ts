import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { addDays, dayIntervals, localDateOf, localDay, localMinuteOfDay, parseInstant } from '../units/index.ts';
import { baselineProblem, computeBaseline, roundDiv, type BaselineInput } from './baseline.ts';
import type { BaselineSpec } from './tables.ts';

const PARIS = 'Europe/Paris';
type Values = (number | null)[];

/** A day's values built from the local wall-clock minute of each interval (dayIntervals order). */
function dayOf(date: string, zone: string, minutes: 15 | 30 | 60, at: (minute: number, index: number) => number | null): Values {
  return dayIntervals(localDay(date, zone), minutes as 15 | 30 | 60).map((t, i) => at(localMinuteOfDay(t, zone), i));
}

function startsOf(local: string, count: number, minutes: number): number[] {
  const t = parseInstant(local);
  return Array.from({ length: count }, (_, i) => t + i * minutes * 60_000);
}

function input(zone: string, minutes: number, data: Map<string, Values>, eventStarts: number[], eventDays: string[] = [], lookbackDays?: number): BaselineInput {
  return { timeZone: zone, intervalMinutes: minutes, netOf: (date) => data.get(date), eventStarts, eventDays: new Set(eventDays), ...(lookbackDays === undefined ? {} : { lookbackDays }) };
}

// ---------------------------------------------------------------------------------------
// The hand-worked series: Europe/Paris, 15-minute intervals, February 2026 (CET, UTC+1).
// Event: Wednesday 2026-02-25, 18:00–19:00 local (4 ISPs), so the window is 18:00, 18:15,
// 18:30, 18:45 and the adjustment intervals (k = 2) are 17:30 and 17:45.
// Every interval outside the ones listed holds 100 Wh.
//
//   date          type    window [18:00,18:15,18:30,18:45]  total  17:30,17:45
//   2026-02-24 Tue        100 110 120 130                   460
//   2026-02-23 Mon        200 210 220 230                   860    190 195
//   2026-02-22 Sun        9000 x4 (weekend: skipped)
//   2026-02-21 Sat        9000 x4 (weekend: skipped)
//   2026-02-20 Fri        160 170 180 190                   700    150 155
//   2026-02-19 Thu        5000 x4 (an event day: skipped)
//   2026-02-18 Wed        300 300 300 300                  1200    280 290
//   2026-02-17 Tue        8000 null 8000 8000 (a missing value: skipped)
//   2026-02-16 Mon         50  60  70  80                   260
//   2026-02-15/14         9000 x4 (weekend)
//   2026-02-13 Fri        400 101 100 103                   704    (100 100)
//   2026-02-12 Thu        120 120 120 120                   480
//   2026-02-11 Wed        250 250 250 250                  1000    240 245
//   2026-02-10 Tue         90  90  90  90                   360
//   2026-02-09 Mon        175 175 175 175                   700
//   2026-02-06 and before 7000 x4 (beyond the 10 most recent eligible weekdays)
//   2026-02-25 (event)    17:30 = 300, 17:45 = 312; 18:00 onwards 60000 (activation)
//
// The 10 eligible weekdays, ranked by total (ties: the more recent first):
//   02-18 (1200), 02-11 (1000), 02-23 (860), 02-13 (704), 02-20 (700), 02-09 (700),
//   02-12 (480), 02-24 (460), 02-10 (360), 02-16 (260)
// ---------------------------------------------------------------------------------------
const WINDOW = [1080, 1095, 1110, 1125];
const PRE = [1050, 1065];
const HAND: Record<string, { w: (number | null)[]; pre?: number[] }> = {
  '2026-02-24': { w: [100, 110, 120, 130] },
  '2026-02-23': { w: [200, 210, 220, 230], pre: [190, 195] },
  '2026-02-22': { w: [9000, 9000, 9000, 9000] },
  '2026-02-21': { w: [9000, 9000, 9000, 9000] },
  '2026-02-20': { w: [160, 170, 180, 190], pre: [150, 155] },
  '2026-02-19': { w: [5000, 5000, 5000, 5000] },
  '2026-02-18': { w: [300, 300, 300, 300], pre: [280, 290] },
  '2026-02-17': { w: [8000, null, 8000, 8000] },
  '2026-02-16': { w: [50, 60, 70, 80] },
  '2026-02-15': { w: [9000, 9000, 9000, 9000] },
  '2026-02-14': { w: [9000, 9000, 9000, 9000] },
  '2026-02-13': { w: [400, 101, 100, 103] },
  '2026-02-12': { w: [120, 120, 120, 120] },
  '2026-02-11': { w: [250, 250, 250, 250], pre: [240, 245] },
  '2026-02-10': { w: [90, 90, 90, 90] },
  '2026-02-09': { w: [175, 175, 175, 175] },
};

function handSeries(): Map<string, Values> {
  const data = new Map<string, Values>();
  for (let date = '2026-01-01'; date <= '2026-02-24'; date = addDays(date, 1)) {
    const row = HAND[date] ?? { w: [7000, 7000, 7000, 7000] };
    data.set(date, dayOf(date, PARIS, 15, (m) => {
      const w = WINDOW.indexOf(m);
      if (w >= 0) return row.w[w]!;
      const p = PRE.indexOf(m);
      if (p >= 0 && row.pre) return row.pre[p]!;
      return 100;
    }));
  }
  data.set('2026-02-25', dayOf('2026-02-25', PARIS, 15, (m) => (m === 1050 ? 300 : m === 1065 ? 312 : m >= 1080 ? 60_000 : 100)));
  return data;
}

const EVENT = startsOf('2026-02-25T18:00:00+01:00', 4, 15);
const handInput = (lookbackDays?: number) => input(PARIS, 15, handSeries(), EVENT, ['2026-02-19', '2026-02-25'], lookbackDays);

describe('baseline: hand-worked X-of-Y', () => {
  test('5-of-10 high skips weekends, the event day, the day with a null and ranks ties by recency', () => {
    // The 5 highest: 02-18, 02-11, 02-23, 02-13, 02-20 (02-20 beats 02-09 at 700: more recent).
    //   18:00: 300 + 250 + 200 + 400 + 160 = 1310 / 5 = 262
    //   18:15: 300 + 250 + 210 + 101 + 170 = 1031 / 5 = 206.2 -> 206
    //   18:30: 300 + 250 + 220 + 100 + 180 = 1050 / 5 = 210
    //   18:45: 300 + 250 + 230 + 103 + 190 = 1073 / 5 = 214.6 -> 215
    const spec: BaselineSpec = { method: 'x-of-y', x: 5, y: 10, pick: 'high', adjustIntervals: 0 };
    assert.deepEqual(computeBaseline(spec, handInput()), [262, 206, 210, 215]);
  });

  test('5-of-10 high with an additive adjustment over the 2 intervals before the event', () => {
    // Actual 17:30, 17:45 on the event day: 300 + 312 = 612, mean 306.
    // The same chosen days at 17:30, 17:45:
    //   02-18: 280 + 290, 02-11: 240 + 245, 02-23: 190 + 195, 02-13: 100 + 100, 02-20: 150 + 155
    //   = 1945 over 2 x 5 values, mean 194.5.  adj = 306 - 194.5 = 111.5
    //   18:00: 262   + 111.5 = 373.5 -> 374
    //   18:15: 206.2 + 111.5 = 317.7 -> 318
    //   18:30: 210   + 111.5 = 321.5 -> 322
    //   18:45: 214.6 + 111.5 = 326.1 -> 326  (rounding twice would give 215 + 112 = 327)
    const spec: BaselineSpec = { method: 'x-of-y', x: 5, y: 10, pick: 'high', adjustIntervals: 2 };
    assert.deepEqual(computeBaseline(spec, handInput()), [374, 318, 322, 326]);
  });

  test('5-of-10 mid drops the floor((10 - 5) / 2) = 2 highest', () => {
    // Drop 02-18, 02-11; keep 02-23, 02-13, 02-20, 02-09, 02-12.
    //   18:00: 200 + 400 + 160 + 175 + 120 = 1055 / 5 = 211
    //   18:15: 210 + 101 + 170 + 175 + 120 =  776 / 5 = 155.2 -> 155
    //   18:30: 220 + 100 + 180 + 175 + 120 =  795 / 5 = 159
    //   18:45: 230 + 103 + 190 + 175 + 120 =  818 / 5 = 163.6 -> 164
    const spec: BaselineSpec = { method: 'x-of-y', x: 5, y: 10, pick: 'mid', adjustIntervals: 0 };
    assert.deepEqual(computeBaseline(spec, handInput()), [211, 155, 159, 164]);
  });

  test('mid with fewer days found than y uses the number found', () => {
    // lookback 14: eligible 02-24, 23, 20, 18, 16, 13, 12, 11 = 8 days (Y' = 8), 3-of-10 mid
    // drops floor((8 - 3) / 2) = 2: ranking 02-18, 02-11, 02-23, 02-13, 02-20, ... keeps 02-23, 02-13, 02-20.
    //   18:00: 200 + 400 + 160 = 760 / 3 = 253.33 -> 253
    //   18:15: 210 + 101 + 170 = 481 / 3 = 160.33 -> 160
    //   18:30: 220 + 100 + 180 = 500 / 3 = 166.67 -> 167
    //   18:45: 230 + 103 + 190 = 523 / 3 = 174.33 -> 174
    const spec: BaselineSpec = { method: 'x-of-y', x: 3, y: 10, pick: 'mid', adjustIntervals: 0 };
    assert.deepEqual(computeBaseline(spec, handInput(14)), [253, 160, 167, 174]);
  });

  test('rolling: the mean of the 5 most recent eligible days, no ranking', () => {
    // 02-24, 02-23, 02-20, 02-18, 02-16:
    //   18:00: 100 + 200 + 160 + 300 + 50 = 810 / 5 = 162
    //   18:15: 110 + 210 + 170 + 300 + 60 = 850 / 5 = 170
    //   18:30: 120 + 220 + 180 + 300 + 70 = 890 / 5 = 178
    //   18:45: 130 + 230 + 190 + 300 + 80 = 930 / 5 = 186
    assert.deepEqual(computeBaseline({ method: 'rolling', days: 5 }, handInput()), [162, 170, 178, 186]);
    // lookback 3: 02-24, 02-23 (02-22 is a Sunday): (100 + 200) / 2 = 150, 160, 170, 180.
    assert.deepEqual(computeBaseline({ method: 'rolling', days: 5 }, handInput(3)), [150, 160, 170, 180]);
  });

  test('a weekend event looks at weekend days only', () => {
    // Sunday 2026-02-22 18:00: the most recent weekend days are 02-21 (9000) and 02-15 (9000).
    const data = handSeries();
    const sunday = startsOf('2026-02-22T18:00:00+01:00', 4, 15);
    assert.deepEqual(computeBaseline({ method: 'rolling', days: 2 }, input(PARIS, 15, data, sunday)), [9000, 9000, 9000, 9000]);
  });

  test('not enough eligible days: the error names the method, the date and the count', () => {
    // lookback 7 reaches 02-24, 23, 20, 18 only: 4 < 5.
    const spec: BaselineSpec = { method: 'x-of-y', x: 5, y: 10, pick: 'high', adjustIntervals: 0 };
    assert.throws(() => computeBaseline(spec, handInput(7)), (e: any) => {
      assert.equal(e.code, 'E_FLEX_BASELINE');
      assert.equal(e.field, 'baseline');
      assert.match(e.message, /x-of-y/);
      assert.match(e.message, /only 4 eligible weekdays/);
      assert.match(e.message, /2026-02-25/);
      assert.deepEqual(e.details.found, ['2026-02-24', '2026-02-23', '2026-02-20', '2026-02-18']);
      return true;
    });
    const empty = input(PARIS, 15, new Map(), EVENT);
    assert.throws(() => computeBaseline({ method: 'rolling', days: 3 }, empty), { code: 'E_FLEX_BASELINE', field: 'baseline', message: /rolling baseline: only 0 eligible/ });
  });

  test('adjustment with a missing actual value before the event names the interval', () => {
    const data = handSeries();
    const event = data.get('2026-02-25')!.slice();
    event[71] = null; // 17:45 local
    data.set('2026-02-25', event);
    const spec: BaselineSpec = { method: 'x-of-y', x: 5, y: 10, pick: 'high', adjustIntervals: 2 };
    assert.throws(() => computeBaseline(spec, input(PARIS, 15, data, EVENT, ['2026-02-19'])), {
      code: 'E_FLEX_BASELINE',
      field: 'baseline',
      message: /x-of-y baseline: no net value on 2026-02-25 for the interval 2026-02-25T17:45:00\+01:00/,
    });
  });
});

describe('baseline: mbma, nomination and parameter checks', () => {
  test('mbma holds the interval right before the first ISP', () => {
    // 17:45 on the event day holds 312.
    assert.deepEqual(computeBaseline({ method: 'mbma' }, handInput()), [312, 312, 312, 312]);
  });

  test('mbma with the first ISP at local midnight reads the previous date\'s last interval', () => {
    const data = handSeries();
    const last = data.get('2026-02-24')!.slice();
    last[95] = -77; // 23:45 local on 02-24, a net export
    data.set('2026-02-24', last);
    const midnight = startsOf('2026-02-25T00:00:00+01:00', 3, 15);
    assert.deepEqual(computeBaseline({ method: 'mbma' }, input(PARIS, 15, data, midnight)), [-77, -77, -77]);
    last[95] = null;
    assert.throws(() => computeBaseline({ method: 'mbma' }, input(PARIS, 15, data, midnight)), {
      code: 'E_FLEX_BASELINE',
      field: 'baseline',
      message: /mbma baseline: no net value on 2026-02-24 for the interval 2026-02-24T23:45:00\+01:00/,
    });
    data.delete('2026-02-24');
    assert.throws(() => computeBaseline({ method: 'mbma' }, input(PARIS, 15, data, midnight)), { code: 'E_FLEX_BASELINE', message: /mbma.*2026-02-24.*the day has no data/ });
  });

  test('nomination returns the declared schedule; its length must equal the ISPs', () => {
    assert.deepEqual(computeBaseline({ method: 'nomination', wh: [5, -3, 0, 12] }, handInput()), [5, -3, 0, 12]);
    assert.throws(() => computeBaseline({ method: 'nomination', wh: [5, 6] }, handInput()), { code: 'E_FLEX_BASELINE', field: 'baseline', message: /wh: nomination declares 2 values for 4 ISPs/ });
  });

  test('baselineProblem names the field at fault', () => {
    assert.equal(baselineProblem({ method: 'mbma' }, 4), null);
    assert.equal(baselineProblem({ method: 'x-of-y', x: 5, y: 10, pick: 'high', adjustIntervals: 8 }, 4), null);
    assert.equal(baselineProblem({ method: 'rolling', days: 30 }, 4), null);
    assert.equal(baselineProblem({ method: 'nomination', wh: [1, 2] }, 2), null);
    const cases: [BaselineSpec, RegExp][] = [
      [{ method: 'x-of-y', x: 6, y: 5, pick: 'high', adjustIntervals: 0 }, /^x: .*x must not exceed y/],
      [{ method: 'x-of-y', x: 0, y: 5, pick: 'high', adjustIntervals: 0 }, /^x: /],
      [{ method: 'x-of-y', x: 1, y: 31, pick: 'high', adjustIntervals: 0 }, /^y: /],
      [{ method: 'x-of-y', x: 1, y: 0, pick: 'high', adjustIntervals: 0 }, /^y: /],
      [{ method: 'x-of-y', x: 1, y: 5, pick: 'low' as 'high', adjustIntervals: 0 }, /^pick: /],
      [{ method: 'x-of-y', x: 1, y: 5, pick: 'mid', adjustIntervals: 9 }, /^adjustIntervals: /],
      [{ method: 'x-of-y', x: 1, y: 5, pick: 'mid', adjustIntervals: -1 }, /^adjustIntervals: /],
      [{ method: 'x-of-y', x: 1.5, y: 5, pick: 'mid', adjustIntervals: 0 }, /^x: /],
      [{ method: 'rolling', days: 0 }, /^days: /],
      [{ method: 'rolling', days: 31 }, /^days: /],
      [{ method: 'nomination', wh: [1, 2, 3] }, /^wh: .*3 values for 4 ISPs/],
      [{ method: 'nomination', wh: [1, 2.5, 3, 4] }, /^wh\.1: /],
      [{ method: 'regression' } as unknown as BaselineSpec, /^method: /],
    ];
    for (const [spec, message] of cases) assert.match(baselineProblem(spec, 4) ?? 'null', message, JSON.stringify(spec));
  });

  test('roundDiv rounds half away from zero, exactly', () => {
    assert.deepEqual([roundDiv(5, 2), roundDiv(-5, 2), roundDiv(7, 3), roundDiv(-7, 3), roundDiv(8, 3), roundDiv(-8, 3), roundDiv(0, 7), roundDiv(-1, 3)], [3, -3, 2, -2, 3, -3, 0, 0]);
    assert.ok(Object.is(roundDiv(-1, 3), 0));
    assert.equal(roundDiv(Number.MAX_SAFE_INTEGER, 2), 4503599627370496);
    assert.equal(roundDiv(-Number.MAX_SAFE_INTEGER, 2), -4503599627370496);
    fc.assert(fc.property(fc.integer({ min: -1e15, max: 1e15 }), fc.integer({ min: 1, max: 1e6 }), (a, n) => {
      const q = BigInt(roundDiv(a, n));
      // |a - q n| <= n / 2, and on an exact half q is the one farther from zero
      const twice = 2n * (BigInt(a) - q * BigInt(n));
      assert.ok(twice <= BigInt(n) && twice >= -BigInt(n));
      if (twice === BigInt(n) || twice === -BigInt(n)) assert.ok((q < 0n ? -q : q) * BigInt(n) > BigInt(Math.abs(a)));
    }));
  });

  test('the ISPs must be consecutive and aligned', () => {
    assert.throws(() => computeBaseline({ method: 'mbma' }, input(PARIS, 15, handSeries(), [EVENT[0]!, EVENT[2]!])), { code: 'E_FLEX_BASELINE', message: /consecutive/ });
    assert.throws(() => computeBaseline({ method: 'mbma' }, input(PARIS, 15, handSeries(), [EVENT[0]! + 60_000])), { code: 'E_FLEX_BASELINE', message: /15-minute/ });
    assert.throws(() => computeBaseline({ method: 'mbma' }, input(PARIS, 15, handSeries(), [])), { code: 'E_FLEX_BASELINE', message: /no ISP/ });
  });
});

describe('baseline: DST days in Europe/Paris', () => {
  // Every interval holds day-of-month x 10000 + its local wall-clock minute, so a wrong
  // match (by index instead of local time) shows in the result.
  const tagged = (from: string, to: string) => {
    const data = new Map<string, Values>();
    for (let date = from; date <= to; date = addDays(date, 1)) data.set(date, dayOf(date, PARIS, 30, (m) => Number(date.slice(8, 10)) * 10_000 + m));
    return data;
  };

  test('2026-03-29 has 46 half-hours; 18:00 local matches its interval 34, not 36', () => {
    assert.equal(dayIntervals(localDay('2026-03-29', PARIS), 30).length, 46);
    // Saturday 2026-04-04 18:00 CEST (16:00Z), 2 ISPs, rolling over 3 weekend days:
    // 04-04 -> 03-29 (Sun, DST), 03-28 (Sat), 03-22 (Sun).
    //   18:00: (290000 + 280000 + 220000) / 3 + 1080 = 263333.33 + 1080 -> 264413
    //   18:30: 263333.33 + 1110 -> 264443
    const data = tagged('2026-03-01', '2026-04-04');
    const sat = startsOf('2026-04-04T18:00:00+02:00', 2, 30);
    assert.deepEqual(computeBaseline({ method: 'rolling', days: 3 }, input(PARIS, 30, data, sat)), [264413, 264443]);
    // The event on the DST day itself (18:00 CEST = 16:00Z is its interval 34) reads 18:00 of 03-28, 03-22, 03-21.
    const dst = startsOf('2026-03-29T18:00:00+02:00', 2, 30);
    assert.equal(dayIntervals(localDay('2026-03-29', PARIS), 30).indexOf(dst[0]!), 34);
    //   (280000 + 220000 + 210000) / 3 = 236666.67 + 1080 -> 237747; + 1110 -> 237777
    assert.deepEqual(computeBaseline({ method: 'rolling', days: 3 }, input(PARIS, 30, data, dst)), [237747, 237777]);
    // MBMA on the DST day: 17:30 CEST.
    assert.deepEqual(computeBaseline({ method: 'mbma' }, input(PARIS, 30, data, dst)), [291050, 291050]);
  });

  test('a window at 02:00 local makes the spring DST day ineligible (the minute does not exist)', () => {
    // Sunday 2026-04-05 02:00 CEST: 04-04 (Sat) and 03-28 (Sat) — 03-29 has no 02:00.
    //   (40000 + 280000) / 2 + 120 = 160120
    const data = tagged('2026-03-01', '2026-04-05');
    const sun = startsOf('2026-04-05T02:00:00+02:00', 1, 30);
    assert.deepEqual(computeBaseline({ method: 'rolling', days: 2 }, input(PARIS, 30, data, sun)), [160120]);
  });

  test('the autumn day (50 half-hours): 18:00 local matches interval 38; a repeated 02:00 takes its first occurrence', () => {
    const data = tagged('2026-10-01', '2026-11-01');
    assert.equal(dayIntervals(localDay('2026-10-25', PARIS), 30).length, 50);
    // Saturday 2026-10-31 18:00 CET: 10-25 (Sun), 10-24 (Sat).
    //   (250000 + 240000) / 2 + 1080 = 246080
    const sat = startsOf('2026-10-31T18:00:00+01:00', 1, 30);
    assert.deepEqual(computeBaseline({ method: 'rolling', days: 2 }, input(PARIS, 30, data, sat)), [246080]);
    // Mark the two 02:00 of 10-25 apart: the first (CEST) 1, the second (CET) 2.
    const autumn = data.get('2026-10-25')!.slice();
    autumn[4] = 1;
    autumn[6] = 2;
    data.set('2026-10-25', autumn);
    const sun = startsOf('2026-11-01T02:00:00+01:00', 1, 30);
    assert.deepEqual(computeBaseline({ method: 'rolling', days: 1 }, input(PARIS, 30, data, sun, ['2026-10-31'])), [1]);
  });
});

// ---------------------------------------------------------------------------------------
// Properties over random series.
// ---------------------------------------------------------------------------------------

/** A small integer hash (murmur3's finaliser over the parts), so a series is a pure function of its seed. */
function hash(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h = Math.imul(h ^ (p | 0), 0x85ebca6b) ^ Math.floor(p / 2 ** 32);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

interface Scenario {
  zone: string;
  minutes: 15 | 30 | 60;
  eventDate: string;
  startIndex: number;
  isps: number;
  seed: number;
  nullPct: number;
  eventPct: number;
  lookbackDays: number;
}

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  zone: fc.constantFrom('UTC', 'Europe/Paris', 'America/New_York', 'Asia/Kolkata'),
  minutes: fc.constantFrom(15 as const, 30 as const, 60 as const),
  eventDate: fc.integer({ min: 0, max: 700 }).map((d) => addDays('2025-01-01', d)),
  startIndex: fc.integer({ min: 0, max: 200 }),
  isps: fc.integer({ min: 1, max: 12 }),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  nullPct: fc.integer({ min: 0, max: 30 }),
  eventPct: fc.integer({ min: 0, max: 30 }),
  lookbackDays: fc.integer({ min: 5, max: 60 }),
});

function scenarioInput(s: Scenario, seed = s.seed, mutateFrom?: number): BaselineInput {
  const day = dayIntervals(localDay(s.eventDate, s.zone), s.minutes);
  const first = day[s.startIndex % day.length]!;
  const eventStarts = Array.from({ length: s.isps }, (_, i) => first + i * s.minutes * 60_000);
  const eventDays = new Set<string>();
  const eventMs = Date.parse(`${s.eventDate}T00:00:00Z`);
  for (let b = 1; b <= s.lookbackDays; b++) {
    const d = new Date(eventMs - b * 86_400_000).toISOString().slice(0, 10);
    if (hash(s.seed, 1, eventMs - b * 86_400_000) % 100 < s.eventPct) eventDays.add(d);
  }
  eventDays.add(s.eventDate);
  const cache = new Map<string, Values | undefined>();
  const netOf = (date: string) => {
    if (!cache.has(date)) {
      // the changed series has other values at or after the first ISP (the rest of the event
      // date and every later date, whose days may also go missing by the other seed), and the same values before it
      const seedOf = (t: number) => (mutateFrom !== undefined && t >= mutateFrom ? seed : s.seed);
      const span = localDay(date, s.zone);
      const missing = hash(seedOf(span.startMs), 2, span.startMs) % 100 < s.nullPct / 3;
      cache.set(
        date,
        missing
          ? undefined
          : dayIntervals(span, s.minutes).map((t) => {
              const h = hash(s.seed, 3, t);
              const v = h % 100 < s.nullPct ? null : (h % 20001) - 5000;
              // Changed, every value differs (another draw could give the same value, or null twice: one event ISP at the end of a day did).
              return mutateFrom !== undefined && t >= mutateFrom ? (v === null ? 0 : v + 1) : v;
            }),
      );
    }
    return cache.get(date);
  };
  return { timeZone: s.zone, intervalMinutes: s.minutes, netOf, eventStarts, eventDays, lookbackDays: s.lookbackDays };
}

const outcome = (spec: BaselineSpec, inp: BaselineInput): number[] | string => {
  try {
    return computeBaseline(spec, inp);
  } catch (e: any) {
    assert.equal(e.code, 'E_FLEX_BASELINE', e.message);
    return e.message;
  }
};

const historicalSpecArb: fc.Arbitrary<BaselineSpec> = fc.oneof(
  fc.record({ y: fc.integer({ min: 1, max: 30 }), x: fc.integer({ min: 1, max: 30 }), pick: fc.constantFrom('high' as const, 'mid' as const) }).map(
    ({ x, y, pick }): BaselineSpec => ({ method: 'x-of-y', x: Math.min(x, y), y, pick, adjustIntervals: 0 }),
  ),
  fc.integer({ min: 1, max: 30 }).map((days): BaselineSpec => ({ method: 'rolling', days })),
);

describe('baseline: properties', () => {
  test('x-of-y (no adjustment) and rolling never read the event at or after its first ISP, nor any later date', () => {
    fc.assert(
      fc.property(scenarioArb, historicalSpecArb, fc.integer({ min: 0, max: 2 ** 31 - 1 }), (s, spec, other) => {
        const base = scenarioInput(s);
        const first = base.eventStarts[0]!;
        const changed = scenarioInput(s, other === s.seed ? other + 1 : other, first);
        assert.equal(localDateOf(first, s.zone), s.eventDate);
        if (base.netOf(s.eventDate) !== undefined) assert.notDeepEqual(changed.netOf(s.eventDate), base.netOf(s.eventDate));
        assert.deepEqual(outcome(spec, changed), outcome(spec, base));
      }),
      { numRuns: 100 },
    );
  });

  test('deterministic, integer, one value per ISP; x-of-y with x = y equals rolling over y days', () => {
    fc.assert(
      fc.property(scenarioArb, fc.integer({ min: 1, max: 30 }), fc.constantFrom('high' as const, 'mid' as const), (s, y, pick) => {
        const xy: BaselineSpec = { method: 'x-of-y', x: y, y, pick, adjustIntervals: 0 };
        const a = outcome(xy, scenarioInput(s));
        const b = outcome(xy, scenarioInput(s));
        assert.deepEqual(a, b);
        const rolling = outcome({ method: 'rolling', days: y }, scenarioInput(s));
        if (typeof a !== 'string') {
          assert.equal(a.length, s.isps);
          for (const v of a) assert.ok(Number.isSafeInteger(v) && !Object.is(v, -0));
          assert.deepEqual(rolling, a);
        }
        for (const spec of [{ method: 'mbma' } as const, { method: 'x-of-y', x: Math.max(1, y >> 1), y, pick, adjustIntervals: (s.seed % 9) } as const]) {
          const r1 = outcome(spec, scenarioInput(s));
          assert.deepEqual(outcome(spec, scenarioInput(s)), r1);
          if (typeof r1 !== 'string') for (const v of r1) assert.ok(Number.isSafeInteger(v));
        }
      }),
      { numRuns: 100 },
    );
  });
});
