import { Temporal } from 'temporal-polyfill';
import { OpenlecError } from '../errors.ts';

/**
 * Settlement intervals. An interval is identified by its start, an instant in
 * milliseconds since the Unix epoch aligned to its length in UTC; lengths are 15, 30 or
 * 60 minutes. Local days are views over these UTC intervals in an IANA time zone, so a
 * DST day in Europe/Paris has 46 or 50 half-hours.
 */
export type IntervalMinutes = 15 | 30 | 60;
export const INTERVAL_MINUTES: readonly IntervalMinutes[] = [15, 30, 60];
export const MS_PER_MINUTE = 60_000;

export function assertIntervalMinutes(minutes: unknown, field = 'intervalMinutes'): asserts minutes is IntervalMinutes {
  if (!INTERVAL_MINUTES.includes(minutes as IntervalMinutes)) {
    throw new OpenlecError('E_INTERVAL_LENGTH', `${field} must be 15, 30 or 60, got ${JSON.stringify(minutes)}`, { field });
  }
}

// ISO 8601 / RFC 3339 date-time with an explicit offset; seconds optional, no fraction
// except zeros (meter data never carries sub-second starts).
const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.0+)?)?(Z|[+-]\d{2}:?\d{2})$/;

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

// Meter files hold millions of "YYYY-MM-DDTHH:MM:SS+HH:MM" stamps: read that exact shape
// by character codes, and anything else through the general pattern below.
/**
 * fixedInstant reads "YYYY-MM-DDTHH:MM:SSZ" and "YYYY-MM-DDTHH:MM:SS+HH:MM" stamps of
 * valid dates and times from year 100 on, by character codes and civil-date arithmetic
 * (no Date object), as parseInstant reads them; undefined for anything else, which
 * the general reading (parseInstantGeneral) then reads or refuses.
 */
export function fixedInstant(t: string): number | undefined {
  return fixedInstantAt(t, 0, t.length);
}

