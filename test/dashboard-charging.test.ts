import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import { planChargingSettle } from '../src/charging/roaming.ts';
import { serve } from '../src/cli/serve.ts';
import { chargingCommunity, ok, simpleCdr, token } from './support/charging.ts';
import { findChromium } from './support/chromium.ts';
import { dashboardPages } from './support/dashboard.ts';

/**
 * The EV charging views in chromium, over Charge Lane (test/support/charging.ts) with
 * three March sessions (A1 and C1 of NL*TST, B1 of DE*EMS; card A linked to alice) and
 * March settled: the CPO's month and a driver's own sessions.
 */
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

  const { open, ready, login } = dashboardPages(() => browser, () => server.url, NOW);
  const euros = (micro: number) => `${(micro / 1e6).toFixed(2)} EUR`;

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
    assert.equal(await page.$$eval('svg#chart-charging-daily rect', (r) => r.length), 3);
    const lines = await page.$$eval('#charging-settlement tbody tr', (rows) => rows.map((r) => r.textContent));
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /FR\*OLC.*DE\*EMS.*EUR/);
    assert.match((await page.textContent('section:has(#charging-settlement) h2'))!, /settled, entry \d+/);
    assert.equal(await page.$$eval('#charging-cdrs tbody tr', (r) => r.length), 3);
    assert.equal(await page.$$eval('#charging-months tbody tr', (r) => r.length), 1);
    assert.ok(await page.$('nav a[href="#/charging"].active'));
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
