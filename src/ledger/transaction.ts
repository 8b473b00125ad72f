import { OpenlecError } from '../errors.ts';
import { fromBase64Url, fromUtf8, toBase64Url, utf8 } from './bytes.ts';
import { jcs } from './jcs.ts';
import { ACTOR_KEY, decodeKey, type MessageSigner, sign } from './keys.ts';

/**
 * Transactions. Every change of state is an envelope
 * { v, type, community, actor, nonce, issuedAt, body } signed with the actor's Ed25519
 * key. The signature covers TX_SIGNING_PREFIX followed by the RFC 8785 (JCS) canonical
 * JSON of the envelope; the prefix keeps a transaction signature from ever being valid
 * as a signed note (checkpoint) or anything else the same key signs. The log entry is
 * the canonical JSON of the envelope with `sig` added, and must be byte-exact.
 */
export const TX_VERSION = 1;
export const TX_SIGNING_PREFIX = 'openlec transaction v1\n';
export const MAX_ENTRY_BYTES = 256 * 1024;
const PREFIX_BYTES = utf8(TX_SIGNING_PREFIX);

export interface Envelope<B = unknown> {
  readonly v: typeof TX_VERSION;
  readonly type: string;
  readonly community: string;
  readonly actor: string;
  readonly nonce: number;
  readonly issuedAt: string;
  readonly body: B;
}

export interface SignedTransaction<B = unknown> extends Envelope<B> {
  readonly sig: string;
}

/** A DecodedEntry is a log entry checked for shape and canonical form, signature not yet checked. */
export interface DecodedEntry {
  readonly tx: SignedTransaction;
  readonly bytes: Uint8Array;
  /** The bytes the signature covers. */
  readonly message: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly signature: Uint8Array;
}

export const COMMUNITY_ID = /^[a-z0-9](?:[a-z0-9._/-]{0,126}[a-z0-9])?$/;
const TX_TYPE = /^[a-z][a-z0-9-]*(?:\.[a-z][a-z0-9-]*)+$/;
const ISSUED_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{3})?Z$/;

export function canonicalJson(value: unknown): string {
  let text: string | undefined;
  try {
    text = jcs(value);
  } catch (e) {
    throw new OpenlecError('E_TX_FORMAT', `value has no canonical JSON form: ${(e as Error).message}`, { field: 'body' });
  }
  if (text === undefined) throw new OpenlecError('E_TX_FORMAT', 'value has no JSON form', { field: 'body' });
  return text;
}

/** transactionSigningBytes is what a transaction signature covers: the prefix and the canonical envelope. */
export function transactionSigningBytes(envelope: Envelope): Uint8Array {
  const json = utf8(canonicalJson(envelope));
  const out = new Uint8Array(PREFIX_BYTES.length + json.length);
  out.set(PREFIX_BYTES, 0);
  out.set(json, PREFIX_BYTES.length);
  return out;
}

/** signTransaction signs an envelope with the actor's secret key. */
export function signTransaction<B>(envelope: Envelope<B>, secretKey: Uint8Array, signWith: MessageSigner = sign): SignedTransaction<B> {
  checkEnvelope(envelope as unknown as Record<string, unknown>);
  const sig = toBase64Url(signWith(secretKey, transactionSigningBytes(envelope)));
  return { ...envelope, sig };
}

/** encodeEntry returns the log entry bytes of a signed transaction. */
export function encodeEntry(tx: SignedTransaction): Uint8Array {
  return utf8(canonicalJson(tx));
}

function fail(field: string, why: string): never {
  throw new OpenlecError('E_TX_FORMAT', `transaction ${field}: ${why}`, { field });
}

const ENVELOPE_FIELDS = new Set(['v', 'type', 'community', 'actor', 'nonce', 'issuedAt', 'body', 'sig']);

