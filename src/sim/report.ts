import { barChart, esc, lineChart } from '../charts/svg.ts';
import type { CertificateKpis } from './certificates.ts';
import type { ChargingKpis } from './charging.ts';
import type { FlexKpis } from './flex.ts';
import type { IntervalRow } from './kpis.ts';
import type { Scenario } from './scenario.ts';

/** What renderReport needs of a run; a member's bills are shown when present (the settlement's MemberBill). */
export interface ReportInput {
  scenario: Scenario;
  kpis: Record<string, unknown>;
  intervals: readonly IntervalRow[];
  members: readonly { label: string; savingsMicro: number; totalMicro?: number; withoutMicro?: number }[];
}

/** How a key figure is written: energy, power, money, a price, a ratio, a percentage, a count or as it is. */
type Kind = 'wh' | 'kwh' | 'kw' | 'money' | 'price' | 'ratio' | 'pct' | 'count' | 'bytes' | 'text' | 'yesno' | 'onoff';

/**
 * KPI_NAMES: each key figure of kpis.json in plain words, with how its value is written and,
 * where the name alone does not say it, what it means. Keys not listed here (added later)
 * are shown with their key turned into words, never as the raw key.
 */
const KPI_NAMES: Record<string, [string, Kind, string?]> = {
  scenario: ['Scenario', 'text'],
  seed: ['Random seed', 'text'],
  days: ['Days simulated', 'count'],
  members: ['Members', 'count'],
  mechanism: ['Market mechanism', 'text', 'how each interval is cleared, after the fact'],
  allocationKey: ['Allocation key', 'text', 'how the monthly production is shared out'],
  intervals: ['Intervals', 'count'],
  certificates: ['Certificates of origin', 'onoff'],
  charging: ['EV charging', 'onoff'],
  loadKwh: ['Household consumption', 'kwh'],
  evKwh: ['Electric-vehicle charging', 'kwh'],
  pvKwh: ['Solar production', 'kwh'],
  selfConsumptionRate: ['Self-consumption', 'ratio', 'share of the solar production used inside the community'],
  selfSufficiency: ['Self-sufficiency', 'ratio', "share of the community's consumption not bought from the grid"],
  gridImportKwh: ['Bought from the grid', 'kwh'],
  gridExportKwh: ['Sold to the grid', 'kwh'],
  peakImportKw: ['Highest draw from the grid', 'kw'],
  peakExportKw: ['Highest feed-in to the grid', 'kw'],
  tradedKwh: ['Energy shared between neighbours', 'kwh'],
  meanPriceMicroPerKwh: ['Average price between neighbours', 'price'],
  networkFeesMicro: ['Network fees', 'money'],
  feederLimitViolations: ['Intervals above a feeder limit', 'count'],
  'battery.chargedKwh': ['Batteries charged', 'kwh'],
  'battery.dischargedKwh': ['Batteries discharged', 'kwh'],
  'battery.socMinPct': ['Lowest battery charge', 'pct'],
  'battery.socMaxPct': ['Highest battery charge', 'pct'],
  'savings.totalMicro': ["All members' savings", 'money', 'against buying everything from the supplier alone'],
  'savings.minMicro': ['Smallest saving of a member', 'money'],
  'savings.maxMicro': ['Largest saving of a member', 'money'],
  'savings.gini': ['Inequality of savings (Gini)', 'text', '0 when every member saves the same, 1 when one member saves everything'],
  'money.chargesMicro': ["Members' charges", 'money'],
  'money.creditsMicro': ["Members' credits", 'money'],
  'money.supplierMicro': ['Paid to the supplier', 'money'],
  'money.gridMicro': ['Paid by the grid for exports', 'money'],
  'money.peerPaidMicro': ['Paid between members', 'money'],
  'money.peerProceedsMicro': ['Received between members', 'money'],
  'money.feesMicro': ['Network fees to the DSO', 'money'],
  'money.surplusMicro': ['Market surplus', 'money'],
  'money.peerWh': ['Energy paid for between members', 'wh'],
  'money.flexMicro': ['Paid by the DSO for flexibility', 'money'],
  'money.balanceMicro': ['Balance of the money flows', 'money', 'what members pay less what the others receive: 0 when nothing is lost'],
  'ledger.transactions': ['Transactions in the log', 'count'],
  'ledger.entryBytes': ['Size of the log entries', 'bytes'],
  'ledger.bytesPerMemberDay': ['Log size per member and day', 'bytes'],
  'ledger.verified': ['Log verified from its first entry', 'yesno'],
  'ledger.apiKeysIssued': ['API keys issued (the DSO\'s meter-data system)', 'count'],
  'ledger.apiKeyRotations': ['API key rotations', 'count', 'one at each month\'s end, the old key working a day longer'],
};

