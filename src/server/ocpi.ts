import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ocpiDateTime, ocpiMs, type OcpiCdr, type OcpiSession, ocpiTime } from '../charging/ocpi.ts';
import { type CdrRow, currentTariffs, findCdr, findLocation, findParty, type LocationRow, partyRef, type PartyRow } from '../charging/tables.ts';
import { OpenlecError } from '../errors.ts';
import { decodeEntry, fromUtf8 } from '../ledger/index.ts';
import type { LedgerStore } from '../store/ledger-store.ts';
import type { StoredEntry } from '../store/log-source.ts';
import type { EventHub } from './events.ts';
import { failureOf } from './failures.ts';
import { issueRegistrationToken, newCredentialsToken, type OcpiEndpoint, OcpiStore, ocpiStorePath, type Partner } from './ocpi-store.ts';

export { issueRegistrationToken, OcpiStore, ocpiStorePath };

/**
 * The OCPI 2.2.1 interface of the community's CPO(s), for roaming partners (eMSPs), at
 * /ocpi (versions) and /ocpi/2.2.1 (version details and modules).
 *
 * openlec is the platform that hosts every CPO of the log (charging.party with role CPO):
 * the credentials it answers list them all, and the Sender interfaces serve what the log
 * holds, read from its projection: locations (charging.location), the current version of
 * each tariff (charging.tariff), CDRs (charging.cdr, credit CDRs included) and the
 * COMPLETED sessions they describe. An eMSP sees only the CDRs and sessions of its own
 * drivers (cdr_token country_code and party_id). OCPI-to-country-code / OCPI-to-party-id,
 * when sent, narrow a request to one CPO; OCPI-from-*, when sent, must be the caller.
 *
 * Credentials (mod_credentials): the operator issues a registration token A off the log
 * (`issueRegistrationToken`, the CLI) for an eMSP of the log and hands it over with the
 * versions URL. With token A the eMSP may read the versions and version details and POST
 * its credentials {token B, url, roles}: the server fetches the eMSP's versions and 2.2.1
 * details with token B, stores them, invalidates A and answers its own credentials with a
 * fresh token C. PUT rotates (fetches again, new C), DELETE unregisters. Tokens are kept as
 * SHA-256 hashes only (ocpi-store.ts). In the Authorization header a token is Base64 (2.2.1);
 * the plain token is accepted too, as the spec's note on 2.1.1/2.2 clients advises.
 *
 * Push: each CDR appended to the log for a registered eMSP with a cdrs RECEIVER endpoint
 * is POSTed to it with token B. The appended entries are scanned after the write is
 * answered (never in its way), from a watermark kept in the store, so CDRs appended by any
 * path are seen; failed deliveries stay in the store's outbox and are retried with
 * back-off (`flushOutbox`, also every `flushEveryMs`).
 *
 * Every answer is the OCPI envelope {data?, status_code, status_message, timestamp}, with
 * X-Request-ID and X-Correlation-ID echoed (made up when absent). Status: 1000 success;
 * 2000 with HTTP 401 (no or unknown token, or token A outside credentials and versions) or
 * 403 (OCPI-from-* not the caller); 2001 with HTTP 400 (bad parameters or body); 2003 with
 * HTTP 404 (unknown location, EVSE or connector); 2000 with HTTP 405 (POST credentials when
 * registered, PUT or DELETE when not); 3001 (the eMSP's API could not be used), 3002 (no
 * 2.2.1 there) with HTTP 200 as status_codes.asciidoc asks of requests that reached the
 * OCPI layer; 3000 with HTTP 500 for a failure of the server.
 */
export const OCPI_BASE = '/ocpi';
export const OCPI_VERSION = '2.2.1';
const V = `${OCPI_BASE}/${OCPI_VERSION}`;
/** The most objects one page of a list holds (X-Limit). */
export const OCPI_MAX_LIMIT = 100;
const FETCH_TIMEOUT_MS = 5000;
/** Delay before retrying a failed push: doubles from 10 s per attempt, at most 1 h. */
export const retryDelayMs = (attempts: number) => Math.min(3_600_000, 10_000 * 2 ** Math.min(attempts, 20));

export const OCPI_STATUS = {
  SUCCESS: 1000, CLIENT_ERROR: 2000, INVALID_PARAMETERS: 2001, NOT_ENOUGH_INFORMATION: 2002, UNKNOWN_LOCATION: 2003, UNKNOWN_TOKEN: 2004,
  SERVER_ERROR: 3000, CLIENT_API: 3001, UNSUPPORTED_VERSION: 3002, NO_MATCHING_ENDPOINTS: 3003,
} as const;

