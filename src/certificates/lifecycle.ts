import { z } from 'zod';
import { monthDays } from '../allocation/month.ts';
import { community } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import { earliestTime } from '../state/apply.ts';
import { defineTx } from '../state/registry.ts';
import type { Json, State } from '../state/tables.ts';
import { formatInstant, localDay } from '../units/index.ts';
import { copyInterval, expireAll } from './bundles.ts';
import { addMonthsUtc } from './calendar.ts';
import { CERT_CONFIG_TABLE, CERT_MONTHS_TABLE, CERTIFICATES_TABLE, type CertificatesRow, DEFAULT_EXPIRY_MONTHS, expiryMonths } from './tables.ts';

/** certificates.configure sets how long certificates may move and be claimed (months after their interval; 12 by default, as EECS guarantees of origin). */
export const certificatesConfigure = defineTx({
  type: 'certificates.configure',
  roles: ['operator'],
  tables: [CERT_CONFIG_TABLE],
  body: z.strictObject({ expiryMonths: z.number().int().min(1).max(60).default(DEFAULT_EXPIRY_MONTHS) }),
  apply({ state, entry }, body) {
    state.put('certificate_config', { id: 'certificates', expiryMonths: body.expiryMonths, entry });
  },
});

/** monthExpiry is the instant every certificate of a local month has expired: the month's end plus the expiry period. */
export function monthExpiry(state: State, month: string): number {
  const days = monthDays(month);
  return addMonthsUtc(localDay(days[days.length - 1]!, community(state)!.timeZone).endMs, expiryMonths(state));
}

/** expireMonth marks every still-active certificate of a month expired; it returns the Wh. */
export function expireMonth(state: State, month: string, entry: number): number {
  let wh = 0;
  for (const date of monthDays(month)) {
    for (const stored of state.lookup<CertificatesRow>('certificates', 'date', date)) {
      const intervals = stored.intervals.map(copyInterval);
      let n = 0;
      for (const iv of intervals) n += expireAll(iv, entry);
      if (n > 0) state.put('certificates', { ...stored, intervals, entry });
      wh += n;
    }
  }
  return wh;
}

/**
 * certificates.expire records that a month's certificates have expired: the ones still
 * active become `expired` and can no longer move or be claimed. It is accepted only once
 * the operator's clock (and the transaction's date) is past the month's end plus the
 * expiry period, and its Wh are recomputed.
 */
export const certificatesExpire = defineTx({
  type: 'certificates.expire',
  roles: ['operator'],
  tables: [CERTIFICATES_TABLE, CERT_MONTHS_TABLE],
  body: z.strictObject({ month: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'must be YYYY-MM'), expiredWh: z.number().int().min(0) }),
  apply(ctx, body) {
    const { state, entry } = ctx;
    const at = monthExpiry(state, body.month);
    if (earliestTime(ctx) < at) throw new OpenlecError('E_NOT_EXPIRED', `the certificates of ${body.month} expire at ${formatInstant(at)}`, { field: 'body.month' });
    const row = state.get<{ settled: Json; expired: Json }>('certificate_months', body.month);
    if (row?.expired) throw new OpenlecError('E_MONTH_EXPIRED', `the certificates of ${body.month} are expired already`, { field: 'body.month' });
    const wh = expireMonth(state, body.month, entry);
    if (wh !== body.expiredWh) throw new OpenlecError('E_EXPIRY_MISMATCH', `expiry of ${body.month}: expiredWh recorded ${body.expiredWh}, recomputed ${wh}`, { field: 'body.expiredWh' });
    state.put('certificate_months', { month: body.month, settled: row?.settled ?? null, expired: { entry, expiredWh: wh }, entry });
  },
});
