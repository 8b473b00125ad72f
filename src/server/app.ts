import rateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance } from 'fastify';
import { z } from 'zod';
import { frenchCoefficients, statements, statementsCsv } from '../allocation/exports.ts';
import { type KeySpec, type MemberTotals, runMonth } from '../allocation/month.ts';
import { community, participant } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import { addSignatureLines, type CosignerKey, cosignaturesOf, decodeEntry, fromUtf8, type KeyPair, proveInclusion, toBase64 } from '../ledger/index.ts';
import { bookFor, tradeRecordJson, tradesTree } from '../market/book.ts';
import { type ClearingRow, lastCleared, type OrderRow, type StandingOrderRow, tradesOf } from '../market/tables.ts';
import type { MeterRow } from '../metering/meter-register.ts';
import type { ReadingsRow } from '../metering/readings.ts';
import { nodeVerifySignature } from '../node/signatures.ts';
import { settleMonth } from '../settlement/invoice.ts';
import type { Role } from '../state/registry.ts';
import type { LedgerStore } from '../store/ledger-store.ts';
import { addDays, parseInstant } from '../units/index.ts';
import { Admission } from './admission.ts';
import { Auth } from './auth.ts';
import { registerDocs } from './docs.ts';
import { paged } from './pages.ts';
import { EntryEvents, resumeAfter, streamEvents } from './event-stream.ts';
import { EventHub } from './events.ts';
import { clientErrorHandler, notFound, replyFailure } from './failures.ts';
import { KeyLimits } from './limits.ts';
import { certificateRoutes } from './certificates-routes.ts';
import { chargingRoutes } from './charging-routes.ts';
import { flexRoutes } from './flex-routes.ts';
import { dashboardRoutes } from './dashboard-routes.ts';
import { batchRoutes } from './batch-routes.ts';
import { homeRoutes } from './home-routes.ts';
import { networkRoutes } from './network-routes.ts';
import { apiKeyRoutes } from './api-key-routes.ts';
import { chargingEntryConcerns } from '../charging/driver.ts';
import { OpenAdr } from './openadr.ts';
import type { OpenAdrStore } from './openadr-store.ts';
import { Ocpi } from './ocpi.ts';
import type { OcpiStore } from './ocpi-store.ts';
import { openApiDocument } from './openapi.ts';
import { allow, checkResponse, DATE, KEY, MONTH, parseRequest, type Route, WithStatus } from './route.ts';
import { ALLOCATIONS, CHALLENGE, CHECKPOINTS, CLEARINGS, COMMUNITY, COMMUNITY_ENERGY, COMMUNITY_EXAMPLE, CONSISTENCY, COSIGNATURE_RESULT, CURVES, FEEDERS, FINAL_CHECKPOINT, INCLUSION, INVOICE, LATEST_CHECKPOINT, LOG, MARKET_BOOK, ME, MARKET_DEPTH, MEMBER_ALLOCATIONS, MEMBER_EXPORT, MEMBER_ORDERS, MEMBER_TRADES, METER, PARTICIPANTS, PERSONAL_DATA, PERSONAL_ERASED, PERSONAL_STORED, RAW_LOG, TOKEN, TRANSACTION_RESULT } from './responses.ts';
import { personalDataSchema, type PersonalVault } from './vault.ts';
import { bookDepth, communityEnergy } from './views.ts';

/**
 * buildApp: the HTTP API over one community's ledger. Writes are signed transactions
 * (the signature is the authentication); reads of per-member data need a token obtained
 * by signing a challenge with the member's key (auth.ts). Every route is declared once
 * below with its zod schemas, which both validate requests and generate /openapi.json.
 */
export interface AppDeps {
  ledger: LedgerStore;
  vault: PersonalVault;
  /** Secret for session tokens (32 bytes). */
  tokenSecret: Uint8Array;
  /** The operator's key, to sign checkpoints after writes. */
  operatorKey?: KeyPair;
  /** The server's wall clock (epoch ms): challenges, tokens, rate-limit windows. */
  now?: () => number;
  /**
   * The time the operator vouches for when it admits a transaction (default: `now`): an
   * issuedAt more than `maxSkewMs` from it is refused, and the time rules are judged at
   * it as well. The live demo passes its accelerated simulated clock.
   */
  txClock?: () => number;
  /** Largest accepted distance between a transaction's issuedAt and txClock (default 30 s). */
  maxSkewMs?: number;
  /** Requests per minute per verified key (token, message signature or transaction signature). */
  rateLimitPerMinute?: number;
  /** Requests per minute per client address, before anything is verified (default: 10 times the per-key limit). */
  addressRateLimitPerMinute?: number;
  /** Transactions waiting for the store at most (default 10,000); beyond, 503. */
  maxPendingWrites?: number;
  /** Open event streams at most (default 1,000); beyond, 503. */
  maxEventStreams?: number;
  /** A comment line on every event stream this often (default 15 s), so that proxies keep quiet streams open. */
  eventHeartbeatMs?: number;
  /** Sign a checkpoint at most this often when the log grew. */
  checkpointEveryMs?: number;
  events?: EventHub;
  /** Fastify's logger (pino): requests, and every 5xx with its cause. A stream for tests. */
  logger?: boolean | { stream: { write(line: string): void } };
  /** A built dashboard (web/dist) to serve at /. */
  webRoot?: string;
  /** Witnesses whose cosignatures the operator collects, and how many make a checkpoint final. */
  witnesses?: { keys: CosignerKey[]; quorum: number };
  /** A replica: serves reads of a log it follows and refuses writes, pointing to the operator. */
  readOnly?: { operatorUrl: string };
  /** The OpenADR VTN's off-log store (default: `<log>.openadr.db` beside a log file, in memory otherwise). */
  openadr?: OpenAdrStore;
  /** The OCPI interface's off-log store (default: `<log>.ocpi.db` beside a log file, in memory otherwise). */
  ocpi?: OcpiStore;
  /**
   * Hold every JSON answer of a route to its schemas (the route's `response`, the failure
   * shape): a mismatch fails the request with 500 E_CONTRACT. For tests; also on when the
   * environment has OPENLEC_CHECK_RESPONSES=1 (npm test sets it, and child servers inherit it).
   */
  checkResponses?: boolean;
}

