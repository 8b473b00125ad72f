import { OpenlecError } from '../errors.ts';
import { fromBase64, toBase64 } from './bytes.ts';
import { HASH_SIZE, type Hash } from './hash.ts';
import type { SignatureVerifier } from './keys.ts';
import { type NoteSigner, type NoteVerifierKey, openNote, signNote } from './note.ts';

/**
 * Checkpoints in the C2SP tlog-checkpoint format (https://c2sp.org/tlog-checkpoint):
 * the body is "<origin>\n<tree size>\n<base64 root hash>\n" followed by optional
 * extension lines, and is carried as a signed note signed by the log's key.
 */
export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly root: Hash;
  readonly extensions: readonly string[];
}

/** formatCheckpoint writes the checkpoint body (the text that is signed). */
export function formatCheckpoint(c: Checkpoint): string {
  if (!c.origin || /[\n]/.test(c.origin)) throw new OpenlecError('E_CHECKPOINT_FORMAT', 'checkpoint origin must be one non-empty line', { field: 'origin' });
  if (!Number.isSafeInteger(c.size) || c.size < 0) throw new OpenlecError('E_CHECKPOINT_FORMAT', 'checkpoint size must be a non-negative integer', { field: 'size' });
  if (c.root.length !== HASH_SIZE) throw new OpenlecError('E_CHECKPOINT_FORMAT', 'checkpoint root must be 32 bytes', { field: 'root' });
  return [c.origin, String(c.size), toBase64(c.root), ...c.extensions].join('\n') + '\n';
}

/** parseCheckpoint reads a checkpoint body strictly: canonical decimal size, 32-byte root, non-empty extension lines. */
export function parseCheckpoint(text: string): Checkpoint {
  const bad = (why: string, field: string) => new OpenlecError('E_CHECKPOINT_FORMAT', `checkpoint: ${why}`, { field });
  if (!text.endsWith('\n')) throw bad('must end with a newline', 'text');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw bad('needs origin, size and root lines', 'text');
  const [origin = '', sizeText = '', rootText = '', ...extensions] = lines;
  if (!origin) throw bad('empty origin', 'origin');
  if (!/^(0|[1-9]\d*)$/.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) throw bad(`size "${sizeText}" is not a canonical decimal`, 'size');
  const root = fromBase64(rootText);
  if (!root || root.length !== HASH_SIZE) throw bad('root is not a base64 32-byte hash', 'root');
  if (extensions.some((e) => e.length === 0)) throw bad('empty extension line', 'extensions');
  return { origin, size: Number(sizeText), root, extensions };
}

/** signCheckpoint returns the checkpoint as a signed note. */
export function signCheckpoint(c: Checkpoint, signer: NoteSigner): string {
  return signNote(formatCheckpoint(c), [signer]);
}

/**
 * openCheckpoint verifies a signed checkpoint against the log's key and checks that its
 * origin is the expected one.
 */
export function openCheckpoint(note: string, logKey: NoteVerifierKey, origin: string, verify?: SignatureVerifier): Checkpoint {
  const { text } = openNote(note, [logKey], verify);
  const c = parseCheckpoint(text);
  if (c.origin !== origin) throw new OpenlecError('E_CHECKPOINT_ORIGIN', `checkpoint is for origin "${c.origin}", expected "${origin}"`, { field: 'origin' });
  return c;
}
