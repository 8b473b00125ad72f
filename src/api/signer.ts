import { community, participant } from '../community/tables.ts';
import { type Envelope, encodeKey, type KeyPair, type MessageSigner, type SignedTransaction, signTransaction, TX_VERSION } from '../ledger/index.ts';
import type { State } from '../state/tables.ts';

/**
 * Signer builds and signs transactions for one key, numbering nonces from `nonce`
 * upward. `now` supplies issuedAt: the caller owns the clock.
 *
 * (Here rather than in src/client.ts, which re-exports it, so that the browser-safe client
 * core, src/api/core.ts, signs transactions without importing the node-only RFC 9421 signer.)
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
