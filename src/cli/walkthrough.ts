import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Signer } from '../client.ts';
import { community } from '../community/tables.ts';
import { encodeKey, type KeyPair, type SignedTransaction } from '../ledger/index.ts';
import { generateKeyPair, readKeyFile, writeKeyFile } from '../node/key-file.ts';
import { SqliteLedger } from '../store/sqlite-ledger.ts';
import { formatInstant } from '../units/index.ts';
import { writeFileSync } from 'node:fs';
import { allocateMonth, printAllocation } from './allocate.ts';
import { checkProofFile, defaultKeyPath, entryProof, init, printVerify, verifyDb, writeJson } from './commands.ts';
import { invoices, marketClear, printClear, printInvoices } from './market.ts';
import { importMeterData, printImport } from './meter.ts';
import { chartMatch, exportCertificates, issueCertificates, matchCertificates, matchPage, printIssue, printSettle, registerDevice, setAutoClaim, settleCertificates } from './certificates.ts';
import { OpenlecError } from '../errors.ts';
import { addDays, dayIntervals, localDateOf, localDay } from '../units/index.ts';

/**
 * walkthroughCurves writes the last 7 full local days of the six households and the shared PV
 * plant as a French DSO load-curve export (average W, END time stamps): smooth shapes,
 * so the figures are easy to follow, and the same on every run for the same dates.
 */
function walkthroughCurves(days: string[]): string {
  const blocks: string[] = [];
  const header = 'Identifiant PRM;Type de donnees;Date de debut;Date de fin;Grandeur physique;Grandeur metier;Etape metier;Unite;Pas en minutes';
  const meters = [...MEMBERS.map((_, i) => [`1234567890${String(i + 1).padStart(4, '0')}`, 'Consommation', i] as const), ['12345678909999', 'Production', -1] as const];
  for (const [prm, kind, i] of meters) {
    blocks.push(header, `${prm};Courbe de charge;;;Energie active;${kind};Comptage Brut;W;30`, '', 'Horodate;Valeur');
    for (const day of days) {
      for (const start of dayIntervals(localDay(day, 'Europe/Paris'), 30)) {
        const hour = ((start / 3_600_000 + 1) % 24 + 24) % 24; // close to local time
        const watts = i < 0
          ? Math.max(0, Math.round(9_000 * Math.sin(((hour - 8) / 9) * Math.PI)))
          : 250 + 90 * i + (hour >= 18 && hour < 22 ? 900 : 0) + (hour >= 7 && hour < 9 ? 400 : 0);
        blocks.push(`${new Date(start + 1_800_000).toISOString().replace('.000Z', '+00:00')};${watts}`);
      }
    }
  }
  return blocks.join('\n') + '\n';
}

/**
 * walkthroughDays are the last 7 full local days, the week the walkthrough imports, all in
 * one month (the walkthrough allocates, issues and settles one): in a month's first week,
 * the last 7 days of the month before.
 */
function walkthroughDays(): string[] {
  const today = localDateOf(Date.now(), 'Europe/Paris');
  const week = (last: string) => Array.from({ length: 7 }, (_, k) => addDays(last, k - 6));
  const days = week(addDays(today, -1));
  return days[0]!.slice(0, 7) === days[6]!.slice(0, 7) ? days : week(addDays(`${days[6]!.slice(0, 7)}-01`, -1));
}

async function walkthroughMeterData(dir: string, db: string): Promise<string> {
  const days = walkthroughDays();
  const file = join(dir, `enedis-${days[0]}-${days[6]}.csv`);
  writeFileSync(file, walkthroughCurves(days));
  const imported = await importMeterData({ db, key: join(dir, 'keys', 'dso.key'), format: 'enedis', files: [file] });
  const lines = [printImport(imported)];
  if (imported.transactions > 0) {
    const month = days[6]!.slice(0, 7);
    lines.push(printAllocation(await allocateMonth({ db, month, out: join(dir, `allocation-${month}`) })));
  }
  lines.push(await walkthroughMarket(dir, db, days));
  lines.push(await walkthroughCertificates(dir, db, days));
  return lines.join('\n');
}

