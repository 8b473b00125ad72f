import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { serve } from '../../src/cli/serve.ts';
import { findChromium } from '../../test/support/chromium.ts';
const t0 = Date.now();
const server = await serve({ demo: true, dir: process.env.DEMO_DIR ?? mkdtempSync(join(tmpdir(), 'openlec-shot-')), port: 0, host: '127.0.0.1', tick: 600 });
console.log('served in', Date.now() - t0, 'ms', server.url);
const found = await findChromium();
const browser = await chromium.launch({ executablePath: found.executablePath, headless: true, args: found.args });
for (const spec of process.argv.slice(2)) {
  const [hash, role, w] = spec.split('|');
  const ctx = await browser.newContext({ viewport: { width: Number(w ?? 1280), height: 900 }, locale: 'en-GB' });
  const page = await ctx.newPage();
  page.on('pageerror', (e) => console.log('pageerror', e.message));
  page.on('console', (m) => { if (m.type() === 'error') console.log('console', m.text()); });
  await page.goto(`${server.url}/${hash}`);
  if (role) { await page.waitForSelector('#login-form'); await page.fill('#login-form textarea', server.logins[role]!.secretKey); await page.click('#login-form button'); }
  await page.waitForSelector('body[data-ready]:not([data-ready="login"])', { timeout: 30000 }).catch(() => console.log('not ready'));
  await page.waitForTimeout(500);
  const name = `/tmp/shots/${(hash.replace(/[#/?=&]/g, '_') || 'home')}-${role ?? 'anon'}-${w ?? 1280}.png`;
  await page.screenshot({ path: name, fullPage: true });
  console.log('shot', name);
  await ctx.close();
}
await browser.close();
await server.close();
