import type { z } from 'zod';
import { OpenlecError } from '../errors.ts';
import { encodeKey, type KeyPair, type MessageSigner, sign, type SignedTransaction, toBase64Url, utf8 } from '../ledger/index.ts';
import type * as R from '../server/responses.ts';
import type { ApiKeyView } from '../server/api-key-routes.ts';
import { Signer } from './signer.ts';

/**
 * OpenlecClient: the HTTP API of one community as typed methods, for the software that
 * builds on openlec (a DSO's meter-data system, a supplier's billing, an aggregator, a
 * replica, the CLI's remote commands). Reads can be signed per RFC 9421 with the client's
 * key or carry a token from a signed challenge; writes are signed transactions, and a
 * write that timed out is sent again as the very same signed transaction, which the
 * server answers with its entry (`duplicate: true`) and never appends twice.
 *
 * This module is the client's browser-safe core, which the dashboard (web/src/api.ts) uses
 * as it is: it imports nothing of node. src/api/client.ts, the client that node programs
 * and `openlec` export, is the same class with RFC 9421 request signing plugged in
 * (http-message-signatures, which needs node:crypto and Buffer).
 */

/** RequestSigner: the headers that sign a request per RFC 9421 (src/client.ts's signRequest). */
export type RequestSigner = (key: KeyPair, method: string, url: string, created: number, signWith: MessageSigner | undefined, body: Uint8Array | undefined) => Promise<Record<string, string>>;

export interface ClientOptions {
  /** The participant key: signs transactions, requests (RFC 9421) and logins. */
  key?: KeyPair;
  /** A bearer token (from login) instead of signing each request; useToken changes it. */
  token?: string;
  /** An organisation's API key (`olk_<id>_<secret>`, see `openlec apikey issue`), sent as the bearer: for machines that read without the signing key. */
  apiKey?: string;
  /**
   * Signs reads per RFC 9421 when the client has a key and no token. src/api/client.ts's
   * OpenlecClient has it by default (src/client.ts's signRequest); the core has none and,
   * with a key but neither a signer nor a token, refuses to send a request unsigned.
   */
  signRequest?: RequestSigner;
  /** Attempts of a request that failed on the way (network, timeout, 429, 502–504) (default 4). */
  attempts?: number;
  /** Per-attempt time limit (default 15 s). */
  timeoutMs?: number;
  /** First wait between attempts, doubled each time (default 250 ms); a Retry-After of the server wins. */
  backoffMs?: number;
  /** The wall clock (epoch ms): request signatures' `created`, and transactions' issuedAt unless `issuedAt` is given. */
  now?: () => number;
  /** The time a transaction is dated (epoch ms); the server admits it near its own clock. */
  issuedAt?: () => number;
  /** Ed25519 signing (default @noble/curves; node:crypto's is faster on a server). */
  signWith?: MessageSigner;
  fetch?: typeof fetch;
}

/**
 * ApiError: a refusal or failure as the server answered it: its status, its code (E_TX_NONCE,
 * E_FORBIDDEN, ...) and the field it names. `message` says the request too; `reason` is the
 * server's own message alone (or the failure on the way, status 0), as a page shows it.
 */
export class ApiError extends OpenlecError {
  readonly reason: string;

  constructor(readonly status: number, code: string, message: string, field: string | undefined, readonly url: string, reason?: string) {
    super(code, message, { field, details: { status } });
    this.reason = reason ?? message;
  }

  /** A refusal (4xx but 408 and 429) will not change by sending the same request again. */
  get refused(): boolean {
    return this.status >= 400 && this.status < 500 && this.status !== 408 && this.status !== 429;
  }
}

type Out<S extends z.ZodType> = z.output<S>;
export type Query = Record<string, string | number | undefined>;
export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
/** The options of one request: `accept` other than JSON answers the text; `as: 'blob'` the bytes as they came (a file). */
export interface RequestOptions { query?: Query; body?: unknown; retry?: boolean; accept?: string; as?: 'blob'; onPage?: (next: string | undefined) => void }
/** The message a login signs: nothing else, and, when the caller knows the community's origin, for that origin only. */
const LOGIN = /^openlec-login\n[^\n]+\n([^\n]+)\n$/;
const RETRY_STATUS = new Set([408, 429, 502, 503, 504]);
const UNSIGNED = /^\/v1\/(transactions|auth)(\/|$)/;

