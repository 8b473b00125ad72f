import { z } from 'zod';

/**
 * The OpenADR 3.0.1 objects the VTN accepts, as zod schemas, validated as the Alliance's
 * OpenAPI `1_oadr3.0.1.yaml` says: objectID `^[a-zA-Z0-9_-]*$` of 1–128 characters,
 * durations by the spec's own regular expression, RFC 3339 date-times, the enumerations
 * of object types, operations, report payload and reading types. VTN-provisioned fields
 * (id, createdDateTime, modificationDateTime, objectType) may be sent back and are ignored;
 * unknown fields are dropped.
 */
export const BASE = '/openadr3/3.0.1';

export const OBJECT_ID = z.string().min(1, 'must be 1-128 characters').max(128, 'must be 1-128 characters').regex(/^[a-zA-Z0-9_-]*$/, 'must match ^[a-zA-Z0-9_-]*$');
/** The spec's `duration` pattern, verbatim: [-]P(nY)(nM)(nD|nW)(T(nH)(nM)(nS)). */
export const DURATION_PATTERN = /^(-?)P(?=\d|T\d)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)([DW]))?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;
export const DURATION = z.string().regex(DURATION_PATTERN, 'must be an ISO 8601 duration such as PT30M, P1D or P1W');
export const DATE_TIME = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time with offset, such as 2026-06-01T18:00:00Z' });

export const OBJECT_TYPES = ['PROGRAM', 'EVENT', 'REPORT', 'SUBSCRIPTION', 'VEN', 'RESOURCE'] as const;
export type ObjectType = (typeof OBJECT_TYPES)[number];
export const OPERATIONS = ['GET', 'POST', 'PUT', 'DELETE'] as const;
export type Operation = (typeof OPERATIONS)[number];

/** Event payload types of the spec (private strings are allowed too, in programs' descriptors). */
export const EVENT_PAYLOAD_TYPES = [
  'SIMPLE', 'PRICE', 'CHARGE_STATE_SETPOINT', 'DISPATCH_SETPOINT', 'DISPATCH_SETPOINT_RELATIVE', 'CONTROL_SETPOINT', 'EXPORT_PRICE', 'GHG', 'CURVE', 'OLS',
  'IMPORT_CAPACITY_SUBSCRIPTION', 'IMPORT_CAPACITY_RESERVATION', 'IMPORT_CAPACITY_RESERVATION_FEE', 'IMPORT_CAPACITY_AVAILABLE', 'IMPORT_CAPACITY_AVAILABLE_PRICE',
  'EXPORT_CAPACITY_SUBSCRIPTION', 'EXPORT_CAPACITY_RESERVATION', 'EXPORT_CAPACITY_RESERVATION_FEE', 'EXPORT_CAPACITY_AVAILABLE', 'EXPORT_CAPACITY_AVAILABLE_PRICE',
  'IMPORT_CAPACITY_LIMIT', 'EXPORT_CAPACITY_LIMIT', 'ALERT_GRID_EMERGENCY', 'ALERT_BLACK_START', 'ALERT_POSSIBLE_OUTAGE', 'ALERT_FLEX_ALERT', 'ALERT_FIRE',
  'ALERT_FREEZING', 'ALERT_WIND', 'ALERT_TSUNAMI', 'ALERT_AIR_QUALITY', 'ALERT_OTHER', 'CTA2045_REBOOT', 'CTA2045_SET_OVERRIDE_STATUS',
] as const;
/** Report payload types of the spec: a report must use these. */
export const REPORT_PAYLOAD_TYPES = [
  'READING', 'USAGE', 'DEMAND', 'SETPOINT', 'DELTA_USAGE', 'BASELINE', 'OPERATING_STATE', 'UP_REGULATION_AVAILABLE', 'DOWN_REGULATION_AVAILABLE', 'REGULATION_SETPOINT',
  'STORAGE_USABLE_CAPACITY', 'STORAGE_CHARGE_LEVEL', 'STORAGE_MAX_DISCHARGE_POWER', 'STORAGE_MAX_CHARGE_POWER', 'SIMPLE_LEVEL', 'USAGE_FORECAST', 'STORAGE_DISPATCH_FORECAST',
  'LOAD_SHED_DELTA_AVAILABLE', 'GENERATION_DELTA_AVAILABLE', 'DATA_QUALITY', 'IMPORT_RESERVATION_CAPACITY', 'IMPORT_RESERVATION_FEE', 'EXPORT_RESERVATION_CAPACITY',
  'EXPORT_RESERVATION_FEE',
] as const;
export const READING_TYPES = ['DIRECT_READ', 'ESTIMATED', 'SUMMED', 'MEAN', 'PEAK', 'FORECAST', 'AVERAGE'] as const;

