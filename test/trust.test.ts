import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Signer } from '../src/client.ts';
import { cosignaturesOf, parseCosignerKey } from '../src/ledger/index.ts';
import { writeKeyFile } from '../src/node/key-file.ts';
import { SqliteLedger } from '../src/store/sqlite-ledger.ts';
import { openlec, startOpenlec, stopProcess } from './support/cli.ts';
import { COMMUNITY, seededKey, tempDb } from './support/community.ts';

/**
 * Multi-party trust across processes on loopback: the operator's server, three witnesses
 * and a replica, each its own `openlec` process; then an operator that equivocates.
 */
const children: ChildProcess[] = [];
/** start runs a long-lived openlec process, stopped after the tests. */
async function start(...args: string[]): Promise<{ url: string; child: ChildProcess }> {
  const started = await startOpenlec(...args);
  children.push(started.child);
  return started;
}
const stop = stopProcess;
const getJson = async (url: string) => (await fetch(url)).json() as Promise<any>;
const until = async <T>(f: () => Promise<T | undefined>, what: string, ms = 20_000): Promise<T> => {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
};

describe('witnesses, replicas and an equivocating operator, as separate processes', () => {
  after(async () => {
    for (const c of children) await stop(c);
  });

  test('witnesses cosign, a quorum makes checkpoints final, a replica follows; a split view and a rewritten log are caught with evidence anyone can check', async () => {
    const db = tempDb();
    const dir = join(db, '..');
    const keyFile = (label: string) => join(dir, `${label}.key`);
    for (const label of ['operator', 'auditor', 'w1', 'w2', 'w3']) writeKeyFile(keyFile(label), seededKey(label));
    // The server admits a transaction only if its issuedAt is within --max-skew of its own clock.
    const clock = () => new Date().toISOString();
    const signerOf = (label: string) => new Signer(seededKey(label), COMMUNITY, 0, clock);
    const operator = signerOf('operator');
    const dso = signerOf('dso');
    const genesis = [
      operator.sign('community.create', { name: 'Trust street', timeZone: 'Europe/Paris', intervalMinutes: 30, currency: 'EUR', operator: operator.actor }),
      operator.sign('participant.register', { key: dso.actor, roles: ['dso'] }),
      operator.sign('participant.register', { key: signerOf('auditor').actor, roles: ['auditor'] }),
    ];
    const ledger = SqliteLedger.create(db);
    await ledger.submitAtomic(genesis);
    await ledger.close();

    const vkeys = await Promise.all(['w1', 'w2', 'w3'].map(async (w) => (await openlec('witness', '--from', 'http://unused', '--key', keyFile(w), '--name', `${w}.example`, '--show-key')).stdout.trim()));
    const server = await start('serve', '--db', db, '--key', keyFile('operator'), '--port', '0', ...vkeys.flatMap((k) => ['--witness', k]), '--quorum', '2');
    const post = async (url: string, tx: unknown) => fetch(`${url}/v1/transactions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(tx) });
    for (let i = 0; i < 5; i++) assert.equal((await post(server.url, dso.sign('feeder.define', { id: `feeder-${i}` }))).status, 201);
    const S = 8;
    await until(async () => ((await getJson(`${server.url}/v1/checkpoints/latest`)).size === S ? true : undefined), 'a checkpoint of the 8 entries');

    // Three witnesses, each its own process, cosign; two make it final.
    for (const w of ['w1', 'w2']) {
      const r = await openlec('witness', '--from', server.url, '--key', keyFile(w), '--name', `${w}.example`, '--every', '0');
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`cosigned size ${S}`));
    }
    const final = await getJson(`${server.url}/v1/checkpoints/final`);
    assert.equal(final.size, S);
    assert.deepEqual(cosignaturesOf(final.note, vkeys.map(parseCosignerKey)).map((c) => c.name).sort(), ['w1.example', 'w2.example']);
    const line: string = final.note.split('\n').find((l: string) => l.includes('w1.example'));
    const cosign = (cosignature: string) => fetch(`${server.url}/v1/checkpoints/${S}/cosignatures`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ cosignature }) });
    assert.equal((await cosign(line.replace('w1.example', 'w3.example'))).status, 403, 'a line under another name is no witness of this log');
    const at = line.length - 20;
    assert.equal((await cosign(line.slice(0, at) + (line[at] === 'A' ? 'B' : 'A') + line.slice(at + 1))).status, 401, 'an altered cosignature does not verify');

    // A replica, its own process: verifies everything, serves reads, refuses writes; resumes after a restart.
    const replicaDb = join(dir, 'replica', 'replica.db');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(dir, 'replica'));
    const replica = await start('follow', '--from', server.url, '--db', replicaDb, '--key', keyFile('auditor'), '--every', '0.2', '--port', '0');
    await until(async () => ((await getJson(`${replica.url}/v1/community`)).size === S ? true : undefined), 'the replica to catch up');
    assert.equal((await post(replica.url, dso.sign('feeder.define', { id: 'to-replica' }))).status, 409);
    dso.nonce--; // that transaction was refused: reuse its nonce
    assert.equal((await getJson(`${replica.url}/v1/checkpoints/latest`)).note, (await getJson(`${server.url}/v1/checkpoints/latest`)).note);
    await stop(replica.child);
    for (let i = 5; i < 8; i++) assert.equal((await post(server.url, dso.sign('feeder.define', { id: `feeder-${i}` }))).status, 201);
    await until(async () => ((await getJson(`${server.url}/v1/checkpoints/latest`)).size === S + 3 ? true : undefined), 'a checkpoint of 11 entries');
    const resumed = await openlec('follow', '--from', server.url, '--db', replicaDb, '--key', keyFile('auditor'), '--every', '0');
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /verified entries 8\.\.10, checkpoint 11/);
    const w3 = await openlec('witness', '--from', server.url, '--key', keyFile('w3'), '--name', 'w3.example', '--every', '0');
    assert.match(w3.stdout, /cosigned size 11 \(1 cosigner/);
    await stop(server.child);

    // The operator equivocates. (a) A second history of the same size as the checkpoint w1 cosigned: a split view.
    const forkDb = (n: number) => join(dir, `fork-${n}.db`);
    const fork = async (path: string, extra: number) => {
      const f = SqliteLedger.create(path);
      const original = SqliteLedger.open(db);
      for (let i = 0; i < 4; i++) assert.ok((await f.submit(original.entry(i))).ok);
      await original.close();
      const evil = new Signer(seededKey('dso'), COMMUNITY, 1, clock);
      for (let i = 0; i < extra; i++) assert.ok((await f.submit(evil.sign('feeder.define', { id: `rewritten-${i}` }))).ok);
      f.checkpoint(seededKey('operator'));
      await f.close();
    };
    await fork(forkDb(1), S - 4);
    const liar = await start('serve', '--db', forkDb(1), '--key', keyFile('operator'), '--port', '0', ...vkeys.flatMap((k) => ['--witness', k]));
    const w1 = await openlec('witness', '--from', liar.url, '--key', keyFile('w1'), '--name', 'w1.example', '--every', '0');
    assert.equal(w1.code, 1);
    assert.match(w1.stderr, /split view: a second root for size 8; evidence in .*E_EQUIVOCATION/);
    await stop(liar.child);

    // (b) A longer rewritten history: w2 cannot get a valid consistency proof; the replica proves the fork entry by entry.
    await fork(forkDb(2), 9);
    const liar2 = await start('serve', '--db', forkDb(2), '--key', keyFile('operator'), '--port', '0');
    const w2 = await openlec('witness', '--from', liar2.url, '--key', keyFile('w2'), '--name', 'w2.example', '--every', '0');
    assert.equal(w2.code, 1);
    assert.match(w2.stderr, /not proved consistent with the one of size 8/);
    const caught = await openlec('follow', '--from', liar2.url, '--db', replicaDb, '--key', keyFile('auditor'), '--every', '0');
    assert.equal(caught.code, 1);
    assert.match(caught.stderr, /contradicts the replica: .*the replica keeps its 11 verified entries \[E_EQUIVOCATION/);
    await stop(liar2.child);

    // Everyone can check the evidence offline; the replica still verifies.
    const files = readdirSync(dir).filter((f) => f.startsWith('evidence-')).map((f) => join(dir, f))
      .concat(readdirSync(join(dir, 'replica')).filter((f) => f.startsWith('evidence-')).map((f) => join(dir, 'replica', f)));
    const verdicts = await Promise.all(files.map(async (f) => ({ kind: JSON.parse(readFileSync(f, 'utf8')).kind as string, r: await openlec('verify-evidence', f) })));
    const byKind = Object.fromEntries(verdicts.map((v) => [v.kind, v.r]));
    assert.match(byKind['split-view']!.stdout, /^CONCLUSIVE: split view: .* two different trees of size 8/);
    assert.match(byKind.fork!.stdout, /^CONCLUSIVE: fork: .* different entries at index 4/);
    assert.match(byKind.inconsistent!.stdout, /^NOT CONCLUSIVE ALONE/);
    const v = await openlec('verify', '--db', replicaDb);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /11 entries/);

    // Tampered evidence proves nothing.
    const e = JSON.parse(readFileSync(files.find((f) => f.includes('fork'))!, 'utf8'));
    e.entryB = e.entryA.replace('feeder-', 'feeder_');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'bad.json'), JSON.stringify(e));
    const bad = await openlec('verify-evidence', join(dir, 'bad.json'));
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /entryB is not entry 4/);
  });
});
