import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { serve } from '../src/cli/serve.ts';
import { findChromium } from './support/chromium.ts';

/**
 * The community, market, allocation and ledger views in a real browser: chromium
 * (CHROMIUM_PATH, the system's, or the one inside the npm package @sparticuz/chromium; see
 * support/chromium.ts) driven by playwright-core, against the live demo served by
 * `openlec serve --demo` (started in-process on a free port). What the pages show is
 * checked against the API. Screenshots are kept in test-artifacts/browser/ as
 * <view>-desktop.png and <view>-phone.png. `npm test` builds the dashboard first
 * (OPENLEC_WEB_DIR: another build).
 */
const SHOTS = join(import.meta.dirname, '..', 'test-artifacts', 'browser');
const WEB = process.env.OPENLEC_WEB_DIR ?? join(import.meta.dirname, '..', 'web', 'dist');
const PHONE = { width: 390, height: 844 };

/** As the views write energy: whole kWh from 1,000, one decimal from 1, two below. */
const energy = (wh: number) => {
  const k = wh / 1000;
  const d = Math.abs(k) >= 1000 ? 0 : Math.abs(k) >= 1 ? 1 : 2;
  return `${k.toLocaleString('en', { minimumFractionDigits: d, maximumFractionDigits: d })} kWh`;
};

type ViewPage = Page & { errors: string[] };

