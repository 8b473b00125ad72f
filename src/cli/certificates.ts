import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { monthDays } from '../allocation/month.ts';
import { issueDay, type IssueSummary } from '../certificates/issue.ts';
import { expireMonth } from '../certificates/lifecycle.ts';
import { bundles, type BundleView, eecsCsv, eecsExport, energyTagBundles, matching, matchingHours, totals } from '../certificates/reports.ts';
import { planSettle } from '../certificates/settle.ts';
import { Signer } from '../client.ts';
import { community } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import { encodeKey } from '../ledger/index.ts';
import { readKeyFile } from '../node/key-file.ts';
import { barChart, esc, lineChart } from '../charts/svg.ts';
import type { State } from '../state/tables.ts';
import { SqliteLedger } from '../store/sqlite-ledger.ts';
import { formatDecimal, formatInstant, formatLocal, mulDivRound, parseInstant } from '../units/index.ts';
import { defaultKeyPath, withLedger } from './commands.ts';
import { progress, table } from './output.ts';

/**
 * The `openlec device` and `openlec certificates` commands: granular certificates of
 * origin (1 Wh each). Every command parses its options, calls src/certificates for the
 * body or the view, signs with a key file and appends, or prints.
 */

const now = () => formatInstant(Math.floor(Date.now() / 1000) * 1000);

/** dsoKeyPath is where the DSO key of a database is by the rule of defaultKeyPath: `keys/dso.key` beside it. */
export function dsoKeyPath(db: string): string {
  return join(dirname(defaultKeyPath(db)), 'dso.key');
}

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;
const DATE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;

function checkMonth(month: string | undefined, field = 'month'): string {
  if (!month || !MONTH.test(month)) throw new OpenlecError('E_USAGE', `--${field} must be YYYY-MM (got "${month ?? ''}")`, { field });
  return month;
}

function wholeNumber(v: string | number | undefined, field: string, min = 0): number {
  const s = String(v ?? '');
  if (!/^\d+$/.test(s) || Number(s) < min || !Number.isSafeInteger(Number(s))) throw new OpenlecError('E_USAGE', `--${field} must be an integer of at least ${min} (got "${s}")`, { field });
  return Number(s);
}

/** participantKey takes a participant's public key, or a key file whose public key it is. */
export function participantKey(v: string, field: string): string {
  if (/^[A-Za-z0-9_-]{43}$/.test(v)) return v;
  if (existsSync(v)) return encodeKey(readKeyFile(v).publicKey);
  throw new OpenlecError('E_USAGE', `--${field} takes a participant key (43 characters) or a key file (got "${v}")`, { field });
}

const short = (key: string) => `${key.slice(0, 10)}…`;
const kwh = (wh: number) => formatDecimal(wh, 3);
/** percent shows parts per million as a percentage with two decimals (rounded half-even). */
export const percent = (ppm: number) => `${formatDecimal(mulDivRound(ppm, 1, 100), 2)} %`;

/** signAndAppend signs one transaction with a key file and appends it; refusals are thrown as they are. */
async function signAndAppend(db: string, keyFile: string, type: string, body: (state: State) => unknown): Promise<{ entry: number; body: unknown; actor: string }> {
  const key = readKeyFile(keyFile);
  const ledger = SqliteLedger.open(db);
  try {
    if (!community(ledger.state)) throw new OpenlecError('E_NO_COMMUNITY', 'the log has no community yet', { field: 'db' });
    const b = body(ledger.state);
    const signer = Signer.forState(ledger.state, key, now);
    const r = await ledger.submit(signer.sign(type, b));
    if (!r.ok) throw r.error;
    return { entry: r.entry, body: b, actor: signer.actor };
  } finally {
    await ledger.close();
  }
}

export interface DeviceCommand {
  db: string;
  key?: string;
  device: string;
  meter: string;
  fuel: string;
  technology: string;
  capacityW: string | number;
  commissioned: string;
  zone: string;
  gridArea: string;
  support?: boolean;
}

/** registerDevice signs device.register (DSO or issuer): the export meter a device's certificates are issued from, its EECS codes and sizes. */
export async function registerDevice(o: DeviceCommand) {
  const body = {
    device: o.device, meter: o.meter, fuel: o.fuel, technology: o.technology, capacityW: wholeNumber(o.capacityW, 'capacity-w', 1), commissioned: o.commissioned, zone: o.zone, gridArea: o.gridArea,
    support: o.support === true,
  };
  const r = await signAndAppend(o.db, o.key ?? dsoKeyPath(o.db), 'device.register', () => body);
  return { entry: r.entry, ...body };
}

export interface IssueCommand {
  db: string;
  key?: string;
  date?: string;
  month?: string;
  showProgress?: boolean;
}

