import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { serve } from '../src/cli/serve.ts';
import { findChromium } from './support/chromium.ts';

/**
 * API keys in chromium, against the live demo: a member issues a key in the page (the
 * secret made by the browser, only its digest signed), the bearer is shown once and works
 * from outside the page (GET /v1/me names it), is rotated with no overlap (the old one
 * stops, the new one works), the new one is revoked (refused at once), and the list shows
 * each key's status; the operator sees the member's keys; a wrong value names its field.
 */
const SHOTS = join(import.meta.dirname, '..', 'test-artifacts', 'browser');
const BEARER = /^olk_([0-9a-f]{16})_[A-Za-z0-9_-]{43}$/;

describe('dashboard: API keys in chromium', () => {
  let server: Awaited<ReturnType<typeof serve>>;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  const open = async (hash: string): Promise<Page & { errors: string[] }> => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB' });
    contexts.push(ctx);
    const page = (await ctx.newPage()) as Page & { errors: string[] };
    page.errors = [];
    page.on('pageerror', (e) => page.errors.push(e.message));
    await page.goto(`${server.url}/${hash}`);
    return page;
  };
  const ready = (page: Page) => page.waitForSelector('body[data-ready="api-keys"]', { timeout: 30_000 });
  const login = async (page: Page, role: string) => {
    await page.waitForSelector('#login-form');
    await page.fill('#login-form textarea', server.logins[role]!.secretKey);
    await page.click('#login-form button');
  };
  /** GET /v1/me from outside the page, with an API key as the bearer. */
  const me = async (bearer: string) => {
    const res = await fetch(`${server.url}/v1/me`, { headers: { authorization: `Bearer ${bearer}` } });
    return { status: res.status, body: await res.json() as { key?: string; roles?: string[]; apiKey?: string; field?: string } };
  };
  const size = async () => (await (await fetch(`${server.url}/v1/community`)).json() as { size: number }).size;
  /** sign confirms the open dialog and returns the transaction it showed. */
  const sign = async (page: Page) => {
    await page.waitForSelector('#sign-dialog[open]');
    const shown = (await page.textContent('#sign-tx'))!;
    await page.click('#sign-confirm');
    await page.waitForSelector('#sign-dialog', { state: 'detached', timeout: 30_000 });
    return { text: shown, tx: JSON.parse(shown) as { type: string; actor: string; body: Record<string, unknown> } };
  };
  /** The rows of the keys table, by id: [owner, roles, status, issued, expires, rotated to, revoked]. */
  const rows = (page: Page) => page.$$eval('#api-keys-table tbody tr', (trs) => Object.fromEntries(trs.map((tr) => {
    const cells = [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '');
    return [cells[0]!.slice(0, 16), cells.slice(1)];
  })));

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    server = await serve({ demo: true, dir: mkdtempSync(join(tmpdir(), 'openlec-api-keys-')), port: 0, host: '127.0.0.1', tick: 600 });
    const found = await findChromium();
    browser = await chromium.launch({ executablePath: found.executablePath, headless: true, args: found.args });
  });
  after(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await server?.close();
  });

  test('a member issues a key, uses it from outside the page, rotates it and revokes the new one', async () => {
    const page = await open('#/api-keys');
    await login(page, 'member');
    await ready(page);
    assert.ok(await page.$('nav a[href="#/api-keys"][aria-current="page"]'), 'the navigation names the view');
    assert.ok(await page.$('#api-keys-empty'), 'no key yet');
    assert.deepEqual(await page.$$eval('#api-key-issue-form input[name="roles"]', (xs) => xs.map((x) => (x as unknown as { value: string }).value)), ['member'], 'roles offered: the session\'s');
    assert.equal(await page.inputValue('#api-key-issue-form input[name="days"]'), '365');

    // A wrong value is refused in the page, naming the field; nothing is signed.
    const before = await size();
    await page.fill('#api-key-issue-form input[name="days"]', '401');
    await page.click('#api-key-issue-submit');
    await page.waitForSelector('#api-key-issue-form .action-status.error');
    assert.match((await page.textContent('#api-key-issue-form .action-status'))!, /^days: a whole number from 1 to 400/);
    assert.equal(await page.$('#sign-dialog'), null);

    // Issue: only the digest is signed; the bearer is shown once.
    await page.fill('#api-key-issue-form input[name="days"]', '30');
    await page.click('#api-key-issue-submit');
    const issue = await sign(page);
    assert.equal(issue.tx.type, 'apikey.issue');
    assert.equal(issue.tx.actor, server.logins.member!.key);
    assert.deepEqual(Object.keys(issue.tx.body).sort(), ['digest', 'expiresAt', 'id', 'roles']);
    assert.deepEqual(issue.tx.body.roles, ['member']);
    await ready(page);
    await page.waitForSelector('#api-key-bearer');
    const first = await page.inputValue('#api-key-bearer');
    assert.match(first, BEARER);
    const idA = BEARER.exec(first)![1]!;
    assert.equal(issue.tx.body.id, idA);
    assert.ok(!issue.text.includes(first.slice(21)), 'the secret is not in the signed transaction');
    assert.equal(await page.getAttribute('#api-key-bearer', 'readonly'), '');
    assert.match((await page.textContent('#api-key-warning'))!, /not shown again/);
    assert.equal(await size(), before + 1);
    await page.screenshot({ path: join(SHOTS, 'api-keys-issued.png'), fullPage: true });

    const a = await me(first);
    assert.equal(a.status, 200);
    assert.equal(a.body.apiKey, idA);
    assert.equal(a.body.key, server.logins.member!.key);
    assert.deepEqual(a.body.roles, ['member']);
    assert.equal((await rows(page))[idA]![2], 'live');

    // Drawn again, the view does not show the bearer a second time.
    await page.click('nav a[href="#/market"]');
    await page.waitForSelector('body[data-ready="market"]', { timeout: 30_000 });
    await page.click('nav a[href="#/api-keys"]');
    await ready(page);
    assert.equal(await page.$('#api-key-bearer'), null, 'the bearer is shown once');
    assert.equal(await page.inputValue('#api-key-rotate-form input[name="overlap"]'), '24');

    // Rotate with no overlap: the old key stops, the new one works.
    await page.selectOption('#api-key-rotate-form select[name="id"]', idA);
    await page.fill('#api-key-rotate-form input[name="overlap"]', '0');
    await page.click('#api-key-rotate-submit');
    const rotate = await sign(page);
    assert.equal(rotate.tx.type, 'apikey.rotate');
    assert.equal(rotate.tx.body.id, idA);
    assert.equal(rotate.tx.body.overlapSeconds, 0);
    await ready(page);
    await page.waitForSelector('#api-key-bearer');
    const second = await page.inputValue('#api-key-bearer');
    assert.match(second, BEARER);
    assert.notEqual(second, first);
    const idB = BEARER.exec(second)![1]!;
    assert.equal((rotate.tx.body.next as { id: string }).id, idB);
    assert.equal((await me(first)).status, 401, 'the rotated key stops at once with no overlap');
    const b = await me(second);
    assert.equal(b.status, 200);
    assert.equal(b.body.apiKey, idB);
    const rotatable = await page.$$eval('#api-key-rotate-form select[name="id"] option', (os) => os.map((o) => (o as unknown as { value: string }).value));
    assert.deepEqual(rotatable, [idB], 'the rotated key is not offered again; its successor is');

    // Revoke the new one: refused at once.
    await page.selectOption('#api-key-revoke-form select[name="id"]', idB);
    await page.selectOption('#api-key-revoke-form select[name="reason"]', 'retired');
    await page.click('#api-key-revoke-submit');
    const revoke = await sign(page);
    assert.equal(revoke.tx.type, 'apikey.revoke');
    assert.deepEqual(revoke.tx.body, { id: idB, reason: 'retired' });
    await ready(page);
    const refused = await me(second);
    assert.equal(refused.status, 401);
    assert.equal(refused.body.field, 'authorization');
    assert.equal(await size(), before + 3);

    const listed = await rows(page);
    assert.equal(listed[idA]![2], 'expired');
    assert.equal(listed[idA]![5], idB, 'rotated to the new key');
    assert.equal(listed[idB]![2], 'revoked');
    assert.match(listed[idB]![6]!, new RegExp(`^retired \\(entry ${before + 2}\\)$`));
    assert.match(listed[idB]![3]!, new RegExp(`\\(entry ${before + 1}\\)$`));
    await page.screenshot({ path: join(SHOTS, 'api-keys-member.png'), fullPage: true });
    assert.deepEqual(page.errors, []);

    // The operator sees every key, the member's too, and may revoke any that is not revoked.
    const op = await open('#/api-keys');
    await login(op, 'operator');
    await ready(op);
    const all = await rows(op);
    assert.equal(all[idA]![2], 'expired');
    assert.equal(all[idB]![2], 'revoked');
    const offered = await op.$$eval('#api-key-revoke-form select[name="id"] option', (os) => os.map((o) => (o as unknown as { value: string }).value));
    assert.ok(offered.includes(idA) && !offered.includes(idB));
    assert.deepEqual(op.errors, []);
  });
});
