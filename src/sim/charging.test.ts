import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { tempDb } from '../../test/support/community.ts';
import { verifyLog } from '../audit/verify.ts';
import type { CdrRow, SettlementRow } from '../charging/tables.ts';
import { OpenlecError } from '../errors.ts';
import type { State } from '../state/tables.ts';
import { SqliteLedger } from '../store/sqlite-ledger.ts';
import { chargingOptions, money } from './charging.ts';
import { simulate } from './run.ts';
import { DEMO_SCENARIO, EV_CHARGERS_SCENARIO, parseScenario } from './scenario.ts';

/** A small square: 6 households, 2 prosumers, 2 chargers of 11 kW, two days of June (certificates off: not what this is about). */
const SMALL = {
  name: 'charging-small', timeZone: 'Europe/Paris', latitude: 45.76, longitude: 4.84, start: '2026-06-29', days: 2, currency: 'EUR',
  prices: { retailMicroPerKwh: 300_000, feedInMicroPerKwh: 80_000 }, certificates: false,
  members: [{ name: 'household', count: 6, annualKwh: 3_500 }, { name: 'prosumer', count: 2, annualKwh: 4_000, pv: { kWp: 20 } }],
  charging: { chargers: 2, powerKw: 11, memberSessionsPerDay: 3, roamingSessionsPerDay: 5, kwh: { min: 5, max: 30 }, dwellMinutes: { min: 30, max: 300 }, arrival: { from: '08:00', to: '22:00' } },
};

