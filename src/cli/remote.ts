import { join } from 'node:path';
import { signRequest } from '../client.ts';
import { OpenlecError } from '../errors.ts';
import type { KeyPair } from '../ledger/index.ts';
import { writeFileDurably } from '../node/files.ts';
import { nodeSign } from '../node/signatures.ts';

/**
 * The operator's API seen from another organisation (replicas, witnesses, anchors): JSON
 * over HTTP, optionally signed per RFC 9421 with the organisation's key, with errors that
 * name the URL and the server's code.
 */
export class Remote {
  constructor(readonly base: string, private readonly key?: KeyPair) {
    this.base = base.replace(/\/+$/, '');
  }

  async get<T>(path: string): Promise<T> {
    const url = `${this.base}${path}`;
    const headers = this.key ? await signRequest(this.key, 'GET', url, Math.floor(Date.now() / 1000), nodeSign) : {};
    return this.send<T>(url, { headers });
  }

  async post<T>(path: string, body: unknown): Promise<T> {
    return this.send<T>(`${this.base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  }

  private async send<T>(url: string, init: RequestInit): Promise<T> {
    let res: Response;
    try {
      res = await fetch(url, init);
    } catch (e) {
      throw new OpenlecError('E_REMOTE', `${url}: ${(e as Error).message}`, { field: 'from', cause: e });
    }
    const body = (await res.json().catch(() => ({}))) as { code?: string; message?: string };
    if (!res.ok) throw new OpenlecError('E_REMOTE', `${url}: ${res.status} ${body.code ?? ''} ${body.message ?? ''}`.trim(), { field: 'from', details: { status: res.status, code: body.code } });
    return body as T;
  }
}

/** saveEvidence writes evidence as JSON in `dir` and returns the file. */
export function saveEvidence(dir: string, evidence: { kind: string; observedAt: string }): string {
  const file = join(dir, `evidence-${evidence.kind}-${evidence.observedAt.replace(/[:.]/g, '-')}.json`);
  writeFileDurably(file, JSON.stringify(evidence, null, 2) + '\n');
  return file;
}
