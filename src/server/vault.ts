import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { z } from 'zod';
import { OpenlecError } from '../errors.ts';

/**
 * PersonalVault keeps personal data (name, address, e-mail, contract) outside the log,
 * encrypted with one data key per person (AES-256-GCM). Each data key is itself stored
 * wrapped under the server's master key. Erasure deletes the person's data key: the
 * ciphertext that remains (here, in copies and in backups) can no longer be read, and the
 * log, which never held personal data, still verifies. Writes are durable
 * (WAL, synchronous=FULL) and each is one SQLite transaction.
 */
export const personalDataSchema = z.strictObject({
  name: z.string().max(200).optional(),
  address: z.string().max(500).optional(),
  email: z.email().max(254).optional(),
  contract: z.string().max(200).optional(),
});
export type PersonalData = z.infer<typeof personalDataSchema>;

export class PersonalVault {
  private constructor(private readonly db: Database.Database, private readonly masterKey: Buffer) {}

  static open(path: string, masterKey: Uint8Array): PersonalVault {
    if (masterKey.length !== 32) throw new OpenlecError('E_BAD_KEY', 'the vault master key is 32 bytes', { field: 'masterKey' });
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec(`CREATE TABLE IF NOT EXISTS data_keys (subject TEXT PRIMARY KEY, wrapped BLOB NOT NULL) STRICT;
      CREATE TABLE IF NOT EXISTS personal (subject TEXT PRIMARY KEY, sealed BLOB NOT NULL) STRICT;
      CREATE TABLE IF NOT EXISTS erasures (subject TEXT PRIMARY KEY, at TEXT NOT NULL) STRICT;`);
    return new PersonalVault(db, Buffer.from(masterKey));
  }

  /** put stores a person's data, creating their data key on first use. Refused after erasure. */
  put(subject: string, data: PersonalData, now: string): void {
    personalDataSchema.parse(data);
    this.db.transaction(() => {
      if (this.db.prepare('SELECT 1 FROM erasures WHERE subject = ?').get(subject)) {
        throw new OpenlecError('E_ERASED', `the personal data of ${subject} was erased on request; register a new key to start again`, { field: 'key' });
      }
      let row = this.db.prepare('SELECT wrapped FROM data_keys WHERE subject = ?').get(subject) as { wrapped: Buffer } | undefined;
      if (!row) {
        row = { wrapped: seal(this.masterKey, randomBytes(32)) };
        this.db.prepare('INSERT INTO data_keys (subject, wrapped) VALUES (?, ?)').run(subject, row.wrapped);
      }
      const dataKey = open(this.masterKey, row.wrapped);
      this.db.prepare('INSERT INTO personal (subject, sealed) VALUES (?, ?) ON CONFLICT (subject) DO UPDATE SET sealed = excluded.sealed')
        .run(subject, seal(dataKey, Buffer.from(JSON.stringify({ ...data, updatedAt: now }))));
    })();
  }

  /** get returns the person's data, or null when there is none or it was erased. */
  get(subject: string): (PersonalData & { updatedAt: string }) | null {
    const key = this.db.prepare('SELECT wrapped FROM data_keys WHERE subject = ?').get(subject) as { wrapped: Buffer } | undefined;
    const data = this.db.prepare('SELECT sealed FROM personal WHERE subject = ?').get(subject) as { sealed: Buffer } | undefined;
    if (!key || !data) return null;
    return JSON.parse(open(open(this.masterKey, key.wrapped), data.sealed).toString('utf8'));
  }

  /** erase deletes the person's data key (crypto-shredding) and records when. */
  erase(subject: string, now: string): boolean {
    return this.db.transaction(() => {
      const had = this.db.prepare('DELETE FROM data_keys WHERE subject = ?').run(subject).changes > 0;
      this.db.prepare('INSERT OR IGNORE INTO erasures (subject, at) VALUES (?, ?)').run(subject, now);
      return had;
    })();
  }

  erasedAt(subject: string): string | null {
    return (this.db.prepare('SELECT at FROM erasures WHERE subject = ?').get(subject) as { at: string } | undefined)?.at ?? null;
  }

  /** sealed returns the stored ciphertext (what a backup would hold), for tests and audits. */
  sealed(subject: string): Buffer | null {
    return (this.db.prepare('SELECT sealed FROM personal WHERE subject = ?').get(subject) as { sealed: Buffer } | undefined)?.sealed ?? null;
  }

  close(): void {
    this.db.close();
  }
}

/** seal: AES-256-GCM, 12-byte random nonce ‖ ciphertext ‖ 16-byte tag. */
function seal(key: Buffer, plain: Buffer): Buffer {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([c.update(plain), c.final()]);
  return Buffer.concat([iv, body, c.getAuthTag()]);
}

function open(key: Buffer, sealed: Buffer): Buffer {
  const d = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12));
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  return Buffer.concat([d.update(sealed.subarray(12, sealed.length - 16)), d.final()]);
}
