import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { verifyLog } from '../src/audit/verify.ts';
import { buildApp } from '../src/server/app.ts';
import { PersonalVault } from '../src/server/vault.ts';
import { SqliteLedger } from '../src/store/sqlite-ledger.ts';
import { openlec } from './support/cli.ts';

/** `openlec apikey`: the key made on this machine, written 0600, its digest signed into the log, and the server taking it until it is revoked. */
test('openlec apikey issue, list, rotate and revoke; the server takes the key file\'s bearer until the revocation', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'openlec-apikey-'));
  const db = join(dir, 'c', 'log.db');
  const ok = async (...args: string[]) => {
    const r = await openlec(...args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  await ok('init', '--db', db, '--name', 'Keys', '--tz', 'Europe/Paris');
  const issued = JSON.parse((await ok('apikey', 'issue', '--db', db, '--roles', 'operator', '--days', '30', '--out', join(dir, 'billing.key'), '--json')).stdout) as { id: string; entry: number; expiresAt: string };
  const bearer = readFileSync(join(dir, 'billing.key'), 'utf8').trim();
  assert.match(bearer, new RegExp(`^olk_${issued.id}_[A-Za-z0-9_-]{43}$`));
  assert.equal(statSync(join(dir, 'billing.key')).mode & 0o777, 0o600);

  // A refused issue (a role the operator does not hold) leaves no key file behind; an existing file is never overwritten.
  const refused = await openlec('apikey', 'issue', '--db', db, '--roles', 'dso', '--out', join(dir, 'dso.key'));
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /E_API_KEY_ROLE/);
  assert.equal(existsSync(join(dir, 'dso.key')), false);
  const again = await openlec('apikey', 'issue', '--db', db, '--roles', 'operator', '--out', join(dir, 'billing.key'));
  assert.match(again.stderr, /never overwritten/);

  const serve = async <T>(f: (get: (bearer: string) => Promise<number>) => Promise<T>) => {
    const ledger = SqliteLedger.open(db);
    const vault = PersonalVault.open(join(dir, 'personal.db'), randomBytes(32));
    const { app } = await buildApp({ ledger, vault, tokenSecret: randomBytes(32) });
    try {
      return await f(async (b) => (await app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `Bearer ${b}` } })).statusCode);
    } finally {
      await app.close();
      vault.close();
      await ledger.close();
    }
  };
  assert.equal(await serve((get) => get(bearer)), 200);

  const rotated = JSON.parse((await ok('apikey', 'rotate', '--db', db, '--id', issued.id, '--overlap', '0', '--out', join(dir, 'billing-2.key'), '--json')).stdout) as { id: string; replaces: string };
  assert.equal(rotated.replaces, issued.id);
  const next = readFileSync(join(dir, 'billing-2.key'), 'utf8').trim();
  assert.deepEqual(await serve(async (get) => [await get(bearer), await get(next)]), [401, 200], 'no overlap: the old key stops at the rotation');

  await ok('apikey', 'revoke', '--db', db, '--id', rotated.id, '--reason', 'compromised');
  assert.equal(await serve((get) => get(next)), 401);
  const listed = JSON.parse((await ok('apikey', 'list', '--db', db, '--json')).stdout) as { keys: { id: string; status: string; reason: string | null }[] };
  assert.deepEqual(listed.keys.map((k) => [k.id, k.status, k.reason]), [[issued.id, 'expired', null], [rotated.id, 'revoked', 'compromised']]);
  const text = (await ok('apikey', 'list', '--db', db)).stdout;
  assert.match(text, new RegExp(`${rotated.id}.*revoked.*compromised`));

  const ledger = SqliteLedger.open(db);
  try {
    assert.deepEqual((await verifyLog(ledger, ledger.registry)).problems, []);
  } finally {
    await ledger.close();
  }
});
