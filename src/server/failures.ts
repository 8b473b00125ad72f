import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { OpenlecError } from '../errors.ts';

/**
 * Every answer that is not a success is JSON `{code, message, field}`, whichever layer
 * refused: a rule of the log, the request's shape, the rate limits, the router (404),
 * Node's HTTP parser (400, 408, 431) or a failure of the server itself. Refusals are 4xx
 * (422 for a rule of the log unless listed), failures 5xx: a store that cannot write is
 * the operator's problem, not the caller's, and overload (503) says when to come back.
 */
const STATUS: [RegExp, number][] = [
  [/^E_(AUTH|TX_SIGNATURE|COSIGNATURE)$/, 401],
  [/^E_(TX_ROLE|TX_ACTOR|TX_UNKNOWN_ACTOR|METER_OWNER|ORDER_OWNER|FORBIDDEN|NOT_OPERATOR|ERASED|UNKNOWN_WITNESS)$/, 403],
  [/^E_(NOT_FOUND|NO_ENTRY|NO_CHECKPOINT|NO_WITNESSES)$/, 404],
  [/^E_(TX_NONCE|READING_CONFLICT|BOOK_CLEARED|READ_ONLY|CURSOR|[A-Z]+_EXISTS)$/, 409],
  [/^E_(TX_FORMAT|TX_BODY|TX_UNKNOWN_TYPE|TX_COMMUNITY|BAD_[A-Z]+|REQUEST|BODY_JSON|INTERVAL_ALIGN|BAD_MONTH|CLOCK_SKEW)$/, 400],
  [/^E_RATE$/, 429],
  [/^E_(BUSY|STORE_BUSY|LOCKED)$/, 503], // LOCKED: another process holds the log's writer lock
  [/^E_(INTERNAL|CONTRACT|STORE_[A-Z_]+)$/, 500], // CONTRACT: a response off its schema (AppDeps.checkResponses)
];
export const statusOf = (code: string) => STATUS.find(([re]) => re.test(code))?.[1] ?? 422;

export interface Failure {
  status: number;
  code: string;
  message: string;
  field: string | null;
  retryAfterS?: number;
}

const BUSY_SQLITE = /^SQLITE_(BUSY|LOCKED)/;
const causeCode = (e: unknown) => ((e as { cause?: { code?: unknown } }).cause?.code as string | undefined) ?? '';

/** failureOf turns anything thrown while answering into the reply; 5xx never reveal their internals (they are logged). */
export function failureOf(e: Error & { code?: string; statusCode?: number; field?: string }): Failure {
  if (e instanceof OpenlecError) {
    // A write that failed because another connection holds SQLite's lock is overload: retry.
    const code = e.code === 'E_STORE_WRITE' && BUSY_SQLITE.test(causeCode(e)) ? 'E_STORE_BUSY' : e.code;
    const status = statusOf(code);
    if (status === 503) return { status, code, message: 'the server is busy: retry shortly; nothing was written', field: null, retryAfterS: 1 };
    // A contract check runs in tests: its message (the operation and the bad path) is what the test needs to see.
    if (code === 'E_CONTRACT') return { status, code, message: e.message, field: null };
    if (status >= 500) return { status, code, message: code === 'E_INTERNAL' ? 'internal error' : 'the store failed to write or read; nothing was written', field: null };
    const retry = typeof e.details.retryAfterS === 'number' ? { retryAfterS: e.details.retryAfterS } : {};
    return { status, code: e.code, message: e.message, field: e.field ?? null, ...retry };
  }
  if (e.statusCode === 429) return { status: 429, code: 'E_RATE', message: e.message, field: e.field ?? 'address' };
  if (e.statusCode && e.statusCode < 500) {
    const code = e.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'E_TOO_LARGE' : e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'E_MEDIA_TYPE' : 'E_REQUEST';
    return { status: e.statusCode, code, message: e.message, field: 'body' };
  }
  if (BUSY_SQLITE.test(e.code ?? '')) return { status: 503, code: 'E_STORE_BUSY', message: 'the server is busy: retry shortly', field: null, retryAfterS: 1 };
  if ((e.code ?? '').startsWith('SQLITE_')) return { status: 500, code: 'E_STORE', message: 'the store failed', field: null };
  return { status: 500, code: 'E_INTERNAL', message: 'internal error', field: null };
}

/** replyFailure is the error handler of the app: a 5xx is always logged, with its cause. */
export function replyFailure(e: Error, req: FastifyRequest, reply: FastifyReply) {
  const f = failureOf(e);
  if (f.status >= 500) req.log.error({ err: e, code: f.code }, `${req.method} ${req.url}: ${f.code}: ${e.message}`);
  if (f.retryAfterS !== undefined) reply.header('retry-after', String(f.retryAfterS));
  return reply.status(f.status).send({ code: f.code, message: f.message, field: f.field });
}

/** notFound answers an unknown route or file in the same shape. */
export function notFound(req: FastifyRequest, reply: FastifyReply) {
  return reply.status(404).send({ code: 'E_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}`, field: 'url' });
}

/**
 * clientErrorHandler answers what Node's HTTP parser refuses before Fastify sees a
 * request (headers too large, timeout, malformed request line), in the same shape.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message, field] = err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'E_HEADERS_TOO_LARGE', 'the request headers exceed the server\'s limit', 'headers']
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'E_TIMEOUT', 'the request took too long to arrive', null]
      : [400, 'E_REQUEST', 'malformed HTTP request', null];
  const body = JSON.stringify({ code, message, field });
  if (socket.writable) socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`);
  socket.destroy(err);
}
