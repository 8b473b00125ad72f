import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import Database from 'better-sqlite3';
import { OpenlecError } from '../errors.ts';
import { findParty, partyRef } from '../charging/tables.ts';
import type { State } from '../state/tables.ts';

/**
 * OcpiStore keeps what the OCPI interface holds off the log: the credentials tokens of
 * roaming partners (hashed), each registered eMSP's versions URL, endpoints and its own
 * token B (needed to call it), and the outbox of CDRs to push. None of it is a rule of
 * the community, so none of it is signed or replayed: it lives in its own SQLite file
 * beside the log (`<log>.ocpi.db`), like the OpenADR store. Writes are durable (WAL,
 * synchronous=FULL) and each is one SQLite transaction.
 */

/** A: the registration token the operator hands over out of band; C: the token a registered partner uses. */
export type TokenKind = 'A' | 'C';

export interface OcpiEndpoint { identifier: string; role: 'SENDER' | 'RECEIVER'; url: string }

export interface Partner {
  /** partyRef: "NL*TST". */
  party: string;
  countryCode: string;
  partyId: string;
  /** The OCPI version in use with the partner ("2.2.1"). */
  version: string;
  /** The partner's versions endpoint (from its credentials). */
  versionsUrl: string;
  /** Token B: what we send in the Authorization header when we call the partner. */
  token: string;
  endpoints: OcpiEndpoint[];
  /** The roles of the partner's credentials object, as sent. */
  roles: unknown[];
  registered: string;
  updated: string;
}

export interface OutboxItem {
  id: number;
  party: string;
  /** "FR*OLC\u001fCDR-1": the CDR's CPO and id. */
  ref: string;
  body: Record<string, unknown>;
  attempts: number;
  /** Epoch ms before which no new attempt is made. */
  nextAt: number;
  lastError: string | null;
}

export const sha256Hex = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

/** A fresh credentials token: 32 random bytes, base64url (43 printable ASCII characters, within OCPI's string(64)). */
export const newCredentialsToken = () => randomBytes(32).toString('base64url');

/** The store's file beside a log file (`<log>.ocpi.db`). */
export const ocpiStorePath = (logPath: string) => `${logPath}.ocpi.db`;

export class OcpiStore {
  private constructor(private readonly db: Database.Database) {}

  static open(path: string): OcpiStore {
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec(`CREATE TABLE IF NOT EXISTS ocpi_tokens (hash TEXT PRIMARY KEY, kind TEXT NOT NULL CHECK (kind IN ('A', 'C')), party TEXT NOT NULL, created TEXT NOT NULL) STRICT;
      CREATE INDEX IF NOT EXISTS ocpi_tokens_party ON ocpi_tokens (party);
      CREATE TABLE IF NOT EXISTS ocpi_partners (party TEXT PRIMARY KEY, country_code TEXT NOT NULL, party_id TEXT NOT NULL, version TEXT NOT NULL, versions_url TEXT NOT NULL,
        token TEXT NOT NULL, endpoints TEXT NOT NULL, roles TEXT NOT NULL, registered TEXT NOT NULL, updated TEXT NOT NULL) STRICT;
      CREATE TABLE IF NOT EXISTS ocpi_outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, party TEXT NOT NULL, ref TEXT NOT NULL, body TEXT NOT NULL, attempts INTEGER NOT NULL,
        next_at INTEGER NOT NULL, last_error TEXT, UNIQUE (party, ref)) STRICT;
      CREATE TABLE IF NOT EXISTS ocpi_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;`);
    return new OcpiStore(db);
  }

  // ---- tokens ------------------------------------------------------------------------

  /** addToken records a token by its SHA-256 only: the plain token is never stored. */
  addToken(token: string, kind: TokenKind, party: string, created: string): void {
    this.db.prepare('INSERT INTO ocpi_tokens (hash, kind, party, created) VALUES (?, ?, ?, ?)').run(sha256Hex(token), kind, party, created);
  }

  /** tokenOf: the kind and party of a presented token, or undefined; the stored and computed hashes are compared in constant time. */
  tokenOf(token: string): { kind: TokenKind; party: string } | undefined {
    const hash = sha256Hex(token);
    const row = this.db.prepare('SELECT hash, kind, party FROM ocpi_tokens WHERE hash = ?').get(hash) as { hash: string; kind: TokenKind; party: string } | undefined;
    if (!row || !timingSafeEqual(Buffer.from(row.hash, 'hex'), Buffer.from(hash, 'hex'))) return undefined;
    return { kind: row.kind, party: row.party };
  }

  /** dropTokens invalidates a party's tokens of a kind (all kinds when none is given). */
  dropTokens(party: string, kind?: TokenKind): void {
    if (kind) this.db.prepare('DELETE FROM ocpi_tokens WHERE party = ? AND kind = ?').run(party, kind);
    else this.db.prepare('DELETE FROM ocpi_tokens WHERE party = ?').run(party);
  }

  // ---- partners ----------------------------------------------------------------------

  partner(party: string): Partner | undefined {
    const r = this.db.prepare('SELECT * FROM ocpi_partners WHERE party = ?').get(party) as PartnerRow | undefined;
    return r ? fromPartnerRow(r) : undefined;
  }

