import { type ApiKeyMaterial, makeApiKey } from '../../src/access/key-material.ts';
import { api, session } from './api.ts';
import { actionForm, type Action } from './sign.ts';
import { community, type Community, esc, loginPrompt, short, table, view } from './ui.ts';
import './actions/actions.css';
import './api-keys.css';

/**
 * #/api-keys: the API keys of an organisation's machines (src/access/api-keys.ts), as GET
 * /v1/api-keys lists them (the caller's own; every key for the operator and auditors),
 * and the three transactions on them, signed in this page like every other action
 * (web/src/sign.ts): apikey.issue, apikey.rotate and apikey.revoke.
 *
 * A key's secret is made here, with crypto.getRandomValues; only its digest goes into the
 * signed transaction. The bearer (`olk_<id>_<secret>`) is shown once, after the log
 * appended the key, in a read-only field: it is kept in no storage and not drawn again.
 *
 * The key is made by makeApiKey of src/access/key-material.ts (the ledger's hash and
 * encodings only, none of the rules), the same code the CLI and the simulator use: its
 * digest is bound to the community and the id.
 */

interface ApiKeyView {
  id: string;
  owner: string;
  roles: string[];
  status: 'live' | 'expired' | 'revoked';
  issuedAt: string;
  expiresAt: string;
  replaces: string | null;
  replacedBy: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
  reason: string | null;
  entry: number;
  revokedEntry: number | null;
}

type NewKey = ApiKeyMaterial;

/** Limits of the log's rules (src/access/api-keys.ts), checked here first to name the field. */
const MAX_KEY_DAYS = 400;
const MAX_OVERLAP_HOURS = 168;
const REASONS = ['compromised', 'retired', 'superseded', 'owner-left'] as const;

/** newApiKey: a key of the community, from 8 random bytes for the id and 32 for the secret of this browser's CSPRNG. */
export function newApiKey(communityId: string): NewKey {
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const k = makeApiKey(communityId, crypto.getRandomValues(new Uint8Array(8)), secret);
  secret.fill(0);
  return k;
}

/** A bearer made in this page and appended, waiting to be shown once by the next drawing of the view. */
let reveal: { token: string; id: string; entry: number; what: string } | undefined;

const instant = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const when = (iso: string, c: Community) => new Intl.DateTimeFormat('en-CA', { timeZone: c.timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(iso)).replace(',', '');

/** wholeNumber reads a form's whole number in [min, max], or throws naming the field. */
function wholeNumber(d: FormData, name: string, field: string, min: number, max: number): number {
  const text = String(d.get(name) ?? '').trim();
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) throw new Error(`${field}: a whole number from ${min} to ${max} (not "${text}")`);
  return n;
}

/** expiry: `days` after the server's time (the operator judges expiry by its clock, not this browser's). */
async function expiry(days: number): Promise<string> {
  const { serverTime } = await api<{ serverTime: string }>('/v1/community');
  return instant(Math.floor(Date.parse(serverTime) / 1000) * 1000 + days * 86_400_000);
}

function revealSection(): string {
  if (!reveal) return '';
  const r = reveal;
  reveal = undefined;
  return `<section id="api-key-new" aria-labelledby="api-key-new-title"><h2 id="api-key-new-title">The new key ${esc(r.id)}</h2>
  <p class="ok">${esc(r.what)} (entry ${r.entry}).</p>
  <label for="api-key-bearer">Bearer for your machine: <code>Authorization: Bearer …</code></label>
  <div class="api-key-bearer"><input id="api-key-bearer" readonly spellcheck="false" autocomplete="off" value="${esc(r.token)}" aria-describedby="api-key-warning">
  <button type="button" class="secondary" id="api-key-copy">Copy</button></div>
  <p id="api-key-warning" class="warning" role="alert"><strong>Copy it now: it is not shown again.</strong> The log keeps only a digest of its secret; a lost key cannot be recovered, only revoked and replaced.</p>
  <p id="api-key-copied" class="note" role="status"></p></section>`;
}

