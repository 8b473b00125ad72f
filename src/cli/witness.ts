import { existsSync, readFileSync } from 'node:fs';
import { OpenlecError } from '../errors.ts';
import { encodeKey, formatCosignerKey, type KeyPair } from '../ledger/index.ts';
import { readKeyFile } from '../node/key-file.ts';
import { nodeSign, nodeVerifySignature } from '../node/signatures.ts';
import { type WitnessState, witnessCheckpoint } from '../trust/witness.ts';
import { writeFileDurably } from '../node/files.ts';
import { Remote, saveEvidence } from './remote.ts';

export interface WitnessOptions {
  from: string;
  key: string;
  name?: string;
  state: string;
  evidence: string;
  /** Seconds between polls; 0 = once. */
  every: number;
  /** The operator's checkpoint key, pinned out of band; else taken from the log on first contact. */
  verifierKey?: string;
  log?: (line: string) => void;
}

export const witnessName = (key: KeyPair) => `witness-${encodeKey(key.publicKey).slice(0, 8)}`;

/** witnessKey: the cosigner verifier key the operator configures (serve --witness). */
export function witnessKey(keyFile: string, name?: string): string {
  const key = readKeyFile(keyFile);
  return formatCosignerKey(name ?? witnessName(key), key.publicKey);
}

/**
 * witness polls the operator's latest checkpoint, checks it against the last one it
 * cosigned (consistency proof from the operator), records the new state durably, and only
 * then returns its cosignature to the operator. On a split view or an inconsistent
 * checkpoint it saves the evidence and stops with an error; it never cosigns again.
 */
export async function witness(o: WitnessOptions): Promise<{ cosigned: number; size: number }> {
  const key = readKeyFile(o.key);
  const cosigner = { name: o.name ?? witnessName(key), publicKey: key.publicKey, secretKey: key.secretKey };
  const remote = new Remote(o.from);
  const log = o.log ?? (() => {});
  let cosigned = 0;
  for (;;) {
    let state: WitnessState | undefined = existsSync(o.state) ? JSON.parse(readFileSync(o.state, 'utf8')) as WitnessState : undefined;
    const verifierKey = state?.verifierKey ?? o.verifierKey ?? (await remote.get<{ verifierKey: string }>('/v1/community')).verifierKey;
    const latest = await remote.get<{ size: number; note: string }>('/v1/checkpoints/latest');
    const proof = state && latest.size > state.size ? (await remote.get<{ proof: string[] }>(`/v1/consistency?from=${state.size}&to=${latest.size}`)).proof : undefined;
    const now = Date.now();
    const d = witnessCheckpoint({ state, verifierKey, note: latest.note, ...(proof ? { proof } : {}), cosigner, timestamp: Math.floor(now / 1000), observedAt: new Date(now).toISOString() }, nodeVerifySignature, nodeSign);
    if (d.action === 'refuse') {
      const file = saveEvidence(o.evidence, d.evidence);
      throw new OpenlecError('E_EQUIVOCATION', `witness ${cosigner.name} refuses to cosign: ${d.reason}; evidence in ${file} (openlec verify-evidence ${file})`, { field: 'from', details: { evidence: file } });
    }
    if (d.action === 'cosign' && (!state || d.state.size !== state.size || d.state.root !== state.root || cosigned === 0)) {
      // Durable first: after a crash the witness still knows what it cosigned.
      writeFileDurably(o.state, JSON.stringify(d.state, null, 2) + '\n');
      state = d.state;
      const r = await remote.post<{ cosigners: number; final: boolean }>(`/v1/checkpoints/${d.state.size}/cosignatures`, { cosignature: d.line });
      cosigned++;
      log(`witness ${cosigner.name}: cosigned size ${d.state.size} (${r.cosigners} cosigner(s)${r.final ? ', final' : ''})`);
    }
    if (o.every <= 0) return { cosigned, size: state?.size ?? 0 };
    await new Promise((r) => setTimeout(r, o.every * 1000));
  }
}