export interface IssuedDay extends IssueSummary {
  entry: number;
}

/**
 * issueCertificates issues one local date, or every date of a month that has export
 * readings not yet issued: each date's body is planned on the state as the dates before
 * it leave it (certificate IDs continue from day to day), then all the days are appended
 * as one set, all or none. Nothing to issue is refused (E_NOTHING_TO_ISSUE).
 */
export async function issueCertificates(o: IssueCommand) {
  if (!o.date === !o.month) throw new OpenlecError('E_USAGE', 'give --date YYYY-MM-DD or --month YYYY-MM', { field: 'date' });
  if (o.date !== undefined && !DATE.test(o.date)) throw new OpenlecError('E_USAGE', `--date must be YYYY-MM-DD (got "${o.date}")`, { field: 'date' });
  const dates = o.date ? [o.date] : monthDays(checkMonth(o.month));
  const key = readKeyFile(o.key ?? dsoKeyPath(o.db));
  const ledger = SqliteLedger.open(o.db);
  try {
    if (!community(ledger.state)) throw new OpenlecError('E_NO_COMMUNITY', 'the log has no community yet', { field: 'db' });
    const plans: IssueSummary[] = [];
    const bar = o.showProgress ? progress('issue') : progress('');
    // Like planIssue, on writes rolled back afterwards, but each date sees the dates planned before it.
    const mark = ledger.state.mark();
    try {
      dates.forEach((date, k) => {
        const { summary } = issueDay(ledger.state, date, -1);
        if (summary.deviceDays > 0) plans.push(summary);
        bar.update(k + 1, dates.length);
      });
    } finally {
      ledger.state.rollback(mark);
      bar.stop();
    }
    if (plans.length === 0) {
      const what = o.date ?? o.month!;
      throw new OpenlecError('E_NOTHING_TO_ISSUE', `${what}: every device's export readings are issued already (or there are none)`, { field: o.date ? 'date' : 'month' });
    }
    const signer = Signer.forState(ledger.state, key, now);
    const entries = await ledger.submitAtomic(plans.map((p) => signer.sign('certificates.issue', p)));
    const days: IssuedDay[] = plans.map((p, k) => ({ ...p, entry: entries[k]! }));
    const sum = (f: (d: IssuedDay) => number) => days.reduce((s, d) => s + f(d), 0);
    return {
      ...(o.month ? { month: o.month } : { date: o.date! }),
      days,
      totals: { dates: days.length, deviceDays: sum((d) => d.deviceDays), issuedWh: sum((d) => d.issuedWh), withdrawnWh: sum((d) => d.withdrawnWh), revokedWh: sum((d) => d.revokedWh), refusedIntervals: sum((d) => d.refusedIntervals) },
    };
  } finally {
    await ledger.close();
  }
}

export function printIssue(r: Awaited<ReturnType<typeof issueCertificates>>): string {
  const t = r.totals;
  return [
    table(r.days.map((d) => [d.date, d.entry, d.deviceDays, d.issuedWh, d.withdrawnWh, d.revokedWh, d.refusedIntervals]), ['date', 'entry', 'device-days', 'issued Wh', 'withdrawn Wh', 'claims revoked Wh', 'refused intervals']),
    `${t.dates} date(s) issued: ${t.issuedWh} certificates (${kwh(t.issuedWh)} kWh) issued, ${t.withdrawnWh} withdrawn, ${t.revokedWh} Wh of claims revoked, ${t.refusedIntervals} interval(s) refused above capacity`,
  ].join('\n');
}

/** settleCertificates signs certificates.settle for a month (operator): the moves by trades and the allocation, and the automatic claims. */
export async function settleCertificates(o: { db: string; key?: string; month: string }) {
  const month = checkMonth(o.month);
  const r = await signAndAppend(o.db, o.key ?? defaultKeyPath(o.db), 'certificates.settle', (state) => planSettle(state, month));
  return { entry: r.entry, ...(r.body as ReturnType<typeof planSettle>) };
}

export function printSettle(r: Awaited<ReturnType<typeof settleCertificates>>): string {
  return `certificates of ${r.month} settled in entry ${r.entry}: ${r.movedWh} Wh moved along trades and the allocation, ${r.claimedWh} Wh claimed automatically, ${r.shortWh} Wh asked for without certificates; ${r.records} record(s), root ${r.root.slice(0, 16)}…`;
}

/** expireCertificates signs certificates.expire for a month (operator), its Wh computed on writes rolled back afterwards. */
export async function expireCertificates(o: { db: string; key?: string; month: string }) {
  const month = checkMonth(o.month);
  const r = await signAndAppend(o.db, o.key ?? defaultKeyPath(o.db), 'certificates.expire', (state) => {
    const mark = state.mark();
    try {
      return { month, expiredWh: expireMonth(state, month, -1) };
    } finally {
      state.rollback(mark);
    }
  });
  return { entry: r.entry, ...(r.body as { month: string; expiredWh: number }) };
}