/** An OCPI refusal: the HTTP status, the OCPI status code and the message. */
export class OcpiFailure extends Error {
  constructor(readonly http: number, readonly status: number, message: string) {
    super(message);
  }
}

const unauthorized = (message: string) => new OcpiFailure(401, OCPI_STATUS.CLIENT_ERROR, message);
const invalid = (message: string) => new OcpiFailure(400, OCPI_STATUS.INVALID_PARAMETERS, message);
const notAllowed = (message: string) => new OcpiFailure(405, OCPI_STATUS.CLIENT_ERROR, message);
const unknownLocation = (message: string) => new OcpiFailure(404, OCPI_STATUS.UNKNOWN_LOCATION, message);

/** The Base64 form of a credentials token, as OCPI 2.2.1 puts it in the Authorization header. */
export const encodeToken = (token: string) => Buffer.from(token, 'utf8').toString('base64');
const TOKEN_TEXT = /^[\x21-\x7e]{1,64}$/;

/** The tokens an Authorization header may carry: "Token <base64 token>" (2.2.1) first, then the plain token (2.1.1 / 2.2 clients). */
export function presentedTokens(header: string | undefined): string[] {
  const m = /^Token\s+(\S+)\s*$/i.exec(header ?? '');
  if (!m) return [];
  const raw = m[1]!;
  const out: string[] = [];
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(raw) && raw.length % 4 === 0) {
    const decoded = Buffer.from(raw, 'base64').toString('utf8');
    if (TOKEN_TEXT.test(decoded) && encodeToken(decoded) === raw) out.push(decoded);
  }
  if (TOKEN_TEXT.test(raw)) out.push(raw);
  return out;
}

// ---- schemas of what a partner sends ---------------------------------------------------

const OCPI_ROLES = ['CPO', 'EMSP', 'HUB', 'NAP', 'NSP', 'OTHER', 'SCSP'] as const;
const urlText = z.string().max(255).regex(/^https?:\/\/\S+$/, 'must be an http(s) URL');
const credentialsRole = z.object({
  role: z.enum(OCPI_ROLES),
  business_details: z.object({ name: z.string().min(1).max(100), website: urlText.optional(), logo: z.record(z.string(), z.unknown()).optional() }),
  party_id: z.string().regex(/^[A-Za-z0-9]{3}$/, 'must be a 3-character party id'),
  country_code: z.string().regex(/^[A-Za-z]{2}$/, 'must be an ISO 3166-1 alpha-2 country code'),
});
const credentialsBody = z.object({
  token: z.string().regex(TOKEN_TEXT, 'must be 1 to 64 printable ASCII characters without spaces'),
  url: urlText,
  roles: z.array(credentialsRole).min(1).max(100),
});
const envelope = z.object({ status_code: z.number().int(), status_message: z.string().optional(), data: z.unknown().optional() });
const versionsData = z.array(z.object({ version: z.string(), url: urlText }));
const detailsData = z.object({
  version: z.string(),
  endpoints: z.array(z.object({ identifier: z.string().min(1).max(100), role: z.enum(['SENDER', 'RECEIVER']), url: urlText })).max(100),
});
const listQuery = z.object({
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).default(OCPI_MAX_LIMIT),
  date_from: ocpiDateTime.optional(),
  date_to: ocpiDateTime.optional(),
});

function parse<T extends z.ZodType>(schema: T, value: unknown, where: string): z.infer<T> {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  throw invalid(`${[where, ...issue.path.map(String)].join('.')}: ${issue.message}`);
}

// ---- pushing -----------------------------------------------------------------------

const endpointOf = (p: Partner, identifier: string, role: 'SENDER' | 'RECEIVER') => p.endpoints.find((e) => e.identifier === identifier && e.role === role);
const [ccOf, pidOf] = [(party: string) => party.split('*')[0]!, (party: string) => party.split('*')[1]!];

export interface FlushOptions {
  /** The time (epoch ms): what is due, and when failures are retried. */
  now: number;
  fetch?: typeof fetch;
  log?: (message: string, data: Record<string, unknown>) => void;
  signal?: AbortSignal;
}

