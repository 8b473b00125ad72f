import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { smallCommunity, tempDb } from '../../test/support/community.ts';
import { verifyLog } from '../audit/verify.ts';
import { importMeterData } from '../cli/meter.ts';
import { writeKeyFile } from '../node/key-file.ts';
import { dayIntervals, localDay } from '../units/index.ts';
import { findReadings } from './readings.ts';

const FIXTURES = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'greenbutton');
const PRM = '30001234567890';

/** A community (Paris, 30 min) with the DSO key written to a file, and a writer for input files. */
async function setup() {
  const c = await smallCommunity(tempDb());
  const dir = join(c.path, '..');
  const key = join(dir, 'dso.key');
  writeKeyFile(key, c.dso.key);
  await c.ledger.close();
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  return { ...c, key, file, db: c.path };
}

// Enedis rows for 2026-10-25 in Paris (a 25-hour day): 10-minute steps until 12:00 local, 30-minute steps after,
// average power rising by interval so that each half-hour's energy is known: interval k gets 200 + 2k W.
function enedisDay(): { text: string; expected: number[] } {
  const starts = dayIntervals(localDay('2026-10-25', 'Europe/Paris'), 30);
  const rows: string[] = [];
  const expected: number[] = [];
  starts.forEach((s, k) => {
    const watts = 200 + 2 * k;
    expected.push(watts / 2); // W over 30 minutes = W/2 Wh
    const fine = k < 26;
    const step = fine ? 10 : 30;
    for (let m = step; m <= 30; m += step) rows.push(`${new Date(s + m * 60_000).toISOString().replace('.000Z', '+00:00')};${watts}`);
  });
  // Unsorted, as real exports may be.
  rows.reverse();
  const header = 'Identifiant PRM;Type de donnees;Date de debut;Date de fin;Grandeur physique;Grandeur metier;Etape metier;Unite;Pas en minutes\n'
    + `${PRM};Courbe de charge;25/10/2026;26/10/2026;Energie active;Consommation;Comptage Brut;W;\n\nHorodate;Valeur\n`;
  return { text: header + rows.join('\n') + '\n', expected };
}

