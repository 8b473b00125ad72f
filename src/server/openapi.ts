import { z } from 'zod';
import type { Registry } from '../state/registry.ts';
import { FAILURE, type Route } from './route.ts';

/** The domains of the API, in the order a reader meets them. */
export const TAGS: Record<string, string> = {
  transactions: 'Signed writes: every change to the community is a transaction appended to the log.',
  auth: 'Tokens from a signed challenge, and who a token belongs to.',
  community: 'The community, its participants, feeders and network, and its aggregate energy.',
  metering: 'Metering points and their recorded readings.',
  market: 'The peer-to-peer market: rules, books, clearings, members\' orders and trades.',
  allocation: 'Monthly allocation of the shared production among members, and the files for the DSO.',
  settlement: 'Invoices and settlements computed from the log.',
  members: 'One member\'s data: readings, shares, trades, invoices, personal data (off the log) and export.',
  certificates: 'Guarantees of origin: devices, issued certificates, matching and export.',
  flexibility: 'Congestion requests of the DSO, flexibility offers, orders and their settlement.',
  charging: 'EV charging: parties, locations, tariffs, charge records and their settlement.',
  dashboard: 'Read models of the dashboard\'s pages.',
  log: 'The verifiable log: entries, signed checkpoints, witnesses\' cosignatures and proofs.',
  openadr: 'OpenADR 3.0.1 VTN: programs, events from the log, reports, subscriptions, VENs and resources.',
  events: 'Server-sent events of the log.',
};

/**
 * openApiDocument writes the OpenAPI 3.1 description of the API from the same zod schemas
 * that validate requests; the transaction endpoint lists every transaction type of the
 * registry with the JSON Schema of its body.
 */
export function openApiDocument(routes: readonly Route[], registry: Registry) {
  const schema = (s: z.ZodType) => z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  /** What the server sends: defaults filled in, transforms applied. */
  const output = (s: z.ZodType) => {
    // The document's dialect is JSON Schema 2020-12 already: no $schema in each response.
    const { $schema: _dialect, ...json } = z.toJSONSchema(s, { io: 'output', unrepresentable: 'any' }) as Record<string, unknown>;
    return json;
  };
  const error = output(FAILURE);
  const envelope = (type: string, body: Record<string, unknown>) => ({
    type: 'object', additionalProperties: false, required: ['v', 'type', 'community', 'actor', 'nonce', 'issuedAt', 'body', 'sig'],
    properties: {
      v: { const: 1 }, type: { const: type }, community: { type: 'string' }, actor: { type: 'string', description: 'Ed25519 public key, base64url' },
      nonce: { type: 'integer', minimum: 1 }, issuedAt: { type: 'string', format: 'date-time' }, body, sig: { type: 'string', description: 'Ed25519 over the domain prefix and the RFC 8785 canonical envelope' },
    },
  });
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const url = r.url.replace(/:(\w+)/g, '{$1}');
    const parameters = [
      ...Object.entries(r.params?.shape ?? {}).map(([name, s]) => ({ name, in: 'path', required: true, schema: schema(s as z.ZodType) })),
      ...Object.entries(r.query?.shape ?? {}).map(([name, s]) => ({ name, in: 'query', required: !(s as z.ZodType).safeParse(undefined).success, schema: schema(s as z.ZodType) })),
    ];
    const requestBody = r.url === '/v1/transactions'
      ? { required: true, content: { 'application/json': { schema: { oneOf: registry.list().map((t) => envelope(t.type, schema(t.body))) } } } }
      : r.body ? { required: true, content: { 'application/json': { schema: schema(r.body) } } } : undefined;
    const failure = r.failure ? output(r.failure) : error;
    // A route without a response schema says nothing of its body rather than something untrue.
    const success = r.contentType
      ? { [r.contentType]: { schema: { type: 'string' } } }
      : {
        'application/json': { schema: r.response ? output(r.response) : {}, ...(r.example !== undefined ? { example: r.example } : {}) },
        ...(r.alsoText ? { [r.alsoText.contentType]: { schema: { type: 'string', description: `Answered ${r.alsoText.when}` } } } : {}),
      };
    paths[url] = {
      ...paths[url],
      [r.method.toLowerCase()]: {
        operationId: r.operationId,
        tags: r.tags,
        summary: r.summary,
        'x-openlec-access': r.access,
        // A role is proven by either a token or a signature on the request itself.
        ...(r.access === 'public' || r.access === 'signed' ? {} : { security: [{ bearer: [] }, { apiKey: [] }, { httpSignature: [] }] }),
        ...(parameters.length > 0 ? { parameters } : {}),
        ...(requestBody ? { requestBody } : {}),
        responses: {
          [String(r.status ?? 200)]: { description: 'OK', content: success },
          '4XX': { description: 'Refused; nothing was written', content: { 'application/json': { schema: failure } } },
          '5XX': { description: 'The server failed (500) or is overloaded (503, with Retry-After); nothing was written', content: { 'application/json': { schema: failure } } },
        },
      },
    };
  }
  paths['/v1/events'] = {
    get: {
      operationId: 'streamEvents', tags: ['events'], summary: 'Server-sent events: entry, interval-cleared, allocation-done, checkpoint.', 'x-openlec-access': 'public',
      responses: {
        200: { description: 'An event stream; the first event, `hello`, gives the log size', content: { 'text/event-stream': { schema: { type: 'string' } } } },
        '5XX': { description: 'Too many streams are open (503)', content: { 'application/json': { schema: error } } },
      },
    },
  };
  const used = new Set([...routes.flatMap((r) => r.tags), 'events']);
  return {
    openapi: '3.1.0',
    info: { title: 'openlec', version: '0.1.0', description: 'Local energy community on a verifiable ledger. Writes are signed transactions; reads of personal data need a token from a signed challenge.' },
    tags: Object.entries(TAGS).filter(([name]) => used.has(name)).map(([name, description]) => ({ name, description })),
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'POST /v1/auth/challenge, sign the message with your Ed25519 key, POST /v1/auth/token' },
        apiKey: {
          type: 'http', scheme: 'bearer', bearerFormat: 'olk_<16 hex digits>_<43 base64url characters>',
          description: 'A long-lived key of an organisation\'s machine (a DSO\'s meter-data system, a supplier\'s billing), sent as `Authorization: Bearer olk_<id>_<secret>`. The machine makes the secret; its owner signs apikey.issue with the id, the roles it may use (some of the owner\'s) and an expiry (at most 400 days), which puts only a digest of the secret in the log. Rotation (apikey.rotate, with an overlap of up to 7 days) and revocation (apikey.revoke, by the owner or the operator) are transactions too, and take effect at the server\'s clock. The keys: GET /v1/api-keys.',
        },
        httpSignature: {
          type: 'apiKey', in: 'header', name: 'Signature',
          description: 'RFC 9421 HTTP message signatures, for scripts that sign each request instead of logging in: `Signature-Input` covers "@method", "@authority", "@path" and "@query" with the parameters `created`, `keyid` and `alg="ed25519"`; `keyid` is the participant key (43-character base64url Ed25519 public key, as registered in the log) and the Ed25519 signature is made with it. At most 5 minutes old (30 s clock tolerance). A request with a body also covers its `content-digest` header (RFC 9530, sha-256=:<base64>: of the bytes sent).',
        },
      },
    },
    paths,
  };
}
