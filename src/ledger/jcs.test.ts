import assert from 'node:assert/strict';
import { test } from 'node:test';
import canonicalize from 'canonicalize';
import fc from 'fast-check';
import { jcs } from './jcs.ts';

test('jcs writes what the canonicalize package writes, and refuses what it refuses', () => {
  const same = (v: unknown) => {
    let want: string | undefined | Error;
    try {
      want = canonicalize(v);
    } catch (e) {
      want = e as Error;
    }
    if (want instanceof Error) assert.throws(() => jcs(v));
    else assert.equal(jcs(v), want);
  };
  fc.assert(fc.property(fc.jsonValue(), same), { numRuns: 2000 });
  fc.assert(fc.property(fc.anything({ withNullPrototype: true, withObjectString: true }), same), { numRuns: 1000 });
  for (const v of [NaN, Infinity, '\ud800', { '\udc00': 1 }, [1e21, 1e-7, -0, 0.1 + 0.2], { b: undefined, a: [undefined] }, { toJSON: () => 'x' }]) same(v);
});
