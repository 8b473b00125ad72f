import { OpenlecError } from '../errors.ts';
import { type Checkpoint, checkConsistency, equalBytes, openCheckpoint, parseVerifierKey, type SignatureVerifier, verifySignature } from '../ledger/index.ts';
import { proofHashes } from './entry-proof.ts';

/**
 * checkCheckpointConsistency verifies, offline, that a newer signed checkpoint extends an
 * older one: both signatures under `verifierKey`, the same origin, and the RFC 9162
 * consistency proof from the older tree to the newer. A log that rewrote history cannot
 * pass. Returns both checkpoints; throws a named error otherwise. Equal sizes need equal roots.
 */
export function checkCheckpointConsistency(
  older: string, newer: string, proof: readonly string[], verifierKey: string, verify: SignatureVerifier = verifySignature,
): { older: Checkpoint; newer: Checkpoint } {
  const key = parseVerifierKey(verifierKey);
  const a = openCheckpoint(older, key, key.name, verify);
  const b = openCheckpoint(newer, key, key.name, verify);
  if (a.size > b.size) throw new OpenlecError('E_CHECKPOINT_ORDER', `the older checkpoint (size ${a.size}) is larger than the newer (size ${b.size})`, { field: 'older' });
  if (a.size === b.size) {
    if (!equalBytes(a.root, b.root)) throw new OpenlecError('E_SPLIT_VIEW', `two checkpoints of size ${a.size} with different roots`, { field: 'newer' });
    return { older: a, newer: b };
  }
  if (a.size > 0 && !checkConsistency(a.size, a.root, b.size, b.root, proofHashes(proof))) {
    throw new OpenlecError('E_INCONSISTENT', `the checkpoint of size ${b.size} does not extend the one of size ${a.size}`, { field: 'proof' });
  }
  return { older: a, newer: b };
}
