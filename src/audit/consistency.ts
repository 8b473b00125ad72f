import { OpenlecError } from '../errors.ts';
import { type Checkpoint, checkConsistency, EMPTY_ROOT, equalBytes, openCheckpoint, parseVerifierKey, type SignatureVerifier, toBase64, verifySignature } from '../ledger/index.ts';
import { proofHashes } from './entry-proof.ts';

/**
 * checkCheckpointConsistency verifies, offline, that a newer signed checkpoint extends an
 * older one: both signatures under `verifierKey`, the same origin, and the RFC 9162
 * consistency proof from the older tree to the newer. A log that rewrote history cannot
 * pass. Returns both checkpoints; throws a named error otherwise. Equal sizes need equal
 * roots and an empty proof; size 0 needs EMPTY_ROOT, or a signed (0, any root) would be
 * "consistent" with every tree.
 */
export function checkCheckpointConsistency(
  older: string, newer: string, proof: readonly string[], verifierKey: string, verify: SignatureVerifier = verifySignature,
): { older: Checkpoint; newer: Checkpoint } {
  const key = parseVerifierKey(verifierKey);
  const a = openCheckpoint(older, key, key.name, verify);
  const b = openCheckpoint(newer, key, key.name, verify);
  if (a.size > b.size) throw new OpenlecError('E_CHECKPOINT_ORDER', `the older checkpoint (size ${a.size}) is larger than the newer (size ${b.size})`, { field: 'older' });
  if (a.size === b.size && !equalBytes(a.root, b.root)) throw new OpenlecError('E_SPLIT_VIEW', `two checkpoints of size ${a.size} with different roots`, { field: 'newer' });
  // Every other case, the empty tree and equal sizes included, is checkConsistency's to judge.
  if (!checkConsistency(a.size, a.root, b.size, b.root, proofHashes(proof))) {
    const why = inconsistency(a, b, proof.length);
    throw new OpenlecError('E_INCONSISTENT', why.message, { field: why.field });
  }
  return { older: a, newer: b };
}

/** inconsistency says why checkConsistency refused two checkpoints already in size order with no split view. */
function inconsistency(a: Checkpoint, b: Checkpoint, proofLength: number): { message: string; field: string } {
  if (a.size === 0 && !equalBytes(a.root, EMPTY_ROOT)) {
    return { message: `the checkpoint of size 0 has root ${toBase64(a.root)}, not the empty tree's ${toBase64(EMPTY_ROOT)} (RFC 9162 section 2.1.1)`, field: 'older' };
  }
  if (a.size === 0 || a.size === b.size) {
    return { message: `the consistency proof from size ${a.size} to size ${b.size} must be empty, not ${proofLength} hashes`, field: 'proof' };
  }
  return { message: `the checkpoint of size ${b.size} does not extend the one of size ${a.size}`, field: 'proof' };
}
