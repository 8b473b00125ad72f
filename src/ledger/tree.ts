import { invariant, OpenlecError } from '../errors.ts';
import { assertHash, EMPTY_ROOT, type Hash, isHash, nodeHash } from './hash.ts';

/**
 * The log's Merkle tree (RFC 9162 section 2.1), stored as in Go's
 * golang.org/x/mod/sumdb/tlog: every complete, aligned subtree hash is written once,
 * in the order the leaves complete them, so a tree of n leaves keeps about 2n hashes
 * and any root or proof is read from O(log n) of them. Storage is reached only through
 * a HashReader; nothing here does I/O.
 */
export interface HashReader {
  /** readHashes returns the stored hashes at the given stored-hash indexes, in order. */
  readHashes(indexes: readonly number[]): Hash[];
}

/** storedHashIndex maps the n-th hash at `level` (level 0 = leaves) to its storage index. */
export function storedHashIndex(level: number, n: number): number {
  // Level L's n-th hash is written right after level L+1's (2n+1)-th hash.
  for (let l = level; l > 0; l--) n = 2 * n + 1;
  // Level 0's n-th hash is written at n + n/2 + n/4 + ...
  let i = 0;
  for (; n > 0; n = Math.floor(n / 2)) i += n;
  return i + level;
}

/** storedHashCount is the number of stored hashes for a tree of n leaves. */
export function storedHashCount(n: number): number {
  if (n === 0) return 0;
  let count = storedHashIndex(0, n - 1) + 1;
  for (let i = n - 1; i % 2 === 1; i = Math.floor(i / 2)) count++;
  return count;
}

/**
 * splitStoredHashIndex is the inverse of the storage order: the leaf whose append wrote
 * stored hash `index`, and the position of that hash among the 1 + trailingOnes(leaf)
 * hashes it wrote (Go tlog's SplitStoredHashIndex).
 */
export function splitStoredHashIndex(index: number): { leaf: number; position: number } {
  // storedHashIndex(0, n) < 2n, so the leaf is in [index/2, index/2 + log2(index)].
  let n = Math.floor(index / 2);
  let indexN = storedHashIndex(0, n);
  invariant(indexN <= index, 'splitStoredHashIndex');
  for (;;) {
    const next = indexN + 1 + trailingOnes(n);
    if (next > index) break;
    n++;
    indexN = next;
  }
  return { leaf: n, position: index - indexN };
}

/** storedHashesPerLeaf is how many hashes appending leaf n writes. */
export function storedHashesPerLeaf(n: number): number {
  return 1 + trailingOnes(n);
}

/** trailingOnes counts the 1 bits at the low end of n. */
function trailingOnes(n: number): number {
  let k = 0;
  for (; n % 2 === 1; n = Math.floor(n / 2)) k++;
  return k;
}

/**
 * storedHashesForLeaf returns the hashes to store when leaf n (0-based) with hash
 * `leaf` is appended: the leaf hash, then one hash per subtree that leaf completes.
 * `readHashes` must see every hash stored for leaves 0..n-1.
 */
export function storedHashesForLeaf(n: number, leaf: Hash, reader: HashReader): Hash[] {
  // An even leaf is stored as is, with no nodeHash to catch a short one.
  assertHash(leaf, 'leaf');
  const m = trailingOnes(n);
  const indexes: number[] = new Array(m);
  for (let i = 0; i < m; i++) indexes[m - 1 - i] = storedHashIndex(i, Math.floor(n / 2 ** i) - 1);
  const siblings = reader.readHashes(indexes);
  const hashes = [leaf];
  let h = leaf;
  for (let i = 0; i < m; i++) {
    h = nodeHash(siblings[m - 1 - i]!, h);
    hashes.push(h);
  }
  return hashes;
}

