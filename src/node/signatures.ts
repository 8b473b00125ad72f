import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { MessageSigner, SignatureVerifier } from '../ledger/index.ts';

/** One signature to check. */
export interface SignatureItem {
  readonly publicKey: Uint8Array;
  readonly message: Uint8Array;
  readonly signature: Uint8Array;
}

/** A SignatureChecker checks a batch of Ed25519 signatures. */
export interface SignatureChecker {
  check(items: readonly SignatureItem[]): Promise<boolean[]>;
  close(): Promise<void>;
}

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const publicKeys = new Map<string, KeyObject>();
const secretKeys = new Map<string, KeyObject>();

/** cachedKey turns raw Ed25519 key bytes into a KeyObject once (DER = fixed prefix + raw key). */
function cachedKey(cache: Map<string, KeyObject>, raw: Uint8Array, make: (der: Buffer) => KeyObject, prefix: Buffer): KeyObject {
  const id = Buffer.from(raw).toString('base64');
  let k = cache.get(id);
  if (!k) {
    if (cache.size > 100_000) cache.clear();
    k = make(Buffer.concat([prefix, raw]));
    cache.set(id, k);
  }
  return k;
}
const keyObject = (raw: Uint8Array) => cachedKey(publicKeys, raw, (der) => createPublicKey({ key: der, format: 'der', type: 'spki' }), SPKI_PREFIX);

/** nodeVerifySignature is the SignatureVerifier of node:crypto (OpenSSL): same answers as @noble/curves, several times faster. */
export const nodeVerifySignature: SignatureVerifier = (publicKey, message, signature) => {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    return verify(null, message, keyObject(publicKey), signature);
  } catch {
    return false;
  }
};

/** nodeSign is the MessageSigner of node:crypto: the same (deterministic) signatures as @noble/curves, about 14 times faster. */
export const nodeSign: MessageSigner = (secretKey, message) =>
  new Uint8Array(sign(null, message, cachedKey(secretKeys, secretKey, (der) => createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }), PKCS8_PREFIX)));

/** InlineSignatureChecker checks signatures on the calling thread. */
export class InlineSignatureChecker implements SignatureChecker {
  async check(items: readonly SignatureItem[]): Promise<boolean[]> {
    return items.map((i) => nodeVerifySignature(i.publicKey, i.message, i.signature));
  }
  async close(): Promise<void> {}
}

interface Pending {
  resolve(ok: Uint8Array): void;
  reject(e: unknown): void;
}

/**
 * WorkerSignatureChecker spreads signature checks over worker threads: Ed25519
 * verification is the costliest step of ingest, and the one that parallelises.
 */
export class WorkerSignatureChecker implements SignatureChecker {
  private readonly workers: Worker[];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;

  constructor(threads = availableParallelism()) {
    this.workers = Array.from({ length: Math.max(1, threads) }, () => {
      const w = new Worker(new URL('./signature-worker.mjs', import.meta.url));
      w.on('message', ({ id, ok }: { id: number; ok: Uint8Array }) => {
        const p = this.pending.get(id);
        this.pending.delete(id);
        // An idle pool must not keep the process alive; a busy one must.
        if (this.pending.size === 0) for (const x of this.workers) x.unref();
        p?.resolve(ok);
      });
      w.on('error', (e) => {
        for (const p of this.pending.values()) p.reject(e);
        this.pending.clear();
      });
      w.unref();
      return w;
    });
  }

  async check(items: readonly SignatureItem[]): Promise<boolean[]> {
    if (items.length === 0) return [];
    const per = Math.ceil(items.length / this.workers.length);
    const parts: Promise<Uint8Array>[] = [];
    for (let w = 0; w * per < items.length; w++) parts.push(this.send(this.workers[w]!, items.slice(w * per, (w + 1) * per)));
    const results = await Promise.all(parts);
    const out: boolean[] = [];
    for (const r of results) for (const b of r) out.push(b === 1);
    return out;
  }

  private send(worker: Worker, items: readonly SignatureItem[]): Promise<Uint8Array> {
    const keys = new Uint8Array(32 * items.length);
    const signatures = new Uint8Array(64 * items.length);
    const offsets = new Uint32Array(items.length + 1);
    let total = 0;
    items.forEach((it, i) => {
      offsets[i] = total;
      total += it.message.length;
    });
    offsets[items.length] = total;
    const messages = new Uint8Array(total);
    items.forEach((it, i) => {
      if (it.publicKey.length === 32) keys.set(it.publicKey, 32 * i);
      if (it.signature.length === 64) signatures.set(it.signature, 64 * i);
      messages.set(it.message, offsets[i]);
    });
    const id = this.nextId++;
    worker.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, keys, messages, offsets, signatures }, [keys.buffer, messages.buffer, offsets.buffer, signatures.buffer]);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
