import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { OpenlecError } from '../errors.ts';
import {
  canonicalJson, type Checkpoint, concatBytes, equalBytes, decodeEntry, decodeKey, encodeKey, formatVerifierKey, frontierIndexes, type Hash,
  leafHash, type NoteSigner, openCheckpoint, parseVerifierKey, proveConsistency, proveInclusion, signCheckpoint, splitStoredHashIndex,
  storedHashCount, storedHashesForLeaf, treeHash,
} from '../ledger/index.ts';
import { community } from '../community/tables.ts';
import { InlineSignatureChecker, type SignatureChecker } from '../node/signatures.ts';
import { createRegistry, emptyState } from '../registry.ts';
import { applyEntry } from '../state/apply.ts';
import type { Registry } from '../state/registry.ts';
import { type Row, rowKey, type State, type TableSpec } from '../state/tables.ts';
import { applyBatch, asOpenlecError, prepareBatch, type Prepared, type Queued, signatureRefused, storeFailure } from './batch.ts';
import type { AtomicOptions, LedgerStore, SubmitInput, SubmitResult } from './ledger-store.ts';
import type { LogSource, RowText, StoredCheckpoint, StoredEntry } from './log-source.ts';
import { WriterLock } from './writer-lock.ts';

const FORMAT = 'openlec-log-1';
/** Transactions decoded and checked at a time by submitAtomic. */
const ATOMIC_CHUNK = 1024;

export type { SubmitInput, SubmitResult } from './ledger-store.ts';

export interface SqliteLedgerOptions {
  registry?: Registry;
  signatures?: SignatureChecker;
  /** Most transactions committed in one SQLite transaction (group commit). */
  maxBatch?: number;
  /**
   * false opens the log for reading and auditing only: the projections stay on disk (no
   * memory, no load time) but for the one community row that names the log and its
   * operator key, which is all that verify, anchoring and proofs need; appends are refused.
   */
  projections?: boolean;
  /**
   * true takes the writer lock at open (serve, replicas): a second writer of the file is
   * refused now (E_LOCKED) rather than at its first write. Otherwise the lock is taken at
   * the first write, so that a ledger opened only to read never holds it.
   */
  writer?: boolean;
}

const sqlName = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * SqliteLedger is the embedded store: one SQLite file per community, in WAL mode with
 * synchronous=FULL, so an acknowledged append survives a crash or power loss. Each
 * batch of submissions (group commit) is checked (signatures on worker threads; type,
 * actor, role, nonce and rules in the state machine) and then appended with its tree
 * hashes and projection rows in a single SQLite transaction: the log and the
 * projections can never be out of step.
 */
export class SqliteLedger implements LogSource, LedgerStore {
  readonly db: Database.Database;
  readonly registry: Registry;
  readonly state: State;
  private readonly signatures: SignatureChecker;
  private readonly maxBatch: number;
  private sizeNow = 0;
  private readonly recent = new Map<number, Hash>();
  private queue: Queued[] = [];
  private running: Promise<void> | undefined;
  private readonly stmts: ReturnType<SqliteLedger['prepareStatements']>;
  private readonly upserts = new Map<string, Database.Statement>();
  private readonly deletes = new Map<string, Database.Statement>();
  /** Opened without its projections: for reading and auditing only. */
  readonly readOnly: boolean;
  private readonly path: string;
  /** Set once this ledger is the file's writer: the lock it holds (none for an in-memory log). */
  private lock: WriterLock | 'memory' | undefined;

