import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { buildApp } from '../src/server/app.ts';
import { PersonalVault } from '../src/server/vault.ts';
import { findChromium } from './support/chromium.ts';
import { smallCommunity } from './support/community.ts';

/** /docs renders the OpenAPI document in a browser, from the server's own files, under its CSP. */
test('the API reference at /docs renders every operation of /openapi.json, with no script from elsewhere and no CSP violation', { timeout: 120_000 }, async () => {
  const c = await smallCommunity();
  const vault = PersonalVault.open(join(c.path, '..', 'personal.db'), randomBytes(32));
  const { app } = await buildApp({ ledger: c.ledger, vault, tokenSecret: randomBytes(32) });
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  const found = await findChromium();
  const browser = await chromium.launch({ executablePath: found.executablePath, headless: true, args: found.args });
  try {
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as { paths: Record<string, Record<string, { operationId?: string }>> };
    const METHODS = new Set(['get', 'put', 'post', 'delete', 'patch']);
    const operations = Object.values(doc.paths).flatMap((m) => Object.entries(m).filter(([k]) => METHODS.has(k)));
    const page = await browser.newPage();
    const problems: string[] = [];
    const foreign: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('request', (r) => {
      if (!r.url().startsWith(base) && !r.url().startsWith('data:')) foreign.push(r.url());
    });
    const res = await page.goto(`${base}/docs`);
    assert.equal(res?.status(), 200);
    assert.match(res?.headers()['content-security-policy'] ?? '', /script-src 'self'/);
    // An operation is shown under each of its tags: count distinct method and path.
    const distinct = () => page.evaluate("new Set([...document.querySelectorAll('.opblock')].map((o) => o.querySelector('.opblock-summary-method')?.textContent + ' ' + o.querySelector('.opblock-summary-path')?.getAttribute('data-path'))).size") as Promise<number>;
    let shown = 0;
    for (let i = 0; i < 600 && shown < operations.length; i++) {
      shown = await distinct();
      if (shown < operations.length) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(shown, operations.length, 'every operation shown');
    const text = await page.textContent('#swagger-ui');
    for (const id of ['submitTransaction', 'getCommunity', 'listMeters']) assert.ok(text?.includes(id), `${id} shown`);
    assert.deepEqual(foreign, [], 'nothing fetched from another origin');
    assert.deepEqual(problems.filter((p) => /Content Security Policy|Refused/.test(p)), []);
  } finally {
    await browser.close();
    await app.close();
    vault.close();
    await c.ledger.close();
  }
});
