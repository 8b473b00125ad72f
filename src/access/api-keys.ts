import { z } from 'zod';
import { community, participant } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import { API_KEY_ID, apiKeyDigest, parseApiKey } from './key-material.ts';
import { isoInstant } from '../market/configure.ts';
import { defineTx, type Role, ROLES } from '../state/registry.ts';
import type { State, TableSpec } from '../state/tables.ts';
import { formatInstant, parseInstant } from '../units/index.ts';
import { latestTime } from '../state/apply.ts';

export { API_KEY_ID, API_KEY_TOKEN, apiKeyDigest, type ApiKeyMaterial, makeApiKey, parseApiKey } from './key-material.ts';

/**
 * API keys: long-lived bearer credentials for an organisation's machines (a DSO's
 * meter-data system pushing readings every night, a supplier's billing pulling invoices)
 * that should not hold the organisation's signing key, or not log in every 15 minutes.
 *
 * A key is `olk_<id>_<secret>`: an id of 16 hex digits and 32 random bytes. The secret is
 * made where the key will be used and never travels but as the bearer of a request; the
 * log records only the owner (a participant key), the id, a digest of the secret under
 * its id, the roles the key may use (some of the owner's), its expiry, and later its
 * rotation or revocation. So issuing, rotating and revoking are signed transactions of
 * the owner like any other, every party can see which keys are live, and `openlec verify`
 * rebuilds the table. Nothing personal enters: a key has no name or label.
 *
 * A key authenticates requests only; every change of state is still a transaction signed
 * by a participant key. Validity is judged at the operator's clock when a request comes
 * in (apiKeySession); the rows hold only what the log says.
 */
export const API_KEYS_TABLE: TableSpec = {
  name: 'api_keys',
  columns: {
    id: 'text', owner: 'text', digest: 'text', roles: 'json', issuedAt: 'text', expiresAt: 'text',
    replaces: 'text', replacedBy: 'text', revokedAt: 'text', revokedBy: 'text', reason: 'text', entry: 'integer', revokedEntry: 'integer',
  },
  primaryKey: ['id'],
  indexes: [['owner']],
};

export interface ApiKeyRow {
  [column: string]: string | number | null | Role[];
  id: string;
  /** The participant the key acts for. */
  owner: string;
  /** base64url SHA-256 of `openlec-api-key\n<id>\n` and the secret's 32 bytes. */
  digest: string;
  /** The roles a request with this key has: some of the owner's, sorted. */
  roles: Role[];
  issuedAt: string;
  /** The key is refused from this instant; a rotation may bring it forward. */
  expiresAt: string;
  /** The key this one replaced (apikey.rotate), or null. */
  replaces: string | null;
  /** The key that replaced this one, or null. */
  replacedBy: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
  reason: string | null;
  entry: number;
  revokedEntry: number | null;
}

/** The longest a key may be valid when issued: a long-lived credential still gets rotated. */
export const MAX_KEY_DAYS = 400;
/** How long a rotated key may keep working beside its successor, for machines to switch over. */
export const MAX_OVERLAP_SECONDS = 7 * 86_400;
/** Keys an owner may hold at once (neither revoked nor expired at the time of a new one). */
export const MAX_LIVE_KEYS = 16;
export const REVOKE_REASONS = ['compromised', 'retired', 'superseded', 'owner-left'] as const;

const SECRET = /^[A-Za-z0-9_-]{43}$/;

const keyId = z.string().regex(API_KEY_ID, 'must be an API key id: 16 lower-case hex digits');
const digest = z.string().regex(SECRET, 'must be the key\'s digest: 43 base64url characters (SHA-256)');
const roles = z.array(z.enum(ROLES)).min(1).max(ROLES.length).refine((r) => new Set(r).size === r.length, 'roles must not repeat');
const newKey = z.strictObject({ id: keyId, digest, roles, expiresAt: isoInstant });

export function apiKey(state: State, id: string): ApiKeyRow | undefined {
  return state.get<ApiKeyRow>('api_keys', id);
}

export function apiKeysOf(state: State, owner: string): ApiKeyRow[] {
  return state.lookup<ApiKeyRow>('api_keys', 'owner', owner).sort((a, b) => a.entry - b.entry || (a.id < b.id ? -1 : 1));
}

