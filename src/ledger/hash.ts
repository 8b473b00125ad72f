import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { OpenlecError } from '../errors.ts';

/** A Hash is a 32-byte SHA-256 value. */
export type Hash = Uint8Array;
export const HASH_SIZE = 32;

// In Node, SHA-256 runs natively (several times faster); in a browser, @noble/hashes.
// getBuiltinModule needs no import statement, so bundlers leave this file portable.
type NodeDigest = { buffer: ArrayBufferLike; byteOffset: number; byteLength: number };
type NodeCrypto = {
  createHash(alg: 'sha256'): { update(d: Uint8Array): { digest(): NodeDigest } };
  /** One-shot hashing (Node 20.12 and later): no Hash object per call. */
  hash?: (alg: 'sha256', data: Uint8Array, encoding: 'buffer') => NodeDigest;
};
const nodeCrypto = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined;

/**
 * sha256 hashes bytes; both implementations give identical results. Node's digest is a
 * Buffer, whose slice() is a view rather than a copy: re-wrap it as a plain Uint8Array
 * so that every Hash behaves the same everywhere.
 */
const view = (d: NodeDigest): Hash => new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
const oneShot = nodeCrypto?.hash;
export const sha256: (data: Uint8Array) => Hash = oneShot
  ? (data) => view(oneShot('sha256', data, 'buffer'))
  : nodeCrypto
    ? (data) => view(nodeCrypto.createHash('sha256').update(data).digest())
    : nobleSha256;

const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;

/** EMPTY_ROOT is the root of the empty tree: SHA-256 of the empty string (RFC 9162 section 2.1.1). */
export const EMPTY_ROOT: Hash = sha256(new Uint8Array(0));

/** leafHash is SHA-256(0x00 || entry) (RFC 9162 section 2.1.1). */
export function leafHash(entry: Uint8Array): Hash {
  const buf = new Uint8Array(entry.length + 1);
  buf[0] = LEAF_PREFIX;
  buf.set(entry, 1);
  return sha256(buf);
}

/**
 * nodeHash is SHA-256(0x01 || left || right) (RFC 9162 section 2.1.1). Both children must
 * be 32-byte hashes: a shorter one would be zero-padded into a hash of some other pair,
 * a longer one would spill into its sibling, and either would yield a plausible root.
 */
export function nodeHash(left: Hash, right: Hash): Hash {
  assertHash(left, 'left');
  assertHash(right, 'right');
  // sha256 reads its input before it returns: one buffer serves every call.
  nodeInput.set(left, 1);
  nodeInput.set(right, 1 + HASH_SIZE);
  return sha256(nodeInput);
}
const nodeInput = new Uint8Array(1 + 2 * HASH_SIZE);
nodeInput[0] = NODE_PREFIX;

/** isHash says whether `h` has the length of a SHA-256 hash; proof checks use it to refuse malformed input up front. */
export const isHash = (h: Uint8Array): boolean => h.length === HASH_SIZE;

/** assertHash refuses a value that is not a 32-byte hash, naming the argument. */
export function assertHash(h: Uint8Array, field: string): void {
  if (h.length !== HASH_SIZE) throw new OpenlecError('E_HASH_SIZE', `${field} is ${h.length} bytes, not a 32-byte SHA-256 hash`, { field });
}
