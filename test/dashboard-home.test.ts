import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { serve } from '../src/cli/serve.ts';
import { findChromium } from './support/chromium.ts';

/**
 * The dashboard in a real browser: chromium (CHROMIUM_PATH, the system's, or the one inside
 * the npm package @sparticuz/chromium; see support/chromium.ts) driven by playwright-core, against
 * the live demo served by `openlec serve --demo` (started in-process on a free port).
 * Screenshots are kept in test-artifacts/browser/. `npm test` builds the dashboard first.
 */
const SHOTS = join(import.meta.dirname, '..', 'test-artifacts', 'browser');

describe('dashboard: a member\'s home in chromium', () => {
  let server: Awaited<ReturnType<typeof serve>>;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  const open = async (hash: string, viewport = { width: 1280, height: 900 }): Promise<Page> => {
    const ctx = await browser.newContext({ viewport });
    contexts.push(ctx);
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error' && !/status of 40[13]/.test(m.text())) errors.push(m.text()); });
    await page.goto(`${server.url}/${hash}`);
    (page as Page & { errors: string[] }).errors = errors;
    return page;
  };
  const ready = (page: Page, view: string) => page.waitForSelector(`body[data-ready="${view}"]`, { timeout: 20_000 });
  const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const login = async (page: Page, role: string) => {
    await page.waitForSelector('#login-form');
    await page.fill('#login-form textarea', server.logins[role]!.secretKey);
    await page.click('#login-form button');
  };
  /** A chart is drawn when its SVG holds at least one path with points. */
  const drawn = async (page: Page, id: string) => page.$eval(`svg#${id}`, (svg) => [...svg.querySelectorAll('path')].filter((p) => (p.getAttribute('d') ?? '').length > 20).length
    + [...svg.querySelectorAll('rect')].filter((r) => Number(r.getAttribute('width')) > 0).length);

  before(async () => {
    assert.ok(existsSync(join(import.meta.dirname, '..', 'web', 'dist', 'index.html')), 'the dashboard is built by `npm run build` (npm test does it first)');
    mkdirSync(SHOTS, { recursive: true });
    // A slow tick: the views stay still while the test reads them.
    server = await serve({ demo: true, dir: mkdtempSync(join(tmpdir(), 'openlec-home-')), port: 0, host: '127.0.0.1', tick: 600 });
    const found = await findChromium();
    browser = await chromium.launch({ executablePath: found.executablePath, headless: true, args: found.args });
  });
  after(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await server?.close();
  });

  test('a member logs in with their key and sees only their own data', async () => {
    const page = await open('#/me');
    await login(page, 'member');
    await ready(page, 'me');
    const member = server.logins.member!.key;
    assert.equal(await page.textContent('#my-key'), member);
    assert.ok(await drawn(page, 'chart-my-load') >= 1, 'own load curve drawn');
    assert.ok(await page.$$eval('#my-invoice tbody tr', (r) => r.length) > 0, 'own invoice shown');
    // What the page shows is the member's own meters, and the API refuses another member's data to this session.
    // (A plain function body: tsx would wrap named inner functions in a helper the page lacks.)
    const r = await page.evaluate(async (others) => {
      const auth = { headers: { authorization: `Bearer ${(JSON.parse((globalThis as unknown as { sessionStorage: { getItem(k: string): string } }).sessionStorage.getItem('openlec.session')) as { token: string }).token}` } };
      const me = await (await fetch('/v1/me', auth)).json() as { meters: { meter: string }[] };
      const statuses: number[] = [];
      for (const k of others) statuses.push((await fetch(`/v1/members/${k}/curves?from=2000-01-01&to=2100-01-01`, auth)).status);
      return { meters: me.meters.map((m) => m.meter), statuses, logStatus: (await fetch('/v1/log', auth)).status };
    }, [server.logins.operator!.key, server.logins.auditor!.key]);
    assert.deepEqual(r.statuses, [403, 403]);
    assert.equal(r.logStatus, 403, 'a member does not read the whole log');
    const shown = (await page.textContent('#my-meters'))!.split(', ');
    assert.deepEqual([...new Set(shown)].sort(), [...new Set(r.meters)].sort());
    await shot(page, 'member');

    // The allocation view shows the member their own allocation only.
    await page.click('nav a[href="#/allocation"]');
    await ready(page, 'allocation');
    const meters = await page.$$eval('#my-allocations tbody tr td:nth-child(3)', (tds) => tds.map((t) => t.textContent));
    assert.ok(meters.length > 0);
    assert.ok(meters.every((m) => r.meters.includes(m!)), `only own meters: ${meters.join(', ')}`);
  });

  test('"verify my records" checks proofs in the browser, and fails when a proof is tampered with', async () => {
    const page = await open('#/me');
    await login(page, 'member');
    await ready(page, 'me');
    await page.click('#verify');
    await page.waitForSelector('#verify-result.ok, #verify-result.fail', { timeout: 30_000 });
    const ok = (await page.textContent('#verify-result'))!;
    assert.match(ok, /^All \d+ records verified/);
    assert.ok(Number(/All (\d+)/.exec(ok)![1]) >= 6, 'readings and trades are checked');
    await shot(page, 'verify-ok');

    // The server (or anyone in between) alters the proofs: one hash of each audit path flipped.
    await page.route('**/v1/proofs/**', async (route) => {
      const res = await route.fetch();
      const p = await res.json() as { proof: string[] };
      const h = Buffer.from(p.proof[0]!, 'base64');
      h[0] = h[0]! ^ 1;
      p.proof[0] = h.toString('base64');
      await route.fulfill({ response: res, json: p });
    });
    await page.reload();
    await ready(page, 'me');
    await page.click('#verify');
    await page.waitForSelector('#verify-result.fail', { timeout: 30_000 });
    assert.match((await page.textContent('#verify-result'))!, /Verification FAILED for \d+ of \d+ records: .*not included in the checkpoint/);
    await shot(page, 'verify-tampered');
  });

  test('an altered reading shown by the server is caught against the signed log', async () => {
    const page = await open('#/me');
    await page.route('**/v1/members/*/curves*', async (route) => {
      const res = await route.fetch();
      const days = await res.json() as { values: (number | null)[] }[];
      const i = days[0]!.values.findIndex((v) => v !== null);
      days[0]!.values[i] = days[0]!.values[i]! + 1;
      await route.fulfill({ response: res, json: days });
    });
    await login(page, 'member');
    await ready(page, 'me');
    await page.click('#verify');
    await page.waitForSelector('#verify-result.fail', { timeout: 30_000 });
    assert.match((await page.textContent('#verify-result'))!, /differs from the log/);
  });

});