  private constructor(path: string, db: Database.Database, options: SqliteLedgerOptions) {
    this.path = path;
    this.db = db;
    this.registry = options.registry ?? createRegistry();
    this.signatures = options.signatures ?? new InlineSignatureChecker();
    this.maxBatch = options.maxBatch ?? 2048;
    this.state = emptyState(this.registry);
    this.createSchema();
    this.stmts = this.prepareStatements();
    this.readOnly = options.projections === false;
    for (const spec of this.registry.tables) {
      const cols = Object.keys(spec.columns);
      // An upsert updates a row in place (REPLACE would delete and re-insert it, touching every index).
      const set = cols.filter((c) => !spec.primaryKey.includes(c)).map((c) => `${sqlName(c)} = excluded.${sqlName(c)}`);
      this.upserts.set(spec.name, db.prepare(`INSERT INTO ${sqlName(spec.name)} (${cols.map(sqlName).join(',')}) VALUES (${cols.map(() => '?').join(',')}) ON CONFLICT (${spec.primaryKey.map(sqlName).join(',')}) ${set.length ? `DO UPDATE SET ${set.join(', ')}` : 'DO NOTHING'}`));
      this.deletes.set(spec.name, db.prepare(`DELETE FROM ${sqlName(spec.name)} WHERE ${spec.primaryKey.map((c) => `${sqlName(c)} = ?`).join(' AND ')}`));
    }
    // One read transaction: the tables, the size and the frontier of one moment, even while another process appends.
    this.readTransaction(() => {
      for (const spec of this.registry.tables) if (!this.readOnly || spec.name === 'community') this.state.load(spec.name, this.tableRows(spec));
      this.sizeNow = (this.stmts.count.get() as { n: number }).n;
      this.loadFrontier();
    });
    if (options.writer) this.ensureWriter();
  }

  /** construct builds a ledger over an opened file; if that fails, the file and the signature workers are closed again. */
  private static construct(path: string, db: Database.Database, options: SqliteLedgerOptions): SqliteLedger {
    try {
      return new SqliteLedger(path, db, options);
    } catch (e) {
      db.close();
      void options.signatures?.close();
      throw e;
    }
  }

  private readTransaction<T>(read: () => T): T {
    this.db.exec('BEGIN');
    try {
      return read();
    } finally {
      if (this.db.inTransaction) this.db.exec('COMMIT');
    }
  }

  /** create makes a new, empty log file; it refuses to overwrite one. */
  static create(path: string, options: SqliteLedgerOptions = {}): SqliteLedger {
    if (path !== ':memory:' && existsSync(path)) throw new OpenlecError('E_DB_EXISTS', `${path} already exists`, { field: 'db' });
    const db = new Database(path);
    db.prepare('CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT').run();
    db.prepare('INSERT INTO meta VALUES (?, ?)').run('format', FORMAT);
    return SqliteLedger.construct(path, SqliteLedger.tune(db), options);
  }

  /** open opens an existing log file. */
  static open(path: string, options: SqliteLedgerOptions = {}): SqliteLedger {
    if (!existsSync(path)) throw new OpenlecError('E_DB_MISSING', `${path} does not exist (create it with "openlec init")`, { field: 'db' });
    const db = new Database(path, { fileMustExist: true });
    let format: string | undefined;
    try {
      format = (db.prepare("SELECT value FROM meta WHERE key = 'format'").get() as { value: string } | undefined)?.value;
    } catch {
      format = undefined;
    }
    if (format !== FORMAT) {
      db.close();
      throw new OpenlecError('E_DB_FORMAT', `${path} is not an openlec log (format ${format ?? 'unknown'})`, { field: 'db' });
    }
    return SqliteLedger.construct(path, SqliteLedger.tune(db), options);
  }

  private static tune(db: Database.Database): Database.Database {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    return db;
  }