/** listBundles lists the live bundles of a month (of one holder with --holder), with the community's time zone. */
export function listBundles(o: { db: string; month: string; holder?: string }) {
  const month = checkMonth(o.month);
  const holder = o.holder === undefined ? undefined : participantKey(o.holder, 'holder');
  return withLedger(o.db, (ledger) => {
    const c = community(ledger.state)!;
    const views = bundles(ledger.state, month, holder);
    return { month, timeZone: c.timeZone, ...(holder ? { holder } : {}), bundles: views, totals: totals(ledger.state, month) };
  });
}

export function printBundles(r: Awaited<ReturnType<typeof listBundles>>): string {
  const rows = r.bundles.map((b: BundleView) => [
    b.device, formatLocal(parseInstant(b.interval), r.timeZone).slice(0, 16).replace('T', ' '), `${b.from}-${b.to}`, b.quantityWh, short(b.holder), b.status,
    b.reason + (b.claim ? ` (${b.claim.meter} ${formatLocal(parseInstant(b.claim.interval), r.timeZone).slice(11, 16)})` : ''),
  ]);
  const t = r.totals;
  return [
    `${r.bundles.length} bundle(s) of ${r.month}${r.holder ? ` held by ${short(r.holder)}` : ''}, ${r.bundles.reduce((s, b) => s + b.quantityWh, 0)} Wh; local time ${r.timeZone}`,
    table(rows, ['device', 'interval', 'IDs', 'Wh', 'holder', 'status', 'reason']),
    `community ${r.month}: ${t.issuedWh} Wh issued = ${t.active} active + ${t.cancelled} cancelled + ${t.expired} expired + ${t.withdrawn} withdrawn; ${t.transferredWh} Wh away from the producers`,
  ].join('\n');
}

export interface BundleCommand {
  db: string;
  key: string;
  device: string;
  interval: string;
  from: string | number;
  wh: string | number;
}

/** transferCertificates signs certificate.transfer: the first `wh` certificates of the bundle starting at `from` go to another participant. */
export async function transferCertificates(o: BundleCommand & { to: string }) {
  const body = { device: o.device, interval: o.interval, from: wholeNumber(o.from, 'from', 1), quantityWh: wholeNumber(o.wh, 'wh', 1), to: participantKey(o.to, 'to') };
  const r = await signAndAppend(o.db, o.key, 'certificate.transfer', () => body);
  return { entry: r.entry, ...body };
}

/** cancelCertificates signs certificate.cancel: the certificates are claimed for consumption of an import meter in their own clock hour. */
export async function cancelCertificates(o: BundleCommand & { meter: string; consumptionInterval?: string; beneficiary?: string }) {
  const body = {
    device: o.device, interval: o.interval, from: wholeNumber(o.from, 'from', 1), quantityWh: wholeNumber(o.wh, 'wh', 1), meter: o.meter,
    ...(o.consumptionInterval ? { consumptionInterval: o.consumptionInterval } : {}), ...(o.beneficiary ? { beneficiary: participantKey(o.beneficiary, 'beneficiary') } : {}),
  };
  const r = await signAndAppend(o.db, o.key, 'certificate.cancel', () => body);
  return { entry: r.entry, ...body };
}

/** setAutoClaim signs certificate.autoclaim for the key's holder. */
export async function setAutoClaim(o: { db: string; key: string; on?: boolean; off?: boolean }) {
  if (!o.on === !o.off) throw new OpenlecError('E_USAGE', 'give --on or --off', { field: 'on' });
  const r = await signAndAppend(o.db, o.key, 'certificate.autoclaim', () => ({ enabled: o.on === true }));
  return { entry: r.entry, holder: r.actor, enabled: o.on === true };
}

/** matchCertificates: the hourly (24/7) and monthly matching scores of a holder or the community, and the hourly series. */
export function matchCertificates(o: { db: string; month: string; holder?: string }) {
  const month = checkMonth(o.month);
  const holder = o.holder === undefined ? undefined : participantKey(o.holder, 'holder');
  return withLedger(o.db, (ledger) => {
    const m = matching(ledger.state, month, holder);
    return {
      ...m, ...(holder ? { holder } : {}), timeZone: community(ledger.state)!.timeZone,
      hourlyPercent: percent(m.hourlyPpm), monthlyPercent: percent(m.monthlyPpm), hours: matchingHours(ledger.state, month, holder),
    };
  });
}

const BARS = ' ▁▂▃▄▅▆▇█';

