import { existsSync, rmSync } from 'node:fs';
import { verifyLog, type VerifyReport } from '../audit/verify.ts';
import { Signer } from '../client.ts';
import { OpenlecError } from '../errors.ts';
import { addSignatureLines, type CosignerKey, cosignaturesOf, encodeKey, toHex } from '../ledger/index.ts';
import { generateKeyPair, readKeyFile, writeKeyFile } from '../node/key-file.ts';
import { nodeVerifySignature, WorkerSignatureChecker } from '../node/signatures.ts';
import type { LedgerStore } from '../store/ledger-store.ts';
import { PgLedger, pgPool } from '../store/pg-ledger.ts';
import { migrate } from '../store/pg-migrate.ts';
import { SqliteLedger } from '../store/sqlite-ledger.ts';
import { lockPath } from '../store/writer-lock.ts';
import { progress } from './output.ts';

/** isPgUrl: a PostgreSQL connection string rather than a SQLite file. */
export const isPgUrl = (s: string) => /^postgres(ql)?:\/\//.test(s);

async function withPool<T>(url: string, use: (pool: ReturnType<typeof pgPool>) => Promise<T>): Promise<T> {
  const pool = pgPool(url, 4);
  try {
    return await use(pool);
  } catch (e) {
    // A refused connection names the server, not a stack.
    const err = e as Error & { code?: string };
    if (err.code === 'ECONNREFUSED' || err.code === 'ENOTFOUND' || err.code === '28P01' || err.code === '3D000') {
      throw new OpenlecError('E_PG_CONNECT', `cannot use the PostgreSQL database at ${redact(url)}: ${err.message}`, { field: 'pg', cause: e });
    }
    throw e;
  } finally {
    await pool.end();
  }
}

/** redact hides a connection string's password in messages. */
export const redact = (url: string) => url.replace(/(:\/\/[^:/@]+:)[^@]*@/, '$1***@');

/** dbMigrate runs the schema migrations a database lacks: `openlec db migrate --pg URL`. */
export async function dbMigrate(url: string): Promise<{ applied: string[] }> {
  return withPool(url, async (pool) => ({ applied: await migrate(pool) }));
}

export interface CommunityCreateOptions {
  pg: string;
  name: string;
  tz: string;
  interval: string;
  currency: string;
  id?: string;
  /** The operator key file: read if it exists, else created. */
  key: string;
}

const slug = (name: string) => name.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'community';

/** communityCreate adds a community to a PostgreSQL database: its log's entry 0 signed by the operator key, and a first checkpoint. */
export async function communityCreate(o: CommunityCreateOptions, now = () => new Date().toISOString()): Promise<{ id: string; key: string; operator: string; size: number }> {
  const key = existsSync(o.key) ? readKeyFile(o.key) : generateKeyPair();
  const id = o.id ?? `openlec.local/${slug(o.name)}`;
  const result = await withPool(o.pg, async (pool) => {
    const ledger = await PgLedger.create(pool, id);
    try {
      const tx = new Signer(key, id, 0, now).sign('community.create', { name: o.name, timeZone: o.tz, intervalMinutes: Number(o.interval), currency: o.currency, operator: encodeKey(key.publicKey) });
      const r = await ledger.submit(tx);
      if (!r.ok) throw r.error;
      await ledger.signCheckpoint(key);
      return { size: ledger.size };
    } finally {
      await ledger.close();
    }
  });
  if (!existsSync(o.key)) writeKeyFile(o.key, key);
  return { id, key: o.key, operator: encodeKey(key.publicKey), ...result };
}

/** communityList lists a database's communities with their names and log sizes. */
export async function communityList(url: string): Promise<{ id: string; name: string | null; size: number }[]> {
  return withPool(url, (pool) => PgLedger.directory(pool));
}

interface Opened {
  ledger: LedgerStore;
  verify(showProgress: boolean): Promise<VerifyReport>;
  close(): Promise<void>;
}

async function verifySource(ledger: SqliteLedger | PgLedger, showProgress: boolean): Promise<VerifyReport> {
  const checker = new WorkerSignatureChecker();
  const bar = showProgress ? progress('verify') : undefined;
  try {
    return await ledger.snapshot((source) => verifyLog(source, ledger.registry, { checkSignatures: (items) => checker.check(items), onProgress: (d, t) => bar?.update(d, t) }));
  } finally {
    bar?.stop();
    await checker.close();
  }
}

/** openAudit opens a log for reading and auditing only: a SQLite file, or a community of a PostgreSQL database. */
async function openAudit(where: string, community: string | undefined): Promise<Opened> {
  if (isPgUrl(where)) {
    if (!community) throw new OpenlecError('E_USAGE', `${redact(where)} is a PostgreSQL database: name the community with --community ID`, { field: 'community' });
    const pool = pgPool(where, 4);
    try {
      const ledger = await PgLedger.open(pool, community, { projections: false });
      return { ledger, verify: (p) => verifySource(ledger, p), close: async () => (await ledger.close(), await pool.end()) };
    } catch (e) {
      await pool.end();
      throw e;
    }
  }
  const ledger = SqliteLedger.open(where, { projections: false });
  return { ledger, verify: (p) => verifySource(ledger, p), close: () => ledger.close() };
}

/** verifyStore is `openlec verify` on either store. */
export async function verifyStore(where: string, community: string | undefined, showProgress: boolean): Promise<VerifyReport> {
  const opened = await openAudit(where, community);
  try {
    return await opened.verify(showProgress);
  } finally {
    await opened.close();
  }
}

export interface CopyOptions {
  from: string;
  to: string;
  /** The community to copy (required when either side is PostgreSQL; a SQLite file holds one). */
  community?: string;
  showProgress?: boolean;
  /** Witnesses' cosigner keys: the source's cosignatures that verify under one of them are copied, the others left behind. */
  witnesses?: CosignerKey[];
}

