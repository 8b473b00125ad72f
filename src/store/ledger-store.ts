import type { OpenlecError } from '../errors.ts';
import type { Checkpoint, Hash, NoteSigner, SignedTransaction } from '../ledger/index.ts';
import type { Registry } from '../state/registry.ts';
import type { State } from '../state/tables.ts';
import type { StoredCheckpoint, StoredEntry } from './log-source.ts';

export type SubmitInput = SignedTransaction | Uint8Array | string;
export type SubmitResult = { ok: true; entry: number } | { ok: false; error: OpenlecError };

export interface AtomicOptions {
  chunk?: number;
  onProgress?: (applied: number) => void;
  /** The operator's time at admission: the time rules of every transaction are judged at it too. */
  now?: number;
}

/**
 * LedgerStore is one community's log as the server, the CLI, follow, witness, anchoring and
 * the simulator use it, whatever holds it: SqliteLedger (one file) or PgLedger (one
 * community of a PostgreSQL database, shared by several processes).
 *
 * The design (ARCHITECTURE.md, "Stores"): each process keeps the community's projections
 * (`state`), its tree frontier, its checkpoints and their cosignatures in memory, so every
 * read model and rule stays a synchronous function of `state`; the database is the durable
 * append target and the sequencer. What must come from the database (old entries, the
 * hashes of a proof, the root at an old size) is asynchronous. A write is acknowledged only
 * once its entry is committed.
 */
export interface LedgerStore {
  readonly registry: Registry;
  readonly state: State;
  /** Entries this process knows to be durable (others may have appended since: `refresh`). */
  readonly size: number;
  /** A path beside which the server keeps its side stores (OCPI, OpenADR), or undefined to keep them in memory. */
  readonly sidePath: string | undefined;
  /** Opened for reading and auditing only: appends are refused. */
  readonly readOnly: boolean;

  submit(input: SubmitInput, admission?: { now?: number }): Promise<SubmitResult>;
  submitMany(inputs: readonly SubmitInput[]): Promise<SubmitResult[]>;
  /** submitAtomic appends all the transactions or none; the first refusal is thrown, naming its position. */
  submitAtomic(inputs: Iterable<SubmitInput>, options?: AtomicOptions): Promise<number[]>;
  /** refresh takes in what other writers of the same log appended (entries, checkpoints, cosignatures): the number of entries taken in. */
  refresh(): Promise<number>;

  /** origin is the checkpoint origin line: the community id. */
  origin(): string;
  operatorVerifierKey(): string;

  readEntries(from: number, to: number): Promise<StoredEntry[]>;
  readEntry(index: number): Promise<Uint8Array>;
  /** rootAt is the tree root at `size` (default: now). */
  rootAt(size?: number): Promise<Hash>;
  /** rootAfter is the root the tree would have with these entries appended; nothing is written. */
  rootAfter(entries: readonly Uint8Array[]): Hash;
  inclusionProof(entry: number, size?: number): Promise<Hash[]>;
  consistencyProof(from: number, to?: number): Promise<Hash[]>;

  checkpoints(): StoredCheckpoint[];
  latestCheckpoint(): { checkpoint: Checkpoint; note: string } | undefined;
  newestCheckpoint(quorum: number, after?: number): StoredCheckpoint | undefined;
  /** signCheckpoint signs and stores a checkpoint of the current tree with the operator's key. */
  signCheckpoint(signer: Omit<NoteSigner, 'name'>): Promise<{ checkpoint: Checkpoint; note: string }>;
  /** keepCheckpoint stores a checkpoint signed elsewhere, after checking its signature and root. */
  keepCheckpoint(note: string): Promise<Checkpoint>;
  cosignatures(size: number): { witness: string; line: string }[];
  cosignatureCounts(): Map<number, number>;
  /** keepCosignature stores a witness's cosignature line of a stored checkpoint (checked by the caller). */
  keepCosignature(size: number, witness: string, line: string): Promise<void>;

  close(): Promise<void>;
}
