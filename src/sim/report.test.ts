import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { simulate } from './run.ts';
import { DEMO_SCENARIO, parseScenario } from './scenario.ts';

/** A small community: the demo's kinds of member, one or two of each, for two days. */
const SMALL = parseScenario({ ...DEMO_SCENARIO, name: 'small', days: 2, members: DEMO_SCENARIO.members.map((m) => ({ ...m, count: Math.min(2, ('count' in m ? m.count : undefined) ?? 1) })) });

/** The text of the page as a reader sees it (tags and attributes dropped). */
const visible = (html: string) => html.replace(/<style>[\s\S]*?<\/style>/g, ' ').replace(/<[^>]*>/g, ' ').replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/\s+/g, ' ');

describe('report.html', () => {
  let html = '';
  let kpis: Record<string, unknown> = {};
  before(async () => {
    const r = await simulate({ scenario: SMALL, out: mkdtempSync(join(tmpdir(), 'openlec-report-')), seed: '3' });
    html = readFileSync(join(r.out, 'report.html'), 'utf8');
    kpis = r.kpis as unknown as Record<string, unknown>;
  });

  test('self-contained and made for a phone', () => {
    assert.match(html, /<meta name="viewport" content="width=device-width, initial-scale=1">/);
    assert.doesNotMatch(html, /<script|https?:\/\/|@import|url\(/);
    // Every table scrolls inside its own box, never the page.
    assert.equal((html.match(/<table/g) ?? []).length, (html.match(/<div class="scroll"><table/g) ?? []).length);
    for (const id of ['chart-energy', 'chart-price', 'chart-flows', 'chart-money', 'chart-savings']) assert.match(html, new RegExp(`<svg id="${id}" [^>]*role="img" aria-label="[^"]{20,}"`), `${id} has a text alternative`);
  });

  test('dated axes in the scenario\'s zone, money in its currency', () => {
    // 1 June 2026 was a Monday; the run starts at local midnight in Europe/Zurich.
    assert.match(html, /<svg id="chart-energy"[\s\S]*?>Mon 1 Jun<[\s\S]*?<\/svg>/);
    assert.match(html, /aria-label="Consumption, solar production and energy shared, kWh per 30-minute interval: line chart, Mon 1 Jun 2026 00:00 to Tue 2 Jun 2026 23:30 \(Europe\/Zurich time\)/);
    const savings = kpis.savings as { totalMicro: number };
    assert.ok(html.includes(`${(savings.totalMicro / 1e6).toFixed(2)} CHF`), "the members' savings in CHF");
    assert.match(html, /<svg id="chart-money"[\s\S]*?>CHF<\/text>/, 'the money chart names its currency');
    assert.match(visible(html), /Average savings per member per month -?\d+\.\d\d CHF/);
  });

  test('key figures in plain words: no raw key is shown', () => {
    const text = visible(html);
    const keys = new Set<string>();
    const walk = (o: Record<string, unknown>) => {
      for (const [k, v] of Object.entries(o)) {
        keys.add(k);
        if (v && typeof v === 'object' && !Array.isArray(v)) walk(v as Record<string, unknown>);
      }
    };
    walk(kpis);
    for (const k of keys) if (/[a-z][A-Z]/.test(k)) assert.ok(!text.includes(k), `the raw key ${k} is shown`);
    assert.doesNotMatch(text, /\b[a-z]+[A-Z][a-zA-Z]*(Micro|Kwh|Pct|Wh)\b/, 'no camelCase figure name');
    for (const name of ['Self-sufficiency', 'Energy shared between neighbours', 'Average savings per member per month', 'Solar production', 'Network fees']) assert.ok(text.includes(name), name);
  });

  test('every key figure of kpis.json is shown, with its unit', () => {
    const cells = new Map([...html.matchAll(/<td class="num" data-kpi="([^"]+)" data-value="([^"]*)">([^<]*)<\/td>/g)].map((m) => [m[1]!, { raw: m[2]!, shown: m[3]! }]));
    let checked = 0;
    for (const [key, v] of Object.entries(kpis)) {
      const parts: [string, unknown][] = typeof v === 'object' && v !== null
        ? (['battery', 'savings', 'money', 'ledger'].includes(key) ? Object.entries(v).map(([k, x]) => [`${key}.${k}`, x] as [string, unknown]) : [])
        : [[key, v]];
      for (const [k, x] of parts) {
        const cell = cells.get(k);
        assert.ok(cell, `${k} is in the key figures`);
        assert.equal(cell.raw, String(x), `${k}: its value`);
        checked++;
        if (typeof x !== 'number') continue;
        const n = Number(/-?\d+(\.\d+)?/.exec(cell.shown)?.[0]);
        // What the shown number must be, by the unit it is shown with.
        const [expected, tolerance] = / CHF\/kWh$/.test(cell.shown) ? [x / 1e6, 5e-5]
          : / CHF$/.test(cell.shown) ? [x / 1e6, 5e-3]
          : / kWh$/.test(cell.shown) ? [/Wh$/.test(k) && !/Kwh$/.test(k) ? x / 1000 : x, 0.05]
          : / kW$/.test(cell.shown) ? [x, 0.05]
          : / %$/.test(cell.shown) ? [/Pct$/.test(k) ? x : x * 100, 0.05]
          : / kB$/.test(cell.shown) ? [x / 1000, 0.05]
          : [x, 5e-5];
        assert.ok(Math.abs(n - expected) <= tolerance, `${k} = ${x} shown as "${cell.shown}"`);
        if (/Micro$/.test(k)) assert.match(cell.shown, / CHF(\/kWh)?$/, `${k} is money`);
        if (/Kwh$/.test(k) && !/Micro/.test(k)) assert.match(cell.shown, / kWh$/, `${k} is energy`);
      }
    }
    assert.ok(checked >= 40, `${checked} figures checked`);
  });
});