export interface CopyReport {
  community: string;
  entries: number;
  checkpoints: number;
  cosignatures: number;
  /** Cosignatures of the source left behind: without a witness key given, or not verifying under one. */
  cosignaturesSkipped: number;
  root: string;
  verified: VerifyReport;
}

/**
 * dbCopy copies one community's log between stores (SQLite → PostgreSQL, PostgreSQL →
 * SQLite, or either to either), bit for bit: the same entry bytes in the same order, hence
 * the same tree and root, and the same checkpoints and cosignatures. The destination is
 * new (a file that does not exist, or a community the database does not have); the entries
 * go in as one atomic append, replayed through every rule exactly as verify does, and the
 * destination is then verified in full and its root compared with the source's. A copy
 * that fails leaves no file behind and no entry in the database.
 */
export async function dbCopy(o: CopyOptions): Promise<CopyReport> {
  const source = await openAudit(o.from, o.community);
  /** finish closes the destination and verifies it (PostgreSQL: on the open pool, then closes). */
  let target: { ledger: LedgerStore; discard(): Promise<void>; finish(p: boolean): Promise<VerifyReport> } | undefined;
  const bar = o.showProgress ? progress('copy') : undefined;
  try {
    const id = source.ledger.origin();
    if (o.community && o.community !== id) throw new OpenlecError('E_USAGE', `${o.from} holds community ${id}, not ${o.community}`, { field: 'community' });
    const size = source.ledger.size;
    // The source is verified before anything is written: a log, checkpoint or projection that
    // does not verify is never copied, and the destination is never left half-written by it.
    const checked = await source.verify(false);
    if (!checked.ok) throw new OpenlecError('E_COPY', `the source does not verify, nothing was copied: ${checked.problems.slice(0, 3).map((p) => p.message).join('; ')}`, { field: 'from', details: { problems: checked.problems.length } });
    if (checked.size !== size) throw new OpenlecError('E_COPY', `the source grew while it was verified (${size} → ${checked.size}): copy a log no process is writing`, { field: 'from' });
    if (isPgUrl(o.to)) {
      const pool = pgPool(o.to, 4);
      try {
        const ledger = await PgLedger.create(pool, id);
        let ended = false;
        const end = async () => {
          if (ended) return;
          ended = true;
          await ledger.close();
          await pool.end();
        };
        target = {
          ledger, discard: end,
          finish: async (p) => {
            try {
              return await verifySource(await PgLedger.open(pool, id, { projections: false }), p);
            } finally {
              await end();
            }
          },
        };
      } catch (e) {
        await pool.end();
        throw e;
      }
    } else {
      if (existsSync(o.to)) throw new OpenlecError('E_DB_EXISTS', `${o.to} already exists: a copy goes to a new file`, { field: 'to' });
      const ledger = SqliteLedger.create(o.to);
      const path = o.to;
      let closed = false;
      const close = async () => {
        if (!closed) await ledger.close();
        closed = true;
      };
      target = {
        ledger,
        discard: async () => {
          await close();
          for (const f of [path, `${path}-wal`, `${path}-shm`, lockPath(path)]) rmSync(f, { force: true });
        },
        finish: async (p) => {
          await close();
          const audit = SqliteLedger.open(path, { projections: false });
          try {
            return await verifySource(audit, p);
          } finally {
            await audit.close();
          }
        },
      };
    }
    const src = source.ledger;
    async function* read() {
      for (let lo = 0; lo < size; lo += 2048) {
        for (const e of await src.readEntries(lo, Math.min(size, lo + 2048))) yield e.bytes;
      }
    }
    const bytes: Uint8Array[] = [];
    for await (const b of read()) {
      bytes.push(b);
      if (bytes.length % 2048 === 0) bar?.update(bytes.length, size * 2);
    }
    await target.ledger.submitAtomic(bytes, { onProgress: (n) => bar?.update(size + n, size * 2) });
    let cosignatures = 0;
    let cosignaturesSkipped = 0;
    for (const c of src.checkpoints()) {
      await target.ledger.keepCheckpoint(c.note);
      for (const s of src.cosignatures(c.size)) {
        // A cosignature line is kept only if it verifies under a witness key given: a stored line proves nothing by being stored.
        const valid = o.witnesses ? cosignaturesOf(addSignatureLines(c.note, [s.line]), o.witnesses, nodeVerifySignature) : [];
        if (!valid.some((v) => v.name === s.witness)) {
          cosignaturesSkipped++;
          continue;
        }
        await target.ledger.keepCosignature(c.size, s.witness, s.line);
        cosignatures++;
      }
    }
    const sourceRoot = toHex(await src.rootAt(size));
    const targetRoot = toHex(await target.ledger.rootAt());
    if (target.ledger.size !== size || targetRoot !== sourceRoot) throw new OpenlecError('E_COPY', `the copy has ${target.ledger.size} entries and root ${targetRoot}; the source ${size} and ${sourceRoot}`, { field: 'to' });
    bar?.stop();
    const verified = await target.finish(o.showProgress === true);
    if (!verified.ok || verified.root !== sourceRoot) throw new OpenlecError('E_COPY', `the copy does not verify: ${verified.problems.map((p) => p.message).join('; ') || `root ${verified.root}`}`, { field: 'to', details: { problems: verified.problems.length } });
    return { community: id, entries: size, checkpoints: src.checkpoints().length, cosignatures, cosignaturesSkipped, root: sourceRoot, verified };
  } catch (e) {
    await target?.discard().catch(() => undefined);
    throw e;
  } finally {
    bar?.stop();
    await source.close();
  }
}
