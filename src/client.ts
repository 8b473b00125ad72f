import { httpbis } from 'http-message-signatures';
import { community, participant } from './community/tables.ts';
import { type Envelope, encodeKey, type KeyPair, type MessageSigner, sha256, sign, type SignedTransaction, signTransaction, toBase64, TX_VERSION } from './ledger/index.ts';
import type { State } from './state/tables.ts';

/**
 * Signer builds and signs transactions for one key, numbering nonces from `nonce`
 * upward. `now` supplies issuedAt: the caller owns the clock.
 */
export class Signer {
  readonly actor: string;
  /** `signWith` may be node:crypto's signer at the edge: the same signatures, faster. */
  constructor(
    readonly key: KeyPair, readonly community: string, public nonce = 0,
    private readonly now: () => string = () => new Date().toISOString(), private readonly signWith?: MessageSigner,
  ) {
    this.actor = encodeKey(key.publicKey);
  }

  /** forState signs for the log's community, continuing from the key's last nonce in it. */
  static forState(state: State, key: KeyPair, now?: () => string, signWith?: MessageSigner): Signer {
    return new Signer(key, community(state)!.id, participant(state, encodeKey(key.publicKey))?.nonce ?? 0, now, signWith);
  }

  sign<B>(type: string, body: B, issuedAt = this.now()): SignedTransaction<B> {
    const envelope: Envelope<B> = { v: TX_VERSION, type, community: this.community, actor: this.actor, nonce: ++this.nonce, issuedAt: issuedAt.replace(/\.\d{3}Z$/, 'Z'), body };
    return signTransaction(envelope, this.key.secretKey, this.signWith);
  }
}

/**
 * signRequest signs an HTTP request per RFC 9421 (alg ed25519, keyid = the participant
 * key), covering "@method", "@authority", "@path" and "@query": the headers to send
 * instead of a bearer token. `created` is in seconds since the epoch. With a body, the
 * headers also carry its Content-Digest (RFC 9530, sha-256), which the signature covers:
 * send exactly these bytes.
 */
export async function signRequest(key: KeyPair, method: string, url: string, created = Math.floor(Date.now() / 1000), signWith: MessageSigner = sign, body?: Uint8Array): Promise<Record<string, string>> {
  const headers: Record<string, string> = body ? { 'content-digest': `sha-256=:${toBase64(sha256(body))}:` } : {};
  const signed = await httpbis.signMessage({
    key: { id: encodeKey(key.publicKey), alg: 'ed25519', sign: async (data) => Buffer.from(signWith(key.secretKey, data)) },
    fields: ['@method', '@authority', '@path', '@query', ...(body ? ['content-digest'] : [])], params: ['created', 'keyid', 'alg'], paramValues: { created: new Date(created * 1000) }, name: 'openlec',
  }, { method, url, headers });
  return Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k.toLowerCase(), String(v)]));
}
