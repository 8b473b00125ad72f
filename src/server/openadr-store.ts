import Database from 'better-sqlite3';
import { OpenlecError } from '../errors.ts';

/**
 * OpenAdrStore keeps what the VTN holds off the log: programs a BL created, VENs and their
 * resources, reports and subscriptions. None of it is a rule of the community (events are
 * the log's flex.request entries; settlement rests on the DSO's meter data in the log), so
 * none of it is signed or replayed. It lives in its own SQLite file beside the log, like
 * the personal vault: reports carry members' usage, which must not travel with copies of
 * the log. Writes are durable (WAL, synchronous=FULL) and each is one SQLite transaction.
 */
export type StoredKind = 'program' | 'ven' | 'resource' | 'report' | 'subscription';

export interface Stored {
  kind: StoredKind;
  id: string;
  /** The VEN of a resource; '' otherwise. */
  parent: string;
  /** The name unique within (kind, parent): programName, venName, resourceName; null when none must be unique. */
  name: string | null;
  /** The participant key that created it. */
  owner: string;
  /** The program it belongs to (reports, subscriptions), null otherwise. */
  program: string | null;
  /** The full OpenADR object as served. */
  object: Record<string, unknown>;
}

const UNIQUE = /UNIQUE constraint failed/;

export class OpenAdrStore {
  private constructor(private readonly db: Database.Database) {}

  static open(path: string): OpenAdrStore {
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec(`CREATE TABLE IF NOT EXISTS oadr_objects (
        kind TEXT NOT NULL, id TEXT NOT NULL, parent TEXT NOT NULL, name TEXT, owner TEXT NOT NULL, program TEXT, object TEXT NOT NULL,
        PRIMARY KEY (kind, id)) STRICT;
      CREATE UNIQUE INDEX IF NOT EXISTS oadr_names ON oadr_objects (kind, parent, name) WHERE name IS NOT NULL;
      CREATE INDEX IF NOT EXISTS oadr_parents ON oadr_objects (kind, parent);`);
    return new OpenAdrStore(db);
  }

  list(kind: StoredKind, parent?: string): Stored[] {
    const rows = parent === undefined
      ? this.db.prepare('SELECT * FROM oadr_objects WHERE kind = ? ORDER BY rowid').all(kind)
      : this.db.prepare('SELECT * FROM oadr_objects WHERE kind = ? AND parent = ? ORDER BY rowid').all(kind, parent);
    return (rows as Row[]).map(fromRow);
  }

  get(kind: StoredKind, id: string): Stored | undefined {
    const row = this.db.prepare('SELECT * FROM oadr_objects WHERE kind = ? AND id = ?').get(kind, id) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  /** put inserts or replaces objects in one transaction; a name taken by another object of the kind is E_<KIND>_EXISTS (409). */
  put(...objects: Stored[]): void {
    const upsert = this.db.prepare(`INSERT INTO oadr_objects (kind, id, parent, name, owner, program, object) VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (kind, id) DO UPDATE SET parent = excluded.parent, name = excluded.name, owner = excluded.owner, program = excluded.program, object = excluded.object`);
    let current: Stored | undefined;
    try {
      this.db.transaction(() => {
        for (const o of objects) {
          current = o;
          upsert.run(o.kind, o.id, o.parent, o.name, o.owner, o.program, JSON.stringify(o.object));
        }
      })();
    } catch (e) {
      if (!UNIQUE.test((e as Error).message) || !current) throw e;
      throw new OpenlecError(`E_${current.kind.toUpperCase()}_EXISTS`, `a ${current.kind} named "${current.name}" exists already`, { field: `body.${current.kind}Name` });
    }
  }

  /** remove deletes an object and its children (a VEN's resources), in one transaction. */
  remove(kind: StoredKind, id: string): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM oadr_objects WHERE kind = ? AND id = ?').run(kind, id);
      if (kind === 'ven') this.db.prepare("DELETE FROM oadr_objects WHERE kind = 'resource' AND parent = ?").run(id);
    })();
  }

  close(): void {
    this.db.close();
  }
}

interface Row { kind: StoredKind; id: string; parent: string; name: string | null; owner: string; program: string | null; object: string }

function fromRow(r: Row): Stored {
  return { kind: r.kind, id: r.id, parent: r.parent, name: r.name, owner: r.owner, program: r.program, object: JSON.parse(r.object) as Record<string, unknown> };
}
