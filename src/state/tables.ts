import { invariant } from '../errors.ts';

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
}

/** rowKey is the in-memory key of a row: its primary-key values joined by U+001F. */
export function rowKey(spec: TableSpec, row: Row): string {
  return spec.primaryKey.length === 1 ? String(row[spec.primaryKey[0]!]) : spec.primaryKey.map((c) => String(row[c])).join('\u001f');
}

interface JournalEntry {
  readonly table: string;
  readonly key: string;
  readonly before: Row | undefined;
}

/**
 * State holds every projection table in memory. Writes are journaled so that a
 * transaction (or a whole batch) that fails halfway is rolled back exactly, and the
 * keys written since the last `takeDirty()` are tracked for the store to persist.
 */
export class State {
  readonly specs: ReadonlyMap<string, TableSpec>;
  private readonly tables = new Map<string, Map<string, Row>>();
  /** Secondary indexes, for each single-column entry of a spec's `indexes`: table → column → value → row keys. */
  private readonly lookups = new Map<string, Map<string, Map<Json, Set<string>>>>();
  private journal: JournalEntry[] = [];
  private dirty = new Map<string, Set<string>>();
  /** Writes so far, in all and per table: a change counter, not a count of rows. */
  private writes = 0;
  private readonly tableWrites = new Map<string, number>();

  constructor(specs: readonly TableSpec[]) {
    this.specs = new Map(specs.map((s) => [s.name, s]));
    for (const s of specs) {
      this.tables.set(s.name, new Map());
      const columns = (s.indexes ?? []).filter((i) => i.length === 1).map((i) => i[0]!);
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

  /** lookup returns the rows whose `column` equals `value`, through a secondary index declared in the table's spec. */
  lookup<R = Row>(table: string, column: string, value: Json): R[] {
    const index = this.lookups.get(table)?.get(column);
    invariant(index, `table ${table} has no index on ${column}`);
    const t = this.table(table);
    return [...(index.get(value) ?? [])].map((k) => t.get(k) as unknown as R);
  }

  /** reindex moves a row's key between index entries when it is written, rolled back or loaded. */
  private reindex(table: string, key: string, before: Row | undefined, after: Row | undefined): void {
    const columns = this.lookups.get(table);
    if (!columns) return;
    for (const [column, index] of columns) {
      if (before && before[column] === after?.[column]) continue;
      if (before) {
        const keys = index.get(before[column]!);
        keys?.delete(key);
        if (keys?.size === 0) index.delete(before[column]!);
      }
      if (after) {
        let keys = index.get(after[column]!);
        if (!keys) index.set(after[column]!, (keys = new Set()));
        keys.add(key);
      }
    }
  }

  private table(name: string): Map<string, Row> {
    const t = this.tables.get(name);
    invariant(t, `unknown table ${name}`);
    return t;
  }

  spec(name: string): TableSpec {
    const s = this.specs.get(name);
    invariant(s, `unknown table ${name}`);
    return s;
  }

  get<R extends Row = Row>(table: string, key: string): R | undefined {
    return this.table(table).get(key) as R | undefined;
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
    const before = t.get(key);
    this.journal.push({ table, key, before });
    if (row) t.set(key, row);
    else t.delete(key);
    this.reindex(table, key, before, row);
    this.touched(table);
    let keys = this.dirty.get(table);
    if (!keys) this.dirty.set(table, (keys = new Set()));
    keys.add(key);
  }

  rows(table: string): IterableIterator<Row> {
    return this.table(table).values();
  }

  count(table: string): number {
    return this.table(table).size;
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
      this.reindex(table, key, t.get(key), before);
      this.touched(table);
      if (before) t.set(key, before);
      else t.delete(key);
    }
  }

  /** forget drops the journal once the writes are durable. */
  forget(): void {
    this.journal = [];
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
      this.reindex(table, key, t.get(key), r);
      t.set(key, r);
    }
    this.touched(table);
  }
}
