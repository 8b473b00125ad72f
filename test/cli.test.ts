import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { smallCommunity, tempDb } from './support/community.ts';
import { BIN, openlec } from './support/cli.ts';
import { until } from './support/until.ts';
import { EXIT } from '../src/cli/output.ts';
import { addDays, intervalsInDay } from '../src/units/interval.ts';
import { writeKeyFile } from '../src/node/key-file.ts';

describe('openlec CLI', () => {
  const db = tempDb();
  const dir = join(db, '..');
  const dsoKey = join(dir, 'dso.key');

  test('init, keygen, tx submit, log, checkpoint, proof, check-proof and verify work together', async () => {
    const created = await openlec('init', '--db', db, '--name', 'Rue du Soleil', '--tz', 'Europe/Paris', '--interval', '30');
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /created community openlec.local\/rue-du-soleil/);

    const dso = (await openlec('keygen', '--out', dsoKey)).stdout.trim();
    assert.match(dso, /^[A-Za-z0-9_-]{43}$/);
    const opKey = join(dir, 'keys', 'operator.key');
    assert.match(created.stdout, new RegExp(`operator key [A-Za-z0-9_-]{43} in ${opKey.replace(/[.\\/]/g, '\\$&')}`));
    const reg = await openlec('tx', 'submit', '--db', db, '--key', opKey, '--type', 'participant.register', '--body', JSON.stringify({ key: dso, roles: ['dso'] }));
    assert.equal(reg.code, 0, reg.stderr);
    assert.deepEqual(JSON.parse(reg.stdout), { entry: 1 });
    const feeder = await openlec('tx', 'submit', '--db', db, '--key', dsoKey, '--type', 'feeder.define', '--body', '{"id":"feeder-1","exportLimitW":50000}');
    assert.deepEqual(JSON.parse(feeder.stdout), { entry: 2 });

    const cp = await openlec('checkpoint', '--db', db);
    assert.equal(cp.code, 0, cp.stderr);
    assert.match(cp.stdout, /^openlec.local\/rue-du-soleil\n3\n[A-Za-z0-9+/]{43}=\n\n\u2014 openlec.local\/rue-du-soleil [A-Za-z0-9+/=]+\n$/);

    const log = await openlec('log', '--db', db, '--json');
    const listing = JSON.parse(log.stdout);
    assert.deepEqual(listing.entries.map((e: { type: string }) => e.type), ['community.create', 'participant.register', 'feeder.define']);

    const proof = await openlec('proof', '--db', db, '--entry', '2');
    const proofFile = join(dir, 'proof.json');
    writeFileSync(proofFile, proof.stdout);
    const checked = await openlec('check-proof', proofFile);
    assert.equal(checked.code, 0, checked.stderr);
    assert.match(checked.stdout, /ok: feeder.define/);

    const tampered = JSON.parse(readFileSync(proofFile, 'utf8'));
    tampered.transaction = tampered.transaction.replace('50000', '90000');
    writeFileSync(proofFile, JSON.stringify(tampered));
    const refused = await openlec('check-proof', proofFile);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /E_TX_SIGNATURE/);

    const verified = await openlec('verify', '--db', db, '--json');
    assert.equal(verified.code, 0, verified.stderr);
    assert.equal(JSON.parse(verified.stdout).entries, 3);
  });

  test('bad input gets a clear error naming the field, and nothing is appended', async () => {
    const badBody = await openlec('tx', 'submit', '--db', db, '--key', dsoKey, '--type', 'feeder.define', '--body', '{"id":"feeder-2","exportLimitW":-5}');
    assert.equal(badBody.code, 3, 'a refused transaction is an error, not a failed check');
    assert.match(badBody.stderr, /feeder.define body.exportLimitW: .*\[E_TX_BODY, field body.exportLimitW\]/);
    const notJson = await openlec('tx', 'submit', '--db', db, '--key', dsoKey, '--type', 'feeder.define', '--body', '{id:');
    assert.match(notJson.stderr, /--body is not JSON/);
    const role = await openlec('tx', 'submit', '--db', db, '--key', dsoKey, '--type', 'participant.register', '--body', '{"key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","roles":["member"]}');
    assert.match(role.stderr, /needs role operator.*E_TX_ROLE/);
    const missing = await openlec('verify', '--db', join(dir, 'nope.db'));
    assert.match(missing.stderr, /does not exist.*E_DB_MISSING/);
    assert.equal(missing.code, 3, 'verify could not run: not a failed verification');
    const size = JSON.parse((await openlec('log', '--db', db, '--json')).stdout).size;
    assert.equal(size, 3);
  });

  test('verify exits 1 and names the entry when the database is tampered with', async () => {
    const sql = new Database(db);
    const bytes = sql.prepare('SELECT bytes FROM entries WHERE seq = 2').pluck().get() as Buffer;
    sql.prepare('UPDATE entries SET bytes = ? WHERE seq = 2').run(Buffer.from(bytes.toString().replace('50000', '90000')));
    sql.close();
    const r = await openlec('verify', '--db', db);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /FAILED\n {2}\[E_TX_SIGNATURE\] entry 2: the signature does not verify/);
  });

  test('exit codes tell usage errors (2) and other errors (3) from a failed check (1); --version prints the version', async () => {
    const { version } = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as { version: string };
    const v = await openlec('--version');
    assert.deepEqual([v.code, v.stdout.trim()], [0, version]);
    for (const args of [['no-such-command'], ['log'], ['log', '--db', db, '--limit', 'many'], ['log', '--db', db, '--no-such-option']]) {
      const r = await openlec(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /error|must be/);
    }
    const proof = join(dir, 'entry1.proof.json');
    writeFileSync(proof, (await openlec('proof', '--db', db, '--entry', '1')).stdout);
    assert.equal((await openlec('check-proof', proof)).code, 0);
    const p = JSON.parse(readFileSync(proof, 'utf8'));
    p.transaction = p.transaction.replace('"roles":["dso"]', '"roles":["operator"]');
    writeFileSync(proof, JSON.stringify(p));
    const bad = await openlec('check-proof', proof);
    assert.equal(bad.code, 1, bad.stderr);
    const none = await openlec('check-proof', join(dir, 'no-such.proof.json'));
    assert.equal(none.code, 3, 'a missing file: the check could not run');
    assert.match(none.stderr, /no-such.proof.json: no such file or directory \[E_FILE/);
    assert.doesNotMatch(none.stderr, /    at /, 'no stack trace');
  });
});