  private createSchema(): void {
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS entries (seq INTEGER PRIMARY KEY, bytes BLOB NOT NULL, hashes BLOB NOT NULL) STRICT;
      CREATE TABLE IF NOT EXISTS checkpoints (size INTEGER PRIMARY KEY, note TEXT NOT NULL) STRICT;
      CREATE TABLE IF NOT EXISTS cosignatures (size INTEGER NOT NULL, witness TEXT NOT NULL, line TEXT NOT NULL, PRIMARY KEY (size, witness)) STRICT;
    `);
    const kind = { text: 'TEXT', integer: 'INTEGER', json: 'TEXT' } as const;
    for (const spec of this.registry.tables) {
      const cols = Object.entries(spec.columns).map(([c, k]) => `${sqlName(c)} ${kind[k]}${spec.primaryKey.includes(c) ? ' NOT NULL' : ''}`);
      this.db.exec(`CREATE TABLE IF NOT EXISTS ${sqlName(spec.name)} (${cols.join(', ')}, PRIMARY KEY (${spec.primaryKey.map(sqlName).join(', ')})) STRICT`);
      for (const idx of spec.indexes ?? []) {
        this.db.exec(`CREATE INDEX IF NOT EXISTS ${sqlName(`${spec.name}_${idx.join('_')}`)} ON ${sqlName(spec.name)} (${idx.map(sqlName).join(', ')})`);
      }
    }
  }

  private prepareStatements() {
    return {
      count: this.db.prepare('SELECT count(*) AS n FROM entries'),
      next: this.db.prepare('SELECT coalesce(max(seq) + 1, 0) FROM entries').pluck(),
      insertEntry: this.db.prepare('INSERT INTO entries (seq, bytes, hashes) VALUES (?, ?, ?)'),
      entryHashes: this.db.prepare('SELECT hashes FROM entries WHERE seq = ?').pluck(),
      entryRange: this.db.prepare('SELECT seq, bytes, hashes FROM entries WHERE seq >= ? AND seq < ? ORDER BY seq'),
      insertCheckpoint: this.db.prepare('INSERT OR IGNORE INTO checkpoints (size, note) VALUES (?, ?)'),
      checkpoints: this.db.prepare('SELECT size, note FROM checkpoints ORDER BY size'),
      insertCosignature: this.db.prepare('INSERT OR IGNORE INTO cosignatures (size, witness, line) VALUES (?, ?, ?)'),
      cosignatures: this.db.prepare('SELECT witness, line FROM cosignatures WHERE size = ? ORDER BY witness'),
      cosignatureCounts: this.db.prepare('SELECT size, count(*) AS n FROM cosignatures GROUP BY size'),
    };
  }

  private loadFrontier(): void {
    this.recent.clear();
    const frontier = frontierIndexes(this.sizeNow);
    const hashes = this.readHashes(frontier);
    frontier.forEach((i, k) => this.recent.set(i, hashes[k]!));
  }

  get size(): number {
    return this.sizeNow;
  }

  /** The file's path: the server keeps its side stores beside it (none for an in-memory log). */
  get sidePath(): string | undefined {
    return this.path === ':memory:' || this.readOnly ? undefined : this.path;
  }

  // LedgerStore: the asynchronous face of the synchronous calls below ---------------------

  /** refresh takes in what another writer of the file appended; a ledger that holds the writer lock has nothing to take in. */
  async refresh(): Promise<number> {
    if (this.lock || this.readOnly) return 0;
    const before = this.sizeNow;
    this.catchUp();
    return this.sizeNow - before;
  }

  async readEntries(from: number, to: number): Promise<StoredEntry[]> {
    return [...this.entries(from, to)];
  }

  async readEntry(index: number): Promise<Uint8Array> {
    return this.entry(index);
  }

  async rootAt(size = this.sizeNow): Promise<Hash> {
    return this.root(size);
  }

  async inclusionProof(entry: number, size = this.sizeNow): Promise<Hash[]> {
    return this.proveInclusion(entry, size);
  }

  async consistencyProof(from: number, to = this.sizeNow): Promise<Hash[]> {
    return this.proveConsistency(from, to);
  }

  async signCheckpoint(signer: Omit<NoteSigner, 'name'>): Promise<{ checkpoint: Checkpoint; note: string }> {
    return this.checkpoint(signer);
  }

  async keepCheckpoint(note: string): Promise<Checkpoint> {
    return this.storeCheckpoint(note);
  }

  async keepCosignature(size: number, witness: string, line: string): Promise<void> {
    this.addCosignature(size, witness, line);
  }

  // LogSource ----------------------------------------------------------------

  /** readHashes reads stored tree hashes: each lives in the row of the entry whose append wrote it. */
  readHashes(indexes: readonly number[]): Hash[] {
    return indexes.map((i) => {
      const cached = this.recent.get(i);
      if (cached) return cached;
      const { leaf, position } = splitStoredHashIndex(i);
      const row = this.stmts.entryHashes.get(leaf) as Buffer | undefined;
      if (!row || row.length < 32 * (position + 1)) throw new OpenlecError('E_STORE_HASH', `stored hash ${i} (entry ${leaf}) is missing`, { field: 'hashes' });
      return new Uint8Array(row.buffer, row.byteOffset + 32 * position, 32);
    });
  }

  *entries(from: number, to: number): Iterable<StoredEntry> {
    const chunk = 4096;
    for (let lo = from; lo < to; lo += chunk) {
      for (const r of this.stmts.entryRange.all(lo, Math.min(to, lo + chunk)) as { seq: number; bytes: Buffer; hashes: Buffer }[]) {
        yield { index: r.seq, bytes: new Uint8Array(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength), hashes: new Uint8Array(r.hashes.buffer, r.hashes.byteOffset, r.hashes.byteLength) };
      }
    }
  }

  entry(seq: number): Uint8Array {
    for (const e of this.entries(seq, seq + 1)) return e.bytes;
    throw new OpenlecError('E_NO_ENTRY', `entry ${seq} does not exist (the log has ${this.sizeNow})`, { field: 'entry' });
  }

  checkpoints(): StoredCheckpoint[] {
    return this.stmts.checkpoints.all() as StoredCheckpoint[];
  }

  *tableRows(spec: TableSpec): Iterable<Row> {
    const jsonCols = Object.entries(spec.columns).filter(([, k]) => k === 'json').map(([c]) => c);
    for (const r of this.db.prepare(`SELECT * FROM ${sqlName(spec.name)}`).iterate() as Iterable<Row>) {
      for (const c of jsonCols) if (typeof r[c] === 'string') r[c] = JSON.parse(r[c] as string);
      yield r;
    }
  }

  /**
   * tableTexts writes each column's canonical JSON: JSON columns as stored (canonicalJson
   * wrote them), text and numbers as canonicalJson writes them. A row holding anything else
   * (a tampered value), or a table whose columns are not its spec's, goes through tableRows'
   * parse and canonicalJson, so the texts are the ones verify would compute.
   */
  *tableTexts(spec: TableSpec): Iterable<RowText> {
    const stmt = this.db.prepare(`SELECT * FROM ${sqlName(spec.name)}`);
    const names = Object.keys(spec.columns).sort();
    const same = stmt.columns().map((c) => c.name).sort().join('\u0000') === names.join('\u0000');
    const json = names.map((n) => spec.columns[n] === 'json');
    const jsonCols = names.filter((n) => spec.columns[n] === 'json');
    for (const r of stmt.iterate() as Iterable<Row>) {
      let columns: string[] | undefined = same ? [] : undefined;
      for (let i = 0; columns && i < names.length; i++) {
        const v = r[names[i]!];
        if (v === null) columns.push('null');
        else if (json[i] && typeof v === 'string') columns.push(v);
        else if (typeof v === 'string' && v.isWellFormed()) columns.push(JSON.stringify(v));
        else if (typeof v === 'number' && Number.isFinite(v)) columns.push(`${v}`);
        else columns = undefined;
      }
      if (!columns) {
        for (const c of jsonCols) if (typeof r[c] === 'string') r[c] = JSON.parse(r[c] as string);
        columns = names.map((n) => canonicalJson(r[n] ?? null));
      }
      yield { key: rowKey(spec, r), columns };
    }
  }

  /** checkIntegrity runs SQLite's integrity_check on the file (pages, b-tree order, indexes): its complaints, [] when sound. */
  checkIntegrity(): string[] {
    const found = (this.db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check);
    return found.length === 1 && found[0] === 'ok' ? [] : found;
  }

  /**
   * snapshot runs `read` on one consistent state of the file: a single read transaction,
   * which in WAL mode goes on seeing the file as it was at its first read while other
   * processes append and commit. Verify reads the entries, checkpoints and every
   * projection through it, so a live database is checked as of one moment (a newer
   * projection compared with an older replay would be a false tamper alarm), and the
   * source's `size` is the snapshot's: the size verify reports. Only a ledger opened for
   * auditing takes one, since its connection never writes.
   */
  async snapshot<T>(read: (source: LogSource) => T | Promise<T>): Promise<T> {
    if (!this.readOnly) throw new OpenlecError('E_SNAPSHOT', 'snapshots are taken on a log opened for auditing (projections: false)', { field: 'db' });
    if (this.db.inTransaction) throw new OpenlecError('E_SNAPSHOT', 'a snapshot of this log is already open', { field: 'db' });
    this.db.exec('BEGIN');
    try {
      // The first read fixes the snapshot; every later read of this connection sees the same file.
      const size = (this.stmts.count.get() as { n: number }).n;
      return await read({
        size,
        entries: (from, to) => this.entries(from, Math.min(to, size)),
        checkpoints: () => this.checkpoints(),
        tableRows: (spec) => this.tableRows(spec),
        tableTexts: (spec) => this.tableTexts(spec),
        checkIntegrity: () => this.checkIntegrity(),
      });
    } finally {
      if (this.db.inTransaction) this.db.exec('COMMIT');
    }
  }

  // Appending --------------------------------------------------------------------

  /**
   * ensureWriter makes this ledger the file's only writer before it writes anything: it
   * takes the writer lock (E_LOCKED while another process, or another ledger of this one,
   * writes the file) and then picks up what another writer appended since this ledger read
   * the file, so that it never numbers an entry from a stale view. Reads never take it.
   */
  private ensureWriter(): void {
    if (this.readOnly) throw new OpenlecError('E_READ_ONLY', 'this log was opened for auditing only', { field: 'db' });
    if (this.lock) return;
    if (this.path === ':memory:') {
      this.lock = 'memory';
      return;
    }
    const lock = WriterLock.acquire(this.path);
    try {
      this.catchUp();
    } catch (e) {
      lock.release();
      throw e;
    }
    this.lock = lock;
  }

  /**
   * catchUp applies to the in-memory state the entries another writer appended after this
   * ledger was opened (their projection rows are on disk already): the replay is the one
   * verify makes, rules included, without writing anything.
   */
  private catchUp(): void {
    const size = this.stmts.next.get() as number;
    if (size === this.sizeNow) return;
    if (size < this.sizeNow) throw new OpenlecError('E_STORE_SIZE', `${this.path} has ${size} entries, fewer than the ${this.sizeNow} this process read from it`, { field: 'db' });
    const mark = this.state.mark();
    let entry = this.sizeNow;
    try {
      for (const { bytes } of this.entries(this.sizeNow, size)) applyEntry(this.state, this.registry, decodeEntry(bytes), entry++);
      if (entry !== size) throw new OpenlecError('E_STORE_ENTRY', `entry ${entry} is missing`, { field: 'db' });
    } catch (e) {
      this.state.rollback(mark);
      this.state.takeDirty();
      throw new OpenlecError('E_STORE_CATCH_UP', `${this.path}: entry ${entry}, appended by another writer, does not replay on this process's state: ${(e as Error).message}`, { field: 'db', cause: e });
    }
    this.state.takeDirty();
    this.state.forget();
    this.sizeNow = size;
    this.loadFrontier();
  }

  /**
   * submit queues one signed transaction; it resolves once the entry is durable, or with
   * the reason it was refused. `admission.now` is the time the server vouches for: the
   * time rules are judged at it too (applyEntry).
   */
  submit(input: SubmitInput, admission: { now?: number } = {}): Promise<SubmitResult> {
    if (this.readOnly) return Promise.resolve({ ok: false, error: new OpenlecError('E_READ_ONLY', 'this log was opened for auditing only', { field: 'db' }) });
    return new Promise((resolve) => {
      this.queue.push({ input, resolve, ...(admission.now === undefined ? {} : { now: admission.now }) });
      this.kick();
    });
  }

  // The loop starts on the next turn of the event loop, so that a caller submitting many
  // transactions in a row fills one batch, and restarts if items arrived as it ended.
  private kick(): void {
    if (this.running) return;
    this.running = new Promise<void>((r) => setImmediate(r))
      .then(() => this.run())
      .finally(() => {
        this.running = undefined;
        if (this.queue.length > 0) this.kick();
      });
  }

  /** submitMany queues transactions in order and waits for all of them. */
  submitMany(inputs: readonly SubmitInput[]): Promise<SubmitResult[]> {
    return Promise.all(inputs.map((i) => this.submit(i)));
  }

  /**
   * submitAtomic appends all the transactions or none: the first refusal rolls the whole
   * set back (SQLite and state) and is thrown, naming its position. For imports, where a
   * file is recorded whole or not at all. It waits for queued submissions first, and
   * submissions that arrive meanwhile wait for it.
   *
   * `inputs` may be any iterable, such as a generator that signs as it goes: a set larger
   * than one chunk is decoded, checked and applied a chunk at a time inside a single
   * SQLite transaction, so memory holds one chunk of transactions, not the whole set
   * (a year of a meter fleet is tens of thousands of them). `onProgress` is told how many
   * have been applied. `now`, as submit's `admission.now`, is the time the server vouches
   * for: the time rules of every transaction of the set are judged at it (applyEntry);
   * without it, at each transaction's issuedAt (the CLI's imports, replay).
   */
  async submitAtomic(inputs: Iterable<SubmitInput>, options: AtomicOptions = {}): Promise<number[]> {
    if (this.readOnly) throw new OpenlecError('E_READ_ONLY', 'this log was opened for auditing only', { field: 'db' });
    // Take the writer's turn: no batch of the queue may commit while this set is open.
    while (this.running) await this.running;
    const work = this.appendAtomically(inputs, options.chunk ?? ATOMIC_CHUNK, options.onProgress, options.now);
    this.running = work.then(
      () => {},
      () => {},
    ).finally(() => {
      this.running = undefined;
      if (this.queue.length > 0) this.kick();
    });
    try {
      return await work;
    } catch (e) {
      throw asOpenlecError(e);
    }
  }

  private async appendAtomically(inputs: Iterable<SubmitInput>, chunk: number, onProgress?: (applied: number) => void, now?: number): Promise<number[]> {
    const entries: number[] = [];
    const iterator = inputs[Symbol.iterator]();
    let k = 0;
    const total = Array.isArray(inputs) ? ` of ${inputs.length}` : '';
    const at = (e: OpenlecError, index: number) =>
      new OpenlecError(e.code, `transaction ${index + 1}${total}: ${e.message}`, { field: e.field, details: { ...e.details, index } });
    const nextChunk = (): Queued[] => {
      const items: Queued[] = [];
      while (items.length < chunk) {
        const r = iterator.next();
        if (r.done) break;
        items.push({ input: r.value, resolve: () => {} });
      }
      return items;
    };
    const applyChunk = (batch: Prepared, signaturesOk: boolean[]) => {
      let s = 0;
      for (const d of batch.decoded) {
        if (d instanceof OpenlecError) throw at(d, k);
        if (!signaturesOk[s++]) throw at(signatureRefused(), k);
        try {
          applyEntry(this.state, this.registry, d, this.sizeNow, { now });
        } catch (e) {
          throw at(asOpenlecError(e), k);
        }
        this.appendLeaf(d.bytes);
        entries.push(this.sizeNow - 1);
        k++;
      }
    };
    const first = this.prepare(nextChunk());
    const firstOk = await first.signaturesOk;
    const more = nextChunk();
    if (more.length === 0) {
      // One chunk: one synchronous SQLite transaction, as for a batch of the queue.
      this.writeAtomically(() => applyChunk(first, firstOk));
      onProgress?.(k);
      return entries;
    }
    // Several chunks: one SQLite transaction held open across the signature checks; the
    // writer's turn (this.running) keeps every other write of this connection out of it.
    this.ensureWriter();
    const startMark = this.state.mark();
    const startSize = this.sizeNow;
    this.db.exec('BEGIN IMMEDIATE');
    try {
      let batch: Prepared | undefined = first;
      let ok = firstOk;
      let pending: Queued[] = more;
      while (batch) {
        // Check the next chunk's signatures on the workers while this one is applied.
        const next = pending.length > 0 ? this.prepare(pending) : undefined;
        applyChunk(batch, ok);
        this.writeProjections();
        this.pruneRecent();
        onProgress?.(k);
        batch = next;
        if (next) {
          ok = await next.signaturesOk;
          pending = nextChunk();
        }
      }
      this.db.exec('COMMIT');
    } catch (e) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      this.state.rollback(startMark);
      this.state.takeDirty();
      this.sizeNow = startSize;
      this.recent.clear();
      this.loadFrontier();
      throw e;
    }
    this.state.forget();
    this.pruneRecent();
    return entries;
  }

  /**
   * writeAtomically runs `append` (state changes and appended entries) and writes the
   * projections in one SQLite transaction. If anything throws, SQLite rolls back and the
   * same writes are undone in memory, so the store and the state never part.
   */
  private writeAtomically(append: () => void): void {
    this.ensureWriter();
    const startMark = this.state.mark();
    const startSize = this.sizeNow;
    try {
      this.db.transaction(() => {
        append();
        this.writeProjections();
      })();
    } catch (e) {
      this.state.rollback(startMark);
      this.state.takeDirty();
      this.sizeNow = startSize;
      this.loadFrontier();
      throw e;
    }
    this.state.forget();
    this.pruneRecent();
  }

  /** Batches are pipelined: the signatures of batch k+1 are checked on worker threads while batch k is applied and committed. */
  private async run(): Promise<void> {
    let inflight: Prepared | undefined;
    while (this.queue.length > 0 || inflight) {
      const next = this.queue.length > 0 ? this.prepare(this.queue.splice(0, this.maxBatch)) : undefined;
      if (inflight) this.commit(inflight, await inflight.signaturesOk);
      inflight = next;
    }
  }

  private prepare(items: Queued[]): Prepared {
    return prepareBatch(items, this.signatures);
  }

  private commit(batch: Prepared, signaturesOk: boolean[]): void {
    let results: SubmitResult[] = [];
    try {
      this.writeAtomically(() => {
        results = applyBatch(batch, signaturesOk, (d, now) => applyEntry(this.state, this.registry, d, this.sizeNow, { now }), (d) => {
          this.appendLeaf(d.bytes);
          return this.sizeNow - 1;
        });
      });
    } catch (e) {
      const error = storeFailure(e);
      for (const q of batch.items) q.resolve({ ok: false, error });
      return;
    }
    batch.items.forEach((q, i) => q.resolve(results[i]!));
  }

  private appendLeaf(bytes: Uint8Array): void {
    const n = this.sizeNow;
    const hashes = storedHashesForLeaf(n, leafHash(bytes), this);
    let index = storedHashCount(n);
    for (const h of hashes) this.recent.set(index++, h);
    this.stmts.insertEntry.run(n, bytes, hashes.length === 1 ? hashes[0]! : concatBytes(...hashes));
    this.sizeNow = n + 1;
  }

  private pruneRecent(): void {
    const keep = new Set(frontierIndexes(this.sizeNow));
    for (const i of this.recent.keys()) if (!keep.has(i)) this.recent.delete(i);
  }

  private writeProjections(): void {
    for (const [table, keys] of this.state.takeDirty()) {
      const spec = this.state.spec(table);
      const upsert = this.upserts.get(table)!;
      for (const key of keys) {
        // Each JSON column's canonical text, the other columns' values (a compact row's taken as they are kept).
        const values = this.state.columnValues(table, key);
        if (values) {
          upsert.run(values);
        } else {
          const parts = spec.primaryKey.length === 1 ? [key] : key.split('\u001f');
          this.deletes.get(table)!.run(spec.primaryKey.map((c, i) => (spec.columns[c] === 'integer' ? Number(parts[i]) : parts[i])));
        }
      }
    }
  }

  // Checkpoints and proofs -----------------------------------------------------------

  /** origin is the checkpoint origin line: the community id. */
  origin(): string {
    const c = community(this.state);
    if (!c) throw new OpenlecError('E_NO_COMMUNITY', 'the log has no community yet', { field: 'db' });
    return c.id;
  }

  /** operatorVerifierKey is the C2SP verifier key of the operator, which signs checkpoints. */
  operatorVerifierKey(): string {
    const c = community(this.state);
    if (!c) throw new OpenlecError('E_NO_COMMUNITY', 'the log has no community yet', { field: 'db' });
    return formatVerifierKey(c.id, decodeKey(c.operator));
  }

  /** root returns the tree root at `size` (default: now). */
  root(size = this.sizeNow): Hash {
    this.assertSize(size);
    return treeHash(size, this);
  }

  /** checkpoint signs and stores a checkpoint of the current tree with the operator's key. */
  checkpoint(signer: Omit<NoteSigner, 'name'>): { checkpoint: Checkpoint; note: string } {
    const origin = this.origin();
    this.ensureWriter();
    if (encodeKey(signer.publicKey) !== community(this.state)!.operator) {
      throw new OpenlecError('E_NOT_OPERATOR', 'checkpoints are signed by the operator key of the community', { field: 'key' });
    }
    const checkpoint: Checkpoint = { origin, size: this.sizeNow, root: this.root(), extensions: [] };
    const note = signCheckpoint(checkpoint, { ...signer, name: origin });
    this.stmts.insertCheckpoint.run(checkpoint.size, note);
    return { checkpoint, note };
  }

  /**
   * storeCheckpoint keeps a checkpoint signed elsewhere (a replica keeps the operator's):
   * its signature must verify under the log's operator key and its root must be this
   * log's root at that size.
   */
  storeCheckpoint(note: string): Checkpoint {
    this.ensureWriter();
    const c = openCheckpoint(note, parseVerifierKey(this.operatorVerifierKey()), this.origin());
    if (c.size > this.sizeNow) throw new OpenlecError('E_TREE_SIZE', `checkpoint of size ${c.size} is beyond the log's ${this.sizeNow} entries`, { field: 'size' });
    if (!equalBytes(this.root(c.size), c.root)) throw new OpenlecError('E_CHECKPOINT_ROOT', `checkpoint of size ${c.size} does not have this log's root`, { field: 'root' });
    this.stmts.insertCheckpoint.run(c.size, note);
    return c;
  }

  /** rootAfter is the root the tree would have with these entries appended; nothing is written. */
  rootAfter(entries: readonly Uint8Array[]): Hash {
    const overlay = new Map<number, Hash>();
    const reader = { readHashes: (indexes: readonly number[]) => indexes.map((i) => overlay.get(i) ?? this.readHashes([i])[0]!) };
    let n = this.sizeNow;
    for (const bytes of entries) {
      let index = storedHashCount(n);
      for (const h of storedHashesForLeaf(n, leafHash(bytes), reader)) overlay.set(index++, h);
      n++;
    }
    return treeHash(n, reader);
  }

  /** addCosignature keeps a witness's cosignature line of a stored checkpoint (checked by the caller). */
  addCosignature(size: number, witness: string, line: string): void {
    this.ensureWriter();
    this.stmts.insertCosignature.run(size, witness, line);
  }

  cosignatures(size: number): { witness: string; line: string }[] {
    return this.stmts.cosignatures.all(size) as { witness: string; line: string }[];
  }

  /** cosignatureCounts: how many witnesses cosigned each checkpoint that has cosignatures, in one query. */
  cosignatureCounts(): Map<number, number> {
    return new Map((this.stmts.cosignatureCounts.all() as { size: number; n: number }[]).map((r) => [r.size, r.n]));
  }

  /** newestCheckpoint returns the newest stored checkpoint with at least `quorum` cosignatures (and above `after`, when given). */
  newestCheckpoint(quorum: number, after = -1): StoredCheckpoint | undefined {
    const counts = quorum > 0 ? this.cosignatureCounts() : undefined;
    return this.checkpoints().reverse().find((c) => c.size > after && (counts?.get(c.size) ?? 0) >= quorum);
  }

  /** latestCheckpoint returns the newest stored checkpoint, verified. */
  latestCheckpoint(): { checkpoint: Checkpoint; note: string } | undefined {
    const all = this.checkpoints();
    const last = all[all.length - 1];
    if (!last) return undefined;
    return { checkpoint: openCheckpoint(last.note, parseVerifierKey(this.operatorVerifierKey()), this.origin()), note: last.note };
  }

  proveInclusion(entry: number, size = this.sizeNow): Hash[] {
    this.assertSize(size);
    return proveInclusion(entry, size, this);
  }

  proveConsistency(from: number, to = this.sizeNow): Hash[] {
    this.assertSize(to);
    return proveConsistency(from, to, this);
  }

  private assertSize(size: number): void {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.sizeNow) {
      throw new OpenlecError('E_TREE_SIZE', `tree size ${size} is beyond the log's ${this.sizeNow} entries`, { field: 'size' });
    }
  }

  async close(): Promise<void> {
    await this.running;
    await this.signatures.close();
    this.db.close();
    if (this.lock !== 'memory') this.lock?.release();
  }
}

export { asOpenlecError } from './batch.ts';
