import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { seededKey, smallCommunity } from '../../test/support/community.ts';
import { EMPTY_ROOT, equalBytes, formatVerifierKey, leafHash, MemoryTree, signCheckpoint, toBase64, utf8 } from '../ledger/index.ts';
import { SqliteLedger } from '../store/sqlite-ledger.ts';
import { checkCheckpointConsistency } from './consistency.ts';

test('a newer checkpoint is proved to extend an older one; a rewritten log, a forged proof or a split view are refused', async () => {
  const c = await smallCommunity();
  const operator = seededKey('operator');
  const older = c.ledger.checkpoint(operator);
  const r = await c.ledger.submit(c.dso.sign('feeder.define', { id: 'feeder-x' }));
  assert.ok(r.ok);
  const newer = c.ledger.checkpoint(operator);
  const key = c.ledger.operatorVerifierKey();
  const proof = c.ledger.proveConsistency(older.checkpoint.size, newer.checkpoint.size).map(toBase64);
  const ok = checkCheckpointConsistency(older.note, newer.note, proof, key);
  assert.equal(ok.newer.size, older.checkpoint.size + 1);
  assert.deepEqual(checkCheckpointConsistency(older.note, older.note, [], key).older.size, older.checkpoint.size);

  // A forged proof (one hash changed) fails.
  const forged = [...proof];
  forged[0] = toBase64(new Uint8Array(32).fill(7));
  assert.throws(() => checkCheckpointConsistency(older.note, newer.note, forged, key), { code: 'E_INCONSISTENT' });
  assert.throws(() => checkCheckpointConsistency(newer.note, older.note, proof, key), { code: 'E_CHECKPOINT_ORDER' });
  assert.throws(() => checkCheckpointConsistency(older.note, newer.note, ['nope'], key), { code: 'E_PROOF_FORMAT' });

  // A second log under the same operator key, with the same prefix but a different entry at that size: a split view.
  const path2 = `${c.path}.fork.db`;
  const fork = SqliteLedger.create(path2);
  for (let i = 0; i < older.checkpoint.size; i++) assert.ok((await fork.submit(c.ledger.entry(i))).ok);
  assert.ok((await fork.submit(c.dso.sign('feeder.define', { id: 'feeder-y' }))).ok);
  const other = fork.checkpoint(operator);
  assert.equal(other.checkpoint.size, newer.checkpoint.size);
  assert.throws(() => checkCheckpointConsistency(newer.note, other.note, [], key), { code: 'E_SPLIT_VIEW' });
  assert.throws(() => checkCheckpointConsistency(older.note, other.note, proof, key), { code: 'E_INCONSISTENT' });
  await fork.close();
  await c.ledger.close();
});

const ORIGIN = 'openlec.test/empty-tree';
const logKey = seededKey('empty-tree-operator');
const verifierKey = formatVerifierKey(ORIGIN, logKey.publicKey);
const signed = (size: number, root: Uint8Array) => signCheckpoint({ origin: ORIGIN, size, root, extensions: [] }, { ...logKey, name: ORIGIN });

function treeOf(size: number): MemoryTree {
  const t = new MemoryTree();
  for (let i = 0; i < size; i++) t.appendLeaf(leafHash(utf8(`entry ${i}`)));
  return t;
}

test('a signed checkpoint of size 0 is consistent with a later one only if its root is the empty tree\'s, and with an empty proof', () => {
  const newer = treeOf(5);
  const empty = signed(0, EMPTY_ROOT);
  assert.equal(checkCheckpointConsistency(empty, signed(5, newer.root()), [], verifierKey).older.size, 0);
  assert.equal(checkCheckpointConsistency(empty, empty, [], verifierKey).newer.size, 0);

  // (0, a root that is not EMPTY_ROOT) is no tree at all: refused against a later tree and against itself.
  const bogus = signed(0, newer.root());
  assert.throws(() => checkCheckpointConsistency(bogus, signed(5, newer.root()), [], verifierKey), {
    code: 'E_INCONSISTENT', field: 'older', message: `the checkpoint of size 0 has root ${toBase64(newer.root())}, not the empty tree's ${toBase64(EMPTY_ROOT)} (RFC 9162 section 2.1.1)`,
  });
  assert.throws(() => checkCheckpointConsistency(bogus, bogus, [], verifierKey), { code: 'E_INCONSISTENT', field: 'older' });

  // The proof from the empty tree, or between equal trees, is empty: hashes there prove nothing and are refused.
  const junk = [toBase64(new Uint8Array(32).fill(7))];
  assert.throws(() => checkCheckpointConsistency(empty, signed(5, newer.root()), junk, verifierKey), {
    code: 'E_INCONSISTENT', field: 'proof', message: 'the consistency proof from size 0 to size 5 must be empty, not 1 hashes',
  });
  assert.throws(() => checkCheckpointConsistency(signed(5, newer.root()), signed(5, newer.root()), junk, verifierKey), { code: 'E_INCONSISTENT', field: 'proof' });
});

test('property: no signed (0, root other than EMPTY_ROOT) is consistent with any later checkpoint, nor with itself', () => {
  fc.assert(fc.property(
    fc.uint8Array({ minLength: 32, maxLength: 32 }).filter((r) => !equalBytes(r, EMPTY_ROOT)),
    fc.integer({ min: 1, max: 9 }), fc.uint8Array({ minLength: 32, maxLength: 32 }),
    (root, size, otherRoot) => {
      const older = signed(0, root);
      for (const newer of [signed(size, otherRoot), signed(size, treeOf(size).root()), older]) {
        assert.throws(() => checkCheckpointConsistency(older, newer, [], verifierKey), { code: 'E_INCONSISTENT', field: 'older' });
      }
    },
  ), { numRuns: 25 });
});