const AGGREGATE_TYPES = new Set(['market.clear', 'allocation.run', 'community.create', 'market.configure', 'tariff.set', 'certificates.issue', 'certificates.settle', 'certificates.expire', 'certificates.configure', 'flex.configure', 'flex.request', 'flex.order', 'flex.settle', 'charging.party', 'charging.location', 'charging.tariff', 'charging.settle']);

const readAll = <T>(ledger: LedgerStore, table: string) => [...ledger.state.rows(table)] as unknown as T[];

type RouteDeps = Required<Pick<AppDeps, 'ledger' | 'vault' | 'events'>> & Pick<AppDeps, 'witnesses' | 'readOnly'> & {
  auth: Auth; admission: Admission; limits: KeyLimits; now: () => number; txClock: () => number;
};

function routes(d: RouteDeps): Route[] {
  const { ledger, vault, auth, events, witnesses } = d;
  const ownedMeters = (key: string) => ledger.state.lookup<MeterRow>('meters', 'owner', key);
  const nowIso = () => new Date(d.now()).toISOString();
  const memberExists = (key: string) => {
    if (!participant(ledger.state, key)) throw new OpenlecError('E_NOT_FOUND', `no participant ${key}`, { field: 'key' });
  };
  const curves = (key: string, from: string, to: string) => {
    const owned = ownedMeters(key);
    const meters = new Set(owned.map((m) => `${m.meter}/${m.direction}`));
    return [...new Set(owned.map((m) => m.meter))].flatMap((m) => ledger.state.lookup<ReadingsRow>('readings', 'meter', m))
      .filter((r) => meters.has(`${r.meter}/${r.direction}`) && r.date >= from && r.date <= to)
      .sort((a, b) => a.date.localeCompare(b.date) || a.meter.localeCompare(b.meter) || a.direction.localeCompare(b.direction))
      .map((r) => ({ meter: r.meter, direction: r.direction, date: r.date, values: r.values, entry: r.entry }));
  };
  /** A member's trades, each with its record and audit path in the clearing's trade tree (checkTradeInclusion). */
  const memberTrades = (key: string, from: string, to: string) => {
    const meters = new Set(ownedMeters(key).map((m) => m.meter));
    return readAll<ClearingRow>(ledger, 'clearings').filter((c) => c.interval >= from && c.interval < to).sort((a, b) => a.interval.localeCompare(b.interval)).flatMap((c) => {
      // The text names the meters: most books can be passed over without parsing them.
      if (![...meters].some((m) => c.trades.includes(`"${m}"`))) return [];
      const all = tradesOf(c);
      const mine = all.flatMap((t, index) => (meters.has(t.buyer) || meters.has(t.seller) ? [{ t, index }] : []));
      if (mine.length === 0) return [];
      const tree = tradesTree(all);
      return mine.map(({ t, index }) => ({
        interval: c.interval, side: meters.has(t.buyer) ? 'buy' : 'sell', wh: t.wh, priceMicroPerKwh: t.price, feeMicroPerKwh: t.fee, amountMicro: meters.has(t.buyer) ? t.amount : t.proceeds, entry: c.entry,
        record: tradeRecordJson(t), index, proof: proveInclusion(index, tree.size, tree).map(toBase64),
      }));
    });
  };
  const month = MONTH;
  const range = z.object({ from: DATE, to: DATE });
  const instantRange = z.object({ from: z.string().min(1), to: z.string().min(1) });
  const staff: readonly Role[] = ['operator', 'dso', 'auditor'];
  const cosigning = new Serial();
  return [
    {
      method: 'POST', url: '/v1/transactions', operationId: 'submitTransaction', tags: ['transactions'], response: TRANSACTION_RESULT, example: { entry: 42, size: 43 }, summary: 'Append a signed transaction (any type of the registry). The signature is the authentication. Sending the same signed transaction again (a retry after a timeout) gives its entry with 200 and `duplicate: true`, and appends nothing.', access: 'signed', status: 201,
      body: z.record(z.string(), z.unknown()),
      async handler({ body }) {
        if (d.readOnly) throw new OpenlecError('E_READ_ONLY', `this is a read-only replica: send transactions to the operator at ${d.readOnly.operatorUrl}`, { field: 'body' });
        const { entry, duplicate } = await d.admission.admit(body);
        // A retry of a logged transaction: its entry, 200 rather than 201, nothing appended or announced again.
        if (duplicate) return new WithStatus(200, { entry, size: ledger.size, duplicate: true });
        // Appended, so the type and body were checked: announce it.
        for (const e of EventHub.forEntry(entry, body.type as string, body.body as Record<string, unknown>)) events.emit(e);
        return { entry, size: ledger.size };
      },
    },
    {
      method: 'POST', url: '/v1/auth/challenge', operationId: 'createChallenge', tags: ['auth'], response: CHALLENGE, summary: 'A challenge to sign with a participant key, valid 5 minutes (stateless: it carries its expiry and the server\'s MAC).', access: 'public',
      handler: () => auth.challenge(),
    },
    {
      method: 'POST', url: '/v1/auth/token', operationId: 'createToken', tags: ['auth'], response: TOKEN, summary: 'Exchange a signed challenge for a short-lived bearer token carrying the key\'s roles.', access: 'public',
      body: z.strictObject({ key: KEY.shape.key, challenge: z.string().min(1).max(100), signature: z.string().min(1).max(200) }),
      handler: ({ body }) => {
        const token = auth.login(ledger.state, body.key, body.challenge, body.signature);
        d.limits.count(body.key);
        return token;
      },
    },
    {
      method: 'GET', url: '/v1/community', operationId: 'getCommunity', tags: ['community'], response: COMMUNITY, example: COMMUNITY_EXAMPLE, summary: 'The community, its log size, the operator\'s checkpoint verifier key and the server\'s time (transactions are admitted by it).', access: 'public',
      handler: () => ({
        ...community(ledger.state), size: ledger.size, origin: ledger.origin(), verifierKey: ledger.operatorVerifierKey(), lastCleared: lastCleared(ledger.state) || null,
        serverTime: new Date(d.txClock()).toISOString(),
      }),
    },
    {
      method: 'GET', url: '/v1/me', operationId: 'getMe', tags: ['auth'], response: ME, summary: 'Who the token or API key belongs to: key, roles, the highest nonce the key has used (the next transaction needs a higher one), meters, and the API key when the request came with one.', access: { roles: ['operator', 'dso', 'member', 'auditor'] },
      handler: ({ session }) => ({ key: session!.key, roles: session!.roles, nonce: participant(ledger.state, session!.key)?.nonce ?? 0, meters: ownedMeters(session!.key).map((m) => ({ meter: m.meter, direction: m.direction, feeder: m.feeder })), ...(session!.apiKey ? { apiKey: session!.apiKey } : {}) }),
    },
    {
      method: 'GET', url: '/v1/participants', operationId: 'listParticipants', tags: ['community'], response: PARTICIPANTS, summary: 'Participants: pseudonymous keys and roles only.', access: { roles: staff },
      handler: () => readAll<{ key: string; roles: Role[]; entry: number }>(ledger, 'participants').map((p) => ({ key: p.key, roles: p.roles, entry: p.entry })),
    },
    {
      method: 'GET', url: '/v1/meters', operationId: 'listMeters', tags: ['metering'], response: z.array(METER), summary: 'Metering points with owner key, direction and feeder.', access: { roles: staff },
      handler: () => readAll<MeterRow>(ledger, 'meters'),
    },
    {
      method: 'GET', url: '/v1/feeders', operationId: 'listFeeders', tags: ['community'], response: FEEDERS, summary: 'The feeder tree.', access: { roles: ['operator', 'dso', 'member', 'auditor'] },
      handler: () => readAll(ledger, 'feeders'),
    },
    {
      method: 'GET', url: '/v1/log', operationId: 'listLogEntries', tags: ['log'], response: LOG, summary: 'Log entries from an index (pseudonymous: no personal data is ever in the log).', access: { roles: staff },
      query: z.object({ from: z.coerce.number().int().min(0).default(0), limit: z.coerce.number().int().min(1).max(1000).default(100) }),
      handler: async ({ query }) => {
        const size = ledger.size;
        const to = Math.min(size, query.from + query.limit);
        const entries = to > query.from ? await ledger.readEntries(query.from, to) : [];
        return { size, entries: entries.map(({ bytes }, i) => ({ entry: query.from + i, ...decodeEntry(bytes).tx })) };
      },
    },
    {
      method: 'GET', url: '/v1/checkpoints', operationId: 'listCheckpoints', tags: ['log'], response: CHECKPOINTS, example: [{ size: 43, note: 'openlec.test/sunny-street\n43\n2HvW0Yp1Zb0pDn3mB5Jm0b4P3hB0qk6nWm8l6ZcXq0s=\n\n\u2014 openlec.test/sunny-street Az3tKQ...\n', cosigners: 0 }], summary: 'Signed checkpoints (C2SP signed notes), newest last.', access: 'public',
      handler: () => {
        const counts = ledger.cosignatureCounts();
        return ledger.checkpoints().map((c) => ({ size: c.size, note: c.note, cosigners: counts.get(c.size) ?? 0 }));
      },
    },
    {
      method: 'GET', url: '/v1/log/entries', operationId: 'listRawLogEntries', tags: ['log'], response: RAW_LOG, summary: 'Raw log entries (the exact signed bytes, as text) from an index, for replicas: staff only.', access: { roles: staff },
      query: z.object({ from: z.coerce.number().int().min(0).default(0), limit: z.coerce.number().int().min(1).max(5000).default(1000) }),
      handler: async ({ query }) => {
        const size = ledger.size;
        const to = Math.min(size, query.from + query.limit);
        const entries = to > query.from ? await ledger.readEntries(query.from, to) : [];
        return { size, from: query.from, entries: entries.map(({ bytes }) => fromUtf8(bytes)) };
      },
    },
    {
      method: 'POST', url: '/v1/checkpoints/:size/cosignatures', operationId: 'submitCosignature', tags: ['log'], response: COSIGNATURE_RESULT, summary: 'A witness returns its C2SP cosignature (signature line) on a stored checkpoint; the signature is the authentication.', access: 'public',
      params: z.object({ size: z.coerce.number().int().min(0) }), body: z.strictObject({ cosignature: z.string().min(10).max(400) }),
      handler: async ({ params, body }) => {
        if (!witnesses) throw new OpenlecError('E_NO_WITNESSES', 'this log has no witnesses configured (serve --witness KEY --quorum K)', { field: 'cosignature' });
        const stored = ledger.checkpoints().find((c) => c.size === params.size);
        if (!stored) throw new OpenlecError('E_NO_CHECKPOINT', `no checkpoint of size ${params.size}`, { field: 'size' });
        const line = body.cosignature.replace(/\n$/, '');
        const name = /^\u2014 (\S+) /.exec(line)?.[1];
        if (!name || line.includes('\n')) throw new OpenlecError('E_COSIGNATURE', 'cosignature must be one signature line "— <name> <base64>"', { field: 'cosignature' });
        const valid = cosignaturesOf(addSignatureLines(stored.note, [line]), witnesses.keys, nodeVerifySignature);
        if (!valid.some((v) => v.name === name)) throw new OpenlecError('E_UNKNOWN_WITNESS', `"${name}" is not a witness of this log`, { field: 'cosignature' });
        // One cosignature is kept at a time: the count before and after are those of this one's write, so a checkpoint is announced final once.
        const cosigners = await cosigning.run(async () => {
          const before = ledger.cosignatures(params.size).length;
          await ledger.keepCosignature(params.size, name, line);
          const after = ledger.cosignatures(params.size).length;
          if (before < witnesses.quorum && after >= witnesses.quorum) events.emit({ event: 'checkpoint-final', data: { size: params.size, cosigners: after } });
          return after;
        });
        return { size: params.size, cosigners, quorum: witnesses.quorum, final: cosigners >= witnesses.quorum };
      },
    },
    {
      method: 'GET', url: '/v1/checkpoints/final', operationId: 'getFinalCheckpoint', tags: ['log'], response: FINAL_CHECKPOINT, summary: 'The newest checkpoint cosigned by a quorum of the configured witnesses, with their cosignatures (C2SP).', access: 'public',
      handler: () => {
        if (!witnesses) throw new OpenlecError('E_NO_WITNESSES', 'this log has no witnesses configured', { field: 'size' });
        const final = ledger.newestCheckpoint(witnesses.quorum);
        if (!final) throw new OpenlecError('E_NO_CHECKPOINT', `no checkpoint has ${witnesses.quorum} cosignatures yet`, { field: 'size' });
        const lines = ledger.cosignatures(final.size);
        return { size: final.size, quorum: witnesses.quorum, cosigners: lines.map((l) => l.witness), note: addSignatureLines(final.note, lines.map((l) => l.line)) };
      },
    },
    {
      method: 'GET', url: '/v1/checkpoints/latest', operationId: 'getLatestCheckpoint', tags: ['log'], response: LATEST_CHECKPOINT, summary: 'The newest signed checkpoint.', access: 'public',
      handler: () => {
        const c = ledger.latestCheckpoint();
        if (!c) throw new OpenlecError('E_NO_CHECKPOINT', 'no checkpoint yet', { field: 'size' });
        return { size: c.checkpoint.size, note: c.note };
      },
    },
    {
      method: 'GET', url: '/v1/consistency', operationId: 'getConsistencyProof', tags: ['log'], response: CONSISTENCY, summary: 'RFC 9162 consistency proof between two tree sizes.', access: 'public',
      query: z.object({ from: z.coerce.number().int().min(1), to: z.coerce.number().int().min(1) }),
      handler: async ({ query }) => {
        const size = ledger.size;
        if (query.from > query.to || query.to > size) throw new OpenlecError('E_BAD_RANGE', `need 1 ≤ from ≤ to ≤ ${size}`, { field: 'from' });
        return { from: query.from, to: query.to, proof: (await ledger.consistencyProof(query.from, query.to)).map(toBase64) };
      },
    },
    {
      method: 'GET', url: '/v1/proofs/:entry', operationId: 'getInclusionProof', tags: ['log'], response: INCLUSION, summary: 'Inclusion proof of an entry under the newest checkpoint covering it. Members, aggregators, CPOs and eMSPs get proofs of their own entries only (a CDR also belongs to its eMSP and to the driver its token is linked to).', access: { roles: ['operator', 'dso', 'member', 'auditor', 'aggregator', 'cpo', 'emsp'] },
      params: z.object({ entry: z.coerce.number().int().min(0) }),
      handler: async ({ params, session }) => {
        const size = ledger.size;
        if (params.entry >= size) throw new OpenlecError('E_NO_ENTRY', `entry ${params.entry} does not exist (the log has ${size})`, { field: 'entry' });
        const bytes = await ledger.readEntry(params.entry);
        const tx = decodeEntry(bytes).tx as { type: string; actor: string; body: { meter?: string; owner?: string; key?: string; to?: string; [field: string]: unknown } };
        if (!session!.roles.some((r) => staff.includes(r))) {
          // Aggregate records (clearings, allocations) name no member: anyone may prove them.
          const mine = AGGREGATE_TYPES.has(tx.type) || tx.actor === session!.key || tx.body.owner === session!.key || tx.body.key === session!.key || tx.body.to === session!.key
            || (tx.body.meter !== undefined && ownedMeters(session!.key).some((m) => m.meter === tx.body.meter))
            || chargingEntryConcerns(ledger.state, tx, session!.key);
          if (!mine) throw new OpenlecError('E_FORBIDDEN', `entry ${params.entry} is not about you`, { field: 'entry' });
        }
        // Within the tree this process holds (a store shared by several processes may know a newer checkpoint first).
        const covering = ledger.checkpoints().filter((c) => c.size > params.entry && c.size <= ledger.size).pop();
        if (!covering) throw new OpenlecError('E_NO_CHECKPOINT', `no checkpoint covers entry ${params.entry} yet`, { field: 'entry' });
        const proof = await ledger.inclusionProof(params.entry, covering.size);
        return { entry: params.entry, transaction: fromUtf8(bytes), proof: proof.map(toBase64), checkpoint: covering.note, verifierKey: ledger.operatorVerifierKey() };
      },
    },
    {
      method: 'GET', url: '/v1/community/energy', operationId: 'getCommunityEnergy', tags: ['community'], response: COMMUNITY_ENERGY, summary: 'Energy of the whole community per interval over local days [from, to] (at most 93): drawn, fed in, matched locally, price; totals, self-sufficiency and flows. Aggregates only, so public.', access: 'public',
      query: range,
      handler: ({ query }) => {
        if (query.from > query.to || addDays(query.from, 92) < query.to) throw new OpenlecError('E_BAD_RANGE', 'need from ≤ to and at most 93 days', { field: 'query.to' });
        return communityEnergy(ledger.state, query.from, query.to);
      },
    },
    {
      method: 'GET', url: '/v1/market/depth', operationId: 'getMarketDepth', tags: ['market'], response: MARKET_DEPTH, summary: 'Supply and demand curves of an interval\'s book (cumulative Wh by limit price), without meters: public.', access: 'public',
      query: z.object({ interval: z.string().min(1) }),
      handler: ({ query }) => bookDepth(bookFor(ledger.state, parseInstant(query.interval, 'query.interval'))),
    },
    {
      method: 'GET', url: '/v1/market/clearings', operationId: 'listClearings', tags: ['market'], response: CLEARINGS, summary: 'Clearing results (price, volume, fees; no per-member trades) in [from, to). Public: prices and volumes name no member.', access: 'public',
      query: instantRange,
      handler: ({ query }) => readAll<ClearingRow>(ledger, 'clearings').filter((c) => c.interval >= query.from && c.interval < query.to)
        .sort((a, b) => a.interval.localeCompare(b.interval)).map((c) => {
          const { trades: _text, ...summary } = c;
          return { ...summary, trades: tradesOf(c).length };
        }),
    },
    {
      method: 'GET', url: '/v1/market/book', operationId: 'getMarketBook', tags: ['market'], response: MARKET_BOOK, summary: 'The book of an interval as it would clear now (every member\'s orders: staff only).', access: { roles: staff },
      query: z.object({ interval: z.string().min(1) }),
      handler: ({ query }) => {
        const b = bookFor(ledger.state, parseInstant(query.interval, 'interval'));
        return { interval: b.interval, config: b.config, orders: b.orders.map((o) => ({ side: o.side, quantityWh: o.quantityWh, limitMicroPerKwh: o.limitMicroPerKwh, meter: b.meterOf.get(o.id) })) };
      },
    },
    {
      method: 'GET', url: '/v1/allocations', operationId: 'listAllocations', tags: ['allocation'], response: ALLOCATIONS, summary: 'Monthly allocation runs with per-meter totals.', access: { roles: staff },
      handler: () => readAll(ledger, 'allocations'),
    },
    {
      method: 'GET', url: '/v1/allocations/:month/files/:file', operationId: 'getAllocationFile', tags: ['allocation'], contentType: 'text/csv', summary: 'Files of a recorded monthly allocation, recomputed from the log: the DSO coefficient file (French CSV) or the members\' statements (CSV).', access: { roles: staff },
      params: month.extend({ file: z.enum(['coefficients-fr.csv', 'statements.csv']) }),
      handler: ({ params, reply }) => {
        const row = ledger.state.get<{ key: KeySpec }>('allocations', params.month);
        if (!row) throw new OpenlecError('E_NOT_FOUND', `no allocation recorded for ${params.month}`, { field: 'params.month' });
        const { input, result, summary } = runMonth(ledger.state, params.month, row.key);
        const body = params.file === 'coefficients-fr.csv'
          ? frenchCoefficients(input, result, community(ledger.state)!.timeZone)
          : statementsCsv(statements(summary, Object.fromEntries(readAll<MeterRow>(ledger, 'meters').map((m) => [m.meter, m.owner]))));
        reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${params.file.replace('.csv', '')}-${params.month}.csv"`);
        return body;
      },
    },
    {
      method: 'GET', url: '/v1/members/:key/allocations', operationId: 'listMemberAllocations', tags: ['members', 'allocation'], response: MEMBER_ALLOCATIONS, summary: 'A member\'s share of each monthly allocation (per import meter).', access: { roles: ['operator', 'dso'], self: true },
      params: KEY,
      handler: ({ params }) => {
        const meters = new Set(ownedMeters(params.key).map((m) => m.meter));
        return readAll<{ month: string; key: KeySpec; productionWh: number; members: MemberTotals[]; entry: number }>(ledger, 'allocations')
          .sort((a, b) => a.month.localeCompare(b.month))
          .map((a) => ({ month: a.month, key: a.key.kind, productionWh: a.productionWh, entry: a.entry, meters: a.members.filter((m) => meters.has(m.meter)) }));
      },
    },
    {
      method: 'GET', url: '/v1/members/:key/curves', operationId: 'listMemberCurves', tags: ['members', 'metering'], response: CURVES, summary: 'A member\'s metered load curves (Wh per interval) by local day.', access: { roles: ['operator', 'dso'], self: true },
      params: KEY, query: range,
      handler: ({ params, query }) => curves(params.key, query.from, query.to),
    },
    {
      method: 'GET', url: '/v1/members/:key/orders', operationId: 'listMemberOrders', tags: ['members', 'market'], response: MEMBER_ORDERS, summary: 'A member\'s orders and standing orders.', access: { roles: ['operator', 'dso'], self: true },
      params: KEY,
      handler: ({ params }) => ({
        orders: ledger.state.lookup<OrderRow>('orders', 'owner', params.key),
        standing: ledger.state.lookup<StandingOrderRow>('standing_orders', 'owner', params.key),
      }),
    },
    {
      method: 'GET', url: '/v1/members/:key/trades', operationId: 'listMemberTrades', tags: ['members', 'market'], response: MEMBER_TRADES, summary: 'A member\'s trades in [from, to) (ISO instants).', access: { roles: ['operator'], self: true },
      params: KEY, query: instantRange,
      handler: ({ params, query }) => memberTrades(params.key, query.from, query.to),
    },
    {
      method: 'GET', url: '/v1/members/:key/invoices/:month', operationId: 'getMemberInvoice', tags: ['members', 'settlement'], response: INVOICE.nullable(), summary: 'A member\'s invoice for a month, computed from the log.', access: { roles: ['operator'], self: true },
      params: KEY.extend(month.shape),
      handler: ({ params }) => {
        memberExists(params.key);
        return settleMonth(ledger.state, params.month).invoices.find((i) => i.participant === params.key) ?? null;
      },
    },
    {
      method: 'PUT', url: '/v1/members/:key/personal', operationId: 'putPersonalData', tags: ['members'], response: PERSONAL_STORED, summary: 'Store a member\'s personal data off the log, encrypted with a key of their own.', access: { roles: ['operator'], self: true, apiKeys: false },
      params: KEY, body: personalDataSchema,
      handler: ({ params, body }) => {
        memberExists(params.key);
        vault.put(params.key, body, nowIso());
        return { stored: true };
      },
    },
    {
      method: 'GET', url: '/v1/members/:key/personal', operationId: 'getPersonalData', tags: ['members'], response: PERSONAL_DATA, summary: 'A member\'s personal data (null once erased).', access: { roles: ['operator'], self: true, apiKeys: false },
      params: KEY,
      handler: ({ params }) => ({ data: vault.get(params.key), erasedAt: vault.erasedAt(params.key) }),
    },
    {
      method: 'DELETE', url: '/v1/members/:key/personal', operationId: 'erasePersonalData', tags: ['members'], response: PERSONAL_ERASED, summary: 'Erase a member\'s personal data: their data key is deleted, the log is untouched and still verifies.', access: { roles: ['operator'], self: true, apiKeys: false },
      params: KEY,
      handler: ({ params }) => ({ erased: vault.erase(params.key, nowIso()), erasedAt: vault.erasedAt(params.key) }),
    },
    {
      method: 'GET', url: '/v1/members/:key/export', operationId: 'exportMember', tags: ['members'], response: MEMBER_EXPORT, summary: 'Everything about a member, as JSON (data portability).', access: { roles: ['operator'], self: true, apiKeys: false },
      params: KEY,
      handler: ({ params }) => {
        memberExists(params.key);
        const meters = ownedMeters(params.key);
        return {
          key: params.key, exportedAt: nowIso(), participant: participant(ledger.state, params.key), personal: vault.get(params.key), meters,
          curves: curves(params.key, '0000-01-01', '9999-12-31'),
          orders: ledger.state.lookup<OrderRow>('orders', 'owner', params.key),
          trades: memberTrades(params.key, '', '~'),
        };
      },
    },
    ...certificateRoutes(ledger),
    ...flexRoutes(ledger, d.txClock),
    ...chargingRoutes(ledger),
    ...homeRoutes(ledger),
    ...dashboardRoutes(ledger),
    ...networkRoutes(ledger, d.txClock),
    ...apiKeyRoutes(ledger, d.txClock),
    ...batchRoutes(ledger, d.admission, events, d.readOnly),
  ];
}

