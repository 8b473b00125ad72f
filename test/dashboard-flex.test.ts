import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import { serve } from '../src/cli/serve.ts';
import { planFlexOrder } from '../src/flex/order.ts';
import { flexSettleBody, planFlexSettle } from '../src/flex/settle.ts';
import { findChromium } from './support/chromium.ts';
import { dashboardPages } from './support/dashboard.ts';
import { congestedCommunity, meteredEvent, ok } from './support/flex.ts';

/**
 * The flexibility views in chromium, over a log where the DSO ordered flexibility for a
 * congestion at the substation (test/support/flex.ts), the day was metered and March
 * settled: the DSO's request view and the aggregator's earnings.
 */
const SHOTS = join(import.meta.dirname, '..', 'test-artifacts', 'browser');
const NOW = Date.parse('2026-04-01T01:00:00Z');

describe('dashboard: flexibility in chromium', () => {
  let server: Awaited<ReturnType<typeof serve>>;
  let browser: Browser;

  const { open, ready, login } = dashboardPages(() => browser, () => server.url, NOW);

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
    assert.equal(await page.$$eval('svg#chart-flex-load path', (p) => p.length), 3, 'load, forecast and limit');
    assert.ok(await page.$$eval('svg#chart-flex-power rect[fill="#27ae60"]', (r) => r.length) > 0, 'delivered bars');
    const merit = await page.$$eval('#flex-merit tbody tr', (rows) => rows.map((r) => r.textContent));
    assert.equal(merit.length, 4);
    assert.match(merit[0]!, /refused: would break a limit.*feeder-b/);
    assert.equal(await page.$$eval('#flex-settlement tbody tr', (r) => r.length), 2);
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