export class OpenlecClient {
  readonly base: string;
  private token: string | undefined;
  private signer: Signer | undefined;

  constructor(base: string, private readonly o: ClientOptions = {}) {
    this.base = base.replace(/\/+$/, '');
    this.token = o.token ?? o.apiKey;
  }

  private now(): number {
    return this.o.now ? this.o.now() : Date.now();
  }

  /** useToken sets the bearer token the next requests carry (a login's, kept elsewhere), or clears it (`undefined`: signed per request again, if the client has a key, or anonymous). */
  useToken(token: string | undefined): void {
    if (token === this.token) return;
    this.token = token;
    // The nonce was read through the old credentials; read it again before the next transaction.
    this.signer = undefined;
  }

  /**
   * request sends one call, retried when it failed on the way. Only requests that are safe
   * to repeat are retried: reads, and writes of signed transactions (the log holds each at
   * most once). A refusal is thrown at once as an ApiError.
   */
  async request<T>(method: Method, path: string, opts: RequestOptions = {}): Promise<T> {
    const q = Object.entries(opts.query ?? {}).filter(([, v]) => v !== undefined).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&');
    // A path may carry its own query (`/v1/certificates?month=2026-01`): the options' follow it.
    const url = `${this.base}${path}${q ? `${path.includes('?') ? '&' : '?'}${q}` : ''}`;
    const attempts = opts.retry === false ? 1 : this.o.attempts ?? 4;
    const bodyText = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    let wait = this.o.backoffMs ?? 250;
    const signing = !this.token && this.o.key && !UNSIGNED.test(path);
    if (signing && !this.o.signRequest) throw new OpenlecError('E_CLIENT', 'this client cannot sign requests (ClientOptions.signRequest): log in for a token, or use src/api/client.ts\'s OpenlecClient', { field: 'signRequest' });
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        const headers: Record<string, string> = { accept: opts.accept ?? 'application/json' };
        if (bodyText !== undefined) headers['content-type'] = 'application/json';
        if (this.token) headers.authorization = `Bearer ${this.token}`;
        // Signed per request (a body through its Content-Digest), but for transactions, whose own signature authenticates them, and the login itself.
        else if (signing) Object.assign(headers, await this.o.signRequest!(this.o.key!, method, url, Math.floor(this.now() / 1000), this.o.signWith, bodyText === undefined ? undefined : utf8(bodyText)));
        res = await (this.o.fetch ?? fetch)(url, {
          method, headers, ...(bodyText !== undefined ? { body: bodyText } : {}), signal: AbortSignal.timeout(this.o.timeoutMs ?? 15_000),
        });
      } catch (e) {
        if (attempt < attempts) {
          await sleep(wait);
          wait *= 2;
          continue;
        }
        throw new ApiError(0, 'E_REMOTE', `${method} ${url}: ${(e as Error).message}`, 'url', url, (e as Error).message);
      }
      if (RETRY_STATUS.has(res.status) && attempt < attempts) {
        const after = Number(res.headers.get('retry-after'));
        await res.body?.cancel();
        await sleep(Number.isFinite(after) && after > 0 ? Math.min(after * 1000, 30_000) : wait);
        wait *= 2;
        continue;
      }
      if (!res.ok) {
        const text = await res.text();
        let e: { code?: string; message?: string; field?: string | null } = {};
        try {
          e = JSON.parse(text) as typeof e;
        } catch {
          // Not the API's error body (a proxy's page): the status says it.
        }
        throw new ApiError(res.status, e.code ?? 'E_REMOTE', `${method} ${url}: ${res.status} ${e.code ?? ''} ${e.message ?? text.slice(0, 200)}`.replace(/\s+/g, ' ').trim(), e.field ?? undefined, url, e.message ?? (res.statusText || `HTTP ${res.status}`));
      }
      if (opts.as === 'blob') return (await res.blob()) as T;
      const text = await res.text();
      if (opts.accept && opts.accept !== 'application/json') return text as T;
      let value: T;
      try {
        value = (text === '' ? undefined : JSON.parse(text)) as T;
      } catch {
        throw new ApiError(res.status, 'E_REMOTE', `${method} ${url}: ${res.status} with a body that is not JSON: ${text.slice(0, 80)}`, 'url', url);
      }
      opts.onPage?.(res.headers.get('x-next-cursor') ?? undefined);
      return value;
    }
  }

  /**
   * pages reads a list route page by page (the server pages every list: at most 1,000 items
   * a page, the next one named by X-Next-Cursor), in the server's stable order.
   */
  async *pages<T>(path: string, query: Query = {}): AsyncGenerator<T[]> {
    let cursor: string | undefined;
    do {
      let next: string | undefined;
      yield await this.request<T[]>('GET', path, { query: { ...query, ...(cursor ? { cursor } : {}) }, onPage: (n) => (next = n) });
      cursor = next;
    } while (cursor);
  }

  /** all reads every page of a list route. */
  async all<T>(path: string, query: Query = {}): Promise<T[]> {
    const out: T[] = [];
    for await (const page of this.pages<T>(path, query)) out.push(...page);
    return out;
  }

  /**
   * getAll reads any route by path, typed by the caller; an answer that is a list in pages
   * (X-Next-Cursor) is read to its end, as all does, and anything else is returned as it is.
   */
  async getAll<T>(path: string, query: Query = {}): Promise<T> {
    let next: string | undefined;
    const first = await this.request<T>('GET', path, { query, onPage: (n) => (next = n) });
    if (!Array.isArray(first) || !next) return first;
    const out: unknown[] = [...(first as unknown[])];
    for await (const page of this.pages<unknown>(path, { ...query, cursor: next })) out.push(...page);
    return out as T;
  }

  /** blob reads a route's answer as the bytes it sent (a CSV, an export) with the client's credentials, say to save it as a file. */
  blob = (path: string, query?: Query, accept = '*/*') => this.request<Blob>('GET', path, { query, accept, as: 'blob' });

  // Community and log ----------------------------------------------------------------------

  community = () => this.request<Out<typeof R.COMMUNITY>>('GET', '/v1/community');
  me = () => this.request<Out<typeof R.ME>>('GET', '/v1/me');
  participants = () => this.all<Out<typeof R.PARTICIPANTS>[number]>('/v1/participants');
  meters = () => this.all<Out<typeof R.METER>>('/v1/meters');
  feeders = () => this.all<Out<typeof R.FEEDERS>[number]>('/v1/feeders');
  log = (q: { from?: number; limit?: number } = {}) => this.request<Out<typeof R.LOG>>('GET', '/v1/log', { query: q });
  rawEntries = (q: { from?: number; limit?: number } = {}) => this.request<Out<typeof R.RAW_LOG>>('GET', '/v1/log/entries', { query: q });
  checkpoints = () => this.all<Out<typeof R.CHECKPOINTS>[number]>('/v1/checkpoints');
  latestCheckpoint = () => this.request<Out<typeof R.LATEST_CHECKPOINT>>('GET', '/v1/checkpoints/latest');
  finalCheckpoint = () => this.request<Out<typeof R.FINAL_CHECKPOINT>>('GET', '/v1/checkpoints/final');
  consistency = (q: { from: number; to: number }) => this.request<Out<typeof R.CONSISTENCY>>('GET', '/v1/consistency', { query: q });
  proof = (entry: number) => this.request<Out<typeof R.INCLUSION>>('GET', `/v1/proofs/${entry}`);
  cosign = (size: number, body: { cosignature: string }) => this.request<Out<typeof R.COSIGNATURE_RESULT>>('POST', `/v1/checkpoints/${size}/cosignatures`, { body });

  // Writes -----------------------------------------------------------------------------------

  /** submit appends a signed transaction; sent again after a failure on the way, it gives the same entry with `duplicate`. */
  submit = (tx: SignedTransaction) => this.request<Out<typeof R.TRANSACTION_RESULT>>('POST', '/v1/transactions', { body: tx });
  /** submitBatch appends signed transactions all or none (one signer), retried as submit is. */
  submitBatch = (transactions: SignedTransaction[]) => this.request<Out<typeof R.BATCH_RESULT>>('POST', '/v1/transactions/batch', { body: { transactions } });

  /**
   * transact signs a transaction with the client's key, the next nonce of that key (read
   * once from the community's participants through /v1/me or given) and the clock, and
   * submits it. A failure on the way is retried with the same signed bytes.
   */
  async transact(type: string, body: unknown): Promise<Out<typeof R.TRANSACTION_RESULT> & { tx: SignedTransaction }> {
    const signer = await this.ensureSigner();
    const tx = signer.sign(type, body);
    try {
      return { ...(await this.submit(tx)), tx };
    } catch (e) {
      // Refused: the server did not take this nonce; read it again before the next transaction.
      if (e instanceof ApiError && e.refused) this.signer = undefined;
      throw e;
    }
  }

  private async ensureSigner(): Promise<Signer> {
    if (this.signer) return this.signer;
    const key = this.requireKey();
    const [c, me] = await Promise.all([this.community(), this.token ? this.me() : this.login().then(() => this.me())]);
    this.signer = new Signer(key, c.id, me.nonce, () => new Date(this.o.issuedAt ? this.o.issuedAt() : this.now()).toISOString(), this.o.signWith);
    return this.signer;
  }

  private requireKey(): KeyPair {
    if (!this.o.key) throw new OpenlecError('E_CLIENT', 'this needs the client\'s key (ClientOptions.key)', { field: 'key' });
    return this.o.key;
  }

  /**
   * login signs a challenge with the client's key (or `key`, a key this client does not keep)
   * and keeps the token for the next requests. Only a login message is ever signed
   * (`openlec-login\n<origin>\n<challenge>\n`, for this challenge), and, given `origin`
   * (the community's, as the page or the operator knows it), a login to that origin only:
   * anything else the server asks to sign is refused (E_LOGIN_MESSAGE) before the key is used.
   * `retry: false` sends the challenge and the token request once each.
   */
  async login(opts: { key?: KeyPair; origin?: string; retry?: boolean } = {}): Promise<Out<typeof R.TOKEN>> {
    const key = opts.key ?? this.requireKey();
    const ch = await this.request<Out<typeof R.CHALLENGE>>('POST', '/v1/auth/challenge', { body: {}, retry: opts.retry });
    const m = LOGIN.exec(ch.message);
    if (!m || m[1] !== ch.challenge || (opts.origin !== undefined && ch.message !== `openlec-login\n${opts.origin}\n${ch.challenge}\n`)) {
      throw new OpenlecError('E_LOGIN_MESSAGE', 'the server asked to sign something other than a login to this community: refused', { field: 'message' });
    }
    const signature = toBase64Url((this.o.signWith ?? sign)(key.secretKey, utf8(ch.message)));
    const token = await this.request<Out<typeof R.TOKEN>>('POST', '/v1/auth/token', { body: { key: encodeKey(key.publicKey), challenge: ch.challenge, signature }, retry: opts.retry });
    this.useToken(token.token);
    return token;
  }

  /** The API keys the caller may see (its own; every key for the operator and auditors), with their status at the server's clock. */
  apiKeys = (q: { owner?: string } = {}) => this.all<ApiKeyView>('/v1/api-keys', q);
  apiKey = (id: string) => this.request<ApiKeyView>('GET', `/v1/api-keys/${id}`);

  /** A member's personal data, off the log (the member themself or the operator). */
  personal = (key: string) => this.request<Out<typeof R.PERSONAL_DATA>>('GET', `/v1/members/${key}/personal`);
  putPersonal = (key: string, data: Record<string, unknown>) => this.request<Out<typeof R.PERSONAL_STORED>>('PUT', `/v1/members/${key}/personal`, { body: data });

  /** get and post reach any route by path, typed by the caller: for routes without a method here. */
  get = <T>(path: string, query?: Query) => this.request<T>('GET', path, { query });
  post = <T>(path: string, body: unknown) => this.request<T>('POST', path, { body, retry: false });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