  partners(): Partner[] {
    return (this.db.prepare('SELECT * FROM ocpi_partners ORDER BY party').all() as PartnerRow[]).map(fromPartnerRow);
  }

  /**
   * register stores a partner (new or updated) and its new token C in one transaction:
   * the partner's earlier tokens (A and C) stop working at the same moment.
   */
  register(p: Partner, tokenC: string): void {
    this.db.transaction(() => {
      this.db.prepare(`INSERT INTO ocpi_partners (party, country_code, party_id, version, versions_url, token, endpoints, roles, registered, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (party) DO UPDATE SET country_code = excluded.country_code, party_id = excluded.party_id, version = excluded.version, versions_url = excluded.versions_url,
        token = excluded.token, endpoints = excluded.endpoints, roles = excluded.roles, updated = excluded.updated`)
        .run(p.party, p.countryCode, p.partyId, p.version, p.versionsUrl, p.token, JSON.stringify(p.endpoints), JSON.stringify(p.roles), p.registered, p.updated);
      this.dropTokens(p.party);
      this.addToken(tokenC, 'C', p.party, p.updated);
    })();
  }

  /** unregister removes a partner, its tokens and what was waiting to be pushed to it. */
  unregister(party: string): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM ocpi_partners WHERE party = ?').run(party);
      this.db.prepare('DELETE FROM ocpi_outbox WHERE party = ?').run(party);
      this.dropTokens(party);
    })();
  }

  // ---- outbox ------------------------------------------------------------------------

  /** enqueue adds a CDR to push to a partner (once: a CDR already waiting is left as it is). */
  enqueue(party: string, ref: string, body: Record<string, unknown>, nextAt: number): void {
    this.db.prepare('INSERT INTO ocpi_outbox (party, ref, body, attempts, next_at, last_error) VALUES (?, ?, ?, 0, ?, NULL) ON CONFLICT (party, ref) DO NOTHING')
      .run(party, ref, JSON.stringify(body), nextAt);
  }

  /** due: the items whose next attempt is at or before `now`, oldest first. */
  due(now: number, limit = 100): OutboxItem[] {
    return (this.db.prepare('SELECT * FROM ocpi_outbox WHERE next_at <= ? ORDER BY id LIMIT ?').all(now, limit) as OutboxRow[]).map(fromOutboxRow);
  }

  outbox(): OutboxItem[] {
    return (this.db.prepare('SELECT * FROM ocpi_outbox ORDER BY id').all() as OutboxRow[]).map(fromOutboxRow);
  }

  delivered(id: number): void {
    this.db.prepare('DELETE FROM ocpi_outbox WHERE id = ?').run(id);
  }

  failed(id: number, nextAt: number, error: string): void {
    this.db.prepare('UPDATE ocpi_outbox SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE id = ?').run(nextAt, error.slice(0, 500), id);
  }

  // ---- meta --------------------------------------------------------------------------

  meta(key: string): string | undefined {
    return (this.db.prepare('SELECT value FROM ocpi_meta WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }

  setMeta(key: string, value: string): void {
    this.db.prepare('INSERT INTO ocpi_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  close(): void {
    this.db.close();
  }
}

/**
 * issueRegistrationToken: the operator's credentials token A for an eMSP of the log
 * (charging.party with role EMSP), to hand over out of band with the versions URL
 * (`<server>/ocpi/versions`). It is stored hashed and works once: for the versions, version
 * details and credentials endpoints only, until the eMSP registers with POST credentials.
 * Returns the plain token (shown once). `now`: the time recorded with it (ISO 8601).
 */
export function issueRegistrationToken(store: OcpiStore, party: { country_code: string; party_id: string }, state: State, now = new Date().toISOString()): string {
  const ref = partyRef(party.country_code, party.party_id);
  if (!/^[A-Z]{2}\*[A-Z0-9]{3}$/.test(ref)) throw new OpenlecError('E_BAD_PARTY', `${ref} is not an OCPI country code and party id`, { field: 'party_id' });
  if (!findParty(state, ref, 'EMSP')) throw new OpenlecError('E_UNKNOWN_PARTY', `${ref} is not a registered eMSP of the log (charging.party with role EMSP)`, { field: 'party_id' });
  const token = newCredentialsToken();
  store.addToken(token, 'A', ref, now);
  return token;
}

interface PartnerRow { party: string; country_code: string; party_id: string; version: string; versions_url: string; token: string; endpoints: string; roles: string; registered: string; updated: string }
interface OutboxRow { id: number; party: string; ref: string; body: string; attempts: number; next_at: number; last_error: string | null }

function fromPartnerRow(r: PartnerRow): Partner {
  return {
    party: r.party, countryCode: r.country_code, partyId: r.party_id, version: r.version, versionsUrl: r.versions_url, token: r.token,
    endpoints: JSON.parse(r.endpoints) as OcpiEndpoint[], roles: JSON.parse(r.roles) as unknown[], registered: r.registered, updated: r.updated,
  };
}

function fromOutboxRow(r: OutboxRow): OutboxItem {
  return { id: r.id, party: r.party, ref: r.ref, body: JSON.parse(r.body) as Record<string, unknown>, attempts: r.attempts, nextAt: r.next_at, lastError: r.last_error };
}
