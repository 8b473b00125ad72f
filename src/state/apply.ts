import { community, participant, type ParticipantRow } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import type { DecodedEntry } from '../ledger/index.ts';
import { parseInstant } from '../units/index.ts';
import type { ApplyContext, Registry } from './registry.ts';
import type { State } from './tables.ts';

/**
 * applyEntry runs one decoded, signature-checked transaction against the state: type,
 * body schema, community, actor, role, nonce, then the type's own rules. On any error
 * the state is exactly as before and the error names the reason and the field.
 * `admission.now` is the operator's time when a server admits the transaction (never
 * given in replay): the rules that depend on time are judged at it as well.
 */
export function applyEntry(state: State, registry: Registry, decoded: DecodedEntry, entry: number, admission: { now?: number } = {}): void {
  const { tx } = decoded;
  const type = registry.get(tx.type);
  if (!type) throw new OpenlecError('E_TX_UNKNOWN_TYPE', `unknown transaction type "${tx.type}"`, { field: 'type' });
  const parsed = type.body.safeParse(tx.body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = ['body', ...issue.path.map(String)].join('.');
    throw new OpenlecError('E_TX_BODY', `${tx.type} ${field}: ${issue.message}`, { field, details: { issues: parsed.error.issues.length } });
  }
  const c = community(state);
  let actor: ParticipantRow | undefined;
  if (type.genesis) {
    if (c || entry !== 0) throw new OpenlecError('E_TX_GENESIS', `${tx.type} must be the first entry of the log`, { field: 'type' });
  } else {
    if (!c) throw new OpenlecError('E_NO_COMMUNITY', 'the log has no community yet: the first entry must be community.create', { field: 'type' });
    if (tx.community !== c.id) throw new OpenlecError('E_TX_COMMUNITY', `transaction is for community "${tx.community}", this log is "${c.id}"`, { field: 'community' });
    actor = participant(state, tx.actor);
    if (!actor) throw new OpenlecError('E_TX_UNKNOWN_ACTOR', `actor ${tx.actor} is not a registered participant`, { field: 'actor' });
    if (!type.roles.some((r) => actor!.roles.includes(r))) {
      throw new OpenlecError('E_TX_ROLE', `${tx.type} needs role ${type.roles.join(' or ')}; actor has ${actor.roles.join(', ')}`, { field: 'actor' });
    }
    if (tx.nonce <= actor.nonce) {
      throw new OpenlecError('E_TX_NONCE', `nonce ${tx.nonce} is not above ${actor.nonce}, the last nonce of this actor (replayed or reordered)`, { field: 'nonce', details: { lastNonce: actor.nonce } });
    }
  }
  const mark = state.mark();
  try {
    type.apply(admission.now === undefined ? { state, tx, entry } : { state, tx, entry, now: admission.now }, parsed.data);
    // Re-read the actor: apply may have rewritten its row.
    const current = actor && participant(state, tx.actor);
    if (current) state.put('participants', { ...current, nonce: tx.nonce });
  } catch (e) {
    state.rollback(mark);
    throw e;
  }
}

/**
 * latestTime is the instant for rules where later is stricter ("not in the past", "before
 * gate closure"): the transaction's issuedAt, or the admission time when that is later. A
 * member cannot backdate an order into a closed gate, and since the log keeps issuedAt,
 * whatever was admitted passes again when verify replays it without an admission time.
 */
export function latestTime(ctx: ApplyContext): number {
  const issued = parseInstant(ctx.tx.issuedAt, 'issuedAt');
  return ctx.now === undefined ? issued : Math.max(issued, ctx.now);
}

/** earliestTime is the instant for rules where earlier is stricter ("only after gate closure"). */
export function earliestTime(ctx: ApplyContext): number {
  const issued = parseInstant(ctx.tx.issuedAt, 'issuedAt');
  return ctx.now === undefined ? issued : Math.min(issued, ctx.now);
}
