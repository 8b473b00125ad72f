import { execFileSync } from 'node:child_process';
import { closeSync, createReadStream, existsSync, openSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Signer } from '../src/client.ts';
import { importMeterData } from '../src/cli/meter.ts';
import { parseEnedisBytes } from '../src/metering/import/enedis.ts';
import type { SignedTransaction } from '../src/ledger/index.ts';
import { StepSet } from '../src/metering/import/steps.ts';
import { generateKeyPair, writeKeyFile } from '../src/node/key-file.ts';
import { SqliteLedger } from '../src/store/sqlite-ledger.ts';
import { printTable, round, tempPath, timed } from './support.ts';

/**
 * writeEnedisFile writes a French DSO export of `meters` PRMs over 31 days at a 10-minute step
 * (about 45 KB per PRM-week) in pieces of about 1 MB, so that the text is never whole in memory
 * and its garbage is not the timed import's to collect.
 */
export function writeEnedisFile(path: string, meters: number): void {
  const fd = openSync(path, 'w');
  const start = Date.UTC(2026, 0, 1);
  let chunk = '';
  for (let m = 0; m < meters; m++) {
    chunk += 'Identifiant PRM;Type de donnees;Date de debut;Date de fin;Grandeur physique;Grandeur metier;Etape metier;Unite;Pas en minutes\n';
    chunk += `${String(30000000000000 + m)};Courbe de charge;01/01/2026;01/02/2026;Energie active;Consommation;Comptage Brut;W;10\n\nHorodate;Valeur\n`;
    for (let k = 1; k <= 31 * 144; k++) {
      chunk += `${new Date(start + k * 600_000).toISOString().slice(0, 19)}+00:00;${(k * 37 + m * 11) % 3000}\n`;
      if (chunk.length > 1 << 20) {
        writeSync(fd, chunk);
        chunk = '';
      }
    }
  }
  writeSync(fd, chunk);
  closeSync(fd);
}

const BIG_METERS = 120;
const BIG_DAYS = 365;
const prm = (m: number) => String(30000000000000 + m);

/**
 * writeGenericCsv writes, row by row (never the whole text in memory), a generic CSV of
 * `meters` meters over `days` days of 15-minute kWh steps with decimal commas: about
 * 210 MB for 120 meters over a year.
 */
export function writeGenericCsv(path: string, meters: number, days: number): void {
  const fd = openSync(path, 'w');
  const start = Date.UTC(2025, 11, 31, 23);
  let chunk = 'meter;start;value;direction\n';
  for (let m = 0; m < meters; m++) {
    for (let k = 0; k < days * 96; k++) {
      const wh = (k * 37 + m * 11) % 900;
      chunk += `${prm(m)};${new Date(start + k * 900_000).toISOString().slice(0, 19)}Z;0,${String(wh).padStart(3, '0')};import\n`;
      if (chunk.length > 1 << 20) {
        writeSync(fd, chunk);
        chunk = '';
      }
    }
  }
  writeSync(fd, chunk);
  closeSync(fd);
}

/** A community (Paris, 30 min) with `meters` registered import meters and the DSO key in a file. */
export async function bigCommunity(db: string, meters: number): Promise<string> {
  const operatorKey = generateKeyPair();
  const dsoKey = generateKeyPair();
  const operator = new Signer(operatorKey, 'openlec.bench/import');
  const dso = new Signer(dsoKey, 'openlec.bench/import');
  const ledger = SqliteLedger.create(db);
  const txs: SignedTransaction<unknown>[] = [
    operator.sign('community.create', { name: 'Import bench', timeZone: 'Europe/Paris', intervalMinutes: 30, currency: 'EUR', operator: operator.actor }),
    operator.sign('participant.register', { key: dso.actor, roles: ['dso'] }),
    dso.sign('feeder.define', { id: 'feeder-1' }),
  ];
  for (let m = 0; m < meters; m++) txs.push(dso.sign('meter.register', { meter: prm(m), scheme: 'PRM', direction: 'import', owner: dso.actor, feeder: 'feeder-1' }));
  await ledger.submitAtomic(txs);
  await ledger.close();
  const key = join(dirname(db), 'dso.key');
  writeKeyFile(key, dsoKey);
  return key;
}