describe('openlec CLI: meter data and allocation', () => {
  test('walkthrough imports a week of load curves and allocates; meter curve and allocate work from the command line', async () => {
    const dir = join(tempDb(), '..', 'walkthrough');
    const demo = await openlec('walkthrough', '--dir', dir);
    assert.equal(demo.code, 0, demo.stderr);
    assert.match(demo.stdout, /49 transaction\(s\) appended/);
    assert.match(demo.stdout, /allocation \d{4}-\d{2} \(prorata\) recorded as entry 67/);
    // The week the walkthrough imports is the last 7 days before today: a day of a clock change
    // has 46 or 50 half-hours, so the clearings are counted from the days of its file.
    const [, first, last] = readdirSync(dir).map((f) => /^enedis-(\d{4}-\d{2}-\d{2})-(\d{4}-\d{2}-\d{2})\.csv$/.exec(f)).find((m) => m)!;
    const week = Array.from({ length: 7 }, (_, k) => addDays(first!, k));
    assert.equal(week[6], last);
    const clearings = week.reduce((n, d) => n + intervalsInDay(d, 'Europe/Paris', 30), 0);
    // 68 entries of setup, meter data and allocation; 4 market rules; 7 days of ex-post clearings;
    // certificates: a device, 3 opt-ins, 7 days issued, 1 settlement.
    assert.match(demo.stdout, new RegExp(`ok: ${68 + 4 + clearings + 1 + 3 + 7 + 1} entries replayed`));
    assert.match(demo.stdout, /7 date\(s\) issued: \d+ certificates/);
    assert.match(demo.stdout, /hourly \(24\/7\) matching [\d.]+ %, monthly [\d.]+ %/);
    const eecs = readdirSync(dir).find((f) => f.startsWith('guarantees-of-origin-'))!;
    assert.match(readFileSync(join(dir, eecs), 'utf8'), /^device,month,energySource,.*\nsolar-street-pv,\d{4}-\d{2},F01040100,T010100,9000,/);
    assert.match(demo.stdout, new RegExp(`${week[6]}: cleared ${intervalsInDay(week[6]!, 'Europe/Paris', 30)} intervals ex-post`));
    const db = join(dir, 'walkthrough.db');
    assert.match(JSON.parse(readFileSync(join(dir, 'member-01.proof.json'), 'utf8')).transaction, /"type":"participant.register"/);

    const summary = JSON.parse(readFileSync(readdirSync(dir).filter((f) => f.startsWith('allocation-')).map((f) => join(dir, f, `summary-${f.slice(11)}.json`))[0]!, 'utf8'));
    const month = summary.month as string;
    const log = JSON.parse((await openlec('log', '--db', db, '--json', '--from', '20', '--limit', '1')).stdout);
    const day = log.entries[0].body.date as string;
    const curve = await openlec('meter', 'curve', '--db', db, '--meter', '12345678900001', '--from', day, '--to', day, '--json');
    assert.equal(curve.code, 0, curve.stderr);
    const values = JSON.parse(curve.stdout).rows.map((r: { wh: number | null }) => r.wh);
    assert.ok(values.length >= 46 && values.every((v: number | null) => typeof v === 'number' && v > 0));
    const chart = await openlec('meter', 'curve', '--db', db, '--meter', '12345678900001', '--from', day, '--to', day);
    assert.match(chart.stdout, new RegExp(`${day} [ ▁▂▃▄▅▆▇█]{46,50}\\n`));

    const bad = await openlec('allocate', '--db', db, '--month', month, '--key', 'fair-share');
    assert.equal(bad.code, 2, 'a usage error');
    assert.match(bad.stderr, /--key must be one of prorata, static/);
    // The operator key is found where the walkthrough (like init) put it: no --signer.
    const again = await openlec('allocate', '--db', db, '--month', month, '--json', '--out', join(dir, 'again'));
    assert.equal(again.code, 0, again.stderr);
    const r = JSON.parse(again.stdout);
    assert.equal(r.summary.allocationRoot, summary.allocationRoot);
    assert.equal(r.summary.inputHash, summary.inputHash);
    assert.equal(readFileSync(r.files.coefficientsFr, 'utf8'), readFileSync(join(dir, `allocation-${month}`, `coefficients-fr-${month}.csv`), 'utf8'));
    const verified = await openlec('verify', '--db', db, '--json');
    assert.equal(JSON.parse(verified.stdout).rows.allocations, 1);
    // The commands the walkthrough suggests work as printed (the operator key found where they look).
    const next = demo.stdout.slice(demo.stdout.indexOf('next, as they are:')).split('\n').slice(1)
      .map((l) => l.trim()).filter((l) => l.startsWith('openlec ') && !l.startsWith('openlec serve'));
    assert.ok(next.some((l) => l.startsWith('openlec checkpoint')) && next.some((l) => l.startsWith('openlec allocate')), demo.stdout);
    for (const line of next) {
      const r = await openlec(...line.split(/\s+/).slice(1));
      assert.equal(r.code, 0, `${line}: ${r.stderr}`);
    }
    assert.equal(JSON.parse(verified.stdout).rows.clearings, clearings);
    assert.equal(JSON.parse(verified.stdout).rows.certificates, 7);
  });

  test('market book, market clear and invoice from the command line', async () => {
    const dir = join(tempDb(), '..', 'walkthrough');
    assert.equal((await openlec('walkthrough', '--dir', dir)).code, 0);
    const db = join(dir, 'walkthrough.db');
    const log = JSON.parse((await openlec('log', '--db', db, '--json', '--from', '100', '--limit', '1')).stdout);
    const noon = log.entries[0].body.interval as string;
    assert.match(noon, /T\d\d:\d\d:00Z$/);
    const book = await openlec('market', 'book', '--db', db, '--interval', noon, '--json');
    assert.equal(book.code, 0, book.stderr);
    const b = JSON.parse(book.stdout);
    assert.equal(b.mode, 'ex-post');
    assert.equal(b.cleared, 100);
    const chart = await openlec('market', 'book', '--db', db, '--interval', noon);
    assert.match(chart.stdout, /price\/kWh  demand/);
    const again = await openlec('market', 'clear', '--db', db, '--interval', noon);
    assert.equal(again.code, 3, 'a refused transaction');
    assert.match(again.stderr, /is already cleared \[E_BOOK_CLEARED, field body.interval\]/);
    const misaligned = await openlec('market', 'book', '--db', db, '--interval', noon.replace(':00:00Z', ':10:00Z').replace(':30:00Z', ':10:00Z'));
    assert.match(misaligned.stderr, /not the start of a 30-minute interval \[E_INTERVAL_ALIGN, field interval\]/);

    const month = noon.slice(0, 7);
    const json = JSON.parse((await openlec('invoice', '--db', db, '--month', month, '--json')).stdout);
    const t = json.totals;
    assert.ok(t.peerWh > 0);
    assert.equal(t.chargesMicro - t.creditsMicro, t.feesMicro + t.surplusMicro + t.supplierMicro - t.gridMicro);
    const csv = (await openlec('invoice', '--db', db, '--month', month, '--csv')).stdout.trim().split('\n');
    assert.equal(csv[0], 'participant;month;kind;wh;priceMicroPerKwh;amountMicro;credit');
    const totals = csv.filter((l) => l.split(';')[2] === 'total').map((l) => Number(l.split(';')[5]));
    assert.equal(totals.reduce((a, x) => a + x, 0), t.chargesMicro - t.creditsMicro);
    const unknown = await openlec('invoice', '--db', db, '--month', month, '--participant', 'nobody');
    assert.equal(unknown.code, 3);
    assert.match(unknown.stderr, /field participant/);
  });
});

