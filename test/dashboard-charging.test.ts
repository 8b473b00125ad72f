import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { planChargingSettle } from '../src/charging/roaming.ts';
import { serve } from '../src/cli/serve.ts';
import { chargingCommunity, ok, simpleCdr, token } from './support/charging.ts';
import { findChromium } from './support/chromium.ts';
import { dashboardPages, type ViewPage } from './support/dashboard.ts';

/**
 * The EV charging views in chromium, over Charge Lane (test/support/charging.ts) with
 * three March sessions (A1 and C1 of NL*TST, B1 of DE*EMS; card A linked to alice) and
 * March settled: the CPO's month and a driver's own sessions.
 */
/** axe-core's engine, injected into the page. */
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const SHOTS = join(import.meta.dirname, '..', 'test-artifacts', 'browser');
const NOW = Date.parse('2025-04-01T09:00:00Z');

describe('dashboard: EV charging in chromium', () => {
  let server: Awaited<ReturnType<typeof serve>>;
  let browser: Browser;
  const cdrs = {
    A1: simpleCdr('A1', '2025-03-20T07:00:00Z', 60, 11, 0, 'CARD-A', 'NL*TST'),
    B1: simpleCdr('B1', '2025-03-20T20:30:00Z', 90, 20, 150, 'CARD-B', 'DE*EMS', 'LANE-1-2'),
    C1: simpleCdr('C1', '2025-03-21T08:00:00Z', 45, 7.5, 0, 'CARD-C', 'NL*TST'),
  };

  const { ready, login } = dashboardPages(() => browser, () => server.url, NOW);
  /** A desktop page at NOW, in an en-GB browser (uPlot reads navigator.language, which a bare headless chromium sets to en-US@posix under LANG=C). */
  const open = async (hash: string): Promise<ViewPage> => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB', bypassCSP: true });
    await ctx.clock.install({ time: NOW });
    const page = (await ctx.newPage()) as ViewPage;
    page.errors = [];
    page.on('pageerror', (e) => page.errors.push(e.message));
    await page.goto(`${server.url}/${hash}`);
    return page;
  };
  const euros = (micro: number) => `${(micro / 1e6).toFixed(2)} EUR`;

  /** What the API answers, asked from the page with its session's token. */
  const apiIn = <T>(page: Page, path: string) => page.evaluate(`(async () => {
    const s = sessionStorage.getItem('openlec.session');
    const res = await fetch(${JSON.stringify(path)}, { headers: s ? { authorization: 'Bearer ' + JSON.parse(s).token } : {} });
    return res.json();
  })()`) as Promise<T>;

  /** axe-core's serious and critical violations on the page (the charts drawn, with their text alternatives and data tables). */
  const axe = async (page: Page) => {
    await page.addScriptTag({ path: AXE });
    const found = await page.evaluate(`axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, at: v.nodes.map((n) => n.target.join(' ')).slice(0, 3) })))`) as { id: string; impact: string; at: string[] }[];
    return found.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  };

  before(async () => {
    assert.ok(existsSync(join(import.meta.dirname, '..', 'web', 'dist', 'index.html')), 'the dashboard is built by `npm run build`');
    mkdirSync(SHOTS, { recursive: true });
    const dir = mkdtempSync(join(tmpdir(), 'openlec-charging-'));
    const c = await chargingCommunity(join(dir, 'log.db'));
    c.at('2025-03-22T12:00:00Z');
    for (const x of Object.values(cdrs)) await ok(c.ledger, c.cpo.sign('charging.cdr', { cdr: x.cdr }));
    await ok(c.ledger, c.cpo.sign('charging.driver', { token: token('CARD-A').uid, member: c.alice.actor }));
    c.at('2025-04-01T08:00:00Z');
    await ok(c.ledger, c.operator.sign('charging.settle', { month: '2025-03', lines: planChargingSettle(c.ledger.state, '2025-03') }));
    await c.ledger.close();
    server = await serve({ db: c.path, dir, port: 0, host: '127.0.0.1', tick: 600, now: () => NOW });
    const found = await findChromium();
    browser = await chromium.launch({ executablePath: found.executablePath, headless: true, args: found.args });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test('the CPO sees its month: sessions, energy, revenue, daily kWh by eMSP and the settlement per eMSP', async () => {
    const page = await open('#/charging');
    await login(page, 'cpo');
    await ready(page, 'charging');
    assert.equal(await page.textContent('#charging-sessions'), '3');
    assert.equal(await page.textContent('#charging-energy'), '38.5');
    assert.equal(await page.textContent('#charging-revenue'), euros(cdrs.A1.priced.total.excl + cdrs.B1.priced.total.excl + cdrs.C1.priced.total.excl));
    // 20 March: A1 (NL*TST) and B1 (DE*EMS, 21:30 local); 21 March: C1.
    // The daily chart draws the API's CDRs: each local day of March, the kWh of each eMSP's sessions that started that day.
    const api = await apiIn<{ emsp: string; start: string; month: string; importWh: number }[]>(page, '/v1/charging/cdrs');
    const { timeZone } = await apiIn<{ timeZone: string }>(page, '/v1/community');
    const day = (iso: string) => new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(iso));
    const emsps = [...new Set(api.map((r) => r.emsp))].sort();
    assert.deepEqual(emsps, ['DE*EMS', 'NL*TST']);
    await page.waitForSelector('figure#chart-charging-daily[data-drawn]');
    assert.equal(await page.getAttribute('figure#chart-charging-daily', 'data-drawn'), String(31 * emsps.length), 'every day of March, each eMSP (a day without a session is zero)');
    const table = await page.$eval('figure#chart-charging-daily details table', (t) => ({
      head: [...t.querySelectorAll('thead th')].map((x) => x.textContent ?? ''),
      rows: [...t.querySelectorAll('tbody tr')].map((r) => [...r.children].map((x) => x.textContent ?? '')),
    }));
    assert.deepEqual(table.head, ['time', 'DE*EMS (kWh)', 'NL*TST (kWh)']);
    assert.equal(table.rows.length, 31);
    table.rows.forEach((row, i) => {
      const date = `2025-03-${String(i + 1).padStart(2, '0')}`;
      assert.match(row[0]!, new RegExp(`\\b${i + 1} Mar\\b`));
      emsps.forEach((e, j) => {
        const wh = api.filter((r) => r.month === '2025-03' && r.emsp === e && day(r.start) === date).reduce((t, r) => t + r.importWh, 0);
        assert.ok(Math.abs(Number(row[j + 1]) - wh / 1000) <= 0.05 + 1e-9, `${date} ${e}: ${row[j + 1]} kWh drawn, ${wh} Wh in the CDRs`);
      });
    });
    // 20 March: A1 (NL*TST) and B1 (DE*EMS, 21:30 local); 21 March: C1.
    assert.deepEqual([table.rows[19]!.slice(1), table.rows[20]!.slice(1)], [['20.0', '11.0'], ['0.0', '7.5']]);
    const lines = await page.$$eval('#charging-settlement tbody tr', (rows) => rows.map((r) => r.textContent));
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /FR\*OLC.*DE\*EMS.*EUR/);
    assert.match((await page.textContent('section:has(#charging-settlement) h2'))!, /settled, entry \d+/);
    assert.equal(await page.$$eval('#charging-cdrs tbody tr', (r) => r.length), 3);
    assert.equal(await page.$$eval('#charging-months tbody tr', (r) => r.length), 1);
    assert.ok(await page.$('nav a[href="#/charging"].active'));
    assert.deepEqual(await axe(page), [], 'no serious or critical axe-core violation');
    await page.screenshot({ path: join(SHOTS, 'charging.png'), fullPage: true });
    assert.deepEqual(page.errors, []);
  });

  test('a driver sees their own sessions only, with cost and local share', async () => {
    const page = await open('#/charging-mine');
    await login(page, 'alice');
    await ready(page, 'charging-mine');
    assert.equal(await page.textContent('#mine-sessions'), '1');
    assert.equal(await page.textContent('#mine-energy'), '11.0');
    assert.equal(await page.textContent('#mine-cost'), euros(cdrs.A1.priced.total.incl!));
    assert.equal(await page.textContent('#mine-local'), '–');
    assert.equal(await page.$$eval('#mine-cdrs tbody tr', (r) => r.length), 1);
    await page.screenshot({ path: join(SHOTS, 'charging-mine.png'), fullPage: true });
    // The same member on the CPO's view: their one session, and no settlement (an eMSP's or CPO's business).
    await page.goto(`${server.url}/#/charging`);
    await ready(page, 'charging');
    assert.equal(await page.textContent('#charging-sessions'), '1');
    assert.equal(await page.$('#charging-settlement'), null);
    assert.deepEqual(page.errors, []);
  });
});
