import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { MemoryHashes } from '../../test/support/memory-hashes.ts';
import { concatBytes, fromHex, toHex } from './bytes.ts';
import { EMPTY_ROOT, type Hash, leafHash, nodeHash, sha256 } from './hash.ts';
import { checkConsistency, checkInclusion } from './proof.ts';
import { hashRanges, MemoryTree, merkleRoot, proveConsistency, proveInclusion, splitStoredHashIndex, storedHashCount, storedHashesPerLeaf, storedHashIndex, treeHash } from './tree.ts';

// A straightforward reference: RFC 9162 section 2.1 written as recursion over arrays.
function k(n: number): number {
  let p = 1;
  while (p * 2 < n) p *= 2;
  return p;
}
function mth(d: Uint8Array[]): Hash {
  if (d.length === 0) return EMPTY_ROOT;
  if (d.length === 1) return leafHash(d[0]!);
  const s = k(d.length);
  return nodeHash(mth(d.slice(0, s)), mth(d.slice(s)));
}
function path(m: number, d: Uint8Array[]): Hash[] {
  if (d.length <= 1) return [];
  const s = k(d.length);
  return m < s ? [...path(m, d.slice(0, s)), mth(d.slice(s))] : [...path(m - s, d.slice(s)), mth(d.slice(0, s))];
}
function subproof(m: number, d: Uint8Array[], b: boolean): Hash[] {
  if (m === d.length) return b ? [] : [mth(d)];
  const s = k(d.length);
  return m <= s ? [...subproof(m, d.slice(0, s), b), mth(d.slice(s))] : [...subproof(m - s, d.slice(s), false), mth(d.slice(0, s))];
}

const entries = Array.from({ length: 64 }, (_, i) => new TextEncoder().encode(`entry ${i}`));
const log = new MemoryHashes();
for (const e of entries) log.append(e);
const roots = Array.from({ length: 65 }, (_, n) => mth(entries.slice(0, n)));

// Certificate Transparency's reference leaves, roots and proofs (RFC 6962 test data).
const CT_LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) => fromHex(h)!);
const CT_ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

