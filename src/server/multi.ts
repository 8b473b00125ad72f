import { createHmac } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import pg from 'pg';
import { community } from '../community/tables.ts';
import { COMMUNITY_ID, decodeEntry, encodeKey, type CosignerKey, type KeyPair } from '../ledger/index.ts';
import type { SignatureChecker } from '../node/signatures.ts';
import { APPEND_CHANNEL, PgLedger } from '../store/pg-ledger.ts';
import { buildApp } from './app.ts';
import { EventHub } from './events.ts';
import { PersonalVault } from './vault.ts';
import type { FastifyInstance } from 'fastify';

/**
 * MultiServer serves every community of a PostgreSQL database from one process, and any
 * number of such processes may serve the same database at once (ARCHITECTURE.md, "Many
 * communities"). Each community is served by its own instance of the one-community API
 * (buildApp) under `/c/<community id, URL-encoded>/`, so every route, role, limit and event
 * stream is that community's and nothing else's: `openlec follow http://host/c/<id>` and the
 * witnesses work as against a one-community server. A community is opened on its first
 * request; communities added later (`openlec community create`) are found then.
 *
 * The processes agree through the database only: appends are sequenced there (PgLedger),
 * and each process LISTENs on APPEND_CHANNEL to take in what the others appended, emitting
 * the same events for it as for its own writes. Session tokens are signed with a secret
 * derived per community from one server secret that all processes share, so a token is
 * good in its community (on any process) and nowhere else.
 */
export interface MultiServerOptions {
  /** The database's connection string (a LISTEN connection is opened on it besides the pool). */
  url: string;
  pool: pg.Pool;
  /** 32 bytes shared by every process serving this database: session tokens and vault keys derive from it per community. */
  serverSecret: Uint8Array;
  /** Where each community's personal-data vault and side stores (OCPI, OpenADR) live: SQLite files named by the community. */
  dataDir: string;
  /** Operator keys this process holds: each community's checkpoints are signed with the one whose public key is its operator's. */
  operatorKeys?: readonly KeyPair[];
  signatures?: SignatureChecker;
  webRoot?: string;
  now?: () => number;
  maxSkewMs?: number;
  checkpointEveryMs?: number;
  logger?: boolean;
  witnesses?: { keys: CosignerKey[]; quorum: number };
  /** Every served community is refreshed this often besides notifications (default 5 s). */
  refreshEveryMs?: number;
}

interface Served {
  ledger: PgLedger;
  app: FastifyInstance;
  events: EventHub;
  vault: PersonalVault;
}

export const COMMUNITY_PREFIX = '/c/';

/** communityPath is the path prefix a community is served under. */
export function communityPath(id: string): string {
  return `${COMMUNITY_PREFIX}${encodeURIComponent(id)}`;
}

const derive = (secret: Uint8Array, purpose: string, id: string) => new Uint8Array(createHmac('sha256', secret).update(`openlec ${purpose}\n${id}`).digest());

export class MultiServer {
  private readonly served = new Map<string, Promise<Served>>();
  private readonly refreshing = new Map<string, { again: boolean }>();
  private listener: pg.Client | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private server: Server | undefined;
  private closing = false;

  constructor(private readonly o: MultiServerOptions) {}

  /** communities lists the database's communities with their names (from their signed community.create). */
  async communities(): Promise<{ id: string; path: string; name: string | null }[]> {
    return (await PgLedger.directory(this.o.pool)).map((c) => ({ id: c.id, path: `${communityPath(c.id)}/`, name: c.name }));
  }

  /** open returns the community's API, opening it on first use; undefined when the database has no such community. */
  open(id: string): Promise<Served | undefined> {
    let s = this.served.get(id);
    if (!s) {
      s = this.start(id);
      this.served.set(id, s);
      // A community that failed to open (not in the database) is tried again next time.
      s.catch(() => this.served.delete(id));
    }
    return s.catch(() => undefined);
  }

  private async start(id: string): Promise<Served> {
    mkdirSync(this.o.dataDir, { recursive: true });
    const sidePath = join(this.o.dataDir, encodeURIComponent(id));
    const ledger = await PgLedger.open(this.o.pool, id, { sidePath, ...(this.o.signatures ? { signatures: sharedChecker(this.o.signatures) } : {}) });
    const events = new EventHub();
    // What other processes appended is announced as this process's own writes are.
    ledger.onTakeIn = (entries) => {
      for (const e of entries) {
        const { tx } = decodeEntry(e.bytes);
        for (const ev of EventHub.forEntry(e.index, tx.type, tx.body as Record<string, unknown>)) events.emit(ev);
      }
    };
    const vault = PersonalVault.open(join(this.o.dataDir, `${encodeURIComponent(id)}.personal.db`), derive(this.o.serverSecret, 'vault', id));
    const operator = community(ledger.state)?.operator;
    const operatorKey = this.o.operatorKeys?.find((k) => encodeKey(k.publicKey) === operator);
    const now = this.o.now ?? Date.now;
    const { app } = await buildApp({
      ledger, vault, events, tokenSecret: derive(this.o.serverSecret, 'tokens', id), now, txClock: now,
      ...(operatorKey ? { operatorKey } : {}), ...(this.o.webRoot ? { webRoot: this.o.webRoot } : {}), ...(this.o.witnesses ? { witnesses: this.o.witnesses } : {}),
      ...(this.o.maxSkewMs === undefined ? {} : { maxSkewMs: this.o.maxSkewMs }), ...(this.o.checkpointEveryMs === undefined ? {} : { checkpointEveryMs: this.o.checkpointEveryMs }),
      logger: this.o.logger === true,
    });
    await app.ready();
    return { ledger, app, events, vault };
  }

