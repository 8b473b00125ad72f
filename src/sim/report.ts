import { barChart, esc, lineChart } from '../charts/svg.ts';
import type { CertificateKpis } from './certificates.ts';
import type { ChargingKpis } from './charging.ts';
import type { FlexKpis } from './flex.ts';
import type { IntervalRow } from './kpis.ts';
import type { Scenario } from './scenario.ts';

/**
 * renderReport writes a self-contained HTML page (inline SVG, no script, no network):
 * community load, PV and traded energy over time, the clearing price, the energy flows,
 * the money flows, the savings per member, and the certificates of origin (issued, moved,
 * claimed, and hourly against monthly matching per month).
 */
export function renderReport(r: { scenario: Scenario; kpis: Record<string, unknown>; intervals: readonly IntervalRow[]; members: readonly { label: string; savingsMicro: number }[] }): string {
  const kwh = (wh: number) => wh / 1000;
  const flows = {
    'local PV used behind the meter or stored': r.intervals.reduce((a, x) => a + x.pvWh - x.exportWh, 0),
    'EV charging': r.intervals.reduce((a, x) => a + x.evWh, 0),
    'battery discharge': r.intervals.reduce((a, x) => a + x.batteryDischargeWh, 0),
    'traded between members': r.intervals.reduce((a, x) => a + x.tradedWh, 0),
    'bought from the supplier': r.intervals.reduce((a, x) => a + x.importWh - x.tradedWh, 0),
    'sold to the grid': r.intervals.reduce((a, x) => a + x.exportWh - x.tradedWh, 0),
  };
  const kpiRows = Object.entries(r.kpis).filter(([, v]) => typeof v !== 'object' || v === null).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(String(v))}</td></tr>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>openlec simulation: ${esc(r.scenario.name)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}h1{font-size:1.4em}h2{font-size:1.1em;margin-top:2em}
table{border-collapse:collapse}th,td{padding:2px 10px;text-align:left;border-bottom:1px solid #eee}svg{background:#fafafa;border:1px solid #ddd}
.legend span{display:inline-block;margin-right:1.5em}.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}</style></head>
<body>
<h1>openlec simulation: ${esc(r.scenario.name)}</h1>
<p>${r.scenario.days} days from ${esc(r.scenario.start)} in ${esc(r.scenario.timeZone)}, ${r.intervals.length} intervals of ${r.scenario.intervalMinutes} minutes, ${esc(String(r.kpis.members))} members, ${esc(r.scenario.market.mechanism)} ex-post.</p>
<h2>Community load, PV production and energy traded between members (kWh per interval)</h2>
${lineChart('chart-energy', [
    { name: 'load', color: '#c0392b', values: r.intervals.map((x) => kwh(x.loadWh)) },
    { name: 'PV', color: '#f39c12', values: r.intervals.map((x) => kwh(x.pvWh)) },
    { name: 'traded', color: '#27ae60', values: r.intervals.map((x) => kwh(x.tradedWh)) },
  ])}
<h2>Clearing price (per kWh)</h2>
${lineChart('chart-price', [{ name: 'price', color: '#2c3e50', values: r.intervals.map((x) => (x.priceMicroPerKwh === null ? null : x.priceMicroPerKwh / 1e6)) }])}
<h2>Energy flows over the run (kWh)</h2>
${barChart('chart-flows', Object.entries(flows).map(([k, v]) => ({ label: k, value: kwh(v) })))}
<h2>Money flows over the run (${esc(r.scenario.currency)})</h2>
${barChart('chart-money', moneyBars(r.kpis.money as Money))}
<h2>Savings per member against the supplier alone (${esc(r.scenario.currency)})</h2>
${barChart('chart-savings', r.members.map((m) => ({ label: m.label, value: m.savingsMicro / 1e6 })))}
${certificatesSection(r.kpis.certificates as CertificateKpis | null | undefined)}${flexibilitySection(r.kpis.flexibility as FlexKpis | undefined, r.scenario.currency)}${chargingSection(r.kpis.charging as ChargingKpis | null | undefined, r.scenario.currency)}<h2>Key figures</h2>
<table>${kpiRows}</table>
</body></html>
`;
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

/** certificatesSection: one line per month (kWh issued, moved, claimed; hourly and monthly matching) and a bar per month and score; empty when the run had none. */
function certificatesSection(c: CertificateKpis | null | undefined): string {
  if (!c) return '';
  const kwh = (wh: number) => (wh / 1000).toFixed(1);
  const rows = [...c.perMonth.map((m) => [m.month, m.issuedWh, m.movedWh, m.claimedWh, m.hourlyMatchingPpm, m.monthlyMatchingPpm] as const), ['run', c.issuedWh, c.movedWh, c.claimedWh, c.hourlyMatchingPpm, c.monthlyMatchingPpm] as const]
    .map(([month, issued, moved, claimed, hourly, monthly]) => `<tr><th>${esc(month)}</th><td>${kwh(issued)}</td><td>${kwh(moved)}</td><td>${kwh(claimed)}</td><td>${pctOfPpm(hourly)}</td><td>${pctOfPpm(monthly)}</td></tr>`).join('');
  return `<h2>Certificates of origin (1 Wh each, ${c.devices} PV devices, ${c.autoClaimMembers} members claiming automatically)</h2>
