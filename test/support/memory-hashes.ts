import { leafHash, MemoryTree } from '../../src/ledger/index.ts';

/** MemoryHashes is a MemoryTree fed with entries rather than leaf hashes. */
export class MemoryHashes extends MemoryTree {
  append(entry: Uint8Array): void {
    this.appendLeaf(leafHash(entry));
  }
}