/** Serial runs tasks one after the other, each once the one before has settled. */
class Serial {
  private last: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const r = this.last.then(task, task);
    this.last = r.catch(() => {});
    return r;
  }
}

/** buildApp assembles the API; the caller listens. */
/** The dashboard's Content-Security-Policy (styles may be inline: charts size their boxes). */
export const DASHBOARD_CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export async function buildApp(deps: AppDeps): Promise<{ app: FastifyInstance; events: EventHub; routes: Route[] }> {
  const now = deps.now ?? Date.now;
  const txClock = deps.txClock ?? now;
  const events = deps.events ?? new EventHub();
  const auth = new Auth(deps.tokenSecret, deps.ledger.origin(), now, nodeVerifySignature);
  // API keys are judged at the time the operator vouches for, as their expiries and rotations were admitted.
  auth.keyClock = txClock;
  const perKey = deps.rateLimitPerMinute ?? 60_000;
  const limits = new KeyLimits(perKey, now);
  const admission = new Admission({ ledger: deps.ledger, clock: txClock, maxSkewMs: deps.maxSkewMs ?? 30_000, limits, maxPending: deps.maxPendingWrites ?? 10_000 });
  // openlec's list routes are paged; the OpenADR routes below page as their standard says (skip, limit).
  const table = paged(routes({ ledger: deps.ledger, vault: deps.vault, events, auth, admission, limits, now, txClock, witnesses: deps.witnesses, readOnly: deps.readOnly }));
  const openadr = new OpenAdr({ ledger: deps.ledger, events, now, readOnly: deps.readOnly !== undefined, ...(deps.openadr ? { store: deps.openadr } : {}) });
  table.push(...openadr.routes());
  // maxParamLength: OpenADR object IDs are up to 128 characters (zod then names a longer one).
  const app = Fastify({ logger: deps.logger ?? false, bodyLimit: 256 * 1024, clientErrorHandler, maxParamLength: 200 });
  // JSON bodies are parsed as before (proto-poisoning refused) and their bytes kept on the raw
  // request, for a Content-Digest that an RFC 9421 signature covers (auth.ts).
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    (req.raw as { openlecBody?: Uint8Array }).openlecBody = body as Buffer;
    parseJson(req, (body as Buffer).toString('utf8'), done);
  });
  // Before anything is parsed or verified, only the address is known: a generous limit per
  // address; the key's own limit applies once a signature or token proves the key.
  await app.register(rateLimit, {
    max: deps.addressRateLimitPerMinute ?? 10 * perKey, timeWindow: 60_000, hook: 'onRequest', keyGenerator: (req) => req.ip,
    errorResponseBuilder: (_req, ctx) => ({ statusCode: 429, code: 'E_RATE', message: `rate limit: ${ctx.max} requests per minute per address; retry in ${Math.ceil(ctx.ttl / 1000)} s`, field: 'address' }),
  });
  app.setErrorHandler(openadr.errorHandler(replyFailure));
  app.setNotFoundHandler(openadr.notFoundHandler(notFound));
  const checking = deps.checkResponses ?? process.env.OPENLEC_CHECK_RESPONSES === '1';
  for (const r of table) {
    app.route({
      method: r.method, url: r.url,
      // Refusals pass here too (the error handler sends through the route); text (CSV) does not.
      ...(checking ? {
        preSerialization: async (_req: unknown, reply: { statusCode: number }, payload: unknown) => {
          // As the client will read it: undefined members dropped, toJSON applied.
          const sent = payload === undefined ? undefined : JSON.parse(JSON.stringify(payload)) as unknown;
          if ((sent as { code?: unknown } | null)?.code !== 'E_CONTRACT') checkResponse(r, reply.statusCode, sent);
          return payload;
        },
      } : {}),
      handler: async (req, reply) => {
        // A body is whatever bytes arrived (a JSON `null` included): its digest must then be signed.
        const session = auth.session(req.headers.authorization, deps.ledger.state) ?? await auth.signedSession(deps.ledger.state, req, (req.raw as { openlecBody?: Uint8Array }).openlecBody !== undefined || (req.body !== undefined && req.body !== null));
        // An API key has its own budget: a leaked key cannot spend its owner's (nor block the owner's revocation of it).
        if (session) limits.take(session.apiKey ? `apikey:${session.apiKey}` : session.key, 'authorization');
        const params = parseRequest(r.params, req.params, 'params');
        allow(r.access, session, params as { key?: string });
        const value = await r.handler({ params, query: parseRequest(r.query, req.query, 'query'), body: parseRequest(r.body, req.body, 'body'), session, reply });
        if (value instanceof WithStatus) return reply.status(value.status).send(value.value);
        return reply.status(r.status ?? 200).send(value);
      },
    });
  }
  openadr.attach(app, auth);
  new Ocpi({ ledger: deps.ledger, events, now, readOnly: deps.readOnly !== undefined, ...(deps.ocpi ? { store: deps.ocpi } : {}) }).attach(app);
  // The dashboard runs only its own bundled script: no inline script or handler, no other
  // origin to load from or send to, no framing. A key pasted in the page cannot be sent away
  // by injected markup.
  if (deps.webRoot) await app.register(fastifyStatic, { root: deps.webRoot, index: 'index.html', maxAge: 0, setHeaders: (res) => { res.header('content-security-policy', DASHBOARD_CSP); } });
  app.get('/openapi.json', async () => openApiDocument(table, deps.ledger.registry));
  registerDocs(app);
  const maxStreams = deps.maxEventStreams ?? 1000;
  const entryEvents = new EntryEvents(deps.ledger);
  const streamOptions = { ledger: deps.ledger, events, ...(deps.eventHeartbeatMs ? { heartbeatMs: deps.eventHeartbeatMs } : {}) };
  app.get('/v1/events', (req, reply) => {
    if (events.size >= maxStreams) throw new OpenlecError('E_BUSY', `${events.size} event streams are open`);
    // Resume after the last event received: EventSource sends Last-Event-ID by itself on reconnect; ?after= for a first connection.
    const last = req.headers['last-event-id'];
    const after = (req.query as { after?: unknown }).after;
    const start = typeof last === 'string' && last !== '' ? resumeAfter(last, 'last-event-id') : typeof after === 'string' ? resumeAfter(after, 'query.after') : undefined;
    reply.hijack();
    streamEvents(req.raw, reply.raw, streamOptions, entryEvents, start);
  });
  if (deps.operatorKey) {
    const operatorKey = deps.operatorKey;
    let signed = deps.ledger.latestCheckpoint()?.checkpoint.size ?? 0;
    // At most one signature at a time: a tick while one is being signed passes. A failure
    // is logged and the next tick tries again; it is never an unhandled rejection.
    let signing: Promise<void> | undefined;
    const timer = setInterval(() => {
      if (signing || deps.ledger.size === signed) return;
      signing = deps.ledger.signCheckpoint(operatorKey).then(
        (c) => {
          signed = c.checkpoint.size;
          events.emit({ event: 'checkpoint', data: { size: signed } });
        },
        (e: unknown) => {
          const message = `signing a checkpoint failed: ${(e as Error)?.message ?? String(e)}`;
          app.log.error({ err: e }, message);
          // Without a logger, still said: a log whose checkpoints stall must not go unnoticed.
          if (!deps.logger) process.stderr.write(`openlec serve: ${message}\n`);
        },
      ).finally(() => {
        signing = undefined;
      });
    }, deps.checkpointEveryMs ?? 1000);
    app.addHook('onClose', async () => {
      clearInterval(timer);
      // The ledger may be closed after the app: a signature under way ends first.
      await signing;
    });
  }
  return { app, events, routes: table };
}
