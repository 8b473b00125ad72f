import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { mulDivRound } from '../units/index.ts';
import { CSV_DEFAULTS, parseCsv } from './import/csv.ts';
import { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import { parseEnedis, parseEnedisBytes } from './import/enedis.ts';
import { READING_MAX_WH, StepSet } from './import/steps.ts';
import { meterReadings } from './readings.ts';

const HALF_HOUR = 1_800_000;
const T0 = Date.UTC(2026, 5, 1, 22); // local midnight in Paris (summer time)

/** A step of one of two meters: quarter-hour `q` after T0 with `numerator` mWh. */
const stepArb = fc.record({ meter: fc.constantFrom('A', 'B'), q: fc.integer({ min: 0, max: 200 }), numerator: fc.integer({ min: 0, max: 10_000_000 }) });

function daysOf(steps: { meter: string; q: number; numerator: number }[], files = 1) {
  const set = new StepSet(30, 1000);
  steps.forEach((s, k) => {
    if (k % Math.ceil(steps.length / files) === 0) set.beginFile(`f${k}.csv`);
    set.add(s.meter, 'import', T0 + s.q * 900_000, 15, s.numerator, k + 1);
  });
  return { days: set.days('Europe/Paris'), values: set.values, errors: set.errors };
}

/** Keep the first of each (meter, quarter-hour): a step given twice must carry the same value. */
const distinct = (steps: { meter: string; q: number; numerator: number }[]) => steps.filter((s, k) => steps.findIndex((t) => t.meter === s.meter && t.q === s.q) === k);

describe('StepSet: steps in typed columns, summed into local days', () => {
  test('the days do not depend on the order the steps come in, nor on how they are split into files', () => {
    fc.assert(fc.property(fc.array(stepArb, { minLength: 1, maxLength: 300 }).map(distinct), fc.integer({ min: 1, max: 4 }), (steps, files) => {
      const a = daysOf(steps);
      const shuffled = [...steps].sort((x, y) => (x.numerator * 7919 + x.q) % 101 - (y.numerator * 7919 + y.q) % 101);
      const b = daysOf(shuffled, files);
      assert.deepEqual(a.errors, []);
      assert.deepEqual(b.days, a.days);
      assert.equal(b.values, steps.length);
    }));
  });

  test('every whole half-hour is its two quarter-hours summed exactly and rounded once, half to even; others are null', () => {
    fc.assert(fc.property(fc.array(stepArb, { minLength: 1, maxLength: 300 }).map(distinct), (steps) => {
      const { days } = daysOf(steps);
      for (const d of days) {
        d.values.forEach((v, k) => {
          const start = Date.UTC(2026, 5, 1, 22) + (Number(d.date.slice(8)) - 2) * 86_400_000 + k * HALF_HOUR;
          const parts = steps.filter((s) => s.meter === d.meter && Math.floor((T0 + s.q * 900_000) / HALF_HOUR) * HALF_HOUR === start);
          assert.equal(v, parts.length === 2 ? mulDivRound(parts[0]!.numerator + parts[1]!.numerator, 1, 1000) : null);
        });
        assert.equal(d.gaps, d.values.filter((v) => v === null).length);
      }
    }));
  });

  test('a step given twice: once when the value is the same, an error naming the first line when it differs', () => {
    const set = new StepSet(30, 1000, 'a.csv');
    set.add('A', 'import', T0, 30, 5000, 2);
    set.add('A', 'import', T0, 30, 5000, 3);
    set.add('A', 'import', T0, 30, 6000, 4);
    const days = set.days('Europe/Paris');
    assert.equal(set.values, 1);
    assert.equal(days[0]!.values[0], 5);
    assert.deepEqual(set.errors, [{ file: 'a.csv', line: 4, message: 'the step at 2026-06-01T22:00:00Z is also on line 2 with another value' }]);
  });

  test('READING_MAX_WH is the bound of meter.readings: at it a body is accepted, above it refused', () => {
    const body = (wh: number) => ({ meter: '30001234567890', direction: 'import', date: '2026-06-02', values: [wh] });
    assert.equal(meterReadings.body.safeParse(body(READING_MAX_WH)).success, true);
    assert.equal(meterReadings.body.safeParse(body(READING_MAX_WH + 1)).success, false);
    const set = new StepSet(30, 1000, 'x.csv');
    set.add('A', 'import', T0, 30, READING_MAX_WH * 1000, 2);
    set.add('A', 'import', T0 + HALF_HOUR, 30, READING_MAX_WH * 1000 + 1000, 3);
    assert.equal(set.days('Europe/Paris')[0]!.values[0], READING_MAX_WH);
    assert.deepEqual(set.errors.map((e) => e.line), [3]);
  });

  test('an interval whose steps sum beyond exact integers is refused at its first line, not rounded', () => {
    const set = new StepSet(30, 1000, 'x.csv');
    for (let m = 0; m < 30; m++) set.add('A', 'import', T0 + m * 60_000, 1, READING_MAX_WH * 1000, m + 2);
    const days = set.days('Europe/Paris');
    assert.equal(days[0]!.values[0], null);
    assert.deepEqual(set.errors, [{ file: 'x.csv', line: 2, message: 'meter A (import) interval 2026-06-01T22:00:00Z sums to more than 9007199254740 Wh, above the 1000000000000 Wh an interval may hold' }]);
  });
});

describe('streamed readers', () => {
  const rows = (n: number) => ['meter;start;value', ...Array.from({ length: n }, (_, k) => `Zähler-${k % 2};${new Date(T0 + k * HALF_HOUR).toISOString()};"${k},${k % 10}"`)];

  async function csvDays(chunks: string[] | Buffer[]) {
    const set = new StepSet(30, 1000, 'g.csv');
    await parseCsv(chunks, set, { ...CSV_DEFAULTS, unit: 'kWh' });
    return { days: set.days('Europe/Paris'), errors: set.errors };
  }

  test('generic CSV: the same days whatever the chunk boundaries (inside quotes, line ends, a BOM or a multi-byte character) and line ends', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 60 }), fc.constantFrom('\n', '\r\n', '\r'), fc.array(fc.nat(), { maxLength: 8 }), async (n, eol, cuts) => {
      const text = `\uFEFF${rows(n).join(eol)}${eol}`;
      const whole = await csvDays([text]);
      assert.deepEqual(whole.errors, []);
      const bytes = Buffer.from(text);
      const at = [...new Set(cuts.map((c) => c % bytes.length))].sort((a, b) => a - b);
      const chunks = [0, ...at].map((from, k) => bytes.subarray(from, at[k] ?? bytes.length)).filter((c) => c.length > 0);
      assert.deepEqual(await csvDays(chunks), whole);
      assert.equal(whole.days.flatMap((d) => d.values).filter((v) => v !== null).length, n);
    }), { numRuns: 60 });
  });

  test('generic CSV: lines are counted across blank lines and line breaks inside quoted cells', async () => {
    for (const eol of ['\n', '\r\n', '\r']) {
      const text = ['meter;start;value;direction', '', `A;${new Date(T0).toISOString()};1;"imp${eol}ort"`, '  ', `A;${new Date(T0 + HALF_HOUR).toISOString()};x;import`, ''].join(eol);
      const { errors } = await csvDays([text]);
      assert.deepEqual(errors.map((e) => [e.line, e.message.slice(0, 18)]), [[3, 'direction must be '], [6, 'value: "x" is not ']], JSON.stringify(eol));
    }
  });

  test('generic CSV: a header cut anywhere still gives the separator', async () => {
    const text = rows(3).join('\n');
    for (let cut = 1; cut < 20; cut++) assert.deepEqual(await csvDays([text.slice(0, cut), text.slice(cut)]), await csvDays([text]));
  });

  test('DSO CSV: lines from any iterable, one block per direction of a PRM', async () => {
    const header = 'Identifiant PRM;Type de donnees;Date de debut;Date de fin;Grandeur physique;Grandeur metier;Etape metier;Unite;Pas en minutes';
    const block = (prm: string, kind: string) => [header, `${prm};Courbe de charge;;;Energie active;${kind};Comptage Brut;W;30`, '', 'Horodate;Valeur',
      ...Array.from({ length: 3000 }, (_, k) => `${new Date(T0 + (k + 1) * HALF_HOUR).toISOString().replace('.000Z', '+00:00')};${k % 500}`)];
    const lines = [...block('30001234567890', 'Consommation'), ...block('30001234567890', 'Production')];
    const set = new StepSet(30, 60, 'e.csv');
    await parseEnedis((function* () {
      yield* lines;
    })(), set);
    const days = set.days('Europe/Paris');
    assert.deepEqual(set.errors, []);
    assert.equal(set.values, 6000);
    assert.deepEqual(days.map((d) => d.direction).filter((d, k, a) => a.indexOf(d) === k), ['export', 'import']);
    const [exp, imp] = [days.find((d) => d.direction === 'export')!, days.find((d) => d.direction === 'import')!];
    assert.deepEqual(exp.values, imp.values);
    // k W over 30 minutes is k/2 Wh, rounded half to even.
    assert.deepEqual(imp.values.slice(0, 6), [0, 0, 1, 2, 2, 2]);
  });

  test('DSO CSV from bytes (in place, a chunk at a time) reads what node:readline\'s lines read: days, values, errors and their lines', async () => {
    const header = 'Identifiant PRM;Type de donnees;Date de debut;Date de fin;Grandeur physique;Grandeur metier;Etape metier;Unite;Pas en minutes';
    const stamp = (k: number) => new Date(T0 + k * 600_000).toISOString().replace('.000Z', '+00:00');
    // Value rows, most plain, some of every shape the slow path must take.
    const row = fc.tuple(fc.integer({ min: 1, max: 400 }), fc.nat({ max: 3000 }), fc.constantFrom('plain', 'plain', 'plain', 'plain', 'space', 'tab', 'column', 'bad', 'long', 'zeros', 'Z', 'blank', 'dup', 'horodate', 'empty'))
      .map(([k, w, how]) => ({
        plain: `${stamp(k)};${w}`, space: ` ${stamp(k)} ; ${w} `, tab: `${stamp(k)};${w}\t`, column: `${stamp(k)};${w};extra`, bad: `${stamp(k)};${w}x`,
        long: `${stamp(k)};${'9'.repeat(16 + (w % 3))}`, zeros: `${stamp(k)};000${w}`, Z: `${stamp(k).replace('+00:00', 'Z')};${w}`, blank: '', dup: `${stamp(1)};${w}`,
        horodate: 'Horodate;Valeur', empty: `${stamp(k)};`,
      })[how]!);
    const block = fc.tuple(fc.constantFrom('30001234567890', '30001234567891', '', '123'), fc.constantFrom('Consommation', 'Production'), fc.constantFrom('10', '30', ''), fc.array(row, { maxLength: 40 }))
      .map(([prm, kind, pas, rows]) => [header, `${prm};Courbe de charge;;;Energie active;${kind};Comptage Brut;W;${pas}`, '', 'Horodate;Valeur', ...rows]);
    const file = fc.tuple(fc.boolean(), fc.array(row, { maxLength: 3 }), fc.array(block, { minLength: 0, maxLength: 3 }), fc.constantFrom('\n', '\r\n', '\r', 'mixed'), fc.boolean(), fc.array(fc.nat(), { maxLength: 10 }), fc.constantFrom('', '', 'é', 'cut'));
    const read = async (parse: (set: StepSet) => Promise<void>) => {
      const set = new StepSet(30, 60, 'e.csv');
      await parse(set);
      return { days: set.days('Europe/Paris'), values: set.values, errors: set.errors };
    };
    await fc.assert(fc.asyncProperty(file, async ([bom, before, blocks, eol, endsWithEol, cuts, tail]) => {
      const lines = [...before, ...blocks.flat()];
      const ends = ['\n', '\r\n', '\r'];
      let text = bom ? '\uFEFF' : '';
      lines.forEach((l, k) => {
        text += l + (k < lines.length - 1 || endsWithEol ? (eol === 'mixed' ? ends[k % 3]! : eol) : '');
      });
      // A last character whole (é) or cut off after its first byte (a truncated file).
      const bytes = Buffer.concat([Buffer.from(text + (tail === 'é' ? 'é' : '')), Buffer.from(tail === 'cut' ? [0xc3] : [])]);
      const at = [...new Set(cuts.map((c) => c % Math.max(bytes.length, 1)))].sort((a, b) => a - b);
      const chunks = [0, ...at].map((from, k) => bytes.subarray(from, at[k] ?? bytes.length)).filter((c) => c.length > 0);
      const byLines = await read((set) => parseEnedis(createInterface({ input: Readable.from(chunks), crlfDelay: Infinity }), set));
      const inPlace = await read((set) => parseEnedisBytes(chunks, set));
      assert.deepEqual(inPlace, byLines);
    }), { numRuns: 300 });
  });
});
