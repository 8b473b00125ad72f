import { canonicalJson, type Envelope, signTransaction, TX_VERSION } from '../../src/ledger/index.ts';
import { api, ApiError, heldKey, holdKey, parseSecret, session } from './api.ts';
import { esc } from './ui.ts';

/**
 * Actions in the browser: a transaction is built here, shown to the user exactly as it
 * will be signed, signed with the user's key in this page (the key never leaves it) and
 * sent to POST /v1/transactions. The server admits it or refuses it whole; a refusal is
 * shown with its code and field, and nothing is appended.
 *
 * The nonce comes from /v1/me (the highest the key has used, plus one) and issuedAt from
 * the server's clock (/v1/community serverTime): the operator judges time rules by the
 * time it vouches for, never by this browser's clock.
 */
export interface Action<B> {
  /** The transaction type, e.g. "order.standing". */
  type: string;
  body: B;
  /** What the user is about to do, in plain words (shown above the exact transaction). */
  summary: string;
}

export interface Sent {
  entry: number;
  size: number;
  tx: Envelope;
}

/** A refusal by the server (or a cancel by the user), with the server's code and field. */
export class Refused extends Error {
  constructor(readonly code: string, message: string, readonly field: string | null) {
    super(message);
  }
}

/** envelopeFor builds the unsigned envelope of an action at the server's time, with the key's next nonce. */
export async function envelopeFor<B>(type: string, body: B): Promise<Envelope<B>> {
  const s = session();
  if (!s) throw new Refused('E_AUTH', 'log in first', null);
  const [c, me] = await Promise.all([
    api<{ id: string; serverTime: string }>('/v1/community'),
    api<{ nonce: number }>('/v1/me'),
  ]);
  return { v: TX_VERSION, type, community: c.id, actor: s.key, nonce: me.nonce + 1, issuedAt: c.serverTime.replace(/\.\d{3}Z$/, 'Z'), body };
}

/** refusalText: a refusal as the page shows it, with its code and field. */
export const refusalText = (r: Refused) => `Refused${r.code.startsWith('E_SIGN') ? '' : ` (${r.code}${r.field ? `, field ${r.field}` : ''})`}: ${r.message}. Nothing was appended.`;

export interface SignDialog<R> {
  envelopes: readonly Envelope[];
  title: string;
  summary: string;
  note: string;
  /** The text of the transactions shown (all of them, or the first ones and a count). */
  shown: string;
  shownLabel: string;
  confirmLabel: string;
  /** Sends the signed transactions; resolves with the server's answer. */
  send(signed: ReturnType<typeof signTransaction>[]): Promise<R>;
  done(r: R): string;
}

/**
 * signDialog: the one dialog every signature goes through. It shows what will be signed,
 * asks for the key if the page no longer holds it, signs the envelopes shown (not a copy
 * rebuilt later) on "Sign and send", and shows a refusal in place; it resolves with the
 * server's answer, or rejects with Refused (code "E_CANCELLED" when the user cancels).
 */
