import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { OpenlecError } from '../errors.ts';

/**
 * A driver's token (RFID card uid, app user id, contract id) never enters the log: the
 * CPO's adapter replaces it by a keyed hash, HMAC-SHA256 under the CPO's token key (kept
 * off the log, like personal data), truncated to 128 bits. Without the key nobody can
 * test a card number against the log; with it, the CPO finds a driver's sessions.
 */
export const PSEUDONYM = /^[0-9a-f]{32}$/;

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** tokenPseudonym: the 32-hex pseudonym of an OCPI token, by eMSP and uid (case-insensitive, as OCPI CiStrings compare). */
export function tokenPseudonym(key: Uint8Array, countryCode: string, partyId: string, uid: string): string {
  if (key.length < 32) throw new OpenlecError('E_TOKEN_KEY', 'the token key must have at least 32 bytes', { field: 'tokenKey' });
  const message = new TextEncoder().encode(`${countryCode}*${partyId}*${uid}`.toUpperCase());
  return hex(hmac(sha256, key, message).subarray(0, 16));
}
