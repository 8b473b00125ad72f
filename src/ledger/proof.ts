import { equalBytes } from './bytes.ts';
import { EMPTY_ROOT, type Hash, isHash, nodeHash } from './hash.ts';

/**
 * Proof verification as pure functions (RFC 9162 sections 2.1.3.2 and 2.1.4.2), with no
 * storage and no Node-only dependency: a browser or an auditor runs exactly this code.
 * They return false, never throw, for any input that proves nothing: a size out of
 * range, or a leaf, root or proof hash that is not 32 bytes (integrators and the browser
 * call them directly with bytes they decoded themselves).
 */

/** checkInclusion verifies that `leaf` is entry `index` of the tree of `size` with root `root`. */
export function checkInclusion(index: number, size: number, leaf: Hash, proof: readonly Hash[], root: Hash): boolean {
  // RFC 9162 section 2.1.3.2, steps 1 to 5.
  if (!(Number.isSafeInteger(index) && Number.isSafeInteger(size)) || index < 0 || index >= size) return false;
  if (!isHash(leaf) || !isHash(root) || !proof.every(isHash)) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equalBytes(r, root);
}

/**
 * checkConsistency verifies that the tree (size1, root1) is a prefix of the tree (size2, root2).
 * The tree of size 0 has one root, EMPTY_ROOT (RFC 9162 section 2.1.1), and is a prefix
 * of every tree with an empty proof.
 */
export function checkConsistency(size1: number, root1: Hash, size2: number, root2: Hash, proof: readonly Hash[]): boolean {
  if (!(Number.isSafeInteger(size1) && Number.isSafeInteger(size2)) || size1 < 0 || size1 > size2) return false;
  if (!isHash(root1) || !isHash(root2) || !proof.every(isHash)) return false;
  if (size1 === 0 && !equalBytes(root1, EMPTY_ROOT)) return false;
  // Equal sizes need equal roots and no proof; this comes before the empty tree's case,
  // or (0, EMPTY_ROOT) would be "consistent" with (0, any root).
  if (size1 === size2) return proof.length === 0 && equalBytes(root1, root2);
  if (size1 === 0) return proof.length === 0;
  // RFC 9162 section 2.1.4.2, steps 1 to 7.
  if (proof.length === 0) return false;
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : [...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equalBytes(fr, root1) && equalBytes(sr, root2);
}

// Tree sizes may pass 2^31, so no bitwise tricks.
function isPowerOfTwo(n: number): boolean {
  while (n > 1 && n % 2 === 0) n /= 2;
  return n === 1;
}