/** largestPowerOfTwoBelow returns the largest power of two k with k < n (RFC 9162 section 2.1.1), n >= 2. */
export function largestPowerOfTwoBelow(n: number): number {
  invariant(n >= 2, 'largestPowerOfTwoBelow needs n >= 2');
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** A Range is the leaves [lo, hi) whose Merkle tree hash MTH(D[lo:hi]) a proof needs. */
export type Range = readonly [lo: number, hi: number];

// A range splits into complete aligned subtrees, largest first: each is one stored hash.
function rangeIndexes(lo: number, hi: number, out: number[]): number {
  let count = 0;
  while (lo < hi) {
    let k = 1;
    let level = 0;
    while (k * 2 <= hi - lo && lo % (k * 2) === 0) {
      k *= 2;
      level++;
    }
    out.push(storedHashIndex(level, lo / k));
    lo += k;
    count++;
  }
  return count;
}

/** hashRanges computes MTH for each range from stored hashes, with a single read. */
export function hashRanges(ranges: readonly Range[], reader: HashReader): Hash[] {
  const indexes: number[] = [];
  const counts = ranges.map(([lo, hi]) => rangeIndexes(lo, hi, indexes));
  const stored = reader.readHashes(indexes);
  invariant(stored.length === indexes.length, 'reader returned a wrong number of hashes');
  // A range that is one stored subtree returns that hash unhashed: check what storage gave.
  for (let i = 0; i < stored.length; i++) {
    if (!isHash(stored[i]!)) throw new OpenlecError('E_HASH_SIZE', `stored hash ${indexes[i]} is ${stored[i]!.length} bytes, not 32`, { field: 'hashes' });
  }
  const out: Hash[] = [];
  let at = 0;
  for (const count of counts) {
    // The subtrees of a range get smaller left to right, so fold from the right.
    let h = stored[at + count - 1]!;
    for (let i = count - 2; i >= 0; i--) h = nodeHash(stored[at + i]!, h);
    out.push(h);
    at += count;
  }
  return out;
}

/** treeHash is the root of the tree of the first n leaves, MTH(D[0:n]). */
export function treeHash(n: number, reader: HashReader): Hash {
  if (n === 0) return EMPTY_ROOT;
  return hashRanges([[0, n]], reader)[0]!;
}

/**
 * merkleRoot is MTH(D[0:n]) of the leaf hashes (RFC 9162 section 2.1.1), computed as they
 * come with one stack of perfect subtrees (at most log2 n hashes) and nothing stored: for
 * trees whose root is all that is kept, such as a clearing's trades.
 */
export function merkleRoot(leaves: Iterable<Hash>): Hash {
  const stack: Hash[] = [];
  let n = 0;
  for (const leaf of leaves) {
    assertHash(leaf, 'leaf');
    let h = leaf;
    // Leaf n completes one subtree per trailing one bit of n.
    for (let m = n; m & 1; m >>>= 1) h = nodeHash(stack.pop()!, h);
    stack.push(h);
    n++;
  }
  if (n === 0) return EMPTY_ROOT;
  let root = stack.pop()!;
  while (stack.length > 0) root = nodeHash(stack.pop()!, root);
  return root;
}

/** inclusionRanges lists the subtrees of the audit path PATH(m, D[0:n]) (RFC 9162 section 2.1.3.1), leaf to root. */
export function inclusionRanges(m: number, n: number): Range[] {
  if (!(Number.isSafeInteger(m) && Number.isSafeInteger(n) && m >= 0 && m < n)) {
    throw new OpenlecError('E_PROOF_RANGE', `no inclusion proof for entry ${m} in a tree of size ${n}`, { field: 'entry' });
  }
  const path: Range[] = [];
  let lo = 0;
  let hi = n;
  // Walk down from the root, collecting the sibling subtree at each split.
  while (hi - lo > 1) {
    const k = largestPowerOfTwoBelow(hi - lo);
    if (m < lo + k) {
      path.push([lo + k, hi]);
      hi = lo + k;
    } else {
      path.push([lo, lo + k]);
      lo += k;
    }
  }
  return path.reverse();
}

/** consistencyRanges lists the subtrees of PROOF(m, D[0:n]) (RFC 9162 section 2.1.4.1), for 0 < m <= n. */
export function consistencyRanges(m: number, n: number): Range[] {
  if (!(Number.isSafeInteger(m) && Number.isSafeInteger(n) && m > 0 && m <= n)) {
    throw new OpenlecError('E_PROOF_RANGE', `no consistency proof from size ${m} to size ${n}`, { field: 'size' });
  }
  const proof: Range[] = [];
  let lo = 0;
  let hi = n;
  let startFromOld = true; // the "b" flag of SUBPROOF
  let mm = m;
  while (mm !== hi - lo) {
    const k = largestPowerOfTwoBelow(hi - lo);
    if (mm <= k) {
      proof.push([lo + k, hi]);
      hi = lo + k;
    } else {
      proof.push([lo, lo + k]);
      lo += k;
      mm -= k;
      startFromOld = false;
    }
  }
  if (!startFromOld) proof.push([lo, hi]);
  return proof.reverse();
}

/** proveInclusion returns the audit path of entry m in the tree of size n. */
export function proveInclusion(m: number, n: number, reader: HashReader): Hash[] {
  return hashRanges(inclusionRanges(m, n), reader);
}

/** proveConsistency returns the consistency proof from tree size m to tree size n. */
export function proveConsistency(m: number, n: number, reader: HashReader): Hash[] {
  if (m === n) return [];
  return hashRanges(consistencyRanges(m, n), reader);
}

/** frontierIndexes lists the stored hashes of the complete subtrees that make up a tree of n leaves: all that later appends and the root need. */
export function frontierIndexes(n: number): number[] {
  const out: number[] = [];
  rangeIndexes(0, n, out);
  return out;
}

/** MemoryTree keeps every stored hash of a tree in memory: for replay, verification and tests. */
export class MemoryTree implements HashReader {
  readonly hashes: Hash[] = [];
  size = 0;

  appendLeaf(leaf: Hash): void {
    for (const h of storedHashesForLeaf(this.size, leaf, this)) this.hashes.push(h);
    this.size++;
  }

  readHashes(indexes: readonly number[]): Hash[] {
    return indexes.map((i) => {
      const h = this.hashes[i];
      invariant(h, `no stored hash ${i}`);
      return h;
    });
  }

  root(size = this.size): Hash {
    return treeHash(size, this);
  }
}