function keyRows(keys: ApiKeyView[], c: Community): string[][] {
  return keys.map((k) => [
    `<code>${esc(k.id)}</code>${k.replaces ? `<br><span class="note">replaces <code>${esc(k.replaces)}</code></span>` : ''}`,
    `<code title="${esc(k.owner)}">${esc(short(k.owner))}</code>`,
    esc(k.roles.join(', ')),
    `<span class="key-status key-${esc(k.status)}">${esc(k.status)}</span>`,
    `${esc(when(k.issuedAt, c))} (entry ${k.entry})`,
    esc(when(k.expiresAt, c)),
    k.replacedBy ? `<code>${esc(k.replacedBy)}</code>` : '–',
    k.revokedAt ? `${esc(k.reason ?? '')} (entry ${k.revokedEntry ?? ''})${k.revokedBy && k.revokedBy !== k.owner ? ` by <code title="${esc(k.revokedBy)}">${esc(short(k.revokedBy))}</code>` : ''}` : '–',
  ]);
}

const option = (k: ApiKeyView, own: boolean) => `<option value="${esc(k.id)}">${esc(k.id)} (${esc(k.roles.join(', '))}${own ? '' : `, of ${esc(short(k.owner))}`})</option>`;

export async function apiKeysView(): Promise<void> {
  const s = session();
  if (!s) return loginPrompt('API keys let your organisation\'s machines call the API without your key: log in to see and manage yours.');
  const [c, keys] = await Promise.all([community(), api<ApiKeyView[]>('/v1/api-keys')]);
  const operator = s.roles.includes('operator');
  const own = keys.filter((k) => k.owner === s.key);
  const rotatable = own.filter((k) => k.status === 'live' && k.replacedBy === null);
  const revocable = (operator ? keys : own).filter((k) => k.status !== 'revoked');
  view.innerHTML = `<h1>API keys</h1>
  <p class="sub">Long-lived keys for ${operator || s.roles.includes('auditor') ? 'the community\'s' : 'your'} machines (a meter-data system, a billing run), sent as <code>Authorization: Bearer olk_…</code>. A key has some of its owner's roles and an expiry; issuing, rotating and revoking one are transactions you sign here with your key, so every party sees which keys are live. The secret is made in this page and never sent but as the bearer.</p>
  ${revealSection()}
  <section id="api-keys-list"><h2>${operator || s.roles.includes('auditor') ? 'Every key of the log' : 'Your keys'}</h2>
  ${keys.length ? table(['id', 'owner', 'roles', 'status', 'issued', `expires (${c.timeZone})`, 'rotated to', 'revoked'], keyRows(keys, c), 'api-keys-table') : '<p class="empty" id="api-keys-empty">No API key yet.</p>'}</section>
  <section id="api-key-issue"><h2>Issue a key</h2>
  <form id="api-key-issue-form" class="action-form" novalidate>
    <fieldset class="roles"><legend>Roles the key may use (some of yours)</legend>
    ${s.roles.map((r) => `<label class="check"><input type="checkbox" name="roles" value="${esc(r)}" checked> ${esc(r)}</label>`).join('')}</fieldset>
    <label>Valid for (days, 1–${MAX_KEY_DAYS}) <input name="days" type="number" min="1" max="${MAX_KEY_DAYS}" step="1" value="365" required></label>
    <button type="submit" id="api-key-issue-submit">Issue the key</button>
    <p class="action-status" role="status"></p>
  </form></section>
  <section id="api-key-rotate"><h2>Rotate a key</h2>
  <p class="note">Rotation issues the next key with the same roles; the old one keeps working for the overlap, so the machine can switch over, then stops.</p>
  ${rotatable.length ? `<form id="api-key-rotate-form" class="action-form" novalidate>
    <label>Key <select name="id">${rotatable.map((k) => option(k, true)).join('')}</select></label>
    <label>Overlap (hours, 0–${MAX_OVERLAP_HOURS}) <input name="overlap" type="number" min="0" max="${MAX_OVERLAP_HOURS}" step="1" value="24" required></label>
    <label>New key valid for (days, 1–${MAX_KEY_DAYS}) <input name="days" type="number" min="1" max="${MAX_KEY_DAYS}" step="1" value="365" required></label>
    <button type="submit" id="api-key-rotate-submit">Rotate the key</button>
    <p class="action-status" role="status"></p>
  </form>` : '<p class="empty" id="api-key-rotate-none">No live key of yours to rotate.</p>'}</section>
  <section id="api-key-revoke"><h2>Revoke a key</h2>
  <p class="note">${operator ? 'As the operator you may revoke any key (a member who left, a key reported stolen).' : 'A revoked key is refused at once.'}</p>
  ${revocable.length ? `<form id="api-key-revoke-form" class="action-form" novalidate>
    <label>Key <select name="id">${revocable.map((k) => option(k, k.owner === s.key)).join('')}</select></label>
    <label>Reason <select name="reason">${REASONS.map((r) => `<option>${r}</option>`).join('')}</select></label>
    <button type="submit" id="api-key-revoke-submit">Revoke the key</button>
    <p class="action-status" role="status"></p>
  </form>` : '<p class="empty" id="api-key-revoke-none">No key to revoke.</p>'}</section>`;
  bind(keys, s.roles, c.id);
}