export function signDialog<R>(o: SignDialog<R>): Promise<R> {
  const dialog = document.createElement('dialog');
  dialog.id = 'sign-dialog';
  dialog.setAttribute('aria-labelledby', 'sign-title');
  const needKey = !heldKey();
  dialog.innerHTML = `<h2 id="sign-title">${esc(o.title)}</h2>
  <p id="sign-summary">${esc(o.summary)}</p>
  <p class="note">${esc(o.note)}</p>
  <pre id="sign-tx" tabindex="0" aria-label="${esc(o.shownLabel)}">${esc(o.shown)}</pre>
  ${needKey ? '<label>Your key, to sign (it stays in this page)<br><textarea id="sign-key" rows="2" spellcheck="false" autocomplete="off"></textarea></label>' : ''}
  <p id="sign-error" class="error" role="alert"></p>
  <p id="sign-result" class="ok" role="status"></p>
  <div class="buttons"><button type="button" id="sign-confirm">${esc(o.confirmLabel)}</button> <button type="button" class="secondary" id="sign-cancel">Cancel</button></div>`;
  document.body.append(dialog);
  dialog.showModal();
  const error = dialog.querySelector<HTMLElement>('#sign-error')!;
  const confirm = dialog.querySelector<HTMLButtonElement>('#sign-confirm')!;
  const cancel = dialog.querySelector<HTMLButtonElement>('#sign-cancel')!;
  return new Promise<R>((resolve, reject) => {
    let refusal: Refused | undefined;
    const close = () => { dialog.close(); dialog.remove(); };
    cancel.addEventListener('click', () => { close(); reject(refusal ?? new Refused('E_CANCELLED', 'not signed: cancelled', null)); });
    dialog.addEventListener('cancel', () => { dialog.remove(); reject(refusal ?? new Refused('E_CANCELLED', 'not signed: cancelled', null)); });
    confirm.addEventListener('click', () => {
      error.textContent = '';
      confirm.disabled = true;
      void (async () => {
        try {
          if (!heldKey()) holdKey(parseSecret(dialog.querySelector<HTMLTextAreaElement>('#sign-key')!.value));
          const secret = heldKey()!.secretKey;
          const r = await o.send(o.envelopes.map((e) => signTransaction(e, secret)));
          dialog.querySelector('#sign-result')!.textContent = o.done(r);
          close();
          resolve(r);
        } catch (e) {
          const err = e as ApiError | Error;
          refusal = err instanceof ApiError ? new Refused(err.code, err.message, err.field ?? null) : new Refused('E_SIGN', err.message, null);
          error.textContent = refusalText(refusal);
          confirm.disabled = false;
          cancel.textContent = 'Close';
        }
      })();
    });
  });
}

/**
 * signAndSend shows the action and its transaction in the dialog; on "Sign and send" it
 * signs and submits it and resolves with the entry; on a refusal it shows the error in the
 * dialog and rejects with Refused; on cancel it rejects with code "E_CANCELLED".
 */
export async function signAndSend<B>(action: Action<B>): Promise<Sent> {
  const envelope = await envelopeFor(action.type, action.body);
  canonicalJson(envelope);
  const r = await signDialog({
    envelopes: [envelope], title: 'Sign this transaction?', summary: action.summary,
    note: 'Your key signs exactly this, in this page; the operator appends it to the log if the community\'s rules admit it.',
    shown: JSON.stringify(envelope, null, 2), shownLabel: 'the transaction to sign', confirmLabel: 'Sign and send',
    send: ([tx]) => api<{ entry: number; size: number }>('/v1/transactions', { method: 'POST', body: tx }),
    done: (x) => `Signed and appended as entry ${x.entry}.`,
  });
  return { ...r, tx: envelope };
}

/**
 * actionForm wires a form to an action: on submit `build` turns the form's values into the
 * action (throwing an Error naming the field when a value is wrong), then it is signed and
 * sent; the outcome is written to the form's `.action-status` (role=status) element and
 * `done` runs after an append (typically: redraw the view).
 */
export function actionForm<B>(form: HTMLFormElement, build: (data: FormData) => Action<B> | Promise<Action<B>>, done?: (sent: Sent) => void): void {
  const status = form.querySelector<HTMLElement>('.action-status') ?? form.appendChild(Object.assign(document.createElement('p'), { className: 'action-status' }));
  status.setAttribute('role', 'status');
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    status.className = 'action-status';
    status.textContent = '';
    void (async () => {
      try {
        const sent = await signAndSend(await build(new FormData(form)));
        status.className = 'action-status ok';
        status.textContent = `Appended to the log as entry ${sent.entry}.`;
        done?.(sent);
      } catch (err) {
        const r = err as Refused | Error;
        if (r instanceof Refused && r.code === 'E_CANCELLED') return;
        status.className = 'action-status error';
        status.textContent = r instanceof Refused ? refusalText(r) : r.message;
      }
    })();
  });
}