/**
 * flushOutbox POSTs every due CDR of the outbox to its eMSP's cdrs RECEIVER endpoint with
 * `Authorization: Token <base64 B>` and the routing headers; a 2xx answer whose OCPI status
 * (if any) is 1xxx removes it, anything else leaves it for a later attempt (retryDelayMs).
 * Items of a partner that unregistered or has no cdrs RECEIVER any more are dropped.
 */
export async function flushOutbox(store: OcpiStore, o: FlushOptions): Promise<{ sent: number; failed: number; dropped: number }> {
  const doFetch = o.fetch ?? fetch;
  let sent = 0;
  let failed = 0;
  let dropped = 0;
  for (const item of store.due(o.now)) {
    const partner = store.partner(item.party);
    const ep = partner && endpointOf(partner, 'cdrs', 'RECEIVER');
    if (!partner || !ep) {
      store.delivered(item.id);
      dropped++;
      continue;
    }
    const cpo = item.ref.split('\u001f')[0]!;
    try {
      const res = await doFetch(ep.url, {
        method: 'POST', redirect: 'error', body: JSON.stringify(item.body),
        signal: o.signal ? AbortSignal.any([o.signal, AbortSignal.timeout(FETCH_TIMEOUT_MS)]) : AbortSignal.timeout(FETCH_TIMEOUT_MS),
        headers: {
          'content-type': 'application/json', authorization: `Token ${encodeToken(partner.token)}`, 'x-request-id': randomUUID(), 'x-correlation-id': randomUUID(),
          'ocpi-from-country-code': ccOf(cpo), 'ocpi-from-party-id': pidOf(cpo), 'ocpi-to-country-code': partner.countryCode, 'ocpi-to-party-id': partner.partyId,
        },
      });
      const text = await res.text();
      if (res.status < 200 || res.status >= 300) throw new Error(`answered HTTP ${res.status}`);
      let status: unknown;
      try {
        status = (JSON.parse(text) as { status_code?: unknown }).status_code;
      } catch {
        status = undefined;
      }
      if (typeof status === 'number' && (status < 1000 || status >= 2000)) throw new Error(`answered OCPI status ${status}`);
      store.delivered(item.id);
      sent++;
    } catch (e) {
      const error = (e as Error).message;
      store.failed(item.id, o.now + retryDelayMs(item.attempts), error);
      o.log?.('ocpi: pushing a CDR failed; will retry', { party: item.party, cdr: item.ref.replace('\u001f', ' '), attempt: item.attempts + 1, error });
      failed++;
    }
  }
  return { sent, failed, dropped };
}

// ---- the interface -----------------------------------------------------------------

/** Entries read at a time by a scan for CDRs. */
const SCAN_CHUNK = 4096;

export interface OcpiDeps {
  ledger: LedgerStore;
  events: EventHub;
  now: () => number;
  /** The off-log store; by default a file beside the log (`<log>.ocpi.db`), or in memory for an in-memory log or a replica. */
  store?: OcpiStore;
  /** A replica: the Sender interfaces are served, registrations refused and nothing pushed (the operator's server pushes). */
  readOnly?: boolean;
  /** The public origin of the server ("https://lec.example"); by default the request's protocol and Host. */
  baseUrl?: string;
  fetch?: typeof fetch;
  /** Retry failed pushes this often (default 30 s). */
  flushEveryMs?: number;
}

/** Who is calling: the party of a valid token, the token's kind, and the plain token presented. */
interface Caller { party: string; kind: 'A' | 'C'; token: string }

export class Ocpi {
  readonly store: OcpiStore;
  private readonly ownsStore: boolean;
  private readonly offHub: () => void;
  private readonly inFlight = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<unknown> | undefined;
  private closed = false;
  /** The scans, one after the other: each starts from the watermark the one before left. */
  private scans: Promise<unknown> = Promise.resolve();
  private log: (message: string, data: Record<string, unknown>) => void = () => {};

  constructor(private readonly d: OcpiDeps) {
    const file = d.ledger.sidePath;
    this.ownsStore = d.store === undefined;
    this.store = d.store ?? OcpiStore.open(d.readOnly || file === undefined ? ':memory:' : ocpiStorePath(file));
    // CDRs appended before this store existed were never promised to anyone: start from here.
    if (this.store.meta('scanned') === undefined) this.store.setMeta('scanned', String(d.ledger.size));
    this.offHub = d.events.on((e) => {
      if (e.event !== 'entry' || !String(e.data.type).startsWith('charging.')) return;
      // After the writer's answer: the append is never slowed down or failed by a push.
      setImmediate(() => void this.sync());
    });
  }

  private get state() {
    return this.d.ledger.state;
  }

