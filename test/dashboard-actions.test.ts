import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { serve } from '../src/cli/serve.ts';
import { encodeKey, fromBase64Url, keyPairFromSeed, sign, toBase64Url, utf8 } from '../src/ledger/index.ts';
import { simKey } from '../src/sim/community.ts';
import { DEMO_SCENARIO } from '../src/sim/scenario.ts';
import { addDays } from '../src/units/interval.ts';
import { findChromium } from './support/chromium.ts';

/**
 * The member's and the DSO's actions in a real browser against the live demo: each form
 * builds a transaction, the dialog shows it exactly (#sign-tx), it is signed in the page
 * and appended; the log (read as the auditor) and the member's API show it, and the view
 * redraws with it. Refusals by the server show their code with nothing appended, values
 * the page refuses never reach the dialog, and a cancel in the dialog signs nothing.
 *
 * The demo's logged-in member is a household with only a consumption meter, so the sell
 * order is placed by one of the demo's prosumers (its seeded key, as the demo derives it).
 */
const SHOTS = join(import.meta.dirname, '..', 'test-artifacts', 'browser');
const WEB = process.env.OPENLEC_WEB_DIR ?? join(import.meta.dirname, '..', 'web', 'dist');

interface Tx { entry: number; type: string; actor: string; body: Record<string, unknown> }

