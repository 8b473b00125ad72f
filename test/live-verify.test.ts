import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Signer } from '../src/client.ts';
import { writeKeyFile } from '../src/node/key-file.ts';
import { SqliteLedger } from '../src/store/sqlite-ledger.ts';
import { openlec, startOpenlec, stopProcess } from './support/cli.ts';
import { COMMUNITY, seededKey, tempDb } from './support/community.ts';

/**
 * Verify as an auditor runs it: against the database of a server (and of a replica) that
 * is being written the whole time. Every run must pass, and say which size it verified;
 * a second writer on the served file is refused while the server goes on writing.
 */
const children: ChildProcess[] = [];
/** start runs a long-lived openlec process, stopped after the tests. */
async function start(...args: string[]): Promise<{ url: string; child: ChildProcess }> {
  const started = await startOpenlec(...args);
  children.push(started.child);
  return started;
}
const stop = stopProcess;

const METER = '30001234567890';
/** The d-th day of readings: from 2025-11-01 on, 140 days without a DST change in Europe/Paris (48 intervals each). */
const day = (d: number) => new Date(Date.UTC(2025, 10, 1 + (d % 140))).toISOString().slice(0, 10);

describe('verify of a live database', () => {
  after(async () => {
    for (const c of children) await stop(c);
  });

  test('verify passes every time on a served database and on a following replica under a steady stream of writes; a second writer is refused', async () => {
    const db = tempDb();
    const dir = join(db, '..');
    const keyFile = (label: string) => join(dir, `${label}.key`);
    for (const label of ['operator', 'dso', 'auditor']) writeKeyFile(keyFile(label), seededKey(label));
    const signerOf = (label: string) => new Signer(seededKey(label), COMMUNITY, 0, () => new Date().toISOString());
    const operator = signerOf('operator');
    const dso = signerOf('dso');
    const genesis = SqliteLedger.create(db);
    await genesis.submitAtomic([
      operator.sign('community.create', { name: 'Live street', timeZone: 'Europe/Paris', intervalMinutes: 30, currency: 'EUR', operator: operator.actor }),
      operator.sign('participant.register', { key: dso.actor, roles: ['dso'] }),
      operator.sign('participant.register', { key: signerOf('auditor').actor, roles: ['auditor'] }),
      dso.sign('meter.register', { meter: METER, scheme: 'PRM', direction: 'import', owner: dso.actor }),
    ]);
    await genesis.close();
    const server = await start('serve', '--db', db, '--key', keyFile('operator'), '--port', '0');
    mkdirSync(join(dir, 'replica'));
    const replicaDb = join(dir, 'replica', 'replica.db');

    // The stream: each write fills one more interval of a day's readings (a row that keeps
    // changing) and every fourth defines a feeder (a new row).
    let writes = 0;
    let writing = true;
    const post = (tx: unknown) => fetch(`${server.url}/v1/transactions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(tx) });
    const next = () => {
      const k = writes++;
      if (k % 4 === 3) return dso.sign('feeder.define', { id: `feeder-${k}` });
      const n = k - Math.floor(k / 4);
      const values = Array.from({ length: 48 }, (_, i) => (i <= n % 48 ? 100 + i : null));
      return dso.sign('meter.readings', { meter: METER, direction: 'import', date: day(Math.floor(n / 48)), values });
    };
    let firstWrite!: () => void;
    const written = new Promise<void>((resolve) => (firstWrite = resolve));
    const stream = (async () => {
      while (writing) {
        const r = await post(next());
        assert.equal(r.status, 201, await r.text());
        firstWrite();
        // Steady rather than flat out: the verify processes need the cores too.
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    let failure: unknown;
    const streamFailed = stream.then(() => undefined, (e: unknown) => (failure = e));
    /** verifyRuns runs `openlec verify` one run after another (the last with --json); each must pass and name its size. */
    const verifyRuns = async (path: string, runs: number) => {
      const sizes: number[] = [];
      for (let i = 0; i < runs; i++) {
        const json = i === runs - 1;
        const v = await openlec('verify', '--db', path, ...(json ? ['--json'] : []));
        assert.equal(v.code, 0, `run ${i + 1}: ${v.stdout}${v.stderr}`);
        if (json) {
          const report = JSON.parse(v.stdout);
          assert.equal(report.size, report.entries);
          assert.ok(report.latestCheckpoint <= report.size);
          sizes.push(report.size);
        } else sizes.push(Number(/\nverified size (\d+) \(/.exec(v.stdout)![1]));
      }
      assert.ok(sizes[runs - 1]! > sizes[0]!, `the log grew between runs: ${sizes.join(', ')} (${failure ?? 'writes going on'})`);
      return sizes;
    };

    await written;
    // Side by side, to keep within the time: verify of the served file, a replica that
    // follows it and is verified the same way while it appends, and a second writer on the
    // served file, refused with the holder's pid (appending nothing).
    const followed = (async () => {
      const replica = await start('follow', '--from', server.url, '--db', replicaDb, '--key', keyFile('auditor'), '--every', '0.2', '--port', '0');
      await verifyRuns(replicaDb, 3);
      return replica;
    })();
    const [, replica, second] = await Promise.all([
      verifyRuns(db, 5),
      followed,
      openlec('tx', 'submit', '--db', db, '--key', keyFile('operator'), '--type', 'feeder.define', '--body', '{"id":"second-writer"}'),
    ]);
    assert.notEqual(second.code, 0);
    assert.match(second.stderr, new RegExp(`log\\.db is being written by another process \\(pid ${server.child.pid}\\).*E_LOCKED`));

    writing = false;
    assert.equal(await streamFailed, undefined, 'the server kept writing throughout');
    const last = await post(next());
    assert.equal(last.status, 201, 'and still writes');
    await stop(replica.child);
    await stop(server.child);
    // Every write the server acknowledged is in the log, and nothing else.
    const log = SqliteLedger.open(db, { projections: false });
    assert.equal(log.size, 4 + writes);
    await log.close();
  });
});
