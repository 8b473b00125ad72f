import { Command, InvalidArgumentError } from 'commander';
import {
  checkProofFile, entryProof, init, keygen, logListing, printLog, printVerify, signCheckpointNow, submitTx, verifyDb, withLedger,
} from './commands.ts';
import { defaultKeyPath } from './commands.ts';
import { allocateMonth, printAllocation } from './allocate.ts';
import { SIM_KEYS } from '../sim/community.ts';
import { checkEvidence, type Evidence } from '../trust/evidence.ts';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { invoices, invoicesCsv, marketBook, marketClear, printBook, printClear, printInvoices } from './market.ts';
import { chartCurve, FORMATS, importMeterData, meterCurve, printImport } from './meter.ts';
import { checked, EXIT, progress, reportError } from './output.ts';
import {
  cancelCertificates, chartMatch, EXPORT_FORMATS, exportCertificates, expireCertificates, issueCertificates, listBundles, matchCertificates, matchPage, printBundles, printIssue,
  printSettle, registerDevice, setAutoClaim, settleCertificates, transferCertificates, writeOut,
} from './certificates.ts';
import { readKeyFile } from '../node/key-file.ts';
import { OpenlecError } from '../errors.ts';
import { parseCosignerKey } from '../ledger/index.ts';

// Commands that need the HTTP server (fastify), an EVM client (viem) or the simulator load
// them when they run, not at every start of the CLI: `openlec --version` or `openlec log`
// should not pay for them.
const servers = () => import('./serve.ts');
const databases = () => import('./db.ts');
const remote = async () => ({ ...(await import('./follow.ts')), ...(await import('./witness.ts')) });
const chains = async () => ({ ...(await import('./anchor.ts')), ...(await import('../anchor/anchoring.ts')) });
const flexMarket = () => import('./flex.ts');
const evCharging = () => import('./charging.ts');
const apiKeys = () => import('./api-keys.ts');
const simulator = async () => ({
  ...(await import('./simulate.ts')), ...(await import('./simulate-compare.ts')), ...(await import('../sim/compare.ts')), ...(await import('../sim/run.ts')),
});

const integer = (field: string) => (v: string) => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`${field} must be a non-negative integer`);
  return Number(v);
};

/** packageVersion is the version in openlec's package.json (two folders up from src/cli and from dist/cli). */
function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

const print = (text: string): void => {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
};
const printJson = (value: unknown) => print(JSON.stringify(value, null, 2));

