import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import { serve } from '../src/cli/serve.ts';
import { findChromium } from './support/chromium.ts';
import { dashboardPages } from './support/dashboard.ts';

/**
 * The certificate views in chromium, against the live demo: served as of 3 June 2026, its
 * 7-day backfill covers the end of May, so May is a completed month that the demo
 * certifies and settles at start (devices, issuance, automatic claims for its member).
 */
const SHOTS = join(import.meta.dirname, '..', 'test-artifacts', 'browser');
const NOW = Date.UTC(2026, 5, 3, 10);

describe('dashboard: certificates of origin in chromium', () => {
  let server: Awaited<ReturnType<typeof serve>>;
  let browser: Browser;

  const { open, ready } = dashboardPages(() => browser, () => server.url, NOW);
  const json = async <T>(path: string) => (await (await fetch(`${server.url}${path}`)).json()) as T;

  before(async () => {
    assert.ok(existsSync(join(import.meta.dirname, '..', 'web', 'dist', 'index.html')), 'the dashboard is built by `npm run build`');
    mkdirSync(SHOTS, { recursive: true });
    server = await serve({ demo: true, dir: mkdtempSync(join(tmpdir(), 'openlec-certs-')), port: 0, host: '127.0.0.1', tick: 600, anchor: false, now: () => NOW });
    // The demo certifies at start and checkpoints every second: wait for May's settlement under a checkpoint.
    for (let i = 0; ; i++) {
      const months = await json<{ month: string; settledEntry: number | null }[]>('/v1/certificates/months');
      const c = await json<{ size: number }>('/v1/community');
      const cp = await json<{ size?: number }>('/v1/checkpoints/latest');
      if (months.some((m) => m.month === '2026-05' && m.settledEntry !== null) && cp.size === c.size) break;
      assert.ok(i < 240, `May was not settled: ${JSON.stringify(months)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const found = await findChromium();
    browser = await chromium.launch({ executablePath: found.executablePath, headless: true, args: found.args });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test('a demo member sees where their energy came from and proves their certificates in the browser', async () => {
    const page = await open('#/origin?month=2026-05');
    await page.waitForSelector('#login-form');
    await page.fill('#login-form textarea', server.logins.member!.secretKey);
    await page.click('#login-form button');
    await ready(page, 'origin');
    assert.match((await page.textContent('#origin-hourly'))!, /^\d+\.\d %$/);
    assert.match((await page.textContent('#origin-monthly'))!, /^\d+\.\d %$/);
    const bars = await page.$$eval('svg#chart-origin rect', (rs) => rs.filter((r) => Number(r.getAttribute('height')) > 0).length);
    assert.ok(bars > 24, `hourly bars drawn (${bars})`);
    assert.ok(await page.$$eval('svg#chart-origin rect[fill="#f39c12"]', (rs) => rs.length) > 0, 'some hours matched by solar certificates');
    const rows = await page.$$eval('#my-bundles tbody tr', (r) => r.length);
    assert.ok(rows > 0, 'the member holds claimed certificates');
    await page.click('#my-bundles button.prove');
    await page.waitForSelector('#proof-0[data-done]', { timeout: 30_000 });
    assert.equal(await page.getAttribute('#proof-0', 'data-done'), 'ok', (await page.textContent('#proof-0'))!);
    assert.match((await page.textContent('#proof-0'))!, /✓ \d+/);
    await page.screenshot({ path: join(SHOTS, 'origin.png'), fullPage: true });
    assert.deepEqual(page.errors, []);
  });

  test('the community\'s certificates are public: matching per month and the devices', async () => {
    const page = await open('#/certificates');
    await ready(page, 'certificates');
    assert.ok(await page.$$eval('svg#chart-matching rect', (rs) => rs.length) >= 2, 'hourly and monthly bars');
    assert.ok(await page.$$eval('#devices tbody tr', (r) => r.length) >= 9, 'the PV homes and the school');
    assert.ok((await page.$$eval('#matching tbody tr td:last-child', (tds) => tds.map((t) => t.textContent))).some((t) => t!.startsWith('entry ')));
    await page.screenshot({ path: join(SHOTS, 'certificates.png'), fullPage: true });
    assert.deepEqual(page.errors, []);
  });
});