  /** takeIn: another process wrote to a community this process serves; at most one refresh runs and one waits, per community. */
  private takeIn(id: string): void {
    const s = this.served.get(id);
    if (!s || this.closing) return;
    const state = this.refreshing.get(id);
    if (state) {
      state.again = true;
      return;
    }
    const run = { again: false };
    this.refreshing.set(id, run);
    void (async () => {
      try {
        const served = await s.catch(() => undefined);
        do {
          run.again = false;
          await served?.ledger.refresh();
        } while (run.again && !this.closing);
      } catch (e) {
        process.stderr.write(`openlec serve: community ${id}: ${(e as Error).message}\n`);
      } finally {
        this.refreshing.delete(id);
      }
    })();
  }

  /** The LISTEN connection: reconnected with a growing pause when it drops, every served community refreshed then. */
  private async connectListener(): Promise<void> {
    const client = new pg.Client({ connectionString: this.o.url, application_name: 'openlec listen' });
    let dropped = false;
    const drop = () => {
      if (dropped || this.closing) return;
      dropped = true;
      this.listener = undefined;
      client.end().catch(() => undefined);
      const retry = (pause: number) => setTimeout(() => {
        this.connectListener().then(() => {
          for (const id of this.served.keys()) this.takeIn(id);
        }, () => retry(Math.min(pause * 2, 30_000)));
      }, pause).unref();
      retry(500);
    };
    client.on('error', drop);
    client.on('end', drop);
    client.on('notification', (n) => {
      if (n.channel === APPEND_CHANNEL && n.payload) this.takeIn(n.payload);
    });
    await client.connect();
    await client.query(`LISTEN ${APPEND_CHANNEL}`);
    this.listener = client;
  }

  /** listen starts the HTTP server and the database listener. */
  async listen(port: number, host: string): Promise<string> {
    await this.connectListener();
    // A fallback for a notification lost while the listener reconnected: every served community is refreshed now and then.
    this.sweeper = setInterval(() => {
      for (const id of this.served.keys()) this.takeIn(id);
    }, this.o.refreshEveryMs ?? 5000);
    this.sweeper.unref();
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e: Error) => {
        // The database is down or refused: answer, never end the process.
        if (!res.headersSent) json(res, 503, { code: 'E_UNAVAILABLE', message: `the database did not answer: ${e.message}` });
        else res.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
    const address = this.server.address() as { port: number };
    return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    if (url.startsWith(COMMUNITY_PREFIX)) {
      const rest = url.slice(COMMUNITY_PREFIX.length);
      const cut = rest.search(/[/?]/);
      const segment = cut < 0 ? rest : rest.slice(0, cut);
      let id: string;
      try {
        id = decodeURIComponent(segment);
      } catch {
        return json(res, 404, { code: 'E_NOT_FOUND', message: 'no such community', field: 'community' });
      }
      // Not even a community id: answered without asking the database.
      if (!COMMUNITY_ID.test(id)) return json(res, 404, { code: 'E_NOT_FOUND', message: 'no such community', field: 'community' });
      const served = await this.open(id);
      if (!served) return json(res, 404, { code: 'E_NOT_FOUND', message: `community "${id}" is not served here`, field: 'community' });
      const tail = cut < 0 ? '/' : rest.slice(cut);
      // The dashboard's relative links need the trailing slash: /c/<id> → /c/<id>/.
      if (cut < 0 || tail.startsWith('?')) {
        res.writeHead(308, { location: `${COMMUNITY_PREFIX}${segment}/${tail.startsWith('?') ? tail : ''}` });
        return void res.end();
      }
      // The community's API sees its own paths; a request signature covers the path sent (auth.ts requestPath).
      (req as IncomingMessage & { openlecPath?: string }).openlecPath = url;
      req.url = tail;
      served.app.routing(req, res);
      return;
    }
    if (url === '/v1/communities' && req.method === 'GET') return json(res, 200, { communities: await this.communities() });
    if ((url === '/' || url.startsWith('/?')) && req.method === 'GET') return page(res, await this.communities());
    if (url === '/healthz') return json(res, 200, { ok: true });
    json(res, 404, { code: 'E_NOT_FOUND', message: `${url} is not a route: communities are served under ${COMMUNITY_PREFIX}<id>/ (GET /v1/communities lists them)` });
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.sweeper) clearInterval(this.sweeper);
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server?.closeAllConnections?.();
    await this.listener?.end().catch(() => undefined);
    for (const s of this.served.values()) {
      const served = await s.catch(() => undefined);
      if (!served) continue;
      await served.app.close();
      await served.ledger.close();
      served.vault.close();
    }
    await this.o.signatures?.close();
  }
}

/** One signature checker (its worker threads) for every community of the process: a community's close does not stop it. */
function sharedChecker(c: SignatureChecker): SignatureChecker {
  return { check: (items) => c.check(items), close: async () => {} };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page at /: pick a community. */
function page(res: ServerResponse, list: { id: string; path: string; name: string | null }[]): void {
  const items = list.map((c) => `<li><a href="${escape(c.path)}">${escape(c.name ?? c.id)}</a> <code>${escape(c.id)}</code></li>`).join('\n');
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
  });
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>openlec: communities</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}code{color:#555;font-size:.85em}li{margin:.4rem 0}</style></head>
<body><main><h1>Communities</h1><p>${list.length} communit${list.length === 1 ? 'y is' : 'ies are'} served here. Pick one to open its dashboard.</p><ul>${items}</ul></main></body></html>`);
}
