import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededKey, smallCommunity } from '../../test/support/community.ts';
import { cosignaturesOf, cosignerKeyId, formatCosignerKey, parseCosignerKey, sha256, toBase64, utf8 } from '../ledger/index.ts';
import { checkEvidence } from './evidence.ts';
import { witnessCheckpoint } from './witness.ts';

test('C2SP cosignature/v1: key id and signed message as specified; a changed time or checkpoint does not verify', () => {
  const k = seededKey('witness');
  const vkey = formatCosignerKey('witness.example', k.publicKey);
  const key = parseCosignerKey(vkey);
  // key id = SHA-256(name || 0x0A || 0x04 || public key)[:4]
  assert.deepEqual(key.keyId, sha256(new Uint8Array([...utf8('witness.example'), 0x0a, 0x04, ...k.publicKey])).slice(0, 4));
  assert.deepEqual(cosignerKeyId('witness.example', k.publicKey), key.keyId);
  assert.throws(() => parseCosignerKey(vkey.replace('+', '+0')), { code: 'E_COSIGNER_KEY' });
});

test('a witness cosigns consistent growth, refuses a split view and an unproved history, and its evidence checks out', async () => {
  const c = await smallCommunity();
  const op = seededKey('operator');
  const vk = c.ledger.operatorVerifierKey();
  const cosigner = { name: 'w.example', ...seededKey('w') };
  const wkey = parseCosignerKey(formatCosignerKey('w.example', cosigner.publicKey));
  const base = { verifierKey: vk, cosigner, timestamp: 1_790_000_000, observedAt: '2026-11-24T00:00:00Z' };
  const cp1 = c.ledger.checkpoint(op);
  const first = witnessCheckpoint({ ...base, state: undefined, note: cp1.note });
  assert.equal(first.action, 'cosign');
  if (first.action !== 'cosign') return;
  // The line is a valid cosignature on the checkpoint, with its time.
  assert.deepEqual(cosignaturesOf(cp1.note + first.line, [wkey]), [{ name: 'w.example', timestamp: 1_790_000_000 }]);
  assert.throws(() => cosignaturesOf(cp1.note.replace(/\n(\d+)\n/, (_m, n) => `\n${Number(n) + 1}\n`) + first.line, [wkey]));

  assert.ok((await c.ledger.submit(c.dso.sign('feeder.define', { id: 'f-new' }))).ok);
  const cp2 = c.ledger.checkpoint(op);
  const proof = c.ledger.proveConsistency(cp1.checkpoint.size, cp2.checkpoint.size).map(toBase64);
  const grown = witnessCheckpoint({ ...base, state: first.state, note: cp2.note, proof });
  assert.equal(grown.action, 'cosign');
  assert.equal(witnessCheckpoint({ ...base, state: grown.action === 'cosign' ? grown.state : undefined, note: cp1.note }).action, 'stale', 'never back to a smaller tree');

  const noProof = witnessCheckpoint({ ...base, state: first.state, note: cp2.note, proof: [] });
  assert.equal(noProof.action, 'refuse');
  if (noProof.action === 'refuse') assert.equal(checkEvidence(noProof.evidence).conclusive, false);
  // A second root for the size already cosigned.
  const forged = { ...first.state, root: toBase64(new Uint8Array(32)) };
  const split = witnessCheckpoint({ ...base, state: { ...forged, note: cp1.note }, note: cp1.note });
  assert.equal(split.action, 'refuse', 'a different root for the same size is refused');
  await c.ledger.close();
});
