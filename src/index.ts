/**
 * openlec's public entry point for integrators (`import { verify, signRequest } from 'openlec'`):
 * the verification API that runs anywhere (proofs, checkpoints, consistency, replay), the
 * transaction and request signers, and the embedded store. Only this file re-exports, as
 * an explicit list; everything else is internal.
 */
import { verifyLog, type VerifyOptions, type VerifyReport } from './audit/verify.ts';
import { createRegistry } from './registry.ts';
import type { LogSource } from './store/log-source.ts';

/** verify replays a whole log from any `LogSource` with every transaction type openlec knows, as `openlec verify` does. */
export function verify(source: LogSource, options: VerifyOptions = {}): Promise<VerifyReport> {
  return verifyLog(source, createRegistry(), options);
}

export { verifyLog } from './audit/verify.ts';
export type { VerifyOptions, VerifyProblem, VerifyReport } from './audit/verify.ts';
export { checkEntryProof, checkTradeInclusion } from './audit/entry-proof.ts';
export type { EntryProof, TradeProof } from './audit/entry-proof.ts';
export { checkCheckpointConsistency } from './audit/consistency.ts';
export { ApiError, OpenlecClient } from './api/client.ts';
export type { ClientOptions } from './api/client.ts';
export { Signer, signRequest } from './client.ts';
export { OpenlecError } from './errors.ts';
export { createRegistry } from './registry.ts';
export type { LogSource, StoredCheckpoint, StoredEntry } from './store/log-source.ts';
export { SqliteLedger } from './store/sqlite-ledger.ts';
export type { SqliteLedgerOptions, SubmitInput, SubmitResult } from './store/sqlite-ledger.ts';
export {
  canonicalJson, checkConsistency, checkInclusion, decodeEntry, decodeKey, EMPTY_ROOT, encodeKey, formatCheckpoint, keyPairFromSeed,
  leafHash, nodeHash, openCheckpoint, openNote, parseCheckpoint, parseCosignerKey, parseNote, parseVerifierKey, signTransaction,
  transactionSigningBytes, verifySignature,
} from './ledger/index.ts';
export type { Checkpoint, DecodedEntry, Envelope, Hash, KeyPair, SignedTransaction } from './ledger/index.ts';
