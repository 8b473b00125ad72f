import { ApiError as ClientApiError, type Method, OpenlecClient } from '../../src/api/core.ts';
import { encodeKey, fromBase64Url, type KeyPair, keyPairFromSeed } from '../../src/ledger/index.ts';

/**
 * The browser's side of the API, through the one typed client (src/api/core.ts, the
 * OpenlecClient without node's request signer): the session's token, errors as thrown
 * ApiErrors, paged lists read to their end, retries of reads and of signed transactions.
 */
export interface Session {
  token: string;
  key: string;
  roles: string[];
  expiresAt: string;
}

/**
 * base: the directory the page is served from, `/` on a one-community server and
 * `/c/<community id, URL-encoded>/` on a multi-community one. Every API call, download and
 * event stream is resolved against it (apiUrl), so the dashboard works under any prefix.
 */
export const base = location.pathname.replace(/[^/]*$/, '');
/** apiUrl: an API path as the views write it (`/v1/x`) under the page's base (`<base>v1/x`). */
export const apiUrl = (path: string): string => base + path.replace(/^\/+/, '');

/**
 * The session is kept per base: a token of one community is never sent to another served
 * from the same origin. (At `/`, the one-community server, the key is the bare name.)
 */
const STORE = base === '/' ? 'openlec.session' : `openlec.session ${base}`;

/**
 * The key the user logged in with, held in this page's memory only (never stored, never
 * sent): actions sign with it. After a reload the page asks for it again when it signs.
 */
let held: KeyPair | undefined;
/** heldKey: the session's key if this page still holds it. */
export const heldKey = (): KeyPair | undefined => held;
/** holdKey keeps a key pasted for signing, if it is the session's own. */
export function holdKey(kp: KeyPair): void {
  const s = session();
  if (!s || encodeKey(kp.publicKey) !== s.key) throw new Error(`this key is not the one you are logged in with (${s?.key.slice(0, 8) ?? 'no session'}…)`);
  held = kp;
}

/**
 * ApiError: the client's (status, code, field, url, and `refused`), with the server's own
 * message as its message, as the views show it; `field` is undefined when none is named.
 */
export class ApiError extends ClientApiError {
  constructor(e: ClientApiError) {
    super(e.status, e.code, e.reason, e.field, e.url, e.reason);
  }
}

/**
 * The one client of this page: the community at the page's base, with the session's token,
 * read again before each call (a session that ended, or a logout, stops sending it). A
 * request gets 60 s an attempt: the views' reads may be long ones (a year of curves).
 */
const client = new OpenlecClient(new URL(base, location.href).href.replace(/\/+$/, ''), { timeoutMs: 60_000 });
const current = (): OpenlecClient => {
  client.useToken(session()?.token);
  return client;
};

/** The client's ApiError as the page's; anything else as it is. */
const ours = (e: unknown): unknown => (e instanceof ClientApiError && !(e instanceof ApiError) ? new ApiError(e) : e);

/** Writes the client may send again after a failure on the way: signed transactions, which the log holds at most once. */
const REPEATABLE = /^\/v1\/transactions(\/batch)?$/;

export function session(): Session | undefined {
  const text = sessionStorage.getItem(STORE);
  if (!text) return undefined;
  const s = JSON.parse(text) as Session;
  if (Date.parse(s.expiresAt) < Date.now()) {
    sessionStorage.removeItem(STORE);
    held = undefined;
    return undefined;
  }
  return s;
}

export function logout(): void {
  sessionStorage.removeItem(STORE);
  held = undefined;
}

/**
 * api calls the API at a path as the views write it (`/v1/x?y=z`). A GET whose answer is a
 * list in pages (X-Next-Cursor) gives the whole list, page after page. Only reads and
 * signed transactions are sent again after a failure on the way; any other write once.
 */
export async function api<T>(path: string, init: { method?: Method; body?: unknown } = {}): Promise<T> {
  const method = init.method ?? 'GET';
  try {
    if (method === 'GET') return await current().getAll<T>(path);
    return await current().request<T>(method, path, { body: init.body, retry: method === 'POST' && REPEATABLE.test(path) });
  } catch (e) {
    throw ours(e);
  }
}

/** download fetches a file with the session's token and hands it to the browser as a download. */
export async function download(path: string, filename: string): Promise<void> {
  const blob = await current().blob(path).catch((e: unknown) => Promise.reject(ours(e)));
  const url = URL.createObjectURL(blob);
  const a = Object.assign(document.createElement('a'), { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  URL.revokeObjectURL(url);
}

/** parseSecret reads a key: an openlec key file (JSON) or the bare base64url secret key. */
export function parseSecret(text: string): KeyPair {
  const t = text.trim();
  let secret = t;
  if (t.startsWith('{')) {
    const file = JSON.parse(t) as { type?: string; secretKey?: string };
    if (file.type !== 'ed25519' || typeof file.secretKey !== 'string') throw new Error('not an openlec key file: needs "type": "ed25519" and "secretKey"');
    secret = file.secretKey;
  }
  const seed = fromBase64Url(secret);
  if (!seed || seed.length !== 32) throw new Error('a secret key is 43 base64url characters (32 bytes)');
  return keyPairFromSeed(seed);
}

/**
 * login signs the server's challenge with the key, in the browser: the secret key never
 * leaves the page. Only a login message for this community's log is ever signed.
 */
export async function login(text: string, origin: string): Promise<Session> {
  const kp = parseSecret(text);
  const key = encodeKey(kp.publicKey);
  // The client refuses to sign anything but `openlec-login\n${origin}\n${challenge}\n`; sent once each, as any write but a transaction.
  const t = await current().login({ key: kp, origin, retry: false }).catch((e: unknown) => Promise.reject(ours(e)));
  const s: Session = { token: t.token, key, roles: t.roles, expiresAt: t.expiresAt };
  held = kp;
  sessionStorage.setItem(STORE, JSON.stringify(s));
  return s;
}
