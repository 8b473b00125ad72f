import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import type { OriginHour } from '../src/certificates/reports.ts';
import { serve } from '../src/cli/serve.ts';
import { findChromium } from './support/chromium.ts';
import { dashboardPages, type ViewPage } from './support/dashboard.ts';

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

  const { ready } = dashboardPages(() => browser, () => server.url, NOW);
  /** A desktop page at NOW, in an en-GB browser (uPlot reads navigator.language, which a bare headless chromium sets to en-US@posix under LANG=C). */
  const open = async (hash: string): Promise<ViewPage> => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB' });
    await ctx.clock.install({ time: NOW });
    const page = (await ctx.newPage()) as ViewPage;
    page.errors = [];
    page.on('pageerror', (e) => page.errors.push(e.message));
    await page.goto(`${server.url}/${hash}`);
    return page;
  };
  const json = async <T>(path: string) => (await (await fetch(`${server.url}${path}`)).json()) as T;
  /** What the API answers, asked from the page with its session's token. */
  const apiIn = <T>(page: Page, path: string) => page.evaluate(`(async () => {
    const s = sessionStorage.getItem('openlec.session');
    const res = await fetch(${JSON.stringify(path)}, { headers: s ? { authorization: 'Bearer ' + JSON.parse(s).token } : {} });
    return res.json();
  })()`) as Promise<T>;
  /** A chart's data table (plot.ts: the figure's text alternative), once uPlot has drawn it: header, rows and how many values it drew. */
  const chartTable = async (page: Page, id: string) => ({
    drawn: Number(await page.getAttribute(`figure#${id}[data-drawn]`, 'data-drawn', { timeout: 10_000 })),
    ...await page.$eval(`figure#${id} details table`, (t) => ({
      head: [...t.querySelectorAll('thead th')].map((x) => x.textContent ?? ''),
      rows: [...t.querySelectorAll('tbody tr')].map((r) => [...r.children].map((x) => x.textContent ?? '')),
    })),
  });

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
    // The chart draws the API's hours: one row per local hour, each technology's claimed kWh and the rest from the grid, to the Wh.
    const o = await apiIn<{ hours: OriginHour[] }>(page, '/v1/certificates/origin?month=2026-05');
    const techs = [...new Set(o.hours.flatMap((h) => Object.keys(h.byTechnology)))].sort();
    assert.ok(techs.includes('solar'), `some hours matched by solar certificates (${techs.join(', ')})`);
    const chart = await chartTable(page, 'chart-origin');
    assert.deepEqual(chart.head, ['time', ...techs.map((t) => `matched by ${t} certificates (kWh)`), 'from the grid (no certificate) (kWh)']);
    assert.equal(chart.rows.length, o.hours.length);
    assert.equal(chart.drawn, o.hours.length * (techs.length + 1), 'every value drawn');
    const kwh3 = (wh: number) => (wh / 1000).toFixed(3);
    assert.deepEqual(chart.rows.map((r) => r.slice(1).map((v) => v.replace(/,/g, ''))), o.hours.map((h) => [...techs.map((t) => kwh3(h.byTechnology[t] ?? 0)), kwh3(Math.max(0, h.consumedWh - h.matchedWh))]));
    // In the community's time zone: May begins at local midnight (22:00 UTC on 30 April).
    assert.match(chart.rows[0]![0]!, /1 May.*00:00/);
    assert.ok(o.hours.filter((h) => h.consumedWh > 0).length > 24, 'hours of consumption drawn');
    assert.ok(o.hours.some((h) => (h.byTechnology.solar ?? 0) > 0));
    const rows = await page.$$eval('#my-bundles tbody tr', (r) => r.length);
    assert.ok(rows > 0, 'the member holds claimed certificates');
    await page.click('#my-bundles button.prove');
    await page.waitForSelector('#proof-0[data-done]', { timeout: 30_000 });
    assert.equal(await page.getAttribute('#proof-0', 'data-done'), 'ok', (await page.textContent('#proof-0'))!);
    assert.match((await page.textContent('#proof-0'))!, /✓ \d+/);
    await page.evaluate('scrollTo(0, 0)');
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
