import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { serve } from '../src/cli/serve.ts';
import { encodeKey, fromBase64Url, keyPairFromSeed, sign, signTransaction, toBase64Url, TX_VERSION, utf8 } from '../src/ledger/index.ts';
import { CSV_DEFAULTS, parseCsv } from '../src/metering/import/csv.ts';
import { importError, type LineError, StepSet } from '../src/metering/import/steps.ts';
import { localDay } from '../src/units/interval.ts';
import { findChromium } from './support/chromium.ts';
import { untilText } from './support/dashboard.ts';

/**
 * The operator's actions and the meter files in chromium, against the live demo: the
 * allocation of the running month signed in the page and its DSO file downloaded; the
 * market configured (and a refused configuration appending nothing); a French DSO load
 * curve imported by the DSO (all its readings appended at once), a malformed one refused
 * line by line, and the operator's check of a file against the DSO-signed readings; a
 * generic CSV read in the page by the CLI's importer (on csv-parse's browser build), its
 * errors per line the CLI's own, then imported by the DSO.
 */
const SHOTS = join(import.meta.dirname, '..', 'test-artifacts', 'browser');
const PRM = '30001234567890';

describe('dashboard: the operator\'s actions and the meter files in chromium', () => {
  let server: Awaited<ReturnType<typeof serve>>;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const tokens: Record<string, string> = {};

  const open = async (hash: string, viewport = { width: 1280, height: 900 }): Promise<Page & { errors: string[] }> => {
    const ctx = await browser.newContext({ viewport, locale: 'en-GB', acceptDownloads: true });
    contexts.push(ctx);
    const page = (await ctx.newPage()) as Page & { errors: string[] };
    page.errors = [];
    page.on('pageerror', (e) => page.errors.push(e.message));
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
  const keyOf = (role: string) => keyPairFromSeed(fromBase64Url(server.logins[role]!.secretKey)!);
  /** The API as a role (a token from a signed challenge, as the page gets it). */
  const api = async <T>(role: string, path: string, init: { method?: string; body?: unknown } = {}): Promise<T> => {
    if (!tokens[role]) {
      const ch = await (await fetch(`${server.url}/v1/auth/challenge`, { method: 'POST' })).json() as { challenge: string; message: string };
      const signature = toBase64Url(sign(keyOf(role).secretKey, utf8(ch.message)));
      const t = await (await fetch(`${server.url}/v1/auth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: server.logins[role]!.key, challenge: ch.challenge, signature }) })).json() as { token: string };
      tokens[role] = t.token;
    }
    const res = await fetch(`${server.url}${path}`, {
      method: init.method ?? 'GET', headers: { authorization: `Bearer ${tokens[role]}`, ...(init.body ? { 'content-type': 'application/json' } : {}) }, ...(init.body ? { body: JSON.stringify(init.body) } : {}),
    });
    const text = await res.text();
    assert.ok(res.ok, `${path}: ${res.status} ${text}`);
    return (res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) as T : text as T;
  };
  const size = async () => (await (await fetch(`${server.url}/v1/community`)).json() as { size: number }).size;
  const lastEntries = async (n: number) => {
    const s = await size();
    return (await api<{ entries: { entry: number; type: string; actor: string; body: Record<string, unknown> }[] }>('operator', `/v1/log?from=${s - n}&limit=${n}`)).entries;
  };

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    // A slow tick: the log stays still while the test reads and signs.
    server = await serve({ demo: true, dir: mkdtempSync(join(tmpdir(), 'openlec-operator-')), port: 0, host: '127.0.0.1', tick: 600 });
    const found = await findChromium();
    browser = await chromium.launch({ executablePath: found.executablePath, headless: true, args: found.args });
  });
  after(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await server?.close();
  });

  test('the operator runs the allocation of the running month, signs exactly the planned body and downloads the DSO file', async () => {
    const page = await open('#/operate');
    await login(page, 'operator');
    await ready(page, 'operate');
    const c = await (await fetch(`${server.url}/v1/community`)).json() as { serverTime: string; timeZone: string };
    const month = new Intl.DateTimeFormat('en-CA', { timeZone: c.timeZone, year: 'numeric', month: '2-digit' }).format(new Date(c.serverTime)).slice(0, 7);
    assert.equal(await page.inputValue('#allocation-form input[name="month"]'), month);
    const plan = await api<{ body: { productionWh: number; allocatedWh: number; members: unknown[] }; recorded: { runs: number } | null }>('operator', `/v1/allocations/${month}/plan?key=prorata`);
    assert.ok(plan.body.members.length > 0);
    assert.equal(await page.textContent('#plan-production'), `${(plan.body.productionWh / 1000).toFixed(1)} kWh`);
    assert.equal(await page.textContent('#plan-members'), String(plan.body.members.length));
    await shot(page, 'operate-desktop');

    const before = await size();
    await page.click('#allocation-run');
    await page.waitForSelector('#sign-dialog[open]');
    const shown = JSON.parse((await page.textContent('#sign-tx'))!) as { type: string; body: unknown; actor: string };
    assert.equal(shown.type, 'allocation.run');
    assert.equal(shown.actor, server.logins.operator!.key);
    assert.deepEqual(shown.body, plan.body, 'the dialog shows the body the server planned');
    await page.click('#sign-confirm');
    await page.waitForSelector('#allocation-form .action-status.ok, #sign-error:not(:empty)');
    assert.equal(await page.$('#sign-error'), null, 'no refusal');
    const [entry] = await lastEntries(1);
    assert.equal(await size(), before + 1);
    assert.equal(entry!.type, 'allocation.run');
    assert.deepEqual(entry!.body, plan.body, 'what was appended is what was shown');
    assert.equal(entry!.actor, server.logins.operator!.key);
    // The view is drawn again: the recorded run is the new entry.
    await ready(page, 'operate');
    await untilText(page, '#plan-recorded', { startsWith: `entry ${entry!.entry},` });
    const row = await page.$$eval('#operate-allocations tbody tr', (trs, m) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)).find((r) => r[0] === m), month);
    assert.equal(row![5], String(entry!.entry));
    assert.equal(row![4], String((plan.recorded?.runs ?? 0) + 1));

    // The DSO's coefficient file, downloaded with the session's token: the server's file for that month.
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click(`#operate-allocations button[data-file="coefficients-fr.csv"][data-month="${month}"]`)]);
    assert.equal(dl.suggestedFilename(), `coefficients-fr-${month}.csv`);
    const text = readFileSync((await dl.path())!, 'utf8');
    assert.equal(text, await api<string>('operator', `/v1/allocations/${month}/files/coefficients-fr.csv`));
    assert.match(text, /^Identifiant PRM;Horodate debut;Coefficient \(%\)/);
    assert.match((await page.textContent('#download-status'))!, /^Downloaded coefficients-fr-/);
    assert.deepEqual(page.errors, []);

    const phone = await open('#/operate', { width: 390, height: 844 });
    await login(phone, 'operator');
    await ready(phone, 'operate');
    assert.ok(await phone.evaluate('document.documentElement.scrollWidth <= 390'), 'no sideways scroll on a phone');
    await shot(phone, 'operate-phone');
  });

  test('the operator configures the market; a refused configuration shows the error and appends nothing', async () => {
    const page = await open('#/operate');
    await login(page, 'operator');
    await ready(page, 'operate');
    const cfg = await api<{ configs: { mechanism: string; retailMicroPerKwh: number }[] }>('operator', '/v1/market/config');
    const current = cfg.configs.at(-1)!;
    const mechanism = current.mechanism === 'midpoint' ? 'uniform' : 'midpoint';
    await page.selectOption('#market-form select[name="mechanism"]', mechanism);
    await page.fill('#market-form input[name="gate"]', '45');
    const before = await size();
    await page.click('#market-configure');
    await page.waitForSelector('#sign-dialog[open]');
    const shown = JSON.parse((await page.textContent('#sign-tx'))!) as { type: string; body: { mechanism: string; gateClosureMinutes: number; retailMicroPerKwh: number } };
    assert.equal(shown.type, 'market.configure');
    assert.equal(shown.body.mechanism, mechanism);
    assert.equal(shown.body.gateClosureMinutes, 45);
    assert.equal(shown.body.retailMicroPerKwh, current.retailMicroPerKwh, 'unchanged fields keep their value');
    await page.click('#sign-confirm');
    await page.waitForSelector('#market-form .action-status.ok', { timeout: 15_000 });
    assert.equal(await size(), before + 1);
    const [entry] = await lastEntries(1);
    assert.equal(entry!.type, 'market.configure');
    await ready(page, 'operate');
    await untilText(page, '#market-configs tbody tr td:last-child', { equals: String(entry!.entry) });
    const first = await page.$$eval('#market-configs tbody tr:first-child td', (tds) => tds.map((td) => td.textContent));
    assert.deepEqual([first[2], first[4]], [mechanism, '45 min']);
    const after = await api<{ configs: { mechanism: string; entry: number }[] }>('operator', '/v1/market/config');
    assert.deepEqual([after.configs.at(-1)!.mechanism, after.configs.at(-1)!.entry], [mechanism, entry!.entry]);

    // A feed-in price above the retail price: the log refuses it, the dialog says why, nothing is appended.
    const size2 = await size();
    await page.fill('#market-form input[name="feedIn"]', '9.5');
    await page.fill('#market-form input[name="retail"]', '0.2');
    await page.click('#market-configure');
    await page.waitForSelector('#sign-dialog[open]');
    await page.click('#sign-confirm');
    await page.waitForSelector('#sign-error:not(:empty)');
    assert.match((await page.textContent('#sign-error'))!, /^Refused \(E_PRICE_BOUNDS, field body\.feedInMicroPerKwh\): feed-in price 9500000 is above the retail price 200000\. Nothing was appended\.$/);
    await page.click('#sign-cancel');
    assert.match((await page.textContent('#market-form .action-status'))!, /^Refused \(E_PRICE_BOUNDS/);
    assert.equal(await size(), size2, 'the log did not grow');
    // A value the page cannot read is refused before anything is signed.
    await page.fill('#market-form input[name="retail"]', 'cheap');
    await page.click('#market-configure');
    await page.waitForSelector('#market-form .action-status.error');
    assert.match((await page.textContent('#market-form .action-status'))!, /retail price: "cheap" is not a price/);
    assert.equal(await page.$('#sign-dialog'), null);
    assert.deepEqual(page.errors, []);
  });

  test('the DSO imports a French DSO load curve all at once; a malformed file is refused line by line; the operator checks a file against the log', async () => {
    // A French metering point (PRM) for the demo member, registered by the DSO, whose export
    // carries the member's metered curve of two past days.
    const dso = keyOf('dso');
    const c = await (await fetch(`${server.url}/v1/community`)).json() as { id: string; serverTime: string; timeZone: string };
    const meters = await api<{ meter: string; direction: string; owner: string; feeder: string | null }[]>('dso', '/v1/meters');
    const home = meters.find((m) => m.owner === server.logins.member!.key && m.direction === 'import')!;
    const me = await api<{ nonce: number }>('dso', '/v1/me');
    const register = signTransaction({ v: TX_VERSION, type: 'meter.register', community: c.id, actor: encodeKey(dso.publicKey), nonce: me.nonce + 1, issuedAt: c.serverTime.replace(/\.\d{3}Z$/, 'Z'), body: { meter: PRM, scheme: 'PRM', direction: 'import', owner: home.owner, feeder: home.feeder } }, dso.secretKey);
    await api('dso', '/v1/transactions', { method: 'POST', body: register });
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: c.timeZone }).format(new Date(c.serverTime));
    const day = (k: number) => new Date(Date.parse(`${today}T00:00:00Z`) - k * 86_400_000).toISOString().slice(0, 10);
    const curves = await api<{ meter: string; direction: string; date: string; values: (number | null)[] }[]>('dso', `/v1/members/${home.owner}/curves?from=${day(3)}&to=${day(2)}`);
    const days = curves.filter((r) => r.meter === home.meter && r.direction === 'import');
    assert.equal(days.length, 2);
    // END time stamps, average W over each 30-minute step (Wh × 2), as the DSO exports them.
    const rows: string[] = [];
    const starts: Record<string, number[]> = {};
    for (const d of days) {
      // The local midnight (the offset at noon is an hour off on the day of a clock change).
      const start = localDay(d.date, c.timeZone).startMs;
      starts[d.date] = d.values.map((_, k) => start + k * 1_800_000);
      d.values.forEach((v, k) => rows.push(`${new Date(start + (k + 1) * 1_800_000).toISOString().replace('.000Z', '+00:00')};${v! * 2}`));
    }
    const header = 'Identifiant PRM;Type de donnees;Date de debut;Date de fin;Grandeur physique;Grandeur metier;Etape metier;Unite;Pas en minutes\n'
      + `${PRM};Courbe de charge;${days[0]!.date};${days[1]!.date};Energie active;Consommation;Comptage Brut;W;30\n\nHorodate;Valeur\n`;
    const file = header + rows.join('\n') + '\n';
    const whs = days.flatMap((d) => d.values as number[]);
    const total = whs.reduce((s, v) => s + v, 0);

    const page = await open('#/operate');
    await login(page, 'dso');
    await ready(page, 'operate');
    // A malformed file: the importer's errors, naming each line; nothing to sign.
    const bad = file.replace(rows[4]!, rows[4]!.replace(/;\d+$/, ';12,5')).replace(rows[9]!, `yesterday;${whs[9]! * 2}`);
    await page.selectOption('#meter-format', 'enedis');
    await page.setInputFiles('#meter-file', { name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from(bad) });
    const before = await size();
    await page.click('#meter-file-read');
    await page.waitForSelector('#meter-file-errors li');
    const errors = await page.$$eval('#meter-file-errors li', (lis) => lis.map((li) => li.textContent));
    assert.equal(errors.length, 2, errors.join('\n'));
    assert.match(errors[0]!, /^line 9: expected "Horodate;Valeur" with a non-negative integer in W/);
    assert.match(errors[1]!, /^line 14: /);
    assert.match((await page.textContent('#meter-file-refused'))!, /^2 rejected line\(s\), nothing imported/);
    assert.equal(await page.$('#meter-file-sign'), null, 'nothing to sign');
    assert.equal(await size(), before);

    // The file as exported: planned against the log, shown, signed all at once.
    await page.setInputFiles('#meter-file', { name: 'courbe.csv', mimeType: 'text/csv', buffer: Buffer.from(file) });
    await page.click('#meter-file-read');
    await page.waitForSelector('#meter-file-sign');
    assert.deepEqual([await page.textContent('#plan-meters'), await page.textContent('#plan-days'), await page.textContent('#plan-intervals'), await page.textContent('#plan-kwh')],
      ['1', '2', String(whs.length), `${(total / 1000).toFixed(1)} kWh`]);
    await shot(page, 'meter-files-desktop');
    await page.click('#meter-file-sign');
    await page.waitForSelector('#sign-dialog[open]');
    assert.match((await page.textContent('#sign-title'))!, /Sign these 2 transactions\?/);
    const shown = (await page.textContent('#sign-tx'))!;
    assert.ok(shown.includes(`"meter": "${PRM}"`) && shown.includes(`"date": "${days[0]!.date}"`) && shown.includes(`"date": "${days[1]!.date}"`));
    await page.click('#sign-confirm');
    await page.waitForSelector('#meter-file-status.ok, #sign-error:not(:empty)', { timeout: 15_000 });
    assert.match((await page.textContent('#meter-file-status'))!, /^Appended 2 transaction\(s\) to the log as entries \d+ to \d+\./);
    assert.equal(await size(), before + 2);
    const appended = await lastEntries(2);
    assert.deepEqual(appended.map((e) => [e.type, e.body.meter, e.body.date]), [['meter.readings', PRM, days[0]!.date], ['meter.readings', PRM, days[1]!.date]]);
    const recorded = await api<{ date: string; values: number[] }[]>('dso', `/v1/readings?from=${day(3)}&to=${day(2)}&meters=${PRM}`);
    assert.deepEqual(recorded.map((r) => r.values), days.map((d) => d.values));
    // The same file again: nothing new.
    await page.click('#meter-file-read');
    await page.waitForSelector('#meter-file-plan.ok');
    assert.match((await page.textContent('#meter-file-plan'))!, /all 2 day\(s\) of the file are recorded already/);
    assert.deepEqual(page.errors, []);

    const phone = await open('#/operate', { width: 390, height: 844 });
    await login(phone, 'dso');
    await ready(phone, 'operate');
    await phone.setInputFiles('#meter-file', { name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from(bad) });
    await phone.click('#meter-file-read');
    await phone.waitForSelector('#meter-file-errors li');
    assert.ok(await phone.evaluate('document.documentElement.scrollWidth <= 390'), 'no sideways scroll on a phone');
    await shot(phone, 'meter-files-phone');

    // The operator's check: one value changed in the file is named by its line; nothing is signed.
    const op = await open('#/operate');
    await login(op, 'operator');
    await ready(op, 'operate');
    const changed = file.replace(rows[20]!, rows[20]!.replace(/;\d+$/, `;${whs[20]! * 2 + 2}`));
    await op.setInputFiles('#meter-file', { name: 'check.csv', mimeType: 'text/csv', buffer: Buffer.from(changed) });
    const size3 = await size();
    await op.click('#meter-file-read');
    await op.waitForSelector('#meter-file-check');
    assert.match((await op.textContent('#meter-file-check'))!, new RegExp(`^1 interval value\\(s\\) of the file differ from the readings the DSO signed; ${whs.length - 1} the same, 0 not in the log yet`));
    const diff = await op.$$eval('#meter-file-diffs tbody tr td', (tds) => tds.map((td) => td.textContent));
    assert.deepEqual([diff[0], diff[1], diff[4], diff[5], diff[6]], ['25', PRM, String(whs[20]! + 1), String(whs[20]), String(appended[0]!.entry)]);
    assert.equal(await op.$('#meter-file-sign'), null);
    assert.equal(await size(), size3);
    assert.deepEqual(op.errors, []);
  });

  test('the DSO imports a generic CSV read in the page by the CLI\'s importer: its errors per line are the CLI\'s, then its readings are appended', async () => {
    // A meter of the demo member's, registered by the DSO, whose generic CSV export carries
    // the member's metered curve of two past days in 15-minute steps of kWh with decimal commas.
    const METER = 'ZH-GEN-0042';
    const dso = keyOf('dso');
    const c = await (await fetch(`${server.url}/v1/community`)).json() as { id: string; serverTime: string; timeZone: string };
    const meters = await api<{ meter: string; direction: string; owner: string; feeder: string | null }[]>('dso', '/v1/meters');
    const home = meters.find((m) => m.owner === server.logins.member!.key && m.direction === 'import')!;
    const me = await api<{ nonce: number }>('dso', '/v1/me');
    const register = signTransaction({ v: TX_VERSION, type: 'meter.register', community: c.id, actor: encodeKey(dso.publicKey), nonce: me.nonce + 1, issuedAt: c.serverTime.replace(/\.\d{3}Z$/, 'Z'), body: { meter: METER, scheme: 'other', direction: 'import', owner: home.owner, feeder: home.feeder } }, dso.secretKey);
    await api('dso', '/v1/transactions', { method: 'POST', body: register });
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: c.timeZone }).format(new Date(c.serverTime));
    const day = (k: number) => new Date(Date.parse(`${today}T00:00:00Z`) - k * 86_400_000).toISOString().slice(0, 10);
    const curves = await api<{ meter: string; direction: string; date: string; values: (number | null)[] }[]>('dso', `/v1/members/${home.owner}/curves?from=${day(5)}&to=${day(4)}`);
    const days = curves.filter((r) => r.meter === home.meter && r.direction === 'import');
    assert.equal(days.length, 2);
    const kwhCell = (wh: number) => `${Math.floor(wh / 1000)},${String(wh % 1000).padStart(3, '0')}`;
    const rows: string[] = [];
    for (const d of days) {
      const start = localDay(d.date, c.timeZone).startMs;
      d.values.forEach((v, k) => {
        const half = Math.floor(v! / 2);
        for (const [q, wh] of [[0, half], [1, v! - half]] as const) rows.push(`${METER};${new Date(start + k * 1_800_000 + q * 900_000).toISOString().replace('.000Z', 'Z')};${kwhCell(wh)};import`);
      });
    }
    // From the third row on the file is not plain (a quoted note with doubled quotes and a dash
    // whose UTF-8 bytes are in 0x80-0x9F): csv-parse reads the rest of it, in the page too.
    const lines = rows.map((r, k) => `${r};${k === 2 ? '"Zähler – ""Küche"""' : k % 7 === 0 ? '"ok"' : ''}`);
    const file = `meter;start;value;direction;note\n${lines.join('\n')}\n`;
    const whs = days.flatMap((d) => d.values as number[]);
    const total = whs.reduce((s, v) => s + v, 0);
    // A malformed copy: a direction no importer knows (with the dash) on line 5, a negative value on line 9.
    const bad = file.replace(lines[3]!, lines[3]!.replace(';import;', ';sideways–;')).replace(lines[7]!, lines[7]!.replace(/;\d+,(\d{3});import;/, ';-0,$1;import;'));
    // The CLI's importer in node, on the same bytes and options: the errors the page must show.
    const cli = new StepSet(30, 1000, 'bad.csv');
    await parseCsv([Buffer.from(bad)], cli, { ...CSV_DEFAULTS, unit: 'kWh', stepMinutes: 15 });
    const expected = (importError(cli.errors).details.errors as LineError[]).map((e) => `line ${e.line}: ${e.message}`);
    assert.deepEqual(expected.map((e) => e.split(':')[0]), ['line 5', 'line 9'], expected.join('\n'));
    assert.equal(expected[0], 'line 5: direction must be import or export, got "sideways–"');

    const page = await open('#/operate');
    await login(page, 'dso');
    await ready(page, 'operate');
    await page.selectOption('#meter-format', 'csv');
    await page.selectOption('#meter-file-form select[name="unit"]', 'kWh');
    await page.fill('#meter-file-form input[name="step"]', '15');
    await page.setInputFiles('#meter-file', { name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from(bad) });
    const before = await size();
    await page.click('#meter-file-read');
    await page.waitForSelector('#meter-file-errors li, #meter-file-status.error');
    assert.equal(await page.$('#meter-file-status.error'), null, (await page.textContent('#meter-file-status'))!);
    assert.deepEqual(await page.$$eval('#meter-file-errors li', (lis) => lis.map((li) => li.textContent)), expected);
    assert.match((await page.textContent('#meter-file-refused'))!, /^2 rejected line\(s\), nothing imported/);
    assert.equal(await page.$('#meter-file-sign'), null, 'nothing to sign');
    assert.equal(await size(), before);

    // The file as exported: 15-minute steps summed into the community's half-hours, planned, signed all at once.
    await page.setInputFiles('#meter-file', { name: 'export.csv', mimeType: 'text/csv', buffer: Buffer.from(file) });
    await page.click('#meter-file-read');
    await page.waitForSelector('#meter-file-sign');
    assert.deepEqual([await page.textContent('#plan-meters'), await page.textContent('#plan-days'), await page.textContent('#plan-intervals'), await page.textContent('#plan-kwh')],
      ['1', '2', String(whs.length), `${(total / 1000).toFixed(1)} kWh`]);
    await page.click('#meter-file-sign');
    await page.waitForSelector('#sign-dialog[open]');
    await page.click('#sign-confirm');
    await page.waitForSelector('#meter-file-status.ok, #sign-error:not(:empty)', { timeout: 15_000 });
    assert.match((await page.textContent('#meter-file-status'))!, /^Appended 2 transaction\(s\) to the log as entries \d+ to \d+\./);
    assert.equal(await size(), before + 2);
    const appended = await lastEntries(2);
    assert.deepEqual(appended.map((e) => [e.type, e.body.meter, e.body.direction, e.body.date]), [['meter.readings', METER, 'import', days[0]!.date], ['meter.readings', METER, 'import', days[1]!.date]]);
    const recorded = await api<{ date: string; values: number[] }[]>('dso', `/v1/readings?from=${day(5)}&to=${day(4)}&meters=${METER}`);
    assert.deepEqual(recorded.map((r) => r.values), days.map((d) => d.values), 'the readings recorded are the file\'s, to the Wh');
    assert.deepEqual(page.errors, []);
  });
});
