import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { runMonth } from '../allocation/month.ts';
import { smallCommunity } from '../../test/support/community.ts';
import { verifyLog } from '../audit/verify.ts';
import type { SqliteLedger } from '../store/sqlite-ledger.ts';
import { isLive, quantity } from './bundles.ts';
import { planIssue } from './issue.ts';
import { bundles, totals } from './reports.ts';
import { planSettle } from './settle.ts';
import type { CertificatesRow, ClaimsRow, DeviceRow } from './tables.ts';

const ALICE = '30001234567890';
const BOB = '30009876543210';
const DAYS = ['2026-06-01', '2026-06-02'];
const MONTH = '2026-06';

/** checkInvariants: what must hold after any sequence of issuance, corrections, moves, claims and settlements. */
function checkInvariants(ledger: SqliteLedger): void {
  const state = ledger.state;
  const claimed = new Map<string, number>();
  const ids = new Map<string, [number, number][]>();
  for (const row of state.rows('certificates') as IterableIterator<CertificatesRow>) {
    const device = state.get<DeviceRow>('devices', row.device)!;
    const readings = state.get<{ values: (number | null)[]; entry: number }>('readings', `${device.meter}\u001fexport\u001f${row.date}`)!;
    // Between a correction and the next issuance the certificates rest on the readings they were issued from.
    const metered = row.readingsEntry === readings.entry ? readings.values : null;
    row.intervals.forEach((iv, k) => {
      let valid = 0;
      for (const b of iv.bundles) {
        assert.ok(b.to >= b.from, 'a bundle holds at least one certificate');
        if (!isLive(b)) continue;
        const list = ids.get(row.device) ?? [];
        list.push([b.from, b.to]);
        ids.set(row.device, list);
        if (b.status !== 'withdrawn') valid += quantity(b);
        if (b.status === 'cancelled') {
          assert.ok(b.claim);
          const key = `${b.claim.meter} ${b.claim.interval}`;
          claimed.set(key, (claimed.get(key) ?? 0) + quantity(b));
        }
      }
      // Per device-interval: what is valid is what it rests on, never above the metered export (or capacity).
      assert.equal(valid, iv.meteredWh);
      if (metered) assert.ok(iv.meteredWh <= (metered[k] ?? 0), `${iv.start}: ${iv.meteredWh} Wh issued, ${metered[k]} metered`);
      assert.ok(iv.meteredWh <= 3000);
    });
  }
  // No ID in two live bundles, and every ID below nextId.
  for (const [device, list] of ids) {
    list.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < list.length; i++) assert.ok(list[i]![0] > list[i - 1]![1], `${device}: IDs overlap`);
    assert.ok(list.every(([, to]) => to < state.get<DeviceRow>('devices', device)!.nextId));
  }
  // Claims: never above consumption, and equal to the cancelled certificates that name them.
  for (const c of state.rows('claims') as IterableIterator<ClaimsRow>) {
    const consumed = state.get<{ values: (number | null)[] }>('readings', `${c.meter}\u001fimport\u001f${c.date}`)!.values;
    c.claimedWh.forEach((w, k) => assert.ok(w >= 0 && w <= (consumed[k] ?? 0)));
  }
  const byClaims = new Map<string, number>();
  for (const c of state.rows('claims') as IterableIterator<ClaimsRow>) {
    const row = state.get<CertificatesRow>('certificates', `pv\u001f${c.date}`);
    c.claimedWh.forEach((w, k) => {
      if (w > 0) byClaims.set(`${c.meter} ${row?.intervals[k]?.start}`, w);
    });
  }
  assert.deepEqual(new Map([...claimed].filter(([, w]) => w > 0).sort()), new Map([...byClaims].sort()));
  // Conservation: the statuses add up to the issued certificates.
  const t = totals(state, MONTH);
  assert.equal(t.active + t.cancelled + t.expired + t.withdrawn, t.issuedWh);
}

const values = fc.array(fc.oneof(fc.integer({ min: 0, max: 3100 }), fc.constant(0), fc.constant(null)), { minLength: 48, maxLength: 48 });
const op = fc.oneof(
  fc.record({ kind: fc.constant('issue' as const), day: fc.integer({ min: 0, max: 1 }) }),
  fc.record({ kind: fc.constant('correct' as const), day: fc.integer({ min: 0, max: 1 }), values }),
  fc.record({ kind: fc.constant('transfer' as const), pick: fc.nat(), wh: fc.integer({ min: 1, max: 4000 }), from: fc.boolean() }),
  fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat(), wh: fc.integer({ min: 1, max: 600 }), from: fc.boolean() }),
  fc.record({ kind: fc.constant('autoclaim' as const), bob: fc.boolean(), on: fc.boolean() }),
  fc.record({ kind: fc.constant('settle' as const) }),
);

