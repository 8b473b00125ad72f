import { OpenlecError } from '../errors.ts';
import { concatBytes, equalBytes, fromBase64, fromHex, toBase64, toHex, utf8 } from './bytes.ts';
import { sha256 } from './hash.ts';
import { sign, type SignatureVerifier, verifySignature } from './keys.ts';

/**
 * Signed notes as specified by C2SP signed-note (https://c2sp.org/signed-note): a
 * UTF-8 text ending in a newline, a blank line, then one line per signature,
 * "— <key name> <base64(key id || signature)>". For Ed25519 the key id is the first
 * four bytes of SHA-256(name || 0x0A || 0x01 || public key) and the signature covers
 * the text alone. Byte-exact, so existing witnesses and tools can read openlec's notes.
 */
export interface NoteSigner {
  readonly name: string;
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

export interface NoteVerifierKey {
  readonly name: string;
  readonly keyId: Uint8Array;
  readonly publicKey: Uint8Array;
}

export interface NoteSignature {
  readonly name: string;
  readonly keyId: Uint8Array;
  readonly signature: Uint8Array;
}

const ALG_ED25519 = 0x01;
const SIGNATURE_PREFIX = '\u2014 ';
const MAX_NOTE_BYTES = 1 << 20;
/**
 * At most 100 signature lines, as Go's sumdb/note: within 1 MiB a note could hold about
 * 9,500 lines, each a signature to check, seconds of work for a browser or a witness.
 */
const MAX_NOTE_SIGNATURES = 100;

function assertKeyName(name: string): void {
  if (name.length === 0 || /[\s+]/u.test(name)) {
    throw new OpenlecError('E_NOTE_KEY_NAME', `note key name "${name}" must be non-empty with no spaces or "+"`, { field: 'name' });
  }
}

/** noteKeyId computes the 4-byte key id of an Ed25519 note key. */
export function noteKeyId(name: string, publicKey: Uint8Array): Uint8Array {
  return sha256(concatBytes(utf8(name), new Uint8Array([0x0a, ALG_ED25519]), publicKey)).slice(0, 4);
}

/** formatVerifierKey writes "<name>+<hex key id>+<base64(0x01 || public key)>". */
export function formatVerifierKey(name: string, publicKey: Uint8Array): string {
  assertKeyName(name);
  return `${name}+${toHex(noteKeyId(name, publicKey))}+${toBase64(concatBytes(new Uint8Array([ALG_ED25519]), publicKey))}`;
}

/** parseVerifierKey reads a verifier key string and checks its key id. */
export function parseVerifierKey(text: string): NoteVerifierKey {
  // The name holds no "+", the key id is hex; the base64 key may contain "+".
  const bad = (why: string) => new OpenlecError('E_NOTE_VERIFIER_KEY', `verifier key: ${why}`, { field: 'verifierKey' });
  const first = text.indexOf('+');
  const second = text.indexOf('+', first + 1);
  if (first < 0 || second < 0) throw bad('expected name+keyid+key');
  const name = text.slice(0, first);
  const hexId = text.slice(first + 1, second);
  const b64 = text.slice(second + 1);
  assertKeyName(name);
  const keyId = hexId.length === 8 ? fromHex(hexId) : undefined;
  const key = fromBase64(b64);
  if (!keyId || !key || key.length !== 33 || key[0] !== ALG_ED25519) throw bad('not an Ed25519 key');
  const publicKey = key.slice(1);
  if (!equalBytes(noteKeyId(name, publicKey), keyId)) throw bad('key id does not match the key');
  return { name, keyId, publicKey };
}

function assertText(text: string): void {
  if (!text.endsWith('\n')) throw new OpenlecError('E_NOTE_FORMAT', 'note text must end with a newline', { field: 'text' });
  if (/[\u0000-\u0009\u000b-\u001f\u007f]/.test(text)) throw new OpenlecError('E_NOTE_FORMAT', 'note text has a control character', { field: 'text' });
}

/** signNote returns the signed note: text, blank line, one signature line per signer. */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  assertText(text);
  const message = utf8(text);
  let out = `${text}\n`;
  for (const s of signers) {
    assertKeyName(s.name);
    const sig = sign(s.secretKey, message);
    out += `${SIGNATURE_PREFIX}${s.name} ${toBase64(concatBytes(noteKeyId(s.name, s.publicKey), sig))}\n`;
  }
  return out;
}

/** parseNote splits a signed note into its text and signature lines, strictly. */
export function parseNote(note: string): { text: string; signatures: NoteSignature[] } {
  const bad = (why: string) => new OpenlecError('E_NOTE_FORMAT', `signed note: ${why}`, { field: 'note' });
  if (utf8(note).length > MAX_NOTE_BYTES) throw bad('too large');
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) throw bad('no blank line before the signatures');
  const text = note.slice(0, split + 1);
  assertText(text);
  const lines = note.slice(split + 2, -1).split('\n');
  if (lines.length > MAX_NOTE_SIGNATURES) throw bad(`${lines.length} signature lines, more than the ${MAX_NOTE_SIGNATURES} allowed`);
  const signatures: NoteSignature[] = [];
  for (const line of lines) {
    if (!line.startsWith(SIGNATURE_PREFIX)) throw bad(`signature line "${line}" does not start with an em dash`);
    const [name = '', b64 = '', ...rest] = line.slice(SIGNATURE_PREFIX.length).split(' ');
    const raw = fromBase64(b64);
    if (rest.length > 0 || !name || !raw || raw.length < 5) throw bad(`malformed signature line "${line}"`);
    signatures.push({ name, keyId: raw.slice(0, 4), signature: raw.slice(4) });
  }
  if (signatures.length === 0) throw bad('no signature');
  return { text, signatures };
}

/**
 * openNote checks a signed note against known keys and returns its text and the keys
 * that signed it. Signatures by unknown keys are ignored, as C2SP says; a signature by a
 * known key that does not verify is an error, and so is a note no known key signed.
 * Only the first signature by each known key is verified, later ones skipped, as Go's
 * sumdb/note: repeating one key's line costs the verifier nothing.
 */
export function openNote(note: string, keys: readonly NoteVerifierKey[], verify: SignatureVerifier = verifySignature): { text: string; signedBy: NoteVerifierKey[] } {
  const { text, signatures } = parseNote(note);
  const message = utf8(text);
  const signedBy: NoteVerifierKey[] = [];
  for (const s of signatures) {
    const key = keys.find((k) => k.name === s.name && equalBytes(k.keyId, s.keyId));
    if (!key || signedBy.includes(key)) continue;
    if (!verify(key.publicKey, message, s.signature)) {
      throw new OpenlecError('E_NOTE_SIGNATURE', `signed note: the signature of "${s.name}" does not verify`, { field: 'signature', details: { key: s.name } });
    }
    signedBy.push(key);
  }
  if (signedBy.length === 0) throw new OpenlecError('E_NOTE_UNVERIFIED', 'signed note: no signature by a known key', { field: 'signature' });
  return { text, signedBy };
}