/** liveAt: neither revoked nor expired at `ms`. */
export function liveAt(row: ApiKeyRow, ms: number): boolean {
  return row.revokedAt === null && parseInstant(row.expiresAt) > ms;
}

/**
 * issue checks a new key against the owner's state and writes its row. Time rules take
 * the stricter of issuedAt and the operator's time at admission (latestTime); the row's
 * instants come from the signed transaction only, so replay writes the same row.
 */
function issue(state: State, owner: string, body: z.infer<typeof newKey>, issuedAt: string, at: number, entry: number, replaces: string | null, field: string): void {
  if (apiKey(state, body.id)) throw new OpenlecError('E_API_KEY_EXISTS', `${field}.id: API key ${body.id} exists already (ids are never reused)`, { field: `${field}.id` });
  const p = participant(state, owner)!;
  const extra = body.roles.filter((r) => !p.roles.includes(r));
  if (extra.length) throw new OpenlecError('E_API_KEY_ROLE', `${field}.roles: the owner does not hold ${extra.join(', ')} (it holds ${p.roles.join(', ')})`, { field: `${field}.roles` });
  const expires = parseInstant(body.expiresAt, `${field}.expiresAt`);
  const issued = parseInstant(issuedAt, 'issuedAt');
  if (expires <= at) throw new OpenlecError('E_API_KEY_EXPIRY', `${field}.expiresAt: ${body.expiresAt} is not in the future (now ${formatInstant(at)})`, { field: `${field}.expiresAt` });
  if (expires > issued + MAX_KEY_DAYS * 86_400_000) throw new OpenlecError('E_API_KEY_EXPIRY', `${field}.expiresAt: a key is valid at most ${MAX_KEY_DAYS} days (until ${formatInstant(issued + MAX_KEY_DAYS * 86_400_000)}); rotate it before then`, { field: `${field}.expiresAt` });
  // A key replaced by a rotation is not counted through its overlap: a chain is one key.
  // (The owner's rows, unsorted: one row per apikey transaction it signed.)
  let live = 0;
  for (const k of state.lookup<ApiKeyRow>('api_keys', 'owner', owner)) if (k.id !== replaces && k.replacedBy === null && liveAt(k, issued)) live++;
  if (live >= MAX_LIVE_KEYS) throw new OpenlecError('E_API_KEY_LIMIT', `${field}: the owner holds ${live} live API keys, the most there may be (${MAX_LIVE_KEYS}); revoke one first`, { field });
  const row: ApiKeyRow = {
    id: body.id, owner, digest: body.digest, roles: [...body.roles].sort(), issuedAt: formatInstant(issued), expiresAt: formatInstant(expires),
    replaces, replacedBy: null, revokedAt: null, revokedBy: null, reason: null, entry, revokedEntry: null,
  };
  state.put('api_keys', row);
}

/** ownKey: the actor's live key `id`, or a refusal naming the field. */
function ownKey(state: State, actor: string, id: string, field: string, at: number): ApiKeyRow {
  const row = apiKey(state, id);
  if (!row || row.owner !== actor) throw new OpenlecError('E_API_KEY_UNKNOWN', `${field}: no API key ${id} of this actor`, { field });
  if (row.revokedAt !== null) throw new OpenlecError('E_API_KEY_REVOKED', `${field}: API key ${id} was revoked in entry ${row.revokedEntry}`, { field });
  if (parseInstant(row.expiresAt) <= at) throw new OpenlecError('E_API_KEY_EXPIRED', `${field}: API key ${id} expired at ${row.expiresAt}`, { field });
  return row;
}

/** apikey.issue (any participant): a key for the actor's own machines, with some of its roles. */
export const apiKeyIssue = defineTx({
  type: 'apikey.issue',
  roles: ROLES,
  tables: [API_KEYS_TABLE],
  body: newKey,
  apply(ctx, body) {
    issue(ctx.state, ctx.tx.actor, body, ctx.tx.issuedAt, latestTime(ctx), ctx.entry, null, 'body');
  },
});

/**
 * apikey.rotate (the key's owner): issues the next key and lets the old one work
 * `overlapSeconds` longer (0 to 7 days) after the rotation's issuedAt, so machines switch
 * over without a gap; the two rows name each other.
 */
