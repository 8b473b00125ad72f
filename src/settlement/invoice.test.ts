import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { signer } from '../../test/support/community.ts';
import type { Signer } from '../client.ts';
import { decodeEntry, encodeEntry } from '../ledger/index.ts';
import { clearAt } from '../market/book.ts';
import { MECHANISMS } from '../market/clear-book.ts';
import { createRegistry, emptyState } from '../registry.ts';
import { applyEntry } from '../state/apply.ts';
import { parseInstant } from '../units/index.ts';
import { settleMonth } from './invoice.ts';

const [ALICE, BOB, CAROL] = ['30001234567890', '30009876543210', '30005555555555'];
const I = '2026-03-10T11:00:00Z'; // index 24 of the local day in Paris (UTC+1)
const BEFORE = '2026-03-10T08:00:00Z';
const AFTER = '2026-03-10T10:30:00Z';

const actors = { operator: signer('operator'), dso: signer('dso'), alice: signer('alice'), bob: signer('bob'), carol: signer('carol') };

/** An in-memory log: the state machine without a store, to run many cases quickly. */
function memoryLog() {
  const registry = createRegistry();
  const state = emptyState(registry);
  let size = 0;
  const apply = (tx: ReturnType<Signer['sign']>) => applyEntry(state, registry, decodeEntry(encodeEntry(tx)), size++);
  const { operator, dso, alice, bob, carol } = actors;
  for (const tx of [
    operator.sign('community.create', { name: 'Prop', timeZone: 'Europe/Paris', intervalMinutes: 30, currency: 'EUR', operator: operator.actor }),
    ...[dso, alice, bob, carol].map((s, k) => operator.sign('participant.register', { key: s.actor, roles: [k === 0 ? 'dso' : 'member'] })),
    dso.sign('feeder.define', { id: 'sub' }),
    dso.sign('feeder.define', { id: 'fa', parent: 'sub' }),
    dso.sign('feeder.define', { id: 'fb', parent: 'sub' }),
    dso.sign('meter.register', { meter: ALICE, scheme: 'PRM', direction: 'import', owner: alice.actor, feeder: 'fa' }),
    dso.sign('meter.register', { meter: ALICE, scheme: 'PRM', direction: 'export', owner: alice.actor, feeder: 'fa', technology: 'solar' }),
    dso.sign('meter.register', { meter: BOB, scheme: 'PRM', direction: 'import', owner: bob.actor, feeder: 'fa' }),
    dso.sign('meter.register', { meter: CAROL, scheme: 'PRM', direction: 'export', owner: carol.actor, feeder: 'fb' }),
    dso.sign('tariff.set', { from: '2026-02-28T23:00:00Z', feesMicroPerKwh: { local: 0, feeder: 7_000, substation: 13_000, beyond: 30_000 } }),
  ]) apply(tx);
  return { state, apply };
}

const sideArb = fc.record({ who: fc.constantFrom('alice-sell', 'carol-sell', 'bob-buy', 'alice-buy'), wh: fc.integer({ min: 1, max: 3000 }), price: fc.integer({ min: 60_000, max: 200_000 }) });

