import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { barChart, esc, lineChart, niceTicks, stepChart, timeTicks } from './svg.ts';

/** The wall clock of an instant in a zone, as "YYYY-MM-DD HH:MM" (checked independently of svg.ts' own arithmetic). */
const clock = (ms: number, timeZone: string) => new Intl.DateTimeFormat('sv-SE', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(ms);
const count = (s: string, re: RegExp) => (s.match(re) ?? []).length;
const attr = (svg: string, name: string) => new RegExp(`<svg [^>]*${name}="([^"]*)"`).exec(svg)?.[1];

describe('SVG charts', () => {
  test('value ticks are round (1, 2, 2.5 or 5 × 10^k apart) and cover the values', () => {
    for (const [min, max] of [[0, 7.3], [0, 0.2314], [-81.83, 118.12], [0, 1020.141], [0.128, 0.141], [0, 0], [5, 5]] as const) {
      const t = niceTicks(min, max);
      assert.ok(t[0]! <= min && t[t.length - 1]! >= max, `${t} covers ${min}..${max}`);
      const step = t[1]! - t[0]!;
      const mantissa = step / 10 ** Math.floor(Math.log10(step));
      assert.ok([1, 2, 2.5, 5].some((m) => Math.abs(m - mantissa) < 1e-9), `step ${step} of ${t} is round`);
      for (const x of t) assert.ok(Math.abs(x / step - Math.round(x / step)) < 1e-9, `${x} is a multiple of ${step}`);
      assert.ok(t.length >= 2 && t.length <= 8, `${t.length} ticks`);
    }
    assert.deepEqual(niceTicks(0, 7.3), [0, 2, 4, 6, 8]);
  });

  test('time ticks land on local midnights and whole local hours across the spring DST change', () => {
    const tz = 'Europe/Zurich';
    // 28 to 31 March 2026 local; clocks go from 02:00 to 03:00 on Sunday 29 March.
    const t0 = Date.parse('2026-03-27T23:00:00Z');
    const t1 = Date.parse('2026-03-30T22:00:00Z');
    const ticks = timeTicks(t0, t1, tz, 520);
    assert.ok(ticks.length >= 4);
    const hours = ticks.map((k) => clock(k.t, tz).slice(11));
    const step = Number(hours[1]!.slice(0, 2)) - Number(hours[0]!.slice(0, 2));
    for (const [i, h] of hours.entries()) {
      assert.match(h, /^\d\d:00$/, `tick ${i} at a whole hour (${h})`);
      assert.equal(Number(h.slice(0, 2)) % step, 0, `tick ${i} on the ${step}-hour grid (${h})`);
      assert.equal(ticks[i]!.top, h, 'the label is the local time');
    }
    const midnights = ticks.filter((k) => clock(k.t, tz).endsWith('00:00')).map((k) => new Date(k.t).toISOString());
    assert.deepEqual(midnights, ['2026-03-27T23:00:00.000Z', '2026-03-28T23:00:00.000Z', '2026-03-29T22:00:00.000Z', '2026-03-30T22:00:00.000Z'], 'midnight is 23:00 UTC before the change, 22:00 UTC after');
    assert.deepEqual(ticks.filter((k) => k.bottom).map((k) => k.bottom), ['Sat 28 Mar', 'Sun 29 Mar', 'Mon 30 Mar', 'Tue 31 Mar'], 'each midnight names its day');
  });

  test('across the autumn change (a 25-hour day) and over weeks, ticks stay on local midnights', () => {
    const tz = 'Europe/Zurich';
    const day = timeTicks(Date.parse('2026-10-24T22:00:00Z'), Date.parse('2026-10-25T23:00:00Z'), tz, 520);
    for (const k of day) assert.match(clock(k.t, tz), /:00$/);
    assert.ok(day.some((k) => new Date(k.t).toISOString() === '2026-10-25T23:00:00.000Z' && k.top === '00:00'), 'midnight after the 25-hour day is 23:00 UTC');
    const weeks = timeTicks(Date.parse('2026-11-01T00:00:00Z'), Date.parse('2026-11-29T00:00:00Z'), tz, 520);
    assert.ok(weeks.length >= 3 && weeks.length <= 10, `${weeks.length} date ticks over four weeks`);
    for (const k of weeks) assert.match(clock(k.t, tz), /00:00$/, 'dates at local midnight');
    assert.deepEqual(weeks.map((k) => `${k.top} ${k.bottom}`), ['Mon 2 Nov', 'Mon 9 Nov', 'Mon 16 Nov', 'Mon 23 Nov'], 'weekly: Mondays');
    const days = timeTicks(Date.parse('2026-11-22T23:00:00Z'), Date.parse('2026-11-29T23:00:00Z'), tz, 520);
    assert.ok(days.some((k) => `${k.top} ${k.bottom}` === 'Tue 24 Nov'), `a week: daily labels (${days.map((k) => `${k.top} ${k.bottom}`)})`);
    for (const k of days) assert.match(clock(k.t, tz), /00:00$/);
    // A zone west of UTC: the same rule, other instants.
    for (const k of timeTicks(Date.parse('2026-03-07T00:00:00Z'), Date.parse('2026-03-10T00:00:00Z'), 'America/New_York', 520)) assert.match(clock(k.t, 'America/New_York'), /:00$/);
  });

  test('a line chart on a time axis: dated labels, the unit, gaps for missing values, a text alternative', () => {
    const times = Array.from({ length: 48 }, (_, i) => Date.parse('2026-11-23T23:00:00Z') + i * 1_800_000);
    const values = times.map((_, i) => (i >= 10 && i < 14 ? null : i === 30 ? 0 : 1 + (i % 5)));
    const svg = lineChart('chart-t', [{ name: 'load', color: '#b03a2e', values }], { times, timeZone: 'Europe/Zurich', unit: 'kWh', title: 'Load' });
    const d = /<path d="([^"]*)"[^>]*><title>load<\/title>/.exec(svg)![1]!;
    assert.equal(count(d, /M/g), 2, 'the four missing values split the line in two');
    assert.equal(count(d, /[ML]/g), values.filter((v) => v !== null).length, 'a point per present value, none for the missing');
    assert.match(svg, />Tue 24 Nov</);
    assert.match(svg, />(06|12|18):00</);
    assert.match(svg, />kWh</);
    assert.equal(attr(svg, 'role'), 'img');
    const label = attr(svg, 'aria-label')!;
    assert.match(label, /^Load: line chart, Tue 24 Nov 2026 00:00 to Tue 24 Nov 2026 23:30 \(Europe\/Zurich time\)\. load: from 0 kWh to 5 kWh/);
    assert.match(label, /4 of 48 values missing/);
    assert.match(svg, /<title>Load<\/title><desc>Load: line chart/);
  });

  test('a value alone between gaps is a dot, and a jump in time is a gap', () => {
    const svg = lineChart('c', [{ name: 'a', color: '#000', values: [1, null, 2, null, 3, 4] }]);
    assert.equal(count(svg, /<circle /g), 2, 'the lone 1 and 2');
    const times = [0, 1, 2, 10, 11].map((h) => Date.parse('2026-01-05T00:00:00Z') + h * 3_600_000);
    const jumped = lineChart('j', [{ name: 'a', color: '#000', values: [1, 2, 3, 4, 5] }], { times });
    assert.equal(count(/<path d="([^"]*)"/.exec(jumped)![1]!, /M/g), 2, 'seven hours without a value is a gap');
  });

  test('labels and names are escaped', () => {
    const name = 'a<b> & "c"';
    for (const svg of [
      lineChart('l', [{ name, color: '#000', values: [1, 2] }], { title: name }),
      barChart('b', [{ label: name, value: 1 }], { title: name }),
      stepChart('s', [{ name, color: '#000', points: [[0, 1], [1, 2]] }], { x: 'kWh', y: name }),
    ]) {
      assert.doesNotMatch(svg, /<b>|"c"/);
      assert.match(svg, /a&lt;b&gt; &amp; &quot;c&quot;/);
      assert.ok(attr(svg, 'aria-label')!.includes('a&lt;b&gt;'), 'escaped in the aria-label');
    }
    assert.equal(esc('<&>"'), '&lt;&amp;&gt;&quot;');
  });

  test('every existing call still renders, text stays at least 11 px at 360 px wide', () => {
    const s = [{ name: 'x', color: '#2c3e50', values: [1, 2, null, 4] }, { name: 'y', color: '#1e7d46', values: [0, 1, 1, 0] }];
    const charts = {
      line: lineChart('a', s),
      lineEnds: lineChart('b', s, ['1 Jun 00:00', '2 Jun 23:30']),
      bar: barChart('c', [{ label: 'one', value: 2 }, { label: 'two', value: -1 }, { label: 'a much longer label that stands above its bar', value: 0 }]),
      barEmpty: barChart('d', []),
      step: stepChart('e', [{ name: 'supply (asks)', color: '#a35c00', points: [[0, 0.1], [2, 0.2]] }, { name: 'demand (bids)', color: '#2471a3', points: [[0, 0.3], [3, 0.05]] }], { x: 'kWh', y: 'CHF/kWh' }),
    };
    for (const [kind, svg] of Object.entries(charts)) {
      assert.match(svg, /^<svg id="[a-e]" class="chart" viewBox="0 0 \d+ \d+"/, kind);
      const width = Number(attr(svg, 'viewBox')!.split(' ')[2]);
      for (const m of svg.matchAll(/font-size="([\d.]+)"/g)) assert.ok((Number(m[1]) * 360) / width >= 11, `${kind}: font ${m[1]} in a ${width} viewBox`);
      assert.ok(attr(svg, 'aria-label')!.length > 10, `${kind} has a text alternative`);
      assert.match(svg, /<title>[^<]+<\/title><desc>/);
    }
    assert.equal(count(charts.line, /<path /g), 2, 'a path per series, nothing else drawn as a path');
    assert.match(charts.lineEnds, />1 Jun 00:00</);
    assert.equal(count(charts.bar, /<rect /g), 3, 'a rect per bar, nothing else drawn as a rect');
    assert.match(charts.bar, /fill="#c0392b"><title>two: -1.00<\/title>/, 'negative bars in red');
    assert.match(charts.step, />supply \(asks\)</, 'a legend');
    assert.match(charts.step, />CHF\/kWh</);
    assert.match(barChart('m', [{ label: 'fees', value: 7.3976 }], { unit: 'CHF' }), />7\.40 CHF</, 'money with 2 decimals and its currency');
  });
});