describe('Merkle tree (RFC 9162)', () => {
  test('matches the Certificate Transparency roots, inclusion and consistency proofs', () => {
    const ct = new MemoryHashes();
    CT_LEAVES.forEach((l) => ct.append(l));
    assert.equal(toHex(treeHash(0, ct)), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    for (let n = 1; n <= 8; n++) assert.equal(toHex(treeHash(n, ct)), CT_ROOTS[n - 1], `root of size ${n}`);
    assert.deepEqual(proveInclusion(0, 8, ct).map(toHex), [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ]);
    assert.deepEqual(proveInclusion(5, 8, ct).map(toHex), [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ]);
    assert.deepEqual(proveConsistency(2, 8, ct).map(toHex), [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ]);
    assert.deepEqual(proveConsistency(6, 8, ct).map(toHex), [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ]);
  });

  test('stores about 2n hashes, at the indexes Go tlog uses', () => {
    const grown = new MemoryHashes();
    for (let n = 0; n <= 64; n++) {
      assert.equal(storedHashCount(n), grown.hashes.length, `count for ${n}`);
      grown.append(entries[n] ?? entries[0]!);
    }
    assert.equal(log.hashes.length, storedHashCount(64));
    assert.equal(storedHashCount(64), 127);
    // Level 1's first hash follows leaves 0 and 1; level 2's first follows leaf 3's hashes.
    assert.deepEqual([storedHashIndex(0, 0), storedHashIndex(0, 1), storedHashIndex(1, 0), storedHashIndex(0, 2), storedHashIndex(0, 3), storedHashIndex(1, 1), storedHashIndex(2, 0)], [0, 1, 2, 3, 4, 5, 6]);
  });

  test('roots and proof shapes equal the reference for every tree size 1..64', () => {
    for (let n = 1; n <= 64; n++) {
      assert.deepEqual(treeHash(n, log), roots[n], `root ${n}`);
      for (let m = 0; m < n; m++) {
        const proof = proveInclusion(m, n, log);
        assert.deepEqual(proof, path(m, entries.slice(0, n)), `inclusion ${m} in ${n}`);
        assert.ok(checkInclusion(m, n, leafHash(entries[m]!), proof, roots[n]!), `verify inclusion ${m} in ${n}`);
      }
      for (let m = 1; m <= n; m++) {
        const proof = proveConsistency(m, n, log);
        assert.deepEqual(proof, m === n ? [] : subproof(m, entries.slice(0, n), true), `consistency ${m} to ${n}`);
        assert.ok(checkConsistency(m, roots[m]!, n, roots[n]!, proof), `verify consistency ${m} to ${n}`);
      }
    }
  });

  test('any altered inclusion proof, leaf, index or root is refused', () => {
    fc.assert(fc.property(fc.integer({ min: 2, max: 64 }), fc.nat(), fc.nat(), fc.integer({ min: 0, max: 255 }), (n, mSeed, which, bit) => {
      const m = mSeed % n;
      const proof = proveInclusion(m, n, log);
      const leaf = leafHash(entries[m]!);
      const flipped = proof.map((h) => h.slice());
      const target = flipped[which % flipped.length]!;
      target[bit % 32]! ^= 1 << (bit % 8);
      assert.equal(checkInclusion(m, n, leaf, flipped, roots[n]!), false);
      assert.equal(checkInclusion(m, n, leafHash(entries[(m + 1) % n]!), proof, roots[n]!), false);
      assert.equal(checkInclusion((m + 1) % n, n, leaf, proof, roots[n]!), false);
      assert.equal(checkInclusion(m, n, leaf, proof, roots[n - 1]!), false);
      assert.equal(checkInclusion(m, n, leaf, proof.slice(0, -1), roots[n]!), false);
      assert.equal(checkInclusion(m, n, leaf, [...proof, roots[1]!], roots[n]!), false);
    }));
  });

  test('any altered consistency proof or root is refused', () => {
    fc.assert(fc.property(fc.integer({ min: 2, max: 64 }), fc.nat(), fc.nat(), fc.integer({ min: 0, max: 255 }), (n, mSeed, which, bit) => {
      const m = 1 + (mSeed % (n - 1));
      const proof = proveConsistency(m, n, log);
      const flipped = proof.map((h) => h.slice());
      flipped[which % flipped.length]![bit % 32]! ^= 1 << (bit % 8);
      assert.equal(checkConsistency(m, roots[m]!, n, roots[n]!, flipped), false);
      assert.equal(checkConsistency(m, roots[m - 1]!, n, roots[n]!, proof), false);
      assert.equal(checkConsistency(m, roots[m]!, n, roots[n - 1]!, proof), false);
      assert.equal(checkConsistency(m, roots[m]!, n, roots[n]!, proof.slice(1)), false);
      assert.equal(checkConsistency(n, roots[n]!, m, roots[m]!, proof), false);
    }));
  });

  test('degenerate consistency cases', () => {
    assert.equal(checkConsistency(0, EMPTY_ROOT, 8, roots[8]!, []), true);
    assert.equal(checkConsistency(4, roots[4]!, 4, roots[4]!, []), true);
    assert.equal(checkConsistency(4, roots[4]!, 4, roots[5]!, []), false);
    assert.equal(checkConsistency(4, roots[4]!, 8, roots[8]!, []), false);
    assert.throws(() => proveInclusion(8, 8, log), { code: 'E_PROOF_RANGE' });
    assert.throws(() => proveConsistency(0, 8, log), { code: 'E_PROOF_RANGE' });
  });
});

test('splitStoredHashIndex inverts the storage order', () => {
  for (let n = 0; n < 200; n++) {
    for (let p = 0; p < storedHashesPerLeaf(n); p++) {
      assert.deepEqual(splitStoredHashIndex(storedHashCount(n) + p), { leaf: n, position: p });
    }
  }
});

// Issue 22: inputs that are not 32-byte hashes. Before the fix nodeHash zero-padded a
// short child, so a short leaf or proof hash whose padded form is a real hash "verified".
describe('hashes that are not 32 bytes are refused (issue 22)', () => {
  const pad = (h: Uint8Array) => concatBytes(h, new Uint8Array(32 - h.length));
  const h = (s: string) => sha256(new TextEncoder().encode(s));

  test('nodeHash refuses a child of any other length, naming it', () => {
    for (const n of [0, 1, 31, 33, 64]) {
      assert.throws(() => nodeHash(new Uint8Array(n), h('r')), { code: 'E_HASH_SIZE', field: 'left' }, `left of ${n} bytes`);
      assert.throws(() => nodeHash(h('l'), new Uint8Array(n)), { code: 'E_HASH_SIZE', field: 'right' }, `right of ${n} bytes`);
    }
    assert.equal(nodeHash(h('l'), h('r')).length, 32);
  });

  test('checkInclusion refuses an empty or short leaf, root or proof hash', () => {
    // transparency-dev/merkle inclusion/single-entry/empty-root-and-leaf.json
    assert.equal(checkInclusion(0, 1, new Uint8Array(0), [], new Uint8Array(0)), false);
    const short = h('leaf').slice(0, 31);
    assert.equal(checkInclusion(0, 1, short, [], short), false);
    const sibling = h('sibling');
    assert.equal(checkInclusion(0, 2, short, [sibling], nodeHash(pad(short), sibling)), false);
    assert.equal(checkInclusion(0, 2, sibling, [short], nodeHash(sibling, pad(short))), false);
    assert.equal(checkInclusion(0, 2, sibling, [h('x')], nodeHash(sibling, h('x')).slice(0, 31)), false);
    assert.equal(checkInclusion(0, 2, sibling, [h('x')], nodeHash(sibling, h('x'))), true);
  });

  test('a leaf hash shortened by its trailing zero bytes never verifies', () => {
    // Leaves whose hashes end in zero bytes: zero-padding would restore them exactly.
    fc.assert(fc.property(fc.integer({ min: 2, max: 40 }), fc.nat(), fc.integer({ min: 1, max: 32 }), (n, mSeed, zeros) => {
      const tree = new MemoryTree();
      const leaves = Array.from({ length: n }, (_, i) => pad(h(`leaf ${i}`).slice(0, 32 - zeros)));
      leaves.forEach((l) => tree.appendLeaf(l));
      const m = mSeed % n;
      const proof = proveInclusion(m, n, tree);
      assert.equal(checkInclusion(m, n, leaves[m]!, proof, tree.root()), true);
      assert.equal(checkInclusion(m, n, leaves[m]!.slice(0, 32 - zeros), proof, tree.root()), false);
    }));
  });

  test('checkConsistency refuses short roots and proof hashes', () => {
    const r1 = h('root 1');
    const short = h('proof').slice(0, 31);
    assert.equal(checkConsistency(1, r1, 2, nodeHash(r1, pad(short)), [short]), false);
    assert.equal(checkConsistency(1, r1, 2, nodeHash(r1, h('p')), [h('p')]), true);
    assert.equal(checkConsistency(1, r1.slice(0, 12), 1, r1.slice(0, 12), []), false);
    assert.equal(checkConsistency(0, EMPTY_ROOT, 8, roots[8]!.slice(0, 31), []), false);
  });

  test('a tree of size 0 is consistent only as (0, EMPTY_ROOT), and equal sizes need equal roots', () => {
    // transparency-dev/merkle consistency/additional/roots-do-not-match-and-sizes-are-zero.json, sizes-are-equal-zero-but-roots-are-not.json
    const root = fc.oneof(fc.constant(EMPTY_ROOT), fc.uint8Array({ minLength: 32, maxLength: 32 }));
    fc.assert(fc.property(root, root, (a, b) => {
      const empty = toHex(a) === toHex(EMPTY_ROOT);
      assert.equal(checkConsistency(0, a, 0, b, []), empty && toHex(b) === toHex(EMPTY_ROOT));
      assert.equal(checkConsistency(0, a, 8, roots[8]!, []), empty);
    }));
    assert.equal(checkConsistency(0, EMPTY_ROOT, 0, roots[5]!, []), false);
    assert.equal(checkConsistency(0, EMPTY_ROOT, 0, EMPTY_ROOT, [roots[1]!]), false);
  });

  test('the tree refuses a short leaf hash and a short hash read from storage', () => {
    const tree = new MemoryTree();
    assert.throws(() => tree.appendLeaf(new Uint8Array(31)), { code: 'E_HASH_SIZE', field: 'leaf' });
    assert.equal(tree.size, 0);
    const reader = { readHashes: (ix: readonly number[]) => ix.map(() => new Uint8Array(31)) };
    assert.throws(() => hashRanges([[0, 1]], reader), { code: 'E_HASH_SIZE', field: 'hashes' });
    assert.throws(() => treeHash(1, reader), { code: 'E_HASH_SIZE' });
  });
});

test('merkleRoot of the leaf hashes is the RFC 9162 tree hash of the leaves, for every size', () => {
  fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 8 }), { maxLength: 70 }), (d) => {
    assert.equal(toHex(merkleRoot(d.map(leafHash))), toHex(mth(d)));
  }), { numRuns: 300 });
  assert.throws(() => merkleRoot([new Uint8Array(31)]), /leaf is 31 bytes/);
});