function checkEnvelope(o: Record<string, unknown>): void {
  if (o.v !== TX_VERSION) fail('v', `must be ${TX_VERSION}`);
  if (typeof o.type !== 'string' || !TX_TYPE.test(o.type)) fail('type', 'must be a dotted name such as "meter.register"');
  if (typeof o.community !== 'string' || !COMMUNITY_ID.test(o.community)) fail('community', 'must be a community id (lower-case letters, digits, ".", "_", "/", "-")');
  if (typeof o.actor !== 'string' || !ACTOR_KEY.test(o.actor)) fail('actor', 'must be an Ed25519 public key (43 base64url characters)');
  if (typeof o.nonce !== 'number' || !Number.isSafeInteger(o.nonce) || o.nonce < 1) fail('nonce', 'must be a positive integer');
  if (typeof o.issuedAt !== 'string' || !ISSUED_AT.test(o.issuedAt) || Number.isNaN(Date.parse(o.issuedAt))) fail('issuedAt', 'must be an RFC 3339 UTC time such as 2026-01-31T12:00:00Z');
  if (!('body' in o) || o.body === null || typeof o.body !== 'object' || Array.isArray(o.body)) fail('body', 'must be an object');
}

/**
 * decodeEntry checks that `bytes` is a well-formed, canonical signed transaction and
 * returns it with the exact bytes its signature covers. It does not check the signature
 * (so that can run in parallel elsewhere) nor anything that depends on state.
 */
export function decodeEntry(bytes: Uint8Array): DecodedEntry {
  if (bytes.length > MAX_ENTRY_BYTES) fail('size', `${bytes.length} bytes exceeds ${MAX_ENTRY_BYTES}`);
  let text: string;
  let o: unknown;
  try {
    text = fromUtf8(bytes);
    o = JSON.parse(text);
  } catch {
    fail('bytes', 'not UTF-8 JSON');
  }
  return decodeTransaction(o, text, bytes);
}

/** decodeTransaction checks a parsed transaction object; `text` and `bytes`, when given, must be its canonical form. */
export function decodeTransaction(o: unknown, text?: string, bytes?: Uint8Array): DecodedEntry {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) fail('bytes', 'not a JSON object');
  const r = o as Record<string, unknown>;
  for (const k of Object.keys(r)) if (!ENVELOPE_FIELDS.has(k)) fail(k, 'unknown field');
  checkEnvelope(r);
  if (typeof r.sig !== 'string') fail('sig', 'missing signature');
  const signature = fromBase64Url(r.sig);
  if (!signature || signature.length !== 64 || toBase64Url(signature) !== r.sig) fail('sig', 'not a 64-byte base64url Ed25519 signature');
  const tx = r as unknown as SignedTransaction;
  let canonical: string;
  try {
    canonical = canonicalJson(tx);
  } catch (e) {
    fail('body', (e as Error).message);
  }
  if (text !== undefined && canonical !== text) fail('bytes', 'not in RFC 8785 canonical form');
  const entry = bytes ?? utf8(canonical);
  // A transaction handed over as an object is held to the same size as one read as bytes: verify would refuse it.
  if (entry.length > MAX_ENTRY_BYTES) fail('size', `${entry.length} bytes exceeds ${MAX_ENTRY_BYTES}`);
  return { tx, bytes: entry, message: signedPart(canonical, tx.sig), publicKey: actorKey(tx.actor), signature };
}

// In canonical form the members are sorted: ...,"nonce":N,"sig":"...","type":"...","v":1}.
// Removing the sig member from the canonical entry gives the canonical envelope, which is
// what was signed; type and v cannot contain the pattern, so the last match is sig's.
function signedPart(canonical: string, sig: string): Uint8Array {
  const member = `,"sig":"${sig}"`;
  const at = canonical.lastIndexOf(member);
  const json = utf8(canonical.slice(0, at) + canonical.slice(at + member.length));
  const out = new Uint8Array(PREFIX_BYTES.length + json.length);
  out.set(PREFIX_BYTES, 0);
  out.set(json, PREFIX_BYTES.length);
  return out;
}

// Actors are few and sign often: keep their decoded keys.
const actorKeys = new Map<string, Uint8Array>();
function actorKey(actor: string): Uint8Array {
  let k = actorKeys.get(actor);
  if (!k) {
    if (actorKeys.size >= 65_536) actorKeys.clear();
    k = decodeKey(actor, 'actor');
    actorKeys.set(actor, k);
  }
  return k;
}
