import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { signer, smallCommunity, tempDb } from '../../test/support/community.ts';
import { verifyLog } from '../audit/verify.ts';
import { allocateMonth } from '../cli/allocate.ts';
import { writeKeyFile } from '../node/key-file.ts';
import { createRegistry } from '../registry.ts';
import { Registry } from '../state/registry.ts';
import { SqliteLedger } from '../store/sqlite-ledger.ts';
import { allocationRun } from './allocation-run.ts';
import { spanishCoefficients } from './exports.ts';
import { runMonth } from './month.ts';

const ALICE = '30001234567890';
const BOB = '30009876543210';

/** Two days of October 2026 (the 25th has 50 half-hours): PV on alice's export meter, both members consuming. */
async function community() {
  const c = await smallCommunity(tempDb());
  const day = (n: number, f: (k: number) => number | null) => Array.from({ length: n }, (_, k) => f(k));
  const txs = [
    c.dso.sign('meter.readings', { meter: ALICE, direction: 'export', date: '2026-10-25', values: day(50, (k) => (k >= 20 && k < 34 ? 600 : 0)) }),
    c.dso.sign('meter.readings', { meter: ALICE, direction: 'import', date: '2026-10-25', values: day(50, () => 200) }),
    c.dso.sign('meter.readings', { meter: BOB, direction: 'import', date: '2026-10-25', values: day(50, (k) => (k === 30 ? null : 600)) }),
    c.dso.sign('meter.readings', { meter: ALICE, direction: 'export', date: '2026-10-26', values: day(48, (k) => (k === 24 ? 1000 : 0)) }),
  ];
  for (const r of await c.ledger.submitMany(txs)) if (!r.ok) throw r.error;
  const dir = join(c.path, '..');
  const opKey = join(dir, 'op.key');
  writeKeyFile(opKey, c.operator.key);
  return { ...c, opKey, dir };
}