  private hasCharging(): boolean {
    return this.d.ledger.registry.tables.some((t) => t.name === 'charging_cdrs');
  }

  /** The CPOs the platform hosts: every CPO of the log. */
  private cpos(): PartyRow[] {
    if (!this.hasCharging()) return [];
    return ([...this.state.rows('charging_parties')] as unknown as PartyRow[]).filter((p) => p.role === 'CPO').sort((a, b) => (a.party < b.party ? -1 : a.party > b.party ? 1 : 0));
  }

  // ---- push ----------------------------------------------------------------------------

  /** scan queues the CDRs appended since the watermark for their eMSP, when it is registered with a cdrs RECEIVER endpoint (one scan at a time). */
  scan(): Promise<number> {
    const run = this.scans.then(() => this.scanOnce());
    this.scans = run.catch(() => {});
    return run;
  }

  private async scanOnce(): Promise<number> {
    if (this.d.readOnly || this.closed || !this.hasCharging()) return 0;
    const size = this.d.ledger.size;
    const from = Number(this.store.meta('scanned') ?? size);
    let queued = 0;
    for (let lo = from; lo < size; lo += SCAN_CHUNK) {
      const entries = await this.d.ledger.readEntries(lo, Math.min(size, lo + SCAN_CHUNK));
      // Closed while reading: the store may be closed too; the next server scans from the watermark.
      if (this.closed) return queued;
      queued += this.queueCdrs(entries);
    }
    this.store.setMeta('scanned', String(size));
    return queued;
  }

  private queueCdrs(entries: readonly StoredEntry[]): number {
    let queued = 0;
    for (const e of entries) {
      if (!fromUtf8(e.bytes).includes('"charging.cdr"')) continue;
      const { tx } = decodeEntry(e.bytes);
      if (tx.type !== 'charging.cdr') continue;
      const c = (tx.body as { cdr: OcpiCdr }).cdr;
      const row = findCdr(this.state, partyRef(c.country_code, c.party_id), c.id.toUpperCase());
      if (!row || row.entry !== e.index) continue;
      const partner = this.store.partner(row.emsp);
      if (!partner || !endpointOf(partner, 'cdrs', 'RECEIVER')) continue;
      this.store.enqueue(partner.party, `${row.cpo}\u001f${row.id}`, c as unknown as Record<string, unknown>, this.d.now());
      queued++;
    }
    return queued;
  }

  /** flush pushes what is due now (one flush at a time). */
  async flush(): Promise<{ sent: number; failed: number; dropped: number }> {
    while (this.flushing) await this.flushing.catch(() => {});
    const run = flushOutbox(this.store, { now: this.d.now(), log: this.log, signal: this.inFlight.signal, ...(this.d.fetch ? { fetch: this.d.fetch } : {}) });
    this.flushing = run;
    try {
      return await run;
    } finally {
      this.flushing = undefined;
    }
  }

  /** sync: scan, then flush; failures are logged, never thrown (the entries are in the log whatever happens here). */
  async sync(): Promise<void> {
    if (this.closed || this.d.readOnly) return;
    try {
      await this.scan();
      await this.flush();
    } catch (err) {
      if (!this.closed) this.log('ocpi: pushing CDRs failed', { error: (err as Error).message });
    }
  }

  // ---- HTTP ----------------------------------------------------------------------------

  private base(req: FastifyRequest): string {
    return (this.d.baseUrl ?? `${req.protocol}://${req.headers.host ?? 'localhost'}`).replace(/\/$/, '');
  }

  private send(reply: FastifyReply, http: number, status: number, message: string, data?: unknown) {
    return reply.status(http).type('application/json').send({ ...(data === undefined ? {} : { data }), status_code: status, status_message: message, timestamp: ocpiTime(this.d.now()) });
  }

  private ok(reply: FastifyReply, data: unknown) {
    return this.send(reply, 200, OCPI_STATUS.SUCCESS, 'Success', data);
  }

