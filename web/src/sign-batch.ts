import { canonicalJson, type Envelope, TX_VERSION } from '../../src/ledger/index.ts';
import { api, session } from './api.ts';
import { Refused, refusalText, signDialog } from './sign.ts';

/**
 * Many transactions at once (an imported meter file: one meter.readings per meter and
 * day), signed in this page and sent to POST /v1/transactions/batch, which admits them
 * all or none: nothing is half-written. The dialog is sign.ts's: the user sees what is
 * signed before it is signed, here a summary and the first transactions in full, and a
 * refusal shows its code and field (which names the transaction, "transactions[3]...").
 */
export interface BatchAction {
  /** Each transaction's type and body, in the order they are appended. */
  txs: { type: string; body: unknown }[];
  /** What the user is about to do, in plain words. */
  summary: string;
}

export interface BatchSent {
  entries: number[];
  size: number;
}

/** The server's limits: at most 1,000 transactions and a body of 256 KiB per request. */
export const BATCH_MAX = 1000;
const BODY_MAX = 256 * 1024;
/** How many of the transactions the dialog shows in full. */
const SHOWN = 3;

/**
 * signAndSendBatch shows the set in a dialog (#sign-dialog, as signAndSend): on "Sign and
 * send" it signs every transaction with consecutive nonces and sends them as one batch;
 * resolves with the entries, rejects with Refused (code "E_CANCELLED" on cancel).
 */
export async function signAndSendBatch(action: BatchAction): Promise<BatchSent> {
  const s = session();
  if (!s) throw new Refused('E_AUTH', 'log in first', null);
  if (action.txs.length === 0) throw new Refused('E_EMPTY', 'nothing to sign', null);
  if (action.txs.length > BATCH_MAX) throw new Refused('E_BATCH_SIZE', `${action.txs.length} transactions: at most ${BATCH_MAX} are appended at once`, null);
  const [c, me] = await Promise.all([api<{ id: string; serverTime: string }>('/v1/community'), api<{ nonce: number }>('/v1/me')]);
  const issuedAt = c.serverTime.replace(/\.\d{3}Z$/, 'Z');
  const envelopes: Envelope[] = action.txs.map((t, k) => ({ v: TX_VERSION, type: t.type, community: c.id, actor: s.key, nonce: me.nonce + 1 + k, issuedAt, body: t.body }));
  // A signed transaction is its envelope and a signature (some 90 bytes of JSON).
  const bytes = envelopes.reduce((n, e) => n + canonicalJson(e).length + 120, 20);
  if (bytes > BODY_MAX) throw new Refused('E_BATCH_SIZE', `${Math.ceil(bytes / 1024)} KiB of transactions: at most ${BODY_MAX / 1024} KiB are appended at once; import fewer days at a time`, null);
  const shown = envelopes.slice(0, SHOWN);
  return signDialog({
    envelopes, title: `Sign these ${envelopes.length} transactions?`, summary: action.summary,
    note: `Your key signs exactly these, in this page (nonces ${envelopes[0]!.nonce} to ${envelopes.at(-1)!.nonce}); the operator appends all of them or none.`,
    shown: shown.map((e) => JSON.stringify(e, null, 2)).join('\n\n') + (envelopes.length > SHOWN ? `\n\n… and ${envelopes.length - SHOWN} more of the same form` : ''),
    shownLabel: `the transactions to sign${envelopes.length > SHOWN ? `, the first ${SHOWN}` : ''}`,
    confirmLabel: `Sign and send all ${envelopes.length}`,
    send: (transactions) => api<BatchSent>('/v1/transactions/batch', { method: 'POST', body: { transactions } }),
    done: (r) => `Signed and appended as entries ${r.entries[0]} to ${r.entries.at(-1)}.`,
  });
}

/** batchRefusal: the text of a failed batch for a status element (as actionForm writes it for one), undefined when the user cancelled. */
export function batchRefusal(e: unknown): string | undefined {
  const r = e as Refused | Error;
  if (r instanceof Refused && r.code === 'E_CANCELLED') return undefined;
  return r instanceof Refused ? refusalText(r) : r.message;
}
