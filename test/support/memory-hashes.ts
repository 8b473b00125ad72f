import { type Hash, type HashReader, leafHash, storedHashesForLeaf } from '../../src/ledger/index.ts';

/** MemoryHashes is an in-memory stored-hash array for tests: the tree of every appended entry. */
export class MemoryHashes implements HashReader {
  readonly hashes: Hash[] = [];
  size = 0;

  append(entry: Uint8Array): void {
    this.hashes.push(...storedHashesForLeaf(this.size, leafHash(entry), this));
    this.size++;
  }

  readHashes(indexes: readonly number[]): Hash[] {
    return indexes.map((i) => {
      const h = this.hashes[i];
      if (!h) throw new Error(`no stored hash ${i}`);
      return h;
    });
  }
}
