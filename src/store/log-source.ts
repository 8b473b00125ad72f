import type { Hash, HashReader } from '../ledger/index.ts';
import type { Row, TableSpec } from '../state/tables.ts';

/** A stored checkpoint: the signed note and the tree size it covers. */
export interface StoredCheckpoint {
  readonly size: number;
  readonly note: string;
}

/**
 * LogSource is what an auditor needs to read from any store (SQLite, PostgreSQL, a
 * replica over HTTP): entries, stored tree hashes, checkpoints and projection rows.
 * The core verifies through it and never sees the database.
 */
export interface LogSource extends HashReader {
  readonly size: number;
  entries(from: number, to: number): Iterable<Uint8Array>;
  /** storedHashRange returns stored hashes [from, to) by storage index, and how many are stored in all. */
  storedHashRange(from: number, to: number): Hash[];
  storedHashTotal(): number;
  checkpoints(): StoredCheckpoint[];
  tableRows(spec: TableSpec): Iterable<Row>;
}
