import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { tempDb } from '../../test/support/community.ts';
import { verifyLog } from '../audit/verify.ts';
import type { OrderRow, SettlementRow } from '../flex/tables.ts';
import { SqliteLedger } from '../store/sqlite-ledger.ts';
import { simulate } from './run.ts';
import { EV_CONGESTION_SCENARIO, parseScenario } from './scenario.ts';

describe('flexibility in the simulator', () => {
  test('ev-congestion, 2 days: flexibility cuts the energy above the feeder limit, is ordered, delivered, settled and verified', async () => {
    const dir = join(tempDb(), '..');
    // Certificates of origin off: they are not what this test is about, and cost time.
    const scenario = parseScenario({ ...EV_CONGESTION_SCENARIO, certificates: false }, 'ev-congestion');
    const off = await simulate({ scenario, out: join(dir, 'off'), days: 2, flexibility: 'off' });
    const on = await simulate({ scenario, out: join(dir, 'on'), days: 2, flexibility: 'on' });
    const a = off.kpis.flexibility;
    const b = on.kpis.flexibility;
    assert.equal(a.enabled, false);
    assert.equal(b.enabled, true);
    assert.ok(a.kwhAboveLimit > 10 && a.hoursAboveLimit > 1, `without flexibility the EVs overload the street: ${a.kwhAboveLimit} kWh in ${a.hoursAboveLimit} h`);
    assert.ok(b.kwhAboveLimit < 0.4 * a.kwhAboveLimit, `flexibility removes most of it: ${b.kwhAboveLimit} of ${a.kwhAboveLimit} kWh`);
    assert.ok(b.hoursAboveLimit < a.hoursAboveLimit);
    assert.equal(a.requests, 0);
    assert.ok(b.requests >= 2 && b.orders >= 2, `${b.requests} requests, ${b.orders} orders`);
    assert.ok(b.orderedKwh > 0 && b.deliveredKwh > 0 && b.deliveredKwh <= b.orderedKwh, `ordered ${b.orderedKwh}, delivered ${b.deliveredKwh}`);
    // The DSO's cost is what the providers' settlement lines net, and what the month's invoices credit them.
    assert.ok(b.dsoCostMicro > 0);
    assert.equal(b.dsoCostMicro, b.memberEarningsMicro + b.aggregatorEarningsMicro);
    assert.ok(b.aggregatorEarningsMicro > 0, 'the aggregator is paid for deferring EVs');
    assert.equal(on.kpis.money.flexMicro, b.dsoCostMicro);
    assert.equal(on.kpis.money.balanceMicro, 0);
    // The EVs still get their energy: deferred, not dropped.
    assert.equal(on.kpis.evKwh, off.kpis.evKwh);
    assert.equal(on.kpis.ledger.verified, true);
    assert.equal(off.kpis.ledger.verified, true);
    assert.equal(typeof on.kpis.selfSufficiency, 'number');

    const ledger = SqliteLedger.open(join(dir, 'on', 'ledger.db'), { projections: false });
    try {
      const types = new Map<string, number>();
      for (let i = 0; i < ledger.size; i++) {
        const type = (JSON.parse(Buffer.from(ledger.entry(i)).toString('utf8')) as { type: string }).type;
        types.set(type, (types.get(type) ?? 0) + 1);
      }
      for (const t of ['asset.register', 'flex.request', 'flex.offer', 'flex.order', 'flex.settle']) assert.ok((types.get(t) ?? 0) > 0, `${t} in the log`);
      assert.equal(types.get('flex.settle'), 1, 'one month settled');
      let state: import('../state/tables.ts').State | undefined;
      assert.deepEqual((await verifyLog(ledger, ledger.registry, { onReplayed: (s) => (state = s) })).problems, []);
      const settlements = [...state!.rows('flex_settlements')] as SettlementRow[];
      const lines = settlements.flatMap((s) => s.lines);
      assert.equal(settlements.reduce((s, x) => s + x.totalMicro, 0), lines.reduce((s, l) => s + l.netMicro, 0));
      for (const l of lines) assert.ok(l.deliveredWh <= l.isps.reduce((s, x) => s + x.orderedWh, 0));
      const orders = [...state!.rows('flex_orders')] as OrderRow[];
      assert.equal(lines.length, orders.reduce((s, o) => s + o.ordered.length, 0), 'every ordered offer is settled');
    } finally {
      await ledger.close();
    }
  });
});
