import { parseEnedis } from '../src/metering/import/enedis.ts';
import { StepSet, toDays } from '../src/metering/import/steps.ts';
import { printTable, round, timed } from './support.ts';

/** A French DSO export of `meters` PRMs over 31 days at a 10-minute step (about 45 KB per PRM-week). */
function enedisFile(meters: number): string {
  const parts: string[] = [];
  const start = Date.UTC(2026, 0, 1);
  for (let m = 0; m < meters; m++) {
    parts.push('Identifiant PRM;Type de donnees;Date de debut;Date de fin;Grandeur physique;Grandeur metier;Etape metier;Unite;Pas en minutes');
    parts.push(`${String(30000000000000 + m)};Courbe de charge;01/01/2026;01/02/2026;Energie active;Consommation;Comptage Brut;W;10`, '', 'Horodate;Valeur');
    for (let k = 1; k <= 31 * 144; k++) parts.push(`${new Date(start + k * 600_000).toISOString().slice(0, 19)}+00:00;${(k * 37 + m * 11) % 3000}`);
  }
  return parts.join('\n') + '\n';
}

export async function run(): Promise<Record<string, number>> {
  const text = enedisFile(100);
  const bytes = Buffer.byteLength(text);
  const { value: steps, seconds } = await timed(() => {
    const s = new StepSet(30, 60, 'bench.csv');
    parseEnedis(text, s);
    toDays(s.intervals(), 'Europe/Paris', 30);
    return s;
  });
  if (steps.errors.length > 0) throw new Error(steps.errors[0]!.message);
  const figures = { enedisMBPerSec: round(bytes / 1e6 / seconds, 1), enedisValuesPerSec: round(steps.values / seconds), enedisFileMB: round(bytes / 1e6, 1) };
  printTable('French DSO CSV import (parse, steps to half-hours, local days), one core', [
    ['file size', figures.enedisFileMB, 'MB'],
    ['values', steps.values, ''],
    ['throughput', figures.enedisMBPerSec, 'MB/s'],
    ['throughput', figures.enedisValuesPerSec, 'values/s'],
  ], ['measure', 'value', 'unit']);
  return figures;
}