/** chartMatch draws one line per local day, one character per clock hour: the share of the hour's consumption matched in the hour. */
export function chartMatch(r: Awaited<ReturnType<typeof matchCertificates>>): string {
  const byDay = new Map<string, string>();
  for (const h of r.hours) {
    const ch = h.consumedWh === 0 ? '·' : BARS[Math.round((h.matchedWh / h.consumedWh) * 8)]!;
    byDay.set(h.date, (byDay.get(h.date) ?? '') + ch);
  }
  return [
    `matching ${r.month}${r.holder ? ` of ${short(r.holder)}` : ' of the community'}: consumption ${kwh(r.consumedWh)} kWh`,
    `  hourly (24/7): ${r.hourlyPercent} (${kwh(r.hourlyMatchedWh)} kWh matched by certificates claimed in their hour)`,
    `  monthly:       ${r.monthlyPercent} (${kwh(r.monthlyMatchedWh)} kWh: the month's certificates held or claimed, as a monthly GO claim counts them)`,
    '',
    `share of each hour matched, 00 to 23 local time (${r.timeZone}); · = no consumption`,
    `${' '.repeat(11)}0     6     12    18   23`,
    ...[...byDay].map(([d, s]) => `${d} ${s}`),
  ].join('\n');
}

/** matchPage is a self-contained HTML page with SVG charts of the hourly matching (src/charts/svg.ts). */
export function matchPage(r: Awaited<ReturnType<typeof matchCertificates>>): string {
  const byDay = new Map<string, { c: number; m: number }>();
  for (const h of r.hours) {
    const d = byDay.get(h.date) ?? { c: 0, m: 0 };
    d.c += h.consumedWh;
    d.m += h.matchedWh;
    byDay.set(h.date, d);
  }
  const first = r.hours[0];
  const last = r.hours.at(-1);
  const title = `Certificate matching ${r.month}${r.holder ? ` of ${r.holder}` : ' of the community'}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:1040px;margin:2em auto;padding:0 1em;color:#222}.chart{width:100%;height:auto}.legend span{margin-right:1.5em}.legend i{display:inline-block;width:.8em;height:.8em;margin-right:.3em;vertical-align:middle}td,th{padding:.2em .8em;text-align:right}</style></head>
<body><h1>${esc(title)}</h1>
<table><tr><th>consumption</th><td>${kwh(r.consumedWh)} kWh</td></tr>
<tr><th>hourly (24/7) matching</th><td>${esc(r.hourlyPercent)}</td><td>${kwh(r.hourlyMatchedWh)} kWh</td></tr>
<tr><th>monthly matching</th><td>${esc(r.monthlyPercent)}</td><td>${kwh(r.monthlyMatchedWh)} kWh</td></tr></table>
<h2>Consumption and matched consumption per hour (Wh)</h2>
${lineChart('hours', [
    { name: 'consumption', color: '#7f8c8d', values: r.hours.map((h) => h.consumedWh) },
    { name: 'matched in the hour', color: '#27ae60', values: r.hours.map((h) => h.matchedWh) },
  ], first && last ? [formatLocal(parseInstant(first.hour), r.timeZone).slice(0, 16), formatLocal(parseInstant(last.hour), r.timeZone).slice(0, 16)] : undefined)}
<h2>Share of each day's consumption matched hour by hour (%)</h2>
${barChart('days', [...byDay].map(([date, d]) => ({ label: date, value: d.c === 0 ? 0 : Math.round((d.m * 10_000) / d.c) / 100 })))}
<p>Local time ${esc(r.timeZone)}. Hourly matching counts a certificate only against consumption in its own clock hour; monthly matching counts the month's certificates against the month's consumption.</p>
</body></html>
`;
}

export const EXPORT_FORMATS = ['eecs-json', 'eecs-csv', 'energytag'] as const;

/** exportCertificates: the month's EECS guarantees of origin (JSON or CSV) or its bundles shaped as EnergyTag's, as text. */
export function exportCertificates(o: { db: string; month: string; format: string }): Promise<string> {
  const month = checkMonth(o.month);
  if (!(EXPORT_FORMATS as readonly string[]).includes(o.format)) throw new OpenlecError('E_USAGE', `--format must be one of ${EXPORT_FORMATS.join(', ')} (got "${o.format}")`, { field: 'format' });
  return withLedger(o.db, (ledger) => {
    if (o.format === 'eecs-csv') return eecsCsv(eecsExport(ledger.state, month));
    const value = o.format === 'eecs-json' ? eecsExport(ledger.state, month) : energyTagBundles(ledger.state, bundles(ledger.state, month));
    return JSON.stringify(value, null, 2) + '\n';
  });
}

export function writeOut(path: string, text: string): void {
  writeFileSync(path, text);
}
