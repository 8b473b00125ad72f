import { OpenlecError } from '../errors.ts';
import { checkInclusion, decodeEntry, fromBase64, fromHex, type Hash, leafHash, openCheckpoint, parseVerifierKey, type SignatureVerifier, utf8, verifySignature } from '../ledger/index.ts';

/**
 * An EntryProof lets anyone check, offline, that one transaction is in the log: the
 * entry itself, its RFC 9162 audit path, and the operator-signed checkpoint the path
 * leads to. Hashes are standard base64, as in checkpoints.
 */
export interface EntryProof {
  readonly entry: number;
  readonly transaction: string;
  readonly proof: readonly string[];
  readonly checkpoint: string;
  readonly verifierKey: string;
}

/**
 * proofHashes decodes an audit path of standard base64 hashes, naming the first one that
 * is not 32 bytes (`label[i]` in the message, `field[i]` as the field).
 */
export function proofHashes(proof: readonly string[], o: { field?: string; label?: string; code?: string } = {}): Hash[] {
  const field = o.field ?? 'proof';
  return proof.map((h, i) => {
    const b = fromBase64(h);
    if (!b || b.length !== 32) throw new OpenlecError(o.code ?? 'E_PROOF_FORMAT', `${o.label ?? field}[${i}] is not a base64 32-byte hash`, { field: `${field}[${i}]` });
    return b;
  });
}

/**
 * checkEntryProof verifies an EntryProof: the checkpoint's signature under
 * `verifierKey` (which the caller must trust, e.g. published by the operator or pinned),
 * the transaction's own signature, and the inclusion of its leaf under the checkpoint's
 * root. It returns the transaction on success and throws a named error otherwise.
 */
export function checkEntryProof(p: EntryProof, verifierKey: string = p.verifierKey, verify: SignatureVerifier = verifySignature) {
  const key = parseVerifierKey(verifierKey);
  const cp = openCheckpoint(p.checkpoint, key, key.name, verify);
  const bytes = utf8(p.transaction);
  const d = decodeEntry(bytes);
  if (!verify(d.publicKey, d.message, d.signature)) throw new OpenlecError('E_TX_SIGNATURE', 'the transaction signature does not verify', { field: 'transaction' });
  if (!checkInclusion(p.entry, cp.size, leafHash(bytes), proofHashes(p.proof), cp.root)) {
    throw new OpenlecError('E_PROOF_MISMATCH', `entry ${p.entry} is not included in the checkpoint of size ${cp.size}`, { field: 'proof' });
  }
  return { transaction: d.tx, checkpoint: cp };
}

/** A TradeProof shows one trade record inside a clearing: the record's canonical JSON and its audit path in the clearing's trade tree. */
export interface TradeProof {
  readonly record: string;
  readonly index: number;
  readonly proof: readonly string[];
}

/**
 * checkTradeInclusion checks that a trade record is the `index`-th leaf of the trade tree
 * whose root a market.clear transaction recorded (`tradesRoot`, hex, over `trades`
 * records). Together with checkEntryProof of that transaction, a member proves a trade of
 * theirs is in the log without seeing anyone else's. Returns the parsed record.
 */
export function checkTradeInclusion(t: TradeProof, clearing: { body: { trades: number; tradesRoot: string } }): Record<string, unknown> {
  const path = proofHashes(t.proof, { label: 'trade proof' });
  const root = fromHex(clearing.body.tradesRoot);
  if (!root || root.length !== 32) throw new OpenlecError('E_PROOF_FORMAT', 'the clearing has no 32-byte tradesRoot', { field: 'tradesRoot' });
  if (!checkInclusion(t.index, clearing.body.trades, leafHash(utf8(t.record)), path, root)) {
    throw new OpenlecError('E_PROOF_MISMATCH', `trade ${t.index} is not in the clearing's trade tree`, { field: 'proof' });
  }
  return JSON.parse(t.record) as Record<string, unknown>;
}
