import { signRequest } from '../client.ts';
import { type ClientOptions, OpenlecClient as ClientCore } from './core.ts';

export { ApiError } from './core.ts';
export type { ClientOptions, Method, Query, RequestOptions, RequestSigner } from './core.ts';

/**
 * OpenlecClient: the HTTP API of one community as typed methods (src/api/core.ts), for node
 * programs: with a key and no token, reads are signed per RFC 9421 by src/client.ts's
 * signRequest unless `signRequest` says otherwise. The browser dashboard uses the core
 * itself (the same class without this default), whose bundle so stays free of node's
 * crypto and Buffer.
 */
export class OpenlecClient extends ClientCore {
  constructor(base: string, o: ClientOptions = {}) {
    super(base, { ...o, signRequest: o.signRequest ?? signRequest });
  }
}
