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

test('State: a compact table (rows deflated once durable, packed while a large batch writes) reads exactly as a plain one through any writes, rollbacks, commits and loads', () => {
  const columns = { id: 'text', owner: 'text', n: 'integer', doc: 'json', label: 'text' } as const;
  const plain: TableSpec = { name: 't', columns, primaryKey: ['id'], indexes: [['owner']] };
  const compact: TableSpec = { ...plain, compact: true };
  const doc = fc.oneof(fc.constant(null), fc.array(fc.record({ holder: fc.string(), from: fc.integer(), note: fc.option(fc.string({ unit: 'grapheme' })) }, { noNullPrototype: true }), { maxLength: 4 }));
  const op = fc.oneof(
    fc.record({ kind: fc.constant('put' as const), id: fc.integer({ min: 0, max: 9 }), owner: fc.constantFrom('a', 'b', 'c'), doc, label: fc.option(fc.string()) }),
    fc.record({ kind: fc.constant('bulk' as const), count: fc.integer({ min: 250, max: 320 }), owner: fc.constantFrom('a', 'b') }),
    fc.record({ kind: fc.constant('delete' as const), id: fc.integer({ min: 0, max: 9 }) }),
    fc.record({ kind: fc.constant('read' as const), id: fc.integer({ min: 0, max: 9 }) }),
    fc.record({ kind: fc.constant('mark' as const) }),
    fc.record({ kind: fc.constant('rollback' as const) }),
    fc.record({ kind: fc.constant('commit' as const) }),
  );
  fc.assert(fc.property(fc.array(fc.record({ id: fc.integer({ min: 0, max: 9 }), owner: fc.constantFrom('a', 'b'), doc }), { maxLength: 5 }), fc.array(op, { maxLength: 40 }), (loaded, ops) => {
    const states = [new State([plain]), new State([compact])];
    const same = (f: (s: State) => unknown) => assert.deepEqual(f(states[1]!), f(states[0]!));
    for (const s of states) s.load('t', loaded.map((l) => ({ id: `r${l.id}`, owner: l.owner, n: 0, doc: l.doc, label: null })));
    const marks: number[] = [];
    for (const o of ops) {
      for (const s of states) {
        if (o.kind === 'put') s.put('t', { id: `r${o.id}`, owner: o.owner, n: o.id, doc: o.doc, label: o.label });
        else if (o.kind === 'bulk') for (let i = 0; i < o.count; i++) s.put('t', { id: `bulk${i}`, owner: o.owner, n: i, doc: [{ holder: o.owner, from: i, note: null }], label: `"bulk" \\ ${i}` });
        else if (o.kind === 'delete') s.delete('t', `r${o.id}`);
        else if (o.kind === 'read') s.get('t', `r${o.id}`);
        else if (o.kind === 'commit') {
          // As a store commits: it takes the written rows' column values, then the state forgets.
          for (const [table, keys] of s.takeDirty()) for (const k of keys) s.columnValues(table, k);
          s.forget();
        }
      }
      if (o.kind === 'mark') marks.push(states[0]!.mark());
      else if (o.kind === 'rollback' && marks.length) {
        const m = marks.pop()!;
        for (const s of states) s.rollback(m);
      } else if (o.kind === 'commit') marks.length = 0;
      same((s) => [...s.rows('t')]);
      same((s) => [...s.keys('t')].map((k) => [k, s.get('t', k), s.peek('t', k), s.columnTexts('t', k), s.columnValues('t', k), s.has('t', k)]));
      same((s) => ['a', 'b', 'c'].map((owner) => s.lookup<Row>('t', 'owner', owner).map((r) => r.id).sort()));
      same((s) => [s.count('t'), s.get('t', 'r1'), s.has('t', 'r1'), s.columnTexts('t', 'r1')]);
    }
  }), { numRuns: 150 });
});

test('State: a compact row without a canonical form stays a row: it fails no commit and no other write, and the table goes on packing', () => {
  const spec: TableSpec = { name: 't', columns: { id: 'text', n: 'integer' }, primaryKey: ['id'], compact: true };
  const s = new State([spec]);
  s.put('t', { id: 'good', n: 1 });
  s.put('t', { id: 'bad', n: Number.NaN });
  const mark = s.mark();
  // Another transaction's writes pass the mid-batch packing threshold with both rows still waiting.
  for (let i = 0; i < 300; i++) s.put('t', { id: `bulk${i}`, n: i });
  s.rollback(mark);
  assert.deepEqual(s.get('t', 'good'), { id: 'good', n: 1 });
  assert.ok(Number.isNaN(s.get('t', 'bad')!.n));
  assert.throws(() => s.columnTexts('t', 'bad'), /JSON/);
  s.delete('t', 'bad');
  s.takeDirty();
  s.forget();
  s.put('t', { id: 'later', n: 2 });
  s.forget();
  assert.deepEqual([...s.rows('t')], [{ id: 'good', n: 1 }, { id: 'later', n: 2 }]);
  assert.deepEqual(s.columnValues('t', 'later'), ['later', 2]);
});
