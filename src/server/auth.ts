import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { httpbis } from 'http-message-signatures';
import { apiKeySession } from '../access/api-keys.ts';
import { participant } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import { decodeKey, fromBase64Url, type SignatureVerifier, toBase64Url, utf8 } from '../ledger/index.ts';
import type { Role } from '../state/registry.ts';
import type { State } from '../state/tables.ts';

/**
 * Reads are authorised by the participant's own key: the server hands out a challenge,
 * the participant signs `openlec-login\n<origin>\n<challenge>\n` with the Ed25519 key
 * registered in the log, and gets a short-lived bearer token carrying the key and its
 * roles (from the log, at the time of login). Challenges and tokens are HMAC-SHA256 under
 * a server secret, so issuing them stores nothing: a flood of anonymous challenge
 * requests fills no table and cannot lock anyone out of logging in. A challenge carries
 * its expiry; one used with a valid signature is remembered until it expires (a bounded
 * set, filled only after a participant's signature), so a replay yields nothing.
 *
 * Scripts may instead sign each request (RFC 9421 HTTP message signatures, alg ed25519,
 * keyid = the participant key): see signedSession.
 */
export interface Session {
  readonly key: string;
  readonly roles: readonly Role[];
  readonly expiresAt: number;
  /** The API key the request came with (src/access/api-keys.ts), when it did. */
  readonly apiKey?: string;
}

/**
 * requestPath is the path the client sent, which its signature covers ("@path"): a
 * multi-community server (multi.ts) routes `/c/<id>/v1/...` to the community's API as
 * `/v1/...` and keeps what was sent on the raw request as `openlecPath`.
 */
export function requestPath(req: { url: string; raw?: object }): string {
  const sent = (req.raw as { openlecPath?: unknown } | undefined)?.openlecPath;
  return typeof sent === 'string' ? sent : req.url;
}

export const loginMessage = (origin: string, challenge: string) => utf8(`openlec-login\n${origin}\n${challenge}\n`);

/** A challenge is valid this long: enough to sign it, short enough to bound the used set. */
const CHALLENGE_TTL_MS = 5 * 60_000;
const MAX_USED = 100_000;
const CHALLENGE = /^([A-Za-z0-9_-]{22})\.([0-9a-z]{1,11})\.([A-Za-z0-9_-]{43})$/;

export class Auth {
  /** Challenges used with a valid signature, by expiry (insertion order is expiry order). */
  private readonly used = new Map<string, number>();
  /** The clock API keys are judged at: the operator's transaction clock (buildApp sets it), else `now`. */
  keyClock: () => number;

  constructor(
    private readonly secret: Uint8Array, private readonly origin: string, private readonly now: () => number,
    private readonly verify: SignatureVerifier, private readonly ttlMs = 15 * 60_000,
  ) {
    this.keyClock = now;
  }

  /** challenge issues `<nonce>.<expiry, base 36 ms>.<MAC over origin, nonce and expiry>`; nothing is stored. */
  challenge(): { challenge: string; message: string; expiresAt: string } {
    const expiresAt = this.now() + CHALLENGE_TTL_MS;
    const id = `${toBase64Url(randomBytes(16))}.${expiresAt.toString(36)}`;
    const challenge = `${id}.${this.challengeMac(id)}`;
    return { challenge, message: `openlec-login\n${this.origin}\n${challenge}\n`, expiresAt: new Date(expiresAt).toISOString() };
  }

  /** login turns a signed challenge into a token: MAC (this server, this origin), expiry, participant, signature, not used before. */
  login(state: State, key: string, challenge: string, signature: string): { token: string; roles: readonly Role[]; expiresAt: string } {
    const m = CHALLENGE.exec(challenge);
    if (!m || !equalText(this.challengeMac(`${m[1]}.${m[2]}`), m[3]!)) throw new OpenlecError('E_AUTH', 'not a challenge of this server: ask for one at POST /v1/auth/challenge', { field: 'challenge' });
    const exp = parseInt(m[2]!, 36);
    const t = this.now();
    if (exp < t || exp > t + CHALLENGE_TTL_MS) throw new OpenlecError('E_AUTH', 'expired challenge: ask for a new one', { field: 'challenge' });
    const p = participant(state, key);
    if (!p) throw new OpenlecError('E_AUTH', `key ${key} is not a participant of this community`, { field: 'key' });
    const sig = fromBase64Url(signature);
    if (!sig || !this.verify(decodeKey(key), loginMessage(this.origin, challenge), sig)) throw new OpenlecError('E_AUTH', 'the signature does not match the key and challenge', { field: 'signature' });
    this.useUp(challenge, exp, t);
    const session: Session = { key, roles: p.roles, expiresAt: this.now() + this.ttlMs };
    const payload = toBase64Url(utf8(JSON.stringify(session)));
    return { token: `${payload}.${this.mac(payload)}`, roles: p.roles, expiresAt: new Date(session.expiresAt).toISOString() };
  }