test('certificates conserve through any sequence of issuance, corrections, transfers, claims and settlement; verify replays it', async () => {
  await fc.assert(
    fc.asyncProperty(fc.tuple(values, values), fc.array(op, { minLength: 1, maxLength: 14 }), async (exports, ops) => {
      const { ledger, dso, operator, alice, bob } = await smallCommunity(':memory:');
      const submit = async (tx: Parameters<SqliteLedger['submit']>[0]) => (await ledger.submit(tx)).ok;
      assert.ok(await submit(dso.sign('device.register', { device: 'pv', meter: ALICE, fuel: 'F01040100', technology: 'T010100', capacityW: 6000, commissioned: '2024-04-01', zone: 'FR', gridArea: 'g', support: false })));
      for (const [d, date] of DAYS.entries()) {
        assert.ok(await submit(dso.sign('meter.readings', { meter: ALICE, direction: 'export', date, values: exports[d]!.some((v) => v !== null) ? exports[d]! : [1, ...exports[d]!.slice(1)] })));
        assert.ok(await submit(dso.sign('meter.readings', { meter: ALICE, direction: 'import', date, values: Array.from({ length: 48 }, (_, k) => (k * 37) % 500) })));
        assert.ok(await submit(dso.sign('meter.readings', { meter: BOB, direction: 'import', date, values: Array.from({ length: 48 }, (_, k) => (k * 53) % 700) })));
      }
      let settled = false;
      try {
      for (const o of ops) {
        if (o.kind === 'issue') {
          const body = planIssue(ledger.state, DAYS[o.day]!);
          assert.equal(await submit(dso.sign('certificates.issue', body)), body.deviceDays > 0);
        } else if (o.kind === 'correct') {
          if (o.values.every((v) => v === null)) continue;
          await submit(dso.sign('meter.correct', { meter: ALICE, direction: 'export', date: DAYS[o.day]!, values: o.values, reason: 'other' }));
        } else if (o.kind === 'transfer' || o.kind === 'cancel') {
          const holder = o.from ? alice : bob;
          const held = bundles(ledger.state, MONTH, holder.actor).filter((b) => b.status === 'active');
          if (held.length === 0) continue;
          const b = held[o.pick % held.length]!;
          const ref = { device: b.device, interval: b.interval, from: b.from, quantityWh: Math.min(o.wh, b.quantityWh) };
          const accepted = o.kind === 'transfer'
            ? await submit(holder.sign('certificate.transfer', { ...ref, to: (o.from ? bob : alice).actor }))
            : await submit(holder.sign('certificate.cancel', { ...ref, meter: o.from ? ALICE : BOB }));
          if (o.kind === 'transfer') assert.ok(accepted, 'a transfer of part of an active bundle held is accepted');
        } else if (o.kind === 'autoclaim') {
          assert.ok(await submit((o.bob ? bob : alice).sign('certificate.autoclaim', { enabled: o.on })));
        } else if (!settled) {
          let body;
          try {
            body = planSettle(ledger.state, MONTH);
          } catch {
            continue; // a day with readings not issued yet, or stale
          }
          assert.ok(await submit(operator.sign('allocation.run', runMonth(ledger.state, MONTH, { kind: 'prorata' }).summary)));
          body = planSettle(ledger.state, MONTH);
          assert.ok(await submit(operator.sign('certificates.settle', body)));
          settled = true;
        }
        checkInvariants(ledger);
      }
      } catch (e) {
        console.error('FAILED', (e as Error).message.replace(/\n/g, ' '), (e as Error).stack?.split('\n').slice(1, 3).join(' '), JSON.stringify(ops.map((o) => o.kind)));
        throw e;
      }
      const report = await verifyLog(ledger, ledger.registry);
      assert.deepEqual(report.problems, []);
      await ledger.close();
    }),
    { numRuns: 20 },
  );
});

test('recordsRoot: one leaf per interval in time order, each the canonical JSON array of its records', async () => {
  const { MemoryTree, canonicalJson, leafHash, toHex, utf8 } = await import('../ledger/index.ts');
  const { recordsRoot } = await import('./calendar.ts');
  const record = fc.record({ interval: fc.constantFrom('2026-06-01T10:00:00Z', '2026-06-01T09:30:00Z', '2026-06-02T00:00:00Z'), device: fc.string(), via: fc.constantFrom('trade', 'claim'), wh: fc.nat(), shortWh: fc.nat() });
  fc.assert(fc.property(fc.array(record, { maxLength: 30 }), (records) => {
    const tree = new MemoryTree();
    for (const at of [...new Set(records.map((r) => r.interval))].sort()) tree.appendLeaf(leafHash(utf8(canonicalJson(records.filter((r) => r.interval === at)))));
    assert.equal(recordsRoot(records), toHex(tree.root()));
  }));
});
