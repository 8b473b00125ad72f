import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import type { RequestInterval } from '../src/flex/reports.ts';
import { serve } from '../src/cli/serve.ts';
import { planFlexOrder } from '../src/flex/order.ts';
import { flexSettleBody, planFlexSettle } from '../src/flex/settle.ts';
import { findChromium } from './support/chromium.ts';
import { dashboardPages, type ViewPage } from './support/dashboard.ts';
import { congestedCommunity, meteredEvent, ok } from './support/flex.ts';

/**
 * The flexibility views in chromium, over a log where the DSO ordered flexibility for a
 * congestion at the substation (test/support/flex.ts), the day was metered and March
 * settled: the DSO's request view and the aggregator's earnings.
 */
/** axe-core's engine, injected into the page. */
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const SHOTS = join(import.meta.dirname, '..', 'test-artifacts', 'browser');
const NOW = Date.parse('2026-04-01T01:00:00Z');

describe('dashboard: flexibility in chromium', () => {
  let server: Awaited<ReturnType<typeof serve>>;
  let browser: Browser;

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

  /** What the API answers, asked from the page with its session's token. */
  const apiIn = <T>(page: Page, path: string) => page.evaluate(`(async () => {
    const s = sessionStorage.getItem('openlec.session');
    const res = await fetch(${JSON.stringify(path)}, { headers: s ? { authorization: 'Bearer ' + JSON.parse(s).token } : {} });
    return res.json();
  })()`) as Promise<T>;
  /** A chart's data table (plot.ts: the figure's text alternative), once uPlot has drawn it: header, rows as numbers (null for "–") and how many values it drew. */
  const chartTable = async (page: Page, id: string) => {
    const drawn = Number(await page.getAttribute(`figure#${id}[data-drawn]`, 'data-drawn', { timeout: 10_000 }));
    const t = await page.$eval(`figure#${id} details table`, (el) => ({
      head: [...el.querySelectorAll('thead th')].map((x) => x.textContent ?? ''),
      rows: [...el.querySelectorAll('tbody tr')].map((r) => [...r.children].map((x) => x.textContent ?? '')),
    }));
    return { drawn, head: t.head, times: t.rows.map((r) => r[0]!), values: t.rows.map((r) => r.slice(1).map((v) => (v === '–' ? null : Number(v.replace(/,/g, ''))))) };
  };
  /** The table's kW (one decimal) against the API's W: the same gaps, each value within half a tenth. */
  const sameKw = (table: (number | null)[][], api: (number | null)[][], what: string) => {
    assert.equal(table.length, api.length, `${what}: one row per interval`);
    table.forEach((row, i) => row.forEach((kw, j) => {
      const w = api[i]![j]!;
      assert.ok(w === null ? kw === null : kw !== null && Math.abs(kw - w / 1000) <= 0.05 + 1e-9, `${what}, interval ${i}, column ${j}: ${kw} kW drawn, the API says ${w} W`);
    }));
  };

  /** axe-core's serious and critical violations on the page (the charts drawn, with their text alternatives and data tables). */
  const axe = async (page: Page) => {
    await page.addScriptTag({ path: AXE });
    const found = await page.evaluate(`axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, at: v.nodes.map((n) => n.target.join(' ')).slice(0, 3) })))`) as { id: string; impact: string; at: string[] }[];
    return found.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  };

  before(async () => {
    assert.ok(existsSync(join(import.meta.dirname, '..', 'web', 'dist', 'index.html')), 'the dashboard is built by `npm run build`');
    mkdirSync(SHOTS, { recursive: true });
    const dir = mkdtempSync(join(tmpdir(), 'openlec-flex-'));
    const c = await congestedCommunity(join(dir, 'log.db'));
    await ok(c.ledger, c.dso.sign('flex.order', planFlexOrder(c.ledger.state, 'R2', 'F2', Date.parse('2026-03-10T13:00:00Z'))));
    await meteredEvent(c);
    c.at('2026-04-01T00:10:00Z');
    await ok(c.ledger, c.dso.sign('flex.settle', flexSettleBody(planFlexSettle(c.ledger.state, '2026-03'))));
    await c.ledger.close();
    server = await serve({ db: c.path, dir, port: 0, host: '127.0.0.1', tick: 600, now: () => NOW });
    const found = await findChromium();
    browser = await chromium.launch({ executablePath: found.executablePath, headless: true, args: found.args });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test('the DSO sees the feeder against its limit, requested vs ordered vs delivered, and the merit order', async () => {
    const page = await open('#/me');
    await login(page, 'dso');
    await ready(page, 'me');
    await page.goto(`${server.url}/#/flex?request=R2`);
    await ready(page, 'flex');
    assert.equal(await page.textContent('#flex-status'), 'ordered');
    assert.equal(await page.textContent('#flex-ordered'), '10.0');
    assert.match((await page.textContent('#flex-delivered'))!, /^\d+\.\d$/);
    // Both charts draw the API's intervals: load, forecast and limit, then delivered / ordered beyond it / requested beyond the order (kW).
    const v = await apiIn<{ request: { feeder: string; direction: string }; intervals: RequestInterval[] }>(page, '/v1/flex/requests/R2');
    const iv = v.intervals;
    assert.equal(v.request.direction, 'reduce-import');
    const load = await chartTable(page, 'chart-flex-load');
    assert.deepEqual(load.head, ['time', `feeder ${v.request.feeder}: metered load (kW)`, 'DSO forecast without flexibility (kW)', 'import limit (kW)']);
    sameKw(load.values, iv.map((x) => [x.loadW, x.forecastW, x.importLimitW]), 'feeder load');
    assert.equal(load.drawn, iv.reduce((n, x) => n + [x.loadW, x.forecastW, x.importLimitW].filter((w) => w !== null).length, 0));
    assert.ok(iv.every((x) => x.importLimitW !== null && x.forecastW !== null), 'forecast and limit drawn in every interval');
    // Not every reading under the substation is in: the load is missing, a gap (never a zero), and the text alternative says so.
    assert.ok(iv.every((x) => x.loadW === null));
    assert.match((await page.getAttribute('#chart-flex-load-area', 'aria-label'))!, /metered load: no data; DSO forecast without flexibility from 260\.0 to 260\.0 kW; import limit from 250\.0 to 250\.0 kW/);
    const power = await chartTable(page, 'chart-flex-power');
    assert.deepEqual(power.head, ['time', 'delivered (kW)', 'ordered, not delivered (kW)', 'requested minimum, not ordered (kW)']);
    sameKw(power.values, iv.map((x) => [x.deliveredW, Math.max(0, x.orderedW - (x.deliveredW ?? 0)), Math.max(0, x.requestedMinW - x.orderedW)]), 'power');
    assert.ok(power.values.some((r) => (r[0] ?? 0) > 0), 'delivered bars');
    // Times in the community's time zone: the table's first interval is the API's first, read in that zone.
    const c = await apiIn<{ timeZone: string }>(page, '/v1/community');
    const hm = new Intl.DateTimeFormat('en-GB', { timeZone: c.timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(Date.parse(iv[0]!.start));
    assert.ok(load.times[0]!.includes(hm), `${load.times[0]} at ${hm} ${c.timeZone}`);
    const merit = await page.$$eval('#flex-merit tbody tr', (rows) => rows.map((r) => r.textContent));
    assert.equal(merit.length, 4);
    assert.match(merit[0]!, /refused: would break a limit.*feeder-b/);
    assert.equal(await page.$$eval('#flex-settlement tbody tr', (r) => r.length), 2);
    assert.deepEqual(await axe(page), [], 'no serious or critical axe-core violation');
    await page.screenshot({ path: join(SHOTS, 'flex.png'), fullPage: true });
    assert.deepEqual(page.errors, []);
  });

  test('a provider sees its own earnings only', async () => {
    const page = await open('#/flex-earnings?month=2026-03');
    await login(page, 'aggregator');
    await ready(page, 'flex-earnings');
    assert.equal(await page.textContent('#earn-delivered'), '6.8');
    assert.equal(await page.$$eval('#earn-lines tbody tr', (r) => r.length), 1);
    assert.ok(await page.$$eval('svg#chart-earnings rect', (r) => r.length) === 1);
    await page.screenshot({ path: join(SHOTS, 'flex-earnings.png'), fullPage: true });
    assert.deepEqual(page.errors, []);
  });
});
