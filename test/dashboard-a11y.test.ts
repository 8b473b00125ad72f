import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { serve } from '../src/cli/serve.ts';
import { findChromium } from './support/chromium.ts';

/**
 * Every view of the dashboard, for each role that uses it, at desktop and phone size:
 * axe-core (the npm package's own engine, injected into the page) finds no serious or
 * critical violation, a phone never scrolls sideways and shows no text under 11 px, and a
 * screenshot of each is kept in test-artifacts/browser/views/.
 */
const SHOTS = join(import.meta.dirname, '..', 'test-artifacts', 'browser', 'views');
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/** The views each role opens (a role's own, then the public ones it also sees). */
const VIEWS: Record<string, string[]> = {
  public: ['', 'market', 'certificates', 'flex', 'charging', 'ledger', 'me'],
  member: ['me', 'orders', 'origin', 'allocation', 'charging-mine', 'flex-earnings', 'api-keys'],
  operator: ['operate', 'allocation', 'ledger'],
  dso: ['network', 'flex'],
};
const SIZES = { desktop: { width: 1280, height: 900 }, phone: { width: 390, height: 844 } };

interface Violation { id: string; impact: string; help: string; nodes: { target: string[]; failureSummary?: string }[] }

describe('dashboard: accessibility and phone layout of every view', () => {
  let server: Awaited<ReturnType<typeof serve>>;
  let browser: Browser;
  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    server = await serve({ demo: true, dir: mkdtempSync(join(tmpdir(), 'openlec-a11y-')), port: 0, host: '127.0.0.1', tick: 600 });
    const found = await findChromium();
    browser = await chromium.launch({ executablePath: found.executablePath, headless: true, args: found.args });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  /** visit opens a view and waits until it is drawn (or asks to log in, or shows an error). */
  const visit = async (page: Page, hash: string) => {
    await page.goto(`${server.url}/#/${hash}`);
    await page.waitForFunction(() => {
      const d = (globalThis as unknown as { document: { body: { dataset: Record<string, string> }; getElementById(id: string): unknown } }).document;
      return d.body.dataset.ready !== undefined || d.getElementById('error') !== null;
    }, undefined, { timeout: 30_000 });
    // Charts are drawn after the HTML: let them, and the automatic checks, settle.
    await page.waitForTimeout(300);
  };

  const axe = async (page: Page): Promise<Violation[]> => {
    await page.addScriptTag({ path: AXE });
    const r = await page.evaluate(async () => {
      const g = globalThis as unknown as { axe: { run(ctx: unknown, o: unknown): Promise<{ violations: Violation[] }> }; document: unknown };
      return (await g.axe.run(g.document, { resultTypes: ['violations'] })).violations;
    });
    return r.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  };

  /** Visible text smaller than 11 px, and how far the page scrolls sideways. */
  const phoneLayout = (page: Page) => page.evaluate(() => {
    interface El { textContent: string | null; parentElement: El | null; tagName: string; className: string; closest(s: string): El | null; getBoundingClientRect(): { width: number; height: number } }
    const g = globalThis as unknown as {
      document: { body: El; documentElement: { scrollWidth: number }; createTreeWalker(root: El, what: number): { nextNode(): El | null } };
      innerWidth: number; getComputedStyle(e: El): { fontSize: string; visibility: string }; NodeFilter: { SHOW_TEXT: number };
    };
    const small: string[] = [];
    const walker = g.document.createTreeWalker(g.document.body, g.NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const text = (n.textContent ?? '').trim();
      const el = n.parentElement;
      if (!text || !el || el.closest('details:not([open]) > :not(summary)') || el.closest('dialog:not([open])')) continue;
      const box = el.getBoundingClientRect();
      if (box.width === 0 || box.height === 0 || g.getComputedStyle(el).visibility === 'hidden') continue;
      // SVG text is drawn at its font size times the scale of the drawing (rendered width ÷ viewBox width).
      const svg = el.closest('svg') as (El & { viewBox?: { baseVal: { width: number } | null } }) | null;
      const scale = svg?.viewBox?.baseVal?.width ? svg.getBoundingClientRect().width / svg.viewBox.baseVal.width : 1;
      const size = Math.round(Number.parseFloat(g.getComputedStyle(el).fontSize) * scale * 10) / 10;
      if (size < 11) small.push(`${size}px "${text.slice(0, 30)}" in <${el.tagName.toLowerCase()} class="${el.className}">`);
    }
    return { small, overflow: g.document.documentElement.scrollWidth - g.innerWidth };
  });

  for (const [role, hashes] of Object.entries(VIEWS)) {
    for (const [size, viewport] of Object.entries(SIZES)) {
      test(`${role}, ${size}: ${hashes.map((h) => `#/${h}`).join(' ')}`, async () => {
        // bypassCSP: only so that axe-core can be injected; the page's own script runs under the dashboard's CSP otherwise.
        const ctx = await browser.newContext({ viewport, locale: 'en-GB', bypassCSP: true });
        const page = await ctx.newPage();
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(e.message));
        try {
          if (role !== 'public') {
            await page.goto(`${server.url}/#/me`);
            await page.waitForSelector('#login-form');
            await page.fill('#login-form textarea', server.logins[role]!.secretKey);
            await page.click('#login-form button');
            await page.waitForSelector('body[data-ready]:not([data-ready="login"])', { timeout: 30_000 });
          }
          const found: string[] = [];
          for (const hash of hashes) {
            await visit(page, hash);
            const error = await page.$('#error');
            if (error) found.push(`#/${hash}: the view failed: ${await error.textContent()}`);
            for (const v of await axe(page)) found.push(`#/${hash}: ${v.impact} ${v.id} (${v.help}) at ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
            if (size === 'phone') {
              const l = await phoneLayout(page);
              assert.ok(l.overflow <= 0, `#/${hash} scrolls sideways by ${l.overflow} px on a phone`);
              assert.deepEqual(l.small.slice(0, 5), [], `#/${hash}: text under 11 px on a phone`);
            }
            await page.screenshot({ path: join(SHOTS, `${hash || 'community'}-${role}-${size}.png`), fullPage: true });
          }
          assert.deepEqual(found, [], 'no serious or critical axe-core violation');
          assert.deepEqual(errors, []);
        } finally {
          await ctx.close();
        }
      });
    }
  }
});
