import assert from 'node:assert/strict';
import { test } from 'node:test';
import canonicalize from 'canonicalize';
import fc from 'fast-check';
import { jcs, jcsGeneral } from './jcs.ts';

/** agreesWith: jcs writes what `reference` writes and refuses what it refuses (with its message too, when asked). */
const agreesWith = (reference: (v: unknown) => string | undefined, sameMessage: boolean) => (v: unknown) => {
  let want: string | undefined | Error;
  try {
    want = reference(v);
  } catch (e) {
    want = e as Error;
  }
  if (want instanceof Error) assert.throws(() => jcs(v), { message: sameMessage ? want.message : /./ });
  else assert.equal(jcs(v), want);
};

test('jcs writes what the canonicalize package writes, and refuses what it refuses', () => {
  // canonicalize words its errors its own way: only the refusal is compared.
  const same = agreesWith(canonicalize, false);
  fc.assert(fc.property(fc.jsonValue(), same), { numRuns: 2000 });
  fc.assert(fc.property(fc.anything({ withNullPrototype: true, withObjectString: true }), same), { numRuns: 1000 });
  for (const v of [NaN, Infinity, '\ud800', { '\udc00': 1 }, [1e21, 1e-7, -0, 0.1 + 0.2], { b: undefined, a: [undefined] }, { toJSON: () => 'x' }]) same(v);
});

test('the JSON.stringify shortcut writes what the general writer writes, and refuses what it refuses', () => {
  const same = agreesWith(jcsGeneral, true);
  // Values in canonical shape (names in order at every level), as a log's rows are: the shortcut's case.
  fc.assert(fc.property(fc.jsonValue(), (v) => same(JSON.parse(jcsGeneral(v)!))), { numRuns: 2000 });
  // The same with one value somewhere inside replaced by what JSON.stringify writes differently.
  const odd = fc.constantFrom<unknown>(NaN, -Infinity, '\ud800x', 10n, new Date(0), new Number(3), { toJSON: () => 'y' }, Object.assign(Object.create({ inherited: 1 }), { own: 2 }), () => 1, Symbol('s'));
  fc.assert(fc.property(fc.array(fc.jsonValue(), { maxLength: 5 }), odd, fc.nat(), (vs, x, at) => {
    const arr = vs.map((v) => JSON.parse(jcsGeneral(v)!));
    arr.splice(at % (arr.length + 1), 0, x);
    same(arr);
    same({ a: 1, b: { c: arr } });
    same({ z: { c: arr, b: 2 }, a: arr });
  }), { numRuns: 1000 });
  // Names out of order, integer-like names (enumerated first), nesting deeper than the shortcut looks, a cycle.
  let deep: unknown = { z: 1 };
  for (let i = 0; i < 40; i++) deep = { a: [deep] };
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = { x: cyclic };
  const withToJson = Object.assign([1], { toJSON: () => ({ b: 1, a: 2 }) });
  class Row extends Array<number> {}
  for (const v of [withToJson, { x: withToJson }, Row.from([1, 2]), { b: 1, a: 2 }, { 9: 'a', 10: 'b' }, { a: { d: 1, c: 2 } }, deep, cyclic, { a: undefined, b: [undefined, null] }, { '\udc00': 1 }, Object.create(null)]) same(v);
});