/** The groups of the key-figures table, by the first part of the key; scalar top-level keys go by the list. */
const GROUPS: [string, (key: string) => boolean][] = [
  ['The run', (k) => ['scenario', 'seed', 'days', 'members', 'mechanism', 'allocationKey', 'intervals', 'certificates', 'charging'].includes(k)],
  ['Energy', (k) => !k.includes('.') && /Kwh$|Kw$|Rate$|Sufficiency$|Violations$/.test(k)],
  ['Money', (k) => k.startsWith('savings.') || k.startsWith('money.') || (!k.includes('.') && /Micro/.test(k))],
  ['Batteries', (k) => k.startsWith('battery.')],
  ['The log', (k) => k.startsWith('ledger.')],
  ['Other figures', () => true],
];

/** words turns a camelCase key nobody named into words ("peakImportKw" → "Peak import kw"). */
const words = (key: string) => {
  const w = key.replace(/\./g, ' ').replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  return w.charAt(0).toUpperCase() + w.slice(1);
};

/** showKpi writes a key figure's value with its unit (money in the scenario's currency, from integer micro-units). */
function showKpi(v: unknown, kind: Kind, currency: string): string {
  if (v === null || v === undefined) return kind === 'price' ? 'no trades' : kind === 'text' ? 'none' : kind === 'onoff' ? 'off' : 'n/a';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v !== 'number') return String(v);
  switch (kind) {
    case 'wh': return `${(v / 1000).toFixed(1)} kWh`;
    case 'kwh': return `${v.toFixed(1)} kWh`;
    case 'kw': return `${v.toFixed(1)} kW`;
    case 'money': return money(v, currency);
    case 'price': return `${(v / 1e6).toFixed(4)} ${currency}/kWh`;
    case 'ratio': return `${(v * 100).toFixed(1)} %`;
    case 'pct': return `${v.toFixed(1)} %`;
    case 'bytes': return v >= 10_000 ? `${(v / 1000).toFixed(1)} kB` : `${v} bytes`;
    case 'yesno': return v ? 'yes' : 'no';
    default: return String(v);
  }
}

const money = (micro: number, currency: string) => `${(micro / 1e6).toFixed(2)} ${currency}`;
const DAYS_PER_MONTH = 365.25 / 12;
const MONTH_NAMES = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const WEEKDAY_NAMES = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
/** longDate: "Monday 1 June 2026" for a YYYY-MM-DD date. */
const longDate = (date: string) => {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return `${WEEKDAY_NAMES[new Date(Date.UTC(y, m - 1, d)).getUTCDay()]} ${d} ${MONTH_NAMES[m - 1]} ${y}`;
};

/** scroll wraps a table in a box that scrolls sideways on its own, so that the page never does. */
const scroll = (table: string) => `<div class="scroll">${table}</div>`;
const card = (title: string, body: string, wide = false) => `<section class="card${wide ? ' wide' : ''}"><h2>${title}</h2>\n${body}</section>\n`;

/** The report's style: one column on a phone, cards side by side on a wide screen; text 15 px and more. */
const STYLE = `*{box-sizing:border-box}
body{font:16px/1.45 system-ui,sans-serif;margin:0 auto;padding:16px;max-width:1240px;color:#1d1d1f;background:#f6f7f9}
h1{font-size:1.5em;margin:.2em 0 .3em}h2{font-size:1.1em;margin:0 0 .6em}p{margin:.4em 0}
.lead{color:#444}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,150px),1fr));gap:12px;margin:16px 0}
.tile{background:#fff;border:1px solid #d8dbe0;border-radius:10px;padding:10px 14px}
.tile .label{color:#444;font-size:.95em}.tile .value{font-size:1.6em;font-weight:650;margin-top:2px;white-space:nowrap}.tile .note{color:#555;font-size:.85em}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,540px),1fr));gap:16px;margin:16px 0}
.card{background:#fff;border:1px solid #d8dbe0;border-radius:10px;padding:14px;min-width:0}
.card.wide{grid-column:1/-1}
svg.chart{display:block;width:100%;height:auto;margin:0 auto}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:.95em}th,td{padding:4px 10px;text-align:left;border-bottom:1px solid #e6e6e6;vertical-align:top}
td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
thead th{border-bottom:2px solid #ccc}th small{display:block;font-weight:400;color:#555}
#members th{white-space:nowrap}#kpis{width:100%;max-width:760px}tbody th[colspan]{padding-top:12px;font-size:1.02em;border-bottom:2px solid #ccc}
@media (max-width:480px){body{padding:10px}.card{padding:10px}.tile{padding:8px 10px}.tile .value{font-size:1.3em}}`;

