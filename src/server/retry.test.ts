import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { seededKey, smallCommunity } from '../../test/support/community.ts';
import { verifyLog } from '../audit/verify.ts';
import { Signer } from '../client.ts';
import { SqliteLedger } from '../store/sqlite-ledger.ts';
import { buildApp } from './app.ts';
import { PersonalVault } from './vault.ts';

/** Retry-safe writes: the same signed transaction sent again gives its entry back, never a second entry nor a refusal. */
describe('retries of signed transactions', () => {
  const T = '2026-02-10T12:00:00Z';
  let app: FastifyInstance;
  let c: Awaited<ReturnType<typeof smallCommunity>>;
  let vault: PersonalVault;
  let dso: Signer;
  const day = (d: number, wh: number) => Array.from({ length: 48 }, (_, k) => wh + (k % 7) + d);
  const post = (url: string, payload: unknown) => app.inject({ method: 'POST', url, payload: payload as object });
  let clock = Date.parse(T);
  const start = async (ledger: SqliteLedger) => (await buildApp({ ledger, vault, tokenSecret: randomBytes(32), txClock: () => clock })).app;

  before(async () => {
    c = await smallCommunity();
    dso = Signer.forState(c.ledger.state, seededKey('dso'), () => T);
    vault = PersonalVault.open(join(c.path, '..', 'personal.db'), randomBytes(32));
    app = await start(c.ledger);
  });
  after(async () => {
    await app.close();
    vault.close();
    await c.ledger.close();
  });

  test('a transaction sent twice, or sent again in another spelling, is one entry: 201, then 200 with duplicate and the same entry', async () => {
    const tx = dso.sign('meter.readings', { meter: '30001234567890', direction: 'import', date: '2026-01-20', values: day(20, 300) });
    const first = await post('/v1/transactions', tx);
    assert.equal(first.statusCode, 201, first.body);
    const size = c.ledger.size;
    const again = await post('/v1/transactions', tx);
    assert.equal(again.statusCode, 200, again.body);
    assert.deepEqual(again.json(), { entry: first.json().entry, size, duplicate: true });
    // The same transaction with its members in another order (another JSON text, the same canonical form).
    const reordered = Object.fromEntries(Object.entries(tx).reverse());
    const third = await post('/v1/transactions', reordered);
    assert.equal(third.statusCode, 200, third.body);
    assert.equal(third.json().entry, first.json().entry);
    assert.equal(c.ledger.size, size, 'nothing appended by the retries');
  });

  test('a different transaction with a used nonce is still refused: only the very same transaction is a retry', async () => {
    const tx = dso.sign('meter.readings', { meter: '30001234567890', direction: 'import', date: '2026-01-21', values: day(21, 300) });
    assert.equal((await post('/v1/transactions', tx)).statusCode, 201);
    // Same nonce, another body, signed properly: a replay of the nonce, not a retry.
    const other = Signer.forState(c.ledger.state, seededKey('dso'), () => T);
    other.nonce = (tx as { nonce: number }).nonce - 1;
    const clash = other.sign('meter.readings', { meter: '30001234567890', direction: 'import', date: '2026-01-22', values: day(22, 300) });
    assert.equal((clash as { nonce: number }).nonce, (tx as { nonce: number }).nonce);
    const r = await post('/v1/transactions', clash);
    assert.equal(r.statusCode, 409, r.body);
    assert.equal(r.json().code, 'E_TX_NONCE');
    // The same transaction with its signature changed is refused as well (the signature does not verify).
    const forged = { ...tx, sig: `${(tx as { sig: string }).sig.slice(0, -2)}AA` };
    assert.notEqual((await post('/v1/transactions', forged)).statusCode, 200);
  });

  test('a batch sent again gives its entries with 200; a batch mixing logged and new transactions is refused whole', async () => {
    const txs = [20, 21, 22].map((d) => dso.sign('meter.readings', { meter: '30009876543210', direction: 'import', date: `2026-01-${d}`, values: day(d, 200) }));
    const first = await post('/v1/transactions/batch', { transactions: txs });
    assert.equal(first.statusCode, 201, first.body);
    const size = c.ledger.size;
    const again = await post('/v1/transactions/batch', { transactions: txs });
    assert.equal(again.statusCode, 200, again.body);
    assert.deepEqual(again.json(), { entries: first.json().entries, size, duplicate: true });
    const fresh = dso.sign('meter.readings', { meter: '30009876543210', direction: 'import', date: '2026-01-23', values: day(23, 200) });
    const mixed = await post('/v1/transactions/batch', { transactions: [txs[2], fresh] });
    assert.equal(mixed.statusCode, 409, mixed.body);
    assert.equal(mixed.json().code, 'E_TX_NONCE');
    assert.equal(c.ledger.size, size);
  });

  test('a retry that comes after the clock window is still its entry; a set of one logged transaction twice is no retry', async () => {
    const tx = dso.sign('meter.readings', { meter: '30001234567890', direction: 'import', date: '2026-01-24', values: day(24, 300) });
    const first = await post('/v1/transactions', tx);
    assert.equal(first.statusCode, 201, first.body);
    clock += 10 * 60_000;
    try {
      const late = await post('/v1/transactions', tx);
      assert.equal(late.statusCode, 200, late.body);
      assert.equal(late.json().entry, first.json().entry);
    } finally {
      clock -= 10 * 60_000;
    }
    const twice = await post('/v1/transactions/batch', { transactions: [tx, tx] });
    assert.notEqual(twice.statusCode, 200, twice.body);
  });

  test('after a restart, a retry is found in the log itself', async () => {
    const tx = dso.sign('meter.readings', { meter: '30001234567890', direction: 'export', date: '2026-01-20', values: day(20, 50) });
    const first = await post('/v1/transactions', tx);
    assert.equal(first.statusCode, 201, first.body);
    await app.close();
    await c.ledger.close();
    const reopened = SqliteLedger.open(c.path, { writer: true });
    c.ledger = reopened;
    app = await start(reopened);
    const again = await post('/v1/transactions', tx);
    assert.equal(again.statusCode, 200, again.body);
    assert.equal(again.json().entry, first.json().entry);
    assert.equal((await verifyLog(reopened, reopened.registry)).ok, true);
  });
});