describe('monthly allocation run', () => {
  test('pro rata over a DST month: recorded, recomputed by verify, exported', async () => {
    const c = await community();
    const { summary } = runMonth(c.ledger.state, '2026-10', { kind: 'prorata' });
    assert.equal(summary.intervals, 31 * 48 + 2);
    // 14 half-hours of 600 Wh on the 25th: alice 200 and bob 600 share 600 as 150/450 (bob 600 alone at k=30);
    // the 26th's 1000 Wh at noon has no consumption data: all surplus.
    assert.equal(summary.productionWh, 14 * 600 + 1000);
    const alice = summary.members.find((m) => m.meter === ALICE)!;
    const bob = summary.members.find((m) => m.meter === BOB)!;
    assert.equal(alice.allocatedWh, 13 * 150 + 200); // at k=30 bob has no reading: alice alone gets her 200
    assert.equal(bob.allocatedWh, 13 * 450);
    assert.equal(alice.consumedWh, 50 * 200);
    assert.equal(bob.missingIntervals, 31 * 48 + 2 - 49);
    assert.equal(summary.surplusWh, 1000 + 600 - 200 + 0); // at k=30 only alice (200) consumes of the 600
    await c.ledger.close();

    const r = await allocateMonth({ db: c.path, month: '2026-10', signer: c.opKey, out: join(c.dir, 'out') });
    assert.equal(r.summary.allocatedWh, summary.allocatedWh);
    assert.equal(r.summary.selfConsumptionRate, '0.8510'); // (2150 + 5850) / 9400, floored to 4 decimals
    const fr = readFileSync(r.files.coefficientsFr, 'utf8').split('\r\n');
    assert.equal(fr[0], 'Identifiant PRM;Horodate debut;Coefficient (%)');
    assert.equal(fr.length, 1 + 2 * summary.intervals + 1);
    // 2026-10-25 local 10:00+01:00 is interval 22 of the day (two 02:00s before it): 150/600 and 450/600.
    const at = 1 + 2 * (24 * 48 + 22);
    assert.deepEqual(fr.slice(at, at + 2), [`${ALICE};2026-10-25T10:00:00+01:00;25,00`, `${BOB};2026-10-25T10:00:00+01:00;75,00`]);
    const statements = JSON.parse(readFileSync(r.files.statementsJson, 'utf8'));
    assert.equal(statements[0].selfSufficiency, '0.2150'); // alice: 2150 / 10000
    assert.equal(statements[0].selfConsumptionRate, '0.8510');
    assert.equal(readFileSync(r.files.statementsCsv, 'utf8').split('\n')[0], 'meter;owner;month;consumedWh;allocatedWh;supplierWh;surplusWh;selfSufficiency;selfConsumptionRate;missingIntervals');
    const ledger = SqliteLedger.open(c.path);
    const report = await verifyLog(ledger, ledger.registry);
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    assert.equal(ledger.state.count('allocations'), 1);
    await ledger.close();
  });

  test('a run whose figures differ from the logged readings is refused, naming the member', async () => {
    const c = await community();
    const { summary } = runMonth(c.ledger.state, '2026-10', { kind: 'prorata' });
    const forged = { ...summary, members: summary.members.map((m) => (m.meter === BOB ? { ...m, allocatedWh: m.allocatedWh + 100, supplierWh: m.supplierWh - 100 } : m)) };
    const r = await c.ledger.submit(c.operator.sign('allocation.run', forged));
    assert.equal(!r.ok && r.error.code, 'E_ALLOCATION_MISMATCH');
    assert.match(!r.ok ? r.error.message : '', new RegExp(`meter ${BOB} allocatedWh recorded ${bob(summary) + 100}, recomputed ${bob(summary)}`));
    await c.ledger.close();
  });

  test('verify recomputes every month and names a forged run that reached the log', async () => {
    const c = await community();
    const { summary } = runMonth(c.ledger.state, '2026-10', { kind: 'prorata' });
    await c.ledger.close();
    // An operator whose software skipped the check: the same type with a permissive apply.
    const lax = new Registry(createRegistry().tables, createRegistry().list().map((t) => (t.type === 'allocation.run' ? { ...allocationRun, apply: () => {} } : t)));
    const ledger = SqliteLedger.open(c.path, { registry: lax });
    const r = await ledger.submit(c.operator.sign('allocation.run', { ...summary, surplusWh: summary.surplusWh - 1, allocatedWh: summary.allocatedWh + 1 }));
    assert.equal(r.ok, true);
    await ledger.close();
    const honest = SqliteLedger.open(c.path);
    const report = await verifyLog(honest, honest.registry);
    assert.equal(report.ok, false);
    assert.equal(report.problems[0]!.entry, r.ok ? r.entry : -1);
    assert.match(report.problems[0]!.message, /allocation of 2026-10: allocatedWh differs from the recomputation/);
    await honest.close();
  });

  test('static key from a parameter file; bad parameters are named', async () => {
    const c = await community();
    await c.ledger.close();
    const params = join(c.dir, 'shares.json');
    writeFileSync(params, JSON.stringify({ sharesPpm: { [ALICE]: 500_000, [BOB]: 500_000 } }));
    const r = await allocateMonth({ db: c.path, month: '2026-10', key: 'static', params, signer: c.opKey, out: join(c.dir, 'static') });
    assert.equal(r.summary.key.kind, 'static');
    // 300 each of 600: alice uses 200, bob 300 (at k=30 bob has no data); the rest is surplus.
    assert.equal(r.summary.allocatedWh, 14 * 200 + 13 * 300);
    writeFileSync(params, JSON.stringify({ sharesPpm: { [ALICE]: 900_000, [BOB]: 500_000 } }));
    await assert.rejects(allocateMonth({ db: c.path, month: '2026-10', key: 'static', params, signer: c.opKey }), { code: 'E_KEY_SHARES' });
    writeFileSync(params, JSON.stringify({ sharesPpm: { '12345678901234': 1 } }));
    await assert.rejects(allocateMonth({ db: c.path, month: '2026-10', key: 'static', params, signer: c.opKey }), { code: 'E_KEY_METER', message: /12345678901234 is not a consuming meter/ });
  });

  test('full dynamic key: per-interval shares recorded per day, then used by the run', async () => {
    const c = await community();
    await c.ledger.close();
    const days: Record<string, Record<string, number[]>> = {};
    for (let d = 1; d <= 31; d++) {
      const date = `2026-10-${String(d).padStart(2, '0')}`;
      const n = date === '2026-10-25' ? 50 : 48;
      // Alice gets everything in the morning, bob in the afternoon.
      days[date] = { [ALICE]: Array.from({ length: n }, (_, k) => (k < 26 ? 1_000_000 : 0)), [BOB]: Array.from({ length: n }, (_, k) => (k < 26 ? 0 : 1_000_000)) };
    }
    const params = join(c.dir, 'dyn.json');
    writeFileSync(params, JSON.stringify({ days }));
    const r = await allocateMonth({ db: c.path, month: '2026-10', key: 'full-dynamic', params, signer: c.opKey, out: join(c.dir, 'dyn') });
    // 25th: k 20..25 (6 intervals) to alice, capped at 200; k 26..33 (8) to bob at 600, except k=30 (no reading).
    assert.equal(r.summary.allocatedWh, 6 * 200 + 7 * 600);
    const ledger = SqliteLedger.open(c.path);
    assert.equal(ledger.state.count('allocation_shares'), 31);
    assert.equal((await verifyLog(ledger, ledger.registry)).ok, true);
    await ledger.close();
    await assert.rejects(allocateMonth({ db: c.path, month: '2026-11', key: 'full-dynamic', signer: c.opKey }), { code: 'E_NO_SHARES', message: /2026-11-01/ });
  });

  test('Spanish key with hourly betas, on CUPS meters in Madrid', async () => {
    const path = tempDb();
    const ledger = SqliteLedger.create(path);
    const op = signer('operator');
    const dso = signer('dso');
    const a = 'ES0021000000000001AB';
    const b = 'ES0021000000000002CD';
    const pv = 'ES0021000000000003EF';
    const day = (f: (k: number) => number) => Array.from({ length: 48 }, (_, k) => f(k));
    const setup = [
      op.sign('community.create', { name: 'Calle del Sol', timeZone: 'Europe/Madrid', intervalMinutes: 30, currency: 'EUR', operator: op.actor }),
      op.sign('participant.register', { key: dso.actor, roles: ['dso'] }),
      dso.sign('meter.register', { meter: a, scheme: 'CUPS', direction: 'import', owner: op.actor }),
      dso.sign('meter.register', { meter: b, scheme: 'CUPS', direction: 'import', owner: op.actor }),
      dso.sign('meter.register', { meter: pv, scheme: 'CUPS', direction: 'export', owner: op.actor }),
      dso.sign('meter.readings', { meter: pv, direction: 'export', date: '2026-06-01', values: day((k) => (k === 24 ? 1000 : 0)) }),
      dso.sign('meter.readings', { meter: a, direction: 'import', date: '2026-06-01', values: day(() => 100) }),
      dso.sign('meter.readings', { meter: b, direction: 'import', date: '2026-06-01', values: day(() => 900) }),
    ];
    for (const r of await ledger.submitMany(setup)) if (!r.ok) throw r.error;
    await ledger.close();
    const dir = join(path, '..');
    const opKey = join(dir, 'op.key');
    writeKeyFile(opKey, op.key);
    const days: Record<string, Record<string, number[]>> = {};
    for (let d = 1; d <= 30; d++) days[`2026-06-${String(d).padStart(2, '0')}`] = { [a]: day((k) => (k < 24 ? 250_000 : 400_000)), [b]: day((k) => (k < 24 ? 750_000 : 600_000)) };
    const params = join(dir, 'betas.json');
    writeFileSync(params, JSON.stringify({ days }));
    const r = await allocateMonth({ db: path, month: '2026-06', key: 'spain', params, signer: opKey, out: join(dir, 'es') });
    // Noon: 400 Wh to a (uses 100, own surplus 300) and 600 Wh to b (uses 600).
    assert.equal(r.summary.allocatedWh, 700);
    assert.equal(r.summary.surplusWh, 300);
    const lines = readFileSync(r.files.coefficientsEs!, 'utf8').split('\n').slice(0, -1);
    assert.equal(lines.length, 2 * 30 * 24);
    // 1 June 00:00 in Madrid is 151 x 24 - 1 elapsed hours after 1 January 00:00 (the spring change took one): hour 3624.
    assert.equal(lines[0], `${a};3624;0,250000`);
    assert.equal(lines[12], `${a};3636;0,400000`);
    assert.equal(lines[720], `${b};3624;0,750000`);
    // Betas that do not sum to exactly 1 in an interval are refused.
    days['2026-06-02']![a]![5] = 250_001;
    writeFileSync(params, JSON.stringify({ days }));
    await assert.rejects(allocateMonth({ db: path, month: '2026-06', key: 'spain', params, signer: opKey }), { code: 'E_KEY_SHARES' });
  });

  test('Spanish coefficient file: 8784 hours in a leap year, six decimals with a comma, each hour summing to exactly 1', () => {
    const a = 'ES0021000000000001AB';
    const b = 'ES0021000000000002CD1F';
    const text = spanishCoefficients(2028, { [b]: 666_667, [a]: 333_333 });
    const lines = text.split('\n').slice(0, -1);
    assert.equal(lines.length, 2 * 8784);
    assert.equal(lines[0], `${a};0001;0,333333`);
    assert.equal(lines[8783], `${a};8784;0,333333`);
    assert.equal(lines[8784], `${b};0001;0,666667`);
    assert.ok(!text.startsWith('\uFEFF'));
    assert.equal(spanishCoefficients(2026, { [a]: 1_000_000 }).split('\n').length - 1, 8760);
    assert.throws(() => spanishCoefficients(2026, { [a]: 999_999 }), { code: 'E_KEY_SHARES' });
    assert.throws(() => spanishCoefficients(2026, { '30001234567890': 1_000_000 }), { code: 'E_NOT_CUPS' });
  });
});

function bob(summary: ReturnType<typeof runMonth>['summary']): number {
  return summary.members.find((m) => m.meter === BOB)!.allocatedWh;
}
