import { z } from 'zod';
import { actorKey } from '../community/community-create.ts';
import { participant } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import { defineTx } from '../state/registry.ts';
import type { State, TableSpec } from '../state/tables.ts';
import { type CdrRow, findParty, partiesOfKey, partyRef } from './tables.ts';
import { PSEUDONYM } from './token.ts';

/**
 * A driver who is a member of the community sees their own charging sessions: the CPO,
 * which alone can compute a card's pseudonym (token.ts: a keyed hash under its token
 * key), links the pseudonym to the member's participant key. The link names a key, never
 * a card number, a contract id or a name. A pseudonym is the CPO's (another CPO hashes the
 * same card under another key), so the link is keyed by CPO and token, and it shows the
 * member only that CPO's CDRs of that token. A token links to one member, once.
 */
export const DRIVERS_TABLE: TableSpec = {
  name: 'charging_drivers',
  columns: { cpo: 'text', token: 'text', member: 'text', entry: 'integer' },
  primaryKey: ['cpo', 'token'],
  indexes: [['member']],
};

export interface DriverRow {
  /** The CPO party that linked the token: "FR*OLC". */
  cpo: string;
  /** The token's pseudonym, as CDRs of that CPO carry it in cdr_token.uid. */
  token: string;
  /** The member's participant key. */
  member: string;
  entry: number;
}

const CPO_REF = z.string().regex(/^[A-Za-z]{2}\*[A-Za-z0-9]{3}$/, 'must be a party as "FR*OLC" (country code * party id)');

/**
 * charging.driver (CPO): links a token pseudonym of one of the actor's CPO parties to a
 * registered participant. `cpo` names the party when the key signs for several.
 */
export const chargingDriver = defineTx({
  type: 'charging.driver',
  roles: ['cpo'],
  tables: [DRIVERS_TABLE],
  body: z.strictObject({
    token: z.string().regex(PSEUDONYM, 'must be the token\'s pseudonym (32 lower-case hex digits, a keyed hash), never the card id itself'),
    member: actorKey,
    cpo: CPO_REF.optional(),
  }),
  apply({ state, tx, entry }, body) {
    const mine = partiesOfKey(state, tx.actor).filter((p) => p.role === 'CPO');
    let cpo: string;
    if (body.cpo !== undefined) {
      const [cc, pid] = body.cpo.split('*') as [string, string];
      cpo = partyRef(cc, pid);
      if (!mine.some((p) => p.party === cpo)) throw new OpenlecError('E_NOT_PARTY', `body.cpo: ${cpo} is not a CPO this key signs for`, { field: 'body.cpo' });
    } else {
      if (mine.length === 0) throw new OpenlecError('E_NOT_PARTY', 'this key signs for no registered CPO', { field: 'body.cpo' });
      if (mine.length > 1) throw new OpenlecError('E_DRIVER_CPO', `this key signs for ${mine.map((p) => p.party).join(', ')}: name one in body.cpo`, { field: 'body.cpo' });
      cpo = mine[0]!.party;
    }
    if (!participant(state, body.member)) throw new OpenlecError('E_UNKNOWN_MEMBER', `body.member: ${body.member} is not a registered participant`, { field: 'body.member' });
    const linked = findDriver(state, cpo, body.token);
    if (linked) {
      throw new OpenlecError('E_DRIVER_EXISTS', `token ${body.token} of ${cpo} is already linked${linked.member === body.member ? ' to this member' : ' to another member'} (entry ${linked.entry}): a token links to one member`, { field: 'body.token' });
    }
    state.put('charging_drivers', { cpo, token: body.token, member: body.member, entry });
  },
});

export const findDriver = (state: State, cpo: string, token: string) => state.get('charging_drivers', `${cpo}\u001f${token}`) as DriverRow | undefined;

/** The tokens linked to a member. */
export const driverTokens = (state: State, member: string) => state.lookup<DriverRow>('charging_drivers', 'member', member);

/** A member's CDRs (credits included), in log order: those of the tokens the CPOs linked to the member. */
export function driverCdrs(state: State, member: string): CdrRow[] {
  const links = driverTokens(state, member);
  const out: CdrRow[] = [];
  for (const l of links) {
    for (const r of state.lookup<CdrRow>('charging_cdrs', 'token', l.token)) if (r.cpo === l.cpo) out.push(r);
  }
  return out.sort((a, b) => a.entry - b.entry);
}

/**
 * chargingEntryConcerns: whether a charging transaction is about `key` beyond its signer,
 * for proofs: a CDR concerns its eMSP's key and the member its token is linked to; a
 * driver link concerns its member.
 */
export function chargingEntryConcerns(state: State, tx: { type: string; body: Record<string, unknown> }, key: string): boolean {
  if (tx.type === 'charging.driver') return tx.body.member === key;
  if (tx.type !== 'charging.cdr') return false;
  const cdr = tx.body.cdr as { country_code?: string; party_id?: string; cdr_token?: { country_code?: string; party_id?: string; uid?: string } } | undefined;
  const t = cdr?.cdr_token;
  if (!cdr || !t?.country_code || !t.party_id || !t.uid || !cdr.country_code || !cdr.party_id) return false;
  if (findParty(state, partyRef(t.country_code, t.party_id), 'EMSP')?.key === key) return true;
  return findDriver(state, partyRef(cdr.country_code, cdr.party_id), t.uid)?.member === key;
}