  /**
   * session checks a bearer: a token from login, or an organisation's API key
   * (`olk_<id>_<secret>`, judged against the log's api_keys at this server's clock);
   * undefined when absent, an error when invalid, expired or revoked.
   */
  session(authorization: string | undefined, state?: State): Session | undefined {
    if (!authorization) return undefined;
    if (authorization.startsWith('Bearer olk_')) {
      if (!state) throw new OpenlecError('E_AUTH', 'API keys are not taken on this route: log in for a token', { field: 'authorization' });
      return apiKeySession(state, authorization.slice(7), this.keyClock(), equalText);
    }
    const m = /^Bearer ([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(authorization);
    if (!m) throw new OpenlecError('E_AUTH', 'Authorization must be "Bearer <token>" or "Bearer olk_<API key>"', { field: 'authorization' });
    if (!equalText(this.mac(m[1]!), m[2]!)) throw new OpenlecError('E_AUTH', 'invalid token', { field: 'authorization' });
    const s = JSON.parse(Buffer.from(fromBase64Url(m[1]!)!).toString('utf8')) as Session;
    if (s.expiresAt < this.now()) throw new OpenlecError('E_AUTH', 'token expired: log in again', { field: 'authorization' });
    return s;
  }

  /**
   * signedSession authenticates a request signed per RFC 9421: `Signature-Input` must cover
   * "@method", "@authority", "@path" and "@query" with `created`, `keyid` (the participant's
   * key) and `alg="ed25519"`; the signature must be at most 5 minutes old (30 s clock
   * tolerance). A request with a body must also cover its `content-digest` header, which
   * must hold the SHA-256 (or SHA-512) of the bytes received (RFC 9530). Undefined when the
   * request carries no signature.
   */
  async signedSession(state: State, req: { method: string; url: string; headers: Record<string, string | string[] | undefined>; raw?: object }, hasBody: boolean): Promise<Session | undefined> {
    if (req.headers['signature-input'] === undefined && req.headers.signature === undefined) return undefined;
    // A body is covered through its Content-Digest (RFC 9530): the signature covers the header, the header the bytes.
    if (hasBody) checkContentDigest(req.headers['content-digest'], (req.raw as { openlecBody?: Uint8Array } | undefined)?.openlecBody);
    let roles: readonly Role[] | undefined;
    let key = '';
    const headers = Object.fromEntries(Object.entries(req.headers).filter((e): e is [string, string | string[]] => e[1] !== undefined));
    let ok: boolean | null;
    try {
      ok = await httpbis.verifyMessage({
        requiredFields: ['@method', '@authority', '@path', '@query', ...(hasBody ? ['content-digest'] : [])], requiredParams: ['created', 'keyid', 'alg'], maxAge: 300, tolerance: 30,
        keyLookup: async (params) => {
          const p = typeof params.keyid === 'string' ? participant(state, params.keyid) : undefined;
          if (!p) return null;
          key = p.key;
          roles = p.roles;
          return { id: p.key, algs: ['ed25519'], verify: async (data, signature) => this.verify(decodeKey(p.key), data, signature) };
        },
      }, { method: req.method, url: `http://${headers.host ?? 'localhost'}${requestPath(req)}`, headers });
    } catch (e) {
      throw new OpenlecError('E_AUTH', `HTTP message signature refused: ${(e as Error).message}`, { field: 'signature-input' });
    }
    if (ok === null || !roles) throw new OpenlecError('E_AUTH', 'the signature\'s keyid is not a participant key of this community', { field: 'signature-input' });
    if (!ok) throw new OpenlecError('E_AUTH', 'the HTTP message signature does not verify', { field: 'signature' });
    return { key, roles, expiresAt: this.now() };
  }

  /** useUp remembers a challenge until it expires; past MAX_USED the oldest are forgotten (a replay of those yields a token for the same key, no more). */
  private useUp(challenge: string, exp: number, t: number): void {
    if (this.used.has(challenge)) throw new OpenlecError('E_AUTH', 'this challenge was used already: ask for a new one', { field: 'challenge' });
    for (const [c, e] of this.used) {
      if (e >= t && this.used.size < MAX_USED) break;
      this.used.delete(c);
    }
    this.used.set(challenge, exp);
  }

  private mac(payload: string): string {
    return toBase64Url(createHmac('sha256', this.secret).update(payload).digest());
  }

  /** Domain-separated from token MACs: a token payload is base64url and never holds a newline. */
  private challengeMac(id: string): string {
    return this.mac(`openlec-challenge\n${this.origin}\n${id}`);
  }
}

function equalText(want: string, got: string): boolean {
  const a = Buffer.from(want);
  const b = Buffer.from(got);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * checkContentDigest: the Content-Digest header (RFC 9530, a structured dictionary such as
 * `sha-256=:<base64>:`) names at least one digest this server knows (sha-256, sha-512), and
 * every one it knows matches the body's bytes.
 */
export function checkContentDigest(header: string | string[] | undefined, body: Uint8Array | undefined): void {
  const fail = (why: string) => {
    throw new OpenlecError('E_AUTH', `content-digest: ${why}`, { field: 'content-digest' });
  };
  if (typeof header !== 'string' || header === '') fail('a signed request with a body must carry a Content-Digest (RFC 9530) and cover it in its signature');
  if (!body) fail('the body\'s bytes were not kept: only application/json bodies can be signed');
  let known = 0;
  for (const member of (header as string).split(',')) {
    const m = /^\s*([a-z0-9-]+)=:([A-Za-z0-9+/]*={0,2}):\s*$/.exec(member);
    if (!m) fail(`${JSON.stringify(member.trim().slice(0, 40))} is not an algorithm and a byte sequence (sha-256=:<base64>:)`);
    const alg = m![1]!;
    if (alg !== 'sha-256' && alg !== 'sha-512') continue;
    known++;
    if (createHash(alg.replace('-', '')).update(body!).digest('base64') !== m![2]) fail(`the ${alg} digest does not match the body received`);
  }
  if (known === 0) fail('no sha-256 or sha-512 digest');
}
