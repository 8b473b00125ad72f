import { z } from 'zod';
import { OpenlecError } from '../errors.ts';
import { defineTx, ROLES } from '../state/registry.ts';
import { actorKey } from './community-create.ts';
import { participant, PARTICIPANTS_TABLE } from './tables.ts';

/**
 * participant.register admits a key to the community with its roles. Only the
 * pseudonymous key and roles enter the log: names, addresses and e-mails live off-log.
 */
export const participantRegister = defineTx({
  type: 'participant.register',
  roles: ['operator'],
  tables: [PARTICIPANTS_TABLE],
  body: z.strictObject({
    key: actorKey,
    roles: z.array(z.enum(ROLES)).min(1).max(ROLES.length).refine((r) => new Set(r).size === r.length, 'roles must not repeat'),
  }),
  apply({ state, entry }, body) {
    if (participant(state, body.key)) {
      throw new OpenlecError('E_PARTICIPANT_EXISTS', `participant ${body.key} is already registered`, { field: 'body.key' });
    }
    state.put('participants', { key: body.key, roles: [...body.roles].sort(), nonce: 0, entry });
  },
});
