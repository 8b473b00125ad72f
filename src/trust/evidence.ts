import { checkCheckpointConsistency } from '../audit/consistency.ts';
import { proofHashes } from '../audit/entry-proof.ts';
import { OpenlecError } from '../errors.ts';
import { type Checkpoint, checkInclusion, equalBytes, leafHash, openCheckpoint, parseVerifierKey, type SignatureVerifier, toBase64, utf8, verifySignature } from '../ledger/index.ts';

/**
 * Evidence that a log's operator equivocated, checkable offline by anyone who knows the
 * operator's checkpoint key (`openlec verify-evidence`):
 *
 * - `split-view`: two checkpoints signed by the operator, of the same size, with
 *   different roots. Conclusive.
 * - `fork`: two checkpoints signed by the operator and, at the same index, two different
 *   entries, each with its inclusion proof under one of them. Conclusive: no append-only
 *   log has both.
 * - `inconsistent`: an older and a newer signed checkpoint and the consistency proof the
 *   operator served, which does not verify. Not conclusive on its own (a proof can be
 *   garbled in transit), but the operator is bound to produce a valid proof for the two
 *   checkpoints it signed, and cannot if it rewrote history.
 */
export type Evidence =
  | { kind: 'split-view'; verifierKey: string; observedAt: string; a: string; b: string }
  | { kind: 'fork'; verifierKey: string; observedAt: string; a: string; b: string; index: number; entryA: string; proofA: string[]; entryB: string; proofB: string[] }
  | { kind: 'inconsistent'; verifierKey: string; observedAt: string; a: string; b: string; proof: string[] };

export interface EvidenceVerdict {
  conclusive: boolean;
  summary: string;
}

const hashes = (proof: readonly string[], field: string) => proofHashes(proof, { field, code: 'E_EVIDENCE' });

/**
 * checkEvidence verifies a piece of evidence and says what it proves; it throws a named
 * error when the evidence proves nothing (a bad signature, checkpoints that agree, an
 * inclusion proof that fails, a consistency proof that verifies after all).
 */
export function checkEvidence(e: Evidence, verify: SignatureVerifier = verifySignature): EvidenceVerdict {
  const key = parseVerifierKey(e.verifierKey);
  const open = (note: string, field: string): Checkpoint => {
    try {
      return openCheckpoint(note, key, key.name, verify);
    } catch (err) {
      throw new OpenlecError('E_EVIDENCE', `${field}: not a checkpoint signed by ${key.name}: ${(err as Error).message}`, { field, cause: err });
    }
  };
  const a = open(e.a, 'a');
  const b = open(e.b, 'b');
  if (e.kind === 'split-view') {
    if (a.size !== b.size) throw new OpenlecError('E_EVIDENCE', `the checkpoints have different sizes (${a.size}, ${b.size}): not a split view`, { field: 'b' });
    if (equalBytes(a.root, b.root)) throw new OpenlecError('E_EVIDENCE', 'the two checkpoints have the same root: no split view', { field: 'b' });
    return { conclusive: true, summary: `split view: ${key.name} signed two different trees of size ${a.size} (roots ${toBase64(a.root)} and ${toBase64(b.root)})` };
  }
  if (e.kind === 'fork') {
    if (e.entryA === e.entryB) throw new OpenlecError('E_EVIDENCE', `the two entries at index ${e.index} are the same: no fork`, { field: 'entryB' });
    if (!checkInclusion(e.index, a.size, leafHash(utf8(e.entryA)), hashes(e.proofA, 'proofA'), a.root)) throw new OpenlecError('E_EVIDENCE', `entryA is not entry ${e.index} of the checkpoint of size ${a.size}`, { field: 'proofA' });
    if (!checkInclusion(e.index, b.size, leafHash(utf8(e.entryB)), hashes(e.proofB, 'proofB'), b.root)) throw new OpenlecError('E_EVIDENCE', `entryB is not entry ${e.index} of the checkpoint of size ${b.size}`, { field: 'proofB' });
    return { conclusive: true, summary: `fork: ${key.name} signed a tree of size ${a.size} and one of size ${b.size} with different entries at index ${e.index}: the log was rewritten` };
  }
  try {
    checkCheckpointConsistency(e.a, e.b, e.proof, e.verifierKey, verify);
  } catch (err) {
    const code = (err as OpenlecError).code;
    if (code === 'E_INCONSISTENT' || code === 'E_PROOF_FORMAT') {
      return { conclusive: false, summary: `${key.name} served a consistency proof from size ${a.size} to ${b.size} that does not verify; it must produce a valid one for the two checkpoints it signed` };
    }
    throw err;
  }
  throw new OpenlecError('E_EVIDENCE', `the consistency proof from size ${a.size} to ${b.size} verifies: no inconsistency`, { field: 'proof' });
}