/** skipping runs a step that a rerun of the walkthrough may find done already (the codes it names), and says so. */
async function skipping<T>(codes: string[], step: () => Promise<T>): Promise<T | string> {
  try {
    return await step();
  } catch (e) {
    if (e instanceof OpenlecError && codes.includes(e.code)) return `(${e.code}: ${e.message})`;
    throw e;
  }
}

/**
 * walkthroughCertificates follows the shared PV plant's energy with certificates of origin:
 * the DSO registers the plant as a device and issues the week's certificates from its
 * export readings; three households ask for their certificates to be claimed for them; the
 * operator settles the month (certificates move along the allocation and the trades, then
 * are claimed hour by hour); the 24/7 report and the EECS export are written beside the log.
 */
async function walkthroughCertificates(dir: string, db: string, days: string[]): Promise<string> {
  const keys = join(dir, 'keys');
  const month = days[6]!.slice(0, 7);
  const lines: string[] = [''];
  const probe = SqliteLedger.open(db);
  const registered = probe.state.count('devices') > 0;
  await probe.close();
  if (!registered) {
    await registerDevice({
      db, key: join(keys, 'dso.key'), device: 'solar-street-pv', meter: '12345678909999', fuel: 'F01040100', technology: 'T010100', capacityW: 9_000, commissioned: '2025-05-01',
      zone: '10YFR-RTE------C', gridArea: 'walkthrough-substation',
    });
    for (const m of MEMBERS.slice(0, 3)) await setAutoClaim({ db, key: join(keys, `${m}.key`), on: true });
    lines.push('certificates: the PV plant is registered as device solar-street-pv; member-01 to member-03 have their certificates claimed for them');
  }
  for (const m of [...new Set(days.map((d) => d.slice(0, 7)))]) {
    const issued = await skipping(['E_NOTHING_TO_ISSUE'], () => issueCertificates({ db, key: join(keys, 'dso.key'), month: m }));
    lines.push(typeof issued === 'string' ? `issue ${m}: ${issued}` : printIssue(issued));
  }
  const settled = await skipping(['E_MONTH_SETTLED'], () => settleCertificates({ db, month }));
  lines.push(typeof settled === 'string' ? `settle ${month}: ${settled}` : printSettle(settled));
  const match = await matchCertificates({ db, month });
  const report = join(dir, `matching-${month}.html`);
  writeFileSync(report, matchPage(match));
  const eecs = join(dir, `guarantees-of-origin-${month}.csv`);
  writeFileSync(eecs, await exportCertificates({ db, month, format: 'eecs-csv' }));
  lines.push(`hourly (24/7) matching ${match.hourlyPercent}, monthly ${match.monthlyPercent}`, chartMatch({ ...match, hours: match.hours.filter((h) => days.includes(h.date)) }), `24/7 report: ${report}; EECS guarantees of origin: ${eecs}`);
  return lines.join('\n');
}

/**
 * walkthroughMarket runs the community's market ex-post on the metered week: the operator sets
 * the rules once (uniform price, feed-in 0.06 and retail 0.20 EUR/kWh), the DSO its fees,
 * two members their standing prices; then every read interval is cleared and the month
 * is invoiced.
 */
