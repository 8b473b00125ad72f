import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { assertCups, communitySummary, frenchCoefficients, spanishCoefficients, spanishHourlyCoefficients, statements, statementsCsv } from '../allocation/exports.ts';
import { keySpecSchema } from '../allocation/allocation-run.ts';
import { KEY_KINDS } from '../allocation/keys.ts';
import { type KeySpec, type MonthInput, runMonth, toKey } from '../allocation/month.ts';
import { Signer } from '../client.ts';
import { community } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import type { MeterRow } from '../metering/meter-register.ts';
import { readKeyFile } from '../node/key-file.ts';
import { SqliteLedger } from '../store/sqlite-ledger.ts';
import { localDateOf, localDay } from '../units/index.ts';
import { defaultKeyPath } from './commands.ts';

export interface AllocateCommand {
  db: string;
  month: string;
  key?: string;
  params?: string;
  signer?: string;
  out?: string;
  precision?: number;
}

/** keySpec reads the key name and its parameter file (JSON: {"sharesPpm": {meter: ppm}}, {"groups": ...} or {"betasPpm": ...}). */
function readParams(paramsFile?: string): unknown {
  if (!paramsFile) return {};
  try {
    return JSON.parse(readFileSync(paramsFile, 'utf8'));
  } catch (e) {
    throw new OpenlecError('E_KEY_PARAMS', `${paramsFile}: ${(e as Error).message}`, { field: 'params' });
  }
}

function keySpec(kind: string, paramsFile?: string): KeySpec {
  if (!(KEY_KINDS as readonly string[]).includes(kind)) {
    throw new OpenlecError('E_USAGE', `--key must be one of ${KEY_KINDS.join(', ')} (got "${kind}")`, { field: 'key' });
  }
  if (kind === 'full-dynamic') return { kind };
  // The Spanish key with hourly betas takes them, like full-dynamic, from recorded days.
  if (kind === 'spain' && (readParams(paramsFile) as { days?: unknown }).days) return { kind };
  const params = readParams(paramsFile);
  const parsed = keySpecSchema.safeParse({ ...(params as object), kind });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new OpenlecError('E_KEY_PARAMS', `key ${kind}: ${issue.path.join('.') || 'parameters'}: ${issue.message}${paramsFile ? '' : ' (give --params FILE)'}`, { field: 'params' });
  }
  return parsed.data as KeySpec;
}

function toKeyBetas(ledger: SqliteLedger, spec: KeySpec, input: MonthInput): Float64Array {
  const key = toKey(spec, input.members, ledger.state, input);
  if (key.kind !== 'spain') throw new Error('unreachable');
  return key.betasPpm as Float64Array;
}