describe('meter data import', () => {
  test('French DSO CSV on a DST day: END time stamps, average power, changing step, unsorted rows', async () => {
    const s = await setup();
    const { text, expected } = enedisDay();
    const r = await importMeterData({ db: s.db, key: s.key, format: 'enedis', files: [s.file('enedis.csv', text)] });
    assert.equal(r.days, 1);
    assert.equal(r.transactions, 1);
    assert.equal(r.gapIntervals, 0);
    const { SqliteLedger } = await import('../store/sqlite-ledger.ts');
    const ledger = SqliteLedger.open(s.db);
    const row = findReadings(ledger.state, PRM, 'import', '2026-10-25')!;
    assert.equal(row.values.length, 50);
    assert.deepEqual(row.values, expected);
    assert.equal((await verifyLog(ledger, ledger.registry)).ok, true);
    await ledger.close();

    // Re-importing the same file changes nothing.
    const again = await importMeterData({ db: s.db, key: s.key, format: 'enedis', files: [s.file('enedis.csv', text)] });
    assert.equal(again.transactions, 0);
    assert.equal(again.unchangedDays, 1);

    // A contradicting value is refused, then recorded as a correction when asked.
    const changed = text.replace(/;200\n/, ';260\n');
    await assert.rejects(importMeterData({ db: s.db, key: s.key, format: 'enedis', files: [s.file('changed.csv', changed)] }), { code: 'E_IMPORT_REFUSED', message: /contradict/ });
    const corrected = await importMeterData({ db: s.db, key: s.key, format: 'enedis', files: [s.file('changed.csv', changed)], correct: 'transmission-error' });
    assert.equal(corrected.corrections, 1);
  });

  test('a malformed line rejects the whole file, naming file and line, and appends nothing', async () => {
    const s = await setup();
    const { text } = enedisDay();
    const lines = text.split('\n');
    lines[7] = '2026-10-25T10:00:00+00:00;-12';
    lines[9] = 'yesterday;100';
    const path = s.file('bad.csv', lines.join('\n'));
    await assert.rejects(importMeterData({ db: s.db, key: s.key, format: 'enedis', files: [path] }), (e: Error & { code: string }) => {
      assert.equal(e.code, 'E_IMPORT_LINES');
      assert.match(e.message, new RegExp(`2 rejected line\\(s\\), nothing imported:\\n {2}${path}:8: expected "Horodate;Valeur"`));
      assert.match(e.message, /bad.csv:10: Horodate: "yesterday" is not an ISO 8601 date-time/);
      return true;
    });
    const { SqliteLedger } = await import('../store/sqlite-ledger.ts');
    const ledger = SqliteLedger.open(s.db);
    assert.equal(ledger.state.count('readings'), 0);
    await ledger.close();
  });

  test('generic CSV: kWh with decimal commas, 15-minute rows summed into half-hours, gaps reported, unknown meters refused', async () => {
    const s = await setup();
    const csv = ['meter;start;value;direction',
      `${PRM};2026-03-29T00:00:00+01:00;0,125;import`, `${PRM};2026-03-29T00:15:00+01:00;0,250;import`,
      `${PRM};2026-03-29T00:30:00+01:00;1;export`, `${PRM};2026-03-29T00:45:00+01:00;0,5;export`,
      `${PRM};2026-03-29T03:00:00+02:00;0,010;import`].join('\n');
    const r = await importMeterData({ db: s.db, key: s.key, format: 'csv', unit: 'kWh', step: 15, files: [s.file('g.csv', csv)] });
    assert.equal(r.days, 2);
    const { SqliteLedger } = await import('../store/sqlite-ledger.ts');
    const ledger = SqliteLedger.open(s.db);
    const imp = findReadings(ledger.state, PRM, 'import', '2026-03-29')!;
    assert.equal(imp.values.length, 46);
    assert.equal(imp.values[0], 375);
    assert.equal(imp.values[4], null); // 03:00 local holds only one of its two quarter-hours: a gap, not a guess
    assert.equal(findReadings(ledger.state, PRM, 'export', '2026-03-29')!.values[1], 1500);
    await ledger.close();
    assert.equal(r.gapIntervals, 45 + 45);
    await assert.rejects(importMeterData({ db: s.db, key: s.key, format: 'csv', files: [s.file('u.csv', 'meter,start,value\n99999999999999,2026-03-29T00:00:00Z,5\n')] }), { code: 'E_IMPORT_REFUSED', message: /99999999999999 \(import\) is not registered/ });
  });

  test('Green Button / ESPI: 15-minute readings in Wh summed exactly into half-hours; monthly readings are refused', async () => {
    const s = await setup();
    const xml = readFileSync(join(FIXTURES, '15minLP_15Days.xml'), 'utf8');
    const r = await importMeterData({ db: s.db, key: s.key, format: 'espi', meter: PRM, files: [join(FIXTURES, '15minLP_15Days.xml')] });
    // Every IntervalReading of the file, by its own arithmetic.
    const readings = [...xml.matchAll(/<IntervalReading>[\s\S]*?<start>(\d+)<\/start>[\s\S]*?<value>(\d+)<\/value>/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
    assert.equal(r.values, readings.length);
    const { SqliteLedger } = await import('../store/sqlite-ledger.ts');
    const ledger = SqliteLedger.open(s.db);
    let stored = 0;
    for (const row of ledger.state.rows('readings')) for (const v of row.values as (number | null)[]) stored += v ?? 0;
    // Only whole half-hours are recorded: drop the quarter-hours whose partner is missing.
    const byHalfHour = new Map<number, { n: number; wh: number }>();
    for (const [start, wh] of readings) {
      const k = Math.floor(start / 1800);
      const acc = byHalfHour.get(k) ?? { n: 0, wh: 0 };
      byHalfHour.set(k, { n: acc.n + 1, wh: acc.wh + wh });
    }
    const complete = [...byHalfHour.values()].filter((x) => x.n === 2).reduce((a, x) => a + x.wh, 0);
    assert.equal(stored, complete);
    await ledger.close();
    await assert.rejects(importMeterData({ db: s.db, key: s.key, format: 'espi', meter: PRM, files: [join(FIXTURES, 'Electric.xml')] }), { code: 'E_IMPORT_LINES', message: /spans two 30-minute intervals/ });
  });
});
