import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { serve } from '../src/cli/serve.ts';
import { findChromium } from './support/chromium.ts';
import { untilText } from './support/dashboard.ts';

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
    const ctx = await browser.newContext({ viewport, locale: 'en-GB' });
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
  /** How many values a chart drew (plot.ts sets data-drawn once uPlot has drawn it). */
  const drawn = async (page: Page, id: string) => Number(await page.getAttribute(`figure#${id}[data-drawn]`, 'data-drawn', { timeout: 10_000 }));
  /** The bars of a chart: the rows of its data table. */
  const bars = (page: Page, id: string) => page.$$eval(`figure#${id} details.plot-data tbody tr`, (r) => r.length);
  /** Waits for the check that runs by itself when the home opens; its line. */
  const verified = async (page: Page, outcome = '.ok, #verify-result.fail') => {
    await page.waitForSelector(`#verify-result${outcome}`, { timeout: 60_000 });
    return (await page.textContent('#verify-result'))!;
  };
  /** GET an API path with the page's session token. */
  const fetchJson = (page: Page, path: string) => page.evaluate(async (p) => {
    const g = globalThis as unknown as { sessionStorage: { getItem(k: string): string } };
    const auth = { headers: { authorization: `Bearer ${(JSON.parse(g.sessionStorage.getItem('openlec.session')) as { token: string }).token}` } };
    return (await fetch(p, auth)).json() as Promise<unknown>;
  }, path);

  before(async () => {
    assert.ok(existsSync(join(process.env.OPENLEC_WEB_DIR ?? join(import.meta.dirname, '..', 'web', 'dist'), 'index.html')), 'the dashboard is built by `npm run build` (npm test does it first), or OPENLEC_WEB_DIR names a build');
    mkdirSync(SHOTS, { recursive: true });
    // A slow tick: the views stay still while the test reads them. DEMO_DIR reuses a demo log (saves the backfill when running the file again).
    server = await serve({ demo: true, dir: process.env.DEMO_DIR ?? mkdtempSync(join(tmpdir(), 'openlec-home-')), port: 0, host: '127.0.0.1', tick: 600 });
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
    // Its half-hours run from local midnight to 23:30, on a day of a clock change too (46 or 50 of them).
    const times = await page.$eval('figure#chart-my-load details table', (t) => [...t.querySelectorAll('tbody tr')].map((r) => r.children[0]!.textContent ?? ''));
    assert.ok([46, 48, 50].includes(times.length), `${times.length} half-hours`);
    assert.match(times[0]!, /\b00:00\b/, times[0]);
    assert.match(times.at(-1)!, /\b23:30\b/, times.at(-1));
    assert.ok(await drawn(page, 'chart-my-bars') >= 1, 'own daily bars drawn');
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
    const meters = await page.$$eval('p.statement[data-meter]', (ps) => ps.map((p) => p.getAttribute('data-meter')));
    assert.ok(meters.length > 0);
    assert.ok(meters.every((m) => r.meters.includes(m!)), `only own meters: ${meters.join(', ')}`);
  });

  test('"verify my records" checks proofs in the browser, and fails when a proof is tampered with', async () => {
    const page = await open('#/me');
    await login(page, 'member');
    await ready(page, 'me');
    // The check runs by itself; the button runs it again.
    assert.match(await verified(page), /^✓? ?All \d+ records/);
    await page.click('#verify');
    const ok = await verified(page);
    assert.match(ok, /^✓? ?All \d+ records .*verified/);
    // Every record shown: each day of readings, each trade of the month, the allocation and the invoice.
    const checks = await page.$$eval('#verify-table tbody tr td:first-child', (tds) => tds.map((t) => t.textContent!));
    assert.equal(Number(/All (\d+)/.exec(ok)![1]), checks.length);
    const shownTrades = Number(/\((\d+) trades in/.exec((await page.textContent('#trades-total'))!)![1]);
    assert.equal(checks.filter((x) => x.startsWith('trade ')).length, shownTrades, 'every trade of the month');
    // On a month's first day there is one day of readings and maybe no allocation yet.
    assert.ok(checks.filter((x) => x.startsWith('readings ')).length >= 1, 'the month\'s readings');
    assert.ok(checks.some((x) => /^invoice \d{4}-\d{2}$/.test(x)), 'the invoice');
    const showsAllocation = /allocation entry \d+/.test((await page.textContent('#view')) ?? '');
    assert.equal(checks.some((x) => /^allocation /.test(x)), showsAllocation, 'the month\'s allocation, when the page shows one');
    await page.click('#verify-more summary');
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
    assert.match(await verified(page, '.fail'), /Verification FAILED for \d+ of \d+ records: .*not included in the checkpoint/);
    assert.equal(await page.$eval('#verify-more', (d) => (d as unknown as { open: boolean }).open), true, 'the details open on a failure');
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
    assert.match(await verified(page, '.fail'), /differs from the log/);
  });

  test('an altered invoice is caught: the browser recomputes it from the proven records', async () => {
    const page = await open('#/me');
    // The server (or anyone in between) bills 0.10 more on the first line, and adds it to the totals.
    await page.route('**/v1/members/*/invoices/*', async (route) => {
      const res = await route.fetch();
      const inv = await res.json() as { lines: { amountMicro: number; kind: string }[]; totalMicro: number; chargesMicro: number; savingsMicro: number };
      inv.lines[0]!.amountMicro += 100_000;
      inv.chargesMicro += 100_000;
      inv.totalMicro += 100_000;
      inv.savingsMicro -= 100_000;
      await route.fulfill({ response: res, json: inv });
    });
    await login(page, 'member');
    await ready(page, 'me');
    const line = await verified(page, '.fail');
    assert.match(line, /Verification FAILED for 1 of \d+ records: invoice \d{4}-\d{2}: line 1 \(.+\) differs/);
    // Only the invoice fails: the readings and trades it was recomputed from are genuine.
    assert.equal(await page.$$eval('#verify-table tbody tr .fail', (x) => x.length), 1);
  });

  test('the member\'s home on a 390 px phone: money first, readable, no sideways scroll; the day / month / year switch', async () => {
    const page = await open('#/me', { width: 390, height: 844 });
    await login(page, 'member');
    await ready(page, 'me');
    await verified(page);
    // The bill tile is the invoice's total, with its currency.
    const c = await fetchJson(page, '/v1/community') as { currency: string; lastCleared: string; timeZone: string };
    const month = new Intl.DateTimeFormat('en-CA', { timeZone: c.timeZone, year: 'numeric', month: '2-digit' }).format(new Date(c.lastCleared)).slice(0, 7);
    const invoice = await fetchJson(page, `/v1/members/${server.logins.member!.key}/invoices/${month}`) as { totalMicro: number; savingsMicro: number };
    assert.equal(await page.textContent('#bill-total'), `${(invoice.totalMicro / 1e6).toFixed(2)} ${c.currency}`);
    assert.equal(await page.textContent('#bill-saving'), `${(invoice.savingsMicro / 1e6).toFixed(2)} ${c.currency}`);
    assert.match((await page.textContent('#share-local'))!, /^\d+ %$/);
    assert.match((await page.textContent('#used-month'))!, /^\d+(\.\d)? (k|M)?Wh$/);
    // Money first: the tiles come before the charts.
    // Money first: the tiles come before the charts. (Page code as text: the tests compile without the DOM's types.)
    assert.equal(await page.evaluate('Boolean(document.getElementById("bill-total").compareDocumentPosition(document.getElementById("chart-my-bars")) & Node.DOCUMENT_POSITION_FOLLOWING)'), true);
    const layout = await page.evaluate(`(() => {
      const doc = document.documentElement;
      const small = [];
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const el = n.parentElement;
        if (!n.textContent.trim() || el.getClientRects().length === 0 || getComputedStyle(el).visibility === 'hidden') continue;
        const size = parseFloat(getComputedStyle(el).fontSize);
        if (size < 11) small.push(el.tagName.toLowerCase() + ' ' + size + 'px "' + n.textContent.trim().slice(0, 30) + '"');
      }
      return { scroll: doc.scrollWidth, width: doc.clientWidth, small };
    })()`) as { scroll: number; width: number; small: string[] };
    assert.ok(layout.scroll <= layout.width, `no sideways scroll: ${layout.scroll} > ${layout.width}`);
    assert.deepEqual(layout.small, [], 'every visible text at least 11 px');
    await shot(page, 'home-phone');

    // Day / month / year: the bars change with the switch, each drawn.
    const byDay = await bars(page, 'chart-my-bars');
    assert.ok(byDay >= 2, `${byDay} days`);
    assert.equal(await page.getAttribute('.by-switch button[data-by="day"]', 'aria-pressed'), 'true');
    await page.click('.by-switch button[data-by="month"]');
    await untilText(page, 'figure#chart-my-bars details.plot-data tbody tr', { countNot: byDay });
    assert.equal(await page.getAttribute('.by-switch button[data-by="month"]', 'aria-pressed'), 'true');
    assert.ok(await drawn(page, 'chart-my-bars') > 0);
    const byMonth = await bars(page, 'chart-my-bars');
    assert.ok(byMonth >= 1 && byMonth < byDay, `${byMonth} months, ${byDay} days`);
    assert.match(page.url(), /by=month/);
    await page.click('.by-switch button[data-by="year"]');
    await page.waitForSelector('.by-switch button[data-by="year"][aria-pressed="true"]');
    await untilText(page, 'figure#chart-my-bars details.plot-data tbody tr th', { matches: '^\\d{4}$' });
    assert.ok(await drawn(page, 'chart-my-bars') > 0);
    assert.ok(await bars(page, 'chart-my-bars') <= byMonth);
    assert.deepEqual((page as Page & { errors: string[] }).errors, []);

    const desk = await open('#/me');
    await login(desk, 'member');
    await ready(desk, 'me');
    await verified(desk);
    await shot(desk, 'home-desktop');
  });

});
