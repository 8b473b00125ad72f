import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { verifyLog } from '../audit/verify.ts';
import { chargingCommunity, fixture, LOCATION, TARIFF, token } from '../../test/support/charging.ts';
import { ERIN, EVENT_START, flexCommunity, ok, refused } from '../../test/support/flex.ts';
import { planFlexOrder } from '../flex/order.ts';
import { flexSettleBody, planFlexSettle } from '../flex/settle.ts';
import { cdrFromOcpp } from './cdr.ts';
import { sessionFromOcpp } from './ocpp.ts';
import type { CdrRow } from './tables.ts';

const EUR = 1_000_000;
const halfHours = (f: (k: number) => number) => Array.from({ length: 48 }, (_, k) => f(k));

describe('V2G: an EV on a bidirectional charger', () => {
  it('offers discharge to the DSO like a battery, and its export is delivered flexibility', async () => {
    const { ledger, dso, erin, at } = await flexCommunity();
    at('2026-03-09T08:00:00Z');
    await ok(ledger, dso.sign('meter.register', { meter: ERIN, scheme: 'PRM', direction: 'export', owner: erin.actor, feeder: 'feeder-a' }));
    const noCapacity = await refused(ledger, erin.sign('asset.register', { asset: 'erin-v2g', meter: ERIN, kind: 'ev-v2g', powerW: 7000 }));
    assert.deepEqual([noCapacity.code, noCapacity.field], ['E_ASSET_CAPACITY', 'body.capacityWh']);
    await ok(ledger, erin.sign('asset.register', { asset: 'erin-v2g', meter: ERIN, kind: 'ev-v2g', powerW: 7000, capacityWh: 8000 }));
    await ok(ledger, dso.sign('flex.request', {
      request: 'V1', feeder: 'feeder-a', direction: 'reduce-import', start: EVENT_START, isps: [{ minW: -6000, maxW: -6000 }, { minW: -6000, maxW: -6000 }],
      maxPriceMicroPerKwh: EUR / 2, penaltyMicroPerKwh: EUR, expires: '2026-03-10T12:00:00Z', forecast: [{ feeder: 'feeder-a', W: [26_000, 26_000] }],
    }));
    // The car may give back 8 kWh: three ISPs of 6 kW (9 kWh) would exceed it.
    const offer = { offer: 'E1', request: 'V1', feeder: 'feeder-a', start: EVENT_START, assets: ['erin-v2g'], powerW: [-6000, -6000], priceMicroPerKwh: 300_000, baseline: { method: 'nomination', wh: [500, 500] }, validUntil: '2026-03-10T16:00:00Z' };
    const tooMuch = await refused(ledger, erin.sign('flex.offer', { ...offer, offer: 'E0', request: null, powerW: [-6000, -6000, -6000], baseline: { method: 'nomination', wh: [500, 500, 500] } }));
    assert.equal(tooMuch.code, 'E_FLEX_ENERGY');
    await ok(ledger, erin.sign('flex.offer', offer));
    at('2026-03-10T13:00:00Z');
    await ok(ledger, dso.sign('flex.order', planFlexOrder(ledger.state, 'V1', 'VO1', Date.parse('2026-03-10T13:00:00Z'))));
    // Metered: the house draws 500 Wh per half-hour; in the two ISPs (18:00–19:00 local) the car discharges 3 kWh each, 2.5 kWh net export.
    const inEvent = (k: number) => k === 36 || k === 37;
    await ok(ledger, dso.sign('meter.readings', { meter: ERIN, direction: 'import', date: '2026-03-10', values: halfHours((k) => (inEvent(k) ? 0 : 500)) }));
    await ok(ledger, dso.sign('meter.readings', { meter: ERIN, direction: 'export', date: '2026-03-10', values: halfHours((k) => (inEvent(k) ? 2500 : 0)) }));
    at('2026-04-01T00:00:00Z');
    const month = planFlexSettle(ledger.state, '2026-03');
    const line = month.lines.find((l) => l.offer === 'E1')!;
    assert.deepEqual(line.isps.map((x) => x.deliveredWh), [3000, 3000]);
    assert.equal(line.revenueMicro, 6 * 300_000);
    assert.equal(line.penaltyMicro, 0);
    await ok(ledger, dso.sign('flex.settle', flexSettleBody(month)));
    assert.deepEqual((await verifyLog(ledger, ledger.registry)).problems, []);
  });

  it('a discharging session shows its export in the CDR\'s periods, priced on the import only', async () => {
    const { ledger, cpo, at } = await chargingCommunity();
    const session = sessionFromOcpp(fixture('ocpp201-trace.json'));
    assert.ok(session.exportStopWh! > session.exportStartWh!);
    const { cdr, priced } = cdrFromOcpp(session, { id: 'V2G-1', location: LOCATION, evseUid: 'LANE-1-2', connectorId: '1', token: token('EMAID-1', 'DE*EMS'), tariff: TARIFF, lastUpdated: '2025-06-02T20:00:00Z' });
    const exported = cdr.charging_periods.flatMap((p) => p.dimensions).filter((d) => d.type === 'ENERGY_EXPORT').reduce((s, d) => s + Math.round(d.volume * 1000), 0);
    assert.equal(exported, session.exportStopWh! - session.exportStartWh!);
    assert.equal(priced.exportWh, exported);
    assert.equal(priced.importWh, session.meterStopWh - session.meterStartWh);
    at('2025-06-03T08:00:00Z');
    await ok(ledger, cpo.sign('charging.cdr', { cdr }));
    const row = ledger.state.get('charging_cdrs', 'FR*OLC\u001fV2G-1') as unknown as CdrRow;
    assert.equal(row.exportWh, exported);
    assert.equal(row.importWh, priced.importWh);
  });
});
