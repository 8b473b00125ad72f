import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { runMonth } from '../allocation/month.ts';
import { verifyLog } from '../audit/verify.ts';
import { activeWh, isLive, quantity } from '../certificates/bundles.ts';
import { dayGrid } from '../certificates/calendar.ts';
import { planIssue } from '../certificates/issue.ts';
import { planSettle } from '../certificates/settle.ts';
import type { CertificatesRow, ClaimsRow } from '../certificates/tables.ts';
import { CHARGER, chargingCommunity, simpleCdr, token } from '../../test/support/charging.ts';
import { ok, refused } from '../../test/support/flex.ts';
import type { SqliteLedger } from '../store/sqlite-ledger.ts';
import { creditCdr } from './cdr.ts';
import { energyMix, type OcpiCdr } from './ocpi.ts';
import { cdrEnergyMix, driverSessions, energyByInterval, findOrigin, planChargingOrigin, shareInterval } from './origin.ts';
import { pricingSession } from './price.ts';

/**
 * Local-origin charging: alice's 6 kW PV in Charge Lane, one sunny day (2025-03-20), the
 * CPO's charger meter CHARGER metering exactly what its sessions drew. The allocation
 * gives the charger all the PV it can take, certificates.settle hands the certificates to
 * the CPO, and charging.origin cancels them for the drivers session by session.
 */
const DAY = '2025-03-20';
const MONTH = '2025-03';
const PV = '30001111111111';
/** 48 half-hours of a sunny day: export from 05:00 to 17:00 local, peak `peak` Wh. */
const sun = (peak: number) => Array.from({ length: 48 }, (_, k) => (k >= 10 && k < 34 ? Math.round(peak * Math.sin((Math.PI * (k - 10)) / 24)) : 0));

const sessions = () => ({
  // A and B overlap from 09:30 to 10:30 UTC (10:30–11:30 local, the PV's peak): they share what the PV gave.
  A: simpleCdr('A', '2025-03-20T09:00:00Z', 120, 22, 0, 'CARD-A'),
  B: simpleCdr('B', '2025-03-20T09:30:00Z', 60, 11, 15, 'CARD-B', 'DE*EMS', 'LANE-1-2'),
  // Night: no local energy.
  C: simpleCdr('C', '2025-03-20T20:00:00Z', 60, 7, 0, 'CARD-C'),
  // Small, at 13:00 local: all of it local.
  D: simpleCdr('D', '2025-03-20T12:00:00Z', 30, 1, 0, 'CARD-A'),
  // Not aligned to the intervals: 20 min then 30 min.
  E: simpleCdr('E', '2025-03-20T13:10:00Z', 50, 3.333, 0, 'CARD-D', 'NL*TST', 'LANE-1-2'),
  // Recorded, then credited and replaced by G2 (same session, 2.5 kWh): only G2 gets local energy.
  G: simpleCdr('G', '2025-03-20T11:00:00Z', 30, 3, 0, 'CARD-E'),
  G2: simpleCdr('G2', '2025-03-20T11:00:00Z', 30, 2.5, 0, 'CARD-E'),
});

/** The charger meter's day: Σ of the sessions' energy per interval (the credited G left out). */
function chargerDay(state: SqliteLedger['state'], cdrs: OcpiCdr[]): number[] {
  const grid = dayGrid(state, DAY);
  const values = grid.starts.map(() => 0);
  for (const cdr of cdrs) {
    for (const [t, wh] of energyByInterval(pricingSession(cdr.start_date_time, cdr.end_date_time, cdr.charging_periods), 1800)) values[grid.starts.indexOf(t * 1000)]! += wh;
  }
  return values;
}

async function originCommunity() {
  const c = await chargingCommunity();
  const { ledger, operator, dso, cpo, alice, at } = c;
  const s = sessions();
  at('2025-03-21T12:00:00Z');
  await ok(ledger, dso.sign('meter.register', { meter: PV, scheme: 'PRM', direction: 'export', owner: alice.actor }));
  await ok(ledger, dso.sign('device.register', { device: 'pv-alice', meter: PV, fuel: 'F01040100', technology: 'T010100', capacityW: 6000, commissioned: '2024-04-01', zone: '10YFR-RTE------C', gridArea: 'enedis-lyon', support: false }));
  await ok(ledger, dso.sign('meter.readings', { meter: PV, direction: 'export', date: DAY, values: sun(2000) }));
  for (const k of ['A', 'B', 'C', 'D', 'E', 'G'] as const) await ok(ledger, cpo.sign('charging.cdr', { cdr: s[k].cdr }));
  await ok(ledger, cpo.sign('charging.cdr', { cdr: creditCdr(s.G.cdr, 'G-C', '2025-03-21T12:00:00Z') }));
  await ok(ledger, cpo.sign('charging.cdr', { cdr: s.G2.cdr }));
  const charger = chargerDay(ledger.state, [s.A, s.B, s.C, s.D, s.E, s.G2].map((x) => x.cdr));
  await ok(ledger, dso.sign('meter.readings', { meter: CHARGER, direction: 'import', date: DAY, values: charger }));
  at('2025-04-02T08:00:00Z');
  await ok(ledger, dso.sign('certificates.issue', planIssue(ledger.state, DAY)));
  return { ...c, s, charger, operator };
}

