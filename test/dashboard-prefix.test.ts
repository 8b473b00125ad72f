import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { serve } from '../src/cli/serve.ts';
import { findChromium } from './support/chromium.ts';

/**
 * The dashboard under a path prefix, as a multi-community server serves each community
 * (`/c/<id>/`, src/server/multi.ts): the one-community demo (`openlec serve --demo`) behind
 * a small proxy that serves it under two prefixes, `/c/demo%2Fx/` and `/c/demo%2Fy/`,
 * answers GET /v1/communities as the multi-community server does, and refuses (404) and
 * records anything else. The page must load its assets and call the API under its own
 * prefix only, name the community, link to the list at `/`, and pick another community
 * without carrying the session there. Screenshots: test-artifacts/browser/prefix-*.png.
 * OPENLEC_WEB_DIR: another build (vite build --outDir).
 */
const SHOTS = join(import.meta.dirname, '..', 'test-artifacts', 'browser');
const WEB = process.env.OPENLEC_WEB_DIR ?? join(import.meta.dirname, '..', 'web', 'dist');
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const X = '/c/demo%2Fx/';
const Y = '/c/demo%2Fy/';
const LISTED = { communities: [{ id: 'demo/x', path: X, name: 'Demo X' }, { id: 'demo/y', path: Y, name: null }] };

interface Seen { method: string; path: string; auth: boolean; status: number }

