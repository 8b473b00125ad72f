import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Temporal } from 'temporal-polyfill';
import { tempDb } from '../../test/support/community.ts';
import { compareRuns } from './compare.ts';
import { gini } from './kpis.ts';
import { simulate } from './run.ts';
import { clearAt } from '../market/book.ts';
import { SqliteLedger } from '../store/sqlite-ledger.ts';
import { dayIntervals, localDay } from '../units/index.ts';
import { DEMO_SCENARIO, VILLAGE_SCENARIO } from './scenario.ts';
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
    for (const id of ['chart-energy', 'chart-price', 'chart-flows', 'chart-money', 'chart-savings', 'chart-certificates']) assert.match(html, new RegExp(`<svg id="${id}"[^>]*>.*<(path|rect) `, 's'));
    assert.doesNotMatch(html, /<script|https?:\/\//);
    // Certificates of origin: every PV home's export is issued (nothing refused), moved along the trades and claimed for those who opted in.
    const c = k.certificates!;
    assert.equal(c.devices, 9, 'the demo has 9 homes with PV');
    assert.equal(c.autoClaimMembers, Math.round(39 / 2));
    assert.equal(c.refusedIntervals, 0);
    assert.ok(c.issuedWh > 0 && c.movedWh > 0 && c.claimedWh > 0, JSON.stringify(c));
    assert.ok(c.claimedWh <= c.issuedWh && c.movedWh <= c.issuedWh);
    assert.ok(c.hourlyMatchingPpm > 0 && c.hourlyMatchingPpm <= c.monthlyMatchingPpm && c.monthlyMatchingPpm <= 1_000_000);
    assert.deepEqual(c.perMonth.map((m) => m.month), ['2026-06']);
    assert.equal(c.perMonth[0]!.hourlyMatchedWh, c.claimedWh, 'every claim lies in the hour of its certificate');
    const ledger = SqliteLedger.open(join(dir, 'a', 'ledger.db'));
    try {
      const devices = [...ledger.state.rows('devices')] as { meter: string }[];
      const pvMeters = new Set(devices.map((d) => d.meter));
      assert.equal(pvMeters.size, 9);
      let exported = 0;
      for (const r of ledger.state.rows('readings') as IterableIterator<{ meter: string; direction: string; values: (number | null)[] }>) {
        if (r.direction === 'export' && pvMeters.has(r.meter)) exported += r.values.reduce<number>((s, v) => s + (v ?? 0), 0);
      }
      assert.equal(c.issuedWh, exported, 'issued = the PV homes\' metered export');
    } finally {
      await ledger.close();
    }
    // Without certificates, the same run: the same intervals and the same figures apart from the certificates and the log's size.
    const off = await simulate({ scenario: parseScenario({ ...DEMO_SCENARIO, certificates: false }), out: join(dir, 'off'), days: 2, seed: '7' });
    assert.equal(off.kpis.certificates, null);
    assert.equal(readFileSync(join(dir, 'off', 'intervals.csv'), 'utf8'), readFileSync(join(dir, 'a', 'intervals.csv'), 'utf8'));
    const strip = (x: typeof k) => ({ ...x, certificates: null, ledger: null });
    assert.deepEqual(strip(off.kpis), strip(k));
    assert.ok(off.kpis.ledger.transactions < k.ledger.transactions && off.kpis.ledger.verified);
    assert.doesNotMatch(readFileSync(join(dir, 'off', 'report.html'), 'utf8'), /chart-certificates/);
  });

  test('village: the solar feeder\'s export limit binds around noon and is never exceeded', async () => {
    const out = join(tempDb(), '..', 'village');
    const r = await simulate({ scenario: 'village', out, days: 1 });
    assert.equal(r.kpis.members, 500);
    assert.equal(r.kpis.feederLimitViolations, 0);
    assert.equal(r.kpis.money.balanceMicro, 0);
    const limitWh = (VILLAGE_SCENARIO.feeders.find((f) => f.id === 'solar')!.exportLimitW! * 30) / 60;
    const ledger = SqliteLedger.open(join(out, 'ledger.db'));
    try {
      const solar = new Set(VILLAGE_SCENARIO.members.filter((m) => m.feeder === 'solar').map((m) => m.name));
      const onSolar = (meter: string) => solar.has(meter.replace(/^sim-/, '').replace(/-\d+$/, ''));
      const exported = dayIntervals(localDay(VILLAGE_SCENARIO.start, VILLAGE_SCENARIO.timeZone), 30).map((t) =>
        clearAt(ledger.state, t).records.filter((x) => onSolar(x.seller) && !onSolar(x.buyer)).reduce((a, x) => a + x.wh, 0)
        - clearAt(ledger.state, t).records.filter((x) => !onSolar(x.seller) && onSolar(x.buyer)).reduce((a, x) => a + x.wh, 0));
      assert.ok(exported.every((wh) => wh <= limitWh), `net export out of the solar feeder ≤ ${limitWh} Wh`);
      assert.ok(exported.filter((wh) => wh === limitWh).length >= 2, `the limit binds: ${exported.join(' ')}`);
    } finally {
      await ledger.close();
    }
  });

  test('members from real data (OPSD, CityLearn) beside simulated ones, with batteries and the monthly allocation recorded', async () => {
    const out = join(tempDb(), '..', 'real');
    const r = await simulate({ scenario: join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'sim', 'real-data.yaml'), out, key: 'static' });
    assert.equal(r.kpis.members, 7);
    assert.equal(r.kpis.ledger.verified, true);
    assert.equal(r.kpis.allocationKey, 'static');
    const [alloc] = r.kpis.allocation as { allocatedWh: number; productionWh: number; file: string }[];
    assert.ok(alloc!.allocatedWh > 0 && alloc!.allocatedWh <= alloc!.productionWh);
    // Devices for the two homes with PV from their data, none for the battery-only homes; the allocation moves certificates.
    assert.equal(r.kpis.certificates!.devices, 2);
    assert.equal(r.kpis.certificates!.refusedIntervals, 0);
    assert.ok(r.kpis.certificates!.movedWh > 0 && r.kpis.certificates!.issuedWh > 0);
    const coefficients = readFileSync(join(out, alloc!.file), 'utf8').split('\r\n');
    assert.equal(coefficients[0], 'Identifiant PRM;Horodate debut;Coefficient (%)');
    assert.ok(coefficients.some((l) => l.startsWith('sim-konstanz-residential4;2026-06-10T12:00:00+02:00;')));
    // The OPSD household's PV shows in the intervals: the community produces at noon on both days.
    const rows = readFileSync(join(out, 'intervals.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(';'));
    assert.ok(rows.filter((x) => x[0]!.includes('T10:00')).every((x) => Number(x[2]) > 0));
  });

  test('compare: two mechanisms side by side in one report', async () => {
    const out = join(tempDb(), '..', 'compare');
    const r = await compareRuns({ scenarios: ['demo'], mechanism: 'uniform,midpoint', out, days: 1 });
    assert.deepEqual(r.runs.map((x) => x.kpis.mechanism), ['uniform', 'midpoint']);
    assert.equal(r.runs[0]!.kpis.tradedKwh, r.runs[1]!.kpis.tradedKwh, 'the same book trades the same volume');
    const html = readFileSync(join(out, 'compare.html'), 'utf8');
    for (const id of ['chart-price-compare', 'chart-traded-compare', 'chart-savings-compare', 'chart-rates-compare']) assert.match(html, new RegExp(`<svg id="${id}"[^>]*>.*<(path|rect) `, 's'));
    assert.match(html, /<th>uniform<\/th><th>midpoint<\/th>/);
    // Midpoint pairing prices each trade on its own: its line is the volume-weighted mean price of the interval's trades (issue 21).
    const line = (name: string) => new RegExp(`<svg id="chart-price-compare".*?<path d="([^"]*)"[^>]*><title>${name}</title>`, 's').exec(html)?.[1];
    assert.ok(r.runs[1]!.intervals.every((x) => x.priceMicroPerKwh === null), 'midpoint has no single clearing price');
    assert.notEqual(line('midpoint'), '', 'the midpoint run has a price line');
    assert.notEqual(line('uniform'), '', 'the uniform run keeps its price line');
    await assert.rejects(compareRuns({ scenarios: ['demo'], out, days: 1 }), { code: 'E_COMPARE' });
  });
});
