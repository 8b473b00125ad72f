import { z } from 'zod';
import { community } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import { findReadings } from '../metering/readings.ts';
import { defineTx } from '../state/registry.ts';
import type { State } from '../state/tables.ts';
import { parseInstant } from '../units/index.ts';
import { copyInterval, issueBundle, withdrawWh } from './bundles.ts';
import { dayGrid, recordsRoot, whereIs } from './calendar.ts';
import {
  CERTIFICATES_TABLE, type CertInterval, type CertificatesRow, type Claim, CLAIMS_TABLE, claimsKey, type ClaimsRow, DEVICES_TABLE, type DeviceRow, findCertificates,
} from './tables.ts';

/** One line of what an issuance did to a device-interval: issued, issued by a correction, withdrawn by a correction, or refused. */
export interface IssueRecord {
  [field: string]: string | number;
  device: string;
  interval: string;
  action: 'issue' | 'correction-issue' | 'correction-withdraw' | 'refuse';
  wh: number;
  /** First certificate ID of an issued bundle; 0 otherwise. */
  from: number;
  /** Wh of claims undone by a withdrawal. */
  revokedWh: number;
}

export interface IssueSummary {
  date: string;
  deviceDays: number;
  issuedWh: number;
  withdrawnWh: number;
  revokedWh: number;
  refusedIntervals: number;
  records: number;
  root: string;
}

/**
 * issueDay issues the certificates of one local day for every device whose export meter
 * has readings that day and that were not issued from those exact readings yet. An
 * interval's certificates equal its metered export in whole Wh (1 Wh each, IDs
 * continuing the device's range); an interval above the device's capacity × interval
 * length is refused (nothing issued, recorded). Readings corrected after issuance
 * (`meter.correct`) are reconciled explicitly: more energy issues a correction bundle,
 * less withdraws certificates (withdrawWh: the owner's unmoved ones first, claims last,
 * and a withdrawn claim is taken off the consumption it matched). It writes the state
 * and returns what it did; apply compares that with what the transaction states.
 */
export function issueDay(state: State, date: string, entry: number): { summary: IssueSummary; records: IssueRecord[] } {
  const c = community(state)!;
  const grid = dayGrid(state, date);
  const records: IssueRecord[] = [];
  let deviceDays = 0;
  const devices = ([...state.rows('devices')] as DeviceRow[]).sort((a, b) => (a.device < b.device ? -1 : a.device > b.device ? 1 : 0));
  for (const device of devices) {
    const readings = findReadings(state, device.meter, 'export', date);
    if (!readings) continue;
    const before = findCertificates(state, device.device, date);
    if (before && before.readingsEntry === readings.entry) continue;
    const capWh = Math.floor((device.capacityW * c.intervalMinutes) / 60);
    const intervals: CertInterval[] = before ? before.intervals.map(copyInterval) : grid.iso.map((start) => ({ bundles: [], meteredWh: 0, start }));
    const refused: number[] = [];
    let nextId = device.nextId;
    intervals.forEach((iv, k) => {
      const metered = readings.values[k] ?? 0;
      const target = metered > capWh ? 0 : metered;
      if (metered > capWh) {
        refused.push(k);
        records.push({ device: device.device, interval: iv.start, action: 'refuse', wh: metered, from: 0, revokedWh: 0 });
      }
      const diff = target - iv.meteredWh;
      if (diff > 0) {
        issueBundle(iv, nextId, diff, device.owner, entry, before ? 'correction' : 'issued');
        records.push({ device: device.device, interval: iv.start, action: before ? 'correction-issue' : 'issue', wh: diff, from: nextId, revokedWh: 0 });
        nextId += diff;
      } else if (diff < 0) {
        const w = withdrawWh(iv, device.owner, -diff, entry);
        for (const r of w.revoked) revokeClaim(state, r.claim, r.wh, entry);
        records.push({ device: device.device, interval: iv.start, action: 'correction-withdraw', wh: -diff, from: 0, revokedWh: w.revoked.reduce((s, r) => s + r.wh, 0) });
      }
      iv.meteredWh = target;
    });
    state.put('certificates', { device: device.device, date, readingsEntry: readings.entry, intervals, refused, entry } satisfies CertificatesRow);
    if (nextId !== device.nextId) state.put('devices', { ...device, nextId });
    deviceDays++;
  }
  const sum = (action: IssueRecord['action'][], f: (r: IssueRecord) => number) => records.filter((r) => action.includes(r.action)).reduce((s, r) => s + f(r), 0);
  return {
    records,
    summary: {
      date, deviceDays, issuedWh: sum(['issue', 'correction-issue'], (r) => r.wh), withdrawnWh: sum(['correction-withdraw'], (r) => r.wh), revokedWh: sum(['correction-withdraw'], (r) => r.revokedWh),
      refusedIntervals: records.filter((r) => r.action === 'refuse').length, records: records.length, root: recordsRoot(records),
    },
  };
}

/** revokeClaim takes `wh` off the consumption a withdrawn claim was matched with. */
function revokeClaim(state: State, claim: Claim, wh: number, entry: number): void {
  const { date, k } = whereIs(state, parseInstant(claim.interval));
  const row = state.get<ClaimsRow>('claims', claimsKey(claim.meter, date))!;
  const claimedWh = [...row.claimedWh];
  claimedWh[k] = claimedWh[k]! - wh;
  state.put('claims', { ...row, claimedWh, entry });
}

const int = z.number().int().min(0);

/**
 * certificates.issue records the issuance of one local day: how many device-days were
 * issued or reconciled, the Wh issued and withdrawn, claims revoked, intervals refused,
 * and the Merkle root of the per-interval records. Apply issues again from the logged
 * readings and refuses any difference, so `openlec verify` recomputes every certificate.
 */
export const certificatesIssue = defineTx({
  type: 'certificates.issue',
  roles: ['issuer', 'dso'],
  tables: [DEVICES_TABLE, CERTIFICATES_TABLE, CLAIMS_TABLE],
  body: z.strictObject({
    date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD'),
    deviceDays: int, issuedWh: int, withdrawnWh: int, revokedWh: int, refusedIntervals: int, records: int,
    root: z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 hex digest'),
  }),
  apply({ state, entry }, body) {
    const { summary } = issueDay(state, body.date, entry);
    if (summary.deviceDays === 0) throw new OpenlecError('E_NOTHING_TO_ISSUE', `${body.date}: every device's export readings of this day are issued already (or there are none)`, { field: 'body.date' });
    for (const field of Object.keys(summary) as (keyof IssueSummary)[]) {
      if (summary[field] !== body[field]) {
        throw new OpenlecError('E_ISSUANCE_MISMATCH', `issuance of ${body.date}: ${field} recorded ${String(body[field])}, recomputed from the logged readings ${String(summary[field])}`, { field: `body.${field}` });
      }
    }
  },
});

/** planIssue computes the body of certificates.issue for a day, on a throwaway copy of the state's writes. */
export function planIssue(state: State, date: string): IssueSummary {
  const mark = state.mark();
  try {
    return issueDay(state, date, -1).summary;
  } finally {
    state.rollback(mark);
  }
}

