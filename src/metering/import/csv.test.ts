import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { fixedInstant, parseDecimal, parseInstantGeneral } from '../../units/index.ts';
import { CSV_DEFAULTS, type CsvOptions, parseCsv, plainDecimal } from './csv.ts';
import { StepSet } from './steps.ts';

/** What a parse leaves: every problem with its line, or the error thrown, and the days. */
async function outcome(chunks: Uint8Array[], o: CsvOptions, plain: boolean) {
  const steps = new StepSet(30, 1000, 'f.csv');
  try {
    await parseCsv(chunks, steps, o, plain);
  } catch (e) {
    return { thrown: (e as Error).message };
  }
  return { errors: steps.errors, days: steps.errors.length === 0 ? steps.days('UTC') : [], values: steps.values };
}

/** Cuts bytes into chunks at the given points. */
function cut(bytes: Uint8Array, points: number[]): Uint8Array[] {
  const at = [...new Set(points.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let from = 0;
  for (const p of at) {
    out.push(bytes.subarray(from, p));
    from = p;
  }
  out.push(bytes.subarray(from));
  return out.filter((c) => c.length > 0);
}

const T = Date.UTC(2026, 2, 28, 22);
const stamp = (q: number, zone: 'Z' | '+01:00') => new Date(T + q * 900_000 + (zone === 'Z' ? 0 : 3_600_000)).toISOString().slice(0, 19) + zone;

// Cells: mostly well-formed, with the quirks real files have and the ones that must fail.
const meterCell = fc.constantFrom('30001234567890', '30009876543210', ' 30001234567890 ', '"30001234567890"', '', 'é1');
const startCell = fc.oneof(
  fc.record({ q: fc.integer({ min: 0, max: 120 }), zone: fc.constantFrom('Z' as const, '+01:00' as const) }).map(({ q, zone }) => stamp(q, zone)),
  fc.constantFrom('2026-02-30T00:00:00Z', '2026-03-29T00:00', '0099-01-01T00:00:00Z', '2026-03-29T24:00:00Z', '"2026-03-29T01:00:00Z"', '2026-03-29 01:30:00+00:00'),
);
const valueCell = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 999 }), fc.integer({ min: 0, max: 999 }), fc.constantFrom(',', '.')).map(([w, f, s]) => `${w}${s}${String(f).padStart(3, '0')}`),
  fc.integer({ min: 0, max: 5000 }).map(String),
  fc.constantFrom('"0,125"', '" 1,5 "', '-1', '+2', 'x', '1,2345678', '0,1234567', '1e3', '"a""b"', '1"2', '"1"x', '"1" ', '12345678901234567', '9999999999999', ',5', '5,', '\u00a05'),
);
const directionCell = fc.constantFrom('import', 'export', '', ' import\t', 'sideways', '"export"');
const row = fc.tuple(meterCell, startCell, valueCell, directionCell, fc.constantFrom(0, 0, 0, 0, 1, -1)).map(([m, s, v, d, extra]) => {
  const cells = [m, s, v, d];
  if (extra > 0) cells.push('x');
  if (extra < 0) cells.pop();
  return cells;
});
const eol = fc.constantFrom('\n', '\n', '\r\n', '\r');

const file = fc.record({
  bom: fc.constantFrom('', '', '', '\ufeff'),
  separator: fc.constantFrom(';', ';', ',', '\t'),
  header: fc.constantFrom('meter|start|value|direction', 'meter|start|value', 'start|meter|direction|value', ' meter | start |value|direction', 'meter|begin|value'),
  eol,
  rows: fc.array(fc.tuple(row, fc.constantFrom(0, 0, 0, 0, 0, 0, 1, 2, 3)), { maxLength: 30 }),
  end: fc.constantFrom('eol', 'eol', 'none', 'blank'),
  points: fc.array(fc.nat(4000), { maxLength: 6 }),
});

