import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { OpenlecError } from '../errors.ts';
import { writeSyncedTemp } from './files.ts';
import { encodeKey, fromBase64Url, type KeyPair, keyPairFromSeed, toBase64Url } from '../ledger/index.ts';

/**
 * Key files hold one Ed25519 key as JSON: { "type": "ed25519", "publicKey": base64url,
 * "secretKey": base64url of the 32-byte seed }, written with mode 0600. The public key
 * is the participant's pseudonym in the log.
 */
const KeyFileSchema = z.strictObject({ type: z.literal('ed25519'), publicKey: z.string(), secretKey: z.string() });

export function generateKeyPair(): KeyPair {
  return keyPairFromSeed(new Uint8Array(randomBytes(32)));
}

/** writeKeyFile writes a key file atomically and refuses to replace an existing one. */
export function writeKeyFile(path: string, key: KeyPair): void {
  const text = JSON.stringify({ type: 'ed25519', publicKey: encodeKey(key.publicKey), secretKey: toBase64Url(key.secretKey) }, null, 2) + '\n';
  // The folder (keys/ beside a database, usually) is made readable by its owner only.
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = writeSyncedTemp(path, text);
  // link() creates the name only if it is free, atomically: a key is never overwritten.
  try {
    linkSync(tmp, path);
  } catch (e) {
    const exists = (e as NodeJS.ErrnoException).code === 'EEXIST';
    throw new OpenlecError(exists ? 'E_KEY_EXISTS' : 'E_KEY_FILE', exists ? `${path} already exists; refusing to overwrite a key` : `${path}: ${(e as Error).message}`, { field: 'out', cause: e });
  } finally {
    unlinkSync(tmp);
  }
}

export function readKeyFile(path: string): KeyPair {
  let parsed: z.infer<typeof KeyFileSchema>;
  try {
    parsed = KeyFileSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
  } catch (e) {
    throw new OpenlecError('E_KEY_FILE', `${path} is not an openlec key file: ${(e as Error).message.split('\n')[0]}`, { field: 'key', cause: e });
  }
  const seed = fromBase64Url(parsed.secretKey);
  if (!seed || seed.length !== 32) throw new OpenlecError('E_KEY_FILE', `${path}: secretKey is not a 32-byte base64url seed`, { field: 'key' });
  const key = keyPairFromSeed(seed);
  if (encodeKey(key.publicKey) !== parsed.publicKey) throw new OpenlecError('E_KEY_FILE', `${path}: publicKey does not match secretKey`, { field: 'key' });
  return key;
}
