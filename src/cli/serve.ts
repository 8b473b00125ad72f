import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OpenlecError } from '../errors.ts';
import { type KeyPair, parseCosignerKey } from '../ledger/index.ts';
import { readKeyFile } from '../node/key-file.ts';
import { WorkerSignatureChecker } from '../node/signatures.ts';
import { buildApp } from '../server/app.ts';
import { prepareDemo, startDemoAnchoring, startLiveDemo } from '../server/demo.ts';
import { EventHub } from '../server/events.ts';
import { PersonalVault } from '../server/vault.ts';
import type { LedgerStore } from '../store/ledger-store.ts';
import { SqliteLedger } from '../store/sqlite-ledger.ts';
import { community } from '../community/tables.ts';
import { lastCleared } from '../market/tables.ts';
import { parseInstant } from '../units/index.ts';
import { progress } from './output.ts';
import { defaultKeyPath } from './commands.ts';

export interface ServeOptions {
  db?: string;
  key?: string;
  port: number;
  host: string;
  demo?: boolean;
  dir: string;
  /** Seconds of real time per simulated interval in demo mode. */
  tick: number;
  /** Demo: anchor checkpoints on a local anvil chain (default true). */
  anchor?: boolean;
  /** Witnesses' cosigner keys, and how many cosignatures make a checkpoint final. */
  witness?: string[];
  quorum?: number;
  /** Fastify's logger on stdout: every request, and every 5xx with its cause. */
  log?: boolean;
  /** Seconds a transaction's issuedAt may lie from the server's clock (default 30). */
  maxSkew?: number;
  /** Demo on a non-loopback --host: its keys are public, so only when asked for. */
  publicDemo?: boolean;
  now?: () => number;
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1|\[::1\])$/;

/**
 * checkDemoHost: the demo's keys (operator, DSO, member, auditor) are derived from a fixed
 * seed, the same on every machine, and printed at start. On an address others can reach,
 * anyone could act as the operator: refused unless --public-demo says it is meant.
 */
function checkDemoHost(o: ServeOptions): void {
  if (!o.demo || LOOPBACK.test(o.host)) return;
  if (!o.publicDemo) {
    throw new OpenlecError('E_USAGE', `--demo uses keys that are the same on every machine and prints them: on --host ${o.host} anyone reaching port ${o.port} could act as the operator. Use a loopback address (127.0.0.1), or add --public-demo if that is what you want`, { field: 'host' });
  }
  process.stderr.write(`openlec serve: WARNING: --public-demo on ${o.host}: the demo's operator, DSO, member and auditor keys are public; anyone reaching port ${o.port} can act as any of them\n`);
}

/**
 * demoClock is the live demo's simulated time, the clock its DSO and operator sign with
 * (startLiveDemo): a minute after the end of the last cleared interval. Transactions sent
 * to the demo over HTTP are admitted by this clock, not the wall clock it runs ahead of.
 */
function demoClock(ledger: LedgerStore, now: () => number): () => number {
  return () => {
    const last = lastCleared(ledger.state);
    return last === '' ? now() : parseInstant(last) + (community(ledger.state)!.intervalMinutes + 1) * 60_000;
  };
}

/** secretFile reads a 32-byte secret beside the database, creating it on first start. */
function secretFile(path: string): Uint8Array {
  if (!existsSync(path)) writeFileSync(path, randomBytes(32).toString('base64url') + '\n', { mode: 0o600 });
  return Buffer.from(readFileSync(path, 'utf8').trim(), 'base64url');
}

/** serve runs the API over a ledger; with --demo it first creates (or reopens) the demo community and then keeps it running in accelerated time. */
export async function serve(o: ServeOptions) {
  const now = o.now ?? Date.now;
  // Options first: a bad witness key or quorum, or a public demo, stops serve before anything is opened.
  checkDemoHost(o);
  const keys = (o.witness ?? []).map(parseCosignerKey);
  if (o.quorum !== undefined && (o.quorum < 1 || o.quorum > keys.length)) throw new OpenlecError('E_USAGE', `--quorum must be between 1 and the ${keys.length} witness(es) given`, { field: 'quorum' });
  const witnesses = keys.length ? { keys, quorum: o.quorum ?? keys.length } : undefined;
  let db = o.db;
  // The operator key signs checkpoints: --key, else the one where init put it, if there.
  const keyFile = o.key ?? (o.db && existsSync(defaultKeyPath(o.db)) ? defaultKeyPath(o.db) : undefined);
  let operatorKey: KeyPair | undefined = keyFile ? readKeyFile(keyFile) : undefined;
  let logins: Record<string, { key: string; secretKey: string }> = {};
  if (o.demo) {
    const d = await prepareDemo(o.dir, now, progress);
    db = d.db;
    operatorKey = d.operator;
    logins = d.logins;
  }
  if (!db) throw new OpenlecError('E_USAGE', 'serve needs --db PATH (an existing community) or --demo', { field: 'db' });
  // Created as SQLite, served as any LedgerStore.
  const ledger: LedgerStore = openServedLedger(db);
  const vault = PersonalVault.open(`${db}.personal.db`, secretFile(`${db}.vault.key`));
  const events = new EventHub();
  // OPENLEC_WEB_DIR: another build of the dashboard (vite build --outDir), e.g. one per test run.
  const webRoot = process.env.OPENLEC_WEB_DIR ?? fileURLToPath(new URL('../../web/dist/', import.meta.url));
  const web = existsSync(join(webRoot, 'index.html'));
  if (!web) process.stderr.write('openlec serve: the dashboard is not built (npm run build); serving the API only\n');
  const { app } = await buildApp({ ledger, vault, events, tokenSecret: secretFile(`${db}.token.key`), ...(operatorKey ? { operatorKey } : {}), ...(web ? { webRoot } : {}), ...(witnesses ? { witnesses } : {}), now,
    txClock: o.demo ? demoClock(ledger, now) : now, maxSkewMs: (o.maxSkew ?? 30) * 1000, logger: o.log === true,
  });
  const url = await app.listen({ port: o.port, host: o.host });
  const live = o.demo ? startLiveDemo(ledger, events, o.tick) : undefined;
  const anchoring = o.demo && o.anchor !== false ? await startDemoAnchoring(join(o.dir, 'live'), ledger).catch((e: Error) => {
    process.stderr.write(`openlec demo: no anchoring (${e.message})\n`);
    return undefined;
  }) : undefined;
  return {
    url, logins, anchoring: anchoring ? { rpc: anchoring.rpc, contract: anchoring.contract } : undefined,
    async close() {
      await anchoring?.stop();
      live?.stop();
      await app.close();
      vault.close();
      await ledger.close();
    },
  };
}

/**
 * openServedLedger opens the ledger as the server runs it: signatures are checked on
 * worker threads (all cores but the one serving HTTP), so that the event loop parses
 * requests and commits batches while the workers verify the next batch.
 */
export function openServedLedger(db: string): SqliteLedger {
  // The server is the log's one writer from the start: a second server (or a CLI writer) on
  // the same file is refused, instead of the server failing at its first write.
  return SqliteLedger.open(db, { writer: true, signatures: new WorkerSignatureChecker(Math.max(1, availableParallelism() - 1)) });
}
