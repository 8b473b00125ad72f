import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { httpbis } from 'http-message-signatures';
import { participant } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import { decodeKey, fromBase64Url, type SignatureVerifier, toBase64Url, utf8 } from '../ledger/index.ts';
import type { Role } from '../state/registry.ts';
import type { State } from '../state/tables.ts';

/**
 * Reads are authorised by the participant's own key: the server hands out a one-time
 * challenge, the participant signs `openlec-login\n<origin>\n<challenge>\n` with the
 * Ed25519 key registered in the log, and gets a short-lived bearer token carrying the key
 * and its roles (from the log, at the time of login). Tokens are HMAC-SHA256 under a
 * server secret; nothing about them is stored.
 *
 * Scripts may instead sign each request (RFC 9421 HTTP message signatures, alg ed25519,
 * keyid = the participant key): see signedSession.
 */
export interface Session {
  readonly key: string;
  readonly roles: readonly Role[];
  readonly expiresAt: number;
}

export const loginMessage = (origin: string, challenge: string) => utf8(`openlec-login\n${origin}\n${challenge}\n`);

export class Auth {
  private readonly challenges = new Map<string, number>();

  constructor(
    private readonly secret: Uint8Array, private readonly origin: string, private readonly now: () => number,
    private readonly verify: SignatureVerifier, private readonly ttlMs = 15 * 60_000,
  ) {}

  challenge(): { challenge: string; message: string; expiresAt: string } {
    const t = this.now();
    for (const [c, exp] of this.challenges) if (exp < t) this.challenges.delete(c);
    if (this.challenges.size > 100_000) throw new OpenlecError('E_BUSY', 'too many open challenges; try again', { field: 'challenge' });
    const challenge = toBase64Url(randomBytes(32));
    this.challenges.set(challenge, t + 5 * 60_000);
    return { challenge, message: `openlec-login\n${this.origin}\n${challenge}\n`, expiresAt: new Date(t + 5 * 60_000).toISOString() };
  }

  /** login turns a signed challenge into a token; the challenge is used up either way. */
  login(state: State, key: string, challenge: string, signature: string): { token: string; roles: readonly Role[]; expiresAt: string } {
    const exp = this.challenges.get(challenge);
    this.challenges.delete(challenge);
    if (exp === undefined || exp < this.now()) throw new OpenlecError('E_AUTH', 'unknown or expired challenge: ask for a new one', { field: 'challenge' });
    const p = participant(state, key);
    if (!p) throw new OpenlecError('E_AUTH', `key ${key} is not a participant of this community`, { field: 'key' });
    const sig = fromBase64Url(signature);
    if (!sig || !this.verify(decodeKey(key), loginMessage(this.origin, challenge), sig)) throw new OpenlecError('E_AUTH', 'the signature does not match the key and challenge', { field: 'signature' });
    const session: Session = { key, roles: p.roles, expiresAt: this.now() + this.ttlMs };
    const payload = toBase64Url(utf8(JSON.stringify(session)));
    return { token: `${payload}.${this.mac(payload)}`, roles: p.roles, expiresAt: new Date(session.expiresAt).toISOString() };
  }

  /** session checks a bearer token; undefined when absent, an error when invalid or expired. */
  session(authorization: string | undefined): Session | undefined {
    if (!authorization) return undefined;
    const m = /^Bearer ([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(authorization);
    if (!m) throw new OpenlecError('E_AUTH', 'Authorization must be "Bearer <token>"', { field: 'authorization' });
    const want = Buffer.from(this.mac(m[1]!));
    const got = Buffer.from(m[2]!);
    if (want.length !== got.length || !timingSafeEqual(want, got)) throw new OpenlecError('E_AUTH', 'invalid token', { field: 'authorization' });
    const s = JSON.parse(Buffer.from(fromBase64Url(m[1]!)!).toString('utf8')) as Session;
    if (s.expiresAt < this.now()) throw new OpenlecError('E_AUTH', 'token expired: log in again', { field: 'authorization' });
    return s;
  }

  /**
   * signedSession authenticates a request signed per RFC 9421: `Signature-Input` must cover
   * "@method", "@authority", "@path" and "@query" with `created`, `keyid` (the participant's
   * key) and `alg="ed25519"`; the signature must be at most 5 minutes old (30 s clock
   * tolerance). Only requests without a body are accepted this way: a body would need a
   * Content-Digest, and writes are signed transactions anyway. Undefined when the request
   * carries no signature.
   */
  async signedSession(state: State, req: { method: string; url: string; headers: Record<string, string | string[] | undefined> }, hasBody: boolean): Promise<Session | undefined> {
    if (req.headers['signature-input'] === undefined && req.headers.signature === undefined) return undefined;
    if (hasBody) throw new OpenlecError('E_AUTH', 'HTTP message signatures are accepted on requests without a body; use a token for this one', { field: 'signature' });
    let roles: readonly Role[] | undefined;
    let key = '';
    const headers = Object.fromEntries(Object.entries(req.headers).filter((e): e is [string, string | string[]] => e[1] !== undefined));
    let ok: boolean | null;
    try {
      ok = await httpbis.verifyMessage({
        requiredFields: ['@method', '@authority', '@path', '@query'], requiredParams: ['created', 'keyid', 'alg'], maxAge: 300, tolerance: 30,
        keyLookup: async (params) => {
          const p = typeof params.keyid === 'string' ? participant(state, params.keyid) : undefined;
          if (!p) return null;
          key = p.key;
          roles = p.roles;
          return { id: p.key, algs: ['ed25519'], verify: async (data, signature) => this.verify(decodeKey(p.key), data, signature) };
        },
      }, { method: req.method, url: `http://${headers.host ?? 'localhost'}${req.url}`, headers });
    } catch (e) {
      throw new OpenlecError('E_AUTH', `HTTP message signature refused: ${(e as Error).message}`, { field: 'signature-input' });
    }
    if (ok === null || !roles) throw new OpenlecError('E_AUTH', 'the signature\'s keyid is not a participant key of this community', { field: 'signature-input' });
    if (!ok) throw new OpenlecError('E_AUTH', 'the HTTP message signature does not verify', { field: 'signature' });
    return { key, roles, expiresAt: this.now() };
  }

  private mac(payload: string): string {
    return toBase64Url(createHmac('sha256', this.secret).update(payload).digest());
  }
}
