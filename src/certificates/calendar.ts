import { community } from '../community/tables.ts';
import { canonicalJson, leafHash, MemoryTree, toHex, utf8 } from '../ledger/index.ts';
import type { State } from '../state/tables.ts';
import { dayIntervals, formatInstant, localDateOf, localDay, localMinuteOfDay } from '../units/index.ts';

/** The intervals of one local day of the community: UTC starts, their ISO form, and the local clock hour each falls in. */
export interface DayGrid {
  date: string;
  starts: number[];
  iso: string[];
  /** For each interval, the UTC instant its local clock hour begins at (repeated hours on DST days stay apart). */
  hour: number[];
}

export function dayGrid(state: State, date: string): DayGrid {
  const c = community(state)!;
  const starts = dayIntervals(localDay(date, c.timeZone), c.intervalMinutes);
  return { date, starts, iso: starts.map(formatInstant), hour: starts.map((s) => s - (localMinuteOfDay(s, c.timeZone) % 60) * 60_000) };
}

/** whereIs returns the local date and index of the interval starting at `ms`. */
export function whereIs(state: State, ms: number): { date: string; k: number } {
  const c = community(state)!;
  const date = localDateOf(ms, c.timeZone);
  return { date, k: dayIntervals(localDay(date, c.timeZone), c.intervalMinutes).indexOf(ms) };
}

/** monthOf is the local month (YYYY-MM) of a local date. */
export const monthOf = (date: string) => date.slice(0, 7);

/** addMonthsUtc moves an instant by whole calendar months (UTC), the day clamped to the month's last. */
export function addMonthsUtc(ms: number, months: number): number {
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth() + months;
  const last = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  return Date.UTC(y, m, Math.min(d.getUTCDate(), last), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds());
}

/**
 * flatJson writes a flat record (string and safe-integer values) in RFC 8785 canonical
 * form without the general encoder: keys in code-point order, strings as JSON.stringify
 * writes them, integers as they are. A settlement has hundreds of thousands of records.
 */
function flatJson(r: Record<string, string | number>, keys: readonly string[], prefixes: readonly string[]): string {
  let out = '';
  for (let i = 0; i < keys.length; i++) {
    const v = r[keys[i]!]!;
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) return canonicalJson(r);
      out += prefixes[i]! + v;
    } else {
      out += prefixes[i]! + JSON.stringify(v);
    }
  }
  return out + '}';
}

/**
 * recordsRoot is the RFC 9162 root (hex) over the records grouped by interval: one leaf
 * per interval, in time order, the canonical JSON array of that interval's records in the
 * order they were made. One leaf per interval rather than per record keeps the hashing of a
 * month's settlement small, and a leaf still proves everything done in its interval.
 */
export function recordsRoot(records: readonly (Record<string, string | number> & { interval: string })[]): string {
  const byInterval = new Map<string, string[]>();
  let keys: string[] | undefined;
  let prefixes: string[] = [];
  for (const r of records) {
    if (!keys) {
      keys = Object.keys(r).sort();
      prefixes = keys.map((k, i) => `${i ? ',' : '{'}${JSON.stringify(k)}:`);
    }
    let group = byInterval.get(r.interval);
    if (!group) byInterval.set(r.interval, (group = []));
    group.push(flatJson(r, keys, prefixes));
  }
  const tree = new MemoryTree();
  for (const interval of [...byInterval.keys()].sort()) tree.appendLeaf(leafHash(utf8(`[${byInterval.get(interval)!.join(',')}]`)));
  return toHex(tree.root());
}
