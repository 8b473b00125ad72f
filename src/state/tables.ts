import { invariant } from '../errors.ts';
import { canonicalJson } from '../ledger/transaction.ts';

/**
 * Projections. Queryable state is a set of tables declared as data: each transaction
 * type writes rows through State, the SQLite adapter mirrors exactly those rows, and
 * `openlec verify` rebuilds them from the log and compares. Declaring tables as data
 * keeps the core free of SQL and lets every later domain add tables without touching
 * the store.
 */
export type ColumnKind = 'text' | 'integer' | 'json';
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type Row = Record<string, Json>;

export interface TableSpec {
  readonly name: string;
  readonly columns: Readonly<Record<string, ColumnKind>>;
  readonly primaryKey: readonly string[];
  /** Extra indexes the SQL store should create, each a list of columns. */
  readonly indexes?: readonly (readonly string[])[];
  /**
   * Rows that are large and, once written, seldom read (a device's certificates of a day,
   * an interval's trades): State keeps them as their columns' canonical JSON, deflated,
   * and inflates a row while it is being read.
   */
  readonly compact?: boolean;
}

/** rowKey is the in-memory key of a row: its primary-key values joined by U+001F. */
export function rowKey(spec: TableSpec, row: Row): string {
  return spec.primaryKey.length === 1 ? String(row[spec.primaryKey[0]!]) : spec.primaryKey.map((c) => String(row[c])).join('\u001f');
}

// Deflate in Node; in a browser (no node:zlib) compact tables keep their rows as objects.
// getBuiltinModule needs no import statement, so bundlers leave this file portable.
type NodeZlib = {
  deflateRawSync(data: string, options: { level: number }): Uint8Array;
  inflateRawSync(data: Uint8Array): { toString(): string };
};
const zlib = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule?.('node:zlib') as NodeZlib | undefined;

/**
 * A row of a compact table as State keeps it: the canonical JSON of each column (in the
 * spec's order), deflated, and the values of its indexed columns, which writes need.
 */
class Packed {
  constructor(readonly bytes: Uint8Array, readonly indexed: readonly Json[]) {}
}

type Slot = Row | Packed;

interface JournalEntry {
  readonly table: string;
  readonly key: string;
  readonly before: Slot | undefined;
}

/** A table: its rows by key and, for a compact table, its column names and the rows inflated for reading, with when they were last read. */
interface TableData {
  readonly rows: Map<string, Slot>;
  readonly columns: readonly string[];
  readonly kinds: readonly ColumnKind[];
  /** The single-column indexes' columns, in the order of Packed.indexed. */
  readonly indexed: readonly string[];
  readonly inflated: Map<string, { row: Row; generation: number }> | null;
  /** Rows written since the last forget, kept as objects until then (a rollback may drop them), with their column values once a store asked for them. */
  readonly pending: Map<string, ColumnValue[] | null>;
}

/** How many rows of a compact table a batch writes before they are packed without waiting for its commit. */
const PACK_WHILE_WRITING = 256;

/** A column as a store writes it: a JSON column's canonical text, a text or integer column's value. */
export type ColumnValue = string | number | null;

/**
 * A packed row's columns: each column's canonical JSON, or, for a text column holding a
 * string, the string itself (`raw`), which is read back without unescaping it.
 */
interface Parts {
  texts: string[];
  raw: boolean[];
}

/** frame writes parts as "<length>,s<length>,...;" (s: a raw string), then the texts one after the other. */
function frame({ texts, raw }: Parts): string {
  return `${texts.map((t, i) => (raw[i] ? `s${t.length}` : t.length)).join(',')};${texts.join('')}`;
}

function unframe(framed: string): Parts {
  const head = framed.indexOf(';');
  const parts: Parts = { texts: [], raw: [] };
  let at = head + 1;
  for (const n of framed.slice(0, head).split(',')) {
    const raw = n.startsWith('s');
    const end = at + Number(raw ? n.slice(1) : n);
    parts.texts.push(framed.slice(at, end));
    parts.raw.push(raw);
    at = end;
  }
  return parts;
}

