import { OpenlecError } from '../errors.ts';
import { concatBytes, fromBase64Url, sha256, toBase64Url, toHex, utf8 } from '../ledger/index.ts';

/**
 * An API key's material, apart from the rules (api-keys.ts) so that a browser or any
 * client can make a key with nothing but the ledger's hash and encodings.
 */
export const API_KEY_ID = /^[0-9a-f]{16}$/;
/** The bearer form: `olk_` + 16 hex digits + `_` + 43 base64url characters. */
export const API_KEY_TOKEN = /^olk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

/**
 * apiKeyDigest: what the log holds of a key, bound to its community and id: a digest
 * copied under another id, or into another community's log, matches nothing.
 */
export function apiKeyDigest(community: string, id: string, secret: Uint8Array): string {
  return toBase64Url(sha256(concatBytes(utf8(`openlec-api-key\n${community}\n${id}\n`), secret)));
}

export interface ApiKeyMaterial {
  id: string;
  /** The bearer: `olk_<id>_<secret>`. Shown once, kept by the machine that uses it. */
  token: string;
  digest: string;
}

/** makeApiKey builds a key of a community from 8 random bytes (its id) and 32 (its secret); the randomness comes from the caller. */
export function makeApiKey(community: string, idBytes: Uint8Array, secret: Uint8Array): ApiKeyMaterial {
  if (idBytes.length !== 8 || secret.length !== 32) throw new OpenlecError('E_API_KEY', 'an API key is made of 8 random bytes (id) and 32 (secret)', { field: 'secret' });
  const id = toHex(idBytes);
  return { id, token: `olk_${id}_${toBase64Url(secret)}`, digest: apiKeyDigest(community, id, secret) };
}

/** parseApiKey reads the bearer form, or undefined when the text is not an API key. */
export function parseApiKey(text: string): { id: string; secret: Uint8Array } | undefined {
  const m = API_KEY_TOKEN.exec(text);
  const secret = m && fromBase64Url(m[2]!);
  return m && secret && secret.length === 32 ? { id: m[1]!, secret } : undefined;
}

