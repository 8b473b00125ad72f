import type { State, TableSpec } from '../state/tables.ts';

/** A production device bound to one export meter (device.register). No personal data: codes, sizes, zones and the owner's key. */
export const DEVICES_TABLE: TableSpec = {
  name: 'devices',
  columns: {
    device: 'text', meter: 'text', owner: 'text', fuel: 'text', technology: 'text', capacityW: 'integer', commissioned: 'text', zone: 'text', gridArea: 'text',
    support: 'integer', nextId: 'integer', entry: 'integer',
  },
  primaryKey: ['device'],
  indexes: [['meter']],
};

export interface DeviceRow {
  [column: string]: string | number;
  device: string;
  meter: string;
  owner: string;
  fuel: string;
  technology: string;
  capacityW: number;
  commissioned: string;
  zone: string;
  gridArea: string;
  /** 1 when the device received public investment or production support (EECS "support received"). */
  support: number;
  /** The next certificate ID of this device: IDs continue without gaps across its intervals. */
  nextId: number;
  entry: number;
}

export const STATUSES = ['active', 'split', 'cancelled', 'expired', 'withdrawn'] as const;
export type Status = (typeof STATUSES)[number];

/** What a cancellation claimed: the consumption it was matched with and for whom. */
export interface Claim {
  [field: string]: string;
  meter: string;
  /** The consumption interval (UTC start), in the same local clock hour as the certificate's. */
  interval: string;
  beneficiary: string;
}

/**
 * A bundle: the certificates `from`..`to` (inclusive IDs of the device, 1 Wh each) of one
 * interval, with one holder and one status. A split ends a bundle (status `split`) and
 * starts two children that name it as `parent`; `entry` is the log entry that made the
 * bundle what it is (issuance, a transfer, a settlement, a cancellation), so the chain of
 * entries from issuance to any bundle can be proven.
 */
export interface Bundle {
  [field: string]: string | number | Claim | null;
  from: number;
  to: number;
  holder: string;
  status: Status;
  entry: number;
  /** Index of the parent bundle in the interval's list; -1 for an issued one. */
  parent: number;
  /** Why the bundle exists: issued from readings, issued by a correction, or moved/claimed/expired/withdrawn. */
  reason: string;
  claim: Claim | null;
}

export interface CertInterval {
  [field: string]: string | number | Bundle[];
  /** UTC start of the metering interval. */
  start: string;
  /** The exported Wh the issued certificates of this interval rest on (net of withdrawals by corrections). */
  meteredWh: number;
  bundles: Bundle[];
}

/** One device's certificates of one local day, interval by interval; `readingsEntry` is the export reading they were issued from. */
export const CERTIFICATES_TABLE: TableSpec = {
  name: 'certificates',
  columns: { device: 'text', date: 'text', readingsEntry: 'integer', intervals: 'json', refused: 'json', entry: 'integer' },
  primaryKey: ['device', 'date'],
  indexes: [['date'], ['device']],
  compact: true,
};

export interface CertificatesRow {
  [column: string]: string | number | CertInterval[] | number[];
  device: string;
  date: string;
  readingsEntry: number;
  intervals: CertInterval[];
  /** Indexes of intervals whose metered export was above the device's capacity: nothing issued for them. */
  refused: number[];
  entry: number;
}

/** Wh claimed against one consumption meter's intervals of one local day: never above the metered consumption. */
export const CLAIMS_TABLE: TableSpec = {
  name: 'claims',
  columns: { meter: 'text', date: 'text', claimedWh: 'json', entry: 'integer' },
  primaryKey: ['meter', 'date'],
  indexes: [['meter']],
};

export interface ClaimsRow {
  [column: string]: string | number | number[];
  meter: string;
  date: string;
  claimedWh: number[];
  entry: number;
}

/** Per-participant certificate settings: whether the certificates they receive are claimed for them automatically. */
export const CERT_HOLDERS_TABLE: TableSpec = {
  name: 'certificate_holders',
  columns: { key: 'text', autoClaim: 'integer', entry: 'integer' },
  primaryKey: ['key'],
};

/** Months settled (moves by trades and allocations done) and expired, and the community's expiry period. */
export const CERT_MONTHS_TABLE: TableSpec = {
  name: 'certificate_months',
  columns: { month: 'text', settled: 'json', expired: 'json', entry: 'integer' },
  primaryKey: ['month'],
};

export const CERT_CONFIG_TABLE: TableSpec = {
  name: 'certificate_config',
  columns: { id: 'text', expiryMonths: 'integer', entry: 'integer' },
  primaryKey: ['id'],
};

/** EECS guarantees of origin expire 12 months after the end of production; a community may choose another period. */
export const DEFAULT_EXPIRY_MONTHS = 12;

export function expiryMonths(state: State): number {
  return (state.get<{ expiryMonths: number }>('certificate_config', 'certificates')?.expiryMonths) ?? DEFAULT_EXPIRY_MONTHS;
}

export function findDevice(state: State, device: string): DeviceRow | undefined {
  return state.get<DeviceRow>('devices', device);
}

/** deviceOfMeter returns the device bound to an export meter, if any. */
export function deviceOfMeter(state: State, meter: string): DeviceRow | undefined {
  return state.lookup<DeviceRow>('devices', 'meter', meter)[0];
}

export function certKey(device: string, date: string): string {
  return `${device}\u001f${date}`;
}

/** certKeyDate is the date of a certificates row's key. */
export function certKeyDate(key: string): string {
  return key.slice(key.lastIndexOf('\u001f') + 1);
}

export function findCertificates(state: State, device: string, date: string): CertificatesRow | undefined {
  return state.get<CertificatesRow>('certificates', certKey(device, date));
}

export function claimsKey(meter: string, date: string): string {
  return `${meter}\u001f${date}`;
}

export function autoClaims(state: State, key: string): boolean {
  return state.get<{ autoClaim: number }>('certificate_holders', key)?.autoClaim === 1;
}
