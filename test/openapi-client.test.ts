import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import openapiTS from 'openapi-typescript';
import { OpenlecClient } from '../src/api/client.ts';
import { buildApp } from '../src/server/app.ts';
import { PersonalVault } from '../src/server/vault.ts';
import { seededKey, smallCommunity } from './support/community.ts';

const TSC = join(import.meta.dirname, '..', 'node_modules', '.bin', 'tsc');

/** tsc over the files of `dir`: its output, and whether it passed. */
function typecheck(dir: string, files: string[]): { ok: boolean; out: string } {
  try {
    execFileSync(TSC, ['--noEmit', '--strict', '--skipLibCheck', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', ...files], { cwd: dir, stdio: 'pipe', encoding: 'utf8' });
    return { ok: true, out: '' };
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string };
    return { ok: false, out: `${x.stdout ?? ''}${x.stderr ?? ''}` };
  }
}

/**
 * An integrator's check: types generated from /openapi.json by a standard generator
 * (openapi-typescript) hold the server's real answers. Every GET that needs no path
 * parameter and no query is asked (as the operator), and a write is made; each answer is
 * written as a literal of its operation's generated type, and tsc must accept them all.
 */
test('a client generated from /openapi.json by openapi-typescript type-checks against real responses', { timeout: 120_000 }, async () => {
  const c = await smallCommunity();
  const vault = PersonalVault.open(join(c.path, '..', 'personal.db'), randomBytes(32));
  const { app } = await buildApp({ ledger: c.ledger, vault, tokenSecret: randomBytes(32), txClock: () => Date.parse('2026-02-10T12:00:00Z') });
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as { paths: Record<string, Record<string, { operationId: string; parameters?: { in: string; required?: boolean }[] }>> };
    const dir = mkdtempSync(join(tmpdir(), 'openlec-openapi-'));
    writeFileSync(join(dir, 'api.ts'), await openapiTS(doc as never));
    const operator = new OpenlecClient(base, { key: seededKey('operator') });
    await operator.login();
    const answers: { op: string; status: number; body: unknown }[] = [];
    for (const [path, methods] of Object.entries(doc.paths)) {
      const get = methods.get;
      if (!get || path.includes('{') || (get.parameters ?? []).some((p) => p.required) || path === '/v1/events') continue;
      const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${(operator as unknown as { token: string }).token}` } });
      if (res.status !== 200 || !res.headers.get('content-type')?.startsWith('application/json')) continue;
      answers.push({ op: get.operationId, status: 200, body: await res.json() });
    }
    const dso = new OpenlecClient(base, { key: seededKey('dso'), issuedAt: () => Date.parse('2026-02-10T12:00:00Z') });
    const { tx: _tx, ...written } = await dso.transact('feeder.define', { id: 'generated-client', parent: 'substation-1' });
    answers.push({ op: 'submitTransaction', status: 201, body: written });
    assert.ok(answers.length >= 12, `${answers.length} operations answered`);
    const check = (list: typeof answers) => [
      "import type { operations } from './api.js';",
      "type Body<O extends keyof operations, S extends number> = operations[O] extends { responses: infer R } ? S extends keyof R ? R[S] extends { content: { 'application/json': infer B } } ? B : never : never : never;",
      ...list.map((a, i) => `export const answer${i}: Body<'${a.op}', ${a.status}> = ${JSON.stringify(a.body)};`),
    ].join('\n');
    writeFileSync(join(dir, 'check.ts'), check(answers));
    const good = typecheck(dir, ['api.ts', 'check.ts']);
    assert.ok(good.ok, good.out.slice(0, 3000));
    // The check can fail: the community's size as text is not what the document promises.
    const community = answers.find((a) => a.op === 'getCommunity')!;
    writeFileSync(join(dir, 'bad.ts'), check([{ ...community, body: { ...(community.body as object), size: 'many' } }]));
    const bad = typecheck(dir, ['api.ts', 'bad.ts']);
    assert.equal(bad.ok, false);
    assert.match(bad.out, /bad.ts.*'string' is not assignable to type 'number'/);
    console.log(`openapi-typescript: ${answers.length} operations' real answers type-check (${answers.map((a) => a.op).join(', ')})`);
  } finally {
    await app.close();
    vault.close();
    await c.ledger.close();
  }
});
