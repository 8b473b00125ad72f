import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Temporal } from 'temporal-polyfill';
import { tempDb } from '../../test/support/community.ts';
import { gini, simulate } from '../cli/simulate.ts';
import { dynamisation, h0YearWh, householdLoad } from './load.ts';
import { Rng } from './rng.ts';
import { parseScenario } from './scenario.ts';
import { pvEnergy, solarPosition } from './solar.ts';

describe('sandbox physics', () => {
  test('BDEW dynamisation check values', () => {
    assert.deepEqual([1, 100, 182, 365].map(dynamisation), [1.242, 1.0288, 0.7959, 1.2572]);
  });

  test('a household year is within 2 % of its annual consumption', () => {
    const rng = new Rng('year');
    let wh = 0;
    const quarters = Array.from({ length: 48 }, (_, k) => [2 * k, 2 * k + 1]);
    for (let d = Temporal.PlainDate.from('2026-01-01'); d.year === 2026; d = d.add({ days: 1 })) {
      wh += householdLoad(d.toString(), 3_500, quarters, rng).reduce((a, x) => a + x, 0);
    }
    assert.ok(Math.abs(wh / 3_500_000 - 1) < 0.02, `${wh} Wh`);
    assert.ok(h0YearWh(2026) > 990_000 && h0YearWh(2026) < 1_010_000);
  });

  test('PV is zero at night and peaks near solar noon', () => {
    const pv = { kWp: 10, tilt: 30, azimuth: 180 };
    const lon = 9.31;
    const hourly = Array.from({ length: 24 }, (_, h) => pvEnergy(pv, Date.UTC(2026, 5, 21, h), 60, 47.12, lon, 1));
    for (const h of [0, 1, 2, 21, 22, 23]) assert.equal(hourly[h], 0, `hour ${h} UTC`);
    const peak = hourly.indexOf(Math.max(...hourly));
    const solarNoonUtc = 12 - lon / 15; // about 11:23 UTC, within the hour that starts at 11
    assert.ok(Math.abs(peak + 0.5 - solarNoonUtc) <= 1, `peak at ${peak} UTC`);
    assert.ok(solarPosition(Date.UTC(2026, 5, 21, 11, 23), 47.12, lon).zenith < 25);
    assert.ok(Math.abs(solarPosition(Date.UTC(2026, 5, 21, 11, 23), 47.12, lon).azimuth - 180) < 5);
  });

  test('Gini: 0 for equal savings, near 1 when one member has all', () => {
    assert.equal(gini([5, 5, 5]), 0);
    assert.ok(gini([0, 0, 0, 0, 100]) > 0.79);
  });

  test('a bad scenario names the field', () => {
    assert.throws(() => parseScenario({ name: 'x', latitude: 100, longitude: 0, start: '2026-01-01', prices: { retailMicroPerKwh: 1, feedInMicroPerKwh: 0 }, members: [{ name: 'a' }] }), { code: 'E_SCENARIO', field: 'latitude' });
    assert.throws(() => parseScenario({ name: 'x', latitude: 47, longitude: 0, start: '2026-01-01', prices: { retailMicroPerKwh: 1, feedInMicroPerKwh: 0 }, members: [{ name: 'a', feeder: 'nowhere' }] }), { field: 'members.0.feeder' });
  });
});

describe('openlec simulate', () => {
  test('same seed, same bytes; energy conserved per interval; the log verifies; the report has charts', async () => {
    const dir = join(tempDb(), '..');
    const run = (out: string, seed: string) => simulate({ scenario: 'demo', out: join(dir, out), days: 2, seed });
    const a = await run('a', '7');
    await run('b', '7');
    await run('c', '8');
    for (const f of ['kpis.json', 'intervals.csv', 'report.html']) {
      assert.equal(readFileSync(join(dir, 'a', f), 'utf8'), readFileSync(join(dir, 'b', f), 'utf8'), `${f} is identical`);
    }
    assert.notEqual(readFileSync(join(dir, 'a', 'intervals.csv'), 'utf8'), readFileSync(join(dir, 'c', 'intervals.csv'), 'utf8'));
    const k = a.kpis;
    assert.equal(k.ledger.verified, true);
    assert.equal(k.feederLimitViolations, 0);
    assert.equal(k.members, 39);
    // Energy: per interval, load + EV + battery charge − discharge = PV − export + import, and traded energy never exceeds either side.
    const rows = readFileSync(join(dir, 'a', 'intervals.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(';').map((v, i) => (i === 0 || v === '' ? v : Number(v))));
    assert.equal(rows.length, 2 * 48);
    for (const [, load, pv, ev, charge, discharge, imp, exp, traded] of rows as unknown as [string, ...number[]][]) {
      assert.equal(load! + ev! + charge! - discharge!, pv! - exp! + imp!);
      assert.ok(traded! <= imp! && traded! <= exp!);
    }
    assert.ok(k.evKwh > 0 && k.battery.chargedKwh > 0, 'the demo has EVs and batteries');
    assert.ok(k.battery.socMinPct! >= 10 && k.battery.socMaxPct! <= 100);
    // Money over the whole run: what members pay net of credits is exactly what the supplier, the DSO and the market's surplus get, less the grid's payments.
    assert.equal(k.money.balanceMicro, 0);
    assert.equal(a.members.reduce((s, m) => s + m.totalMicro, 0), k.money.chargesMicro - k.money.creditsMicro);
    assert.equal(k.money.peerPaidMicro, k.money.peerProceedsMicro + k.money.surplusMicro);
    assert.equal(k.money.peerWh, Math.round(k.tradedKwh * 1000));
    assert.ok(k.savings.minMicro >= 0, 'ex-post matching between feed-in and retail saves money for everyone');
    const html = readFileSync(join(dir, 'a', 'report.html'), 'utf8');
    for (const id of ['chart-energy', 'chart-price', 'chart-flows', 'chart-savings']) assert.match(html, new RegExp(`<svg id="${id}"[^>]*>.*<(path|rect) `, 's'));
    assert.doesNotMatch(html, /<script|https?:\/\//);
  });
});
