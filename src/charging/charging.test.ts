import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { verifyLog } from '../audit/verify.ts';
import { chargingCommunity, LOCATION, ocpp16Cdr, simpleCdr, TARIFF, token } from '../../test/support/charging.ts';
import { ok, refused } from '../../test/support/flex.ts';
import { creditCdr, makeCdr } from './cdr.ts';
import { planChargingSettle } from './roaming.ts';
import type { CdrRow } from './tables.ts';

describe('EV charging on the log', () => {
  it('records a CDR from an OCPP 1.6 trace, priced again on apply', async () => {
    const { ledger, cpo, at } = await chargingCommunity();
    at('2025-03-14T12:00:00Z');
    const { cdr, priced } = ocpp16Cdr();
    // 15.065 kWh at the day rate, the start fee, and 10 of the 40 parked minutes (parking is paid after 2 h).
    assert.equal(priced.importWh, 15065);
    assert.equal(priced.energy.excl, 4_519_500);
    assert.equal(priced.parking.billed, 600);
    assert.equal(priced.total.excl, 500_000 + 4_519_500 + 333_333);
    assert.equal(cdr.total_cost.excl_vat, 5.3528);
    await ok(ledger, cpo.sign('charging.cdr', { cdr }));
    const row = ledger.state.get('charging_cdrs', 'FR*OLC\u001fCDR-1') as unknown as CdrRow;
    assert.equal(row.exclMicro, priced.total.excl);
    assert.equal(row.emsp, 'NL*TST');
    assert.equal(row.month, '2025-03');
    assert.deepEqual((await verifyLog(ledger, ledger.registry)).problems, []);
  });

  it('refuses a wrong price, a raw token, an unknown eMSP, a tariff the log has not seen, a session not yet over', async () => {
    const { ledger, cpo, at } = await chargingCommunity();
    at('2025-03-14T12:00:00Z');
    const { cdr } = ocpp16Cdr();
    let e = await refused(ledger, cpo.sign('charging.cdr', { cdr: { ...cdr, total_cost: { excl_vat: 5.0, incl_vat: 6.0 } } }));
    assert.equal(e.code, 'E_CDR_PRICE');
    assert.equal(e.field, 'body.cdr.total_cost');
    e = await refused(ledger, cpo.sign('charging.cdr', { cdr: { ...cdr, cdr_token: { ...cdr.cdr_token, uid: '04A1B2C3D4E5F6' } } }));
    assert.equal(e.code, 'E_CDR_TOKEN');
    e = await refused(ledger, cpo.sign('charging.cdr', { cdr: ocpp16Cdr('CDR-X', 'CARD', 'BE*UNK').cdr }));
    assert.equal(e.code, 'E_UNKNOWN_EMSP');
    e = await refused(ledger, cpo.sign('charging.cdr', { cdr: { ...cdr, tariffs: [{ ...TARIFF, elements: TARIFF.elements.slice(1) }] } }));
    assert.equal(e.code, 'E_CDR_TARIFF');
    e = await refused(ledger, cpo.sign('charging.cdr', { cdr: { ...cdr, remark: 'Mr Dupont, plate AB-123-CD' } }));
    assert.equal(e.code, 'E_CDR_PERSONAL');
    at('2025-03-14T10:00:00Z');
    e = await refused(ledger, cpo.sign('charging.cdr', { cdr }));
    assert.equal(e.code, 'E_CDR_FUTURE');
    assert.equal(ledger.state.count('charging_cdrs'), 0);
  });

  it('corrects with a credit CDR, settles the month per CPO and eMSP, and conserves money', async () => {
    const { ledger, cpo, operator, at } = await chargingCommunity();
    at('2025-03-20T12:00:00Z');
    const a = simpleCdr('A1', '2025-03-20T07:00:00Z', 60, 11, 0, 'CARD-A', 'NL*TST');
    const b = simpleCdr('B1', '2025-03-20T20:30:00Z', 90, 20, 150, 'CARD-B', 'DE*EMS', 'LANE-1-2'); // 21:30 local: day then night energy
    at('2025-03-21T12:00:00Z');
    await ok(ledger, cpo.sign('charging.cdr', { cdr: a.cdr }));
    await ok(ledger, cpo.sign('charging.cdr', { cdr: b.cdr }));
    // A1 was wrong (the driver had 10 kWh): credit it, then send the right one.
    await ok(ledger, cpo.sign('charging.cdr', { cdr: creditCdr(a.cdr, 'A1-C', '2025-03-22T09:00:00Z') }));
    const again = await refused(ledger, cpo.sign('charging.cdr', { cdr: creditCdr(a.cdr, 'A1-C2', '2025-03-22T09:00:00Z') }));
    assert.equal(again.code, 'E_CDR_CREDIT');
    const a2 = simpleCdr('A2', '2025-03-20T07:00:00Z', 60, 10, 0, 'CARD-A', 'NL*TST');
    await ok(ledger, cpo.sign('charging.cdr', { cdr: a2.cdr }));
    const early = await refused(ledger, operator.sign('charging.settle', { month: '2025-03', lines: planChargingSettle(ledger.state, '2025-03') }));
    assert.equal(early.code, 'E_CHARGING_GATE');
    at('2025-04-01T08:00:00Z');
    const lines = planChargingSettle(ledger.state, '2025-03');
    assert.equal(lines.length, 2);
    const nl = lines.find((l) => l.emsp === 'NL*TST')!;
    assert.equal(nl.cdrs, 2);
    assert.equal(nl.credits, 1);
    assert.equal(nl.netExclMicro, a2.priced.total.excl);
    assert.equal(nl.energyWh, 10_000);
    const wrong = await refused(ledger, operator.sign('charging.settle', { month: '2025-03', lines: [{ ...lines[0]!, netExclMicro: lines[0]!.netExclMicro + 1 }, lines[1]!] }));
    assert.equal(wrong.code, 'E_CHARGING_SETTLE_MISMATCH');
    await ok(ledger, operator.sign('charging.settle', { month: '2025-03', lines }));
    // Σ receipts of CPOs = Σ payments of eMSPs = Σ CDR totals of the month.
    const cdrTotal = a2.priced.total.excl + b.priced.total.excl;
    assert.equal(lines.reduce((s, l) => s + l.netExclMicro, 0), cdrTotal);
    // A late CDR of March goes to April's statement.
    at('2025-04-02T08:00:00Z');
    await ok(ledger, cpo.sign('charging.cdr', { cdr: simpleCdr('L1', '2025-03-31T10:00:00Z', 30, 5).cdr }));
    assert.equal((ledger.state.get('charging_cdrs', 'FR*OLC\u001fL1') as unknown as CdrRow).month, '2025-04');
    assert.deepEqual((await verifyLog(ledger, ledger.registry)).problems, []);
  });

  it('a token is a keyed hash: the same card gives the same pseudonym, another key another', () => {
    assert.equal(token('CARD-A').uid, token('card-a').uid);
    assert.notEqual(token('CARD-A').uid, token('CARD-B').uid);
    assert.match(token('CARD-A').uid, /^[0-9a-f]{32}$/);
  });
  it('refuses what an attacker would try: the same session billed twice, a tariff version not in force, a location moved to another zone, a month-long CDR, signed data with the card in clear', async () => {
    const { ledger, cpo, at } = await chargingCommunity();
    at('2025-03-21T12:00:00Z');
    const a = simpleCdr('A1', '2025-03-20T07:00:00Z', 60, 11);
    await ok(ledger, cpo.sign('charging.cdr', { cdr: a.cdr }));
    const twice = await refused(ledger, cpo.sign('charging.cdr', { cdr: { ...a.cdr, id: 'A1-DUP' } }));
    assert.deepEqual([twice.code, twice.field], ['E_CDR_DUPLICATE', 'body.cdr.start_date_time']);
    // Overlapping at the same connector is the same charger twice; at the other EVSE it is fine.
    assert.equal((await refused(ledger, cpo.sign('charging.cdr', { cdr: simpleCdr('A2', '2025-03-20T07:30:00Z', 60, 5).cdr }))).code, 'E_CDR_DUPLICATE');
    await ok(ledger, cpo.sign('charging.cdr', { cdr: simpleCdr('A3', '2025-03-20T07:30:00Z', 60, 5, 0, 'CARD-B', 'NL*TST', 'LANE-1-2').cdr }));
    // A new version at 3 EUR/kWh backdated by its last_updated is in force only from when it is recorded.
    const dear = { ...TARIFF, last_updated: '2025-01-02T00:00:00Z', elements: [{ price_components: [{ type: 'ENERGY' as const, price: 3, vat: 20, step_size: 1 }] }] };
    await ok(ledger, cpo.sign('charging.tariff', { tariff: dear }));
    const backdated = makeCdr({ id: 'B1', location: LOCATION, evseUid: 'LANE-1-1', connectorId: '1', token: token('CARD-C'), tariff: dear, start: '2025-03-20T10:00:00Z', end: '2025-03-20T11:00:00Z', periods: [{ start_date_time: '2025-03-20T10:00:00Z', dimensions: [{ type: 'ENERGY', volume: 11 }] }], lastUpdated: '2025-03-21T12:00:00Z' });
    const e = await refused(ledger, cpo.sign('charging.cdr', { cdr: backdated.cdr }));
    assert.deepEqual([e.code, e.field], ['E_CDR_TARIFF', 'body.cdr.tariffs.0.last_updated']);
    const moved = await refused(ledger, cpo.sign('charging.location', { location: { ...LOCATION, time_zone: 'America/New_York' }, meter: null }));
    assert.equal(moved.code, 'E_LOCATION_ZONE');
    // A CDR over 31 days is refused before any pricing work (every replay would pay for it).
    assert.throws(() => simpleCdr('L1', '1800-01-01T00:00:00Z', 60 * 24 * 400, 11), /more than the 31 a CDR may cover/);
    const signed = await refused(ledger, cpo.sign('charging.cdr', { cdr: { ...simpleCdr('S1', '2025-03-21T08:00:00Z', 60, 5, 0, 'CARD-E', 'NL*TST', 'LANE-1-2').cdr, signed_data: { encoding_method: 'OCMF', signed_values: [{ nature: 'Start', plain_data: '{"ID":"04A1B2C3D4E5F6"}', signed_data: 'AAAA' }] } } }));
    assert.deepEqual([signed.code, signed.field], ['E_CDR_PERSONAL', 'body.cdr.signed_data']);
  });
});