describe('generic CSV: the plain-row reader and csv-parse read alike', () => {
  test('random files (quotes, blanks, BOM, line ends mixed, bad rows, any chunking) give the same days, problems and lines', async () => {
    await fc.assert(fc.asyncProperty(file, async (f) => {
      const lines = [f.header.replaceAll('|', f.separator)];
      for (const [cells, quirk] of f.rows) {
        // quirk 1: a blank line first; 2: another line end; 3: a quoted cell spanning lines.
        if (quirk === 1) lines.push('');
        const text = cells.join(f.separator);
        if (quirk === 2) lines.push(text + (f.eol === '\n' ? '\r' : '\n'));
        else if (quirk === 3) lines.push(`${text}${f.separator}"a\nb"`);
        else lines.push(text);
      }
      let text = f.bom + lines.join(f.eol);
      if (f.end === 'eol') text += f.eol;
      if (f.end === 'blank') text += f.eol + '  ';
      const bytes = new TextEncoder().encode(text);
      const o = { ...CSV_DEFAULTS, unit: 'kWh' as const, stepMinutes: 15, separator: f.separator };
      const fast = await outcome(cut(bytes, f.points), o, true);
      const reference = await outcome([bytes], o, false);
      assert.deepEqual(fast, reference);
    }), { numRuns: 600 });
  });

  test('a file of plain rows, then rows csv-parse must read (a doubled quote), names the lines of both parts rightly', async () => {
    const text = ['meter;start;value', '30001234567890;2026-03-29T00:00:00Z;1', '30001234567890;2026-03-29T00:15:00Z;"a""b"', '30001234567890;2026-03-29T00:30:00Z;"x', 'y";2', ''].join('\r\n');
    const o = { ...CSV_DEFAULTS, stepMinutes: 15 };
    const bytes = new TextEncoder().encode(text);
    const fast = await outcome([bytes], o, true);
    assert.deepEqual(fast, await outcome([bytes], o, false));
    assert.deepEqual((fast.errors ?? []).map((e) => e.line), [3, 4]);
  });
});

describe('plain values and stamps read as the general readers read them', () => {
  test('plainDecimal is parseDecimal wherever it gives a value', () => {
    fc.assert(fc.property(fc.stringMatching(/^[0-9.,+\- ]{0,18}$/), fc.constantFrom(3, 6), (text, scale) => {
      const fast = plainDecimal(text, scale);
      let slow: number | undefined;
      try {
        slow = parseDecimal(text, scale, 'value');
      } catch {
        slow = undefined;
      }
      if (fast >= 0) assert.equal(fast, slow, text);
    }), { numRuns: 20_000 });
    assert.equal(plainDecimal('0,125', 6), 125_000);
    assert.equal(plainDecimal('999999999', 6), 999_999_999_000_000);
    assert.equal(plainDecimal('9999999999', 6), -1);
  });

  test('fixedInstant (the fast reading parseInstant tries first) is the general reading wherever it gives a value, and gives one for every valid fixed stamp', () => {
    const any = fc.tuple(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 0, max: 13 }), fc.integer({ min: 0, max: 32 }), fc.integer({ min: 0, max: 25 }), fc.integer({ min: 0, max: 61 }), fc.integer({ min: 0, max: 61 }), fc.constantFrom('Z', '+01:00', '-05:30', '+14:00', 'z', '+0100'))
      .map(([y, mo, d, h, mi, s, z]) => `${String(y).padStart(4, '0')}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:${String(mi).padStart(2, '0')}:${String(s).padStart(2, '0')}${z}`);
    fc.assert(fc.property(any, (text) => {
      const fast = fixedInstant(text);
      let slow: number | undefined;
      try {
        slow = parseInstantGeneral(text);
      } catch {
        slow = undefined;
      }
      if (fast !== undefined) assert.equal(fast, slow, text);
      else if (slow !== undefined && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$/.test(text)) assert.ok(Number(text.slice(0, 4)) < 100, text);
    }), { numRuns: 50_000 });
  });
});