export function buildProgram(): Command {
  const program = new Command('openlec')
    .description('Local energy communities on a verifiable ledger')
    .version(packageVersion(), '-V, --version', 'print the version of openlec')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  program.command('init')
    .description('create a community: the operator key (unless --key exists) and a log whose entry 0 creates it')
    .requiredOption('--db <path>', 'SQLite file to create')
    .requiredOption('--name <name>', 'public name of the community')
    .requiredOption('--tz <zone>', 'IANA time zone, e.g. Europe/Paris')
    .option('--interval <minutes>', 'settlement interval: 15, 30 or 60', '30')
    .option('--currency <code>', 'ISO 4217 currency', 'EUR')
    .option('--id <id>', 'community id, also the checkpoint origin (default openlec.local/<name>)')
    .option('--key <file>', 'operator key file (default: keys/operator.key beside the database)')
    .action(async (o) => {
      const r = await init(o);
      print(`created community ${r.id} in ${o.db}\noperator key ${r.operator} in ${r.key}`);
    });

  program.command('keygen')
    .description('create an Ed25519 key file; its public key is the participant id')
    .requiredOption('--out <file>', 'key file to write (never overwritten)')
    .action((o) => print(keygen(o.out)));

  const tx = program.command('tx').description('transactions');
  tx.command('submit')
    .description('sign a transaction with a key file and append it')
    .requiredOption('--db <path>', 'log database')
    .requiredOption('--key <file>', 'key file of the actor')
    .requiredOption('--type <type>', 'transaction type, e.g. meter.register')
    .requiredOption('--body <json>', 'transaction body as JSON')
    .option('--nonce <n>', "nonce (default: the actor's next one)")
    .action(async (o) => printJson(await submitTx(o)));

  program.command('log')
    .description('list log entries and checkpoints')
    .requiredOption('--db <path>', 'log database')
    .option('--from <n>', 'first entry', integer('--from'), 0)
    .option('--limit <n>', 'most entries to list', integer('--limit'), 50)
    .option('--json', 'print JSON')
    .action((o) => withLedger(o.db, async (l) => {
      const listing = await logListing(l, o.from, o.limit);
      o.json ? printJson(listing) : print(printLog(listing));
    }));

  program.command('checkpoint')
    .description('sign a checkpoint (C2SP tlog-checkpoint) of the current log with the operator key')
    .requiredOption('--db <path>', 'log database')
    .option('--key <file>', 'operator key file (default: keys/operator.key beside the database)')
    .action((o) => withLedger(o.db, async (l) => print(await signCheckpointNow(l, readKeyFile(o.key ?? defaultKeyPath(o.db))))));

  program.command('proof')
    .description('inclusion proof of an entry under the newest checkpoint covering it, as JSON')
    .requiredOption('--db <path>', 'log database')
    .requiredOption('--entry <n>', 'entry index', integer('--entry'))
    .action((o) => withLedger(o.db, async (l) => printJson(await entryProof(l, o.entry))));

  program.command('check-proof')
    .description('check a proof file offline: checkpoint signature, transaction signature, inclusion')
    .argument('<file>', 'proof JSON from "openlec proof"')
    .option('--verifier-key <key>', 'trusted operator verifier key (default: the one in the file)')
    .action(async (file, o) => {
      const r = await checked(() => checkProofFile(file, o.verifierKey));
      print(`ok: ${r.transaction.type} by ${r.transaction.actor} is entry of the log ${r.checkpoint.origin} at size ${r.checkpoint.size}`);
    });

  program.command('verify')
    .description('replay the whole log and check signatures, nonces, rules, tree hashes, checkpoints, projections and the file\'s integrity, on one snapshot (a live database is verified as of the moment verify starts, and the size verified is printed)')
    .option('--db <path>', 'log database (SQLite)')
    .option('--pg <url>', 'a PostgreSQL database instead (with --community)')
    .option('--community <id>', 'the community to verify in the --pg database')
    .option('--json', 'print the report as JSON')
    .option('--anchors <rpc>', 'also check every root anchored on this EVM JSON-RPC endpoint against the log')
    .option('--contract <address>', 'the anchor contract (with --anchors)')
    .option('--chain-id <id>', 'the chain id the endpoint must have', integer('--chain-id'))
    .action(async (o) => {
      batchHeap();
      if (o.pg) {
        if (!o.community) throw new OpenlecError('E_USAGE', 'verify --pg needs --community ID (openlec community list --pg URL lists them)', { field: 'community' });
        if (o.anchors) throw new OpenlecError('E_USAGE', '--anchors is checked against a SQLite log (copy the community with openlec db copy)', { field: 'anchors' });
        const r = await (await databases()).verifyStore(o.pg, o.community, !o.json);
        if (o.json) printJson(r);
        else print(printVerify(r));
        if (!r.ok) process.exitCode = EXIT.failed;
        return;
      }
      if (!o.db) throw new OpenlecError('E_USAGE', 'verify needs --db PATH or --pg URL --community ID', { field: 'db' });
      const r = await verifyDb(o.db, !o.json);
      let anchors: Awaited<ReturnType<typeof import('../anchor/anchoring.ts').checkAnchors>> | undefined;
      if (o.anchors) {
        if (!o.contract) throw new OpenlecError('E_USAGE', '--anchors needs --contract ADDRESS', { field: 'contract' });
        const { checkAnchors } = await chains();
        anchors = await withLedger(o.db, (ledger) => checkAnchors(ledger, { rpc: o.anchors, contract: o.contract, ...(o.chainId ? { chainId: o.chainId } : {}) }), { projections: false });
      }
      const ok = r.ok && (anchors?.problems.length ?? 0) === 0;
      if (o.json) printJson(anchors ? { ...r, ok, anchors } : r);
      else {
        print(printVerify(r));
        if (anchors) print(anchors.problems.length ? ['anchors FAILED', ...anchors.problems.map((p) => `  [${p.code}] ${p.message}`)].join('\n') : `anchors ok: ${anchors.anchors} anchored root(s) match the log${anchors.latest ? `, the latest for size ${anchors.latest.size} in block ${anchors.latest.block}` : ''}`);
      }
      if (!ok) process.exitCode = EXIT.failed;
    });

  program.command('anchor')
    .description('anchor the operator\'s (cosigned) checkpoints on an EVM chain for public timestamping')
    .requiredOption('--db <path>', 'log database')
    .requiredOption('--rpc <url>', 'EVM JSON-RPC endpoint (Energy Web Chain, Besu, a testnet, anvil)')
    .requiredOption('--key <file>', 'file holding the operator\'s EVM private key (0x hex)')
    .option('--contract <address>', 'the CheckpointAnchor contract')
    .option('--deploy', 'deploy a new CheckpointAnchor contract first')
    .option('--chain-id <id>', 'the chain id the endpoint must have', integer('--chain-id'))
    .option('--quorum <k>', 'anchor only checkpoints with at least k witness cosignatures', integer('--quorum'), 0)
    .option('--every <duration>', 'anchor again every duration (e.g. 1h); 0 = once', '0')
    .action(async (o) => {
      const { anchor, parseDuration } = await chains();
      const r = await anchor({ ...o, every: parseDuration(o.every, 'every'), log: (line: string) => print(line) });
      print(`${r.anchored.length} checkpoint(s) anchored on chain ${r.chainId} at ${r.contract}`);
    });

  const meter = program.command('meter').description('meter data');
  meter.command('import')
    .description('import load curves (generic CSV, French DSO CSV, Green Button/ESPI XML) as signed meter.readings, all or nothing')
    .requiredOption('--db <path>', 'log database')
    .requiredOption('--key <file>', 'key file of the DSO (meter-data role)')
    .requiredOption('--format <format>', `one of ${FORMATS.join(', ')}`)
    .argument('<files...>', 'files to import')
    .option('--meter <id>', 'metering point id (ESPI files have none)')
    .option('--direction <dir>', 'import or export (default: from the file, else import)')
    .option('--unit <unit>', 'csv: Wh or kWh', 'Wh')
    .option('--step <minutes>', 'csv: minutes each row covers (default: the community interval)', integer('--step'))
    .option('--columns <map>', 'csv: meter=NAME,start=NAME,value=NAME,direction=NAME')
    .option('--correct <reason>', 'record contradicting values as corrections with this reason')
    .option('--ref <id>', 'ticket or reference of the correction')
    .option('--json', 'print the summary as JSON')
    .action(async (files, o) => {
      if (!FORMATS.includes(o.format)) throw new OpenlecError('E_USAGE', `--format must be one of ${FORMATS.join(', ')}`, { field: 'format' });
      const r = await importMeterData({ ...o, files, showProgress: !o.json });
      o.json ? printJson(r) : print(printImport(r));
    });
  meter.command('curve')
    .description("a meter's recorded load curve between two local dates, as a chart, CSV or JSON")
    .requiredOption('--db <path>', 'log database')
    .requiredOption('--meter <id>', 'metering point id')
    .option('--direction <dir>', 'import or export', 'import')
    .requiredOption('--from <date>', 'first local date, YYYY-MM-DD')
    .requiredOption('--to <date>', 'last local date, YYYY-MM-DD')
    .option('--csv', 'print CSV')
    .option('--json', 'print JSON')
    .action(async (o) => {
      const curve = await meterCurve(o);
      if (o.json) printJson(curve);
      else if (o.csv) print(['start;wh', ...curve.rows.map((r) => `${r.start};${r.wh ?? ''}`)].join('\n'));
      else print(chartCurve(curve));
    });

  program.command('allocate')
    .description('allocate a month of local production to members with a key, record it, and write the DSO files and statements')
    .requiredOption('--db <path>', 'log database')
    .requiredOption('--month <YYYY-MM>', 'local calendar month')
    .option('--key <key>', 'prorata (default), static, redistribute, full-dynamic, cascade or spain', 'prorata')
    .option('--params <file>', 'JSON with the key parameters per meter: {"sharesPpm": {...}}, {"groups": {...}}, {"betasPpm": {...}}, or for full-dynamic {"days": {date: {meter: [ppm per interval]}}}')
    .option('--signer <file>', 'operator key file (default: keys/operator.key beside the database)')
    .option('--out <dir>', 'folder for the files (default: allocation-YYYY-MM beside the database)')
    .option('--precision <n>', 'decimals of the French coefficients', integer('--precision'), 2)
    .option('--json', 'print JSON')
    .action(async (o) => {
      const r = await allocateMonth(o);
      o.json ? printJson(r) : print(printAllocation(r));
    });

  const market = program.command('market').description('the local market: books and clearings');
  market.command('book')
    .description("an interval's book as it would clear now: orders (explicit, standing, or metered ex-post) and the supply and demand curves")
    .requiredOption('--db <path>', 'log database')
    .requiredOption('--interval <iso>', 'interval start, e.g. 2026-06-01T10:00:00Z')
    .option('--json', 'print JSON')
    .action(async (o) => {
      const b = await marketBook(o);
      o.json ? printJson(b) : print(printBook(b));
    });
  market.command('clear')
    .description('clear an interval (or every open interval of a local day) and record it as market.clear, recomputed by verify')
    .requiredOption('--db <path>', 'log database')
    .option('--interval <iso>', 'interval start')
    .option('--day <date>', 'every interval of a local day not yet cleared, YYYY-MM-DD')
    .option('--signer <file>', 'operator key file (default: keys/operator.key beside the database)')
    .option('--json', 'print JSON')
    .action(async (o) => {
      const r = await marketClear(o);
      o.json ? printJson(r.map(({ book: _book, ...x }) => x)) : print(printClear(r));
    });

  program.command('invoice')
    .description("monthly invoices on metered values: peer purchases and sales, network fees, supplier and grid energy")
    .requiredOption('--db <path>', 'log database')
    .requiredOption('--month <YYYY-MM>', 'local calendar month')
    .option('--participant <key>', "one participant's invoice")
    .option('--json', 'print JSON (exact micro-units)')
    .option('--csv', 'print CSV (exact micro-units)')
    .action(async (o) => {
      const s = await invoices(o);
      o.json ? printJson(s) : o.csv ? process.stdout.write(invoicesCsv(s)) : print(printInvoices(s));
    });

  const device = program.command('device').description('production devices for certificates of origin');
  device.command('register')
    .description('register a production device on an export meter (device.register, signed by the DSO or the issuer): EECS fuel and technology codes, capacity, zone')
    .requiredOption('--db <path>', 'log database')
    .option('--key <file>', 'key file of the DSO or issuer (default: keys/dso.key beside the database)')
    .requiredOption('--device <id>', 'device id (letters, digits, . _ : -)')
    .requiredOption('--meter <id>', 'the export metering point its certificates are issued from')
    .requiredOption('--fuel <code>', 'EECS energy-source code, e.g. F01040100 (solar)')
    .requiredOption('--technology <code>', 'EECS technology code, e.g. T010100 (photovoltaic)')
    .requiredOption('--capacity-w <W>', 'capacity in W', integer('--capacity-w'))
    .requiredOption('--commissioned <date>', 'commissioning date, YYYY-MM-DD')
    .requiredOption('--zone <code>', 'bidding zone (EIC code or short, e.g. 10YFR-RTE------C, FR)')
    .requiredOption('--grid-area <id>', 'grid area the device is connected to')
    .option('--support', 'the device received public investment or production support')
    .option('--json', 'print JSON')
    .action(async (o) => {
      const r = await registerDevice(o);
      o.json ? printJson(r) : print(`device ${r.device} on export meter ${r.meter} registered in entry ${r.entry}: ${r.fuel} ${r.technology}, ${r.capacityW} W, ${r.zone}`);
    });

  const certificates = program.command('certificates').description('granular certificates of origin (1 Wh each): issue, settle, list, transfer, claim, match, export, expire');
  certificates.command('issue')
    .description('issue the certificates of a local date, or of every date of a month with new export readings (certificates.issue, all or nothing)')
    .requiredOption('--db <path>', 'log database')
    .option('--key <file>', 'key file of the DSO or issuer (default: keys/dso.key beside the database)')
    .option('--date <date>', 'one local date, YYYY-MM-DD')
    .option('--month <YYYY-MM>', 'every local date of a month')
    .option('--json', 'print JSON')
    .action(async (o) => {
      const r = await issueCertificates({ ...o, showProgress: !o.json });
      o.json ? printJson(r) : print(printIssue(r));
    });
  certificates.command('settle')
    .description("move a month's certificates along the P2P trades and the allocation, then claim them for holders who opted in (certificates.settle, operator)")
    .requiredOption('--db <path>', 'log database')
    .option('--key <file>', 'operator key file (default: keys/operator.key beside the database)')
    .requiredOption('--month <YYYY-MM>', 'local calendar month')
    .option('--json', 'print JSON')
    .action(async (o) => {
      const r = await settleCertificates(o);
      o.json ? printJson(r) : print(printSettle(r));
    });
  certificates.command('list')
    .description("a month's live bundles: device, interval, certificate IDs, Wh, holder, status")
    .requiredOption('--db <path>', 'log database')
    .requiredOption('--month <YYYY-MM>', 'local calendar month')
    .option('--holder <key>', "only this participant's bundles (a key, or a key file)")
    .option('--json', 'print JSON (with each bundle\'s lineage hash and log entries)')
    .action(async (o) => {
      const r = await listBundles(o);
      o.json ? printJson(r) : print(printBundles(r));
    });
  certificates.command('transfer')
    .description('transfer certificates of a bundle you hold to another participant (certificate.transfer)')
    .requiredOption('--db <path>', 'log database')
    .requiredOption('--key <file>', 'key file of the holder')
    .requiredOption('--device <id>', 'device')
    .requiredOption('--interval <iso>', 'UTC start of the certificates\' interval')
    .requiredOption('--from <id>', 'first certificate ID of the bundle')
    .requiredOption('--wh <n>', 'how many certificates (Wh), the first ones of the bundle')
    .requiredOption('--to <key>', 'the receiving participant (a key, or a key file)')
    .option('--json', 'print JSON')
    .action(async (o) => {
      const r = await transferCertificates(o);
      o.json ? printJson(r) : print(`transferred ${r.quantityWh} certificate(s) ${r.device}/${r.interval}/${r.from} to ${r.to} in entry ${r.entry}`);
    });
  certificates.command('cancel')
    .description('claim certificates you hold for consumption in their own clock hour, for good (certificate.cancel)')
    .requiredOption('--db <path>', 'log database')
    .requiredOption('--key <file>', 'key file of the holder')
    .requiredOption('--device <id>', 'device')
    .requiredOption('--interval <iso>', 'UTC start of the certificates\' interval')
    .requiredOption('--from <id>', 'first certificate ID of the bundle')
    .requiredOption('--wh <n>', 'how many certificates (Wh), the first ones of the bundle')
    .requiredOption('--meter <id>', 'the consumption (import) metering point')
    .option('--consumption-interval <iso>', 'the consumption interval, in the same local clock hour (default: the certificates\' interval)')
    .option('--beneficiary <key>', 'for whom (a key, or a key file; default the holder)')
    .option('--json', 'print JSON')
    .action(async (o) => {
      const r = await cancelCertificates(o);
      o.json ? printJson(r) : print(`cancelled ${r.quantityWh} certificate(s) ${r.device}/${r.interval}/${r.from} against ${r.meter} in entry ${r.entry}`);
    });
  certificates.command('autoclaim')
    .description('have the certificates you receive claimed for you at each monthly settlement, or stop (certificate.autoclaim)')
    .requiredOption('--db <path>', 'log database')
    .requiredOption('--key <file>', 'key file of the holder')
    .option('--on', 'claim automatically')
    .option('--off', 'stop claiming automatically')
    .option('--json', 'print JSON')
    .action(async (o) => {
      const r = await setAutoClaim(o);
      o.json ? printJson(r) : print(`automatic claims ${r.enabled ? 'on' : 'off'} for ${r.holder} (entry ${r.entry})`);
    });
  certificates.command('match')
    .description('hourly (24/7) against monthly matching of consumption by certificates, with a chart per day and hour')
    .requiredOption('--db <path>', 'log database')
    .requiredOption('--month <YYYY-MM>', 'local calendar month')
    .option('--holder <key>', "one participant's consumption (a key, or a key file; default the community's)")
    .option('--html <file>', 'also write an HTML page with SVG charts')
    .option('--json', 'print JSON')
    .action(async (o) => {
      const r = await matchCertificates(o);
      if (o.html) writeOut(o.html, matchPage(r));
      o.json ? printJson(r) : print(chartMatch(r) + (o.html ? `\nwrote ${o.html}` : ''));
    });
  certificates.command('export')
    .description("a month's EECS guarantees of origin (whole MWh per device, JSON or CSV) or its bundles shaped as EnergyTag's")
    .requiredOption('--db <path>', 'log database')
    .requiredOption('--month <YYYY-MM>', 'local calendar month')
    .requiredOption('--format <format>', `one of ${EXPORT_FORMATS.join(', ')}`)
    .option('--out <file>', 'write to this file (default: standard output)')
    .action(async (o) => {
      const text = await exportCertificates(o);
      if (o.out) {
        writeOut(o.out, text);
        print(`wrote ${o.out}`);
      } else process.stdout.write(text);
    });
  certificates.command('expire')
    .description("expire a month's still active certificates once its expiry period is over (certificates.expire, operator)")
    .requiredOption('--db <path>', 'log database')
    .option('--key <file>', 'operator key file (default: keys/operator.key beside the database)')
    .requiredOption('--month <YYYY-MM>', 'local calendar month')
    .option('--json', 'print JSON')
    .action(async (o) => {
      const r = await expireCertificates(o);
      o.json ? printJson(r) : print(`certificates of ${r.month} expired in entry ${r.entry}: ${r.expiredWh} Wh`);
    });

  // The DSO flexibility market (src/cli/flex.ts, loaded when a command runs).
  const shown = (o: { json?: boolean }, r: { json: unknown; text: string }) => (o.json ? printJson(r.json) : print(r.text));
  const signing = (c: Command, who: string) => c
    .requiredOption('--db <path>', 'log database')
    .option('--key <file>', who)
    .option('--at <iso>', 'sign as of this instant (the transaction\'s issuedAt, whole seconds; default now)')
    .option('--json', 'print JSON');
  const asset = program.command('asset').description('flexible assets behind members\' meters');
  signing(asset.command('register'), 'key file of the meter\'s owner, the operator or the DSO (required)')
    .description('register a flexible asset behind a metering point (asset.register), optionally delegated to an aggregator who may then offer it')
    .requiredOption('--asset <id>', 'asset id (letters, digits, _ -)')
    .requiredOption('--meter <id>', 'the metering point it sits behind')
    .requiredOption('--kind <kind>', 'battery, ev-charger, heat-pump, water-heater or pv-curtailment')
    .requiredOption('--power-w <W>', 'rated power in W')
    .option('--capacity-wh <Wh>', 'usable energy in Wh (batteries only, required for them)')
    .option('--aggregator <key>', 'delegate the asset to this aggregator (a key, or a key file)')
    .action(async (o) => shown(o, await (await flexMarket()).registerAsset(o)));
  const flex = program.command('flex').description('DSO flexibility (USEF/UFTP): requests, offers, merit-order orders, monthly settlement from DSO readings; prices in currency per kWh');
  signing(flex.command('configure'), 'operator key file (default: keys/operator.key beside the database)')
    .description('the community\'s double-charging rule: refund the network fee on energy batteries delivered to orders, or not (flex.configure)')
    .requiredOption('--double-charging <rule>', 'charged or refund')
    .requiredOption('--network-fee <price>', 'network fee per kWh, e.g. 0.04')
    .action(async (o) => shown(o, await (await flexMarket()).configureFlex(o)));
  signing(flex.command('request'), 'DSO key file (default: keys/dso.key beside the database)')
    .description('ask for flexibility on a feeder (flex.request, DSO): per ISP MIN:MAX W (UFTP sign: reduce-import values <= 0), prices, the gate for offers, the forecast the acceptance check uses')
    .requiredOption('--request <id>', 'request id')
    .requiredOption('--feeder <id>', 'the congestion point')
    .requiredOption('--direction <dir>', 'reduce-import or reduce-export')
    .requiredOption('--start <iso>', 'UTC start of the first ISP (aligned to the community interval)')
    .requiredOption('--isps <list>', 'MIN:MAX in W per ISP, comma-separated, e.g. -6000:-4000,-6000:-4000')
    .requiredOption('--max-price <price>', 'the most paid per kWh, e.g. 0.20')
    .requiredOption('--penalty <price>', 'penalty per kWh of deficiency')
    .requiredOption('--expires <iso>', 'gate for offers (before the first ISP)')
    .option('--forecast <feeder=W,...>', 'the DSO\'s expected net W of a feeder over the window (repeat per feeder)', (v: string, all: string[]) => [...all, v], [] as string[])
    .action(async (o) => shown(o, await (await flexMarket()).makeRequest(o)));
  signing(flex.command('offer'), 'key file of the member or aggregator who offers (required)')
    .description('offer flexibility (flex.offer): assets, W per ISP (UFTP sign), rebound after the last ISP, price, smallest activation, baseline, validity')
    .requiredOption('--offer <id>', 'offer id')
    .option('--request <id>', 'the request it answers (default: unsolicited)')
    .requiredOption('--feeder <id>', 'the congestion point the assets relieve')
    .requiredOption('--start <iso>', 'UTC start of the first ISP')
    .requiredOption('--assets <ids>', 'asset ids, comma-separated')
    .requiredOption('--power-w <list>', 'W per ISP, comma-separated (negative = less consumption)')
    .option('--rebound-w <list>', 'W per interval after the last ISP, the opposite sign')
    .requiredOption('--price <price>', 'price per kWh, e.g. 0.10 (pay-as-bid)')
    .option('--min-activation <pct>', 'smallest activation factor accepted, 1 to 100 %', '100')
    .requiredOption('--baseline <spec>', 'mbma, nomination:WH,WH,..., x-of-y:X:Y:high|mid[:ADJ] or rolling:DAYS')
    .requiredOption('--valid-until <iso>', 'until when the offer holds')
    .action(async (o) => shown(o, await (await flexMarket()).makeOffer(o)));
  flex.command('offers')
    .description('list offers (of one request with --request)')
    .requiredOption('--db <path>', 'log database')
    .option('--request <id>', 'only the offers answering this request')
    .option('--json', 'print JSON')
    .action(async (o) => shown(o, await (await flexMarket()).listOffers(o)));
  flex.command('requests')
    .description('list requests (those starting in a local month with --month)')
    .requiredOption('--db <path>', 'log database')
    .option('--month <YYYY-MM>', 'local calendar month of the first ISP')
    .option('--json', 'print JSON')
    .action(async (o) => shown(o, await (await flexMarket()).listRequests(o)));
  signing(flex.command('order'), 'DSO key file (default: keys/dso.key beside the database)')
    .description('order a request\'s offers by merit order at the signing time, with the acceptance check on every forecast feeder (flex.order, DSO)')
    .requiredOption('--request <id>', 'the request')
    .requiredOption('--order <id>', 'order id')
    .option('--dry-run', 'show the merit order without signing')
    .action(async (o) => shown(o, await (await flexMarket()).orderFlex(o)));
  signing(flex.command('settle'), 'DSO or operator key file (default: keys/dso.key beside the database)')
    .description('settle a month\'s orders from DSO readings and the offers\' baselines, USEF style, after the month\'s end (flex.settle)')
    .requiredOption('--month <YYYY-MM>', 'local calendar month')
    .option('--dry-run', 'show the settlement without signing')
    .option('--isps', 'also print every ISP of every line')
    .action(async (o) => shown(o, await (await flexMarket()).settleFlex(o)));
  flex.command('report')
    .description('a request interval by interval: feeder load against its limit, requested, ordered and delivered flexibility')
    .requiredOption('--db <path>', 'log database')
    .requiredOption('--request <id>', 'the request')
    .option('--html <file>', 'also write an HTML page with SVG charts')
    .option('--json', 'print JSON')
    .action(async (o) => shown(o, await (await flexMarket()).reportRequest(o)));
  flex.command('earnings')
    .description('what providers earned from flexibility in a month: delivered, deficiency, revenue, penalty, relief, net')
    .requiredOption('--db <path>', 'log database')
    .requiredOption('--month <YYYY-MM>', 'local calendar month')
    .option('--provider <key>', 'one member or aggregator (a key, or a key file; default every provider with an order)')
    .option('--json', 'print JSON (exact micro-units)')
    .action(async (o) => shown(o, await (await flexMarket()).flexEarnings(o)));

  // EV charging under OCPI 2.2.1 (src/cli/charging.ts, loaded when a command runs).
  const cpoKey = 'CPO key file (default: keys/cpo.key beside the database)';
  const apikey = program.command('apikey').description('API keys for an organisation\'s machines (a DSO\'s meter-data system, a supplier\'s billing): issued, rotated and revoked by signed transactions; the log holds only a digest of each');
  signing(apikey.command('issue'), 'key file of the participant the key acts for (default: keys/operator.key beside the database)')
    .description('make a key here, write it to --out (mode 0600, never overwritten) and sign apikey.issue with its digest, roles and expiry')
    .requiredOption('--roles <roles>', 'comma-separated roles the key may use, some of the owner\'s: ' + 'operator, dso, member, auditor, issuer, aggregator, cpo, emsp')
    .option('--days <n>', 'valid this many days (1 to 400, default 365)')
    .option('--out <file>', 'the file the key is written to, for the machine that uses it (required)')
    .action(async (o) => shown(o, await (await apiKeys()).issueApiKey(o)));
  signing(apikey.command('rotate'), 'key file of the key\'s owner (default: keys/operator.key beside the database)')
    .description('replace a key (apikey.rotate): a new key in --out with the same roles; the old one keeps working --overlap seconds')
    .requiredOption('--id <id>', 'the key to replace')
    .option('--days <n>', 'the new key is valid this many days (1 to 400, default 365)')
    .option('--overlap <seconds>', 'how long the old key still works (0 to 604800, default 86400)')
    .option('--out <file>', 'the file the new key is written to (required)')
    .action(async (o) => shown(o, await (await apiKeys()).rotateApiKey(o)));
  signing(apikey.command('revoke'), 'key file of the key\'s owner or the operator (default: keys/operator.key beside the database)')
    .description('revoke a key (apikey.revoke): the server refuses it once the entry is in the log')
    .requiredOption('--id <id>', 'the key to revoke')
    .option('--reason <reason>', 'compromised, retired, superseded or owner-left (default retired)')
    .action(async (o) => shown(o, await (await apiKeys()).revokeApiKey(o)));
  apikey.command('list')
    .description('the log\'s API keys: owner, roles, status at this machine\'s clock, expiry, rotation, revocation')
    .requiredOption('--db <path>', 'log database')
    .option('--owner <key>', 'only this participant\'s keys (a key, or a key file)')
    .option('--json', 'print JSON')
    .action(async (o) => shown(o, await (await apiKeys()).listApiKeys(o)));
  const charging = program.command('charging').description('EV charging (OCPI 2.2.1): price CDRs under tariffs, roaming parties, locations, tariffs, CDRs from OCPP traces, monthly CPO/eMSP settlement');
  charging.command('price')
    .description('price the charging periods of an OCPI CDR or Session (told apart by their fields) under an OCPI tariff, exactly as the log does; no database')
    .requiredOption('--cdr <file>', 'OCPI CDR or Session JSON')
    .option('--tariff <file>', 'OCPI Tariff JSON (default: the one tariff the CDR carries)')
    .option('--time-zone <zone>', 'the location\'s IANA time zone; required when the tariff has time-of-day, date or weekday restrictions (an OCPI CDR carries no zone)')
    .option('--json', 'print JSON: the OCPI CDR totals and the exact figures (micro-units, Wh, seconds)')
    .action(async (o) => shown(o, (await evCharging()).pricePeriods(o)));
  charging.command('token-key')
    .description('make the CPO\'s token key (32 random bytes, kept off the log): drivers\' card ids enter the log only as keyed hashes under it')
    .option('--db <path>', 'log database (the key goes to keys/token.key beside it)')
    .option('--out <file>', 'key file to write (never overwritten)')
    .option('--json', 'print JSON')
    .action(async (o) => shown(o, (await evCharging()).makeTokenKey(o)));
  signing(charging.command('party'), 'operator key file (default: keys/operator.key beside the database)')
    .description('register a roaming party by OCPI country code and party id (charging.party, operator): a CPO with the key that signs for it, or an eMSP')
    .requiredOption('--role <role>', 'CPO or EMSP')
    .requiredOption('--country <code>', 'ISO 3166-1 alpha-2 country code, e.g. FR')
    .requiredOption('--party-id <id>', '3-character party id, e.g. OLC')
    .requiredOption('--name <name>', 'company name')
    .option('--party-key <key>', 'the participant (role cpo or emsp) that signs for it: a key, or a key file; required for a CPO')
    .action(async (o) => shown(o, await (await evCharging()).registerParty(o)));
  signing(charging.command('location'), cpoKey)
    .description('record an OCPI Location (charging.location, CPO); a later one replaces it')
    .requiredOption('--file <file>', 'OCPI Location JSON')
    .option('--meter <id>', 'the community import meter (the CPO\'s) its chargers are behind')
    .action(async (o) => shown(o, await (await evCharging()).recordLocation(o)));
  signing(charging.command('tariff'), cpoKey)
    .description('record a version of an OCPI Tariff (charging.tariff, CPO); a new version has a later last_updated')
    .requiredOption('--file <file>', 'OCPI Tariff JSON')
    .action(async (o) => shown(o, await (await evCharging()).recordTariff(o)));
  signing(charging.command('cdr'), cpoKey)
    .description('record a CDR (charging.cdr, CPO), priced again by the log: from a charger\'s OCPP 1.6/2.0.1 trace, the card pseudonymised, or a ready OCPI CDR')
    .option('--ocpp <file>', 'the transaction\'s OCPP trace (JSON array of messages)')
    .option('--cdr <file>', 'a ready OCPI CDR JSON instead')
    .option('--location <id>', 'with --ocpp: the recorded location')
    .option('--evse <uid>', 'with --ocpp: the EVSE uid')
    .option('--connector <id>', 'with --ocpp: the connector id')
    .option('--tariff <id>', 'with --ocpp: the recorded tariff (its latest version)')
    .option('--emsp <party>', 'with --ocpp: the eMSP of the driver\'s card, e.g. NL*TST')
    .option('--id <id>', 'with --ocpp: the CDR id')
    .option('--card <uid>', 'with --ocpp: the card uid (default the trace\'s idTag)')
    .option('--contract <id>', 'with --ocpp: the driver\'s contract id (default derived from the card)')
    .option('--token-key <file>', 'the token key (default keys/token.key beside the database; with --cdr, pseudonymise a raw token)')
    .option('--cpo <party>', 'the CPO, when the key signs for several')
    .action(async (o) => shown(o, await (await evCharging()).recordCdr(o)));
  signing(charging.command('credit'), cpoKey)
    .description('reverse a recorded CDR with a credit CDR (charging.cdr, CPO): new id, negated costs; send the right CDR after it')
    .requiredOption('--cdr <id>', 'the recorded CDR to credit')
    .requiredOption('--id <id>', 'the credit CDR\'s id')
    .option('--cpo <party>', 'the CPO, when the key signs for several')
    .action(async (o) => shown(o, await (await evCharging()).creditRecorded(o)));
  signing(charging.command('driver'), cpoKey)
    .description('link a driver\'s card to a member (charging.driver, CPO): only its pseudonym enters the log; the member then sees those sessions and their local share')
    .requiredOption('--card <uid>', 'the card or token uid, as the charger reads it')
    .requiredOption('--emsp <party>', 'the eMSP that issued it, e.g. NL*TST')
    .requiredOption('--member <key>', 'the member\'s participant key')
    .option('--token-key <file>', 'the CPO\'s token key (default: keys/token.key beside the database)')
    .option('--cpo <party>', 'the CPO, when the key signs for several')
    .action(async (o) => shown(o, await (await evCharging()).linkDriver(o)));
  signing(charging.command('origin'), cpoKey)
    .description('local-origin charging of a month (charging.origin, CPO, after certificates.settle): the community certificates the CPO holds for each interval are cancelled for the drivers of its sessions in that interval')
    .requiredOption('--month <YYYY-MM>', 'local calendar month')
    .option('--dry-run', 'show the totals without signing')
    .action(async (o) => shown(o, await (await evCharging()).runOrigin(o)));
  signing(charging.command('settle'), 'operator key file (default: keys/operator.key beside the database)')
    .description('settle a month\'s roaming after its end (charging.settle, operator): what each eMSP owes each CPO, per currency, from the month\'s CDRs and credits')
    .requiredOption('--month <YYYY-MM>', 'local calendar month')
    .option('--dry-run', 'show the lines without signing')
    .action(async (o) => shown(o, await (await evCharging()).settleCharging(o)));
  charging.command('statement')
    .description('a CPO\'s or eMSP\'s settlement lines of a month and the CDRs behind them (a preview before the month is settled)')
    .requiredOption('--db <path>', 'log database')
    .requiredOption('--party <party>', 'the party, e.g. NL*TST')
    .requiredOption('--month <YYYY-MM>', 'settlement month')
    .option('--csv <file>', 'also write the CDRs and totals as CSV (exact micro-units)')
    .option('--json', 'print JSON (exact micro-units)')
    .action(async (o) => shown(o, await (await evCharging()).chargingStatement(o)));
  charging.command('sessions')
    .description('recorded charging sessions: a driver\'s by card uid (through its pseudonym, with the token key), a CPO\'s, or every one')
    .requiredOption('--db <path>', 'log database')
    .option('--month <YYYY-MM>', 'only sessions started in this local month')
    .option('--card <uid>', 'a driver\'s card uid')
    .option('--token-key <file>', 'with --card: the CPO\'s token key (default keys/token.key beside the database)')
    .option('--emsp <party>', 'only this eMSP\'s sessions')
    .option('--cpo <party>', 'only this CPO\'s sessions')
    .option('--json', 'print JSON')
    .action(async (o) => shown(o, await (await evCharging()).chargingSessions(o)));
  charging.command('ocpi-token')
    .description('issue an OCPI 2.2.1 registration token A for a registered eMSP (kept hashed in <log>.ocpi.db, off the log): hand it over with the versions URL')
    .requiredOption('--db <path>', 'log database')
    .requiredOption('--country <code>', 'the eMSP\'s country code, e.g. NL')
    .requiredOption('--party-id <id>', 'the eMSP\'s party id, e.g. TST')
    .option('--json', 'print JSON')
    .action(async (o) => shown(o, await (await evCharging()).ocpiToken(o)));

  program.command('simulate')
    .description('simulate a community end to end on the real platform: a log that verify accepts, KPIs, intervals and an HTML report; "simulate compare A B" puts two runs side by side')
    .argument('<scenario>', 'a built-in scenario (demo, village, city, ev-congestion, ev-chargers), a YAML/JSON scenario file (docs/scenarios.md), or "compare"')
    .argument('[others...]', 'with compare: one or two scenarios (one scenario with --mechanism a,b or --key a,b)')
    .requiredOption('--out <dir>', 'output folder')
    .option('--days <n>', 'days to simulate (default: the scenario\'s)', integer('--days'))
    .option('--mechanism <m>', 'uniform, midpoint, mcafee or continuous (with compare: two, comma-separated)')
    .option('--key <k>', `also run the monthly allocation with this key: ${SIM_KEYS.join(', ')} (with compare: two, comma-separated)`)
    .option('--flexibility <f>', 'on or off: the DSO\'s flexibility market in the scenario (with compare: off,on)')
    .option('--seed <s>', 'seed', '1')
    .option('--pg <url>', 'write the run\'s log into this PostgreSQL database (migrated), as a new community, instead of <out>/ledger.db')
    .option('--json', 'print the KPIs as JSON')
    .action(async (scenario: string, others: string[], o) => {
      batchHeap();
      const flex = o.flexibility === undefined ? [] : String(o.flexibility).split(',');
      if (flex.some((f) => f !== 'on' && f !== 'off') || flex.length > (scenario === 'compare' ? 2 : 1)) {
        throw new OpenlecError('E_USAGE', `--flexibility must be on or off${scenario === 'compare' ? ' (or two of them: off,on)' : ''}`, { field: 'flexibility' });
      }
      if (scenario === 'compare') {
        const { compareRuns, printComparison } = await simulator();
        const r = await compareRuns({ scenarios: others, out: o.out, days: o.days, mechanism: o.mechanism, key: o.key, flexibility: o.flexibility, seed: o.seed, ...(o.json ? {} : { progress }) });
        o.json ? printJson(r.runs.map((x) => x.kpis)) : print(printComparison(r));
        return;
      }
      if (others.length > 0) throw new OpenlecError('E_USAGE', `unexpected argument "${others[0]}" (did you mean "simulate compare"?)`, { field: 'scenario' });
      const { simulate, printSimulation } = await simulator();
      const r = await simulate({ ...o, scenario, ...(o.json ? {} : { progress }) });
      o.json ? printJson(r.kpis) : print(printSimulation(r));
    });

  const db = program.command('db').description('PostgreSQL databases: schema migrations, copies of a community between stores');
  db.command('migrate')
    .description('create or bring up to date the openlec schema of a PostgreSQL database (plain SQL files in migrations/, each applied once)')
    .requiredOption('--pg <url>', 'PostgreSQL connection string, e.g. postgres://user:pass@host:5432/openlec')
    .option('--json', 'print the migrations applied as JSON')
    .action(async (o) => {
      const r = await (await databases()).dbMigrate(o.pg);
      if (o.json) printJson(r);
      else print(r.applied.length ? `applied ${r.applied.join(', ')}` : 'the schema is up to date');
    });
  db.command('copy')
    .description('copy one community\'s log between stores (SQLite file ↔ PostgreSQL), bit for bit: the same entries, checkpoints and cosignatures, replayed and verified on arrival; the destination must be new')
    .requiredOption('--from <db>', 'a SQLite file or a PostgreSQL URL')
    .requiredOption('--to <db>', 'a SQLite file (created) or a PostgreSQL URL (the community is added)')
    .option('--community <id>', 'the community (required when --from is PostgreSQL)')
    .option('--witness <vkey>', 'a witness\'s cosigner key: its cosignatures are copied when they verify (repeat; without it none are)', (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--json', 'print the report as JSON')
    .action(async (o) => {
      const witnesses = (o.witness as string[]).map(parseCosignerKey);
      const r = await (await databases()).dbCopy({ from: o.from, to: o.to, ...(o.community ? { community: o.community } : {}), ...(witnesses.length ? { witnesses } : {}), showProgress: !o.json });
      if (o.json) printJson(r);
      else print(`copied community ${r.community}: ${r.entries} entries, ${r.checkpoints} checkpoints, ${r.cosignatures} cosignatures${r.cosignaturesSkipped ? ` (${r.cosignaturesSkipped} left behind: not verified by a --witness key)` : ''}\nroot ${r.root} (the source verified before, the copy on arrival)`);
    });

  const communities = program.command('community').description('communities of a PostgreSQL database');
  communities.command('create')
    .description('add a community to a PostgreSQL database: the operator key (unless --key exists) and a log whose entry 0 creates it')
    .requiredOption('--pg <url>', 'PostgreSQL connection string (migrated with openlec db migrate)')
    .requiredOption('--name <name>', 'public name of the community')
    .requiredOption('--tz <zone>', 'IANA time zone, e.g. Europe/Paris')
    .requiredOption('--key <file>', 'operator key file (created if it does not exist); give serve --keys its folder')
    .option('--interval <minutes>', 'settlement interval: 15, 30 or 60', '30')
    .option('--currency <code>', 'ISO 4217 currency', 'EUR')
    .option('--id <id>', 'community id, also the checkpoint origin (default openlec.local/<name>)')
    .option('--json', 'print the result as JSON')
    .action(async (o) => {
      const r = await (await databases()).communityCreate(o);
      if (o.json) printJson(r);
      else print(`created community ${r.id}\noperator key ${r.operator} in ${r.key}`);
    });
  communities.command('list')
    .description('list the communities of a PostgreSQL database')
    .requiredOption('--pg <url>', 'PostgreSQL connection string')
    .option('--json', 'print the list as JSON')
    .action(async (o) => {
      const list = await (await databases()).communityList(o.pg);
      if (o.json) printJson(list);
      else print(list.length ? list.map((c) => `${c.id}  ${c.name ?? '(no entry yet)'}  ${c.size} entries`).join('\n') : 'no community yet (openlec community create --pg URL ...)');
    });

  program.command('serve')
    .description('serve the HTTP API (and, with --demo, a live demo community in accelerated time); with --pg, every community of a PostgreSQL database under /c/<id>/')
    .option('--db <path>', 'SQLite file of the community')
    .option('--pg <url>', 'serve every community of this PostgreSQL database (several processes may serve one database)')
    .option('--keys <dir>', 'with --pg: folder of operator key files; each community\'s checkpoints are signed with its operator\'s')
    .option('--secret <file>', 'with --pg: the secret every process of this database shares (created if missing)', 'openlec-server.secret')
    .option('--data-dir <dir>', 'with --pg: where the personal-data vaults live', 'openlec-data')
    .option('--key <file>', 'operator key file, to sign checkpoints')
    .option('--demo', 'create or reopen the demo community in --dir, backfill 7 days, then clear one interval per tick')
    .option('--dir <dir>', 'folder for the demo', 'data')
    .option('--port <n>', 'port', integer('--port'), 8080)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--tick <seconds>', 'real seconds per simulated interval in demo mode', (v) => Number(v), 3)
    .option('--no-anchor', 'demo: do not anchor checkpoints on a local anvil chain')
    .option('--witness <vkey>', 'a witness\'s cosigner key (repeat for each witness)', (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--quorum <k>', 'cosignatures that make a checkpoint final (default: all witnesses)', integer('--quorum'))
    .option('--log', 'log every request and every server error (Fastify\'s logger, JSON lines on stdout)')
    .option('--max-skew <seconds>', 'refuse transactions whose issuedAt is further than this from the server\'s clock', integer('--max-skew'), 30)
    .option('--public-demo', 'allow --demo on a non-loopback --host (its keys are public: anyone reaching the port can act as the operator)')
    .action(async (o) => {
      if (o.pg) {
        if (o.demo || o.db) throw new OpenlecError('E_USAGE', '--pg serves a PostgreSQL database: without --db or --demo', { field: 'pg' });
        const keys = (o.witness as string[]).map(parseCosignerKey);
        const r = await (await import('./serve-pg.ts')).servePg({
          pg: o.pg, port: o.port, host: o.host, secret: o.secret, dataDir: o.dataDir, maxSkew: o.maxSkew, log: o.log === true,
          ...(o.keys ? { keys: o.keys } : {}), ...(keys.length ? { witnesses: { keys, quorum: o.quorum ?? keys.length } } : {}),
        });
        print(`openlec is serving ${r.url}  (communities: ${r.url}/v1/communities; each under ${r.url}/c/<id>/v1)`);
        const stop = () => void r.close().then(() => process.exit(0));
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        return;
      }
      const r = await (await servers()).serve(o);
      const lines = [`openlec is serving ${r.url}  (API: ${r.url}/v1, OpenAPI: ${r.url}/openapi.json, events: ${r.url}/v1/events)`];
      for (const [role, k] of Object.entries(r.logins)) lines.push(`  log in as ${role.padEnd(8)} key ${k.key}  secret ${k.secretKey}`);
      if (o.demo) lines.push(`  one 30-minute interval every ${o.tick} s; key files in ${o.dir}/live/keys; Ctrl-C to stop`);
      if (r.anchoring) lines.push(`  checkpoints anchored on a local EVM chain (anvil) at ${r.anchoring.rpc}, contract ${r.anchoring.contract}: openlec verify --db ${o.dir}/live/ledger.db --anchors ${r.anchoring.rpc} --contract ${r.anchoring.contract}`);
      print(lines.join('\n'));
      const stop = () => void r.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });

  program.command('follow')
    .description('run an independent replica: pull the operator\'s log, verify every entry and checkpoint, serve read queries; stops with evidence if the log contradicts what it verified')
    .requiredOption('--from <url>', 'the operator\'s server')
    .requiredOption('--db <path>', 'the replica\'s SQLite file (created on first run, resumed after)')
    .requiredOption('--key <file>', 'key of the replica\'s organisation (registered as auditor or DSO): requests are signed with it (RFC 9421)')
    .option('--verifier-key <vkey>', 'the operator\'s checkpoint key, pinned out of band (default: from the operator, then from the log)')
    .option('--evidence <dir>', 'where evidence of equivocation is saved (default: beside --db)')
    .option('--every <seconds>', 'seconds between polls; 0 = once and exit', (v) => Number(v), 2)
    .option('--port <n>', 'serve read queries of the replica on this port', integer('--port'))
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .action(async (o) => {
      const { follow } = await remote();
      const r = await follow({ ...o, evidence: o.evidence ?? dirname(o.db), log: (line: string) => print(line) });
      if (r.url) print(`replica serving reads at ${r.url}, following ${o.from}`);
      if (o.every > 0 || r.url) {
        const stop = () => void r.close().then(() => process.exit(0));
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        await r.done.catch(async (e) => {
          await r.close();
          throw e;
        });
      }
      print(`replica ${o.db}: ${r.size} verified entries`);
    });

  program.command('witness')
    .description('witness a log: cosign (C2SP tlog-cosignature) each new checkpoint proved consistent with the last one cosigned; never two roots for one size')
    .requiredOption('--from <url>', 'the operator\'s server')
    .requiredOption('--key <file>', 'the witness\'s key file')
    .option('--name <name>', 'the witness\'s name (default witness-<key prefix>)')
    .option('--state <file>', 'what the witness last cosigned (default <key>.state.json)')
    .option('--evidence <dir>', 'where evidence of equivocation is saved (default: beside --state)')
    .option('--verifier-key <vkey>', 'the operator\'s checkpoint key, pinned out of band')
    .option('--every <seconds>', 'seconds between polls; 0 = once and exit', (v) => Number(v), 2)
    .option('--show-key', 'print the witness\'s cosigner key (for serve --witness) and exit')
    .action(async (o) => {
      const { witness, witnessKey } = await remote();
      if (o.showKey) return print(witnessKey(o.key, o.name));
      const state = o.state ?? `${o.key}.state.json`;
      print(`witness ${witnessKey(o.key, o.name)} following ${o.from}`);
      const r = await witness({ ...o, state, evidence: o.evidence ?? dirname(state), log: (line: string) => print(line) });
      print(`witness: cosigned ${r.cosigned} checkpoint(s), last size ${r.size}`);
    });

  program.command('verify-evidence')
    .description('check, offline, evidence that an operator equivocated (split view, fork, inconsistent checkpoints)')
    .argument('<file>', 'evidence JSON written by follow or witness')
    .action(async (file: string) => {
      let e: Evidence;
      try {
        e = JSON.parse(readFileSync(file, 'utf8')) as Evidence;
      } catch (err) {
        throw new OpenlecError('E_EVIDENCE', `${file}: ${(err as Error).message}`, { field: 'file' });
      }
      const v = await checked(() => checkEvidence(e));
      print(`${v.conclusive ? 'CONCLUSIVE' : 'NOT CONCLUSIVE ALONE'}: ${v.summary}`);
    });

  program.command('walkthrough')
    .description('the command line\'s guided tour: create or reopen a small community (6 households, EUR) in --dir, import a week of DSO load curves, allocate, trade, invoice, verify and prove a record; prints the commands to go on with (the live demo of `npm start` is `serve --demo`)')
    .option('--dir <dir>', 'folder for the walkthrough (walkthrough.db, keys/)', 'data')
    .action(async (o) => print(await (await import('./walkthrough.ts')).walkthrough(o.dir)));

  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    reportError(e);
  }
}

/**
 * batchHeap: a batch job (verify, simulate) replays and recomputes a whole log, allocating
 * fast; V8 then lets its heap grow up to four times what is live before collecting, and
 * peak memory follows. The job asks for 1.3 times instead: a little more collection, a
 * third of the peak (measured in ARCHITECTURE.md). A server keeps V8's default.
 */
function batchHeap(): void {
  setFlagsFromString('--heap-growing-percent=30');
}
