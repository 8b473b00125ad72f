import { parseInstant } from '../../units/index.ts';
import type { Direction } from '../meter-register.ts';
import type { StepSet } from './steps.ts';

/**
 * The French DSO's load-curve export: header blocks ("Identifiant PRM;...;Grandeur
 * metier;...;Unite;Pas en minutes" and a value line), a blank line, then
 * "Horodate;Valeur" rows. Values are AVERAGE power in W over the step, and the time
 * stamp marks the END of the step. Rows may be unsorted and the step may change inside
 * a file, so the step of a row is the time since the previous row when that is a
 * plausible step confirmed by the next two rows; otherwise the previous (or declared) step,
 * which leaves the missing time as a gap. Energy is kept exactly in W·min (divisor 60).
 */
const STEPS = new Set([5, 10, 15, 30, 60]);

interface Row {
  endMs: number;
  watts: number;
  line: number;
}

export function parseEnedis(text: string, steps: StepSet): void {
  const lines = text.split(/\r?\n/);
  let prm: string | undefined;
  let direction: Direction = 'import';
  let declared: number | undefined;
  let rows: Row[] = [];
  const flush = () => {
    if (prm && rows.length > 0) emit(prm, direction, declared, rows, steps);
    rows = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    const n = i + 1;
    if (line === '') continue;
    const sep = line.indexOf(';');
    const first = sep < 0 ? line : line.slice(0, sep);
    if (first === 'Identifiant PRM') {
      const cells = line.split(';');
      flush();
      const header = cells.map((c) => c.trim());
      const v = (lines[++i] ?? '').split(';').map((c) => c.trim());
      const at = (name: string) => v[header.indexOf(name)];
      prm = at('Identifiant PRM');
      if (!prm || !/^\d{14}$/.test(prm)) steps.errors.push({ file: steps.file, line: i + 1, message: `Identifiant PRM "${prm ?? ''}" is not 14 digits` });
      const metier = (at('Grandeur metier') ?? at('Grandeur métier') ?? '').toLowerCase();
      direction = metier.startsWith('prod') || metier.startsWith('inj') ? 'export' : 'import';
      const unit = at('Unite') ?? at('Unité');
      if (unit && unit !== 'W') steps.errors.push({ file: steps.file, line: i + 1, message: `unit "${unit}" is not W (average power)` });
      const pas = Number(at('Pas en minutes'));
      declared = STEPS.has(pas) ? pas : undefined;
      continue;
    }
    if (first === 'Horodate') continue;
    if (!prm) {
      steps.errors.push({ file: steps.file, line: n, message: 'a value before any "Identifiant PRM" header' });
      continue;
    }
    const end = line.indexOf(';', sep + 1);
    const valueText = (end < 0 ? line.slice(sep + 1) : line.slice(sep + 1, end)).trim();
    if (sep < 0 || !/^\d+$/.test(valueText)) {
      steps.errors.push({ file: steps.file, line: n, message: `expected "Horodate;Valeur" with a non-negative integer in W, got "${line}"` });
      continue;
    }
    let endMs: number;
    try {
      endMs = parseInstant(first.trim(), 'Horodate');
    } catch (e) {
      steps.errors.push({ file: steps.file, line: n, message: (e as Error).message });
      continue;
    }
    rows.push({ endMs, watts: Number(valueText), line: n });
  }
  flush();
}

/** persists tells whether the step `minutes` also separates the next two rows (or all remaining ones). */
function persists(rows: Row[], k: number, minutes: number): boolean {
  for (let j = k + 1; j <= k + 2 && j < rows.length; j++) if ((rows[j]!.endMs - rows[j - 1]!.endMs) / 60_000 !== minutes) return false;
  return true;
}

function emit(prm: string, direction: Direction, declared: number | undefined, rows: Row[], steps: StepSet): void {
  rows.sort((a, b) => a.endMs - b.endMs);
  let previous: number | undefined = declared;
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k]!;
    const before = k > 0 ? rows[k - 1]! : undefined;
    if (before && before.endMs === r.endMs) {
      if (before.watts !== r.watts) steps.errors.push({ file: steps.file, line: r.line, message: `time ${new Date(r.endMs).toISOString()} is also on line ${before.line} with another value` });
      continue;
    }
    const next = k + 1 < rows.length ? (rows[k + 1]!.endMs - r.endMs) / 60_000 : undefined;
    let minutes = before ? (r.endMs - before.endMs) / 60_000 : undefined;
    if (minutes === undefined) minutes = declared ?? (next !== undefined && STEPS.has(next) ? next : undefined);
    // A new step length counts only if the next two rows confirm it: a real change of
    // step persists, while a longer difference is a gap in the data, never filled.
    else if (minutes !== previous && previous !== undefined && (!STEPS.has(minutes) || !persists(rows, k, minutes))) minutes = previous;
    if (minutes === undefined) {
      steps.errors.push({ file: steps.file, line: r.line, message: 'cannot tell the step of this value (no "Pas en minutes" and no neighbour)' });
      continue;
    }
    previous = minutes;
    steps.add(prm, direction, r.endMs - minutes * 60_000, minutes, r.watts * minutes, r.line);
  }
}
