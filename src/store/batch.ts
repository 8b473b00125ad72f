import { OpenlecError } from '../errors.ts';
import { decodeEntry, decodeTransaction, type DecodedEntry, utf8 } from '../ledger/index.ts';
import type { SignatureChecker } from '../node/signatures.ts';
import type { SubmitInput, SubmitResult } from './ledger-store.ts';

/** A submission waiting in a store's queue (group commit). */
export interface Queued {
  input: SubmitInput;
  /** The operator's time when the server received it (applyEntry's admission time). */
  now?: number;
  resolve(r: SubmitResult): void;
}

/** A batch decoded, its signatures being checked (on worker threads) while the previous one commits. */
export interface Prepared {
  items: Queued[];
  decoded: (DecodedEntry | OpenlecError)[];
  signaturesOk: Promise<boolean[]>;
}

export function asOpenlecError(e: unknown): OpenlecError {
  if (e instanceof OpenlecError) return e;
  return new OpenlecError('E_INTERNAL', (e as Error)?.message ?? String(e), { cause: e });
}

export const signatureRefused = () => new OpenlecError('E_TX_SIGNATURE', 'the signature does not verify for this actor and content', { field: 'sig' });

/** prepareBatch decodes each submission (a refusal for one that does not decode) and starts checking the signatures of the others. */
export function prepareBatch(items: Queued[], signatures: SignatureChecker): Prepared {
  const decoded = items.map(({ input }) => {
    try {
      if (input instanceof Uint8Array) return decodeEntry(input);
      if (typeof input === 'string') return decodeEntry(utf8(input));
      return decodeTransaction(input);
    } catch (e) {
      return asOpenlecError(e);
    }
  });
  const checkable = decoded.filter((d): d is DecodedEntry => !(d instanceof OpenlecError));
  return { items, decoded, signaturesOk: signatures.check(checkable) };
}

/**
 * applyBatch walks a prepared batch in order: a submission that did not decode or whose
 * signature fails is refused; the others go to `apply` (the state machine: its throw is the
 * transaction's refusal, and it leaves the state as it was), then to `append` (the store's
 * write of the entry, which returns its number). A throw from `append` is the store's
 * failure, not a refusal: it ends the whole batch. One result per item.
 */
export function applyBatch(batch: Prepared, signaturesOk: readonly boolean[], apply: (d: DecodedEntry, now: number | undefined) => void, append: (d: DecodedEntry) => number): SubmitResult[] {
  const results: SubmitResult[] = [];
  let s = 0;
  for (const [i, d] of batch.decoded.entries()) {
    if (d instanceof OpenlecError) {
      results.push({ ok: false, error: d });
      continue;
    }
    if (!signaturesOk[s++]) {
      results.push({ ok: false, error: signatureRefused() });
      continue;
    }
    try {
      apply(d, batch.items[i]!.now);
    } catch (e) {
      results.push({ ok: false, error: asOpenlecError(e) });
      continue;
    }
    results.push({ ok: true, entry: append(d) });
  }
  return results;
}

/** storeFailure is what every submission of a batch gets when the store could not write it. */
export function storeFailure(e: unknown): OpenlecError {
  // The store's own refusals (another writer holds the file, ...) keep their code.
  return e instanceof OpenlecError ? e : new OpenlecError('E_STORE_WRITE', `the batch could not be written: ${(e as Error).message}`, { cause: e });
}