describe('dashboard in chromium: community, market, allocation, ledger', () => {
  let server: Awaited<ReturnType<typeof serve>>;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  let zone = '';

  const open = async (hash: string, viewport = { width: 1280, height: 900 }): Promise<ViewPage> => {
    const ctx = await browser.newContext({ viewport, locale: 'en-GB' });
    contexts.push(ctx);
    const page = (await ctx.newPage()) as ViewPage;
    page.errors = [];
    page.on('pageerror', (e) => page.errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error' && !/status of 40[13]/.test(m.text())) page.errors.push(m.text()); });
    await page.goto(`${server.url}/${hash}`);
    return page;
  };
  const ready = (page: Page, view: string) => page.waitForSelector(`body[data-ready="${view}"]`, { timeout: 30_000 });
  const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const login = async (page: Page, role: string) => {
    await page.waitForSelector('#login-form');
    await page.fill('#login-form textarea', server.logins[role]!.secretKey);
    await page.click('#login-form button');
  };
  /** What the API answers, asked from the page with its session's token if it has one. */
  const apiIn = <T>(page: Page, path: string) => page.evaluate(`(async () => {
    const s = sessionStorage.getItem('openlec.session');
    const res = await fetch(${JSON.stringify(path)}, { headers: s ? { authorization: 'Bearer ' + JSON.parse(s).token } : {} });
    return res.json();
  })()`) as Promise<T>;
  /** How many values a uPlot chart drew (plot.ts sets data-drawn once the canvas is drawn). */
  const drawn = async (page: Page, id: string) => Number(await page.getAttribute(`figure#${id}`, 'data-drawn', { timeout: 10_000 }));
  /** The data table of a chart: its header and rows as text. */
  const chartTable = (page: Page, id: string) => page.$eval(`figure#${id} details table`, (t) => ({
    head: [...t.querySelectorAll('thead th')].map((x) => x.textContent ?? ''),
    rows: [...t.querySelectorAll('tbody tr')].map((r) => [...r.children].map((x) => x.textContent ?? '')),
  }));
  /** On a phone: no sideways scroll, and no visible text smaller than 11 px. */
  const fitsPhone = async (page: Page, name: string) => {
    // Evaluated in the page (as text: the DOM's globals are not typed here).
    const overflow = await page.evaluate('document.documentElement.scrollWidth - innerWidth') as number;
    assert.ok(overflow <= 0, `${name} scrolls sideways by ${overflow} px on a phone`);
    const small = await page.evaluate(`[...document.querySelectorAll('main *')].filter((e) => [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())
      && e.getClientRects().length > 0 && e.closest('details:not([open])') === null
      && parseFloat(getComputedStyle(e).fontSize) * (e.getScreenCTM ? e.getScreenCTM().a : 1) < 11).map((e) => e.tagName + ' ' + e.textContent.slice(0, 30))`) as string[];
    assert.deepEqual(small, [], `${name}: text under 11 px on a phone`);
  };

  before(async () => {
    assert.ok(existsSync(join(WEB, 'index.html')), 'the dashboard is built by `npm run build` (npm test does it first), or OPENLEC_WEB_DIR names a build');
    mkdirSync(SHOTS, { recursive: true });
    // A slow tick: the views stay still while the test reads them.
    server = await serve({ demo: true, dir: mkdtempSync(join(tmpdir(), 'openlec-web-')), port: 0, host: '127.0.0.1', tick: 600 });
    const found = await findChromium();
    browser = await chromium.launch({ executablePath: found.executablePath, headless: true, args: found.args });
    zone = ((await (await fetch(`${server.url}/v1/community`)).json()) as { timeZone: string }).timeZone;
  });
  after(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await server?.close();
  });

  test('community: the flows add up to the totals, savings as the API, self-sufficiency per day and per interval', async () => {
    const page = await open('#/');
    await ready(page, 'community');
    const from = await page.inputValue('form.period input[name=from]');
    const to = await page.inputValue('form.period input[name=to]');
    const e = await apiIn<{ totals: { drawnWh: number; fedInWh: number; localWh: number }; intervals: unknown[] }>(page, `/v1/community/energy?from=${from}&to=${to}`);
    const o = await apiIn<{ savingsMicro: number; currency: string }>(page, `/v1/dashboard/community?from=${from}&to=${to}`);
    assert.ok(e.totals.drawnWh > 100_000, `a week of 39 homes draws more than 100 kWh (got ${e.totals.drawnWh} Wh)`);
    // The Sankey: what reached the members' consumption is what they drew; what left the panels is what they fed in.
    const flows = await page.$$eval('svg#sankey path.flow', (ps) => ps.map((p) => ({ from: p.getAttribute('data-from'), to: p.getAttribute('data-to'), wh: Number(p.getAttribute('data-wh')) })));
    const sum = (f: (x: (typeof flows)[number]) => boolean) => flows.filter(f).reduce((s, x) => s + x.wh, 0);
    assert.equal(sum((x) => x.to === 'use'), e.totals.drawnWh);
    assert.equal(sum((x) => x.from === 'pv'), e.totals.fedInWh);
    assert.equal(sum((x) => x.from === 'pv' && x.to === 'use'), e.totals.localWh);
    assert.equal(Number(await page.getAttribute('svg#sankey rect[data-node="use"]', 'data-wh')), e.totals.drawnWh);
    assert.match(await page.textContent('#sankey-desc') ?? '', new RegExp(`${energy(e.totals.localWh).replace('.', '\\.')} shared between members`));
    assert.deepEqual(await page.$$eval('#flows tbody tr', (rs) => rs.map((r) => Number(r.getAttribute('data-wh')))), [e.totals.localWh, e.totals.fedInWh - e.totals.localWh, e.totals.drawnWh - e.totals.localWh]);
    assert.equal(await page.textContent('#kpi-savings'), `${(o.savingsMicro / 1e6).toFixed(2)} ${o.currency}`);
    assert.equal(await page.textContent('#kpi-drawn'), energy(e.totals.drawnWh));
    assert.match(await page.textContent('#kpi-self-sufficiency') ?? '', /^\d+\.\d %$/);
    assert.ok(await drawn(page, 'chart-community-energy') >= 3 * e.intervals.length - 3, 'consumed, fed-in and shared values drawn');
    assert.equal(await drawn(page, 'chart-community-self-daily'), 7, 'a bar per day of the week');
    assert.ok(await drawn(page, 'chart-community-self-sufficiency') > 100);
    // Live: the server's time when it was drawn (the demo's clock), in the community's zone.
    const serverTime = Date.parse((await apiIn<{ serverTime: string }>(page, '/v1/community')).serverTime);
    const hm = (t: number) => new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(t);
    assert.match(await page.textContent('#updated') ?? '', new RegExp(`^Updated (${hm(serverTime)}|${hm(serverTime - 60_000)}) · latest interval cleared`));
    await shot(page, 'community-desktop');
    assert.deepEqual(page.errors, []);
  });

  test('market: reference prices as dashed lines, the clearing point marked, the mechanism in words, quiet intervals folded', async () => {
    const page = await open('#/market');
    await ready(page, 'market');
    const rules = await apiIn<{ configs: { mechanism: string; retailMicroPerKwh: number; feedInMicroPerKwh: number }[] }>(page, '/v1/market/config');
    const cfg = rules.configs.at(-1)!;
    const price = await chartTable(page, 'chart-market-price');
    assert.deepEqual(price.head.slice(1), ['clearing price (CHF/kWh)', 'retail (supplier) (CHF/kWh)', 'feed-in (grid) (CHF/kWh)']);
    assert.ok(price.rows.every((r) => r[2] === (cfg.retailMicroPerKwh / 1e6).toFixed(3) && r[3] === (cfg.feedInMicroPerKwh / 1e6).toFixed(3)), 'the retail and feed-in lines are the market\'s prices');
    assert.ok(await drawn(page, 'chart-market-price') > price.rows.length * 2, 'price, retail and feed-in drawn');
    assert.equal(await page.textContent(`#kpi-retail`), `${(cfg.retailMicroPerKwh / 1e6).toFixed(3)} CHF/kWh`);
    // Intervals without a trade are gaps in the price, not zeros.
    const from = await page.inputValue('form.period input[name=from]');
    const to = await page.inputValue('form.period input[name=to]');
    const cl = (await apiIn<{ interval: string; volumeWh: number; priceMicroPerKwh: number | null }[]>(page, `/v1/market/clearings?from=${from}T00:00:00Z&to=${to}T23:59:59Z`));
    assert.ok(price.rows.some((r) => r[1] === '–'), 'night intervals have no price');
    assert.ok(price.rows.every((r) => r[1] === '–' || Number(r[1]) > 0));
    // The depth chart's clearing point is the clearing's volume and price.
    const point = { wh: Number(await page.getAttribute('#clearing-point', 'data-wh')), price: Number(await page.getAttribute('#clearing-point', 'data-price')) };
    const k = cl.find((x) => x.volumeWh === point.wh && x.priceMicroPerKwh === point.price);
    assert.ok(k && k.volumeWh > 0, 'the marked interval is a clearing with trades');
    assert.match(await page.getAttribute('#chart-market-depth-area', 'aria-label') ?? '', new RegExp(`cleared: ${energy(point.wh).replace('.', '\\.')} at ${(point.price / 1e6).toFixed(3)} CHF/kWh at `));
    assert.ok(await drawn(page, 'chart-market-depth') >= 2, 'depth has a supply and a demand curve');
    // The mechanism in force is explained, and marked among the others.
    assert.equal(await page.getAttribute('#mechanisms li.current', 'data-mechanism'), cfg.mechanism);
    assert.match(await page.textContent('#mechanisms li.current') ?? '', /same price/);
    // Folded rows: every cleared interval of the period is in the table once, quiet runs as one row each.
    const rows = await page.$$eval('#clearings tbody tr', (rs) => rs.map((r) => ({ fold: Number(r.querySelector('[data-fold]')?.getAttribute('data-fold') ?? 0), text: r.textContent ?? '' })));
    const folds = rows.filter((r) => r.fold);
    assert.ok(folds.length >= 2, 'a night per day folded');
    assert.ok(folds.every((r) => r.fold >= 2 && r.text.includes(`no trade (${r.fold} intervals)`) && /\d\d:\d\d–\d\d:\d\d|\d\d:\d\d – /.test(r.text)));
    const shown = await page.$$eval('#depth-form option', (os) => os.length);
    assert.ok(shown > 0);
    const inPeriod = price.rows.length;
    assert.equal(folds.reduce((s, r) => s + r.fold, 0) + rows.filter((r) => !r.fold).length, inPeriod, 'every interval once');
    // Every run of two or more intervals without a price (the nights, however long the season makes them) is one row.
    let saved = 0;
    for (let k = 0, run = 0; k <= price.rows.length; k++) {
      if (k < price.rows.length && price.rows[k]![1] === '–') run++;
      else [saved, run] = [saved + (run >= 2 ? run - 1 : 0), 0];
    }
    assert.ok(saved > 0);
    assert.equal(rows.length, inPeriod - saved, `folding shortens the table (${rows.length} rows for ${inPeriod} intervals)`);
    await shot(page, 'market-desktop');
    assert.deepEqual(page.errors, []);
  });

  test('ledger: the organisations\' keys labelled for everyone; for staff roles beside every key, local times, names of types', async () => {
    const page = await open('#/ledger');
    await ready(page, 'ledger');
    assert.equal(await page.$('#entries'), null, 'no entries without a staff login');
    const c = await apiIn<{ operator: string }>(page, '/v1/community');
    const orgs = await page.$$eval('#org-keys tbody tr', (rs) => rs.map((r) => [r.querySelector('.role')?.textContent, r.querySelector('code')?.textContent]));
    assert.deepEqual(orgs[0], ['operator', c.operator]);
    assert.ok(orgs.some((o) => o[0] === 'dso'));
    await page.click('#who a');
    await login(page, 'auditor');
    await ready(page, 'me');
    await page.goto(`${server.url}/#/ledger`);
    await ready(page, 'ledger');
    const people = new Map((await apiIn<{ key: string; roles: string[] }[]>(page, '/v1/participants')).map((p) => [p.key, p.roles.join(',')]));
    const entries = await page.$$eval('#entries tbody tr', (rs) => rs.map((r) => ({
      what: r.children[1]!.textContent ?? '', type: r.querySelector('.tx-type')?.textContent ?? '', actor: r.children[2]!.querySelector('code')!.getAttribute('title')!,
      roles: [...r.children[3]!.querySelectorAll('.role')].map((x) => x.textContent).join(','), at: r.querySelector('time')!.getAttribute('datetime')!, shown: r.querySelector('time')!.textContent ?? '',
    })));
    assert.equal(entries.length, 50);
    for (const e of entries) {
      assert.equal(e.roles, people.get(e.actor), `roles of ${e.actor}`);
      const local = new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).format(new Date(e.at));
      assert.ok(e.shown.includes(local), `${e.shown} is ${e.at} in ${zone} (${local})`);
      assert.ok(e.what.length > e.type.length, `a name for ${e.type}`);
    }
    assert.ok(entries.some((e) => e.what.startsWith('Interval cleared') && e.roles === 'operator'));
    assert.ok(await page.$$eval('#checkpoints tbody tr', (r) => r.length) >= 1);
    await page.click('#consistency-form button');
    await page.waitForSelector('#consistency-result.ok, #consistency-result.fail');
    assert.match((await page.textContent('#consistency-result'))!, /^Consistent/);
    await shot(page, 'ledger-desktop');
    assert.deepEqual(page.errors, []);
  });

  test('allocation: the operator sees every meter\'s bar and downloads the DSO coefficient file; a member reads a statement', async () => {
    const page = await open('#/allocation');
    await login(page, 'operator');
    await ready(page, 'allocation');
    const rows = await apiIn<{ month: string; productionWh: number; members: { meter: string; allocatedWh: number; missingIntervals: number; recordedMissingIntervals: number }[] }[]>(page, '/v1/dashboard/allocations');
    const a = rows.sort((x, y) => y.month.localeCompare(x.month))[0]!;
    assert.deepEqual(await page.$$eval('#chart-allocation li', (ls) => ls.map((l) => [l.getAttribute('data-meter'), Number(l.getAttribute('data-wh'))])), a.members.map((m) => [m.meter, m.allocatedWh]));
    // Missing data inside the community's life only: the demo began after the month did, so fewer than recorded.
    const missing = await page.$$eval('#allocation-members tbody tr', (rs) => rs.map((r) => Number((r.lastElementChild!.textContent ?? '').replace(/,/g, ''))));
    assert.deepEqual(missing, a.members.map((m) => m.missingIntervals));
    // The demo's log begins 7 days before today (Europe/Zurich): in its first month, the days
    // before are not counted (unless it began on the 1st); no month counts more than recorded.
    assert.ok(rows.every((r) => r.members.every((m) => m.missingIntervals <= m.recordedMissingIntervals)));
    const first = [...rows].sort((x, y) => x.month.localeCompare(y.month))[0]!;
    const began = await apiIn<{ intervals: { interval: string }[] }>(page, `/v1/community/energy?from=${first.month}-01&to=${first.month}-28`);
    const beganMidMonth = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Zurich', day: '2-digit' }).format(new Date(began.intervals[0]!.interval)) !== '01';
    if (beganMidMonth) assert.ok(first.members.every((m) => m.missingIntervals < m.recordedMissingIntervals), 'days before the community began are not counted');
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('button[data-file="coefficients-fr.csv"]')]);
    const csv = readFileSync(await dl.path(), 'utf8');
    assert.match(dl.suggestedFilename(), /^coefficients-fr-\d{4}-\d{2}\.csv$/);
    assert.ok(csv.split('\n').length > 48, 'a row per interval and member');
    await shot(page, 'allocation-desktop');

    const member = await open('#/allocation');
    await login(member, 'member');
    await ready(member, 'allocation');
    const key = server.logins.member!.key;
    const mine = await apiIn<{ month: string; productionWh: number; meters: { meter: string; consumedWh: number; allocatedWh: number; supplierWh: number }[] }[]>(member, `/v1/dashboard/members/${key}/allocations`);
    const m = mine.at(-1)!;
    const x = m.meters[0]!;
    const text = (await member.textContent(`.statement[data-meter="${x.meter}"]`))!.replace(/\s+/g, ' ');
    const month = new Intl.DateTimeFormat('en-GB', { month: 'long', timeZone: 'UTC' }).format(new Date(`${m.month}-01T12:00:00Z`));
    assert.ok(text.startsWith(`In ${month} the community’s panels produced ${energy(m.productionWh)}; ${energy(x.allocatedWh)} of it was allocated to your meter ${x.meter}, ${Math.round((100 * x.allocatedWh) / x.consumedWh)} % of the ${energy(x.consumedWh)} you used; the rest, ${energy(x.supplierWh)}, came from your supplier.`), text);
    assert.equal(await member.$('#chart-allocation'), null, 'a member sees no other meter');
    await shot(member, 'allocation-member-desktop');
    assert.deepEqual([...page.errors, ...member.errors], []);
  });

  test('on a phone: no sideways scroll, text at least 11 px, charts within the screen', async () => {
    for (const [view, role] of [['', undefined], ['market', undefined], ['ledger', 'auditor'], ['allocation', 'operator']] as const) {
      const page = await open(`#/${view}`, PHONE);
      if (role) {
        if (view === 'ledger') { await ready(page, 'ledger'); await page.click('#who a'); }
        await login(page, role);
        if (view === 'ledger') { await ready(page, 'me'); await page.goto(`${server.url}/#/ledger`); }
      }
      const name = view || 'community';
      await ready(page, name);
      await page.waitForTimeout(300);
      await fitsPhone(page, name);
      if (view !== 'ledger') {
        const widths = await page.$$eval('figure', (fs) => fs.map((f) => f.getBoundingClientRect().width));
        assert.ok(widths.length > 0 && widths.every((w) => w <= 390 && w > 300), `#/${view}: figures fit the screen (${widths.join(', ')} px)`);
      }
      await shot(page, `${name}-phone`);
      assert.deepEqual(page.errors, []);
    }
  });
});
