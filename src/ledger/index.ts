export { concatBytes, equalBytes, fromBase64, fromBase64Url, fromHex, fromUtf8, toBase64, toBase64Url, toHex, utf8 } from './bytes.ts';
export { EMPTY_ROOT, HASH_SIZE, leafHash, nodeHash, sha256 } from './hash.ts';
export type { Hash } from './hash.ts';
export { ACTOR_KEY, decodeKey, encodeKey, keyPairFromSeed, sign, verifySignature } from './keys.ts';
export type { KeyPair, MessageSigner, SignatureVerifier } from './keys.ts';
export { formatVerifierKey, noteKeyId, openNote, parseNote, parseVerifierKey, signNote } from './note.ts';
export type { NoteSignature, NoteSigner, NoteVerifierKey } from './note.ts';
export { formatCheckpoint, openCheckpoint, parseCheckpoint, signCheckpoint } from './checkpoint.ts';
export type { Checkpoint } from './checkpoint.ts';
export { checkConsistency, checkInclusion } from './proof.ts';
export {
  consistencyRanges, hashRanges, inclusionRanges, largestPowerOfTwoBelow, proveConsistency, proveInclusion, storedHashCount,
  splitStoredHashIndex, storedHashesForLeaf, storedHashesPerLeaf, storedHashIndex, treeHash, frontierIndexes, MemoryTree, merkleRoot,
} from './tree.ts';
export type { HashReader, Range } from './tree.ts';
export {
  canonicalJson, COMMUNITY_ID, decodeEntry, decodeTransaction, encodeEntry, MAX_ENTRY_BYTES, signTransaction, transactionSigningBytes, TX_SIGNING_PREFIX, TX_VERSION,
} from './transaction.ts';
export type { DecodedEntry, Envelope, SignedTransaction } from './transaction.ts';
export { addSignatureLines, cosign, cosignaturesOf, cosignerKeyId, formatCosignerKey, parseCosignerKey } from './cosignature.ts';
export type { Cosigner, CosignerKey } from './cosignature.ts';
