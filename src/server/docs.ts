import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';

/**
 * The API reference at /docs: Swagger UI (the swagger-ui-dist package, served from its own
 * files, nothing fetched from elsewhere) rendering /openapi.json. Every URL is relative,
 * so the page works under a community's prefix (`/c/<id>/docs`) as at the root. The page
 * runs only its own scripts: no inline script, no other origin.
 */
const DIST = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
const ASSETS: Record<string, string> = { 'swagger-ui.css': 'text/css; charset=utf-8', 'swagger-ui-bundle.js': 'text/javascript; charset=utf-8' };

const PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>openlec API reference</title>
<link rel="stylesheet" href="docs/swagger-ui.css"></head>
<body><div id="swagger-ui"></div><script src="docs/swagger-ui-bundle.js"></script><script src="docs/init.js"></script></body>
</html>
`;

// The document beside this page: /docs → /openapi.json, /c/<id>/docs → /c/<id>/openapi.json.
const INIT = `window.ui = SwaggerUIBundle({ url: new URL('openapi.json', location.href).href, dom_id: '#swagger-ui', deepLinking: true, displayOperationId: true, tryItOutEnabled: false });\n`;

/** Swagger UI sets styles inline; its scripts and the document come from here only. */
export const DOCS_CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export function registerDocs(app: FastifyInstance): void {
  const cache = new Map<string, Buffer>();
  const send = (type: string, body: string | Buffer) => (_req: unknown, reply: { header(k: string, v: string): unknown; type(t: string): unknown; send(b: unknown): unknown }) => {
    reply.header('content-security-policy', DOCS_CSP);
    reply.header('cache-control', 'no-cache');
    reply.type(type);
    return reply.send(body);
  };
  app.get('/docs', send('text/html; charset=utf-8', PAGE));
  app.get('/docs/init.js', send('text/javascript; charset=utf-8', INIT));
  for (const [file, type] of Object.entries(ASSETS)) {
    app.get(`/docs/${file}`, (req, reply) => {
      let body = cache.get(file);
      if (!body) cache.set(file, (body = readFileSync(join(DIST, file))));
      return send(type, body)(req, reply);
    });
  }
}
