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

/**
 * untilText waits until the text content of `selector`'s first match passes `want` (a prefix,
 * an exact text, a regular expression's source, or, with `count`, the number of matches being
 * other than `count`).
 *
 * The dashboard's Content-Security-Policy forbids eval, and Playwright polls a predicate given
 * as a string by eval-ing it again on every try: one such wait that is not true at once fails
 * with an EvalError. A function is compiled once, in the evaluation, so this is one.
 */
export function untilText(
  page: Page,
  selector: string,
  want: { startsWith?: string; equals?: string; matches?: string; countNot?: number },
  timeout = 30_000,
) {
  return page.waitForFunction(
    ([sel, w]) => {
      type El = { textContent: string | null };
      const d = (globalThis as unknown as { document: { querySelector(s: string): El | null; querySelectorAll(s: string): { length: number } } }).document;
      if (w.countNot !== undefined) return d.querySelectorAll(sel).length !== w.countNot;
      const text = d.querySelector(sel)?.textContent;
      if (text == null) return false;
      return (w.startsWith === undefined || text.startsWith(w.startsWith))
        && (w.equals === undefined || text === w.equals)
        && (w.matches === undefined || new RegExp(w.matches).test(text));
    },
    [selector, want] as const,
    { timeout },
  );
}