/**
 * renderReport writes a self-contained HTML page (inline SVG, no script, no network) that
 * reads on a phone: the money and energy headlines, the community's consumption, solar
 * production and shared energy over time (in the scenario's time zone), the clearing
 * price, the energy flows, the money flows, the savings per member, the certificates of
 * origin, flexibility and EV charging when the run had them, and every key figure of
 * kpis.json in plain words, money in the scenario's currency and energy in kWh.
 */
export function renderReport(r: ReportInput): string {
  const cur = r.scenario.currency;
  const tz = r.scenario.timeZone;
  const kwh = (wh: number) => wh / 1000;
  const k = r.kpis;
  const num = (v: unknown) => (typeof v === 'number' ? v : null);
  const flows = {
    'solar used behind the meter or stored': r.intervals.reduce((a, x) => a + x.pvWh - x.exportWh, 0),
    'EV charging': r.intervals.reduce((a, x) => a + x.evWh, 0),
    'battery discharge': r.intervals.reduce((a, x) => a + x.batteryDischargeWh, 0),
    'shared between members': r.intervals.reduce((a, x) => a + x.tradedWh, 0),
    'bought from the supplier': r.intervals.reduce((a, x) => a + x.importWh - x.tradedWh, 0),
    'sold to the grid': r.intervals.reduce((a, x) => a + x.exportWh - x.tradedWh, 0),
  };
  const times = r.intervals.map((x) => Date.parse(x.start));
  const savings = k.savings as { totalMicro: number } | undefined;
  const members = num(k.members) ?? r.members.length;
  const days = num(k.days) ?? r.scenario.days;
  const perMember = savings && members ? savings.totalMicro / members : null;
  const perMonth = perMember !== null && days ? Math.round((perMember * DAYS_PER_MONTH) / days) : null;
  const tile = (label: string, value: string, note = '') => `<div class="tile"><div class="label">${esc(label)}</div><div class="value">${esc(value)}</div>${note ? `<div class="note">${esc(note)}</div>` : ''}</div>`;
  const tiles = [
    perMonth !== null ? tile('Average savings per member per month', money(perMonth, cur), days < 28 ? `projected from ${days} ${days === 1 ? 'day' : 'days'}` : '') : '',
    savings ? tile("All members' savings", money(savings.totalMicro, cur), `over the ${days} days, against the supplier alone`) : '',
    tile('Self-sufficiency', showKpi(k.selfSufficiency, 'ratio', cur), 'of the consumption not bought from the grid'),
    tile('Energy shared between neighbours', showKpi(k.tradedKwh, 'kwh', cur), k.meanPriceMicroPerKwh == null ? '' : `at ${showKpi(k.meanPriceMicroPerKwh, 'price', cur)} on average`),
    tile('Solar production', showKpi(k.pvKwh, 'kwh', cur), `${showKpi(k.selfConsumptionRate, 'ratio', cur)} used in the community`),
  ].join('');
  const members2 = [...r.members].sort((a, b) => b.savingsMicro - a.savingsMicro);
  const bills = r.members.every((m) => m.totalMicro !== undefined && m.withoutMicro !== undefined) && r.members.length
    ? card('Bills per member', scroll(`<table id="members"><thead><tr><th>member</th><th>bill with the community</th><th>with the supplier alone</th><th>saving</th></tr></thead><tbody>${members2.map((m) => `<tr><th>${esc(m.label)}</th><td class="num">${money(m.totalMicro!, cur)}</td><td class="num">${money(m.withoutMicro!, cur)}</td><td class="num">${money(m.savingsMicro, cur)}</td></tr>`).join('')}</tbody></table>`))
    : '';
  const perInterval = `per ${r.scenario.intervalMinutes}-minute interval`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>openlec simulation: ${esc(r.scenario.name)}</title>
<style>${STYLE}</style></head>
<body>
<h1>openlec simulation: ${esc(r.scenario.name)}</h1>
<p class="lead">${r.scenario.days} days from ${esc(longDate(r.scenario.start))}, times in ${esc(tz)}; ${r.intervals.length} intervals of ${r.scenario.intervalMinutes} minutes, ${esc(String(k.members))} members, ${esc(r.scenario.market.mechanism)} clearing after each interval; money in ${esc(cur)}.</p>
<div class="tiles">${tiles}</div>
<div class="grid">
${card(`Consumption, solar production and energy shared (kWh ${perInterval})`, lineChart('chart-energy', [
    { name: 'consumption', color: '#b03a2e', values: r.intervals.map((x) => kwh(x.loadWh)) },
    { name: 'solar', color: '#a35c00', values: r.intervals.map((x) => kwh(x.pvWh)) },
    { name: 'shared', color: '#1e7d46', values: r.intervals.map((x) => kwh(x.tradedWh)) },
  ], { times, timeZone: tz, unit: 'kWh', title: `Consumption, solar production and energy shared, kWh ${perInterval}` }))}${card(`Clearing price (${esc(cur)}/kWh)`, lineChart('chart-price', [{ name: 'price', color: '#2c3e50', values: r.intervals.map((x) => (x.priceMicroPerKwh === null ? null : x.priceMicroPerKwh / 1e6)) }], { times, timeZone: tz, unit: `${cur}/kWh`, zero: false, title: `Clearing price, ${cur}/kWh; gaps where nothing cleared` }) + '<p>Gaps: intervals without a clearing price.</p>')}${card('Energy flows over the run (kWh)', barChart('chart-flows', Object.entries(flows).map(([label, v]) => ({ label, value: kwh(v) })), { unit: 'kWh', title: 'Energy flows over the run' }))}${card(`Money flows over the run (${esc(cur)})`, barChart('chart-money', moneyBars(k.money as Money), { unit: cur, title: 'Money flows over the run' }) + '<p>Negative: money members are credited or the grid pays.</p>')}${card(`Savings per member against the supplier alone (${esc(cur)})`, barChart('chart-savings', members2.map((m) => ({ label: m.label, value: m.savingsMicro / 1e6 })), { unit: cur, title: 'Savings per member against the supplier alone' }))}${bills}</div>
${certificatesSection(k.certificates as CertificateKpis | null | undefined)}${flexibilitySection(k.flexibility as FlexKpis | undefined, cur)}${chargingSection(k.charging as ChargingKpis | null | undefined, cur)}${allocationSection(k.allocation)}<section class="card wide" id="key-figures"><h2>Key figures</h2>
${scroll(kpiTable(k, cur, perMember, perMonth, days))}</section>
</body></html>
`;
}

/**
 * kpiTable: every scalar key figure of kpis.json and of its battery, savings, money and
 * ledger parts, grouped, named in words; each value cell carries its key and raw value
 * (data-kpi, data-value), so that a reader or a test can tie it to kpis.json.
 */
function kpiTable(kpis: Record<string, unknown>, currency: string, perMember: number | null, perMonth: number | null, days: number): string {
  const flat: [string, unknown][] = [];
  for (const [key, v] of Object.entries(kpis)) {
    // Scalars, and null parts (certificates or charging off: a row saying so; when on, they have their own section above).
    if (typeof v !== 'object' || v === null) flat.push([key, v]);
    else if (['battery', 'savings', 'money', 'ledger'].includes(key)) for (const [sub, x] of Object.entries(v)) if (typeof x !== 'object' || x === null) flat.push([`${key}.${sub}`, x]);
  }
  const row = (key: string, v: unknown) => {
    const [name, kind, note] = KPI_NAMES[key] ?? [words(key), 'text'];
    return `<tr><th>${esc(name)}${note ? `<small>${esc(note)}</small>` : ''}</th><td class="num" data-kpi="${esc(key)}" data-value="${esc(String(v))}">${esc(showKpi(v, kind, currency))}</td></tr>`;
  };
  const derived = perMember === null ? '' : `<tr><th>Average savings per member</th><td class="num">${money(Math.round(perMember), currency)}</td></tr>`
    + `<tr><th>Average savings per member per month${days < 28 ? `<small>projected from ${days} ${days === 1 ? 'day' : 'days'}</small>` : ''}</th><td class="num">${money(perMonth!, currency)}</td></tr>`;
  const used = new Set<string>();
  const body = GROUPS.map(([group, has]) => {
    const rows = flat.filter(([key]) => !used.has(key) && has(key));
    rows.forEach(([key]) => used.add(key));
    if (!rows.length) return '';
    return `<tr><th colspan="2">${group}</th></tr>${rows.map(([key, v]) => row(key, v)).join('')}${group === 'Money' ? derived : ''}`;
  }).join('');
  return `<table id="kpis"><tbody>${body}</tbody></table>`;
}

/** allocationSection: each month's allocation of the run (with --key): production, allocated and surplus; empty without. */
function allocationSection(a: unknown): string {
  if (!Array.isArray(a) || a.length === 0) return '';
  const rows = (a as { month: string; key: string; productionWh: number; allocatedWh: number; surplusWh: number }[])
    .map((x) => `<tr><th>${esc(x.month)}</th><td>${esc(x.key)}</td><td class="num">${(x.productionWh / 1000).toFixed(1)} kWh</td><td class="num">${(x.allocatedWh / 1000).toFixed(1)} kWh</td><td class="num">${(x.surplusWh / 1000).toFixed(1)} kWh</td></tr>`).join('');
  return card('Monthly allocation', scroll(`<table><thead><tr><th>month</th><th>key</th><th>production</th><th>allocated</th><th>surplus</th></tr></thead><tbody>${rows}</tbody></table>`), true);
}

const INTERVAL_COLUMNS = ['start', 'loadWh', 'pvWh', 'evWh', 'batteryChargeWh', 'batteryDischargeWh', 'importWh', 'exportWh', 'tradedWh', 'priceMicroPerKwh'] as const;

/** intervalsCsv writes the community's intervals, one line each (";"-separated, an empty cell where no price was set). */
export function intervalsCsv(intervals: readonly IntervalRow[]): string {
  return [INTERVAL_COLUMNS.join(';'), ...intervals.map((r) => INTERVAL_COLUMNS.map((c) => r[c] ?? '').join(';'))].join('\n') + '\n';
}

interface Money {
  chargesMicro: number;
  creditsMicro: number;
  supplierMicro: number;
  gridMicro: number;
  peerPaidMicro: number;
  feesMicro: number;
  surplusMicro: number;
}

/** moneyBars: who pays whom. Members' charges and credits, and where the money goes (the grid's payment for exports is negative). */
function moneyBars(m: Money): { label: string; value: number }[] {
  return [
    ['members pay (charges)', m.chargesMicro], ['members are credited', -m.creditsMicro],
    ['to the supplier', m.supplierMicro], ['from the grid for exports', -m.gridMicro],
    ['between members', m.peerPaidMicro], ['network fees to the DSO', m.feesMicro], ['market surplus', m.surplusMicro],
  ].map(([label, v]) => ({ label: label as string, value: (v as number) / 1e6 }));
}

const pctOfPpm = (ppm: number) => `${(ppm / 10_000).toFixed(1)} %`;
const kwh1 = (wh: number) => `${(wh / 1000).toFixed(1)} kWh`;

/** certificatesSection: one line per month (kWh issued, moved, claimed; hourly and monthly matching) and a bar per month and score; empty when the run had none. */
function certificatesSection(c: CertificateKpis | null | undefined): string {
  if (!c) return '';
  const rows = [...c.perMonth.map((m) => [m.month, m.issuedWh, m.movedWh, m.claimedWh, m.hourlyMatchingPpm, m.monthlyMatchingPpm] as const), ['whole run', c.issuedWh, c.movedWh, c.claimedWh, c.hourlyMatchingPpm, c.monthlyMatchingPpm] as const]
    .map(([month, issued, moved, claimed, hourly, monthly]) => `<tr><th>${esc(month)}</th><td class="num">${kwh1(issued)}</td><td class="num">${kwh1(moved)}</td><td class="num">${kwh1(claimed)}</td><td class="num">${pctOfPpm(hourly)}</td><td class="num">${pctOfPpm(monthly)}</td></tr>`).join('');
  return `<div class="grid">
${card(`Certificates of origin (1 Wh each, ${c.devices} solar devices, ${c.autoClaimMembers} members claiming automatically)`, scroll(`<table id="certificates"><thead><tr><th>month</th><th>issued</th><th>moved</th><th>claimed</th><th>hourly matching</th><th>monthly matching</th></tr></thead><tbody>${rows}</tbody></table>`))}${card('Consumption matched by certificates: hourly (24/7) against monthly (%)', barChart('chart-certificates', c.perMonth.flatMap((m) => [{ label: `${m.month} hourly`, value: m.hourlyMatchingPpm / 10_000 }, { label: `${m.month} monthly`, value: m.monthlyMatchingPpm / 10_000 }]), { unit: '%', title: 'Consumption matched by certificates, hourly against monthly' }))}</div>
`;
}

/** flexibilitySection: hours and energy above each import limit, and what the DSO bought and paid; empty when no feeder has an import limit and flexibility is off. */
function flexibilitySection(f: FlexKpis | undefined, currency: string): string {
  if (!f || (!f.enabled && f.feeders.length === 0)) return '';
  const feeders = f.feeders.map((x) => `<tr><th>${esc(x.feeder)}</th><td class="num">${(x.importLimitW / 1000).toFixed(1)} kW</td><td class="num">${x.hoursAboveLimit.toFixed(1)} h</td><td class="num">${x.kwhAboveLimit.toFixed(1)} kWh</td></tr>`).join('');
  return card(`DSO flexibility (${f.enabled ? 'on' : 'off'}): the import limits as metered`, `${scroll(`<table id="feeders"><thead><tr><th>feeder</th><th>import limit</th><th>time above</th><th>energy above</th></tr></thead><tbody>${feeders}</tbody></table>`)}
${f.enabled ? `<p>${f.requests} requests, ${f.offers} offers, ${f.orders} orders; ordered ${f.orderedKwh.toFixed(1)} kWh, delivered ${f.deliveredKwh.toFixed(1)} kWh (deficiency ${f.deficiencyKwh.toFixed(1)} kWh); the DSO paid ${money(f.dsoCostMicro, currency)}: members ${money(f.memberEarningsMicro, currency)}, the aggregator ${money(f.aggregatorEarningsMicro, currency)}, after ${money(f.penaltiesMicro, currency)} of penalties.</p>\n` : ''}`, true);
}

/** chargingSection: sessions, energy, local origin, revenue per CPO and payments per eMSP, and per day the charged kWh and the revenue; empty when charging is off. */
function chargingSection(c: ChargingKpis | null | undefined, currency: string): string {
  if (!c) return '';
  const pct = c.localOrigin.share === null ? 'n/a' : `${(c.localOrigin.share * 100).toFixed(1)} %`;
  const payments = c.payments.map((p) => `<tr><th>${esc(p.emsp)}${p.members ? ' (members)' : ''}</th><td>${esc(p.name)}</td><td class="num">${p.cdrs}</td><td class="num">${p.energyKwh.toFixed(1)} kWh</td><td class="num">${esc(p.excl)} ${esc(currency)}</td><td class="num">${esc(p.incl)} ${esc(currency)}</td></tr>`).join('');
  const revenue = c.revenue.map((p) => `<tr><th>${esc(p.cpo)}</th><td>${esc(p.name)}</td><td class="num">${p.cdrs}</td><td class="num">${p.energyKwh.toFixed(1)} kWh</td><td class="num">${esc(p.excl)} ${esc(currency)}</td><td class="num">${esc(p.incl)} ${esc(currency)}</td></tr>`).join('');
  return `<div class="grid">
${card(`EV charging: ${c.chargers} chargers of ${c.powerKw} kW behind a community meter`, `<p>${c.sessions.total} sessions (${c.sessions.members} by members, ${c.sessions.roaming} roaming, ${c.sessions.turnedAway} turned away with every charger busy), ${c.energyKwh.total.toFixed(1)} kWh (members ${c.energyKwh.members.toFixed(1)} kWh, roaming ${c.energyKwh.roaming.toFixed(1)} kWh); local origin of the chargers' energy ${pct} (${c.localOrigin.localKwh.toFixed(1)} of ${c.localOrigin.consumedKwh.toFixed(1)} kWh bought from members).</p>
${scroll(`<table><thead><tr><th>CPO</th><th>name</th><th>CDRs</th><th>energy</th><th>revenue excl. VAT</th><th>incl. VAT</th></tr></thead><tbody>${revenue}</tbody></table>`)}
${scroll(`<table><thead><tr><th>eMSP</th><th>name</th><th>CDRs</th><th>energy</th><th>pays excl. VAT</th><th>incl. VAT</th></tr></thead><tbody>${payments}</tbody></table>`)}`, true)}${card('Charged energy per day (kWh)', barChart('chart-charging-kwh', c.perDay.map((d) => ({ label: d.date, value: d.kwh })), { unit: 'kWh', title: 'Charged energy per day' }))}${card(`Charging revenue per day (${esc(currency)}, incl. VAT)`, barChart('chart-charging-revenue', c.perDay.map((d) => ({ label: d.date, value: d.revenueMicro / 1e6 })), { unit: currency, title: 'Charging revenue per day, incl. VAT' }))}</div>
`;
}
