import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { populate, seededKey, tempDb } from '../../test/support/community.ts';
import { writeKeyFile } from '../node/key-file.ts';
import { buildApp } from '../server/app.ts';
import { PersonalVault } from '../server/vault.ts';
import { SqliteLedger } from '../store/sqlite-ledger.ts';
import { follow } from './follow.ts';

test('follow: a replica started before the operator signed its first checkpoint waits for it, then catches up; a single round refuses at once', async () => {
  const db = tempDb();
  const dir = join(db, '..');
  const ledger = SqliteLedger.create(db);
  await populate(ledger);
  const vault = PersonalVault.open(join(dir, 'personal.db'), randomBytes(32));
  // The operator's timer never ticks within the test: the checkpoint is signed below, when the test says.
  const { app } = await buildApp({ ledger, vault, tokenSecret: randomBytes(32), operatorKey: seededKey('operator'), checkpointEveryMs: 3_600_000 });
  const from = await app.listen({ port: 0, host: '127.0.0.1' });
  const key = join(dir, 'dso.key');
  writeKeyFile(key, seededKey('dso'));
  try {
    await assert.rejects(follow({ from, db: join(dir, 'once.db'), key, evidence: dir, every: 0 }), (e: Error & { code?: string }) => e.code === 'E_REMOTE' && /no checkpoint yet/.test(e.message));

    const lines: string[] = [];
    const replica = follow({ from, db: join(dir, 'replica.db'), key, evidence: dir, every: 0.05, log: (l) => lines.push(l) });
    const deadline = Date.now() + 10_000;
    while (!lines.some((l) => /has no checkpoint yet/.test(l))) {
      assert.ok(Date.now() < deadline, `the replica said it waits: ${lines.join(' | ')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await ledger.signCheckpoint(seededKey('operator'));
    const r = await replica;
    try {
      assert.equal(r.size, ledger.size);
      assert.equal(lines.filter((l) => /no checkpoint yet/.test(l)).length, 1, 'said once, not at every poll');
      assert.ok(lines.some((l) => new RegExp(`verified entries 0\\.\\.${ledger.size - 1}, checkpoint ${ledger.size}`).test(l)), lines.join(' | '));
    } finally {
      await r.close();
    }
  } finally {
    await app.close();
    vault.close();
    await ledger.close();
  }
});