/** The whole `meter import` of one file in a process of its own, so that its peak memory is the import's. */
function importInChild(db: string, key: string, file: string): { seconds: number; cpuSeconds: number; maxRssMb: number; values: number; transactions: number } {
  const out = execFileSync(process.execPath, ['--import', 'tsx', import.meta.filename, 'child', db, key, file], { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
  return JSON.parse(out.toString().trim().split('\n').pop()!);
}

async function child(db: string, key: string, file: string): Promise<void> {
  const cpu = process.cpuUsage();
  const { value: r, seconds } = await timed(() => importMeterData({ db, key, format: 'csv', unit: 'kWh', step: 15, files: [file] }));
  const used = process.cpuUsage(cpu);
  process.stdout.write(`${JSON.stringify({ seconds, cpuSeconds: (used.user + used.system) / 1e6, maxRssMb: round(process.resourceUsage().maxRSS / 1024), values: r.values, transactions: r.transactions })}\n`);
}

export async function run(): Promise<Record<string, number>> {
  const enedis = tempPath('enedis.csv');
  writeEnedisFile(enedis, 100);
  const bytes = statSync(enedis).size;
  /** One import of the file: its wall and CPU seconds. */
  const importOnce = async () => {
    const cpu = process.cpuUsage();
    const { value: steps, seconds } = await timed(async () => {
      const s = new StepSet(30, 60, enedis);
      await parseEnedisBytes(createReadStream(enedis, { highWaterMark: 1 << 16 }), s);
      s.days('Europe/Paris');
      return s;
    });
    const used = process.cpuUsage(cpu);
    if (steps.errors.length > 0) throw new Error(steps.errors[0]!.message);
    return { steps, seconds, cpuSeconds: (used.user + used.system) / 1e6 };
  };
  // The first read pays what a command pays once: compiling the reader, the first time-zone
  // conversions. The second, in the same process, is the reader's own throughput.
  const { steps, seconds, cpuSeconds } = await importOnce();
  const warm = await importOnce();
  const figures = {
    enedisMBPerSec: round(bytes / 1e6 / seconds, 1), enedisValuesPerSec: round(steps.values / seconds), enedisFileMB: round(bytes / 1e6, 1), enedisMBPerCpuSec: round(bytes / 1e6 / cpuSeconds, 1),
    enedisWarmMBPerSec: round(bytes / 1e6 / warm.seconds, 1), enedisFirstReadExtraMs: round((seconds - warm.seconds) * 1000),
  };
  printTable('French DSO CSV import (streamed file: parse, steps to half-hours, local days), one core', [
    ['file size', figures.enedisFileMB, 'MB'],
    ['values', steps.values, ''],
    ['throughput, first read', figures.enedisMBPerSec, 'MB/s'],
    ['throughput, first read', figures.enedisValuesPerSec, 'values/s'],
    ['throughput per CPU second, first read', figures.enedisMBPerCpuSec, 'MB'],
    ['throughput, second read in the process', figures.enedisWarmMBPerSec, 'MB/s'],
    ['first read\'s extra time', figures.enedisFirstReadExtraMs, 'ms'],
  ], ['measure', 'value', 'unit']);

  const db = tempPath('import.db');
  const file = join(dirname(db), 'big.csv');
  writeGenericCsv(file, BIG_METERS, BIG_DAYS);
  const key = await bigCommunity(db, BIG_METERS);
  const big = importInChild(db, key, file);
  const bigMB = statSync(file).size / 1e6;
  const more = {
    csvFileMB: round(bigMB, 1), csvImportMBPerSec: round(bigMB / big.seconds, 1), csvImportSeconds: round(big.seconds, 1), csvImportCpuSeconds: round(big.cpuSeconds, 1),
    csvImportMBPerCpuSec: round(bigMB / big.cpuSeconds, 1), csvImportPeakRssMb: big.maxRssMb, csvImportTransactions: big.transactions,
  };
  printTable(`generic CSV, whole meter import (parse, plan, sign, append) in its own process: ${BIG_METERS} meters, ${BIG_DAYS} days of 15-minute kWh`, [
    ['file size', more.csvFileMB, 'MB'],
    ['values', big.values, ''],
    ['transactions', big.transactions, ''],
    ['wall time', more.csvImportSeconds, 's'],
    ['throughput', more.csvImportMBPerSec, 'MB/s'],
    ['CPU time', more.csvImportCpuSeconds, 's'],
    ['throughput per CPU second', more.csvImportMBPerCpuSec, 'MB'],
    ['peak RSS', more.csvImportPeakRssMb, 'MB'],
  ], ['measure', 'value', 'unit']);
  return { ...figures, ...more };
}

const main = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (main && process.argv[2] === 'child') await child(process.argv[3]!, process.argv[4]!, process.argv[5]!);
// `prepare DIR`: a fresh community (DIR/import.db, DIR/dso.key) and, unless there already, DIR/big.csv, to run the child on by hand (profiling).
if (main && process.argv[2] === 'prepare') {
  const dir = process.argv[3]!;
  if (!existsSync(join(dir, 'big.csv'))) writeGenericCsv(join(dir, 'big.csv'), BIG_METERS, BIG_DAYS);
  for (const f of ['import.db', 'import.db-wal', 'import.db-shm', 'import.db-writer', 'dso.key']) rmSync(join(dir, f), { force: true });
  await bigCommunity(join(dir, 'import.db'), BIG_METERS);
}
