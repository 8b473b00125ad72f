import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededKey, smallCommunity } from '../../test/support/community.ts';
import { toBase64 } from '../ledger/index.ts';
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