describe('dashboard: the member\'s and the DSO\'s actions in chromium', () => {
  let server: Awaited<ReturnType<typeof serve>>;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const prosumer = simKey('demo', DEMO_SCENARIO.name, 'prosumer-east-1');
  const prosumerKey = encodeKey(prosumer.publicKey);
  const tokens = new Map<string, string>();

  /** A bearer token for a secret key, by the same challenge the page signs. */
  const token = async (secret: string): Promise<string> => {
    if (tokens.has(secret)) return tokens.get(secret)!;
    const kp = keyPairFromSeed(fromBase64Url(secret)!);
    const ch = await (await fetch(`${server.url}/v1/auth/challenge`, { method: 'POST' })).json() as { challenge: string; message: string };
    const res = await fetch(`${server.url}/v1/auth/token`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: encodeKey(kp.publicKey), challenge: ch.challenge, signature: toBase64Url(sign(kp.secretKey, utf8(ch.message))) }),
    });
    const t = (await res.json() as { token: string }).token;
    tokens.set(secret, t);
    return t;
  };
  const get = async <T>(path: string, secret = server.logins.auditor!.secretKey): Promise<T> => {
    const res = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${await token(secret)}` } });
    assert.equal(res.status, 200, `${path}: ${res.status}`);
    return (await res.json()) as T;
  };
  const logSize = async () => (await get<{ size: number }>('/v1/log?limit=1')).size;
  /** The log's entries from `from` on, as the auditor reads them. */
  const entriesFrom = async (from: number) => (await get<{ entries: Tx[] }>(`/v1/log?from=${from}&limit=1000`)).entries;
  /**
   * nothingAppendedBy: no entry of `actor` since the log had `size` entries (the live demo
   * may append its own interval meanwhile), and the actor's nonce is unchanged.
   */
  const nothingAppendedBy = async (actor: string, size: number, nonce: number, secret: string) => {
    assert.deepEqual((await entriesFrom(size)).filter((e) => e.actor === actor).map((e) => e.type), [], 'nothing appended');
    assert.equal((await get<{ nonce: number }>('/v1/me', secret)).nonce, nonce, 'the key signed nothing that was admitted');
  };

  const open = async (hash: string, secret: string, view: string, viewport = { width: 1280, height: 900 }): Promise<Page & { errors: string[] }> => {
    const ctx = await browser.newContext({ viewport, locale: 'en-GB', acceptDownloads: true });
    contexts.push(ctx);
    const page = (await ctx.newPage()) as Page & { errors: string[] };
    page.errors = [];
    page.on('pageerror', (e) => page.errors.push(e.message));
    await page.goto(`${server.url}/${hash}`);
    await page.waitForSelector('#login-form');
    await page.fill('#login-form textarea', secret);
    await page.click('#login-form button');
    await page.waitForSelector(`body[data-ready="${view}"]`, { timeout: 30_000 });
    return page;
  };
  const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  /** The transaction the dialog shows, parsed. */
  const shownTx = async (page: Page) => {
    await page.waitForSelector('dialog#sign-dialog[open] #sign-tx');
    return JSON.parse((await page.textContent('#sign-tx'))!) as { type: string; actor: string; nonce: number; body: Record<string, unknown> };
  };
  const statusOf = (page: Page, form: string) => page.locator(`${form} .action-status`);
  /** The entry number the form's status reports once appended. */
  const appended = async (page: Page, form: string) => {
    const status = statusOf(page, form);
    await status.filter({ hasText: 'Appended to the log as entry' }).waitFor({ timeout: 15_000 });
    return Number(/entry (\d+)/.exec((await status.textContent())!)![1]);
  };
  const noSideScroll = async (page: Page) => assert.ok(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth'), 'no sideways scroll');

  before(async () => {
    assert.ok(existsSync(join(WEB, 'index.html')), `the dashboard is built in ${WEB} (npm run build, or vite build --outDir and OPENLEC_WEB_DIR)`);
    mkdirSync(SHOTS, { recursive: true });
    server = await serve({ demo: true, dir: mkdtempSync(join(tmpdir(), 'openlec-actions-')), port: 0, host: '127.0.0.1', tick: 600 });
    const found = await findChromium();
    browser = await chromium.launch({ executablePath: found.executablePath, headless: true, args: found.args });
  });
  after(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await server?.close();
  });

  test('a member sets a standing sell order, cancels it, and a refused order appends nothing', async () => {
    const secret = toBase64Url(prosumer.secretKey);
    const me = await get<{ nonce: number; meters: { meter: string; direction: string }[] }>('/v1/me', secret);
    const exportMeter = me.meters.find((m) => m.direction === 'export')?.meter;
    assert.ok(exportMeter, 'the demo prosumer has an export meter');
    const page = await open('#/orders', secret, 'orders');
    const c = await get<{ serverTime: string; timeZone: string }>('/v1/community');
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: c.timeZone }).format(new Date(c.serverTime));

    // A value the page refuses names the field and never reaches the dialog.
    await page.selectOption('#order-form select[name=side]', 'sell');
    await page.fill('#order-form input[name=price]', '0.12345');
    await page.click('#order-form button[type=submit]');
    await statusOf(page, '#order-form').filter({ hasText: 'Price limit' }).waitFor();
    assert.equal(await page.locator('dialog#sign-dialog').count(), 0, 'no dialog for a value the page refuses');
    assert.equal(await page.getAttribute('#order-form input[name=price]', 'aria-invalid'), 'true');

    // The order: the dialog shows exactly the body, converted to integer micro-units and Wh.
    await page.fill('#order-form input[name=price]', '0.1234');
    await page.fill('#order-form input[name=windowStart]', '10:00');
    await page.fill('#order-form input[name=windowEnd]', '16:00');
    await page.fill('#order-form input[name=quantity]', '2.5');
    // Two months after the server's today, whatever today is (the page refuses an end before the start).
    const toDate = addDays(today, 60);
    await page.fill('#order-form input[name=toDate]', toDate);
    await page.click('#order-form button[type=submit]');
    const tx = await shownTx(page);
    const body = { side: 'sell', meter: exportMeter, fromDate: today, toDate, window: { start: '10:00', end: '16:00' }, quantityWh: 2500, limitMicroPerKwh: 123_400 };
    assert.deepEqual(tx.body, body);
    assert.equal(tx.type, 'order.standing');
    assert.equal(tx.actor, prosumerKey);
    assert.equal(tx.nonce, me.nonce + 1);
    await shot(page, 'sign-dialog');
    await page.click('#sign-confirm');
    const entry = await appended(page, '#order-form');
    const [logged] = await entriesFrom(entry);
    assert.equal(logged!.type, 'order.standing');
    assert.equal(logged!.actor, prosumerKey);
    assert.deepEqual(logged!.body, body, 'the log holds exactly what the dialog showed');
    const id = `s${entry}`;
    const orders = await get<{ standing: { id: string; cancelledAt: string | null; limitMicroPerKwh: number }[] }>(`/v1/members/${prosumerKey}/orders`, secret);
    assert.equal(orders.standing.find((o) => o.id === id)?.limitMicroPerKwh, 123_400);
    const row = page.locator('#standing-orders tbody tr', { hasText: id });
    await row.waitFor();
    assert.match((await row.textContent())!, /0\.1234 CHF\/kWh/);
    assert.match((await row.textContent())!, /2\.5 kWh/);
    assert.match((await row.textContent())!, /10:00–16:00/);
    await shot(page, 'orders-desktop');

    // A cancel in the dialog signs nothing.
    let size = await logSize();
    await row.locator('button.cancel-order').click();
    assert.deepEqual((await shownTx(page)).body, { order: id });
    await page.click('#sign-cancel');
    assert.equal(await page.locator('dialog#sign-dialog').count(), 0);
    await nothingAppendedBy(prosumerKey, size, me.nonce + 1, secret);
    assert.equal(await row.count(), 1, 'still listed');

    // Cancelling it: gone from the active list, cancelled in the API.
    await row.locator('button.cancel-order').click();
    await shownTx(page);
    await page.click('#sign-confirm');
    await page.locator('#cancel-status', { hasText: 'Appended to the log as entry' }).waitFor({ timeout: 15_000 });
    await page.locator('#cancelled-orders tbody tr', { hasText: id }).waitFor({ state: 'attached' });
    assert.equal(await page.locator('#standing-orders tbody tr', { hasText: id }).count(), 0, 'gone from the active orders');
    const after = await get<{ standing: { id: string; cancelledAt: string | null }[] }>(`/v1/members/${prosumerKey}/orders`, secret);
    assert.ok(after.standing.find((o) => o.id === id)?.cancelledAt, 'cancelled in the log');

    // A price above the community's retail price: the page lets the server judge it; the server refuses it.
    size = await logSize();
    await page.fill('#order-form input[name=price]', '5.0000');
    await page.click('#order-form button[type=submit]');
    assert.equal((await shownTx(page)).body.limitMicroPerKwh, 5_000_000);
    await page.click('#sign-confirm');
    await page.locator('#sign-error', { hasText: 'E_ORDER_PRICE' }).waitFor();
    assert.match((await page.textContent('#sign-error'))!, /Nothing was appended/);
    await page.click('#sign-cancel');
    await statusOf(page, '#order-form').filter({ hasText: 'E_ORDER_PRICE' }).waitFor();
    await nothingAppendedBy(prosumerKey, size, me.nonce + 2, secret);
    assert.deepEqual(page.errors, []);
  });

  test('a member transfers a certificate, exports their data as a JSON file, and the view fits a phone', async () => {
    const member = server.logins.member!;
    const page = await open('#/orders', member.secretKey, 'orders');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-data')]);
    assert.match(download.suggestedFilename(), /\.json$/);
    const data = JSON.parse(readFileSync((await download.path())!, 'utf8')) as { key: string; meters: { meter: string }[] };
    assert.equal(data.key, member.key);
    const me = await get<{ meters: { meter: string }[] }>('/v1/me', member.secretKey);
    assert.deepEqual(data.meters.map((m) => m.meter).sort(), me.meters.map((m) => m.meter).sort());
    // This household has no export meter: the page says it can only buy and offers no meter to sell with.
    assert.match((await page.textContent('#meters-note'))!, /only buy/);
    // Its reference prices are the market configuration's (GET /v1/market/config), as for a prosumer.
    const configs = ((await (await fetch(`${server.url}/v1/market/config`)).json()) as { configs: { retailMicroPerKwh: number; feedInMicroPerKwh: number }[] }).configs;
    const cfg = configs[configs.length - 1]!;
    const chf = (micro: number) => `${(micro / 1e6).toFixed(4)} CHF/kWh`;
    assert.equal(await page.textContent('#ref-retail'), chf(cfg.retailMicroPerKwh));
    assert.equal(await page.textContent('#ref-feedin'), chf(cfg.feedInMicroPerKwh));

    // Certificates: a holder transfers 1 Wh of their first active bundle to the other. A producer
    // holds its certificates from their issuance, day by day, until the month's settlement moves
    // them to the consumers; the demo's 7 days reach a settlement only in a month's first week. So
    // the household holds some early in a month, the prosumer later (whichever does, today).
    type Bundle = { device: string; interval: string; from: number; quantityWh: number; holder: string; status: string };
    const holders = [{ secret: member.secretKey, key: member.key }, { secret: toBase64Url(prosumer.secretKey), key: prosumerKey }];
    let from: (typeof holders)[number] | undefined;
    let certs!: Awaited<ReturnType<typeof open>>;
    let month = '';
    let mine: Bundle[] = [];
    const held = async () => (await get<Bundle[]>(`/v1/certificates?month=${month}`, from!.secret)).filter((b) => b.status === 'active' && b.holder === from!.key);
    for (const h of holders) {
      from = h;
      certs = h === holders[0] ? page : await open('#/orders', h.secret, 'orders');
      month = /of (\d{4}-\d{2})/.exec((await certs.textContent('#h-certs'))!)![1]!;
      mine = await held();
      if (mine.length > 0) break;
    }
    assert.ok(mine.length > 0, `the household or the prosumer holds certificates of ${month}`);
    const to = holders.find((h) => h !== from)!.key;
    const total = (bs: Bundle[]) => bs.slice(0, 200).reduce((a, b) => a + b.quantityWh, 0);
    assert.match((await certs.textContent('#cert-total'))!, new RegExp(`${mine.length} active bundles, ${total(mine)} Wh`));
    await certs.selectOption('#cert-form select[name=what]', 'transfer');
    await certs.fill('#cert-form input[name=to]', to);
    await certs.click('#cert-form button[type=submit]');
    const tx = await shownTx(certs);
    const first = mine[0]!;
    assert.deepEqual(tx.body, { device: first.device, interval: first.interval, from: first.from, quantityWh: 1, to });
    await certs.click('#sign-confirm');
    const entry = await appended(certs, '#cert-form');
    const [logged] = await entriesFrom(entry);
    assert.equal(logged!.type, 'certificate.transfer');
    assert.deepEqual(logged!.body, tx.body);
    const now = await held();
    const sum = (bs: Bundle[]) => bs.reduce((a, b) => a + b.quantityWh, 0);
    assert.equal(sum(now), sum(mine) - 1, 'one certificate fewer');
    await certs.locator('#cert-total', { hasText: `${total(now)} Wh` }).waitFor();
    const phone = await open('#/orders', member.secretKey, 'orders', { width: 390, height: 844 });
    await noSideScroll(phone);
    await shot(phone, 'orders-phone');
    assert.deepEqual([...page.errors, ...(certs === page ? [] : certs.errors), ...phone.errors], []);
  });

  test('the DSO publishes a feeder limit, a tariff and a flexibility request; refused ones append nothing', async () => {
    const dso = server.logins.dso!;
    const page = await open('#/network', dso.secretKey, 'network');
    // The tree as GET /v1/network reads it (public, read at the server's time): every feeder of /v1/feeders, depth-first.
    const network = async () => (await fetch(`${server.url}/v1/network`)).json() as Promise<{ feeders: { id: string; kind: string }[]; tariffs: { history: { entry: number; signedBy: string }[] } }>;
    const tree = (await network()).feeders;
    assert.deepEqual((await page.locator('#feeders tbody tr td:first-child').allTextContents()), tree.map((f) => f.id));
    assert.deepEqual(tree.map((f) => f.id).sort(), (await get<{ id: string }[]>('/v1/feeders')).map((f) => f.id).sort());
    assert.deepEqual((await page.locator('#feeders tbody tr td:nth-child(2)').allTextContents()), tree.map((f) => f.kind));
    const nonce = (await get<{ nonce: number }>('/v1/me', dso.secretKey)).nonce;

    // A negative limit: refused in the page, naming the field, before anything is signed.
    await page.selectOption('#limit-form select[name=feeder]', 'feeder-east');
    await page.fill('#limit-form input[name=exportKw]', '-5');
    await page.click('#limit-form button[type=submit]');
    await statusOf(page, '#limit-form').filter({ hasText: 'Export limit' }).waitFor();
    assert.equal(await page.locator('dialog#sign-dialog').count(), 0);

    // A limit: the dialog shows it in W, the log holds it, the view lists it.
    await page.fill('#limit-form input[name=exportKw]', '25.5');
    await page.click('#limit-form button[type=submit]');
    const tx = await shownTx(page);
    assert.equal(tx.type, 'feeder.limit');
    assert.equal(tx.body.feeder, 'feeder-east');
    assert.equal(tx.body.exportLimitW, 25_500);
    assert.equal(tx.body.importLimitW, null);
    await page.click('#sign-confirm');
    const entry = await appended(page, '#limit-form');
    const [logged] = await entriesFrom(entry);
    assert.equal(logged!.type, 'feeder.limit');
    assert.equal(logged!.actor, dso.key);
    assert.deepEqual(logged!.body, tx.body);
    const row = page.locator('#feeder-limits tbody tr', { hasText: String(entry) });
    await row.waitFor();
    assert.match((await row.textContent())!, /feeder-east.*25\.5 kW/);
    assert.match((await row.textContent())!, new RegExp(`DSO ${dso.key.slice(0, 8)}`), 'signed by the DSO, as the log has it');

    // A limit from an interval already cleared: the server refuses it (rules change only for books still open).
    const c = await get<{ lastCleared: string; timeZone: string }>('/v1/community');
    const local = (o: Intl.DateTimeFormatOptions) => new Intl.DateTimeFormat('en-CA', { timeZone: c.timeZone, hourCycle: 'h23', ...o }).format(new Date(c.lastCleared));
    let size = await logSize();
    await page.fill('#limit-form input[name=fromDate]', local({ year: 'numeric', month: '2-digit', day: '2-digit' }));
    await page.fill('#limit-form input[name=fromTime]', local({ hour: '2-digit', minute: '2-digit' }));
    await page.click('#limit-form button[type=submit]');
    assert.equal((await shownTx(page)).body.from, c.lastCleared);
    await page.click('#sign-confirm');
    await page.locator('#sign-error', { hasText: 'E_RULE_RETROACTIVE' }).waitFor();
    await page.click('#sign-cancel');
    await statusOf(page, '#limit-form').filter({ hasText: 'E_RULE_RETROACTIVE' }).waitFor();
    await nothingAppendedBy(dso.key, size, nonce + 1, dso.secretKey);
    await shot(page, 'network-desktop');

    // A tariff whose fees fall as the path widens: refused in the page, naming the field.
    await page.fill('#tariff-form input[name=fee-beyond]', '0.0100');
    await page.click('#tariff-form button[type=submit]');
    await statusOf(page, '#tariff-form').filter({ hasText: 'beyond fee' }).waitFor();
    assert.equal(await page.locator('dialog#sign-dialog').count(), 0);
    // A tariff: appended, and the view lists it.
    await page.fill('#tariff-form input[name=fee-beyond]', '0.1000');
    await page.click('#tariff-form button[type=submit]');
    const tariff = await shownTx(page);
    assert.deepEqual(tariff.body.feesMicroPerKwh, { local: 0, feeder: 20_000, substation: 40_000, beyond: 100_000 });
    await page.click('#sign-confirm');
    const tariffEntry = await appended(page, '#tariff-form');
    assert.equal((await entriesFrom(tariffEntry))[0]!.type, 'tariff.set');
    assert.match((await page.locator('#tariffs tbody tr', { hasText: String(tariffEntry) }).textContent())!, /0\.1000 CHF\/kWh.*(to come|in force).*DSO/);
    assert.equal((await network()).tariffs.history.find((t) => t.entry === tariffEntry)?.signedBy, dso.key, 'GET /v1/network lists it');

    // A flexibility request (the demo has no flexible assets, which the view says; the request itself is admitted).
    assert.match((await page.textContent('#h-flex + p'))!, /No flexible assets/);
    await page.click('#flex-form button[type=submit]');
    const flex = await shownTx(page);
    assert.equal(flex.type, 'flex.request');
    await page.click('#sign-confirm');
    const flexEntry = await appended(page, '#flex-form');
    const requests = await get<{ request: string; entry: number }[]>('/v1/flex/requests');
    assert.equal(requests.find((r) => r.request === flex.body.request)?.entry, flexEntry);
    await page.locator('#flex-requests tbody tr', { hasText: String(flex.body.request) }).waitFor();
    size = await logSize();
    assert.ok(size > flexEntry);

    const phone = await open('#/network', dso.secretKey, 'network', { width: 390, height: 844 });
    await noSideScroll(phone);
    await shot(phone, 'network-phone');
    assert.deepEqual([...page.errors, ...phone.errors], []);
  });
});