/**
 * State holds every projection table in memory. Writes are journaled so that a
 * transaction (or a whole batch) that fails halfway is rolled back exactly, and the
 * keys written since the last `takeDirty()` are tracked for the store to persist.
 * A compact table's rows are deflated once durable (`forget()`); a row read stays inflated
 * until a whole commit has passed without reading it.
 */
export class State {
  readonly specs: ReadonlyMap<string, TableSpec>;
  private readonly tables = new Map<string, TableData>();
  /** Secondary indexes, for each single-column entry of a spec's `indexes`: table → column → value → row keys. */
  private readonly lookups = new Map<string, Map<string, Map<Json, Set<string>>>>();
  private journal: JournalEntry[] = [];
  private dirty = new Map<string, Set<string>>();
  /** Writes so far, in all and per table: a change counter, not a count of rows. */
  private writes = 0;
  private readonly tableWrites = new Map<string, number>();
  /** Counts `forget()` calls: an inflated row not read since the one before the latest is dropped. */
  private generation = 0;

  constructor(specs: readonly TableSpec[]) {
    this.specs = new Map(specs.map((s) => [s.name, s]));
    for (const s of specs) {
      const columns = (s.indexes ?? []).filter((i) => i.length === 1).map((i) => i[0]!);
      this.tables.set(s.name, { rows: new Map(), columns: Object.keys(s.columns), kinds: Object.values(s.columns), indexed: columns, inflated: s.compact && zlib ? new Map() : null, pending: new Map() });
      if (columns.length) this.lookups.set(s.name, new Map(columns.map((c) => [c, new Map()])));
    }
  }

  /**
   * revision changes whenever a row is written, rolled back or loaded, in any table but
   * those in `except`: a result computed from the other tables stays valid while it is the same.
   */
  revision(except: readonly string[] = []): number {
    return except.reduce((n, t) => n - (this.tableWrites.get(t) ?? 0), this.writes);
  }

  /** tableRevision changes whenever a row of `table` is written, rolled back or loaded. */
  tableRevision(table: string): number {
    return this.tableWrites.get(table) ?? 0;
  }

  private touched(table: string): void {
    this.writes++;
    this.tableWrites.set(table, (this.tableWrites.get(table) ?? 0) + 1);
  }

  /**
   * lookup returns the rows whose `column` equals `value`, through a secondary index declared
   * in the table's spec; like rows(), it inflates packed rows for the caller without keeping them.
   */
  lookup<R = Row>(table: string, column: string, value: Json): R[] {
    const index = this.lookups.get(table)?.get(column);
    invariant(index, `table ${table} has no index on ${column}`);
    const t = this.table(table);
    return [...(index.get(value) ?? [])].map((k) => this.read(t, k, false) as unknown as R);
  }

  /** indexValue is a row's value of an indexed column, whether the row is inflated or packed. */
  private indexValue(t: TableData, slot: Slot, column: string): Json {
    return slot instanceof Packed ? slot.indexed[t.indexed.indexOf(column)]! : slot[column]!;
  }

  /** reindex moves a row's key between index entries when it is written, rolled back or loaded. */
  private reindex(t: TableData, table: string, key: string, before: Slot | undefined, after: Slot | undefined): void {
    const columns = this.lookups.get(table);
    if (!columns) return;
    for (const [column, index] of columns) {
      const was = before && this.indexValue(t, before, column);
      const is = after && this.indexValue(t, after, column);
      if (before && after && was === is) continue;
      if (before) {
        const keys = index.get(was!);
        keys?.delete(key);
        if (keys?.size === 0) index.delete(was!);
      }
      if (after) {
        let keys = index.get(is!);
        if (!keys) index.set(is!, (keys = new Set()));
        keys.add(key);
      }
    }
  }

  private table(name: string): TableData {
    const t = this.tables.get(name);
    invariant(t, `unknown table ${name}`);
    return t;
  }

  spec(name: string): TableSpec {
    const s = this.specs.get(name);
    invariant(s, `unknown table ${name}`);
    return s;
  }

