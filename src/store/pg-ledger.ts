import pg from 'pg';
import { community } from '../community/tables.ts';
import { invariant, OpenlecError } from '../errors.ts';
import {
  COMMUNITY_ID, canonicalJson, type Checkpoint, concatBytes, decodeEntry, decodeKey, type DecodedEntry, encodeKey, equalBytes, formatVerifierKey, frontierIndexes, type Hash,
  type HashReader, leafHash, type NoteSigner, openCheckpoint, parseVerifierKey, proveConsistency, proveInclusion, signCheckpoint, splitStoredHashIndex, storedHashCount,
  storedHashesForLeaf, treeHash,
} from '../ledger/index.ts';
import { InlineSignatureChecker, type SignatureChecker } from '../node/signatures.ts';
import { createRegistry, emptyState } from '../registry.ts';
import { applyEntry } from '../state/apply.ts';
import type { Registry } from '../state/registry.ts';
import { type Row, rowKey, type State, type TableSpec } from '../state/tables.ts';
import { applyBatch, asOpenlecError, prepareBatch, type Prepared, type Queued, signatureRefused, storeFailure } from './batch.ts';
import type { AtomicOptions, LedgerStore, SubmitInput, SubmitResult } from './ledger-store.ts';
import type { LogSource, StoredCheckpoint, StoredEntry } from './log-source.ts';
import { assertMigrated } from './pg-migrate.ts';

/** The channel on which every append, checkpoint and cosignature is announced, with the community as payload. */
export const APPEND_CHANNEL = 'openlec_log';
/** Entries read from the database at a time (catch-up, verify, copy). */
const READ_CHUNK = 2048;

export interface PgLedgerOptions {
  registry?: Registry;
  signatures?: SignatureChecker;
  /** Most transactions committed in one PostgreSQL transaction (group commit). */
  maxBatch?: number;
  /** false opens the log for reading and auditing only: no projections in memory, appends refused. */
  projections?: boolean;
  /** A path beside which the server keeps this community's side stores (OCPI, OpenADR); in memory without it. */
  sidePath?: string;
}

/** A leaf appended in memory, waiting for its commit. */
interface Pending {
  seq: number;
  bytes: Uint8Array;
  hashes: Uint8Array;
}

const asError = asOpenlecError;
const buf = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);
const bytesOf = (b: Buffer) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

/**
 * PgLedger is one community's log in a PostgreSQL database that many communities and many
 * server processes share. Like SqliteLedger it keeps the community's projections and tree
 * frontier in memory (every rule and read model is a synchronous function of `state`); the
 * database is the durable append target and the sequencer:
 *
 * - a batch of submissions is checked (signatures, then the state machine) and appended in
 *   one short transaction that first takes the community's `log_head` row FOR UPDATE. If
 *   another process appended meanwhile, its entries are replayed into this process's state
 *   under that lock before the batch is applied, so entry numbers never fork and every
 *   rule (nonces, balances, gate closure) is judged on the whole log;
 * - the entries, their tree hashes, the projection rows they changed and the new head are
 *   written together, and a NOTIFY on APPEND_CHANNEL tells the other processes;
 * - a write is acknowledged only after COMMIT (PostgreSQL's synchronous_commit: durable).
 *
 * Other communities lock other rows: they never wait for each other.
 */
export class PgLedger implements LedgerStore {
  readonly registry: Registry;
  readonly state: State;
  readonly readOnly: boolean;
  readonly sidePath: string | undefined;
  readonly community: string;
  private readonly pool: pg.Pool;
  private readonly signatures: SignatureChecker;
  private readonly maxBatch: number;
  /** Committed entries known to this process. */
  private sizeNow = 0;
  /** Stored hashes of the frontier (and of a batch being appended), by stored-hash index. */
  private recent = new Map<number, Hash>();
  private checkpointList: StoredCheckpoint[] = [];
  private readonly cosigned = new Map<number, Map<string, string>>();
  private queue: Queued[] = [];
  private running: Promise<void> | undefined;
  /** Every database write and catch-up runs in this chain, one at a time. */
  private serial: Promise<unknown> = Promise.resolve();
  private closed = false;
  /**
   * onTakeIn is told of the entries this process took in from other processes (at a
   * refresh, or under the lock before its own append), in order, once each: the server
   * announces them as it announces its own writes.
   */
  onTakeIn: ((entries: readonly StoredEntry[]) => void) | undefined;

