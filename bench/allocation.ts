import { allocate, type AllocationKey, PPM } from '../src/allocation/keys.ts';
import { printTable, round, timed } from './support.ts';

const INTERVALS = 1488; // a 31-day month of half-hours

/** synthetic month: household-like consumption and a PV-shaped production covering about 40 % of it (deterministic). */
function month(members: number) {
  let s = 12345;
  const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const consumption = new Float64Array(INTERVALS * members);
  const production = new Float64Array(INTERVALS);
  for (let t = 0; t < INTERVALS; t++) {
    const hour = (t % 48) / 2;
    let sum = 0;
    for (let i = 0; i < members; i++) {
      const c = Math.floor(100 + 300 * rand() + (hour > 17 && hour < 22 ? 400 : 0));
      consumption[t * members + i] = c;
      sum += c;
    }
    const sun = Math.max(0, Math.sin(((hour - 6) / 14) * Math.PI));
    production[t] = Math.floor(sum * 1.6 * sun * (0.6 + 0.4 * rand()));
  }
  return { intervals: INTERVALS, members, production, consumption };
}

function keys(members: number): AllocationKey[] {
  const shares = Array.from({ length: members }, () => Math.floor(PPM / members));
  const betas = [...shares];
  betas[0]! += PPM - betas.reduce((a, b) => a + b, 0);
  return [
    { kind: 'prorata' },
    { kind: 'static', sharesPpm: shares },
    { kind: 'redistribute', sharesPpm: shares },
    { kind: 'full-dynamic', sharesPpm: Float64Array.from({ length: INTERVALS * members }, (_, k) => shares[k % members]!) },
    { kind: 'cascade', groups: shares.map((_, i) => (i % 10 === 0 ? 0 : 1)) },
    { kind: 'spain', betasPpm: betas },
  ];
}

export async function run(extra: Record<string, number> = {}): Promise<Record<string, number>> {
  const figures: Record<string, number> = {};
  const rows: (string | number)[][] = [];
  for (const members of [1_000, 100_000]) {
    process.stderr.write(`allocation bench: ${members} members x ${INTERVALS} intervals...\n`);
    const input = month(members);
    // The first touch of a new output array (8 bytes per member-interval) is the VM's page
    // faults, not the key's work: measured alone, and each key run again into its own result.
    const { seconds: commit } = await timed(() => {
      const a = new Float64Array(INTERVALS * members);
      for (let k = 0; k < a.length; k += 512) a[k] = 1;
      return a.length;
    });
    figures[`outputCommit_${members}_seconds`] = round(commit, 3);
    for (const key of keys(members)) {
      const { value: cold, seconds } = await timed(() => allocate(input, key));
      let warm = Infinity;
      for (let r = 0; r < 2; r++) warm = Math.min(warm, (await timed(() => allocate(input, key, cold.allocation))).seconds);
      const rate = (INTERVALS * members) / seconds;
      const warmRate = (INTERVALS * members) / warm;
      figures[`${key.kind}_${members}_memberIntervalsPerSec`] = round(rate);
      figures[`${key.kind}_${members}_reusedOutput_memberIntervalsPerSec`] = round(warmRate);
      rows.push([key.kind, members, round(seconds, 3), round(rate / 1e6, 2), round(warm, 3), round(warmRate / 1e6, 2)]);
    }
    rows.push([`(new output array alone)`, members, round(commit, 3), '', '', '']);
  }
  printTable(`Allocation keys: a month of ${INTERVALS} half-hours, one core; "new output" allocates the result, "reused" writes into the last one (best of 2)`, rows,
    ['key', 'members', 'new output s', 'M member-intervals/s', 'reused output s', 'M member-intervals/s']);
  return { ...figures, ...extra };
}