  /**
   * pack makes the slot a compact table keeps for a row: its columns' canonical texts (a
   * well-formed string of a text column as it is), deflated. `values`, when a store took
   * them, are not written again.
   */
  private pack(t: TableData, row: Row, values?: readonly ColumnValue[]): Packed {
    const parts: Parts = { texts: [], raw: [] };
    t.columns.forEach((c, i) => {
      const v = row[c];
      const raw = t.kinds[i] !== 'json' && typeof v === 'string' && v.isWellFormed();
      parts.raw.push(raw);
      parts.texts.push(raw ? (v as string) : t.kinds[i] === 'json' && values ? (values[i] as string) : canonicalJson(v));
    });
    // Level 1: a sixth of the JSON for certificates, a tenth for trades, at several hundred MB/s. The
    // copy gives the bytes an ArrayBuffer of their own rather than a view of zlib's larger chunk.
    return new Packed(new Uint8Array(zlib!.deflateRawSync(frame(parts), { level: 1 })), t.indexed.map((c) => row[c]!));
  }

  private parts(slot: Packed): Parts {
    return unframe(zlib!.inflateRawSync(slot.bytes).toString());
  }

  private inflate(t: TableData, slot: Packed): Row {
    const { texts, raw } = this.parts(slot);
    const row: Row = {};
    t.columns.forEach((c, i) => (row[c] = raw[i] ? texts[i]! : (JSON.parse(texts[i]!) as Json)));
    return row;
  }

  /** read returns a row; a packed row is inflated, and kept inflated for later reads when `keep`. */
  private read(t: TableData, key: string, keep: boolean): Row | undefined {
    const slot = t.rows.get(key);
    if (!(slot instanceof Packed)) return slot;
    const hot = t.inflated!.get(key);
    if (hot) {
      hot.generation = this.generation;
      return hot.row;
    }
    const row = this.inflate(t, slot);
    if (keep) t.inflated!.set(key, { row, generation: this.generation });
    return row;
  }

  get<R extends Row = Row>(table: string, key: string): R | undefined {
    return this.read(this.table(table), key, true) as R | undefined;
  }

  /** peek returns a row as get does, without keeping it inflated: for reading every row of a table once. */
  peek<R extends Row = Row>(table: string, key: string): R | undefined {
    return this.read(this.table(table), key, false) as R | undefined;
  }

  /** has says whether a row exists, without reading it. */
  has(table: string, key: string): boolean {
    return this.table(table).rows.has(key);
  }

  /** keys returns the keys of a table's rows, in the order rows() gives them. */
  keys(table: string): IterableIterator<string> {
    return this.table(table).rows.keys();
  }

  /** columnTexts returns the canonical JSON of each column of a row, in the spec's column order: what verify compares with a store's rows. */
  columnTexts(table: string, key: string): string[] | undefined {
    const t = this.table(table);
    const slot = t.rows.get(key);
    if (slot === undefined) return undefined;
    if (!(slot instanceof Packed)) return t.columns.map((c) => canonicalJson(slot[c]));
    const { texts, raw } = this.parts(slot);
    return texts.map((x, i) => (raw[i] ? JSON.stringify(x) : x));
  }

  /**
   * columnValues returns a row as a store writes it, in the spec's column order: each JSON
   * column's canonical text, the other columns' values; a compact row's are taken as they are.
   */
  columnValues(table: string, key: string): ColumnValue[] | undefined {
    const t = this.table(table);
    const slot = t.rows.get(key);
    if (slot === undefined) return undefined;
    if (slot instanceof Packed) {
      const { texts, raw } = this.parts(slot);
      return texts.map((x, i) => (raw[i] || t.kinds[i] === 'json' ? x : (JSON.parse(x) as ColumnValue)));
    }
    const values = t.columns.map((c, i) => (t.kinds[i] === 'json' ? canonicalJson(slot[c]) : (slot[c] as ColumnValue)));
    // A row waiting to be packed is packed from these texts, not written again.
    if (t.pending.has(key)) t.pending.set(key, values);
    return values;
  }