describe('settlement, properties', () => {
  test('any orders, any mechanism, any readings: energy and money are conserved exactly', () => {
    fc.assert(fc.property(
      fc.constantFrom(...MECHANISMS), fc.array(sideArb, { maxLength: 8 }),
      fc.tuple(fc.integer({ min: 0, max: 4000 }), fc.integer({ min: 0, max: 4000 }), fc.integer({ min: 0, max: 4000 }), fc.integer({ min: 0, max: 4000 })),
      (mechanism, orders, [aliceImport, aliceExport, bobImport, carolExport]) => {
        const { state, apply } = memoryLog();
        const { operator, dso, alice, bob, carol } = actors;
        apply(operator.sign('market.configure', { from: '2026-02-28T23:00:00Z', mode: 'ex-ante', mechanism, gateClosureMinutes: 30, feedInMicroPerKwh: 60_000, retailMicroPerKwh: 200_000 }));
        for (const o of orders) {
          const [s, meter, side] = o.who === 'alice-sell' ? [alice, ALICE, 'sell'] : o.who === 'carol-sell' ? [carol, CAROL, 'sell'] : o.who === 'bob-buy' ? [bob, BOB, 'buy'] : [alice, ALICE, 'buy'];
          apply(s.sign('order.place', { side, interval: I, quantityWh: o.wh, limitMicroPerKwh: o.price, meter }, BEFORE));
        }
        const { body } = clearAt(state, parseInstant(I));
        apply(operator.sign('market.clear', body, AFTER));
        const day = (v: number) => Array.from({ length: 48 }, (_, k) => (k === 24 ? v : 0));
        apply(dso.sign('meter.readings', { meter: ALICE, direction: 'import', date: '2026-03-10', values: day(aliceImport) }));
        apply(dso.sign('meter.readings', { meter: ALICE, direction: 'export', date: '2026-03-10', values: day(aliceExport) }));
        apply(dso.sign('meter.readings', { meter: BOB, direction: 'import', date: '2026-03-10', values: day(bobImport) }));
        apply(dso.sign('meter.readings', { meter: CAROL, direction: 'export', date: '2026-03-10', values: day(carolExport) }));

        const s = settleMonth(state, '2026-03');
        const t = s.totals;
        // Money: members pay exactly the DSO's fees, the market's surplus and the supplier, less what the grid pays.
        assert.equal(t.chargesMicro - t.creditsMicro, t.feesMicro + t.surplusMicro + t.supplierMicro - t.gridMicro);
        assert.equal(t.peerPaidMicro, t.peerProceedsMicro + t.surplusMicro);
        // Energy: peer trades cancel; supplier minus grid energy is metered import minus metered export.
        const wh = (kind: string) => s.invoices.flatMap((i) => i.lines).filter((l) => l.kind === kind).reduce((a, l) => a + l.wh, 0);
        assert.equal(wh('peer-purchase'), wh('peer-sale'));
        assert.equal(wh('peer-purchase'), body.volumeWh);
        assert.equal(wh('supplier-purchase') - wh('grid-sale'), aliceImport + bobImport - aliceExport - carolExport);
        // Each member's invoice adds up.
        for (const inv of s.invoices) {
          assert.equal(inv.totalMicro, inv.lines.reduce((a, l) => a + (l.credit ? -l.amountMicro : l.amountMicro), 0));
          const curves = inv.participant === actors.alice.actor ? 2 : 1;
          assert.equal(inv.missingIntervals, curves * (31 * 48 - 2 - 48), 'March in Paris (29 March has 46 half-hours), less the day read, per curve');
        }
      },
    ), { numRuns: 60 });
  });

  test('a mechanism switched by the operator applies from its interval on, and earlier books keep theirs', () => {
    const { state, apply } = memoryLog();
    const { operator } = actors;
    apply(operator.sign('market.configure', { from: '2026-02-28T23:00:00Z', mode: 'ex-ante', mechanism: 'uniform', gateClosureMinutes: 30, feedInMicroPerKwh: 60_000, retailMicroPerKwh: 200_000 }));
    apply(operator.sign('market.configure', { from: '2026-03-10T11:30:00Z', mode: 'ex-ante', mechanism: 'mcafee', gateClosureMinutes: 30, feedInMicroPerKwh: 60_000, retailMicroPerKwh: 200_000 }));
    assert.equal(clearAt(state, parseInstant(I)).body.mechanism, 'uniform');
    assert.equal(clearAt(state, parseInstant('2026-03-10T11:30:00Z')).body.mechanism, 'mcafee');
    apply(operator.sign('market.clear', clearAt(state, parseInstant('2026-03-10T11:30:00Z')).body, AFTER.replace('10:30', '11:00')));
    assert.throws(() => apply(operator.sign('market.configure', { from: I, mode: 'ex-post', mechanism: 'midpoint', gateClosureMinutes: 0, feedInMicroPerKwh: 0, retailMicroPerKwh: 1 })), { code: 'E_RULE_RETROACTIVE' });
  });
});
