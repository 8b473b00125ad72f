import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type Row, State, type TableSpec } from './tables.ts';

const SPEC: TableSpec = { name: 't', columns: { id: 'text', owner: 'text', n: 'integer' }, primaryKey: ['id'], indexes: [['owner'], ['owner', 'n']] };
const scan = (s: State, owner: string) => ([...s.rows('t')] as Row[]).filter((r) => r.owner === owner).map((r) => r.id).sort();
const viaIndex = (s: State, owner: string) => s.lookup<Row>('t', 'owner', owner).map((r) => r.id).sort();

test('State: a secondary index always returns what a scan finds, through writes, deletes, rollbacks and loads', () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('put' as const), id: fc.integer({ min: 0, max: 9 }), owner: fc.constantFrom('a', 'b', 'c') }),
    fc.record({ kind: fc.constant('delete' as const), id: fc.integer({ min: 0, max: 9 }) }),
    fc.record({ kind: fc.constant('mark' as const) }),
    fc.record({ kind: fc.constant('rollback' as const) }),
  );
  fc.assert(fc.property(fc.array(fc.record({ id: fc.integer({ min: 0, max: 9 }), owner: fc.constantFrom('a', 'b') }), { maxLength: 5 }), fc.array(op, { maxLength: 60 }), (loaded, ops) => {
    const s = new State([SPEC]);
    s.load('t', loaded.map((l) => ({ id: `r${l.id}`, owner: l.owner, n: 0 })));
    const marks: number[] = [];
    for (const o of ops) {
      if (o.kind === 'put') s.put('t', { id: `r${o.id}`, owner: o.owner, n: o.id });
      else if (o.kind === 'delete') s.delete('t', `r${o.id}`);
      else if (o.kind === 'mark') marks.push(s.mark());
      else if (marks.length) s.rollback(marks.pop()!);
      for (const owner of ['a', 'b', 'c']) assert.deepEqual(viaIndex(s, owner), scan(s, owner));
    }
  }), { numRuns: 300 });
  assert.throws(() => new State([SPEC]).lookup('t', 'n', 1), /no index on n/);
});