  private failure(e: Error & { statusCode?: number }, req: FastifyRequest, reply: FastifyReply) {
    if (e instanceof OcpiFailure) {
      if (e.http === 405) reply.header('allow', 'GET');
      if (e.http === 401) reply.header('www-authenticate', 'Token');
      return this.send(reply, e.http, e.status, e.message);
    }
    const f = failureOf(e);
    if (f.status >= 500) {
      req.log.error({ err: e, code: f.code }, `${req.method} ${req.url}: ${f.code}: ${e.message}`);
      if (f.retryAfterS !== undefined) reply.header('retry-after', String(f.retryAfterS));
      return this.send(reply, f.status, OCPI_STATUS.SERVER_ERROR, f.message);
    }
    if (f.status === 429) return this.send(reply, 429, OCPI_STATUS.CLIENT_ERROR, f.message);
    if (f.status === 404) return this.send(reply, 404, OCPI_STATUS.CLIENT_ERROR, f.message);
    return this.send(reply, f.status === 422 ? 400 : f.status, OCPI_STATUS.INVALID_PARAMETERS, f.message);
  }

  /** caller: the party of the Authorization header's token; token A only where `allowA`. */
  private caller(req: FastifyRequest, allowA: boolean): Caller {
    const tokens = presentedTokens(req.headers.authorization);
    if (tokens.length === 0) throw unauthorized('Authorization: Token <base64 credentials token> is missing or malformed');
    for (const token of tokens) {
      const t = this.store.tokenOf(token);
      if (!t) continue;
      if (t.kind === 'A' && !allowA) throw unauthorized('a registration token (A) is only for the versions and credentials endpoints: register first (POST credentials)');
      return { party: t.party, kind: t.kind, token };
    }
    throw unauthorized('unknown credentials token');
  }

  /** A registered eMSP calling a functional module; checks the routing headers and picks the CPOs in scope. */
  private module(req: FastifyRequest, reply: FastifyReply): { caller: Caller; cpos: PartyRow[] } {
    const caller = this.caller(req, false);
    const h = req.headers;
    const header = (name: string) => (typeof h[name] === 'string' ? (h[name] as string).toUpperCase() : undefined);
    const [fromCc, fromPid, toCc, toPid] = [header('ocpi-from-country-code'), header('ocpi-from-party-id'), header('ocpi-to-country-code'), header('ocpi-to-party-id')];
    if ((fromCc !== undefined || fromPid !== undefined) && partyRef(fromCc ?? '', fromPid ?? '') !== caller.party) {
      throw new OcpiFailure(403, OCPI_STATUS.CLIENT_ERROR, `OCPI-from-country-code / OCPI-from-party-id ${fromCc ?? ''}*${fromPid ?? ''} is not the party of this token (${caller.party})`);
    }
    let cpos = this.cpos();
    if (toCc !== undefined || toPid !== undefined) {
      const to = partyRef(toCc ?? '', toPid ?? '');
      cpos = cpos.filter((c) => c.party === to);
      if (cpos.length === 0) throw invalid(`OCPI-to-country-code / OCPI-to-party-id ${to} is not a CPO hosted here`);
    }
    reply.header('ocpi-to-country-code', ccOf(caller.party)).header('ocpi-to-party-id', pidOf(caller.party));
    if (cpos.length === 1) reply.header('ocpi-from-country-code', cpos[0]!.countryCode).header('ocpi-from-party-id', cpos[0]!.partyId);
    return { caller, cpos };
  }

  /** page answers one page of a list: date_from (inclusive) / date_to (exclusive) on last_updated, offset, limit (at most OCPI_MAX_LIMIT), with X-Total-Count, X-Limit (the page size in force) and Link rel="next". */
  private page<T extends { last_updated: string }>(req: FastifyRequest, reply: FastifyReply, path: string, all: T[]) {
    const q = parse(listQuery, req.query, 'query');
    const from = q.date_from === undefined ? -Infinity : ocpiMs(q.date_from);
    const to = q.date_to === undefined ? Infinity : ocpiMs(q.date_to);
    const matching = all.filter((o) => {
      const t = ocpiMs(o.last_updated);
      return t >= from && t < to;
    });
    const limit = Math.min(q.limit, OCPI_MAX_LIMIT);
    const items = matching.slice(q.offset, q.offset + limit);
    reply.header('x-total-count', String(matching.length)).header('x-limit', String(limit));
    if (q.offset + items.length < matching.length) {
      const next = new URLSearchParams({ offset: String(q.offset + items.length), limit: String(limit) });
      if (q.date_from !== undefined) next.set('date_from', q.date_from);
      if (q.date_to !== undefined) next.set('date_to', q.date_to);
      reply.header('link', `<${this.base(req)}${path}?${next.toString()}>; rel="next"`);
    }
    return this.ok(reply, items);
  }

