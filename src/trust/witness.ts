import { checkCheckpointConsistency } from '../audit/consistency.ts';
import { OpenlecError } from '../errors.ts';
import { type Cosigner, cosign, type MessageSigner, openCheckpoint, parseVerifierKey, sign, type SignatureVerifier, toBase64, verifySignature } from '../ledger/index.ts';
import type { Evidence } from './evidence.ts';

/**
 * A witness's rule (C2SP tlog-witness semantics, pull mode): cosign a checkpoint only if
 * it is consistent with the last one cosigned, never cosign two different roots for the
 * same size, never go back to a smaller tree. Pure: the edge fetches, keeps the state
 * durable before sending the cosignature, and supplies the time.
 */
export interface WitnessState {
  verifierKey: string;
  size: number;
  /** base64 root of the last cosigned checkpoint. */
  root: string;
  note: string;
}

export type WitnessDecision =
  | { action: 'cosign'; state: WitnessState; line: string }
  | { action: 'stale'; reason: string }
  | { action: 'refuse'; reason: string; evidence: Evidence };

export function witnessCheckpoint(
  o: { state: WitnessState | undefined; verifierKey: string; note: string; proof?: readonly string[]; cosigner: Cosigner; timestamp: number; observedAt: string },
  verify: SignatureVerifier = verifySignature, signWith: MessageSigner = sign,
): WitnessDecision {
  const key = parseVerifierKey(o.verifierKey);
  if (o.state && o.state.verifierKey !== o.verifierKey) throw new OpenlecError('E_WITNESS_STATE', `this witness follows the log key ${o.state.verifierKey}, not ${o.verifierKey}`, { field: 'verifierKey' });
  const c = openCheckpoint(o.note, key, key.name, verify);
  const text = o.note.slice(0, o.note.indexOf('\n\n') + 1);
  const accept = (): WitnessDecision => ({ action: 'cosign', state: { verifierKey: o.verifierKey, size: c.size, root: toBase64(c.root), note: o.note }, line: cosign(text, o.cosigner, o.timestamp, signWith) });
  const s = o.state;
  if (!s) return accept();
  if (c.size < s.size) return { action: 'stale', reason: `checkpoint of size ${c.size} is older than the one cosigned (${s.size})` };
  if (c.size === s.size) {
    if (toBase64(c.root) === s.root) return accept();
    return { action: 'refuse', reason: `split view: a second root for size ${c.size}`, evidence: { kind: 'split-view', verifierKey: o.verifierKey, observedAt: o.observedAt, a: s.note, b: o.note } };
  }
  try {
    checkCheckpointConsistency(s.note, o.note, o.proof ?? [], o.verifierKey, verify);
  } catch (e) {
    const code = (e as OpenlecError).code;
    if (code !== 'E_INCONSISTENT' && code !== 'E_PROOF_FORMAT') throw e;
    return { action: 'refuse', reason: `the checkpoint of size ${c.size} is not proved consistent with the one of size ${s.size} already cosigned`, evidence: { kind: 'inconsistent', verifierKey: o.verifierKey, observedAt: o.observedAt, a: s.note, b: o.note, proof: [...(o.proof ?? [])] } };
  }
  return accept();
}

