import { z } from 'zod';
import { API_KEY_ID, type ApiKeyRow, apiKey, apiKeysOf, liveAt, REVOKE_REASONS } from '../access/api-keys.ts';
import { OpenlecError } from '../errors.ts';
import { ACTOR_KEY } from '../ledger/index.ts';
import { ROLES } from '../state/registry.ts';
import type { LedgerStore } from '../store/ledger-store.ts';
import type { Route } from './route.ts';
import type { Session } from './auth.ts';

/**
 * The log's API keys as their owners and the staff see them (GET /v1/api-keys): issued,
 * rotated and revoked by signed transactions (apikey.issue, apikey.rotate, apikey.revoke
 * through POST /v1/transactions), so what is shown here is a projection anyone can rebuild.
 * A participant sees its own keys; the operator and auditors see every key. The secret's
 * digest is not shown: only the machine that holds the key needs it.
 */
const KEY = z.string().regex(ACTOR_KEY);
const INSTANT = z.string().describe('ISO 8601 instant, UTC');
export const API_KEY_VIEW = z.strictObject({
  id: z.string().regex(API_KEY_ID).describe('The key id: the bearer is olk_<id>_<secret>'),
  owner: KEY.describe('The participant the key acts for'),
  roles: z.array(z.enum(ROLES)).describe('Roles a request with the key has (those the owner still holds)'),
  status: z.enum(['live', 'expired', 'revoked']).describe('At the server\'s clock'),
  issuedAt: INSTANT,
  expiresAt: INSTANT.describe('Refused from this instant; a rotation brings it forward to the end of the overlap'),
  replaces: z.string().nullable().describe('The key this one replaced (apikey.rotate)'),
  replacedBy: z.string().nullable(),
  revokedAt: INSTANT.nullable(),
  revokedBy: KEY.nullable(),
  reason: z.enum(REVOKE_REASONS).nullable(),
  entry: z.number().int().min(0).describe('The entry that issued it'),
  revokedEntry: z.number().int().min(0).nullable(),
});
export type ApiKeyView = z.infer<typeof API_KEY_VIEW>;

const ALL_ROLES = [...ROLES];
const sees = (session: Session, row: ApiKeyRow) => row.owner === session.key || session.roles.includes('operator') || session.roles.includes('auditor');

export function apiKeyView(row: ApiKeyRow, now: number): ApiKeyView {
  const { digest: _digest, ...shown } = row;
  return { ...shown, reason: row.reason as ApiKeyView['reason'], status: row.revokedAt !== null ? 'revoked' : liveAt(row, now) ? 'live' : 'expired' };
}

export function apiKeyRoutes(ledger: LedgerStore, clock: () => number): Route[] {
  const state = ledger.state;
  const example: ApiKeyView = {
    id: '3f1c9a2b7d4e6f80', owner: 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8', roles: ['dso'], status: 'live', issuedAt: '2026-11-01T08:00:00Z', expiresAt: '2027-11-01T08:00:00Z',
    replaces: null, replacedBy: null, revokedAt: null, revokedBy: null, reason: null, entry: 12, revokedEntry: null,
  };
  return [
    {
      method: 'GET', url: '/v1/api-keys', operationId: 'listApiKeys', tags: ['auth'], response: z.array(API_KEY_VIEW), example: [example],
      summary: 'API keys of the log, in the order they were issued: the caller\'s own, or every key for the operator and auditors (`owner` narrows to one participant). Issue, rotate and revoke them with signed apikey.issue, apikey.rotate and apikey.revoke transactions; use one as `Authorization: Bearer olk_<id>_<secret>`.',
      access: { roles: ALL_ROLES },
      query: z.object({ owner: KEY.optional() }),
      handler: ({ query, session }) => {
        const now = clock();
        const owner = query.owner as string | undefined;
        const staff = session!.roles.includes('operator') || session!.roles.includes('auditor');
        // A participant reads its own rows by the owner index; only the staff read the whole table.
        const rows = owner !== undefined || !staff ? apiKeysOf(state, owner ?? session!.key) : ([...state.rows('api_keys')] as ApiKeyRow[]).sort((a, b) => a.entry - b.entry || (a.id < b.id ? -1 : 1));
        return rows.filter((r) => sees(session!, r)).map((r) => apiKeyView(r, now));
      },
    },
    {
      method: 'GET', url: '/v1/api-keys/:id', operationId: 'getApiKey', tags: ['auth'], response: API_KEY_VIEW, example,
      summary: 'One API key: its roles, expiry, rotation and revocation (its owner, the operator or an auditor).', access: { roles: ALL_ROLES },
      params: z.object({ id: z.string().regex(API_KEY_ID, 'must be an API key id: 16 lower-case hex digits') }),
      handler: ({ params, session }) => {
        const row = apiKey(state, params.id as string);
        if (!row || !sees(session!, row)) throw new OpenlecError('E_NOT_FOUND', `no API key ${params.id as string} that this caller may see`, { field: 'params.id' });
        return apiKeyView(row, clock());
      },
    },
  ];
}

