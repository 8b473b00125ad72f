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

/** recordsRoot is the RFC 9162 root (hex) of the canonical JSON of each record, in order: what a certificate transaction commits to. */
export function recordsRoot(records: readonly object[]): string {
  const tree = new MemoryTree();
  for (const r of records) tree.appendLeaf(leafHash(utf8(canonicalJson(r))));
  return toHex(tree.root());
}