/** redraw draws the view again after an append (data-ready is set again once it is drawn). */
function redraw(): void {
  delete document.body.dataset.ready;
  void apiKeysView().then(() => {
    document.body.dataset.ready = 'api-keys';
    document.getElementById('api-key-bearer')?.focus();
  });
}

function bind(keys: ApiKeyView[], roles: readonly string[], communityId: string): void {
  const copy = view.querySelector<HTMLButtonElement>('#api-key-copy');
  copy?.addEventListener('click', () => {
    const input = view.querySelector<HTMLInputElement>('#api-key-bearer')!;
    const out = view.querySelector<HTMLElement>('#api-key-copied')!;
    input.select();
    navigator.clipboard.writeText(input.value).then(() => { out.textContent = 'Copied.'; }, () => { out.textContent = 'Select the field and copy it yourself.'; });
  });

  const issueForm = view.querySelector<HTMLFormElement>('#api-key-issue-form')!;
  let issued: NewKey | undefined;
  actionForm(issueForm, async (d): Promise<Action<{ id: string; digest: string; roles: string[]; expiresAt: string }>> => {
    const chosen = d.getAll('roles').map(String).filter((r) => roles.includes(r));
    if (!chosen.length) throw new Error('roles: choose at least one of your roles');
    const days = wholeNumber(d, 'days', 'days', 1, MAX_KEY_DAYS);
    issued = newApiKey(communityId);
    const body = { id: issued.id, digest: issued.digest, roles: chosen, expiresAt: await expiry(days) };
    return { type: 'apikey.issue', body, summary: `Issue API key ${body.id} with the roles ${chosen.join(', ')}, valid for ${days} days (until ${body.expiresAt}). Only the digest of its secret is signed; the key is shown once, after the log appends it.` };
  }, (sent) => {
    const k = issued!;
    reveal = { token: k.token, id: k.id, entry: sent.entry, what: `Issued key ${k.id}` };
    issued = undefined;
    redraw();
  });

  const rotateForm = view.querySelector<HTMLFormElement>('#api-key-rotate-form');
  let next: (NewKey & { old: string }) | undefined;
  if (rotateForm) actionForm(rotateForm, async (d) => {
    const id = String(d.get('id'));
    const old = keys.find((k) => k.id === id);
    if (!old) throw new Error('key: choose one of your live keys');
    const overlap = wholeNumber(d, 'overlap', 'overlap', 0, MAX_OVERLAP_HOURS);
    const days = wholeNumber(d, 'days', 'new key valid for', 1, MAX_KEY_DAYS);
    const kept = old.roles.filter((r) => roles.includes(r));
    if (!kept.length) throw new Error(`key: you no longer hold any of the roles of ${id} (${old.roles.join(', ')}); issue a new key instead`);
    next = { ...newApiKey(communityId), old: id };
    const body = { id, next: { id: next.id, digest: next.digest, roles: kept, expiresAt: await expiry(days) }, overlapSeconds: overlap * 3600 };
    return { type: 'apikey.rotate', body, summary: `Rotate API key ${id} to a new key ${next.id} (${kept.join(', ')}, until ${body.next.expiresAt}); ${id} keeps working ${overlap ? `${overlap} more hour${overlap === 1 ? '' : 's'}` : 'no longer: it stops at once'}.` };
  }, (sent) => {
    const k = next!;
    reveal = { token: k.token, id: k.id, entry: sent.entry, what: `Rotated ${k.old} to ${k.id}` };
    next = undefined;
    redraw();
  });

  const revokeForm = view.querySelector<HTMLFormElement>('#api-key-revoke-form');
  if (revokeForm) actionForm(revokeForm, (d) => {
    const id = String(d.get('id'));
    const reason = String(d.get('reason'));
    if (!keys.some((k) => k.id === id)) throw new Error('key: choose a key to revoke');
    if (!(REASONS as readonly string[]).includes(reason)) throw new Error(`reason: one of ${REASONS.join(', ')}`);
    return { type: 'apikey.revoke', body: { id, reason }, summary: `Revoke API key ${id} (${reason}): the server refuses it from the moment the log appends this.` };
  }, () => redraw());
}