describe('EV charging in the simulator', () => {
  test('a small square with two chargers: runs, verifies, conserves money, sensible KPIs; the same seed gives the same kpis.json', async () => {
    const dir = join(tempDb(), '..');
    const scenario = parseScenario(SMALL, 'charging-small');
    const a = await simulate({ scenario, out: join(dir, 'a'), seed: '7' });
    const c = a.kpis.charging!;
    assert.ok(c, 'kpis.json has a charging section');
    assert.equal(a.kpis.ledger.verified, true);
    assert.ok(c.sessions.total >= 8, `${c.sessions.total} sessions`);
    assert.equal(c.sessions.members + c.sessions.roaming, c.sessions.total);
    assert.ok(c.sessions.members > 0 && c.sessions.roaming > 0);
    assert.ok(Math.abs(c.energyKwh.members + c.energyKwh.roaming - c.energyKwh.total) < 1e-9);
    // The chargers are the run's only EV charging: the charger meter's import is the CDRs' energy, to the Wh.
    assert.equal(Math.round(a.kpis.evKwh * 1000), Math.round(c.energyKwh.total * 1000));
    assert.equal(Math.round(c.localOrigin.consumedKwh * 1000), Math.round(c.energyKwh.total * 1000));
    assert.ok(c.localOrigin.share !== null && c.localOrigin.share >= 0 && c.localOrigin.share <= 1, `local share ${c.localOrigin.share}`);
    assert.ok(c.localOrigin.localKwh > 0, 'the chargers buy some of the prosumers\' midday surplus');
    // Σ CPO receipts = Σ eMSP payments (roaming + the members' eMSP) = Σ CDR totals, excl. and incl. VAT.
    const sum = (xs: readonly { exclMicro: number; inclMicro: number }[], k: 'exclMicro' | 'inclMicro') => xs.reduce((s, x) => s + x[k], 0);
    assert.equal(c.revenue.length, 1);
    assert.ok(c.payments.some((p) => p.members) && c.payments.some((p) => !p.members));
    for (const k of ['exclMicro', 'inclMicro'] as const) {
      assert.equal(sum(c.revenue, k), sum(c.payments, k));
      assert.equal(sum(c.payments.filter((p) => p.members), k) + sum(c.payments.filter((p) => !p.members), k), sum(c.revenue, k));
    }
    assert.equal(sum(c.revenue, 'exclMicro'), c.cdrTotalExclMicro);
    assert.equal(sum(c.revenue, 'inclMicro'), c.cdrTotalInclMicro);
    assert.equal(c.revenue[0]!.incl, money(c.cdrTotalInclMicro, 'EUR'));
    assert.ok(c.cdrTotalInclMicro > c.cdrTotalExclMicro, 'VAT 20 %');
    assert.equal(c.perDay.reduce((s, d) => s + d.sessions, 0), c.sessions.total);
    assert.equal(c.perDay.reduce((s, d) => s + d.revenueMicro, 0), c.cdrTotalInclMicro);
    assert.deepEqual(c.perMonth.map((m) => m.month), ['2026-06']);
    assert.equal(a.kpis.money.balanceMicro, 0);
    assert.ok(a.members.some((m) => m.label === 'charging-hub'), 'the CPO is billed for its meter like any member');
    const html = readFileSync(join(dir, 'a', 'report.html'), 'utf8');
    assert.match(html, /chart-charging-kwh/);
    assert.match(html, /chart-charging-revenue/);

    // The log: every CDR and the settlement replay; the settlement lines are the CDRs'.
    const ledger = SqliteLedger.open(join(dir, 'a', 'ledger.db'), { projections: false });
    try {
      let state: State | undefined;
      assert.deepEqual((await verifyLog(ledger, ledger.registry, { onReplayed: (s) => (state = s) })).problems, []);
      const cdrs = [...state!.rows('charging_cdrs')] as unknown as CdrRow[];
      assert.equal(cdrs.length, c.sessions.total);
      const settlements = [...state!.rows('charging_settlements')] as unknown as SettlementRow[];
      assert.equal(settlements.length, 1);
      const lines = settlements[0]!.lines;
      assert.equal(lines.reduce((s, l) => s + l.netExclMicro, 0), cdrs.reduce((s, r) => s + r.exclMicro, 0));
      assert.equal(lines.reduce((s, l) => s + l.energyWh, 0), cdrs.reduce((s, r) => s + r.importWh, 0));
      for (const r of cdrs) assert.match(r.token, /^[0-9a-f]{32}$/);
    } finally {
      await ledger.close();
    }

    const b = await simulate({ scenario, out: join(dir, 'b'), seed: '7' });
    assert.equal(readFileSync(join(dir, 'b', 'kpis.json'), 'utf8'), readFileSync(join(dir, 'a', 'kpis.json'), 'utf8'));
    assert.equal(readFileSync(join(dir, 'b', 'report.html'), 'utf8'), html);
    assert.deepEqual(b.kpis.charging, c);
  });

  test('off by default; the built-in ev-chargers parses; a bad charging part is refused naming its field', () => {
    assert.equal(chargingOptions(parseScenario(DEMO_SCENARIO)), null);
    assert.equal(chargingOptions(parseScenario({ ...SMALL, charging: false })), null);
    assert.equal(chargingOptions(parseScenario({ ...SMALL, charging: { enabled: false } })), null);
    const on = chargingOptions(parseScenario({ ...SMALL, charging: true }))!;
    assert.equal(on.tariff.currency, 'EUR');
    assert.equal(on.cpo.country_code, 'FR');
    const ev = chargingOptions(parseScenario(EV_CHARGERS_SCENARIO, 'ev-chargers'))!;
    assert.equal(ev.chargers, 6);
    const refuse = (charging: unknown, field: string) => assert.throws(() => parseScenario({ ...SMALL, charging }), (e: unknown) => e instanceof OpenlecError && e.code === 'E_SCENARIO' && e.field === field);
    refuse({ feeder: 'nowhere' }, 'charging.feeder');
    refuse({ kwh: { min: 30, max: 5 } }, 'charging.kwh.min');
    refuse({ arrival: { from: '22:00', to: '08:00' } }, 'charging.arrival.from');
    refuse({ tariff: { ...on.tariff, currency: 'CHF' } }, 'charging.tariff.currency');
    refuse({ chargers: 0 }, 'charging.chargers');
  });

  test('money formats micro-units with two decimals, half away from zero', () => {
    assert.equal(money(371_992_932, 'EUR'), '371.99 EUR');
    assert.equal(money(5_000, 'EUR'), '0.01 EUR');
    assert.equal(money(4_999, 'EUR'), '0.00 EUR');
    assert.equal(money(-1_235_000, 'CHF'), '-1.24 CHF');
  });
});
