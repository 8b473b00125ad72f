import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { OpenlecError } from '../errors.ts';
import type { Role } from '../state/registry.ts';
import type { Session } from './auth.ts';

/**
 * A route of the API as data: its access rule and zod schemas, read both by buildApp
 * (validation, access) and by openApiDocument (/openapi.json). Kept apart from both so
 * that neither imports the other.
 */
/**
 * `apiKeys: false` keeps a route from API keys (a machine's bearer): a person's data off
 * the log (the vault, the export) is reached with the participant's own key only.
 */
export type Access = 'public' | 'signed' | { roles: readonly Role[]; self?: boolean; apiKeys?: false };

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  /** camelCase, unique in the table: what a generated client names the call. */
  operationId: string;
  /** The domains the route belongs to (openapi.ts lists and describes them). */
  tags: string[];
  summary: string;
  access: Access;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  status?: number;
  /** The success body (a JSON response); absent where it cannot be described honestly, or for text. */
  response?: z.ZodType;
  /** The media type of a success that is not JSON (a CSV download): the document says a string of it. */
  contentType?: string;
  /** Another media type the same route answers with when asked (a `format` of CSV): listed beside the JSON. */
  alsoText?: { contentType: string; when: string };
  /** The body of a refusal or failure (default FAILURE; OpenADR answers problem objects). */
  failure?: z.ZodType;
  /** A success body as an example for the document. */
  example?: unknown;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each route has its own schemas
  handler(ctx: { params: any; query: any; body: any; session?: Session; reply: FastifyReply }): unknown;
}

/** A handler's answer with a status other than its route's own (a retry's 200 where the route answers 201). */
export class WithStatus {
  constructor(readonly status: number, readonly value: unknown) {}
}

/** isCalendarDate: "2026-02-30" and "2026-13-01" match the pattern but name no day. */
function isCalendarDate(s: string): boolean {
  const [y, m, d] = s.split('-').map(Number) as [number, number, number];
  const t = new Date(0);
  t.setUTCFullYear(y, m - 1, d);
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

export const DATE = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD').refine(isCalendarDate, 'is not a date of the calendar');
export const KEY = z.object({ key: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be a 43-character base64url key') });
export const MONTH = z.object({ month: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'must be YYYY-MM') });

/** FAILURE: every refusal or failure outside OpenADR (failures.ts). */
export const FAILURE = z.strictObject({
  code: z.string().regex(/^E_[A-Z0-9_]+$/).describe('Stable machine-readable code, e.g. E_TX_NONCE'),
  message: z.string().describe('For people; may change'),
  field: z.string().nullable().describe('The request part at fault ("body.nonce", "authorization"), null when none'),
});

/**
 * checkResponse holds a route to its contract (AppDeps.checkResponses): a success body to
 * its `response` schema, a refusal to its failure schema. A mismatch is the server's bug,
 * thrown as E_CONTRACT naming the operation and the first bad path.
 */
export function checkResponse(route: Pick<Route, 'operationId' | 'response' | 'failure'>, status: number, body: unknown): void {
  const schema = status >= 400 ? route.failure ?? FAILURE : route.response;
  if (!schema) return;
  const r = schema.safeParse(body);
  if (r.success) return;
  const issue = r.error.issues[0]!;
  const path = ['body', ...issue.path.map(String)].join('.');
  throw new OpenlecError('E_CONTRACT', `${route.operationId}: the ${status} response does not match its schema at ${path}: ${issue.message}`, { field: path });
}

/** parseRequest validates one part of a request, naming the first bad field ("query.from"). */
export function parseRequest(schema: z.ZodType | undefined, value: unknown, where: string): unknown {
  if (!schema) return value;
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = [where, ...issue.path.map(String)].join('.');
  throw new OpenlecError('E_REQUEST', `${field}: ${issue.message}`, { field });
}

/** allow applies a route's access rule to the caller's session. */
export function allow(access: Access, session: Session | undefined, params: { key?: string }): void {
  if (access === 'public' || access === 'signed') return;
  if (!session) throw new OpenlecError('E_AUTH', 'this needs a token: POST /v1/auth/challenge, sign it, POST /v1/auth/token', { field: 'authorization' });
  if (session.apiKey && access.apiKeys === false) throw new OpenlecError('E_FORBIDDEN', 'API keys do not reach personal data: log in or sign the request with the participant key', { field: 'authorization' });
  // A key of one's own reaches one's member routes only if it holds the member role.
  if (access.self && params.key === session.key && (!session.apiKey || session.roles.includes('member'))) return;
  if (session.roles.some((r) => access.roles.includes(r))) return;
  throw new OpenlecError('E_FORBIDDEN', `needs the role ${access.roles.join(' or ')}${access.self ? ' or to be the member' : ''}`, { field: 'authorization' });
}