/** settled: the month allocated and its certificates settled; returns what the CPO holds per interval start before charging.origin. */
async function settled(c: Awaited<ReturnType<typeof originCommunity>>) {
  const { ledger, operator, cpo } = c;
  await ok(ledger, operator.sign('allocation.run', runMonth(ledger.state, MONTH, { kind: 'prorata' }).summary));
  await ok(ledger, operator.sign('certificates.settle', planSettle(ledger.state, MONTH)));
  const row = ledger.state.get<CertificatesRow>('certificates', `pv-alice\u001f${DAY}`)!;
  return new Map(row.intervals.map((iv) => [iv.start, activeWh(iv, cpo.actor)]));
}

const origin = (ledger: SqliteLedger, id: string) => findOrigin(ledger.state, 'FR*OLC', id)!;

/** The certificates cancelled with a token pseudonym as beneficiary, by beneficiary. */
function cancelledForDrivers(ledger: SqliteLedger): Map<string, number> {
  const out = new Map<string, number>();
  for (const row of ledger.state.rows('certificates') as IterableIterator<CertificatesRow>) {
    for (const iv of row.intervals) {
      for (const b of iv.bundles) {
        if (!isLive(b) || b.status !== 'cancelled' || !/^[0-9a-f]{32}$/.test(b.claim!.beneficiary)) continue;
        out.set(b.claim!.beneficiary, (out.get(b.claim!.beneficiary) ?? 0) + quantity(b));
      }
    }
  }
  return out;
}

/** No certificate ID in two live bundles, and the live ones add up to what was issued. */
function conserved(ledger: SqliteLedger): void {
  for (const row of ledger.state.rows('certificates') as IterableIterator<CertificatesRow>) {
    for (const iv of row.intervals) {
      const live = iv.bundles.filter(isLive).map((b) => [b.from, b.to] as const).sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < live.length; i++) assert.ok(live[i]![0] > live[i - 1]![1], `${iv.start}: a certificate in two live bundles`);
      assert.equal(live.reduce((s, [f, t]) => s + t - f + 1, 0), iv.meteredWh);
    }
  }
}

