import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Signer } from '../client.ts';
import { runMonth } from '../allocation/month.ts';
import { ALICE_PRM, BOB_PRM, certifiedCommunity, DATE, flat, MONTH, ok, sun } from '../../test/support/certificates.ts';
import { COMMUNITY, seededKey, smallCommunity } from '../../test/support/community.ts';
import { verifyLog } from '../audit/verify.ts';
import type { SubmitInput, SqliteLedger } from '../store/sqlite-ledger.ts';
import { bundleHash, isLive, quantity } from './bundles.ts';
import { planIssue } from './issue.ts';
import { bundles, eecsExport, matching, origin, totals } from './reports.ts';
import { planSettle } from './settle.ts';
import { type CertificatesRow, type ClaimsRow, findCertificates } from './tables.ts';

async function refused(ledger: SqliteLedger, tx: SubmitInput): Promise<string> {
  const r = await ledger.submit(tx);
  assert.equal(r.ok, false, 'expected a refusal');
  return r.ok ? '' : r.error.code;
}

const community = () => certifiedCommunity(':memory:');

/** conservation checks the invariants that must hold after any sequence of operations. */
function conservation(ledger: SqliteLedger): void {
  const state = ledger.state;
  for (const row of state.rows('certificates') as IterableIterator<CertificatesRow>) {
    const metered = state.get<{ values: (number | null)[] }>('readings', `${findDevice(state, row.device).meter}\u001fexport\u001f${row.date}`)!.values;
    const ids: [number, number][] = [];
    row.intervals.forEach((iv, k) => {
      let valid = 0;
      for (const b of iv.bundles) {
        assert.ok(b.to >= b.from, 'a bundle holds at least one certificate');
        if (!isLive(b)) continue;
        ids.push([b.from, b.to]);
        if (b.status !== 'withdrawn') valid += quantity(b);
      }
      assert.equal(valid, iv.meteredWh, `${row.device} ${iv.start}: valid certificates equal what they rest on`);
      assert.ok(iv.meteredWh <= (metered[k] ?? 0), `${row.device} ${iv.start}: issued ${iv.meteredWh} Wh above the metered ${metered[k]}`);
    });
    ids.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i]![0] > ids[i - 1]![1], 'no certificate ID in two live bundles');
  }
  for (const c of state.rows('claims') as IterableIterator<ClaimsRow>) {
    const consumed = state.get<{ values: (number | null)[] }>('readings', `${c.meter}\u001fimport\u001f${c.date}`)!.values;
    c.claimedWh.forEach((w, k) => assert.ok(w >= 0 && w <= (consumed[k] ?? 0), `claims of ${c.meter} ${c.date}[${k}] within consumption`));
  }
  const t = totals(state, MONTH);
  assert.equal(t.active + t.cancelled + t.expired + t.withdrawn, t.issuedWh);
}
const findDevice = (state: SqliteLedger['state'], device: string) => state.get<{ meter: string }>('devices', device)!;