describe('dashboard under a community prefix (/c/<id>/)', () => {
  let server: Awaited<ReturnType<typeof serve>>;
  let proxy: Server;
  let base = '';
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  /** Every request the proxy got, in order. */
  const seen: Seen[] = [];

  const open = async (url: string, bypassCSP = false): Promise<Page & { errors: string[] }> => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB', bypassCSP });
    contexts.push(ctx);
    const page = (await ctx.newPage()) as Page & { errors: string[] };
    page.errors = [];
    page.on('pageerror', (e) => page.errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error' && !/status of 40[13]/.test(m.text())) page.errors.push(m.text()); });
    await page.goto(url);
    return page;
  };
  const ready = (page: Page, view: string) => page.waitForSelector(`body[data-ready="${view}"]`, { timeout: 30_000 });

  before(async () => {
    assert.ok(existsSync(join(WEB, 'index.html')), 'the dashboard is built by `npm run build` (npm test does it first), or OPENLEC_WEB_DIR names a build');
    assert.match(readFileSync(join(WEB, 'index.html'), 'utf8'), /src="\.\/assets\//, 'the build has relative asset URLs (vite base "./"): rebuild it');
    mkdirSync(SHOTS, { recursive: true });
    server = await serve({ demo: true, dir: process.env.DEMO_DIR ?? mkdtempSync(join(tmpdir(), 'openlec-prefix-')), port: 0, host: '127.0.0.1', tick: 600 });
    const target = new URL(server.url);
    proxy = createServer((req, res) => {
      const url = req.url ?? '/';
      const r: Seen = { method: req.method ?? 'GET', path: url, auth: req.headers.authorization !== undefined, status: 0 };
      seen.push(r);
      res.on('finish', () => { r.status = res.statusCode; });
      if (url === '/v1/communities' && req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
        return void res.end(JSON.stringify(LISTED));
      }
      const prefix = [X, Y].find((p) => url.startsWith(p));
      if (!prefix) {
        res.writeHead(404, { 'content-type': 'application/json; charset=utf-8' });
        return void res.end('{"code":"E_NOT_FOUND"}');
      }
      r.status = -1; // streaming (the event stream never finishes)
      const up = request({ host: target.hostname, port: target.port, method: req.method, path: url.slice(prefix.length - 1), headers: { ...req.headers, host: target.host }, agent: false }, (u) => {
        r.status = u.statusCode ?? 502;
        res.writeHead(u.statusCode ?? 502, u.headers);
        u.pipe(res);
      });
      up.on('error', () => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
      // A request the browser gave up on (an event stream of a closed page) ends upstream too.
      res.on('close', () => up.destroy());
      req.pipe(up);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
    const found = await findChromium();
    browser = await chromium.launch({ executablePath: found.executablePath, headless: true, args: found.args });
  });
  after(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    proxy?.closeAllConnections();
    await new Promise((r) => (proxy ? proxy.close(r) : r(undefined)));
    await server?.close();
  });

  test('the community view loads its assets and calls the API under the prefix, and names the community', async () => {
    const from = seen.length;
    const page = await open(`${base}${X}`, true);
    await ready(page, 'community');
    const c = (await (await fetch(`${base}${X}v1/community`)).json()) as { name: string };
    assert.ok(c.name.length > 0);
    assert.equal(await page.textContent('#view h1'), c.name, 'the heading is the community\'s name, from the API');
    assert.match((await page.textContent('#kpi-fedin'))!, /\d.*kWh/, 'a tile of real data');
    await page.waitForSelector('#community-select');
    assert.equal(await page.textContent('#community-name'), c.name);
    assert.equal(await page.getAttribute('#other-communities', 'href'), '/', '"Other communities" links to the list at /');
    assert.equal(await page.title(), `${c.name}: openlec`);
    // The picker: a labelled select of the listed communities, this one chosen.
    assert.equal(await page.textContent('label[for="community-select"]'), 'Community');
    assert.deepEqual(await page.$$eval('#community-select option', (os) => os.map((o) => [(o as unknown as { value: string }).value, o.textContent])), [[X, 'Demo X'], [Y, 'demo/y']]);
    assert.equal(await page.$eval('#community-select', (s) => (s as unknown as { value: string }).value), X);
    // Let the event stream connect, then look at what was asked.
    for (let i = 0; i < 100 && !seen.slice(from).some((r) => r.path === `${X}v1/events`); i++) await new Promise((r) => setTimeout(r, 100));
    const asked = seen.slice(from);
    const outside = asked.filter((r) => !r.path.startsWith(X) && r.path !== '/v1/communities');
    assert.deepEqual(outside, [], 'nothing asked outside the prefix but the list of communities');
    const paths = asked.map((r) => r.path.split('?')[0]!);
    assert.ok(paths.some((p) => new RegExp(`^${X}assets/index-[^/]+\\.js$`).test(p)), `the script under the prefix: ${paths.join(' ')}`);
    assert.ok(paths.some((p) => new RegExp(`^${X}assets/index-[^/]+\\.css$`).test(p)), 'the style sheet under the prefix');
    for (const p of ['v1/community', 'v1/community/energy', 'v1/dashboard/community', 'v1/events']) assert.ok(paths.includes(`${X}${p}`), `${X}${p} asked`);
    assert.deepEqual(asked.filter((r) => r.status >= 400), [], 'no request failed');
    // The header with the picker has no serious or critical accessibility violation.
    await page.addScriptTag({ path: AXE });
    const violations = await page.evaluate(async () => {
      const g = globalThis as unknown as { axe: { run(ctx: unknown, o: unknown): Promise<{ violations: { id: string; impact: string }[] }> } };
      return (await g.axe.run({ include: [['header']] }, { resultTypes: ['violations'] })).violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id);
    });
    assert.deepEqual(violations, []);
    await page.screenshot({ path: join(SHOTS, 'prefix-desktop.png') });
    // On a phone the header with the picker still fits.
    await page.setViewportSize({ width: 390, height: 844 });
    // The charts redraw at the new width when their resize observer fires, a frame or more
    // after the resize: give them up to 5 s, then the page must fit.
    await page.waitForFunction(() => {
      const g = globalThis as unknown as { document: { documentElement: { scrollWidth: number } }; innerWidth: number };
      return g.document.documentElement.scrollWidth - g.innerWidth <= 0;
    }, undefined, { timeout: 5_000 }).catch(() => undefined);
    assert.ok(await page.evaluate('document.documentElement.scrollWidth - innerWidth') as number <= 0, 'no sideways scroll on a phone');
    await page.screenshot({ path: join(SHOTS, 'prefix-phone.png') });
    assert.deepEqual(page.errors, []);
  });

  test('a session stays with its community: picking another does not carry the token there', async () => {
    const page = await open(`${base}${X}#/me`);
    await ready(page, 'login');
    await page.fill('#login-form textarea', server.logins.auditor!.secretKey);
    await page.click('#login-form button');
    await page.waitForSelector('#logout');
    await page.evaluate(() => { (globalThis as unknown as { location: { hash: string } }).location.hash = '#/ledger'; });
    await ready(page, 'ledger');
    assert.deepEqual(await page.evaluate(() => Object.keys((globalThis as unknown as { sessionStorage: object }).sessionStorage)), [`openlec.session ${X}`], 'the session is kept under the prefix');
    assert.ok(seen.some((r) => r.path.startsWith(`${X}v1/`) && r.auth), 'the session is used in its own community');

    // The views seen so far may still be checking proofs in the background: once nothing has
    // been asked for half a second, pick the other community.
    for (let n = -1, t0 = Date.now(); n !== seen.length && Date.now() - t0 < 15_000;) {
      n = seen.length;
      await new Promise((r) => setTimeout(r, 500));
    }
    const from = seen.length;
    await page.selectOption('#community-select', Y);
    await page.click('#community-picker button');
    await page.waitForURL(`${base}${Y}`);
    await ready(page, 'community');
    assert.equal(await page.textContent('#who'), 'log in', 'not logged in in the other community');
    await page.evaluate(() => { (globalThis as unknown as { location: { hash: string } }).location.hash = '#/me'; });
    await ready(page, 'login');
    await page.waitForSelector('#community-select');
    assert.equal(await page.$eval('#community-select', (s) => (s as unknown as { value: string }).value), Y);
    const there = seen.slice(from).filter((r) => r.path.startsWith(`${Y}v1/`));
    assert.ok(there.length > 0);
    assert.deepEqual(there.filter((r) => r.auth).map((r) => r.path), [], 'no token sent to the other community');
    assert.deepEqual(seen.slice(from).filter((r) => r.path.startsWith(X)), [], 'nothing asked of the first community from the second');

    // Back in the first community (same tab), its session is still there.
    await page.goto(`${base}${X}#/ledger`);
    await ready(page, 'ledger');
    assert.match((await page.textContent('#who'))!, /auditor/);
    assert.deepEqual(page.errors, []);
  });
});
