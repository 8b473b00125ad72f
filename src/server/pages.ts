import { z } from 'zod';
import { OpenlecError } from '../errors.ts';
import { canonicalJson, fromBase64Url, fromUtf8, sha256, toBase64Url, utf8 } from '../ledger/index.ts';
import type { Route } from './route.ts';

/**
 * Cursor pagination of the list routes: every GET whose answer is an array (its response
 * schema says so) takes `limit` (at most MAX_PAGE, the default) and `cursor`, and answers
 * one page of the handler's list, in the handler's order (the order of the log's
 * projections, the same on every replay). When more follows, the `Link` header
 * (RFC 8288, rel="next") gives the next page's URL and `X-Next-Cursor` its cursor.
 *
 * A cursor names the place after the last item sent and that item's digest: if the list
 * changed before that place (an item removed or rewritten), the item is looked for; if it
 * is gone the cursor is refused (409 E_CURSOR), never answered with a page that skips or
 * repeats items silently.
 */
export const MAX_PAGE = 1000;
const PAGE_QUERY = {
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).optional().describe(`Items per page (at most ${MAX_PAGE}, the default)`),
  cursor: z.string().max(200).optional().describe('From the previous page\'s X-Next-Cursor (or its Link rel="next")'),
};

const digest = (item: unknown) => toBase64Url(sha256(utf8(canonicalJson(item ?? null))).subarray(0, 12));

/** paged: the list routes of a table with pagination; the others as they are. */
export function paged(routes: Route[]): Route[] {
  return routes.map((r) => (r.method === 'GET' && r.response instanceof z.ZodArray && !r.contentType ? pagedRoute(r) : r));
}

function pagedRoute(r: Route): Route {
  const query = (r.query ?? z.object({})).extend(PAGE_QUERY);
  return {
    ...r,
    query,
    summary: `${r.summary} Paged: \`limit\` (at most ${MAX_PAGE}) and \`cursor\`; the next page is in the Link header (rel="next") and X-Next-Cursor.`,
    async handler(ctx) {
      const { limit, cursor, ...rest } = ctx.query as { limit?: number; cursor?: string } & Record<string, unknown>;
      const all = (await r.handler({ ...ctx, query: rest })) as unknown[];
      const from = cursor === undefined ? 0 : placeOf(all, cursor);
      const size = limit ?? MAX_PAGE;
      const page = all.slice(from, from + size);
      if (from + size < all.length) {
        const next = toBase64Url(utf8(JSON.stringify([from + size, digest(all[from + size - 1])])));
        const url = new URL(ctx.reply.request.url, 'http://x');
        url.searchParams.set('cursor', next);
        if (limit !== undefined) url.searchParams.set('limit', String(limit));
        ctx.reply.header('x-next-cursor', next);
        ctx.reply.header('link', `<${url.pathname}${url.search}>; rel="next"`);
      }
      return page;
    },
  };
}

/** placeOf reads a cursor: the index after its item, found again if the list moved. */
function placeOf(all: readonly unknown[], cursor: string): number {
  const refuse = (why: string, code = 'E_REQUEST'): never => {
    throw new OpenlecError(code, `query.cursor: ${why}`, { field: 'query.cursor' });
  };
  let at: unknown;
  try {
    at = JSON.parse(fromUtf8(fromBase64Url(cursor) ?? refuse('not a cursor of this list')));
  } catch (e) {
    if (e instanceof OpenlecError) throw e;
    refuse('not a cursor of this list');
  }
  if (!Array.isArray(at) || at.length !== 2 || !Number.isSafeInteger(at[0]) || at[0] < 1 || typeof at[1] !== 'string') return refuse('not a cursor of this list');
  const [after, mark] = at as [number, string];
  if (after <= all.length && digest(all[after - 1]) === mark) return after;
  // The list moved: the item the cursor names, wherever it is now.
  for (let i = 0; i < all.length; i++) if (digest(all[i]) === mark) return i + 1;
  return refuse('the list changed before this place (its last item is gone or rewritten): start again without a cursor', 'E_CURSOR');
}
