import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Battery, type BatterySpec } from './battery.ts';
import { readCityLearn, readOpsd, seriesWh } from './data.ts';
import { chargeEv } from './ev.ts';

const FIXTURES = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'sim');
const halfHours = Array.from({ length: 48 }, (_, k) => k * 30);

describe('home battery', () => {
  const spec = fc.record({
    capacityKwh: fc.double({ min: 0.5, max: 50, noNaN: true }),
    powerKw: fc.double({ min: 0.5, max: 20, noNaN: true }),
    efficiency: fc.double({ min: 0.5, max: 1, noNaN: true }),
    minSocPct: fc.double({ min: 0, max: 50, noNaN: true }),
    strategy: fc.constantFrom('self-consumption' as const, 'community-price' as const),
  });
  test('state of charge stays within its bounds; energy in × η − out ÷ η = change of charge; power respected', () => {
    fc.assert(fc.property(spec, fc.array(fc.array(fc.integer({ min: -20_000, max: 20_000 }), { minLength: 48, maxLength: 48 }), { minLength: 1, maxLength: 4 }), fc.array(fc.boolean(), { minLength: 48, maxLength: 48 }), (s: BatterySpec, days, cheap) => {
      const b = new Battery(s);
      const maxWh = (s.powerKw * 1000) / 2;
      for (const net of days) {
        const before = b.socWh;
        const d = b.dispatch(net, 30, cheap);
        for (const w of d.socWh) assert.ok(w >= b.minWh - 1e-6 && w <= b.capacityWh + 1e-6, `${w} outside [${b.minWh}, ${b.capacityWh}]`);
        const eta = Math.sqrt(s.efficiency);
        const inWh = d.chargeWh.reduce((a, x) => a + x, 0);
        const outWh = d.dischargeWh.reduce((a, x) => a + x, 0);
        assert.ok(Math.abs(before + inWh * eta - outWh / eta - b.socWh) < 1e-6);
        net.forEach((n, k) => {
          assert.ok(Number.isInteger(d.chargeWh[k]) && Number.isInteger(d.dischargeWh[k]));
          assert.ok(d.chargeWh[k]! <= maxWh && d.dischargeWh[k]! <= maxWh);
          assert.ok(d.chargeWh[k] === 0 || d.dischargeWh[k] === 0, 'never both in one interval');
          assert.ok(d.dischargeWh[k]! <= Math.max(0, -n), 'never discharges into the grid');
          if (s.strategy === 'self-consumption') assert.ok(d.chargeWh[k]! <= Math.max(0, n), 'a self-consumption battery charges from surplus only');
        });
      }
    }), { numRuns: 200 });
  });

  test('self-consumption: the evening is served from the noon surplus, less the losses', () => {
    const b = new Battery({ capacityKwh: 10, powerKw: 5, efficiency: 0.81, minSocPct: 0, strategy: 'self-consumption' });
    b.socWh = 0;
    const d = b.dispatch([2000, 2000, -1000, -1000, -1000, -1000], 60);
    assert.deepEqual(d.chargeWh, [2000, 2000, 0, 0, 0, 0]);
    // 4,000 Wh in × 0.9 = 3,600 Wh stored; 3,240 Wh can come out (× 0.9), the last hour takes the rest.
    assert.deepEqual(d.dischargeWh, [0, 0, 1000, 1000, 1000, 240]);
  });

  test('community price: holds its charge and fills up while the community has a surplus', () => {
    const b = new Battery({ capacityKwh: 10, powerKw: 5, efficiency: 1, minSocPct: 0, strategy: 'community-price' });
    b.socWh = 5000;
    const d = b.dispatch([-1000, -1000, -1000], 60, [true, false, false]);
    assert.deepEqual(d.dischargeWh, [0, 1000, 1000]);
    assert.deepEqual(d.chargeWh, [5000, 0, 0]);
  });
});

