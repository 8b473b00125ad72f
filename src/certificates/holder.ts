import { z } from 'zod';
import { actorKey } from '../community/community-create.ts';
import { community, participant } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import { findMeter } from '../metering/meter-register.ts';
import { findReadings } from '../metering/readings.ts';
import { latestTime } from '../state/apply.ts';
import { type ApplyContext, defineTx } from '../state/registry.ts';
import type { State } from '../state/tables.ts';
import { formatInstant, parseIntervalStart } from '../units/index.ts';
import { changeBundle, copyInterval, findLive, quantity } from './bundles.ts';
import { addMonthsUtc, dayGrid, whereIs } from './calendar.ts';
import { CERT_HOLDERS_TABLE, CERTIFICATES_TABLE, CLAIMS_TABLE, claimsKey, type ClaimsRow, expiryMonths, findCertificates, findDevice } from './tables.ts';

const bundleRef = {
  device: z.string().min(1).max(64),
  /** UTC start of the certificate's interval. */
  interval: z.string().min(1).max(40),
  /** First certificate ID of the bundle. */
  from: z.number().int().min(1),
  /** How many of its certificates (Wh): the first ones of the bundle; the rest stays as it is. */
  quantityWh: z.number().int().min(1),
};

/**
 * Hand-made splits per interval are capped: each split adds bundles to the device-day row
 * that every later write rewrites, so a holder moving 1 Wh at a time could make a row
 * grow without bound. Settlements are not capped (their moves are bounded by members).
 */
export const MAX_BUNDLES = 10_000;

/** expiresAt is when certificates of the interval starting at `start` stop moving: the interval's end plus the community's expiry period. */
export function expiresAt(state: State, start: number): number {
  return addMonthsUtc(start + community(state)!.intervalMinutes * 60_000, expiryMonths(state));
}

/** heldBundle finds the actor's active bundle, refusing with the field at fault, and returns a copy of its row to change. */
function heldBundle(ctx: ApplyContext, body: { device: string; interval: string; from: number; quantityWh: number }) {
  const { state, tx } = ctx;
  if (!findDevice(state, body.device)) throw new OpenlecError('E_UNKNOWN_DEVICE', `device ${body.device} is not registered`, { field: 'body.device' });
  const start = parseIntervalStart(body.interval, community(state)!.intervalMinutes, 'body.interval');
  const { date, k } = whereIs(state, start);
  const stored = findCertificates(state, body.device, date);
  if (!stored || k < 0) throw new OpenlecError('E_UNKNOWN_BUNDLE', `device ${body.device} has no certificates for ${formatInstant(start)}`, { field: 'body.interval' });
  const row = { ...stored, intervals: [...stored.intervals] };
  const iv = (row.intervals[k] = copyInterval(stored.intervals[k]!));
  if (iv.bundles.length >= MAX_BUNDLES) {
    throw new OpenlecError('E_TOO_MANY_BUNDLES', `the certificates of ${iv.start} of device ${body.device} are split into ${iv.bundles.length} bundles already: move whole bundles`, { field: 'body.quantityWh' });
  }
  const b = findLive(iv, body.from, 'body.from');
  const bundle = iv.bundles[b]!;
  if (bundle.holder !== tx.actor) throw new OpenlecError('E_NOT_HOLDER', `bundle ${body.device}/${iv.start}/${body.from} is not held by this actor`, { field: 'body.from' });
  if (bundle.status !== 'active') throw new OpenlecError('E_BUNDLE_NOT_ACTIVE', `bundle ${body.device}/${iv.start}/${body.from} is ${bundle.status}: it cannot move`, { field: 'body.from' });
  if (body.quantityWh > quantity(bundle)) throw new OpenlecError('E_QUANTITY', `the bundle holds ${quantity(bundle)} Wh, asked for ${body.quantityWh}`, { field: 'body.quantityWh' });
  const expiry = expiresAt(state, start);
  if (latestTime(ctx) >= expiry) throw new OpenlecError('E_EXPIRED', `certificates of ${iv.start} expired at ${formatInstant(expiry)}`, { field: 'body.interval' });
  return { row, iv, b, start, date, k };
}