/** allocateMonth computes the month, records it as allocation.run, signs a checkpoint and writes the exports. */
export async function allocateMonth(c: AllocateCommand) {
  const spec = keySpec(c.key ?? 'prorata', c.params);
  const operator = readKeyFile(c.signer ?? defaultKeyPath(c.db));
  const ledger = SqliteLedger.open(c.db);
  try {
    const com = community(ledger.state);
    if (!com) throw new OpenlecError('E_NO_COMMUNITY', 'the log has no community yet', { field: 'db' });
    const signer = Signer.forState(ledger.state, operator);
    if ((spec.kind === 'full-dynamic' || (spec.kind === 'spain' && !spec.betasPpm)) && c.params) {
      // The file's days become allocation.shares, all or none, before the run reads them.
      const days = (readParams(c.params) as { days?: Record<string, Record<string, number[]>> }).days ?? {};
      await ledger.submitAtomic(Object.entries(days).map(([date, sharesPpm]) => signer.sign('allocation.shares', { date, sharesPpm })));
    }
    const { input, result, summary } = runMonth(ledger.state, c.month, spec);
    if (input.members.length === 0) throw new OpenlecError('E_NO_MEMBERS', 'the community has no consuming meter to allocate to', { field: 'db' });
    // Checked before anything is recorded: the Spanish file can only name CUPS.
    if (spec.kind === 'spain') assertCups(input.members);
    const r = await ledger.submit(signer.sign('allocation.run', summary));
    if (!r.ok) throw r.error;
    ledger.checkpoint(operator);
    const out = c.out ?? join(dirname(c.db), `allocation-${c.month}`);
    mkdirSync(out, { recursive: true });
    const owners = Object.fromEntries(([...ledger.state.rows('meters')] as MeterRow[]).filter((m) => m.direction === 'import').map((m) => [m.meter, m.owner]));
    const rows = statements(summary, owners);
    const files = {
      coefficientsFr: join(out, `coefficients-fr-${c.month}.csv`),
      statementsCsv: join(out, `statements-${c.month}.csv`),
      statementsJson: join(out, `statements-${c.month}.json`),
      summary: join(out, `summary-${c.month}.json`),
      ...(spec.kind === 'spain' ? { coefficientsEs: join(out, spec.betasPpm ? `coefficients-es-${c.month.slice(0, 4)}.txt` : `coefficients-es-${c.month}.txt`) } : {}),
    };
    writeFileSync(files.coefficientsFr, frenchCoefficients(input, result, com.timeZone, c.precision ?? 2));
    writeFileSync(files.statementsCsv, statementsCsv(rows));
    writeFileSync(files.statementsJson, JSON.stringify(rows, null, 2) + '\n');
    const communityFigures = communitySummary(summary, r.entry);
    writeFileSync(files.summary, JSON.stringify(communityFigures, null, 2) + '\n');
    if (spec.kind === 'spain') {
      const year = Number(c.month.slice(0, 4));
      writeFileSync(files.coefficientsEs!, spec.betasPpm
        ? spanishCoefficients(year, spec.betasPpm)
        : spanishHourlyCoefficients(input, toKeyBetas(ledger, spec, input), localDay(`${year}-01-01`, com.timeZone).startMs));
    }
    const daily = new Map<string, { p: number; a: number; known: boolean }>();
    input.starts.forEach((s, t) => {
      const d = localDateOf(s, com.timeZone);
      const acc = daily.get(d) ?? { p: 0, a: 0, known: false };
      const P = input.production[t]!;
      if (!Number.isNaN(P)) {
        acc.p += P;
        acc.known = true;
      }
      for (let i = 0; i < input.members.length; i++) acc.a += result.allocation[t * input.members.length + i]!;
      daily.set(d, acc);
    });
    return { entry: r.entry, summary: communityFigures, files, daily: [...daily].map(([date, v]) => ({ date, productionWh: v.known ? v.p : null, allocatedWh: v.a })) };
  } finally {
    await ledger.close();
  }
}

/** printAllocation: the figures, then a chart of each day's production and the part used locally. */
export function printAllocation(r: Awaited<ReturnType<typeof allocateMonth>>): string {
  const s = r.summary;
  const kwh = (wh: number) => (wh / 1000).toFixed(1);
  const peak = Math.max(1, ...r.daily.map((d) => d.productionWh ?? 0));
  const width = 40;
  const chart = r.daily.map((d) => {
    if (d.productionWh === null) return `${d.date} (no production data)`;
    const used = Math.round((d.allocatedWh / peak) * width);
    const all = Math.round((d.productionWh / peak) * width);
    return `${d.date} ${'█'.repeat(used)}${'░'.repeat(Math.max(0, all - used))} ${kwh(d.productionWh)} kWh`;
  });
  return [
    `allocation ${s.month} (${s.key.kind}) recorded as entry ${r.entry}; input ${s.inputHash.slice(0, 16)}…, root ${s.allocationRoot.slice(0, 16)}…`,
    `production ${kwh(s.productionWh)} kWh, allocated ${kwh(s.allocatedWh)} kWh, surplus ${kwh(s.surplusWh)} kWh, consumption ${kwh(s.consumedWh)} kWh`,
    `self-consumption rate ${s.selfConsumptionRate || '-'}, self-sufficiency ${s.selfSufficiency || '-'}, coverage ${s.coverage || '-'}`,
    `${s.missingProductionIntervals} interval(s) without production data, ${s.membersWithMissingData} member(s) with missing consumption (nothing allocated there)`,
    '',
    'daily production: █ used in the community, ░ surplus',
    ...chart,
    '',
    ...Object.values(r.files).map((f) => `wrote ${f}`),
  ].join('\n');
}
