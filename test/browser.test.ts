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

describe('dashboard in chromium', () => {
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
    server = await serve({ demo: true, dir: mkdtempSync(join(tmpdir(), 'openlec-web-')), port: 0, host: '127.0.0.1', tick: 600 });
    const found = await findChromium();
    browser = await chromium.launch({ executablePath: found.executablePath, headless: true, args: found.args });
  });
  after(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await server?.close();
  });

  test('the community and market views load with their charts drawn', async () => {
    const page = await open('#/');
    await ready(page, 'community');
    assert.ok(await drawn(page, 'chart-community-energy') >= 3, 'energy chart has drawn, fed-in and shared lines');
    assert.ok(await drawn(page, 'chart-community-flows') >= 3, 'flows chart has three bars');
    assert.match(await page.textContent('#kpi-self-sufficiency') ?? '', /^\d+\.\d %$/);
    const drawnKwh = Number((await page.textContent('#kpi-drawn'))!.replace(' kWh', ''));
    assert.ok(drawnKwh > 100, `a week of 39 homes draws more than 100 kWh (got ${drawnKwh})`);
    await shot(page, 'community');

    await page.click('nav a[href="#/market"]');
    await ready(page, 'market');
    assert.ok(await drawn(page, 'chart-market-price') >= 1);
    assert.ok(await drawn(page, 'chart-market-volume') >= 1);
    assert.ok(await drawn(page, 'chart-market-depth') >= 2, 'depth has a supply and a demand curve');
    assert.ok(await page.$$eval('#clearings tbody tr', (r) => r.length) > 0);
    await shot(page, 'market');
    assert.deepEqual((page as Page & { errors: string[] }).errors, []);
  });

  test('the ledger explorer: auditors see entries; consistency between checkpoints is checked in the browser', async () => {
    const page = await open('#/ledger');
    await ready(page, 'ledger');
    assert.equal(await page.$('#entries'), null, 'no entries without a staff login');
    await page.click('#who a');
    await login(page, 'auditor');
    await ready(page, 'me');
    await page.goto(`${server.url}/#/ledger`);
    await ready(page, 'ledger');
    assert.equal(await page.$$eval('#entries tbody tr', (r) => r.length), 50);
    assert.ok(await page.$$eval('#checkpoints tbody tr', (r) => r.length) >= 1);
    await page.click('#consistency-form button');
    await page.waitForSelector('#consistency-result.ok, #consistency-result.fail');
    assert.match((await page.textContent('#consistency-result'))!, /^Consistent/);
    await shot(page, 'ledger');
  });

  test('the operator sees every member\'s allocation and downloads the DSO coefficient file', async () => {
    const page = await open('#/allocation');
    await login(page, 'operator');
    await ready(page, 'allocation');
    assert.ok(await drawn(page, 'chart-allocation') >= 10, 'a bar per member');
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('button[data-file="coefficients-fr.csv"]')]);
    const path = await dl.path();
    const { readFileSync } = await import('node:fs');
    const csv = readFileSync(path, 'utf8');
    assert.match(dl.suggestedFilename(), /^coefficients-fr-\d{4}-\d{2}\.csv$/);
    assert.ok(csv.split('\n').length > 48, 'a row per interval and member');
    await shot(page, 'allocation');
  });

  test('works on a phone-sized screen', async () => {
    for (const view of ['', 'market']) {
      const page = await open(`#/${view}`, { width: 390, height: 844 });
      await ready(page, view || 'community');
      // Evaluated in the page: the DOM's globals, typed loosely here.
      const overflow = await page.evaluate(() => { const g = globalThis as unknown as { document: { documentElement: { scrollWidth: number } }; innerWidth: number }; return g.document.documentElement.scrollWidth - g.innerWidth; });
      assert.ok(overflow <= 0, `#/${view} scrolls sideways by ${overflow} px on a phone`);
      const chartWidth = await page.$eval('svg.chart', (s) => s.getBoundingClientRect().width);
      assert.ok(chartWidth <= 390 && chartWidth > 300, `charts fit the screen (${chartWidth} px)`);
      await shot(page, `phone-${view || 'community'}`);
    }
  });
});