/** certificate.transfer moves certificates from their holder to another participant, splitting the bundle when only part of it moves. */
export const certificateTransfer = defineTx({
  type: 'certificate.transfer',
  roles: ['member', 'operator', 'dso', 'issuer'],
  tables: [CERTIFICATES_TABLE],
  body: z.strictObject({ ...bundleRef, to: actorKey }),
  apply(ctx, body) {
    const { row, iv, b } = heldBundle(ctx, body);
    if (!participant(ctx.state, body.to)) throw new OpenlecError('E_UNKNOWN_PARTICIPANT', `${body.to} is not a registered participant`, { field: 'body.to' });
    if (body.to === ctx.tx.actor) throw new OpenlecError('E_SAME_HOLDER', 'a transfer goes to another participant', { field: 'body.to' });
    changeBundle(iv, b, body.quantityWh, { holder: body.to, status: 'active', reason: 'transfer', claim: null }, ctx.entry);
    ctx.state.put('certificates', { ...row, entry: ctx.entry });
  },
});

/**
 * certificate.cancel claims certificates for consumption: they are cancelled for good,
 * for a beneficiary (a pseudonymous key, the meter's owner by default), against the
 * holder's own consumption meter (any member's for the operator), in an interval of the
 * same local clock hour as theirs, and never above that interval's metered consumption
 * less what was claimed against it already.
 */
export const certificateCancel = defineTx({
  type: 'certificate.cancel',
  roles: ['member', 'operator', 'dso', 'issuer'],
  tables: [CERTIFICATES_TABLE, CLAIMS_TABLE],
  body: z.strictObject({ ...bundleRef, meter: z.string().min(1).max(64), consumptionInterval: z.string().min(1).max(40).optional(), beneficiary: actorKey.optional() }),
  apply(ctx, body) {
    const { state, tx, entry } = ctx;
    const { row, iv, b, start, date, k } = heldBundle(ctx, body);
    const meter = findMeter(state, body.meter, 'import');
    if (!meter) throw new OpenlecError('E_UNKNOWN_METER', `meter ${body.meter} (import) is not registered`, { field: 'body.meter' });
    // A member claims for their own consumption only; the operator (as the community's supplier) may claim for any member's.
    if (meter.owner !== tx.actor && !participant(state, tx.actor)!.roles.includes('operator')) {
      throw new OpenlecError('E_NOT_METER_OWNER', `meter ${body.meter} is not this actor's: certificates are claimed against the holder's own consumption`, { field: 'body.meter' });
    }
    const at = body.consumptionInterval === undefined ? start : parseIntervalStart(body.consumptionInterval, community(state)!.intervalMinutes, 'body.consumptionInterval');
    const grid = dayGrid(state, date);
    const place = whereIs(state, at);
    if (place.date !== date || place.k < 0 || grid.hour[place.k] !== grid.hour[k]) {
      throw new OpenlecError('E_OTHER_HOUR', `a certificate of ${iv.start} can only be claimed against consumption in its own local clock hour, not ${formatInstant(at)}`, { field: 'body.consumptionInterval' });
    }
    const metered = findReadings(state, body.meter, 'import', date)?.values[place.k];
    if (metered === null || metered === undefined) throw new OpenlecError('E_NO_CONSUMPTION', `meter ${body.meter} has no metered consumption for ${formatInstant(at)}`, { field: 'body.meter' });
    const stored = state.get<ClaimsRow>('claims', claimsKey(body.meter, date));
    const claimedWh = stored ? [...stored.claimedWh] : grid.starts.map(() => 0);
    if (claimedWh[place.k]! + body.quantityWh > metered) {
      throw new OpenlecError('E_ABOVE_CONSUMPTION', `meter ${body.meter} consumed ${metered} Wh in ${formatInstant(at)}, ${claimedWh[place.k]} Wh claimed already: at most ${metered - claimedWh[place.k]!} more`, { field: 'body.quantityWh' });
    }
    claimedWh[place.k] = claimedWh[place.k]! + body.quantityWh;
    const claim = { beneficiary: body.beneficiary ?? meter.owner, interval: formatInstant(at), meter: body.meter };
    changeBundle(iv, b, body.quantityWh, { holder: tx.actor, status: 'cancelled', reason: 'claim', claim }, entry);
    state.put('certificates', { ...row, entry });
    state.put('claims', { meter: body.meter, date, claimedWh, entry });
  },
});

/** certificate.autoclaim: a participant asks for the certificates they receive to be claimed for them at each monthly settlement (or stops). */
export const certificateAutoClaim = defineTx({
  type: 'certificate.autoclaim',
  roles: ['member', 'operator', 'dso', 'issuer'],
  tables: [CERT_HOLDERS_TABLE],
  body: z.strictObject({ enabled: z.boolean() }),
  apply({ state, tx, entry }, body) {
    state.put('certificate_holders', { key: tx.actor, autoClaim: body.enabled ? 1 : 0, entry });
  },
});
