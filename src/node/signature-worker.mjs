// Worker thread that checks Ed25519 signatures with node:crypto. Plain JavaScript so
// that it starts without a TypeScript loader. It receives one batch per message:
// { id, keys, messages, offsets, signatures } with keys 32 bytes each, signatures 64
// bytes each and messages concatenated, and answers { id, ok: Uint8Array }.
import { createPublicKey, verify } from 'node:crypto';
import { parentPort } from 'node:worker_threads';

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const cache = new Map();

function keyObject(raw) {
  const id = raw.toString('base64');
  let k = cache.get(id);
  if (!k) {
    if (cache.size > 100_000) cache.clear();
    k = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
    cache.set(id, k);
  }
  return k;
}

parentPort.on('message', ({ id, keys, messages, offsets, signatures }) => {
  const n = offsets.length - 1;
  const ok = new Uint8Array(n);
  const k = Buffer.from(keys.buffer, keys.byteOffset, keys.byteLength);
  const m = Buffer.from(messages.buffer, messages.byteOffset, messages.byteLength);
  const s = Buffer.from(signatures.buffer, signatures.byteOffset, signatures.byteLength);
  for (let i = 0; i < n; i++) {
    try {
      ok[i] = verify(null, m.subarray(offsets[i], offsets[i + 1]), keyObject(k.subarray(32 * i, 32 * i + 32)), s.subarray(64 * i, 64 * i + 64)) ? 1 : 0;
    } catch {
      ok[i] = 0;
    }
  }
  parentPort.postMessage({ id, ok }, [ok.buffer]);
});
