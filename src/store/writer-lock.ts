import Database from 'better-sqlite3';
import { OpenlecError } from '../errors.ts';

/** lockPath is the sibling file whose lock makes a process the writer of the log at `db`. */
export const lockPath = (db: string) => `${db}-writer`;

/**
 * WriterLock makes one ledger at a time the writer of a log file. Two writers would each
 * number the next entry from their own view of the log (the second one's appends then fail
 * on `entries.seq`, or worse). The lock is SQLite's own reserved lock on a sibling file
 * (`<db>-writer`), held in an open write transaction for as long as the writing ledger is
 * open: a second writer's BEGIN IMMEDIATE fails at once, whether it is another process or
 * another connection of this one (SQLite tracks both). It is an OS lock on a file
 * descriptor, so it dies with the process: a crash leaves no stale lock behind, and the
 * file itself holds nothing but the last holder's pid, to name it in the refusal. Readers
 * of the log never touch it.
 */
export class WriterLock {
  private constructor(private readonly db: Database.Database) {}

  /** acquire takes the lock of the log at `db`, or throws E_LOCKED naming the holder. */
  static acquire(db: string): WriterLock {
    const file = new Database(lockPath(db), { timeout: 0 });
    try {
      reserve(file, db);
      file.exec('CREATE TABLE IF NOT EXISTS writer (pid INTEGER NOT NULL) STRICT; DELETE FROM writer');
      file.prepare('INSERT INTO writer VALUES (?)').run(process.pid);
      // The pid is visible to others only once committed; whoever reserves in between wins.
      file.exec('COMMIT');
      reserve(file, db);
    } catch (e) {
      file.close();
      if (e instanceof OpenlecError) throw e;
      throw new OpenlecError('E_STORE_LOCK_FILE', `${lockPath(db)} could not be locked: ${(e as Error).message}`, { field: 'db', cause: e });
    }
    return new WriterLock(file);
  }

  /** release drops the lock (closing the connection ends its transaction). */
  release(): void {
    if (this.db.open) this.db.close();
  }
}

function reserve(file: Database.Database, db: string): void {
  try {
    file.exec('BEGIN IMMEDIATE');
  } catch (e) {
    if ((e as { code?: string }).code !== 'SQLITE_BUSY') throw e;
    throw new OpenlecError('E_LOCKED', `${db} is being written by ${holder(file)}: one process at a time writes a log (read it meanwhile with verify, log or proof, or send transactions to that process)`, { field: 'db' });
  }
}

/** holder names the lock's holder from the pid it committed; a reader may read it while the lock is held. */
function holder(file: Database.Database): string {
  let pid: number | undefined;
  try {
    pid = file.prepare('SELECT pid FROM writer').pluck().get() as number | undefined;
  } catch {
    pid = undefined; // the holder is committing its pid right now, or wrote none yet
  }
  if (pid === undefined) return 'another process';
  return pid === process.pid ? `another ledger of this process (pid ${pid})` : `another process (pid ${pid})`;
}