/** fixedInstantAt is fixedInstant of t.slice(at, at + n), read in place. */
export function fixedInstantAt(t: string, at: number, n: number): number | undefined {
  if ((n !== 25 && n !== 20) || t.charCodeAt(at + 4) !== 45 || t.charCodeAt(at + 7) !== 45 || t.charCodeAt(at + 10) !== 84 || t.charCodeAt(at + 13) !== 58 || t.charCodeAt(at + 16) !== 58) return undefined;
  const y1 = twoDigits(t, at);
  const y2 = twoDigits(t, at + 2);
  const mo = twoDigits(t, at + 5);
  const d = twoDigits(t, at + 8);
  const h = twoDigits(t, at + 11);
  const mi = twoDigits(t, at + 14);
  const s = twoDigits(t, at + 17);
  if ((y1 | y2 | d | h | mi | s) < 0) return undefined;
  const y = y1 * 100 + y2;
  // Date.UTC reads years 0-99 as 1900-1999: those go the general way.
  if (y < 100 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return undefined;
  if (d > 28 && d > (mo === 2 ? (y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28) : MONTH_DAYS[mo - 1]!)) return undefined;
  let offsetMin = 0;
  if (n === 25) {
    const c = t.charCodeAt(at + 19);
    const sign = c === 43 ? 1 : c === 45 ? -1 : 0;
    const oh = twoDigits(t, at + 20);
    const om = twoDigits(t, at + 23);
    if (sign === 0 || t.charCodeAt(at + 22) !== 58 || (oh | om) < 0) return undefined;
    offsetMin = sign * (oh * 60 + om);
  } else if (t.charCodeAt(at + 19) !== 90) return undefined;
  return daysFromCivil(y, mo, d) * 86_400_000 + h * 3_600_000 + mi * 60_000 + s * 1000 - offsetMin * 60_000;
}

/** twoDigits reads the two decimal digits at `at`, or -1 when either is not one. */
function twoDigits(t: string, at: number): number {
  const a = t.charCodeAt(at) - 48;
  const b = t.charCodeAt(at + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/** daysFromCivil counts the days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm). */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** parseInstant reads an ISO 8601 date-time with offset ("2026-03-29T01:30:00+01:00", "...Z") to epoch ms. */
export function parseInstant(text: string, field = 'instant'): number {
  return fixedInstant(text) ?? parseInstantGeneral(text, field);
}

/** parseInstantGeneral is parseInstant by the pattern and Date.UTC, for every shape it takes (and the reference of fixedInstant). */
export function parseInstantGeneral(text: string, field = 'instant'): number {
  const m = ISO_INSTANT.exec(text);
  if (!m) throw new OpenlecError('E_BAD_INSTANT', `${field}: "${text}" is not an ISO 8601 date-time with offset`, { field });
  const [, y, mo, d, h, mi, s = '00', zone] = m as unknown as string[];
  const ms = Date.UTC(+y!, +mo! - 1, +d!, +h!, +mi!, +s);
  const check = new Date(ms);
  if (check.getUTCDate() !== +d! || check.getUTCMonth() !== +mo! - 1 || +h! > 23 || +mi! > 59 || +s > 59) {
    throw new OpenlecError('E_BAD_INSTANT', `${field}: "${text}" is not a valid date-time`, { field });
  }
  let offsetMin = 0;
  if (zone !== 'Z') {
    const digits = zone!.replace(':', '');
    offsetMin = (digits[0] === '-' ? -1 : 1) * (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5)));
  }
  return ms - offsetMin * MS_PER_MINUTE;
}

/** formatInstant writes epoch ms as "YYYY-MM-DDTHH:MM:SSZ". */
export function formatInstant(ms: number): string {
  return new Date(ms).toISOString().replace(/\.000Z$/, 'Z');
}

/** intervalOf returns the start of the interval of `minutes` that contains the instant `ms`. */
export function intervalOf(ms: number, minutes: IntervalMinutes): number {
  const len = minutes * MS_PER_MINUTE;
  return Math.floor(ms / len) * len;
}

/** parseIntervalStart reads an interval start and checks it is aligned to the interval length. */
export function parseIntervalStart(text: string, minutes: IntervalMinutes, field = 'interval'): number {
  const ms = parseInstant(text, field);
  assertAligned(ms, minutes, field);
  return ms;
}

export function assertAligned(ms: number, minutes: IntervalMinutes, field = 'interval'): void {
  if (!Number.isSafeInteger(ms) || ms % (minutes * MS_PER_MINUTE) !== 0) {
    throw new OpenlecError('E_INTERVAL_ALIGN', `${field}: ${Number.isSafeInteger(ms) ? formatInstant(ms) : ms} is not the start of a ${minutes}-minute interval`, { field });
  }
}

/** assertTimeZone checks that `zone` is an IANA time zone this runtime knows. */
export function assertTimeZone(zone: string, field = 'timeZone'): void {
  try {
    Temporal.Now.instant().toZonedDateTimeISO(zone);
  } catch {
    throw new OpenlecError('E_TIME_ZONE', `${field}: "${zone}" is not an IANA time zone`, { field });
  }
}

const LOCAL_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** LocalDay is the span of one calendar day in a time zone, as UTC instants [startMs, endMs). */
export interface LocalDay {
  readonly date: string;
  readonly timeZone: string;
  readonly startMs: number;
  readonly endMs: number;
}

/**
 * memo keeps the results of a pure calendar function (time-zone arithmetic is the slow
 * part of books and readings); it forgets everything when full.
 */
function memo<K, V>(size: number, f: (k: K) => V): (k: K) => V {
  const cache = new Map<K, V>();
  return (k) => {
    let v = cache.get(k);
    if (v === undefined) {
      v = f(k);
      if (cache.size >= size) cache.clear();
      cache.set(k, v);
    }
    return v;
  };
}

const localDays = memo(20_000, (k: string) => {
  const [date, timeZone] = k.split('\u0000') as [string, string];
  return Object.freeze(computeLocalDay(date, timeZone));
});

/** localDay returns the UTC span of the local calendar day `date` (YYYY-MM-DD) in `timeZone`. */
export function localDay(date: string, timeZone: string): LocalDay {
  return localDays(`${date}\u0000${timeZone}`);
}

function computeLocalDay(date: string, timeZone: string): LocalDay {
  if (!LOCAL_DATE.test(date)) throw new OpenlecError('E_BAD_DATE', `date: "${date}" is not YYYY-MM-DD`, { field: 'date' });
  let plain: Temporal.PlainDate;
  try {
    plain = Temporal.PlainDate.from(date, { overflow: 'reject' });
  } catch {
    throw new OpenlecError('E_BAD_DATE', `date: "${date}" is not a calendar date`, { field: 'date' });
  }
  assertTimeZone(timeZone);
  const startMs = plain.toZonedDateTime({ timeZone }).epochMilliseconds;
  const endMs = plain.add({ days: 1 }).toZonedDateTime({ timeZone }).epochMilliseconds;
  return { date, timeZone, startMs, endMs };
}

/** addDays moves a calendar date (YYYY-MM-DD) by whole days. */
export function addDays(date: string, days: number): string {
  return Temporal.PlainDate.from(date).add({ days }).toString();
}

/** The local date and wall-clock minute of an instant, from one time-zone conversion (a book needs both). */
const localTimes = memo(50_000, (k: string) => {
  const i = k.indexOf('\u0000');
  const z = Temporal.Instant.fromEpochMilliseconds(Number(k.slice(0, i))).toZonedDateTimeISO(k.slice(i + 1));
  return { date: z.toPlainDate().toString(), minute: z.hour * 60 + z.minute };
});

/** localDateOf returns the local calendar date (YYYY-MM-DD) of the instant `ms` in `timeZone`. */
export function localDateOf(ms: number, timeZone: string): string {
  return localTimes(`${ms}\u0000${timeZone}`).date;
}

/** dayIntervals lists the starts of the intervals of a local day; 46 or 50 half-hours on DST days in Europe. */
export function dayIntervals(day: LocalDay, minutes: IntervalMinutes): number[] {
  const len = minutes * MS_PER_MINUTE;
  const first = Math.ceil(day.startMs / len) * len;
  const starts: number[] = [];
  for (let t = first; t < day.endMs; t += len) starts.push(t);
  return starts;
}

/** intervalsInDay counts the intervals of a local day. */
export function intervalsInDay(date: string, timeZone: string, minutes: IntervalMinutes): number {
  return dayIntervals(localDay(date, timeZone), minutes).length;
}

/** formatLocal writes epoch ms as local wall time with offset in `timeZone` ("2026-10-25T02:30:00+01:00"). */
export function formatLocal(ms: number, timeZone: string): string {
  const z = Temporal.Instant.fromEpochMilliseconds(ms).toZonedDateTimeISO(timeZone);
  return z.toString({ timeZoneName: 'never', smallestUnit: 'second' });
}

/** localMinuteOfDay returns the local wall-clock minute of the day (0..1439) of the instant `ms` in `timeZone`. */
export function localMinuteOfDay(ms: number, timeZone: string): number {
  return localTimes(`${ms}\u0000${timeZone}`).minute;
}
