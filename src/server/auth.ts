import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
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

  private mac(payload: string): string {
    return toBase64Url(createHmac('sha256', this.secret).update(payload).digest());
  }
}