describe('local-origin charging', () => {
  it('cancels the CPO\'s certificates for the drivers, interval by interval, pro rata between concurrent sessions', async () => {
    const c = await originCommunity();
    const { ledger, cpo, alice, s, charger } = c;
    // Before the month's certificates are settled the CPO holds none.
    const early = await refused(ledger, cpo.sign('charging.origin', planChargingOrigin(ledger.state, MONTH, cpo.actor)));
    assert.equal(early.code, 'E_CERTIFICATES_NOT_SETTLED');
    const held = await settled(c);
    const pv = sun(2000);
    const grid = dayGrid(ledger.state, DAY);
    // The allocation gave the charger min(PV, consumption) in each interval, and the CPO holds those certificates.
    grid.iso.forEach((iso, k) => assert.equal(held.get(iso), Math.min(pv[k]!, charger[k]!), iso));

    const plan = planChargingOrigin(ledger.state, MONTH, cpo.actor);
    assert.equal(plan.cdrs, 6); // A, B, C, D, E, G2: not G (credited) nor its credit
    const wrong = await refused(ledger, cpo.sign('charging.origin', { ...plan, localWh: plan.localWh + 1 }));
    assert.equal(wrong.code, 'E_ORIGIN_MISMATCH');
    assert.equal(wrong.field, 'body.localWh');
    assert.equal((await refused(ledger, alice.sign('charging.origin', plan))).code, 'E_TX_ROLE');
    await ok(ledger, cpo.sign('charging.origin', plan));
    // A certificate is cancelled once: the month's run is refused a second time.
    assert.equal((await refused(ledger, cpo.sign('charging.origin', planChargingOrigin(ledger.state, MONTH, cpo.actor)))).code, 'E_ORIGIN_DONE');

    const rows = ['A', 'B', 'C', 'D', 'E', 'G2'].map((id) => origin(ledger, id));
    for (const r of rows) {
      assert.ok(r.localWh <= r.importWh, `${r.id}: local ${r.localWh} ≤ session ${r.importWh}`);
      assert.equal(r.intervals.reduce((x, i) => x + i.sessionWh, 0), r.importWh, `${r.id}: the session's energy apportioned over its intervals`);
      for (const i of r.intervals) assert.ok(i.localWh <= i.sessionWh);
      assert.equal(r.intervals.reduce((x, i) => x + i.localWh, 0), r.localWh);
    }
    assert.equal(findOrigin(ledger.state, 'FR*OLC', 'G'), undefined);
    // Σ cancelled for drivers = Σ localWh, beneficiary by beneficiary; the CPO holds nothing where demand exceeded it.
    const total = rows.reduce((x, r) => x + r.localWh, 0);
    assert.equal(total, plan.localWh);
    const cancelled = cancelledForDrivers(ledger);
    assert.equal([...cancelled.values()].reduce((x, v) => x + v, 0), total);
    const byToken = new Map<string, number>();
    for (const r of rows) byToken.set(r.token, (byToken.get(r.token) ?? 0) + r.localWh);
    assert.deepEqual(new Map([...byToken].filter(([, v]) => v > 0)), cancelled);
    // Every interval: Σ local of its sessions = what the CPO held (the charger meters exactly its sessions).
    const perInterval = new Map<string, number>();
    for (const r of rows) for (const i of r.intervals) perInterval.set(i.interval, (perInterval.get(i.interval) ?? 0) + i.localWh);
    for (const [iso, wh] of perInterval) assert.equal(wh, held.get(iso), iso);

    // A and B at 09:30 and 10:00: 5.5 kWh each per half-hour, so half each of the PV.
    for (const iso of ['2025-03-20T09:30:00Z', '2025-03-20T10:00:00Z']) {
      const a = origin(ledger, 'A').intervals.find((i) => i.interval === iso)!.localWh;
      const b = origin(ledger, 'B').intervals.find((i) => i.interval === iso)!.localWh;
      assert.ok(Math.abs(a - b) <= 1 && a + b === held.get(iso), `${iso}: ${a} + ${b}`);
    }
    assert.equal(origin(ledger, 'C').localWh, 0);
    assert.equal(origin(ledger, 'D').localWh, 1000);
    assert.deepEqual(origin(ledger, 'E').intervals.map((i) => [i.interval, i.sessionWh]), [['2025-03-20T13:00:00Z', 1333], ['2025-03-20T13:30:00Z', 2000]]);
    assert.equal(origin(ledger, 'E').localWh, Math.min(1333, pv[28]!) + Math.min(2000, pv[29]!));

    // Claims against the charger meter: within its consumption, equal to what was cancelled.
    const claims = ledger.state.get<ClaimsRow>('claims', `${CHARGER}\u001f${DAY}`)!;
    claims.claimedWh.forEach((w, k) => assert.ok(w <= charger[k]!));
    assert.equal(claims.claimedWh.reduce((x, w) => x + w, 0), total);
    conserved(ledger);

    // The energy mix: D all solar, C nothing local, A partly; percentages exact to 4 decimals.
    const mix = (id: string) => energyMix.parse(cdrEnergyMix(ledger.state, 'FR*OLC', id));
    assert.deepEqual(mix('D'), { is_green_energy: true, energy_sources: [{ source: 'SOLAR', percentage: 100 }] });
    assert.deepEqual(mix('C'), { is_green_energy: false, energy_sources: [] });
    const a = mix('A');
    assert.equal(a.is_green_energy, false);
    assert.equal(a.energy_sources![0]!.source, 'SOLAR');
    assert.ok(Math.abs(a.energy_sources![0]!.percentage - (100 * origin(ledger, 'A').localWh) / 22_000) < 0.0001);
    const withResidual = cdrEnergyMix(ledger.state, 'FR*OLC', 'A', [{ source: 'NUCLEAR', percentage: 70 }, { source: 'GENERAL_FOSSIL', percentage: 30 }])!;
    assert.equal(Math.round(withResidual.energy_sources!.reduce((x, e) => x + e.percentage * 10_000, 0)), 1_000_000);
    // The driver's view: card A's sessions, credited ones left out.
    const mine = driverSessions(ledger.state, token('CARD-A').uid);
    assert.deepEqual(mine.map((m) => [m.id, m.localWh]), [['A', origin(ledger, 'A').localWh], ['D', 1000]]);
    assert.deepEqual(driverSessions(ledger.state, token('CARD-E').uid).map((m) => m.id), ['G2']);
    assert.equal(s.A.priced.importWh, 22_000);

    assert.deepEqual((await verifyLog(ledger, ledger.registry)).problems, []);
  });

  it('leaves certificates the CPO already claimed for itself, and never claims above the meter\'s unclaimed consumption', async () => {
    const c = await originCommunity();
    const { ledger, cpo } = c;
    const held = await settled(c);
    // The CPO claims 500 Wh of 10:00's certificates for its own meter first.
    const iso = '2025-03-20T10:00:00Z';
    const row = ledger.state.get<CertificatesRow>('certificates', `pv-alice\u001f${DAY}`)!;
    const bundle = row.intervals.find((iv) => iv.start === iso)!.bundles.find((b) => b.status === 'active' && b.holder === cpo.actor)!;
    await ok(ledger, cpo.sign('certificate.cancel', { device: 'pv-alice', interval: iso, from: bundle.from, quantityWh: 500, meter: CHARGER }));
    await ok(ledger, cpo.sign('charging.origin', planChargingOrigin(ledger.state, MONTH, cpo.actor)));
    const at10 = ['A', 'B'].map((id) => origin(ledger, id).intervals.find((i) => i.interval === iso)!.localWh);
    assert.equal(at10[0]! + at10[1]!, held.get(iso)! - 500);
    const claims = ledger.state.get<ClaimsRow>('claims', `${CHARGER}\u001f${DAY}`)!;
    claims.claimedWh.forEach((w, k) => assert.ok(w <= c.charger[k]!));
    conserved(ledger);
    assert.deepEqual((await verifyLog(ledger, ledger.registry)).problems, []);
  });

  it('apportions periods over intervals by duration and certificates over sessions exactly (property)', () => {
    // energyByInterval: a session's parts add up to its energy, only in intervals its periods touch.
    fc.assert(fc.property(
      fc.array(fc.record({ gap: fc.integer({ min: 0, max: 7200 }), wh: fc.integer({ min: 0, max: 50_000 }) }), { minLength: 1, maxLength: 8 }),
      fc.integer({ min: 0, max: 7200 }), fc.constantFrom(900, 1800, 3600),
      (ps, tail, L) => {
        let t = 1_700_000_000;
        const periods = ps.map((p) => ({ start: (t += p.gap), energyWh: p.wh }));
        const end = t + tail;
        const parts = energyByInterval({ end, periods: periods as never }, L);
        assert.equal(parts.reduce((s, [, wh]) => s + wh, 0), ps.reduce((s, p) => s + p.wh, 0));
        for (const [start, wh] of parts) {
          assert.ok(wh > 0 && start % L === 0);
          assert.ok(start >= Math.floor(periods[0]!.start / L) * L && start <= Math.max(end, t));
        }
      },
    ));
    // shareInterval over sessions × intervals: Σ per session ≤ its energy, Σ per interval ≤ available and ≤ each meter's room, totals exact.
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 3 }),
      fc.array(fc.integer({ min: 0, max: 20_000 }), { minLength: 216, maxLength: 216 }),
      fc.array(fc.integer({ min: 0, max: 30_000 }), { minLength: 6, maxLength: 6 }),
      fc.array(fc.integer({ min: -100, max: 40_000 }), { minLength: 18, maxLength: 18 }),
      (S, T, M, energies, available, rooms) => {
        const energy = (s: number, t: number) => energies[s * 36 + t * 6]!;
        const meterOf = (s: number) => s % M;
        const got = Array.from({ length: S }, () => 0);
        for (let t = 0; t < T; t++) {
          const meters = Array.from({ length: M }, (_, m) => ({ room: rooms[t * 3 + m]!, sessions: Array.from({ length: S }, (_, s) => s).filter((s) => meterOf(s) === m) }));
          const shares = shareInterval(available[t]!, meters.map((m) => ({ room: m.room, sessions: m.sessions.map((s) => energy(s, t)) })));
          let given = 0;
          let can = 0;
          meters.forEach((m, i) => {
            const part = shares[i]!.reduce((x, y) => x + y, 0);
            assert.ok(part <= Math.max(0, m.room), 'a meter gets no more than its room');
            can += Math.min(Math.max(0, m.room), m.sessions.reduce((x, s) => x + energy(s, t), 0));
            m.sessions.forEach((s, j) => {
              const x = shares[i]![j]!;
              assert.ok(Number.isSafeInteger(x) && x >= 0 && x <= energy(s, t), 'a session gets no more than its energy');
              got[s]! += x;
            });
            given += part;
          });
          assert.ok(given <= available[t]!);
          assert.equal(given, Math.min(available[t]!, can), 'exactly what can be given');
        }
        got.forEach((g, s) => assert.ok(g <= Array.from({ length: T }, (_, t) => energy(s, t)).reduce((x, y) => x + y, 0)));
      },
    ));
  });
});