  private constructor(pool: pg.Pool, communityId: string, options: PgLedgerOptions) {
    this.pool = pool;
    this.community = communityId;
    this.registry = options.registry ?? createRegistry();
    this.signatures = options.signatures ?? new InlineSignatureChecker();
    this.maxBatch = options.maxBatch ?? 2048;
    this.readOnly = options.projections === false;
    this.sidePath = this.readOnly ? undefined : options.sidePath;
    this.state = emptyState(this.registry);
  }

  /** create adds an empty community to the database; its first entry must be the community.create of this id. */
  static async create(pool: pg.Pool, communityId: string, options: PgLedgerOptions = {}): Promise<PgLedger> {
    await assertMigrated(pool);
    if (!COMMUNITY_ID.test(communityId)) throw new OpenlecError('E_DB_COMMUNITY', `community id "${communityId}" must be a community id (lower-case letters, digits, ".", "_", "/", "-")`, { field: 'community' });
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const inserted = await client.query('INSERT INTO communities (id) VALUES ($1) ON CONFLICT DO NOTHING', [communityId]);
      if (inserted.rowCount === 1) await client.query('INSERT INTO log_head (community, size) VALUES ($1, 0)', [communityId]);
      else {
        // A community whose log is still empty (a create or copy that failed before its first entry) is taken over; one with entries never.
        const head = await client.query<{ size: string }>('SELECT size FROM log_head WHERE community = $1 FOR UPDATE', [communityId]);
        if (Number(head.rows[0]?.size ?? 1) !== 0) throw new OpenlecError('E_DB_EXISTS', `community ${communityId} already exists in this database`, { field: 'community' });
      }
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw asError(e);
    } finally {
      client.release();
    }
    return PgLedger.open(pool, communityId, options);
  }

  /** open loads a community's projections, frontier, checkpoints and cosignatures from one snapshot of the database. */
  static async open(pool: pg.Pool, communityId: string, options: PgLedgerOptions = {}): Promise<PgLedger> {
    const ledger = new PgLedger(pool, communityId, options);
    try {
      await ledger.load();
    } catch (e) {
      await ledger.signatures.close();
      throw asError(e);
    }
    return ledger;
  }

  /** communities lists the community ids of a database, in order. */
  static async communities(pool: pg.Pool): Promise<string[]> {
    await assertMigrated(pool);
    return (await pool.query<{ id: string }>('SELECT id FROM communities ORDER BY id')).rows.map((r) => r.id);
  }

  /** directory lists a database's communities with their names (from their community rows) and log sizes. */
  static async directory(pool: pg.Pool): Promise<{ id: string; name: string | null; size: number }[]> {
    await assertMigrated(pool);
    const r = await pool.query<{ id: string; size: string; row: string | null }>(
      "SELECT c.id, h.size, p.row FROM communities c JOIN log_head h ON h.community = c.id LEFT JOIN projection_rows p ON p.community = c.id AND p.tbl = 'community' ORDER BY c.id",
    );
    return r.rows.map((row) => ({ id: row.id, name: row.row ? ((JSON.parse(row.row) as { name?: string }).name ?? null) : null, size: Number(row.size) }));
  }

  private async load(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const head = await client.query<{ size: string }>('SELECT size FROM log_head WHERE community = $1', [this.community]);
      if (head.rowCount !== 1) throw new OpenlecError('E_DB_COMMUNITY', `community ${this.community} is not in this database (add it with "openlec community create")`, { field: 'community' });
      this.sizeNow = Number(head.rows[0]!.size);
      const byTable = new Map<string, Row[]>();
      const rows = await client.query<{ tbl: string; row: string }>(this.readOnly ? "SELECT tbl, row FROM projection_rows WHERE community = $1 AND tbl = 'community'" : 'SELECT tbl, row FROM projection_rows WHERE community = $1', [this.community]);
      for (const r of rows.rows) {
        let list = byTable.get(r.tbl);
        if (!list) byTable.set(r.tbl, (list = []));
        list.push(JSON.parse(r.row) as Row);
      }
      for (const [table, list] of byTable) if (this.state.specs.has(table)) this.state.load(table, list);
      // An auditing open reads hashes only when asked (a proof, a root): verify must open a log whose stored hashes are wrong.
      if (!this.readOnly) this.recent = await this.fetchHashes(frontierIndexes(this.sizeNow), client);
      this.checkpointList = (await client.query<{ size: string; note: string }>('SELECT size, note FROM checkpoints WHERE community = $1 ORDER BY size', [this.community])).rows.map((r) => ({ size: Number(r.size), note: r.note }));
      for (const r of (await client.query<{ size: string; witness: string; line: string }>('SELECT size, witness, line FROM cosignatures WHERE community = $1', [this.community])).rows) this.noteCosignature(Number(r.size), r.witness, r.line);
      await client.query('COMMIT');
    } catch (e) {
      // Never hand the pool a connection inside a transaction (an old snapshot, a read-only mode).
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }

  get size(): number {
    return this.sizeNow;
  }

  // Reads ---------------------------------------------------------------------------------

  /** fetchHashes reads stored tree hashes from the rows of the entries whose append wrote them. */
  private async fetchHashes(indexes: readonly number[], client: pg.ClientBase | pg.Pool = this.pool): Promise<Map<number, Hash>> {
    const out = new Map<number, Hash>();
    if (indexes.length === 0) return out;
    const split = indexes.map((i) => ({ i, ...splitStoredHashIndex(i) }));
    const leaves = [...new Set(split.map((s) => s.leaf))];
    const rows = new Map<number, Buffer>();
    for (const r of (await client.query<{ seq: string; hashes: Buffer }>('SELECT seq, hashes FROM entries WHERE community = $1 AND seq = ANY($2::bigint[])', [this.community, leaves])).rows) rows.set(Number(r.seq), r.hashes);
    for (const { i, leaf, position } of split) {
      const row = rows.get(leaf);
      if (!row || row.length < 32 * (position + 1)) throw new OpenlecError('E_STORE_HASH', `stored hash ${i} (entry ${leaf}) is missing`, { field: 'hashes' });
      out.set(i, new Uint8Array(row.buffer, row.byteOffset + 32 * position, 32));
    }
    return out;
  }

  /**
   * withHashes runs a Merkle computation whose reads do not depend on the hashes' values
   * (proofs, roots): a dry run with zero hashes names the stored hashes it needs, one query
   * fetches them, and the real run uses them.
   */
  private async withHashes<T>(compute: (reader: HashReader) => T): Promise<T> {
    const known = new Map(this.recent);
    const zero = new Uint8Array(32);
    for (let round = 0; round < 3; round++) {
      const missing = new Set<number>();
      const reader: HashReader = { readHashes: (ix) => ix.map((i) => known.get(i) ?? (missing.add(i), zero)) };
      const result = compute(reader);
      if (missing.size === 0) return result;
      for (const [i, h] of await this.fetchHashes([...missing])) known.set(i, h);
    }
    invariant(false, 'a Merkle computation kept asking for new hashes');
  }

  async readEntries(from: number, to: number): Promise<StoredEntry[]> {
    const hi = Math.min(to, this.sizeNow);
    if (hi <= from) return [];
    const r = await this.pool.query<{ seq: string; bytes: Buffer; hashes: Buffer }>('SELECT seq, bytes, hashes FROM entries WHERE community = $1 AND seq >= $2 AND seq < $3 ORDER BY seq', [this.community, from, hi]);
    return r.rows.map((row) => ({ index: Number(row.seq), bytes: bytesOf(row.bytes), hashes: bytesOf(row.hashes) }));
  }

  async readEntry(index: number): Promise<Uint8Array> {
    const [e] = Number.isSafeInteger(index) && index >= 0 ? await this.readEntries(index, index + 1) : [];
    if (!e) throw new OpenlecError('E_NO_ENTRY', `entry ${index} does not exist (the log has ${this.sizeNow})`, { field: 'entry' });
    return e.bytes;
  }

  async rootAt(size = this.sizeNow): Promise<Hash> {
    this.assertSize(size);
    return this.withHashes((r) => treeHash(size, r));
  }

  rootAfter(entries: readonly Uint8Array[]): Hash {
    const overlay = new Map<number, Hash>(this.recent);
    const reader: HashReader = {
      readHashes: (ix) => ix.map((i) => {
        const h = overlay.get(i);
        invariant(h, `hash ${i} is not on the frontier`);
        return h;
      }),
    };
    let n = this.sizeNow;
    for (const bytes of entries) {
      let index = storedHashCount(n);
      for (const h of storedHashesForLeaf(n, leafHash(bytes), reader)) overlay.set(index++, h);
      n++;
    }
    return treeHash(n, reader);
  }

  async inclusionProof(entry: number, size = this.sizeNow): Promise<Hash[]> {
    this.assertSize(size);
    if (!Number.isSafeInteger(entry) || entry < 0 || entry >= size) throw new OpenlecError('E_TREE_SIZE', `entry ${entry} is not in a tree of size ${size}`, { field: 'entry' });
    return this.withHashes((r) => proveInclusion(entry, size, r));
  }

  async consistencyProof(from: number, to = this.sizeNow): Promise<Hash[]> {
    this.assertSize(to);
    if (!Number.isSafeInteger(from) || from < 0 || from > to) throw new OpenlecError('E_TREE_SIZE', `tree size ${from} is not within 0..${to}`, { field: 'from' });
    return this.withHashes((r) => proveConsistency(from, to, r));
  }

  private assertSize(size: number): void {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.sizeNow) {
      throw new OpenlecError('E_TREE_SIZE', `tree size ${size} is beyond the log's ${this.sizeNow} entries`, { field: 'size' });
    }
  }

  origin(): string {
    const c = community(this.state);
    if (!c) throw new OpenlecError('E_NO_COMMUNITY', 'the log has no community yet', { field: 'community' });
    return c.id;
  }

  operatorVerifierKey(): string {
    const c = community(this.state);
    if (!c) throw new OpenlecError('E_NO_COMMUNITY', 'the log has no community yet', { field: 'community' });
    return formatVerifierKey(c.id, decodeKey(c.operator));
  }

  /**
   * snapshot runs `read` on one consistent state of the community (a REPEATABLE READ
   * transaction): what verify reads, so that a log appended while it runs is checked as
   * of one moment.
   */
  async snapshot<T>(read: (source: LogSource) => T | Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const head = await client.query<{ size: string }>('SELECT size FROM log_head WHERE community = $1', [this.community]);
      const size = Number(head.rows[0]?.size ?? 0);
      const community = this.community;
      const specs = new Map(this.registry.tables.map((t) => [t.name, t]));
      const checkpoints = (await client.query<{ size: string; note: string }>('SELECT size, note FROM checkpoints WHERE community = $1 ORDER BY size', [community])).rows.map((r) => ({ size: Number(r.size), note: r.note }));
      return await read({
        size,
        async *entries(from, to) {
          const hi = Math.min(to, size);
          for (let lo = from; lo < hi; lo += READ_CHUNK) {
            const r = await client.query<{ seq: string; bytes: Buffer; hashes: Buffer }>('SELECT seq, bytes, hashes FROM entries WHERE community = $1 AND seq >= $2 AND seq < $3 ORDER BY seq', [community, lo, Math.min(hi, lo + READ_CHUNK)]);
            for (const row of r.rows) yield { index: Number(row.seq), bytes: bytesOf(row.bytes), hashes: bytesOf(row.hashes) };
          }
        },
        checkpoints: () => checkpoints,
        async *tableRows(spec: TableSpec) {
          const r = await client.query<{ row: string }>('SELECT row FROM projection_rows WHERE community = $1 AND tbl = $2', [community, spec.name]);
          for (const row of r.rows) yield JSON.parse(row.row) as Row;
        },
        async checkIntegrity() {
          // Projection rows are filed under their key: a row whose key is not its own is found under no lookup.
          const problems: string[] = [];
          const r = await client.query<{ tbl: string; key: string; row: string }>('SELECT tbl, key, row FROM projection_rows WHERE community = $1', [community]);
          for (const row of r.rows) {
            const spec = specs.get(row.tbl);
            if (!spec) problems.push(`projection row of unknown table ${row.tbl}`);
            else if (rowKey(spec, JSON.parse(row.row) as Row) !== row.key) problems.push(`projection row ${row.tbl}/${JSON.stringify(row.key)} is filed under another key than its own`);
            if (problems.length >= 20) break;
          }
          return problems;
        },
      });
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
    }
  }

  // Checkpoints -----------------------------------------------------------------------------

  checkpoints(): StoredCheckpoint[] {
    return [...this.checkpointList];
  }

  latestCheckpoint(): { checkpoint: Checkpoint; note: string } | undefined {
    const last = this.checkpointList[this.checkpointList.length - 1];
    if (!last) return undefined;
    return { checkpoint: openCheckpoint(last.note, parseVerifierKey(this.operatorVerifierKey()), this.origin()), note: last.note };
  }

  newestCheckpoint(quorum: number, after = -1): StoredCheckpoint | undefined {
    return [...this.checkpointList].reverse().find((c) => c.size > after && (quorum <= 0 || (this.cosigned.get(c.size)?.size ?? 0) >= quorum));
  }

  cosignatures(size: number): { witness: string; line: string }[] {
    return [...(this.cosigned.get(size) ?? new Map<string, string>())].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([witness, line]) => ({ witness, line }));
  }

  cosignatureCounts(): Map<number, number> {
    return new Map([...this.cosigned].map(([size, m]) => [size, m.size]));
  }

  private noteCheckpoint(size: number, note: string): void {
    if (this.checkpointList.some((c) => c.size === size)) return;
    this.checkpointList.push({ size, note });
    this.checkpointList.sort((a, b) => a.size - b.size);
  }

  private noteCosignature(size: number, witness: string, line: string): void {
    let m = this.cosigned.get(size);
    if (!m) this.cosigned.set(size, (m = new Map()));
    if (!m.has(witness)) m.set(witness, line);
  }

  private async insertCheckpoint(size: number, note: string): Promise<void> {
    await this.pool.query(`WITH i AS (INSERT INTO checkpoints (community, size, note) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1) SELECT pg_notify('${APPEND_CHANNEL}', $1) FROM i`, [this.community, size, note]);
    // Another process may have signed this size first: keep the stored note.
    const stored = await this.pool.query<{ note: string }>('SELECT note FROM checkpoints WHERE community = $1 AND size = $2', [this.community, size]);
    this.noteCheckpoint(size, stored.rows[0]!.note);
  }

  async signCheckpoint(signer: Omit<NoteSigner, 'name'>): Promise<{ checkpoint: Checkpoint; note: string }> {
    const origin = this.origin();
    if (this.readOnly) throw new OpenlecError('E_READ_ONLY', 'this log was opened for auditing only', { field: 'pg' });
    if (encodeKey(signer.publicKey) !== community(this.state)!.operator) throw new OpenlecError('E_NOT_OPERATOR', 'checkpoints are signed by the operator key of the community', { field: 'key' });
    const size = this.sizeNow;
    const checkpoint: Checkpoint = { origin, size, root: await this.rootAt(size), extensions: [] };
    const note = signCheckpoint(checkpoint, { ...signer, name: origin });
    await this.insertCheckpoint(size, note);
    return { checkpoint, note };
  }

  async keepCheckpoint(note: string): Promise<Checkpoint> {
    if (this.readOnly) throw new OpenlecError('E_READ_ONLY', 'this log was opened for auditing only', { field: 'pg' });
    const c = openCheckpoint(note, parseVerifierKey(this.operatorVerifierKey()), this.origin());
    if (c.size > this.sizeNow) throw new OpenlecError('E_TREE_SIZE', `checkpoint of size ${c.size} is beyond the log's ${this.sizeNow} entries`, { field: 'size' });
    if (!equalBytes(await this.rootAt(c.size), c.root)) throw new OpenlecError('E_CHECKPOINT_ROOT', `checkpoint of size ${c.size} does not have this log's root`, { field: 'root' });
    await this.insertCheckpoint(c.size, note);
    return c;
  }

  async keepCosignature(size: number, witness: string, line: string): Promise<void> {
    if (this.readOnly) throw new OpenlecError('E_READ_ONLY', 'this log was opened for auditing only', { field: 'pg' });
    await this.pool.query(`WITH i AS (INSERT INTO cosignatures (community, size, witness, line) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING 1) SELECT pg_notify('${APPEND_CHANNEL}', $1) FROM i`, [this.community, size, witness, line]);
    this.noteCosignature(size, witness, line);
  }

  // Appending -------------------------------------------------------------------------------

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const next = this.serial.then(work);
    this.serial = next.catch(() => undefined);
    return next;
  }

  submit(input: SubmitInput, admission: { now?: number } = {}): Promise<SubmitResult> {
    if (this.readOnly || this.closed) return Promise.resolve({ ok: false, error: new OpenlecError(this.closed ? 'E_CLOSED' : 'E_READ_ONLY', this.closed ? 'the log is closed' : 'this log was opened for auditing only', { field: 'pg' }) });
    return new Promise((resolve) => {
      this.queue.push({ input, resolve, ...(admission.now === undefined ? {} : { now: admission.now }) });
      this.kick();
    });
  }

  submitMany(inputs: readonly SubmitInput[]): Promise<SubmitResult[]> {
    return Promise.all(inputs.map((i) => this.submit(i)));
  }

  private kick(): void {
    if (this.running) return;
    this.running = new Promise<void>((r) => setImmediate(r))
      .then(() => this.run())
      .finally(() => {
        this.running = undefined;
        if (this.queue.length > 0) this.kick();
      });
  }

  /** Batches are pipelined: the signatures of the next batch are checked while this one is committed. */
  private async run(): Promise<void> {
    let inflight: Prepared | undefined;
    while (this.queue.length > 0 || inflight) {
      const next = this.queue.length > 0 ? this.prepare(this.queue.splice(0, this.maxBatch)) : undefined;
      if (inflight) {
        const batch = inflight;
        const ok = await batch.signaturesOk;
        await this.exclusive(() => this.commitBatch(batch, ok));
      }
      inflight = next;
    }
  }

  private prepare(items: Queued[]): Prepared {
    return prepareBatch(items, this.signatures);
  }

  private async commitBatch(batch: Prepared, signaturesOk: boolean[]): Promise<void> {
    let results: SubmitResult[] = [];
    try {
      await this.appendInTransaction((append) => {
        // Everything until the commit is in memory: a throw here is the transaction's refusal.
        let entry = -1;
        results = applyBatch(batch, signaturesOk, (d, now) => void (entry = append(d, now)), () => entry);
      });
    } catch (e) {
      const error = storeFailure(e);
      for (const q of batch.items) q.resolve({ ok: false, error });
      return;
    }
    batch.items.forEach((q, i) => q.resolve(results[i]!));
  }

  async submitAtomic(inputs: Iterable<SubmitInput>, options: AtomicOptions = {}): Promise<number[]> {
    if (this.readOnly) throw new OpenlecError('E_READ_ONLY', 'this log was opened for auditing only', { field: 'pg' });
    const items: SubmitInput[] = [...inputs];
    const total = ` of ${items.length}`;
    const at = (e: OpenlecError, index: number) => new OpenlecError(e.code, `transaction ${index + 1}${total}: ${e.message}`, { field: e.field, details: { ...e.details, index } });
    const prepared = this.prepare(items.map((input) => ({ input, resolve: () => {} })));
    const ok = await prepared.signaturesOk;
    // Queued single submissions committed before this set keep their order: wait for the queue's turn.
    while (this.running) await this.running;
    return this.exclusive(async () => {
      const entries: number[] = [];
      await this.appendInTransaction((append) => {
        let s = 0;
        for (const [k, d] of prepared.decoded.entries()) {
          if (d instanceof OpenlecError) throw at(d, k);
          if (!ok[s++]) throw at(signatureRefused(), k);
          try {
            entries.push(append(d, options.now));
          } catch (e) {
            throw at(asError(e), k);
          }
          if ((k + 1) % (options.chunk ?? 1024) === 0) options.onProgress?.(k + 1);
        }
      });
      options.onProgress?.(entries.length);
      return entries;
    });
  }

  /**
   * appendInTransaction is the sequencer: under the community's head row lock it takes in
   * what other processes appended, lets `fill` apply transactions in memory (each call of
   * `append` applies one and returns its entry number, or throws and leaves the state as it
   * was), then writes the entries, their hashes, the changed projection rows and the head,
   * and commits. If the commit fails, memory goes back to the state before `fill`.
   */
  private async appendInTransaction(fill: (append: (d: DecodedEntry, now?: number) => number) => void): Promise<void> {
    const client = await this.pool.connect();
    let began = false;
    let mark = -1;
    let baseRecent = this.recent;
    try {
      await client.query('BEGIN');
      began = true;
      const head = await client.query<{ size: string }>('SELECT size FROM log_head WHERE community = $1 FOR UPDATE', [this.community]);
      if (head.rowCount !== 1) throw new OpenlecError('E_DB_COMMUNITY', `community ${this.community} is not in this database`, { field: 'community' });
      const headSize = Number(head.rows[0]!.size);
      if (headSize !== this.sizeNow) await this.catchUp(client, headSize);
      const base = this.sizeNow;
      baseRecent = new Map(this.recent);
      mark = this.state.mark();
      const pending: Pending[] = [];
      let n = base;
      const reader: HashReader = {
        readHashes: (ix) => ix.map((i) => {
          const h = this.recent.get(i);
          invariant(h, `hash ${i} is not on the frontier`);
          return h;
        }),
      };
      fill((d, now) => {
        const before = this.state.mark();
        applyEntry(this.state, this.registry, d, n, now === undefined ? {} : { now });
        if (n === 0 && community(this.state)?.id !== this.community) {
          const named = community(this.state)?.id;
          this.state.rollback(before);
          throw new OpenlecError('E_TX_COMMUNITY', `this database holds community "${this.community}" here, the genesis names "${named}"`, { field: 'community' });
        }
        const hashes = storedHashesForLeaf(n, leafHash(d.bytes), reader);
        let index = storedHashCount(n);
        for (const h of hashes) this.recent.set(index++, h);
        pending.push({ seq: n, bytes: d.bytes, hashes: hashes.length === 1 ? hashes[0]! : concatBytes(...hashes) });
        return n++;
      });
      if (pending.length === 0) {
        await client.query('ROLLBACK');
        began = false;
        this.state.rollback(mark);
        this.state.takeDirty();
        this.recent = baseRecent;
        return;
      }
      await client.query('INSERT INTO entries (community, seq, bytes, hashes) SELECT $1, unnest($2::bigint[]), unnest($3::bytea[]), unnest($4::bytea[])', [
        this.community, pending.map((p) => p.seq), pending.map((p) => buf(p.bytes)), pending.map((p) => buf(p.hashes)),
      ]);
      const upTbl: string[] = [], upKey: string[] = [], upRow: string[] = [], delTbl: string[] = [], delKey: string[] = [];
      for (const [table, keys] of this.state.takeDirty()) {
        for (const key of keys) {
          const row = this.state.peek(table, key);
          if (row) {
            upTbl.push(table);
            upKey.push(key);
            upRow.push(canonicalJson(row));
          } else {
            delTbl.push(table);
            delKey.push(key);
          }
        }
      }
      if (delTbl.length > 0) await client.query('DELETE FROM projection_rows p USING unnest($2::text[], $3::text[]) AS d(tbl, key) WHERE p.community = $1 AND p.tbl = d.tbl AND p.key = d.key', [this.community, delTbl, delKey]);
      if (upTbl.length > 0) await client.query('INSERT INTO projection_rows (community, tbl, key, row) SELECT $1, unnest($2::text[]), unnest($3::text[]), unnest($4::text[]) ON CONFLICT (community, tbl, key) DO UPDATE SET row = excluded.row', [this.community, upTbl, upKey, upRow]);
      await client.query('UPDATE log_head SET size = $2 WHERE community = $1', [this.community, n]);
      await client.query(`SELECT pg_notify('${APPEND_CHANNEL}', $1)`, [this.community]);
      await client.query('COMMIT');
      began = false;
      this.state.forget();
      this.sizeNow = n;
      this.pruneRecent();
    } catch (e) {
      if (began) await client.query('ROLLBACK').catch(() => undefined);
      // What the catch-up took in is durable (another process committed it) and stays; the batch is undone.
      if (mark >= 0) {
        this.state.rollback(mark);
        this.recent = baseRecent;
      }
      this.state.takeDirty();
      throw e;
    } finally {
      client.release();
    }
  }

  /**
   * catchUp replays into memory the entries another process appended after this one last
   * wrote or refreshed: the replay verify makes, rules included. Their projection rows are
   * in the database already. Refused entries here mean the database was written by
   * something that does not follow the rules: the process stops writing this community.
   */
  private async catchUp(client: pg.ClientBase | pg.Pool, to: number): Promise<number> {
    const from = this.sizeNow;
    if (to < from) throw new OpenlecError('E_STORE_SIZE', `community ${this.community} has ${to} entries, fewer than the ${from} this process read`, { field: 'pg' });
    let entry = from;
    const reader: HashReader = {
      readHashes: (ix) => ix.map((i) => {
        const h = this.recent.get(i);
        invariant(h, `hash ${i} is not on the frontier`);
        return h;
      }),
    };
    const refuse = (message: string, cause?: unknown) => {
      this.state.takeDirty();
      return new OpenlecError('E_STORE_CATCH_UP', `community ${this.community}: entry ${entry}, appended by another process, ${message}`, { field: 'pg', cause });
    };
    for (let lo = from; lo < to; lo += READ_CHUNK) {
      const r = await client.query<{ seq: string; bytes: Buffer; hashes: Buffer }>('SELECT seq, bytes, hashes FROM entries WHERE community = $1 AND seq >= $2 AND seq < $3 ORDER BY seq', [this.community, lo, Math.min(to, lo + READ_CHUNK)]);
      // A row in the database is not trusted for being there: its signature is checked and its
      // tree hashes recomputed, as verify would, before this process adopts it (and before the
      // operator's key signs a checkpoint that covers it).
      const decoded: DecodedEntry[] = [];
      for (const [k, row] of r.rows.entries()) {
        if (Number(row.seq) !== lo + k) throw refuse(`is missing (found ${row.seq})`);
        try {
          decoded.push(decodeEntry(bytesOf(row.bytes)));
        } catch (e) {
          throw refuse(`is not a well-formed entry: ${(e as Error).message}`, e);
        }
      }
      const signed = await this.signatures.check(decoded);
      const taken: StoredEntry[] = [];
      for (const [k, row] of r.rows.entries()) {
        if (!signed[k]) throw refuse('has a signature that does not verify');
        const hashes = storedHashesForLeaf(entry, leafHash(decoded[k]!.bytes), reader);
        if (!equalBytes(bytesOf(row.hashes), hashes.length === 1 ? hashes[0]! : concatBytes(...hashes))) throw refuse('has stored tree hashes that its bytes do not give');
        try {
          if (!this.readOnly) applyEntry(this.state, this.registry, decoded[k]!, entry);
        } catch (e) {
          throw refuse(`does not replay on this process's state: ${(e as Error).message}`, e);
        }
        let index = storedHashCount(entry);
        for (const h of hashes) this.recent.set(index++, h);
        taken.push({ index: entry, bytes: decoded[k]!.bytes, hashes: bytesOf(row.hashes) });
        entry++;
        this.sizeNow = entry;
        this.state.forget();
      }
      if (taken.length > 0) this.onTakeIn?.(taken);
    }
    if (entry !== to) throw refuse('is missing');
    this.state.takeDirty();
    this.pruneRecent();
    return to - from;
  }

  /** refresh takes in the entries, checkpoints and cosignatures other processes wrote. */
  refresh(): Promise<number> {
    return this.exclusive(async () => {
      const head = await this.pool.query<{ size: string }>('SELECT size FROM log_head WHERE community = $1', [this.community]);
      // An auditing ledger holds no state to replay into: it reads the new size and checkpoints.
      const taken = this.readOnly ? Number(head.rows[0]?.size ?? this.sizeNow) - this.sizeNow : await this.catchUp(this.pool, Number(head.rows[0]?.size ?? this.sizeNow));
      if (this.readOnly) this.sizeNow += taken;
      const last = this.checkpointList[this.checkpointList.length - 1]?.size ?? -1;
      for (const r of (await this.pool.query<{ size: string; note: string }>('SELECT size, note FROM checkpoints WHERE community = $1 AND size > $2 ORDER BY size', [this.community, last])).rows) this.noteCheckpoint(Number(r.size), r.note);
      const recentSizes = this.checkpointList.slice(-16).map((c) => c.size);
      for (const r of (await this.pool.query<{ size: string; witness: string; line: string }>('SELECT size, witness, line FROM cosignatures WHERE community = $1 AND size = ANY($2::bigint[])', [this.community, recentSizes])).rows) this.noteCosignature(Number(r.size), r.witness, r.line);
      return taken;
    });
  }

  private pruneRecent(): void {
    const keep = new Set(frontierIndexes(this.sizeNow));
    for (const i of this.recent.keys()) if (!keep.has(i)) this.recent.delete(i);
  }

  /** close waits for queued writes; the pool belongs to the caller. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.running) await this.running;
    await this.serial;
    await this.signatures.close();
  }
}

/** pgPool opens a pool on a connection string, with the application's name for pg_stat_activity. */
export function pgPool(url: string, max = 10): pg.Pool {
  // A connection left inside a transaction (a client that died mid-batch) is ended by the server after a minute.
  const pool = new pg.Pool({ connectionString: url, max, application_name: 'openlec', idle_in_transaction_session_timeout: 60_000 });
  // An idle client's error (the server restarted) must not end the process: the next query reconnects.
  pool.on('error', () => undefined);
  return pool;
}