describe('EV charging', () => {
  const ev = { arrival: '18:00', departure: '07:00', kwhPerDay: 10, chargerKw: 11, smart: false };
  test('plain charging starts at arrival at full power and delivers the day\'s energy', () => {
    const wh = chargeEv(ev, halfHours, 30);
    assert.equal(wh.reduce((a, x) => a + x, 0), 10_000);
    assert.deepEqual(wh.slice(36, 38), [5500, 4500]);
    assert.ok(wh.every((x, k) => x === 0 || k >= 36));
  });
  test('smart charging goes to the intervals with surplus, inside the plug-in window only', () => {
    const score = halfHours.map((_, k) => (k === 10 || k === 40 ? 100 : k === 20 ? 1000 : 0));
    const wh = chargeEv({ ...ev, smart: true }, halfHours, 30, score);
    assert.equal(wh[20], 0, '10:00 is outside the window');
    // Equal scores keep the plain order: the evening (20:00) before the morning (05:00).
    assert.equal(wh[40], 5500);
    assert.equal(wh[10], 4500);
    assert.equal(wh.reduce((a, x) => a + x, 0), 10_000);
  });
  test('the charger caps what a short window can deliver', () => {
    const wh = chargeEv({ ...ev, arrival: '12:00', departure: '13:00', kwhPerDay: 50 }, halfHours, 30);
    assert.equal(wh.reduce((a, x) => a + x, 0), 11_000);
  });
});

describe('real-data series', () => {
  test('CityLearn: consecutive hours dated from the change of month, kWh → Wh, PV scaled by kWp', () => {
    const file = join(FIXTURES, 'citylearn-building-1-june.csv');
    const s = readCityLearn(file, readFileSync(file, 'utf8'), 4);
    assert.equal(s.loadWh.size, 24 * 33);
    assert.ok(s.pvWh.get('06-15T00') === 0 && s.pvWh.get('06-15T12')! > 1000, 'PV is zero at midnight and > 1 kWh at noon for 4 kWp');
    const split = seriesWh(s, 'loadWh', ['06-15T12', '06-15T12'], [0, 1], 2);
    assert.equal(split[0]! + split[1]!, Math.round(s.loadWh.get('06-15T12')!));
    assert.throws(() => seriesWh(s, 'loadWh', ['08-15T12'], [0], 1), { code: 'E_SCENARIO_DATA', message: /08-15T12/ });
  });
  test('CityLearn: a row out of sequence names its line', () => {
    assert.throws(() => readCityLearn('bad.csv', 'month,hour,non_shiftable_load,solar_generation\n5,24,1,0\n6,1,1,0\n6,3,1,0\n'), { code: 'E_SCENARIO_DATA', message: /:4: expected month 6 hour 2/ });
  });
  test('OPSD: hourly differences of the counters, consumption = import − export + PV, gaps bridged', () => {
    const file = join(FIXTURES, 'opsd-residential4-june-2016.csv');
    const s = readOpsd(file, readFileSync(file, 'utf8'), 'Europe/Berlin');
    assert.ok(s.loadWh.size >= 24 * 32);
    const day = Array.from({ length: 24 }, (_, h) => s.pvWh.get(`06-15T${String(h).padStart(2, '0')}`)!);
    assert.equal(day[2], 0);
    assert.ok(Math.max(...day) > 500);
    const g = readOpsd('gap.csv', 'utc_timestamp,x_grid_export,x_grid_import,x_pv\n2016-06-01T00:00:00Z,0,10.000,0\n2016-06-01T01:00:00Z,0,,0\n2016-06-01T02:00:00Z,0,11.000,0\n2016-06-01T03:00:00Z,0,11.200,0\n', 'UTC');
    assert.deepEqual(['06-01T00', '06-01T01', '06-01T02'].map((h) => Math.round(g.loadWh.get(h)!)), [500, 500, 200]);
    assert.equal(g.bridgedHours, 1);
    assert.throws(() => readOpsd('skip.csv', 'utc_timestamp,x_grid_import\n2016-06-01T00:00:00Z,1\n2016-06-01T02:00:00Z,2\n', 'UTC'), { code: 'E_SCENARIO_DATA', message: /skip.csv:3: utc_timestamp: rows must be consecutive hours/ });
    assert.throws(() => readOpsd('down.csv', 'utc_timestamp,x_grid_export,x_grid_import\n2016-06-01T00:00:00Z,0,10\n2016-06-01T01:00:00Z,0,9\n', 'UTC'), { code: 'E_SCENARIO_DATA', message: /:3: x_grid_import: the counter goes down/ });
  });
});