describe('openlec serve --demo (npm start)', () => {
  test('backfills the demo, serves the API and the dashboard, clears intervals and re-runs the allocation live, and the log verifies afterwards', async () => {
    const { spawn } = await import('node:child_process');
    const dir = join(tempDb(), '..');
    const child = spawn(process.execPath, [BIN, 'serve', '--demo', '--dir', dir, '--port', '0', '--tick', '0.05'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let anchored = '';
    try {
      let out = '';
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (b: Buffer) => {
          out += b.toString();
          const m = /serving (http:\/\/\S+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
      });
      assert.match(out, /log in as member\s+key [A-Za-z0-9_-]{43}\s+secret [A-Za-z0-9_-]{43}/);
      assert.match(out, /log in as auditor/);
      const community = (await (await fetch(`${url}/v1/community`)).json()) as { name: string; size: number };
      assert.equal(community.name, 'demo');
      // Live: an interval is cleared within a few ticks, announced on the event stream.
      const res = await fetch(`${url}/v1/events`);
      const reader = res.body!.getReader();
      let text = '';
      // At the first new local day (48 intervals on), the operator re-runs the month's allocation.
      while (!text.includes('event: allocation-done')) text += new TextDecoder().decode((await reader.read()).value);
      await reader.cancel();
      assert.match(text, /event: interval-cleared\ndata: \{"entry":\d+,"interval":"\d{4}-\d\d-\d\dT\d\d:\d\d:00Z"/);
      assert.match(text, /event: allocation-done\ndata: \{"entry":\d+,"month":"\d{4}-\d\d","allocatedWh":\d+\}/);
      // The demo anchors its checkpoints on a local anvil chain.
      const anchorLine = /anchored on a local EVM chain \(anvil\) at (http\S+), contract (0x[0-9a-fA-F]{40})/.exec(out);
      assert.ok(anchorLine, out);
      anchored = anchorLine[2]!;
      const page = await (await fetch(`${url}/`)).text();
      // Asset paths are relative (./assets/...), so that the same build also runs under /c/<id>/ of a multi-community server.
      const script = /<script type="module"[^>]+src="\.\/(assets\/index-[\w-]+\.js)"/.exec(page)?.[1];
      assert.ok(script, `the built dashboard is served at /: ${page.slice(0, 300)}`);
      assert.equal((await fetch(`${url}/${script}`)).status, 200, 'its script is served');
    } finally {
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
    }
    const v = await openlec('verify', '--db', join(dir, 'live', 'ledger.db'));
    assert.equal(v.code, 0, v.stderr);
    // The chain was kept in the demo folder: restarted, it still holds the anchors, which match the log.
    const { startAnvil } = await import('../src/anchor/anvil.ts');
    const chain = await startAnvil({ statePath: join(dir, 'live', 'anvil-state.json') });
    try {
      const a = await openlec('verify', '--db', join(dir, 'live', 'ledger.db'), '--anchors', chain.rpc, '--contract', anchored);
      assert.equal(a.code, 0, a.stdout + a.stderr);
      assert.match(a.stdout, /anchors ok: [1-9]\d* anchored root\(s\) match the log/);
    } finally {
      await chain.stop();
    }
  });
});

describe('openlec serve: --log and the demo\'s public keys', () => {
  test('--demo on a non-loopback --host is refused before anything is created (--public-demo would allow it)', async () => {
    const dir = join(tempDb(), '..');
    const r = await openlec('serve', '--demo', '--dir', dir, '--host', '0.0.0.0', '--port', '0');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /anyone reaching port 0 could act as the operator.*--public-demo/s);
    assert.deepEqual(readdirSync(dir), [], 'no demo was backfilled');
  });

  test('--log writes every request, and a 500 with its cause', async () => {
    const { spawn } = await import('node:child_process');
    const { Signer } = await import('../src/client.ts');
    const { readKeyFile } = await import('../src/node/key-file.ts');
    const db = tempDb();
    const keyFile = join(db, '..', 'operator.key');
    assert.equal((await openlec('keygen', '--out', keyFile)).code, 0);
    assert.equal((await openlec('init', '--db', db, '--name', 'Logged', '--tz', 'Europe/Paris', '--key', keyFile)).code, 0);
    // The store fails every append, as a full disk would.
    const raw = new Database(db);
    raw.exec("CREATE TRIGGER disk_full BEFORE INSERT ON entries BEGIN SELECT RAISE(FAIL, 'disk full'); END");
    const communityId = (raw.prepare('SELECT id FROM community').get() as { id: string }).id;
    raw.close();
    const child = spawn(process.execPath, [BIN, 'serve', '--db', db, '--port', '0', '--log'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      const url = await new Promise<string>((resolve, reject) => {
        const poll = setInterval(() => {
          const m = /serving (http:\/\/\S+)/.exec(out);
          if (m) clearInterval(poll), resolve(m[1]!);
        }, 50);
        child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
      });
      const operator = new Signer(readKeyFile(keyFile), communityId, 1);
      const tx = operator.sign('participant.register', { key: 'A'.repeat(43), roles: ['member'] });
      const res = await fetch(`${url}/v1/transactions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(tx) });
      assert.equal(res.status, 500);
      assert.equal(((await res.json()) as { code: string }).code, 'E_STORE_WRITE');
      // The log lines reach the pipe a moment after the reply.
      await until('the request and error lines', () => out.includes('"level":50') && out.includes('"statusCode":500'));
      const lines = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: number; msg: string; res?: { statusCode: number } });
      assert.ok(lines.some((l) => l.msg === 'request completed' && l.res?.statusCode === 500), out);
      const error = lines.find((l) => l.level === 50);
      assert.ok(error && /E_STORE_WRITE/.test(error.msg) && /disk full/.test(JSON.stringify(error)), out);
    } finally {
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
    }
  });
});

describe('openlec CLI: meter import errors (issue 13)', () => {
  test('a missing input file is E_FILE naming the path, without a stack trace; an empty file names the file; both are errors', async () => {
    const c = await smallCommunity();
    await c.ledger.close();
    const dir = join(c.path, '..');
    const key = join(dir, 'dso.key');
    writeKeyFile(key, c.dso.key);
    const missing = join(dir, 'nope.csv');
    const r = await openlec('meter', 'import', '--db', c.path, '--key', key, '--format', 'csv', missing);
    assert.equal(r.code, EXIT.error);
    assert.equal(r.stderr, `openlec: ${missing}: cannot read the file: no such file [E_FILE, field file]\n`);
    const empty = join(dir, 'empty.csv');
    writeFileSync(empty, '');
    const e = await openlec('meter', 'import', '--db', c.path, '--key', key, '--format', 'enedis', empty);
    assert.equal(e.code, EXIT.error);
    assert.equal(e.stderr, `openlec: 1 rejected line(s), nothing imported:\n  ${empty}: the file is empty [E_IMPORT_LINES, field file]\n`);
  });
});
