import { z } from 'zod';
import { ACTOR_KEY } from '../ledger/index.ts';
import { OpenlecError } from '../errors.ts';
import { defineTx } from '../state/registry.ts';
import { assertTimeZone, INTERVAL_MINUTES } from '../units/index.ts';
import { COMMUNITY_TABLE, PARTICIPANTS_TABLE } from './tables.ts';

export const actorKey = z.string().regex(ACTOR_KEY, 'must be an Ed25519 public key (43 base64url characters)');

/**
 * community.create is entry 0 of every log: it names the community, its time zone,
 * settlement interval and currency, and makes its signer the operator. The name is the
 * community's public name, never a person's.
 */
export const communityCreate = defineTx({
  type: 'community.create',
  genesis: true,
  roles: [],
  tables: [COMMUNITY_TABLE, PARTICIPANTS_TABLE],
  body: z.strictObject({
    name: z.string().min(1).max(100),
    timeZone: z.string().min(1).max(64),
    intervalMinutes: z.union(INTERVAL_MINUTES.map((m) => z.literal(m)) as [z.ZodLiteral<15>, z.ZodLiteral<30>, z.ZodLiteral<60>]),
    currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as EUR'),
    operator: actorKey,
  }),
  apply({ state, tx, entry }, body) {
    assertTimeZone(body.timeZone, 'body.timeZone');
    if (body.operator !== tx.actor) {
      throw new OpenlecError('E_TX_ACTOR', 'community.create must be signed by the operator it names', { field: 'body.operator' });
    }
    state.put('community', { id: tx.community, ...body, createdAt: tx.issuedAt, entry });
    state.put('participants', { key: tx.actor, roles: ['operator'], nonce: tx.nonce, entry });
  },
});