<table><tr><th>month</th><th>issued kWh</th><th>moved kWh</th><th>claimed kWh</th><th>hourly matching</th><th>monthly matching</th></tr>${rows}</table>
<h2>Consumption matched by certificates: hourly (24/7) against monthly (%)</h2>
${barChart('chart-certificates', c.perMonth.flatMap((m) => [{ label: `${m.month} hourly`, value: m.hourlyMatchingPpm / 10_000 }, { label: `${m.month} monthly`, value: m.monthlyMatchingPpm / 10_000 }]))}
`;
}

/** flexibilitySection: hours and energy above each import limit, and what the DSO bought and paid; empty when no feeder has an import limit and flexibility is off. */
function flexibilitySection(f: FlexKpis | undefined, currency: string): string {
  if (!f || (!f.enabled && f.feeders.length === 0)) return '';
  const money = (micro: number) => (micro / 1e6).toFixed(2);
  const feeders = f.feeders.map((x) => `<tr><th>${esc(x.feeder)}</th><td>${(x.importLimitW / 1000).toFixed(1)}</td><td>${x.hoursAboveLimit.toFixed(1)}</td><td>${x.kwhAboveLimit.toFixed(1)}</td></tr>`).join('');
  return `<h2>DSO flexibility (${f.enabled ? 'on' : 'off'}): the import limits as metered</h2>
<table><tr><th>feeder</th><th>import limit kW</th><th>hours above</th><th>kWh above</th></tr>${feeders}</table>
${f.enabled ? `<p>${f.requests} requests, ${f.offers} offers, ${f.orders} orders; ordered ${f.orderedKwh.toFixed(1)} kWh, delivered ${f.deliveredKwh.toFixed(1)} kWh (deficiency ${f.deficiencyKwh.toFixed(1)} kWh); the DSO paid ${money(f.dsoCostMicro)} ${esc(currency)}: members ${money(f.memberEarningsMicro)}, the aggregator ${money(f.aggregatorEarningsMicro)}, after ${money(f.penaltiesMicro)} of penalties.</p>\n` : ''}`;
}

/** chargingSection: sessions, energy, local origin, revenue per CPO and payments per eMSP, and per day the charged kWh and the revenue; empty when charging is off. */
function chargingSection(c: ChargingKpis | null | undefined, currency: string): string {
  if (!c) return '';
  const pct = c.localOrigin.share === null ? 'n/a' : `${(c.localOrigin.share * 100).toFixed(1)} %`;
  const payments = c.payments.map((p) => `<tr><th>${esc(p.emsp)}${p.members ? ' (members)' : ''}</th><td>${esc(p.name)}</td><td>${p.cdrs}</td><td>${p.energyKwh.toFixed(1)}</td><td>${esc(p.excl)}</td><td>${esc(p.incl)}</td></tr>`).join('');
  const revenue = c.revenue.map((p) => `<tr><th>${esc(p.cpo)}</th><td>${esc(p.name)}</td><td>${p.cdrs}</td><td>${p.energyKwh.toFixed(1)}</td><td>${esc(p.excl)}</td><td>${esc(p.incl)}</td></tr>`).join('');
  return `<h2>EV charging: ${c.chargers} chargers of ${c.powerKw} kW behind a community meter</h2>
<p>${c.sessions.total} sessions (${c.sessions.members} by members, ${c.sessions.roaming} roaming, ${c.sessions.turnedAway} turned away with every charger busy), ${c.energyKwh.total.toFixed(1)} kWh (members ${c.energyKwh.members.toFixed(1)}, roaming ${c.energyKwh.roaming.toFixed(1)}); local origin of the chargers' energy ${pct} (${c.localOrigin.localKwh.toFixed(1)} of ${c.localOrigin.consumedKwh.toFixed(1)} kWh bought from members).</p>
<table><tr><th>CPO</th><th>name</th><th>CDRs</th><th>kWh</th><th>revenue excl. VAT</th><th>incl. VAT</th></tr>${revenue}</table>
<table><tr><th>eMSP</th><th>name</th><th>CDRs</th><th>kWh</th><th>pays excl. VAT</th><th>incl. VAT</th></tr>${payments}</table>
<h2>Charged energy per day (kWh)</h2>
${barChart('chart-charging-kwh', c.perDay.map((d) => ({ label: d.date, value: d.kwh })))}
<h2>Charging revenue per day (${esc(currency)}, incl. VAT)</h2>
${barChart('chart-charging-revenue', c.perDay.map((d) => ({ label: d.date, value: d.revenueMicro / 1e6 })))}
`;
}