async function walkthroughMarket(dir: string, db: string, days: string[]): Promise<string> {
  const keys = join(dir, 'keys');
  const ledger = SqliteLedger.open(db);
  try {
    if (ledger.state.count('market_config') === 0) {
      const c = community(ledger.state)!;
      const now = () => formatInstant(Math.floor(Date.now() / 1000) * 1000);
      const signerFor = (key: KeyPair) => Signer.forState(ledger.state, key, now);
      const from = formatInstant(localDay(days[0]!, c.timeZone).startMs);
      const [m1, m4] = [`${MEMBERS[0]}`, `${MEMBERS[3]}`].map((m) => signerFor(readKeyFile(join(keys, `${m}.key`))));
      await ledger.submitAtomic([
        signerFor(readKeyFile(join(keys, 'operator.key'))).sign('market.configure', { from, mode: 'ex-post', mechanism: 'uniform', gateClosureMinutes: 60, feedInMicroPerKwh: 60_000, retailMicroPerKwh: 200_000 }),
        signerFor(readKeyFile(join(keys, 'dso.key'))).sign('tariff.set', { from, feesMicroPerKwh: { local: 0, feeder: 10_000, substation: 20_000, beyond: 40_000 } }),
        m1!.sign('order.standing', { side: 'buy', meter: '12345678900001', fromDate: days[0], toDate: addDays(days[0]!, 365), window: { start: '10:00', end: '16:00' }, quantityWh: null, limitMicroPerKwh: 150_000 }),
        m4!.sign('order.standing', { side: 'buy', meter: '12345678900004', fromDate: days[0], toDate: addDays(days[0]!, 365), quantityWh: 200, limitMicroPerKwh: 120_000 }),
      ]);
    }
  } finally {
    await ledger.close();
  }
  const lines: string[] = [];
  let lastDay: Awaited<ReturnType<typeof marketClear>> = [];
  for (const day of days) {
    const r = await marketClear({ db, day });
    if (r.length > 0) lines.push(`${day}: cleared ${r.length} intervals ex-post, ${(r.reduce((s, x) => s + x.volumeWh, 0) / 1000).toFixed(1)} kWh between neighbours`);
    lastDay = r;
  }
  const last = days[6]!;
  if (lastDay.length > 0) lines.push('', `market of ${last}: ${printClear(lastDay)}`);
  lines.push('', printInvoices(await invoices({ db, month: last.slice(0, 7), participant: encodeKey(readKeyFile(join(keys, `${MEMBERS[0]}.key`)).publicKey) })));
  return lines.join('\n');
}

/** nextCommands are the commands a newcomer can run next on the walkthrough's community, as printed (keys where the commands look for them). */
function nextCommands(db: string, keys: string, days: readonly string[]): string {
  const yesterday = days[days.length - 1]!;
  const noon = formatInstant(dayIntervals(localDay(yesterday, 'Europe/Paris'), 30)[24]!);
  const month = yesterday.slice(0, 7);
  return [
    'next, as they are:',
    `  openlec log --db ${db}`,
    `  openlec checkpoint --db ${db}`,
    `  openlec meter curve --db ${db} --meter 12345678900001 --from ${yesterday} --to ${yesterday}`,
    `  openlec allocate --db ${db} --month ${month}`,
    `  openlec market book --db ${db} --interval ${noon}`,
    `  openlec invoice --db ${db} --month ${month}`,
    `  openlec certificates list --db ${db} --month ${month}`,
    `  openlec certificates match --db ${db} --month ${month}`,
    `  openlec certificates export --db ${db} --month ${month} --format eecs-csv`,
    `  openlec verify --db ${db}`,
    `  openlec serve --db ${db}     (the dashboard at http://localhost:8080; log in with a key file from ${keys})`,
  ].join('\n');
}

const MEMBERS = ['member-01', 'member-02', 'member-03', 'member-04', 'member-05', 'member-06'];

function keyIn(dir: string, name: string): KeyPair {
  const path = join(dir, `${name}.key`);
  if (existsSync(path)) return readKeyFile(path);
  const key = generateKeyPair();
  writeKeyFile(path, key);
  return key;
}

/**
 * walkthrough creates (or reopens) a small community in `dir`, the command line's guided
 * tour (not the live demo of `npm start`): an operator, a DSO, six households on two
 * feeders and a shared PV plant in Europe/Paris, in EUR; a week of DSO load curves
 * imported, allocated, traded ex-post and invoiced; then checkpoints, verifies and proves
 * one member's record, printing what a newcomer should look at and the commands to go
 * on with. Its key files are where every command looks for them: `keys/` beside the
 * database.
 */