  private locations(cpos: PartyRow[]): LocationRow[] {
    if (!this.hasCharging()) return [];
    return cpos.flatMap((c) => this.state.lookup<LocationRow>('charging_locations', 'cpo', c.party).filter((l) => l.location.publish).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)));
  }

  private cdrRows(party: string, cpos: PartyRow[]): CdrRow[] {
    if (!this.hasCharging()) return [];
    const scope = new Set(cpos.map((c) => c.party));
    return this.state.lookup<CdrRow>('charging_cdrs', 'emsp', party).filter((r) => scope.has(r.cpo)).sort((a, b) => a.entry - b.entry);
  }

  /** The sessions the caller's CDRs describe: COMPLETED, or INVALID once credited and not replaced (a later CDR of the same session id replaces it). */
  private sessions(party: string, cpos: PartyRow[]): OcpiSession[] {
    const rows = this.cdrRows(party, cpos);
    const byId = new Map<string, { row: CdrRow; session: OcpiSession }>();
    for (const row of rows) {
      if (row.credit) continue;
      const c = row.cdr;
      const creditedAt = row.creditedBy ? findCdr(this.state, row.cpo, row.creditedBy)?.cdr.last_updated : undefined;
      const session: OcpiSession = {
        country_code: c.country_code, party_id: c.party_id, id: c.session_id ?? c.id, start_date_time: c.start_date_time, end_date_time: c.end_date_time,
        kwh: Math.max(0, c.total_energy), cdr_token: c.cdr_token, auth_method: c.auth_method,
        ...(c.authorization_reference ? { authorization_reference: c.authorization_reference } : {}),
        location_id: c.cdr_location.id, evse_uid: c.cdr_location.evse_uid, connector_id: c.cdr_location.connector_id,
        ...(c.meter_id ? { meter_id: c.meter_id } : {}),
        currency: c.currency, charging_periods: c.charging_periods, total_cost: c.total_cost,
        status: row.creditedBy ? 'INVALID' : 'COMPLETED', last_updated: creditedAt ?? c.last_updated,
      };
      const key = `${row.cpo}\u001f${session.id.toUpperCase()}`;
      const seen = byId.get(key);
      // A credited session's replacement (same session id, later in the log) is the session.
      if (!seen || seen.row.creditedBy || !row.creditedBy) byId.set(key, { row, session });
    }
    return [...byId.values()].sort((a, b) => a.row.entry - b.row.entry).map((s) => s.session);
  }

  /** Our credentials object, with the token the partner uses. */
  private credentials(req: FastifyRequest, token: string) {
    return {
      token, url: `${this.base(req)}${OCPI_BASE}/versions`,
      roles: this.cpos().map((c) => ({ role: 'CPO', party_id: c.partyId, country_code: c.countryCode, business_details: { name: c.name } })),
    };
  }

  /** fetchOcpi GETs one of the partner's OCPI endpoints with its token B and returns the envelope's data; any failure is 3001. */
  private async fetchOcpi(url: string, token: string): Promise<unknown> {
    const doFetch = this.d.fetch ?? fetch;
    let res: Response;
    let body: unknown;
    try {
      res = await doFetch(url, {
        redirect: 'error', signal: AbortSignal.any([this.inFlight.signal, AbortSignal.timeout(FETCH_TIMEOUT_MS)]),
        headers: { authorization: `Token ${encodeToken(token)}`, 'x-request-id': randomUUID(), 'x-correlation-id': randomUUID() },
      });
      body = await res.json();
    } catch (e) {
      throw new OcpiFailure(200, OCPI_STATUS.CLIENT_API, `could not GET ${url}: ${(e as Error).message}`);
    }
    const env = envelope.safeParse(body);
    if (!res.ok || !env.success || env.data.status_code !== OCPI_STATUS.SUCCESS) {
      throw new OcpiFailure(200, OCPI_STATUS.CLIENT_API, `GET ${url} answered HTTP ${res.status}${env.success ? ` with OCPI status ${env.data.status_code}` : ', not an OCPI response'}`);
    }
    return env.data.data;
  }

  /** The partner's endpoints for 2.2.1, from its versions URL (3001 when unreachable, 3002 without 2.2.1). */
  private async partnerEndpoints(versionsUrl: string, token: string): Promise<OcpiEndpoint[]> {
    const versions = versionsData.safeParse(await this.fetchOcpi(versionsUrl, token));
    if (!versions.success) throw new OcpiFailure(200, OCPI_STATUS.CLIENT_API, `${versionsUrl} is not an OCPI version list`);
    const mine = versions.data.find((v) => v.version === OCPI_VERSION);
    if (!mine) throw new OcpiFailure(200, OCPI_STATUS.UNSUPPORTED_VERSION, `${versionsUrl} offers ${versions.data.map((v) => v.version).join(', ') || 'no version'}, not ${OCPI_VERSION}`);
    const details = detailsData.safeParse(await this.fetchOcpi(mine.url, token));
    if (!details.success) throw new OcpiFailure(200, OCPI_STATUS.CLIENT_API, `${mine.url} is not OCPI version details`);
    if (details.data.version !== OCPI_VERSION) throw new OcpiFailure(200, OCPI_STATUS.UNSUPPORTED_VERSION, `${mine.url} describes version ${details.data.version}, not ${OCPI_VERSION}`);
    return details.data.endpoints;
  }

  /** register (POST or PUT credentials): checks the roles, fetches the partner's endpoints, stores it with a fresh token C. */
  private async register(req: FastifyRequest, caller: Caller): Promise<string> {
    if (this.d.readOnly) throw new OcpiFailure(405, OCPI_STATUS.CLIENT_ERROR, 'this is a read-only replica: register with the operator\'s server');
    const body = parse(credentialsBody, req.body, 'body');
    const role = body.roles.find((r) => r.role === 'EMSP' && partyRef(r.country_code, r.party_id) === caller.party);
    if (!role) throw invalid(`body.roles: the token was issued to the eMSP ${caller.party}, which the roles do not list (role EMSP)`);
    if (!this.hasCharging() || !findParty(this.state, caller.party, 'EMSP')) throw unauthorized(`${caller.party} is no longer an eMSP of the log`);
    const endpoints = await this.partnerEndpoints(body.url, body.token);
    const at = ocpiTime(this.d.now());
    const before = this.store.partner(caller.party);
    const tokenC = newCredentialsToken();
    this.store.register({
      party: caller.party, countryCode: role.country_code.toUpperCase(), partyId: role.party_id.toUpperCase(), version: OCPI_VERSION, versionsUrl: body.url, token: body.token,
      endpoints, roles: body.roles, registered: before?.registered ?? at, updated: at,
    }, tokenC);
    return tokenC;
  }

  private versionDetails(req: FastifyRequest) {
    const b = `${this.base(req)}${V}`;
    return {
      version: OCPI_VERSION,
      endpoints: [
        { identifier: 'credentials', role: 'SENDER', url: `${b}/credentials` },
        { identifier: 'credentials', role: 'RECEIVER', url: `${b}/credentials` },
        { identifier: 'locations', role: 'SENDER', url: `${b}/locations` },
        { identifier: 'tariffs', role: 'SENDER', url: `${b}/tariffs` },
        { identifier: 'sessions', role: 'SENDER', url: `${b}/sessions` },
        { identifier: 'cdrs', role: 'SENDER', url: `${b}/cdrs` },
      ],
    };
  }

  /** attach registers the routes under /ocpi (OCPI envelope for every answer, errors included), the push timer and the cleanup on close. */
  attach(app: FastifyInstance): void {
    this.log = (message, data) => app.log.warn(data, message);
    if (!this.d.readOnly) {
      this.timer = setInterval(() => void this.sync(), this.d.flushEveryMs ?? 30_000);
      this.timer.unref();
    }
    app.addHook('onClose', async () => this.close());
    void app.register(async (scope) => {
      scope.addHook('onRequest', async (req, reply) => {
        const id = (name: string) => (typeof req.headers[name] === 'string' && (req.headers[name] as string).length <= 200 ? req.headers[name] as string : randomUUID());
        reply.header('x-request-id', id('x-request-id')).header('x-correlation-id', id('x-correlation-id'));
      });
      scope.setErrorHandler((e: Error, req, reply) => this.failure(e, req, reply));
      scope.setNotFoundHandler((req, reply) => this.send(reply, 404, OCPI_STATUS.CLIENT_ERROR, `no OCPI endpoint ${req.method} ${req.url.split('?')[0]}`));

      scope.get('/versions', async (req, reply) => {
        this.caller(req, true);
        return this.ok(reply, [{ version: OCPI_VERSION, url: `${this.base(req)}${V}` }]);
      });
      scope.get(`/${OCPI_VERSION}`, async (req, reply) => {
        this.caller(req, true);
        return this.ok(reply, this.versionDetails(req));
      });

      // Credentials (symmetric module: GET, POST, PUT, DELETE).
      const cred = `/${OCPI_VERSION}/credentials`;
      scope.get(cred, async (req, reply) => {
        const caller = this.caller(req, true);
        return this.ok(reply, this.credentials(req, caller.token));
      });
      scope.post(cred, async (req, reply) => {
        const caller = this.caller(req, true);
        if (caller.kind === 'C') throw notAllowed(`${caller.party} is registered already: PUT credentials to update them`);
        const token = await this.register(req, caller);
        return this.ok(reply, this.credentials(req, token));
      });
      scope.put(cred, async (req, reply) => {
        const caller = this.caller(req, true);
        if (caller.kind === 'A') throw notAllowed(`${caller.party} is not registered yet: POST credentials first`);
        const token = await this.register(req, caller);
        return this.ok(reply, this.credentials(req, token));
      });
      scope.delete(cred, async (req, reply) => {
        const caller = this.caller(req, true);
        if (caller.kind === 'A') throw notAllowed(`${caller.party} is not registered`);
        if (this.d.readOnly) throw notAllowed('this is a read-only replica');
        this.store.unregister(caller.party);
        return this.send(reply, 200, OCPI_STATUS.SUCCESS, 'Success');
      });

      // Locations, Sender interface.
      const loc = `/${OCPI_VERSION}/locations`;
      scope.get(loc, async (req, reply) => {
        const { cpos } = this.module(req, reply);
        return this.page(req, reply, `${V}/locations`, this.locations(cpos).map((l) => l.location));
      });
      const locationOf = (cpos: PartyRow[], id: string) => {
        const row = this.hasCharging() ? cpos.map((c) => findLocation(this.state, c.party, id.toUpperCase())).find((r) => r !== undefined) : undefined;
        if (!row) throw unknownLocation(`unknown location ${id}`);
        return row.location;
      };
      const evseOf = (cpos: PartyRow[], id: string, uid: string) => {
        const evse = locationOf(cpos, id).evses?.find((e) => e.uid.toUpperCase() === uid.toUpperCase());
        if (!evse) throw unknownLocation(`unknown EVSE ${uid} at location ${id}`);
        return evse;
      };
      type P = { location_id: string; evse_uid: string; connector_id: string };
      scope.get(`${loc}/:location_id`, async (req, reply) => {
        const { cpos } = this.module(req, reply);
        return this.ok(reply, locationOf(cpos, (req.params as P).location_id));
      });
      scope.get(`${loc}/:location_id/:evse_uid`, async (req, reply) => {
        const { cpos } = this.module(req, reply);
        const p = req.params as P;
        return this.ok(reply, evseOf(cpos, p.location_id, p.evse_uid));
      });
      scope.get(`${loc}/:location_id/:evse_uid/:connector_id`, async (req, reply) => {
        const { cpos } = this.module(req, reply);
        const p = req.params as P;
        const connector = evseOf(cpos, p.location_id, p.evse_uid).connectors.find((c) => c.id.toUpperCase() === p.connector_id.toUpperCase());
        if (!connector) throw unknownLocation(`unknown connector ${p.connector_id} on EVSE ${p.evse_uid}`);
        return this.ok(reply, connector);
      });

      // Tariffs, sessions and CDRs, Sender interfaces.
      scope.get(`/${OCPI_VERSION}/tariffs`, async (req, reply) => {
        const { cpos } = this.module(req, reply);
        return this.page(req, reply, `${V}/tariffs`, this.hasCharging() ? cpos.flatMap((c) => currentTariffs(this.state, c.party).map((t) => t.tariff)) : []);
      });
      scope.get(`/${OCPI_VERSION}/sessions`, async (req, reply) => {
        const { caller, cpos } = this.module(req, reply);
        return this.page(req, reply, `${V}/sessions`, this.sessions(caller.party, cpos));
      });
      scope.get(`/${OCPI_VERSION}/cdrs`, async (req, reply) => {
        const { caller, cpos } = this.module(req, reply);
        return this.page(req, reply, `${V}/cdrs`, this.cdrRows(caller.party, cpos).map((r) => r.cdr));
      });
    }, { prefix: OCPI_BASE });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.offHub();
    if (this.timer) clearInterval(this.timer);
    this.inFlight.abort(new OpenlecError('E_CLOSING', 'the server is closing'));
    if (this.ownsStore) {
      // A flush under way finishes (its fetches are aborted) before the store closes.
      const f = this.flushing;
      if (f) void f.finally(() => this.store.close()).catch(() => {});
      else this.store.close();
    }
  }
}