const TEXT = z.string().max(1000).nullable().optional();
/** VTN-set fields a client may echo back (PUT of a fetched object); objectType must then be the right one. */
const provisioned = (type: ObjectType) => ({
  id: z.unknown().optional(), createdDateTime: z.unknown().optional(), modificationDateTime: z.unknown().optional(), objectType: z.literal(type).optional(),
});

export const POINT = z.object({ x: z.number(), y: z.number() });
export const VALUES_MAP = z.object({ type: z.string().min(1).max(128), values: z.array(z.union([z.number(), z.string().max(1000), z.boolean(), POINT])).max(10_000) });
export type ValuesMap = z.infer<typeof VALUES_MAP>;
const VALUES_MAPS = z.array(VALUES_MAP).max(100).nullable().optional();
export const INTERVAL_PERIOD = z.object({ start: DATE_TIME, duration: DURATION.optional(), randomizeStart: DURATION.nullable().optional() });
export type IntervalPeriod = z.infer<typeof INTERVAL_PERIOD>;
const INT32 = z.number().int().min(-(2 ** 31)).max(2 ** 31 - 1);

export const EVENT_PAYLOAD_DESCRIPTOR = z.object({
  objectType: z.literal('EVENT_PAYLOAD_DESCRIPTOR').optional(), payloadType: z.string().min(1).max(128), units: TEXT, currency: TEXT,
});
export const REPORT_PAYLOAD_DESCRIPTOR = z.object({
  objectType: z.literal('REPORT_PAYLOAD_DESCRIPTOR').optional(), payloadType: z.enum(REPORT_PAYLOAD_TYPES), readingType: z.enum(READING_TYPES).nullable().optional(),
  units: TEXT, accuracy: z.number().nullable().optional(), confidence: z.number().int().min(0).max(100).nullable().optional(),
});

export const PROGRAM = z.object({
  ...provisioned('PROGRAM'),
  programName: z.string().min(1).max(128), programLongName: TEXT, retailerName: TEXT, retailerLongName: TEXT, programType: TEXT,
  country: z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code').nullable().optional(), principalSubdivision: TEXT,
  timeZoneOffset: DURATION.nullable().optional(), intervalPeriod: INTERVAL_PERIOD.nullable().optional(),
  programDescriptions: z.array(z.object({ URL: z.url() })).max(20).nullable().optional(),
  bindingEvents: z.boolean().nullable().optional(), localPrice: z.boolean().nullable().optional(),
  payloadDescriptors: z.array(z.union([EVENT_PAYLOAD_DESCRIPTOR, REPORT_PAYLOAD_DESCRIPTOR])).max(50).nullable().optional(),
  targets: VALUES_MAPS,
});

const REPORT_VALUES_MAP = z.object({ type: z.enum(REPORT_PAYLOAD_TYPES), values: VALUES_MAP.shape.values });
const REPORT_INTERVAL = z.object({ id: INT32, intervalPeriod: INTERVAL_PERIOD.nullable().optional(), payloads: z.array(REPORT_VALUES_MAP).min(1).max(50) });
export const REPORT = z.object({
  ...provisioned('REPORT'),
  programID: OBJECT_ID, eventID: OBJECT_ID, clientName: z.string().min(1).max(128), reportName: TEXT,
  payloadDescriptors: z.array(REPORT_PAYLOAD_DESCRIPTOR).max(50).nullable().optional(),
  resources: z.array(z.object({ resourceName: z.string().min(1).max(128), intervalPeriod: INTERVAL_PERIOD.nullable().optional(), intervals: z.array(REPORT_INTERVAL).min(1).max(2000) })).min(1).max(500),
}).superRefine((r, ctx) => {
  r.resources.forEach((res, i) => {
    const ids = new Set<number>();
    res.intervals.forEach((iv, j) => {
      const at = ['resources', i, 'intervals', j];
      if (ids.has(iv.id)) ctx.addIssue({ code: 'custom', path: [...at, 'id'], message: `interval id ${iv.id} appears twice in this resource` });
      ids.add(iv.id);
      if (!iv.intervalPeriod && !res.intervalPeriod) ctx.addIssue({ code: 'custom', path: [...at, 'intervalPeriod'], message: 'needs an intervalPeriod (here or on the resource)' });
      const types = new Set<string>();
      iv.payloads.forEach((p, k) => {
        if (types.has(p.type)) ctx.addIssue({ code: 'custom', path: [...at, 'payloads', k, 'type'], message: `${p.type} appears twice in this interval` });
        types.add(p.type);
        if ((p.type === 'USAGE' || p.type === 'BASELINE') && !p.values.every((v) => typeof v === 'number' && Number.isFinite(v))) {
          ctx.addIssue({ code: 'custom', path: [...at, 'payloads', k, 'values'], message: `${p.type} values are numbers` });
        }
      });
    });
  });
});
export type Report = z.infer<typeof REPORT>;