export async function walkthrough(dir: string): Promise<string> {
  const db = join(dir, 'walkthrough.db');
  const keys = dirname(defaultKeyPath(db));
  mkdirSync(keys, { recursive: true });
  const out: string[] = [];
  if (!existsSync(db)) {
    await init({ db, name: 'Solar Street walkthrough', tz: 'Europe/Paris', interval: '30', currency: 'EUR', id: 'openlec.local/walkthrough' });
    out.push(`created ${db}`);
  } else {
    out.push(`reopened ${db}`);
  }
  const operatorKey = readKeyFile(defaultKeyPath(db));
  const ledger = SqliteLedger.open(db);
  try {
    const c = community(ledger.state)!;
    const now = () => formatInstant(Math.floor(Date.now() / 1000) * 1000);
    const signerFor = (key: KeyPair) => Signer.forState(ledger.state, key, now);
    if (ledger.state.count('meters') === 0) {
      const operator = signerFor(operatorKey);
      const dsoKey = keyIn(keys, 'dso');
      const members = MEMBERS.map((m) => keyIn(keys, m));
      const txs: SignedTransaction[] = [
        operator.sign('participant.register', { key: encodeKey(dsoKey.publicKey), roles: ['dso'] }),
        ...members.map((k) => operator.sign('participant.register', { key: encodeKey(k.publicKey), roles: ['member'] })),
      ];
      const dso = new Signer(dsoKey, c.id, 0, now);
      txs.push(
        dso.sign('feeder.define', { id: 'substation', importLimitW: 400_000, exportLimitW: 250_000 }),
        dso.sign('feeder.define', { id: 'feeder-north', parent: 'substation', exportLimitW: 60_000 }),
        dso.sign('feeder.define', { id: 'feeder-south', parent: 'substation' }),
        ...members.map((k, i) => dso.sign('meter.register', {
          meter: `1234567890${String(i + 1).padStart(4, '0')}`, scheme: 'PRM', direction: 'import', owner: encodeKey(k.publicKey), feeder: i < 3 ? 'feeder-north' : 'feeder-south',
        })),
        dso.sign('meter.register', { meter: '12345678909999', scheme: 'PRM', direction: 'export', owner: encodeKey(operatorKey.publicKey), feeder: 'feeder-north' }),
      );
      const results = await ledger.submitMany(txs);
      const refused = results.filter((r) => !r.ok);
      out.push(`submitted ${txs.length} signed transactions, ${refused.length} refused`);
    }
    ledger.checkpoint(operatorKey);
    out.push(`community ${c.name} (${c.id}), ${c.timeZone}, ${c.intervalMinutes}-minute intervals, ${c.currency}`);
    out.push(`log: ${ledger.size} entries, ${ledger.state.count('participants')} participants, ${ledger.state.count('feeders')} feeders, ${ledger.state.count('meters')} meters`);
    const member = readKeyFile(join(keys, `${MEMBERS[0]}.key`));
    const registration = [...Array(ledger.size).keys()].find((i) => new TextDecoder().decode(ledger.entry(i)).includes(`"key":"${encodeKey(member.publicKey)}"`));
    if (registration !== undefined) {
      const proofPath = join(dir, 'member-01.proof.json');
      writeJson(proofPath, await entryProof(ledger, registration));
      checkProofFile(proofPath);
      out.push(`member-01's registration (entry ${registration}) is proven included: ${proofPath} ("openlec check-proof ${proofPath}")`);
    }
    out.push(`operator verifier key: ${ledger.operatorVerifierKey()}`);
  } finally {
    await ledger.close();
  }
  out.push(await walkthroughMeterData(dir, db));
  out.push(printVerify(await verifyDb(db, false)));
  out.push(nextCommands(db, keys, walkthroughDays()));
  return out.join('\n');
}
