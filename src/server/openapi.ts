import { z } from 'zod';
import type { Registry } from '../state/registry.ts';
import type { Route } from './route.ts';

/**
 * openApiDocument writes the OpenAPI 3.1 description of the API from the same zod schemas
 * that validate requests; the transaction endpoint lists every transaction type of the
 * registry with the JSON Schema of its body.
 */
export function openApiDocument(routes: readonly Route[], registry: Registry) {
  const schema = (s: z.ZodType) => z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  const error = { type: 'object', required: ['code', 'message', 'field'], properties: { code: { type: 'string' }, message: { type: 'string' }, field: { type: ['string', 'null'] } } };
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
    paths[url] = {
      ...paths[url],
      [r.method.toLowerCase()]: {
        summary: r.summary,
        'x-openlec-access': r.access,
        ...(r.access === 'public' || r.access === 'signed' ? {} : { security: [{ bearer: [] }] }),
        ...(parameters.length > 0 ? { parameters } : {}),
        ...(requestBody ? { requestBody } : {}),
        responses: {
          [String(r.status ?? 200)]: { description: 'OK', content: { 'application/json': { schema: {} } } },
          '4XX': { description: 'Refused; nothing was written', content: { 'application/json': { schema: error } } },
          '5XX': { description: 'The server failed (500) or is overloaded (503, with Retry-After); nothing was written', content: { 'application/json': { schema: error } } },
        },
      },
    };
  }
  paths['/v1/events'] = { get: { summary: 'Server-sent events: entry, interval-cleared, allocation-done, checkpoint.', responses: { 200: { description: 'text/event-stream' } } } };
  return {
    openapi: '3.1.0',
    info: { title: 'openlec', version: '0.1.0', description: 'Local energy community on a verifiable ledger. Writes are signed transactions; reads of personal data need a token from a signed challenge.' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'POST /v1/auth/challenge, sign the message with your Ed25519 key, POST /v1/auth/token' } } },
    paths,
  };
}
