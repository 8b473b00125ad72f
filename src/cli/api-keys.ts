import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { API_KEY_ID, type ApiKeyMaterial, type ApiKeyRow, apiKey, apiKeysOf, makeApiKey, MAX_KEY_DAYS, MAX_OVERLAP_SECONDS, REVOKE_REASONS } from '../access/api-keys.ts';
import { community } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import { ROLES, type Role } from '../state/registry.ts';
import { apiKeyView, type ApiKeyView } from '../server/api-key-routes.ts';
import { formatInstant } from '../units/index.ts';
import { participantKey } from './certificates.ts';
import { defaultKeyPath, withLedger } from './commands.ts';
import { append, type Shown, type Signing } from './flex.ts';
import { table } from './output.ts';

/**
 * `openlec apikey`: an organisation's API keys for its machines (src/access/api-keys.ts).
 * `issue` and `rotate` make the secret here, write the bearer (`olk_<id>_<secret>`) to a
 * file of mode 0600 that is never overwritten, and only then sign the transaction, which
 * carries the secret's digest; a refused transaction removes the file again.
 */
const usage = (option: string, message: string) => new OpenlecError('E_USAGE', `--${option} ${message}`, { field: option });

function whole(v: string | undefined, option: string, min: number, max: number): number {
  const s = String(v ?? '').trim();
  if (!/^\d+$/.test(s) || Number(s) < min || Number(s) > max) throw usage(option, `must be a whole number from ${min} to ${max} (got "${s}")`);
  return Number(s);
}

function roleList(v: string | undefined): Role[] {
  const roles = String(v ?? '').split(',').map((r) => r.trim()).filter(Boolean);
  const bad = roles.filter((r) => !(ROLES as readonly string[]).includes(r));
  if (!roles.length || bad.length) throw usage('roles', `takes a comma-separated list of ${ROLES.join(', ')} (got "${v ?? ''}")`);
  return [...new Set(roles)] as Role[];
}

function keyId(v: string | undefined): string {
  if (!API_KEY_ID.test(v ?? '')) throw usage('id', `must be an API key id, 16 lower-case hex digits (got "${v ?? ''}")`);
  return v!;
}

/** writeKeyFile writes the bearer to a new file (mode 0600), synced; refuses an existing file. */
function writeKeyFile(path: string, k: ApiKeyMaterial): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw usage('out', `${path} exists already; an API key file is never overwritten`);
    throw e;
  }
  try {
    writeSync(fd, `${k.token}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** withKeyFile writes a new key's file, then runs the signing; a failure removes the file. */
async function withKeyFile<T>(db: string, out: string | undefined, run: (k: ApiKeyMaterial) => Promise<T>): Promise<{ k: ApiKeyMaterial; result: T }> {
  if (!out) throw usage('out', 'is required: the file the key is written to (mode 0600), for the machine that will use it');
  // The digest is bound to the community: the key is of this log only.
  const id = await withLedger(db, (l) => community(l.state)?.id);
  if (!id) throw new OpenlecError('E_NO_COMMUNITY', 'the log has no community yet', { field: 'db' });
  const k = makeApiKey(id, randomBytes(8), randomBytes(32));
  writeKeyFile(out, k);
  try {
    return { k, result: await run(k) };
  } catch (e) {
    try {
      unlinkSync(out);
    } catch {
      // The refusal matters more than a file that could not be removed.
    }
    throw e;
  }
}

const expiry = (atMs: number, days: number) => formatInstant(atMs + days * 86_400_000);

export async function issueApiKey(o: Signing & { roles: string; days?: string; out?: string }): Promise<Shown> {
  const roles = roleList(o.roles);
  const days = whole(o.days ?? '365', 'days', 1, MAX_KEY_DAYS);
  const { k, result: r } = await withKeyFile(o.db, o.out, (k) => append(o, defaultKeyPath(o.db), 'apikey.issue', (_s, atMs) => ({ id: k.id, digest: k.digest, roles, expiresAt: expiry(atMs, days) })));
  return {
    json: { entry: r.entry, id: k.id, owner: r.actor, roles, expiresAt: r.body.expiresAt, file: o.out },
    text: `API key ${k.id} issued in entry ${r.entry} for ${r.actor.slice(0, 10)}… (${roles.join(', ')}), valid until ${r.body.expiresAt}; the key is in ${o.out}: send it as "Authorization: Bearer <key>"`,
  };
}

export async function rotateApiKey(o: Signing & { id: string; days?: string; overlap?: string; out?: string }): Promise<Shown> {
  const id = keyId(o.id);
  const days = whole(o.days ?? '365', 'days', 1, MAX_KEY_DAYS);
  const overlapSeconds = whole(o.overlap ?? '86400', 'overlap', 0, MAX_OVERLAP_SECONDS);
  let oldExpires = Infinity;
  const { k, result: r } = await withKeyFile(o.db, o.out, (k) => append(o, defaultKeyPath(o.db), 'apikey.rotate', (state, atMs) => {
    const old = apiKey(state, id);
    if (!old) throw usage('id', `names no API key of this log (${id})`);
    oldExpires = Date.parse(old.expiresAt);
    return { id, next: { id: k.id, digest: k.digest, roles: old.roles, expiresAt: expiry(atMs, days) }, overlapSeconds };
  }));
  const oldUntil = formatInstant(Math.min(oldExpires, Date.parse(r.issuedAt) + overlapSeconds * 1000));
  return {
    json: { entry: r.entry, id: k.id, replaces: id, roles: r.body.next.roles, expiresAt: r.body.next.expiresAt, oldKeyUntil: oldUntil, file: o.out },
    text: `API key ${id} rotated to ${k.id} in entry ${r.entry}: the new key (in ${o.out}) is valid until ${r.body.next.expiresAt}; the old one works until ${oldUntil}`,
  };
}

export async function revokeApiKey(o: Signing & { id: string; reason?: string }): Promise<Shown> {
  const id = keyId(o.id);
  const reason = o.reason ?? 'retired';
  if (!(REVOKE_REASONS as readonly string[]).includes(reason)) throw usage('reason', `must be one of ${REVOKE_REASONS.join(', ')} (got "${reason}")`);
  const r = await append(o, defaultKeyPath(o.db), 'apikey.revoke', () => ({ id, reason }));
  return { json: { entry: r.entry, id, reason, revokedBy: r.actor }, text: `API key ${id} revoked in entry ${r.entry} (${reason}): the server refuses it from now on` };
}

export function listApiKeys(o: { db: string; owner?: string }): Promise<Shown<{ keys: ApiKeyView[] }>> {
  const owner = o.owner === undefined ? undefined : participantKey(o.owner, 'owner');
  return withLedger(o.db, (l) => {
    const now = Date.now();
    const rows = owner !== undefined ? apiKeysOf(l.state, owner) : ([...l.state.rows('api_keys')] as ApiKeyRow[]).sort((a, b) => a.entry - b.entry);
    const keys = rows.map((r) => apiKeyView(r, now));
    const text = keys.length
      ? table(keys.map((k) => [k.id, `${k.owner.slice(0, 10)}…`, k.roles.join(','), k.status, k.expiresAt, k.replacedBy ?? '', k.revokedAt ? `${k.reason} (entry ${k.revokedEntry})` : '', k.entry]), ['id', 'owner', 'roles', 'status', 'expires', 'rotated to', 'revoked', 'entry'])
      : 'no API keys in this log';
    return { json: { keys }, text };
  });
}
