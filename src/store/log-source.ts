import type { Row, TableSpec } from '../state/tables.ts';

/** A stored entry: its bytes and the tree hashes its append wrote (leaf hash first), concatenated. */
export interface StoredEntry {
  /** The index the store files it under (its row number): a proof finds the entry by it, so verify checks it. */
  readonly index: number;
  readonly bytes: Uint8Array;
  readonly hashes: Uint8Array;
}

/** A stored checkpoint: the signed note and the tree size it covers. */
export interface StoredCheckpoint {
  readonly size: number;
  readonly note: string;
}

/**
 * LogSource is what an auditor needs to read from any store (SQLite, PostgreSQL, a
 * replica over HTTP): entries with their stored tree hashes, checkpoints and projection
 * rows, synchronously (SQLite) or not (PostgreSQL). The core verifies through it and
 * never sees the database.
 */
/** A stored row as text: its key (rowKey) and each column's canonical JSON, in the code-unit order of the table's column names. */
export interface RowText {
  key: string;
  columns: string[];
}

export interface LogSource {
  readonly size: number;
  /** entries yields the entries [from, to) in order, each with the tree hashes its append stored. */
  entries(from: number, to: number): Iterable<StoredEntry> | AsyncIterable<StoredEntry>;
  checkpoints(): StoredCheckpoint[] | Promise<StoredCheckpoint[]>;
  tableRows(spec: TableSpec): Iterable<Row> | AsyncIterable<Row>;
  /**
   * tableTexts, where a store has it, yields each stored row as the canonical JSON text of
   * each column, as canonicalJson would give for the row tableRows yields, without parsing
   * its JSON columns: verify compares them column by column with the replayed row (so no
   * byte can move from one column to the next unseen), and parses only a row that differs.
   */
  tableTexts?(spec: TableSpec): Iterable<RowText> | AsyncIterable<RowText>;
  /** checkIntegrity runs the store's own consistency check (SQLite's integrity_check): what it reports, [] when sound. */
  checkIntegrity?(): string[] | Promise<string[]>;
}