  /** put inserts or replaces a row; every declared column must be present. */
  put(table: string, row: Row): void {
    const spec = this.spec(table);
    for (const c of Object.keys(spec.columns)) invariant(c in row, `row of ${table} lacks column ${c}`);
    for (const c of Object.keys(row)) invariant(c in spec.columns, `row of ${table} has undeclared column ${c}`);
    this.write(table, rowKey(spec, row), row);
  }

  delete(table: string, key: string): void {
    this.write(table, key, undefined);
  }

  private write(table: string, key: string, row: Row | undefined): void {
    const t = this.table(table);
    const before = t.rows.get(key);
    this.journal.push({ table, key, before });
    this.set(t, key, row);
    this.reindex(t, table, key, before, row);
    // A transaction writing many rows (a month's certificates) has them packed as it goes, not held until the commit.
    if (t.pending.size > PACK_WHILE_WRITING) this.packPending(t);
    this.touched(table);
    let keys = this.dirty.get(table);
    if (!keys) this.dirty.set(table, (keys = new Set()));
    keys.add(key);
  }

  /** set puts a slot in place (or deletes the row); an inflated copy of the row it replaces is dropped, and a compact table's new row waits to be packed. */
  private set(t: TableData, key: string, slot: Slot | undefined): void {
    if (slot) t.rows.set(key, slot);
    else t.rows.delete(key);
    if (t.inflated === null) return;
    t.inflated.delete(key);
    if (slot && !(slot instanceof Packed)) t.pending.set(key, null);
    else t.pending.delete(key);
  }

  /** rows returns every row of a table; a packed one is inflated for the caller and not kept. */
  rows(table: string): IterableIterator<Row> {
    const t = this.table(table);
    return t.inflated === null ? (t.rows.values() as IterableIterator<Row>) : this.inflatedRows(t);
  }

  private *inflatedRows(t: TableData): IterableIterator<Row> {
    for (const key of t.rows.keys()) yield this.read(t, key, false)!;
  }

  count(table: string): number {
    return this.table(table).rows.size;
  }

  /** mark returns a point to roll back to. */
  mark(): number {
    return this.journal.length;
  }

  /** rollback undoes every write after `mark`. */
  rollback(mark: number): void {
    while (this.journal.length > mark) {
      const { table, key, before } = this.journal.pop()!;
      const t = this.table(table);
      this.reindex(t, table, key, t.rows.get(key), before);
      this.touched(table);
      this.set(t, key, before);
    }
  }

  /**
   * forget drops the journal once the writes are durable; in compact tables it packs the
   * rows written since, and drops the inflated rows nothing read since the previous forget.
   */
  forget(): void {
    this.journal = [];
    for (const t of this.tables.values()) {
      if (t.inflated === null) continue;
      this.packPending(t);
      for (const [key, hot] of t.inflated) if (hot.generation < this.generation) t.inflated.delete(key);
    }
    this.generation++;
  }

  /**
   * packPending packs the rows waiting for it. A row without a canonical form (NaN, a lone
   * surrogate) stays an object, as in a plain table, where the store refuses it inside its
   * transaction: packing never fails a commit, nor another transaction's write.
   */
  private packPending(t: TableData): void {
    for (const [key, values] of t.pending) {
      t.pending.delete(key);
      const row = t.rows.get(key) as Row;
      let packed: Packed | undefined;
      try {
        packed = this.pack(t, row, values ?? undefined);
      } catch {
        continue;
      }
      t.rows.set(key, packed);
    }
  }

  /** takeDirty returns the keys written since the last call, per table. */
  takeDirty(): Map<string, Set<string>> {
    const d = this.dirty;
    this.dirty = new Map();
    return d;
  }

  /** load fills a table from stored rows without journaling (opening a store). */
  load(table: string, rows: Iterable<Row>): void {
    const spec = this.spec(table);
    const t = this.table(table);
    for (const r of rows) {
      const key = rowKey(spec, r);
      const slot = t.inflated === null ? r : this.pack(t, r);
      this.reindex(t, table, key, t.rows.get(key), slot);
      this.set(t, key, slot);
    }
    this.touched(table);
  }
}
