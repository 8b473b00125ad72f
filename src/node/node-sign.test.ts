import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { keyPairFromSeed, sign, verifySignature } from '../ledger/index.ts';
import { nodeSign, nodeVerifySignature } from './signatures.ts';

test('node:crypto signs exactly as @noble/curves (Ed25519 is deterministic), and each verifies the other', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 600 }), (seed, message) => {
    const key = keyPairFromSeed(seed);
    const a = nodeSign(key.secretKey, message);
    assert.deepEqual(a, sign(key.secretKey, message));
    assert.equal(verifySignature(key.publicKey, message, a), true);
    assert.equal(nodeVerifySignature(key.publicKey, message, a), true);
    a[0]! ^= 1;
    assert.equal(nodeVerifySignature(key.publicKey, message, a), false);
  }), { numRuns: 100 });
});