describe('certificates of origin', () => {
  test('device.register checks codes, the meter and one device per meter', async () => {
    const { ledger, dso, alice } = await smallCommunity(':memory:');
    const device = { device: 'pv-1', meter: ALICE_PRM, fuel: 'F01040100', technology: 'T010100', capacityW: 6000, commissioned: '2024-04-01', zone: 'FR', gridArea: 'g', support: true };
    assert.equal(await refused(ledger, dso.sign('device.register', { ...device, fuel: 'F01050100' })), 'E_CODE_PAIR');
    assert.equal(await refused(ledger, dso.sign('device.register', { ...device, technology: 'T999999' })), 'E_TX_BODY');
    assert.equal(await refused(ledger, dso.sign('device.register', { ...device, meter: BOB_PRM })), 'E_UNKNOWN_METER');
    assert.equal(await refused(ledger, alice.sign('device.register', device)), 'E_TX_ROLE');
    await ok(ledger, dso.sign('device.register', device));
    assert.equal(await refused(ledger, dso.sign('device.register', { ...device, device: 'pv-2' })), 'E_METER_HAS_DEVICE');
    assert.equal(ledger.state.get<{ owner: string }>('devices', 'pv-1')!.owner, alice.actor);
  });

  test('issuance: one bundle per interval, IDs without gaps, never twice, above capacity refused; verify recomputes it', async () => {
    const { ledger, dso } = await community();
    const body = planIssue(ledger.state, DATE);
    const values = sun(2000);
    assert.equal(body.issuedWh, values.reduce((s, v) => s + v, 0));
    assert.equal(body.deviceDays, 1);
    assert.equal(await refused(ledger, dso.sign('certificates.issue', { ...body, issuedWh: body.issuedWh + 1 })), 'E_ISSUANCE_MISMATCH');
    await ok(ledger, dso.sign('certificates.issue', body));
    const row = findCertificates(ledger.state, 'pv-alice', DATE)!;
    let next = 1;
    row.intervals.forEach((iv, k) => {
      if (values[k] === 0) return assert.equal(iv.bundles.length, 0);
      assert.deepEqual(iv.bundles.map((b) => [b.from, b.to, b.status]), [[next, next + values[k]! - 1, 'active']]);
      next += values[k]!;
    });
    assert.equal(await refused(ledger, dso.sign('certificates.issue', body)), 'E_NOTHING_TO_ISSUE');
    // 3,001 Wh in a half-hour is above 6 kW × 30 min: refused, recorded, nothing issued.
    await ok(ledger, dso.sign('meter.readings', { meter: ALICE_PRM, direction: 'export', date: '2026-06-02', values: [...flat(0).slice(0, 20), 3001, ...flat(0).slice(21)] }));
    const high = planIssue(ledger.state, '2026-06-02');
    assert.equal(high.refusedIntervals, 1);
    assert.equal(high.issuedWh, 0);
    await ok(ledger, dso.sign('certificates.issue', high));
    assert.deepEqual(findCertificates(ledger.state, 'pv-alice', '2026-06-02')!.refused, [20]);
    conservation(ledger);
    assert.deepEqual((await verifyLog(ledger, ledger.registry)).problems, []);
  });

  test('settlement moves certificates along the allocation and claims them hour by hour for members who opted in', async () => {
    const { ledger, dso, operator, bob } = await community();
    await ok(ledger, dso.sign('certificates.issue', planIssue(ledger.state, DATE)));
    await ok(ledger, bob.sign('certificate.autoclaim', { enabled: true }));
    assert.equal(await refused(ledger, operator.sign('certificates.settle', { ...planSettle(ledger.state, MONTH), movedWh: 1 })), 'E_SETTLEMENT_MISMATCH');
    await ok(ledger, operator.sign('allocation.run', runMonth(ledger.state, MONTH, { kind: 'prorata' }).summary));
    const allocation = runMonth(ledger.state, MONTH, { kind: 'prorata' });
    const settle = planSettle(ledger.state, MONTH);
    await ok(ledger, operator.sign('certificates.settle', settle));
    // Every allocated Wh moved with its certificates: production is all certified and the members are alice and bob.
    const bobIndex = allocation.input.members.indexOf(BOB_PRM);
    const bobAllocated = allocation.summary.members[bobIndex]!.allocatedWh;
    assert.ok(bobAllocated > 0);
    const held = bundles(ledger.state, MONTH, bob.actor);
    assert.equal(held.reduce((s, b) => s + b.quantityWh, 0), bobAllocated);
    // Bob opted in: everything he received is claimed against his own consumption, in its hour.
    assert.ok(held.every((b) => b.status === 'cancelled' && b.claim!.meter === BOB_PRM && b.claim!.beneficiary === bob.actor));
    assert.equal(settle.claimedWh, bobAllocated);
    const m = matching(ledger.state, MONTH, bob.actor);
    assert.equal(m.hourlyMatchedWh, bobAllocated);
    assert.equal(origin(ledger.state, MONTH, bob.actor).reduce((s, h) => s + (h.byTechnology.solar ?? 0), 0), bobAllocated);
    // Lineage: each bundle's entries begin with the issuance and end with the settlement.
    for (const b of held) assert.equal(b.entries.at(-1), ledger.size - 1);
    assert.equal(await refused(ledger, operator.sign('certificates.settle', settle)), 'E_MONTH_SETTLED');
    conservation(ledger);
    assert.deepEqual((await verifyLog(ledger, ledger.registry)).problems, []);
  });

  test('a correction after issuance withdraws explicitly, claims last (revoking them), and a settlement waits for it', async () => {
    const { ledger, dso, operator, bob } = await community();
    await ok(ledger, dso.sign('certificates.issue', planIssue(ledger.state, DATE)));
    await ok(ledger, bob.sign('certificate.autoclaim', { enabled: true }));
    await ok(ledger, operator.sign('allocation.run', runMonth(ledger.state, MONTH, { kind: 'prorata' }).summary));
    await ok(ledger, operator.sign('certificates.settle', planSettle(ledger.state, MONTH)));
    const claimedBefore = matching(ledger.state, MONTH, bob.actor).hourlyMatchedWh;
    // The DSO finds the export was half as much.
    await ok(ledger, dso.sign('meter.correct', { meter: ALICE_PRM, direction: 'export', date: DATE, values: sun(1000), reason: 'validated-by-dso' }));
    const fix = planIssue(ledger.state, DATE);
    assert.equal(fix.withdrawnWh, sun(2000).reduce((s, v) => s + v, 0) - sun(1000).reduce((s, v) => s + v, 0));
    await ok(ledger, dso.sign('certificates.issue', fix));
    const after = matching(ledger.state, MONTH, bob.actor).hourlyMatchedWh;
    assert.equal(claimedBefore - after, fix.revokedWh);
    conservation(ledger);
    // Corrected upwards again: a correction bundle with new IDs.
    await ok(ledger, dso.sign('meter.correct', { meter: ALICE_PRM, direction: 'export', date: DATE, values: sun(1500), reason: 'other' }));
    const up = planIssue(ledger.state, DATE);
    assert.equal(up.issuedWh, sun(1500).reduce((s, v) => s + v, 0) - sun(1000).reduce((s, v) => s + v, 0));
    await ok(ledger, dso.sign('certificates.issue', up));
    const row = findCertificates(ledger.state, 'pv-alice', DATE)!;
    assert.ok(row.intervals.some((iv) => iv.bundles.some((b) => b.reason === 'correction')));
    conservation(ledger);
    // A month cannot be settled from stale certificates.
    await ok(ledger, dso.sign('meter.readings', { meter: ALICE_PRM, direction: 'export', date: '2026-07-01', values: sun(500) }));
    await ok(ledger, dso.sign('certificates.issue', planIssue(ledger.state, '2026-07-01')));
    await ok(ledger, dso.sign('meter.correct', { meter: ALICE_PRM, direction: 'export', date: '2026-07-01', values: sun(400), reason: 'other' }));
    assert.throws(() => planSettle(ledger.state, '2026-07'), { code: 'E_ISSUANCE_STALE' });
    assert.deepEqual((await verifyLog(ledger, ledger.registry)).problems, []);
  });

  test('transfer splits a bundle with lineage; a claim stays in its clock hour and under consumption; expiry stops moves', async () => {
    const { ledger, dso, operator, alice, bob } = await community();
    await ok(ledger, dso.sign('certificates.issue', planIssue(ledger.state, DATE)));
    const first = bundles(ledger.state, MONTH, alice.actor).find((b) => b.quantityWh > 100)!;
    const ref = { device: first.device, interval: first.interval, from: first.from };
    assert.equal(await refused(ledger, bob.sign('certificate.transfer', { ...ref, quantityWh: 10, to: bob.actor })), 'E_NOT_HOLDER');
    assert.equal(await refused(ledger, alice.sign('certificate.transfer', { ...ref, quantityWh: first.quantityWh + 1, to: bob.actor })), 'E_QUANTITY');
    await ok(ledger, alice.sign('certificate.transfer', { ...ref, quantityWh: 100, to: bob.actor }));
    const row = findCertificates(ledger.state, 'pv-alice', DATE)!;
    const iv = row.intervals.find((i) => i.start === first.interval)!;
    const [parent, moved, rest] = [iv.bundles[0]!, iv.bundles[1]!, iv.bundles[2]!];
    assert.equal(parent.status, 'split');
    assert.deepEqual([moved.from, moved.to, moved.holder, moved.parent], [first.from, first.from + 99, bob.actor, 0]);
    assert.deepEqual([rest.from, rest.to, rest.holder], [first.from + 100, first.to, alice.actor]);
    assert.notEqual(bundleHash('pv-alice', iv, 1), bundleHash('pv-alice', iv, 2));
    // Bob claims 100 Wh: not against another hour, not above his 400 Wh per half-hour.
    const claim = { device: first.device, interval: first.interval, from: first.from, meter: BOB_PRM };
    const otherHour = new Date(Date.parse(first.interval) + 3_600_000).toISOString().replace('.000Z', 'Z');
    assert.equal(await refused(ledger, bob.sign('certificate.cancel', { ...claim, quantityWh: 100, consumptionInterval: otherHour })), 'E_OTHER_HOUR');
    // Nobody uses up another member's consumption with claims of their own.
    assert.equal(await refused(ledger, bob.sign('certificate.cancel', { ...claim, quantityWh: 100, meter: ALICE_PRM })), 'E_NOT_METER_OWNER');
    await ok(ledger, bob.sign('certificate.cancel', { ...claim, quantityWh: 100 }));
    assert.equal(matching(ledger.state, MONTH, bob.actor).hourlyMatchedWh, 100);
    const big = bundles(ledger.state, MONTH, alice.actor).find((b) => b.quantityWh > 400 && b.status === 'active')!;
    await ok(ledger, alice.sign('certificate.transfer', { device: big.device, interval: big.interval, from: big.from, quantityWh: big.quantityWh, to: bob.actor }));
    assert.equal(await refused(ledger, bob.sign('certificate.cancel', { device: big.device, interval: big.interval, from: big.from, quantityWh: 401, meter: BOB_PRM })), 'E_ABOVE_CONSUMPTION');
    conservation(ledger);
    // A year and a month later: too early for a transfer; the month expires; nothing moves.
    const late = new Signer(seededKey('operator'), COMMUNITY, operator.nonce, () => '2027-08-01T00:00:00Z');
    assert.equal(await refused(ledger, new Signer(seededKey('operator'), COMMUNITY, operator.nonce, () => '2027-06-15T00:00:00Z').sign('certificates.expire', { month: MONTH, expiredWh: 0 })), 'E_NOT_EXPIRED');
    const active = totals(ledger.state, MONTH).active;
    assert.equal(await refused(ledger, late.sign('certificates.expire', { month: MONTH, expiredWh: active + 1 })), 'E_EXPIRY_MISMATCH');
    late.nonce = operator.nonce;
    await ok(ledger, late.sign('certificates.expire', { month: MONTH, expiredWh: active }));
    assert.equal(totals(ledger.state, MONTH).expired, active);
    const still = bundles(ledger.state, MONTH, alice.actor).find((b) => b.status === 'expired')!;
    assert.equal(await refused(ledger, alice.sign('certificate.transfer', { device: still.device, interval: still.interval, from: still.from, quantityWh: 1, to: bob.actor })), 'E_BUNDLE_NOT_ACTIVE');
    conservation(ledger);
    assert.deepEqual((await verifyLog(ledger, ledger.registry)).problems, []);
  });

  test('EECS export: whole MWh per device and month, the remainder carried', async () => {
    const { ledger, dso } = await community();
    for (let d = 2; d <= 30; d++) {
      const date = `2026-06-${String(d).padStart(2, '0')}`;
      await ok(ledger, dso.sign('meter.readings', { meter: ALICE_PRM, direction: 'export', date, values: sun(2900) }));
    }
    for (let d = 1; d <= 30; d++) await ok(ledger, dso.sign('certificates.issue', planIssue(ledger.state, `2026-06-${String(d).padStart(2, '0')}`)));
    const produced = 29 * sun(2900).reduce((s, v) => s + v, 0) + sun(2000).reduce((s, v) => s + v, 0);
    const [go] = eecsExport(ledger.state, MONTH);
    assert.equal(go!.producedWh, produced);
    assert.equal(go!.gos, Math.floor(produced / 1e6));
    assert.equal(go!.carriedOutWh, produced % 1e6);
    assert.equal(go!.energySource, 'F01040100');
    await ok(ledger, dso.sign('meter.readings', { meter: ALICE_PRM, direction: 'export', date: '2026-07-01', values: sun(2900) }));
    await ok(ledger, dso.sign('certificates.issue', planIssue(ledger.state, '2026-07-01')));
    const [july] = eecsExport(ledger.state, '2026-07');
    assert.equal(july!.carriedInWh, produced % 1e6);
    assert.equal(july!.gos * 1e6 + july!.carriedOutWh, july!.carriedInWh + july!.producedWh);
  });
});
