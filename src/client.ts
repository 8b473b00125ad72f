import { httpbis } from 'http-message-signatures';
import { encodeKey, type KeyPair, type MessageSigner, sha256, sign, toBase64 } from './ledger/index.ts';

/**
 * The transaction signer lives in src/api/signer.ts (browser-safe); this module adds the
 * request signer, which needs node (http-message-signatures: node:crypto, Buffer).
 */
export { Signer } from './api/signer.ts';

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
