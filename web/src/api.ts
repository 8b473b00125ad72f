import { encodeKey, fromBase64Url, type KeyPair, keyPairFromSeed, sign, toBase64Url, utf8 } from '../../src/ledger/index.ts';

/** The browser's side of the API: fetch with the session token, errors as thrown ApiErrors. */
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

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly field: string | null) {
    super(message);
  }
}

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

const headers = (): Record<string, string> => {
  const s = session();
  return s ? { authorization: `Bearer ${s.token}` } : {};
};

async function failed(res: Response): Promise<ApiError> {
  const e = (await res.json().catch(() => ({}))) as { code?: string; message?: string; field?: string | null };
  return new ApiError(res.status, e.code ?? `HTTP_${res.status}`, e.message ?? res.statusText, e.field ?? null);
}

export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const res = await fetch(apiUrl(path), {
    method: init.method ?? 'GET',
    headers: { ...headers(), ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  if (!res.ok) throw await failed(res);
  let body = (await res.json()) as unknown;
  // A list answered in pages (X-Next-Cursor): the view gets the whole list, page after page.
  for (let next = res.headers.get('x-next-cursor'); next && Array.isArray(body) && (init.method ?? 'GET') === 'GET';) {
    const url = new URL(apiUrl(path), location.href);
    url.searchParams.set('cursor', next);
    const more = await fetch(url, { headers: headers() });
    if (!more.ok) throw await failed(more);
    body = body.concat((await more.json()) as unknown[]);
    next = more.headers.get('x-next-cursor');
  }
  return body as T;
}

/** download fetches a file with the session's token and hands it to the browser as a download. */
export async function download(path: string, filename: string): Promise<void> {
  const res = await fetch(apiUrl(path), { headers: headers() });
  if (!res.ok) throw await failed(res);
  const url = URL.createObjectURL(await res.blob());
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
  const ch = await api<{ challenge: string; message: string }>('/v1/auth/challenge', { method: 'POST' });
  if (ch.message !== `openlec-login\n${origin}\n${ch.challenge}\n`) throw new Error('the server asked to sign something other than a login to this community: refused');
  const signature = toBase64Url(sign(kp.secretKey, utf8(ch.message)));
  const t = await api<{ token: string; roles: string[]; expiresAt: string }>('/v1/auth/token', { method: 'POST', body: { key, challenge: ch.challenge, signature } });
  const s: Session = { token: t.token, key, roles: t.roles, expiresAt: t.expiresAt };
  held = kp;
  sessionStorage.setItem(STORE, JSON.stringify(s));
  return s;
}
