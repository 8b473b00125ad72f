import { ed25519 } from '@noble/curves/ed25519.js';
import { OpenlecError } from '../errors.ts';
import { fromBase64Url, toBase64Url } from './bytes.ts';

/**
 * Ed25519 keys (RFC 8032). A participant is known in the log only by its public key,
 * written as base64url without padding (43 characters): a pseudonym, never a name.
 * These functions use @noble/curves so they run in browsers; Node adapters may verify
 * through node:crypto instead (src/node), which gives identical results faster.
 */
export interface KeyPair {
  /** 32-byte seed (the RFC 8032 private key). */
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** A SignatureVerifier checks an Ed25519 signature; swap in a faster one at the edge. */
export type SignatureVerifier = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean;

/** A MessageSigner makes an Ed25519 signature (deterministic, RFC 8032); swap in a faster one at the edge. */
export type MessageSigner = (secretKey: Uint8Array, message: Uint8Array) => Uint8Array;

export function keyPairFromSeed(seed: Uint8Array): KeyPair {
  if (seed.length !== 32) throw new OpenlecError('E_BAD_KEY', `an Ed25519 seed is 32 bytes, got ${seed.length}`, { field: 'secretKey' });
  return { secretKey: seed, publicKey: ed25519.getPublicKey(seed) };
}

export const sign: MessageSigner = (secretKey, message) => ed25519.sign(message, secretKey);

export const verifySignature: SignatureVerifier = (publicKey, message, signature) => {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
};

/** encodeKey writes a public key as the 43-character base64url actor id. */
export const encodeKey = (publicKey: Uint8Array): string => toBase64Url(publicKey);

/** decodeKey reads an actor id; it must be the canonical encoding of 32 bytes. */
export function decodeKey(text: string, field = 'key'): Uint8Array {
  const bytes = typeof text === 'string' && text.length === 43 ? fromBase64Url(text) : undefined;
  if (!bytes || bytes.length !== 32 || toBase64Url(bytes) !== text) {
    throw new OpenlecError('E_BAD_KEY', `${field}: not an Ed25519 public key (43 base64url characters)`, { field });
  }
  return bytes;
}

export const ACTOR_KEY = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;
