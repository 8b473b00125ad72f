import { join } from 'node:path';
import { ApiError, OpenlecClient } from '../api/client.ts';
import { OpenlecError } from '../errors.ts';
import type { KeyPair } from '../ledger/index.ts';
import { writeFileDurably } from '../node/files.ts';
import { nodeSign } from '../node/signatures.ts';

/**
 * The operator's API seen from another organisation (replicas, witnesses, anchors), through
 * the one typed client (src/api/client.ts): JSON over HTTP, reads signed per RFC 9421 with
 * the organisation's key, retried when they fail on the way, with errors that name the URL
 * and the server's code.
 */
export class Remote {
  readonly client: OpenlecClient;

  constructor(readonly base: string, key?: KeyPair) {
    this.base = base.replace(/\/+$/, '');
    this.client = new OpenlecClient(this.base, { ...(key ? { key } : {}), signWith: nodeSign });
  }

  get<T>(path: string): Promise<T> {
    return this.remote(this.client.request<T>('GET', path));
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.remote(this.client.request<T>('POST', path, { body, retry: false }));
  }

  /** remote keeps the CLI's error: E_REMOTE on the `from` option, with the server's status and code. */
  private async remote<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (e) {
      if (e instanceof ApiError) throw new OpenlecError('E_REMOTE', e.message, { field: 'from', details: { status: e.status, code: e.code }, cause: e });
      throw e;
    }
  }
}

/** saveEvidence writes evidence as JSON in `dir` and returns the file. */
export function saveEvidence(dir: string, evidence: { kind: string; observedAt: string }): string {
  const file = join(dir, `evidence-${evidence.kind}-${evidence.observedAt.replace(/[:.]/g, '-')}.json`);
  writeFileDurably(file, JSON.stringify(evidence, null, 2) + '\n');
  return file;
}
