import type { Browser, Page } from 'playwright-core';
import { toBase64Url } from '../../src/ledger/index.ts';
import { seededKey } from './community.ts';

/** A dashboard page with the errors it threw, as the browser tests of the views use it. */
export type ViewPage = Page & { errors: string[] };

/**
 * dashboardPages: opening views of the dashboard at `baseUrl()` in a desktop viewport whose
 * clock runs from `now` (the server's: session tokens expire by that time), waiting for a
 * view to be ready, and logging in with a seeded key pasted in the login form.
 */
export function dashboardPages(browser: () => Browser, baseUrl: () => string, now: number) {
  const open = async (hash: string): Promise<ViewPage> => {
    const ctx = await browser().newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB' });
    await ctx.clock.install({ time: now });
    const page = (await ctx.newPage()) as ViewPage;
    page.errors = [];
    page.on('pageerror', (e) => page.errors.push(e.message));
    await page.goto(`${baseUrl()}/${hash}`);
    return page;
  };
  const ready = (page: Page, view: string) => page.waitForSelector(`body[data-ready="${view}"]`, { timeout: 30_000 });
  const login = async (page: Page, label: string) => {
    await page.waitForSelector('#login-form');
    await page.fill('#login-form textarea', toBase64Url(seededKey(label).secretKey));
    await page.click('#login-form button');
  };
  return { open, ready, login };
}
