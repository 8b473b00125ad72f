import { z } from 'zod';
import { OpenlecError } from '../errors.ts';
import { findMeter } from '../metering/meter-register.ts';
import { defineTx } from '../state/registry.ts';
import { checkCodes, FUEL_CODES, TECHNOLOGY_CODES } from './codes.ts';
import { DEVICES_TABLE, deviceOfMeter, findDevice } from './tables.ts';

const date = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/, 'must be YYYY-MM-DD');

/**
 * device.register declares a production device for certificates of origin: the export
 * meter whose readings its certificates are issued from (one device per meter), its
 * EECS fuel and technology codes, capacity, commissioning date, bidding zone, grid area
 * and whether it received public support. It holds no personal data; its owner is the
 * export meter's owner, who receives its certificates. Sent by the DSO or the issuer.
 */
export const deviceRegister = defineTx({
  type: 'device.register',
  roles: ['dso', 'issuer'],
  tables: [DEVICES_TABLE],
  body: z.strictObject({
    device: z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, 'must be 1 to 64 letters, digits or . _ : -'),
    meter: z.string().min(1).max(64),
    fuel: z.enum(Object.keys(FUEL_CODES) as [string, ...string[]]),
    technology: z.enum(Object.keys(TECHNOLOGY_CODES) as [string, ...string[]]),
    capacityW: z.number().int().min(1).max(10_000_000_000),
    commissioned: date,
    /** Bidding zone (EIC code such as 10YFR-RTE------C, or a short code such as FR, DE-LU). */
    zone: z.string().regex(/^[A-Z0-9][A-Z0-9-]{1,15}$/, 'must be a bidding-zone code (EIC or short)'),
    gridArea: z.string().min(1).max(64),
    support: z.boolean(),
  }),
  apply({ state, entry }, body) {
    checkCodes(body.fuel, body.technology);
    if (findDevice(state, body.device)) throw new OpenlecError('E_DEVICE_EXISTS', `device ${body.device} is already registered`, { field: 'body.device' });
    const meter = findMeter(state, body.meter, 'export');
    if (!meter) throw new OpenlecError('E_UNKNOWN_METER', `meter ${body.meter} has no export direction registered: a device is bound to an export meter`, { field: 'body.meter' });
    const other = deviceOfMeter(state, body.meter);
    if (other) throw new OpenlecError('E_METER_HAS_DEVICE', `export meter ${body.meter} is already bound to device ${other.device}`, { field: 'body.meter' });
    state.put('devices', { ...body, support: body.support ? 1 : 0, owner: meter.owner, nextId: 1, entry });
  },
});