export const OBJECT_OPERATION = z.object({
  objects: z.array(z.enum(OBJECT_TYPES)).min(1).max(6), operations: z.array(z.enum(OPERATIONS)).min(1).max(4),
  callbackUrl: z.url({ protocol: /^https?$/, message: 'must be an http or https URL' }).max(2000),
  bearerToken: z.string().max(4096).nullable().optional(),
});
export const SUBSCRIPTION = z.object({
  ...provisioned('SUBSCRIPTION'),
  clientName: z.string().min(1).max(128), programID: OBJECT_ID, objectOperations: z.array(OBJECT_OPERATION).min(1).max(20), targets: VALUES_MAPS,
});
export type Subscription = z.infer<typeof SUBSCRIPTION>;

export const RESOURCE = z.object({
  ...provisioned('RESOURCE'), venID: z.unknown().optional(),
  resourceName: z.string().min(1).max(128), attributes: VALUES_MAPS, targets: VALUES_MAPS,
});
export const VEN = z.object({
  ...provisioned('VEN'),
  venName: z.string().min(1).max(128), attributes: VALUES_MAPS, targets: VALUES_MAPS, resources: z.array(RESOURCE).max(500).nullable().optional(),
});

const toArray = (v: unknown) => (v === undefined || Array.isArray(v) ? v : [v]);
/** skip, limit (≤ 50) and the target filter of every list. */
export const LIST_QUERY = z.object({
  skip: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(0).max(50, 'at most 50').default(50),
  targetType: z.string().min(1).max(128).optional(),
  targetValues: z.preprocess(toArray, z.array(z.string().max(128)).max(50)).optional(),
});
export const OBJECTS_QUERY = z.preprocess(toArray, z.array(z.enum(OBJECT_TYPES)).max(6)).optional();

/**
 * EVENT: an OpenADR 3.0.1 `event` as this VTN sends it. Events are never accepted (POST,
 * PUT and DELETE are refused with 405): each is projected from a flex.request of the log,
 * so the schema is the projection's, strict, with every field of the spec's `event` the
 * VTN fills. The provisioned fields (id, createdDateTime, ...) are added in responses.ts.
 */
const EVENT_INTERVAL_PERIOD = z.strictObject({ start: DATE_TIME, duration: DURATION });
const CAPACITY_LIMITS = ['IMPORT_CAPACITY_LIMIT', 'EXPORT_CAPACITY_LIMIT'] as const;
export const REPORT_DESCRIPTOR = z.strictObject({
  payloadType: z.enum(REPORT_PAYLOAD_TYPES), readingType: z.enum(READING_TYPES).nullable(), units: z.string().nullable(), targets: z.array(VALUES_MAP).nullable(),
  aggregate: z.boolean(), startInterval: INT32.describe('-1: from the event\'s first interval'), numIntervals: INT32.describe('-1: every interval'),
  historical: z.boolean(), frequency: INT32.describe('-1: once the event is over'), repeat: INT32,
}).describe('What the VTN asks VENs to report on the event');
export const EVENT = z.strictObject({
  programID: OBJECT_ID.describe('The community\'s flexibility program, `flex`'),
  eventName: z.string().nullable(), priority: INT32.min(0).nullable(),
  targets: z.array(z.strictObject({ type: z.enum(['FEEDER', 'RESOURCE_NAME']), values: z.array(z.string()) }))
    .describe('The congestion point (FEEDER) and the flexible assets behind it (RESOURCE_NAME)'),
  reportDescriptors: z.array(REPORT_DESCRIPTOR),
  payloadDescriptors: z.array(z.strictObject({ objectType: z.literal('EVENT_PAYLOAD_DESCRIPTOR'), payloadType: z.enum(CAPACITY_LIMITS), units: z.literal('KW'), currency: z.null() })),
  intervalPeriod: EVENT_INTERVAL_PERIOD.describe('The request\'s first ISP and the community\'s interval length'),
  intervals: z.array(z.strictObject({
    id: INT32.min(0).describe('The ISP\'s index'), intervalPeriod: EVENT_INTERVAL_PERIOD,
    payloads: z.array(z.strictObject({ type: z.enum(CAPACITY_LIMITS), values: z.array(z.number()).length(1).describe('kW') })).max(1)
      .describe('The feeder\'s capacity limit the DSO wants respected; empty when no limit is known for the interval'),
  })),
});
