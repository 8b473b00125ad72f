import { OpenlecError } from '../errors.ts';
import { concatBytes, equalBytes, fromBase64, fromHex, toBase64, toHex, utf8 } from './bytes.ts';
import { sha256 } from './hash.ts';
import { type MessageSigner, sign, type SignatureVerifier, verifySignature } from './keys.ts';
import { parseNote } from './note.ts';

/**
 * Cosignatures as specified by C2SP tlog-cosignature (https://c2sp.org/tlog-cosignature),
 * Ed25519 cosignature/v1: a witness's note signature on a checkpoint, stating that as of
 * `time` this is the largest consistent tree it has seen for the log. The key id is
 * SHA-256(name || 0x0A || 0x04 || public key)[:4]; the signature is
 * u64 timestamp (big-endian) || Ed25519 signature over
 * "cosignature/v1\ntime <timestamp>\n" || the checkpoint text.
 */
const ALG_COSIGNATURE_V1 = 0x04;
const SIGNATURE_PREFIX = '\u2014 ';

export interface Cosigner {
  readonly name: string;
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

export interface CosignerKey {
  readonly name: string;
  readonly keyId: Uint8Array;
  readonly publicKey: Uint8Array;
}

export function cosignerKeyId(name: string, publicKey: Uint8Array): Uint8Array {
  return sha256(concatBytes(utf8(name), new Uint8Array([0x0a, ALG_COSIGNATURE_V1]), publicKey)).slice(0, 4);
}

/** formatCosignerKey writes the witness's verifier key: "<name>+<hex key id>+<base64(0x04 || public key)>". */
export function formatCosignerKey(name: string, publicKey: Uint8Array): string {
  if (!name || /[\s+]/u.test(name)) throw new OpenlecError('E_NOTE_KEY_NAME', `cosigner name "${name}" must be non-empty with no spaces or "+"`, { field: 'name' });
  return `${name}+${toHex(cosignerKeyId(name, publicKey))}+${toBase64(concatBytes(new Uint8Array([ALG_COSIGNATURE_V1]), publicKey))}`;
}

export function parseCosignerKey(text: string): CosignerKey {
  const bad = (why: string) => new OpenlecError('E_COSIGNER_KEY', `cosigner key "${text}": ${why}`, { field: 'witness' });
  const first = text.indexOf('+');
  const second = text.indexOf('+', first + 1);
  if (first <= 0 || second < 0) throw bad('expected name+keyid+key');
  const name = text.slice(0, first);
  const keyId = fromHex(text.slice(first + 1, second));
  const key = fromBase64(text.slice(second + 1));
  if (!keyId || keyId.length !== 4 || !key || key.length !== 33 || key[0] !== ALG_COSIGNATURE_V1) throw bad('not an Ed25519 cosignature/v1 key');
  const publicKey = key.slice(1);
  if (!equalBytes(cosignerKeyId(name, publicKey), keyId)) throw bad('key id does not match the key');
  return { name, keyId, publicKey };
}

const message = (checkpointText: string, timestamp: number) => utf8(`cosignature/v1\ntime ${timestamp}\n${checkpointText}`);

function u64(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n));
  return b;
}

/** cosign returns the signature line (ending in a newline) of a cosignature on a checkpoint's text at `timestamp` (POSIX seconds). */
export function cosign(checkpointText: string, cosigner: Cosigner, timestamp: number, signWith: MessageSigner = sign): string {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new OpenlecError('E_COSIGNATURE', 'timestamp must be a non-negative integer of seconds', { field: 'timestamp' });
  const sig = signWith(cosigner.secretKey, message(checkpointText, timestamp));
  return `${SIGNATURE_PREFIX}${cosigner.name} ${toBase64(concatBytes(cosignerKeyId(cosigner.name, cosigner.publicKey), u64(timestamp), sig))}\n`;
}

/**
 * cosignaturesOf returns the valid cosignatures on a note by the given keys, with their
 * times. Lines by other keys are ignored (the log's own signature among them); a line by
 * a known key that does not verify is an error naming the cosigner.
 */
export function cosignaturesOf(note: string, keys: readonly CosignerKey[], verify: SignatureVerifier = verifySignature): { name: string; timestamp: number }[] {
  const { text, signatures } = parseNote(note);
  const out: { name: string; timestamp: number }[] = [];
  for (const s of signatures) {
    const key = keys.find((k) => k.name === s.name && equalBytes(k.keyId, s.keyId));
    if (!key || out.some((o) => o.name === key.name)) continue;
    if (s.signature.length !== 72) throw new OpenlecError('E_COSIGNATURE', `cosignature of "${s.name}" is not timestamp || Ed25519 signature`, { field: 'cosignature' });
    const timestamp = Number(new DataView(s.signature.buffer, s.signature.byteOffset, 8).getBigUint64(0));
    if (!verify(key.publicKey, message(text, timestamp), s.signature.slice(8))) {
      throw new OpenlecError('E_COSIGNATURE', `the cosignature of "${s.name}" does not verify`, { field: 'cosignature', details: { witness: s.name } });
    }
    out.push({ name: key.name, timestamp });
  }
  return out;
}

/** addSignatureLines appends signature lines to a signed note, skipping lines already there. */
export function addSignatureLines(note: string, lines: readonly string[]): string {
  const have = new Set(note.split('\n'));
  return note + lines.map((l) => (l.endsWith('\n') ? l : `${l}\n`)).filter((l) => !have.has(l.slice(0, -1))).join('');
}
