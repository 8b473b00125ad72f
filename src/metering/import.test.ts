import assert from 'node:assert/strict';
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { smallCommunity, tempDb } from '../../test/support/community.ts';
import { verifyLog } from '../audit/verify.ts';
import { ESPI_MAX_BYTES, importMeterData } from '../cli/meter.ts';
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

/** rejectsNothingAppended runs an import that must fail, checks the error, then that the log did not grow. */
async function rejectsNothingAppended(db: string, run: () => Promise<unknown>, check: (e: Error & { code: string }) => void) {
  const { SqliteLedger } = await import('../store/sqlite-ledger.ts');
  const before = SqliteLedger.open(db);
  const size = before.size;
  await before.close();
  await assert.rejects(run, (e: Error & { code: string }) => {
    check(e);
    return true;
  });
  const after = SqliteLedger.open(db);
  assert.equal(after.size, size);
  assert.equal(after.state.count('readings'), 0);
  await after.close();
}

describe('meter data import: malformed files are refused at their line, nothing appended (issue 13)', () => {
  const header = 'meter;start;value;direction';
  const row = (start: string, value: string) => `${PRM};${start};${value};import`;

  test('generic CSV: a quoted decimal comma with "," as separator is read exactly (0,125 kWh = 125 Wh), never as 0', async () => {
    const s = await setup();
    const csv = `meter,start,value\n${PRM},2026-03-29T00:00:00+01:00,"0,125"\n${PRM},2026-03-29T00:30:00+01:00,"1,5"\n`;
    const r = await importMeterData({ db: s.db, key: s.key, format: 'csv', unit: 'kWh', files: [s.file('q.csv', csv)] });
    assert.equal(r.transactions, 1);
    const { SqliteLedger } = await import('../store/sqlite-ledger.ts');
    const ledger = SqliteLedger.open(s.db);
    assert.deepEqual(findReadings(ledger.state, PRM, 'import', '2026-03-29')!.values.slice(0, 2), [125, 1500]);
    await ledger.close();
  });

  test('generic CSV: an unquoted decimal comma with "," as separator, or a quoted value that is no decimal, is an error at its line', async () => {
    const s = await setup();
    const csv = `meter,start,value\n${PRM},2026-03-29T00:00:00+01:00,0,125\n${PRM},2026-03-29T00:30:00+01:00,"1,234,5"\n`;
    const path = s.file('bad-decimal.csv', csv);
    await rejectsNothingAppended(s.db, () => importMeterData({ db: s.db, key: s.key, format: 'csv', unit: 'kWh', files: [path] }), (e) => {
      assert.equal(e.code, 'E_IMPORT_LINES');
      assert.match(e.message, new RegExp(`${path}:2: 4 cell\\(s\\) where the header has 3: cell 4 \\("125"\\) has no column`));
      assert.match(e.message, /bad-decimal.csv:3: value: "1,234,5" is not a decimal number/);
    });
  });

  test('generic CSV: CR-only line ends are read like LF and CRLF, with the same values and line numbers', async () => {
    const lines = [header, row('2026-03-29T00:00:00+01:00', '0,125'), row('2026-03-29T00:30:00+01:00', '0,250')];
    const values: unknown[] = [];
    for (const eol of ['\n', '\r\n', '\r']) {
      const s = await setup();
      const r = await importMeterData({ db: s.db, key: s.key, format: 'csv', unit: 'kWh', files: [s.file('eol.csv', lines.join(eol) + eol)] });
      assert.equal(r.values, 2, JSON.stringify(eol));
      const { SqliteLedger } = await import('../store/sqlite-ledger.ts');
      const ledger = SqliteLedger.open(s.db);
      values.push(findReadings(ledger.state, PRM, 'import', '2026-03-29')!.values);
      await ledger.close();
      const bad = s.file('eol-bad.csv', [...lines, row('2026-03-29T01:00:00+01:00', 'x')].join(eol));
      await assert.rejects(importMeterData({ db: s.db, key: s.key, format: 'csv', unit: 'kWh', files: [bad] }), { message: /eol-bad.csv:4: value: "x" is not a decimal number/ });
    }
    assert.deepEqual(values[1], values[0]);
    assert.deepEqual(values[2], values[0]);
  });

  test('DSO CSV: CR-only line ends are read like LF', async () => {
    const { text, expected } = enedisDay();
    const s = await setup();
    const r = await importMeterData({ db: s.db, key: s.key, format: 'enedis', files: [s.file('cr.csv', text.replaceAll('\n', '\r'))] });
    assert.equal(r.transactions, 1);
    const { SqliteLedger } = await import('../store/sqlite-ledger.ts');
    const ledger = SqliteLedger.open(s.db);
    assert.deepEqual(findReadings(ledger.state, PRM, 'import', '2026-10-25')!.values, expected);
    await ledger.close();
  });

  test('an empty file, or a header without rows, is an error naming the file, in every format', async () => {
    const s = await setup();
    const cases: [format: 'csv' | 'enedis', name: string, text: string, message: RegExp][] = [
      ['csv', 'empty.csv', '', /empty.csv: the file is empty/],
      ['csv', 'blank.csv', '\n\n', /blank.csv: the file is empty/],
      ['csv', 'header.csv', `${header}\n`, /header.csv: a header and no rows/],
      ['enedis', 'empty-dso.csv', '', /empty-dso.csv: the file is empty/],
      ['enedis', 'header-dso.csv', enedisDay().text.split('Horodate;Valeur')[0]!, /header-dso.csv: no values/],
      ['enedis', 'other.csv', 'hello\n', /other.csv:1: a value before any "Identifiant PRM" header/],
    ];
    for (const [format, name, text, message] of cases) {
      await rejectsNothingAppended(s.db, () => importMeterData({ db: s.db, key: s.key, format, files: [s.file(name, text)] }), (e) => {
        assert.equal(e.code, 'E_IMPORT_LINES', name);
        assert.match(e.message, message);
      });
    }
  });

  test('generic CSV: a short or long row is an error naming file:line and the column, even as the last row', async () => {
    const s = await setup();
    const csv = [header, row('2026-03-29T00:00:00+01:00', '5'), `${PRM};2026-03-29T00:30:00+01:00;7;import;x`, `${PRM};2026-03-29T01:00:00+01:00;9`].join('\n');
    const path = s.file('cells.csv', csv);
    await rejectsNothingAppended(s.db, () => importMeterData({ db: s.db, key: s.key, format: 'csv', files: [path] }), (e) => {
      assert.equal(e.code, 'E_IMPORT_LINES');
      assert.match(e.message, /^2 rejected line\(s\)/);
      assert.match(e.message, new RegExp(`${path}:3: 5 cell\\(s\\) where the header has 4: cell 5 \\("x"\\) has no column`));
      assert.match(e.message, new RegExp(`${path}:4: 3 cell\\(s\\) where the header has 4: no "direction" \\(column 4\\)`));
    });
  });

  test('generic CSV: a quote never closed is an error at the row it opens on, not a silent end of file', async () => {
    const s = await setup();
    const path = s.file('quote.csv', [header, row('2026-03-29T00:00:00+01:00', '5'), `${PRM};"2026-03-29T00:30:00+01:00;7;import`, row('2026-03-29T01:00:00+01:00', '9')].join('\n'));
    await rejectsNothingAppended(s.db, () => importMeterData({ db: s.db, key: s.key, format: 'csv', files: [path] }), (e) => {
      assert.match(e.message, /quote.csv:3: a quoted cell on this row is never closed/);
    });
  });

  test('a value above what meter.readings holds is refused at its line with the value, before anything is signed', async () => {
    const s = await setup();
    const csv = s.file('big.csv', [header, row('2026-03-29T00:00:00+01:00', '5'), row('2026-03-29T00:30:00+01:00', '1000000001')].join('\n'));
    await rejectsNothingAppended(s.db, () => importMeterData({ db: s.db, key: s.key, format: 'csv', unit: 'kWh', files: [csv] }), (e) => {
      assert.equal(e.code, 'E_IMPORT_LINES');
      assert.match(e.message, /big.csv:3: value "1000000001" kWh is above the 1000000000000 Wh an interval may hold/);
      assert.doesNotMatch(e.message, /transaction 1 of/);
    });
    // Two quarter-hours each within the bound whose half-hour is not: the first step's line.
    const sum = s.file('sum.csv', [header, row('2026-03-29T00:00:00+01:00', '600000000'), row('2026-03-29T00:15:00+01:00', '600000000')].join('\n'));
    await rejectsNothingAppended(s.db, () => importMeterData({ db: s.db, key: s.key, format: 'csv', unit: 'kWh', step: 15, files: [sum] }), (e) => {
      assert.match(e.message, new RegExp(`sum.csv:2: meter ${PRM} \\(import\\) interval 2026-03-28T23:00:00Z sums to 1200000000000 Wh, above the 1000000000000 Wh an interval may hold`));
    });
    const { text } = enedisDay();
    const dso = s.file('big-dso.csv', text.replace(/;200\n/, ';90000000000000\n'));
    await rejectsNothingAppended(s.db, () => importMeterData({ db: s.db, key: s.key, format: 'enedis', files: [dso] }), (e) => {
      const line = text.split('\n').findIndex((l) => l.endsWith(';200')) + 1;
      assert.match(e.message, new RegExp(`big-dso.csv:${line}: 90000000000000 W over 10 minutes is above the 1000000000000 Wh an interval may hold`));
    });
  });

  test('ESPI: errors name the line, the element with its start time and the value, never "file.xml:0"', async () => {
    const s = await setup();
    const monthly = join(FIXTURES, 'Electric.xml');
    await rejectsNothingAppended(s.db, () => importMeterData({ db: s.db, key: s.key, format: 'espi', meter: PRM, files: [monthly] }), (e) => {
      assert.equal(e.code, 'E_IMPORT_LINES');
      assert.match(e.message, /Electric.xml:118: entry\[4\]\/IntervalBlock\[1\]\/IntervalReading\[1\] \(start 2012-04-01T04:00:00Z, value "4702205"\): a 43200-minute step/);
      assert.doesNotMatch(e.message, /xml:0/);
    });
    const xml = readFileSync(join(FIXTURES, '15minLP_15Days.xml'), 'utf8');
    const eighth = [...xml.matchAll(/<IntervalReading>[\s\S]*?<value>(\d+)<\/value>/g)][7]!;
    const at = eighth.index + eighth[0].lastIndexOf(eighth[1]!);
    const huge = s.file('huge.xml', xml.slice(0, at) + '2000000000000' + xml.slice(at + eighth[1]!.length));
    const line = xml.slice(0, eighth.index).split('\n').length;
    await rejectsNothingAppended(s.db, () => importMeterData({ db: s.db, key: s.key, format: 'espi', meter: PRM, files: [huge] }), (e) => {
      assert.match(e.message, new RegExp(`huge.xml:${line}: entry\\[\\d+\\]/IntervalBlock\\[1\\]/IntervalReading\\[8\\] \\(start \\d{4}-\\d\\d-\\d\\dT[\\d:]+Z, value "2000000000000"\\): 2000000000000 x 10\\^0 Wh is above the 1000000000000 Wh an interval may hold`));
      assert.doesNotMatch(e.message, /transaction 1 of|body\.values/);
    });
  });

  test('ESPI: XML that is not well-formed names its line; a file too large to parse as a document is refused before it is read', async () => {
    const s = await setup();
    const bad = s.file('bad.xml', '<feed>\n<entry>\n<a></b>\n</entry></feed>');
    await rejectsNothingAppended(s.db, () => importMeterData({ db: s.db, key: s.key, format: 'espi', meter: PRM, files: [bad] }), (e) => {
      assert.equal(e.code, 'E_ESPI_XML');
      assert.equal(e.message, `${bad}:3: not well-formed XML: Expected closing tag 'a' (opened in line 3, col 1) instead of closing tag 'b'`);
    });
    const large = s.file('large.xml', '');
    truncateSync(large, ESPI_MAX_BYTES + 1);
    await rejectsNothingAppended(s.db, () => importMeterData({ db: s.db, key: s.key, format: 'espi', meter: PRM, files: [large] }), (e) => {
      assert.equal(e.code, 'E_ESPI_TOO_LARGE');
      assert.match(e.message, /large.xml: 16.8 MB is more than the 16 MiB an ESPI file may have/);
    });
  });

  test('DSO CSV: a file without line breaks is refused once a line passes 1 MiB, not held whole', async () => {
    const s = await setup();
    const path = s.file('one-line.csv', 'x'.repeat((1 << 20) + 10));
    await rejectsNothingAppended(s.db, () => importMeterData({ db: s.db, key: s.key, format: 'enedis', files: [path] }), (e) => {
      assert.equal(e.code, 'E_IMPORT_LINES');
      assert.equal(e.message, `${path}: a line longer than 1048576 bytes: not a French DSO load-curve export`);
    });
  });

  test('a missing or unreadable file is E_FILE naming the path, checked before anything is read', async () => {
    const s = await setup();
    const missing = join(s.db, '..', 'nope.csv');
    await rejectsNothingAppended(s.db, () => importMeterData({ db: s.db, key: s.key, format: 'csv', files: [s.file('ok.csv', `${header}\n${row('2026-03-29T00:00:00+01:00', '5')}\n`), missing] }), (e) => {
      assert.equal(e.code, 'E_FILE');
      assert.equal(e.message, `${missing}: cannot read the file: no such file`);
    });
    await assert.rejects(importMeterData({ db: s.db, key: s.key, format: 'enedis', files: [join(s.db, '..')] }), { code: 'E_FILE', message: /cannot read the file: is a directory/ });
  });

  test('a step given twice with another value in two files names both files', async () => {
    const s = await setup();
    const a = s.file('a.csv', `${header}\n${row('2026-03-29T00:00:00+01:00', '5')}\n`);
    const b = s.file('b.csv', `${header}\n\n${row('2026-03-29T00:00:00+01:00', '6')}\n`);
    await rejectsNothingAppended(s.db, () => importMeterData({ db: s.db, key: s.key, format: 'csv', files: [a, b] }), (e) => {
      assert.match(e.message, new RegExp(`${b}:3: the step at 2026-03-28T23:00:00Z is also on ${a} line 2 with another value`));
    });
  });
});
