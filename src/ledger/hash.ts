import { sha256 } from '@noble/hashes/sha2.js';

/** A Hash is a 32-byte SHA-256 value. */
export type Hash = Uint8Array;
export const HASH_SIZE = 32;

export { sha256 };

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

/** nodeHash is SHA-256(0x01 || left || right) (RFC 9162 section 2.1.1). */
export function nodeHash(left: Hash, right: Hash): Hash {
  const buf = new Uint8Array(1 + 2 * HASH_SIZE);
  buf[0] = NODE_PREFIX;
  buf.set(left, 1);
  buf.set(right, 1 + HASH_SIZE);
  return sha256(buf);
}