export const apiKeyRotate = defineTx({
  type: 'apikey.rotate',
  roles: ROLES,
  tables: [API_KEYS_TABLE],
  body: z.strictObject({ id: keyId, next: newKey, overlapSeconds: z.number().int().min(0).max(MAX_OVERLAP_SECONDS) }),
  apply(ctx, body) {
    const { state, tx, entry } = ctx;
    const old = ownKey(state, tx.actor, body.id, 'body.id', latestTime(ctx));
    if (old.replacedBy !== null) throw new OpenlecError('E_API_KEY_ROTATED', `body.id: API key ${body.id} was rotated already, to ${old.replacedBy}`, { field: 'body.id' });
    issue(state, tx.actor, body.next, tx.issuedAt, latestTime(ctx), entry, old.id, 'body.next');
    const until = Math.min(parseInstant(old.expiresAt), parseInstant(tx.issuedAt) + body.overlapSeconds * 1000);
    state.put('api_keys', { ...old, expiresAt: formatInstant(until), replacedBy: body.next.id });
  },
});

/**
 * apikey.revoke: the owner revokes one of its keys, or the operator any key (a member
 * who left, a key reported stolen). Refused at once by the server once in the log.
 */
export const apiKeyRevoke = defineTx({
  type: 'apikey.revoke',
  roles: ROLES,
  tables: [API_KEYS_TABLE],
  body: z.strictObject({ id: keyId, reason: z.enum(REVOKE_REASONS) }),
  apply({ state, tx, entry }, body) {
    const row = apiKey(state, body.id);
    const operator = participant(state, tx.actor)!.roles.includes('operator');
    if (!row || (row.owner !== tx.actor && !operator)) throw new OpenlecError('E_API_KEY_UNKNOWN', `body.id: no API key ${body.id} of this actor`, { field: 'body.id' });
    if (row.revokedAt !== null) throw new OpenlecError('E_API_KEY_REVOKED', `body.id: API key ${body.id} was revoked already, in entry ${row.revokedEntry}`, { field: 'body.id' });
    state.put('api_keys', { ...row, revokedAt: formatInstant(parseInstant(tx.issuedAt, 'issuedAt')), revokedBy: tx.actor, reason: body.reason, revokedEntry: entry });
  },
});

export interface ApiKeySession {
  readonly key: string;
  readonly roles: readonly Role[];
  readonly expiresAt: number;
  readonly apiKey: string;
}

/**
 * apiKeySession authenticates a bearer API key at the operator's time `now`: a key of the
 * log, its secret matching the digest, neither revoked nor expired, its owner still a
 * participant. The roles are the key's that the owner still holds.
 */
export function apiKeySession(state: State, token: string, now: number, equal: (a: string, b: string) => boolean): ApiKeySession {
  const parsed = parseApiKey(token);
  if (!parsed) throw new OpenlecError('E_AUTH', 'not an API key: olk_<16 hex digits>_<43 base64url characters>', { field: 'authorization' });
  const row = apiKey(state, parsed.id);
  // The same answer for an unknown id and a wrong secret: an id alone proves nothing.
  const c = community(state);
  // The digest is computed whether or not the id is known: the time taken says nothing of the ids.
  const digest = apiKeyDigest(c?.id ?? '', parsed.id, parsed.secret);
  if (!row || !equal(row.digest, digest)) throw new OpenlecError('E_AUTH', `API key ${parsed.id} is not a key of this community, or its secret is wrong`, { field: 'authorization' });
  if (row.revokedAt !== null) throw new OpenlecError('E_AUTH', `API key ${row.id} was revoked in entry ${row.revokedEntry} (${row.reason})`, { field: 'authorization' });
  const expires = parseInstant(row.expiresAt);
  if (expires <= now) throw new OpenlecError('E_AUTH', `API key ${row.id} expired at ${row.expiresAt}${row.replacedBy ? `; it was rotated to ${row.replacedBy}` : ''}`, { field: 'authorization' });
  const p = participant(state, row.owner);
  const held = p ? row.roles.filter((r) => p.roles.includes(r)) : [];
  if (!held.length) throw new OpenlecError('E_AUTH', `API key ${row.id}: its owner holds none of its roles any more`, { field: 'authorization' });
  return { key: row.owner, roles: held, expiresAt: expires, apiKey: row.id };
}
