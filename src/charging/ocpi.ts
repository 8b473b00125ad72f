import { z } from 'zod';
import { OpenlecError } from '../errors.ts';

/**
 * Strict schemas of the OCPI 2.2.1 objects openlec reads and writes (types.asciidoc,
 * mod_tariffs, mod_cdrs, mod_sessions, mod_locations): enums, string lengths, the formats
 * of times and dates. Unknown fields and unknown dimension types are refused, with the
 * field named, because a field openlec would silently ignore could change a price.
 */

/** CiString(n): printable ASCII, case-insensitive, at most n characters. */
const ci = (n: number) => z.string().regex(/^[\x20-\x7e]*$/, 'must be printable ASCII (CiString)').max(n);
/** string(n): UTF-8 text of at most n characters. */
const str = (n: number) => z.string().max(n);
/** OCPI DateTime: RFC 3339 in UTC; "Z" may be omitted (it is implied), fractions of a second allowed. */
export const ocpiDateTime = z
  .string()
  .max(25)
  .regex(/^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,3})?Z?$/, 'must be an OCPI DateTime in UTC, e.g. 2026-01-31T18:00:00Z')
  .refine((t) => calendarDate(t.slice(0, 10)), 'must be a calendar date (no February 30th)');
/** YYYY-MM-DD names a day of the calendar. */
function calendarDate(d: string): boolean {
  const [y, m, day] = [Number(d.slice(0, 4)), Number(d.slice(5, 7)), Number(d.slice(8, 10))];
  return day <= new Date(Date.UTC(y, m, 0)).getUTCDate();
}
/** OCPI number: a decimal with at most 4 decimals (types.asciidoc), judged on its shortest decimal form (0.1 + 0.2 has 17). */
const num = z.number().finite().refine((n) => /^-?\d+(\.\d{1,4})?$/.test(String(n)), 'must have at most 4 decimals (OCPI number)');
const nonNeg = num.refine((n) => n >= 0, 'must not be negative');
const time = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be local time HH:MM');
const date = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/, 'must be a local date YYYY-MM-DD').refine(calendarDate, 'must be a calendar date (no February 30th)');
const url = str(255).regex(/^https?:\/\/\S+$/, 'must be an http(s) URL');
const countryCode = ci(2).regex(/^[A-Za-z]{2}$/, 'must be an ISO 3166-1 alpha-2 country code');
const partyId = ci(3).regex(/^[A-Za-z0-9]{3}$/, 'must be a 3-character party id (ISO 15118)');
const currency = str(3).regex(/^[A-Z]{3}$/, 'must be an ISO 4217 currency code');

export const price = z.strictObject({ excl_vat: nonNeg, incl_vat: nonNeg.optional() });
/** A CDR's costs: negative in a credit CDR. */
const cost = z.strictObject({ excl_vat: num, incl_vat: num.optional() });
export type OcpiPrice = z.infer<typeof price>;
const displayText = z.strictObject({ language: str(2), text: str(512) });

export const ENERGY_SOURCES = ['NUCLEAR', 'GENERAL_FOSSIL', 'COAL', 'GAS', 'GENERAL_GREEN', 'SOLAR', 'WIND', 'WATER'] as const;
export const energyMix = z.strictObject({
  is_green_energy: z.boolean(),
  energy_sources: z.array(z.strictObject({ source: z.enum(ENERGY_SOURCES), percentage: nonNeg.refine((p) => p <= 100, 'must be at most 100') })).optional(),
  environ_impact: z.array(z.strictObject({ category: z.enum(['NUCLEAR_WASTE', 'CARBON_DIOXIDE']), amount: nonNeg })).optional(),
  supplier_name: str(64).optional(),
  energy_product_name: str(64).optional(),
});
export type OcpiEnergyMix = z.infer<typeof energyMix>;

export const TARIFF_DIMENSIONS = ['ENERGY', 'FLAT', 'PARKING_TIME', 'TIME'] as const;
export type TariffDimension = (typeof TARIFF_DIMENSIONS)[number];
export const DAYS_OF_WEEK = ['MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY', 'SUNDAY'] as const;
export const RESERVATION_TYPES = ['RESERVATION', 'RESERVATION_EXPIRES'] as const;

export const priceComponent = z.strictObject({
  type: z.enum(TARIFF_DIMENSIONS),
  price: nonNeg,
  vat: nonNeg.optional(),
  step_size: z.number().int().min(0).max(1_000_000_000),
});
export type OcpiPriceComponent = z.infer<typeof priceComponent>;

export const tariffRestrictions = z.strictObject({
  start_time: time.optional(),
  end_time: time.optional(),
  start_date: date.optional(),
  end_date: date.optional(),
  min_kwh: nonNeg.optional(),
  max_kwh: nonNeg.optional(),
  min_current: nonNeg.optional(),
  max_current: nonNeg.optional(),
  min_power: nonNeg.optional(),
  max_power: nonNeg.optional(),
  min_duration: z.number().int().min(0).optional(),
  max_duration: z.number().int().min(0).optional(),
  day_of_week: z.array(z.enum(DAYS_OF_WEEK)).max(7).optional(),
  reservation: z.enum(RESERVATION_TYPES).optional(),
});
export type OcpiTariffRestrictions = z.infer<typeof tariffRestrictions>;

export const tariffElement = z.strictObject({ price_components: z.array(priceComponent).min(1), restrictions: tariffRestrictions.optional() });
export type OcpiTariffElement = z.infer<typeof tariffElement>;

export const TARIFF_TYPES = ['AD_HOC_PAYMENT', 'PROFILE_CHEAP', 'PROFILE_FAST', 'PROFILE_GREEN', 'REGULAR'] as const;
export const tariff = z.strictObject({
  country_code: countryCode,
  party_id: partyId,
  id: ci(36).min(1),
  currency,
  type: z.enum(TARIFF_TYPES).optional(),
  tariff_alt_text: z.array(displayText).optional(),
  tariff_alt_url: url.optional(),
  min_price: price.optional(),
  max_price: price.optional(),
  elements: z.array(tariffElement).min(1),
  start_date_time: ocpiDateTime.optional(),
  end_date_time: ocpiDateTime.optional(),
  energy_mix: energyMix.optional(),
  last_updated: ocpiDateTime,
});
export type OcpiTariff = z.infer<typeof tariff>;

export const CDR_DIMENSION_TYPES = [
  'CURRENT', 'ENERGY', 'ENERGY_EXPORT', 'ENERGY_IMPORT', 'MAX_CURRENT', 'MIN_CURRENT', 'MAX_POWER', 'MIN_POWER', 'PARKING_TIME', 'POWER', 'RESERVATION_TIME', 'STATE_OF_CHARGE', 'TIME',
] as const;
export type CdrDimensionType = (typeof CDR_DIMENSION_TYPES)[number];
export const cdrDimension = z.strictObject({ type: z.enum(CDR_DIMENSION_TYPES), volume: num });
export const chargingPeriod = z.strictObject({ start_date_time: ocpiDateTime, dimensions: z.array(cdrDimension).min(1), tariff_id: ci(36).optional() });
export type OcpiChargingPeriod = z.infer<typeof chargingPeriod>;

export const TOKEN_TYPES = ['AD_HOC_USER', 'APP_USER', 'OTHER', 'RFID'] as const;
export const AUTH_METHODS = ['AUTH_REQUEST', 'COMMAND', 'WHITELIST'] as const;
export const cdrToken = z.strictObject({ country_code: countryCode, party_id: partyId, uid: ci(36).min(1), type: z.enum(TOKEN_TYPES), contract_id: ci(36).min(1) });
export type OcpiCdrToken = z.infer<typeof cdrToken>;

export const CONNECTOR_TYPES = [
  'CHADEMO', 'CHAOJI', 'DOMESTIC_A', 'DOMESTIC_B', 'DOMESTIC_C', 'DOMESTIC_D', 'DOMESTIC_E', 'DOMESTIC_F', 'DOMESTIC_G', 'DOMESTIC_H', 'DOMESTIC_I', 'DOMESTIC_J', 'DOMESTIC_K',
  'DOMESTIC_L', 'DOMESTIC_M', 'DOMESTIC_N', 'DOMESTIC_O', 'GBT_AC', 'GBT_DC', 'IEC_60309_2_single_16', 'IEC_60309_2_three_16', 'IEC_60309_2_three_32', 'IEC_60309_2_three_64',
  'IEC_62196_T1', 'IEC_62196_T1_COMBO', 'IEC_62196_T2', 'IEC_62196_T2_COMBO', 'IEC_62196_T3A', 'IEC_62196_T3C', 'NEMA_5_20', 'NEMA_6_30', 'NEMA_6_50', 'NEMA_10_30',
  'NEMA_10_50', 'NEMA_14_30', 'NEMA_14_50', 'PANTOGRAPH_BOTTOM_UP', 'PANTOGRAPH_TOP_DOWN', 'TESLA_R', 'TESLA_S',
] as const;
export const CONNECTOR_FORMATS = ['SOCKET', 'CABLE'] as const;
export const POWER_TYPES = ['AC_1_PHASE', 'AC_2_PHASE', 'AC_2_PHASE_SPLIT', 'AC_3_PHASE', 'DC'] as const;
const geoLocation = z.strictObject({
  latitude: str(10).regex(/^-?[0-9]{1,2}\.[0-9]{5,7}$/, 'must be a latitude with 5 to 7 decimals'),
  longitude: str(11).regex(/^-?[0-9]{1,3}\.[0-9]{5,7}$/, 'must be a longitude with 5 to 7 decimals'),
});
const country3 = str(3).regex(/^[A-Z]{3}$/, 'must be an ISO 3166-1 alpha-3 country code');

export const cdrLocation = z.strictObject({
  id: ci(36).min(1),
  name: str(255).optional(),
  address: str(45),
  city: str(45),
  postal_code: str(10).optional(),
  state: str(20).optional(),
  country: country3,
  coordinates: geoLocation,
  evse_uid: ci(36).min(1),
  evse_id: ci(48).min(1),
  connector_id: ci(36).min(1),
  connector_standard: z.enum(CONNECTOR_TYPES),
  connector_format: z.enum(CONNECTOR_FORMATS),
  connector_power_type: z.enum(POWER_TYPES),
});
export type OcpiCdrLocation = z.infer<typeof cdrLocation>;

const signedData = z.strictObject({
  encoding_method: ci(36),
  encoding_method_version: z.number().int().optional(),
  public_key: str(512).optional(),
  signed_values: z.array(z.strictObject({ nature: ci(32), plain_data: str(512), signed_data: str(5000) })).min(1),
  url: str(512).optional(),
});

export const cdr = z.strictObject({
  country_code: countryCode,
  party_id: partyId,
  id: ci(39).min(1),
  start_date_time: ocpiDateTime,
  end_date_time: ocpiDateTime,
  session_id: ci(36).optional(),
  cdr_token: cdrToken,
  auth_method: z.enum(AUTH_METHODS),
  authorization_reference: ci(36).optional(),
  cdr_location: cdrLocation,
  meter_id: str(255).optional(),
  currency,
  tariffs: z.array(tariff).optional(),
  charging_periods: z.array(chargingPeriod).min(1),
  signed_data: signedData.optional(),
  total_cost: cost,
  total_fixed_cost: cost.optional(),
  total_energy: num,
  total_energy_cost: cost.optional(),
  total_time: nonNeg,
  total_time_cost: cost.optional(),
  total_parking_time: nonNeg.optional(),
  total_parking_cost: cost.optional(),
  total_reservation_cost: cost.optional(),
  remark: str(255).optional(),
  invoice_reference_id: ci(39).optional(),
  credit: z.boolean().optional(),
  credit_reference_id: ci(39).optional(),
  home_charging_compensation: z.boolean().optional(),
  last_updated: ocpiDateTime,
});
export type OcpiCdr = z.infer<typeof cdr>;

export const SESSION_STATUSES = ['ACTIVE', 'COMPLETED', 'INVALID', 'PENDING', 'RESERVATION'] as const;
export const session = z.strictObject({
  country_code: countryCode,
  party_id: partyId,
  id: ci(36).min(1),
  start_date_time: ocpiDateTime,
  end_date_time: ocpiDateTime.optional(),
  kwh: nonNeg,
  cdr_token: cdrToken,
  auth_method: z.enum(AUTH_METHODS),
  authorization_reference: ci(36).optional(),
  location_id: ci(36).min(1),
  evse_uid: ci(36).min(1),
  connector_id: ci(36).min(1),
  meter_id: str(255).optional(),
  currency,
  charging_periods: z.array(chargingPeriod).optional(),
  total_cost: cost.optional(),
  status: z.enum(SESSION_STATUSES),
  last_updated: ocpiDateTime,
});
export type OcpiSession = z.infer<typeof session>;

const regularHours = z.strictObject({ weekday: z.number().int().min(1).max(7), period_begin: time, period_end: time });
const exceptionalPeriod = z.strictObject({ period_begin: ocpiDateTime, period_end: ocpiDateTime });
const hours = z.strictObject({
  twentyfourseven: z.boolean(),
  regular_hours: z.array(regularHours).optional(),
  exceptional_openings: z.array(exceptionalPeriod).optional(),
  exceptional_closings: z.array(exceptionalPeriod).optional(),
});
const image = z.strictObject({
  url,
  thumbnail: url.optional(),
  category: z.enum(['CHARGER', 'ENTRANCE', 'LOCATION', 'NETWORK', 'OPERATOR', 'OTHER', 'OWNER']),
  type: ci(4),
  width: z.number().int().min(0).max(99_999).optional(),
  height: z.number().int().min(0).max(99_999).optional(),
});
const businessDetails = z.strictObject({ name: str(100), website: url.optional(), logo: image.optional() });
export const connector = z.strictObject({
  id: ci(36).min(1),
  standard: z.enum(CONNECTOR_TYPES),
  format: z.enum(CONNECTOR_FORMATS),
  power_type: z.enum(POWER_TYPES),
  max_voltage: z.number().int().min(0),
  max_amperage: z.number().int().min(0),
  max_electric_power: z.number().int().min(0).optional(),
  tariff_ids: z.array(ci(36)).optional(),
  terms_and_conditions: url.optional(),
  last_updated: ocpiDateTime,
});
export const EVSE_STATUSES = ['AVAILABLE', 'BLOCKED', 'CHARGING', 'INOPERATIVE', 'OUTOFORDER', 'PLANNED', 'REMOVED', 'RESERVED', 'UNKNOWN'] as const;
export const CAPABILITIES = [
  'CHARGING_PROFILE_CAPABLE', 'CHARGING_PREFERENCES_CAPABLE', 'CHIP_CARD_SUPPORT', 'CONTACTLESS_CARD_SUPPORT', 'CREDIT_CARD_PAYABLE', 'DEBIT_CARD_PAYABLE', 'PED_TERMINAL',
  'REMOTE_START_STOP_CAPABLE', 'RESERVABLE', 'RFID_READER', 'START_SESSION_CONNECTOR_REQUIRED', 'TOKEN_GROUP_CAPABLE', 'UNLOCK_CAPABLE',
] as const;
export const evse = z.strictObject({
  uid: ci(36).min(1),
  evse_id: ci(48).optional(),
  status: z.enum(EVSE_STATUSES),
  status_schedule: z.array(z.strictObject({ period_begin: ocpiDateTime, period_end: ocpiDateTime.optional(), status: z.enum(EVSE_STATUSES) })).optional(),
  capabilities: z.array(z.enum(CAPABILITIES)).optional(),
  connectors: z.array(connector).min(1),
  floor_level: str(4).optional(),
  coordinates: geoLocation.optional(),
  physical_reference: str(16).optional(),
  directions: z.array(displayText).optional(),
  parking_restrictions: z.array(z.enum(['EV_ONLY', 'PLUGGED', 'DISABLED', 'CUSTOMERS', 'MOTORCYCLES'])).optional(),
  images: z.array(image).optional(),
  last_updated: ocpiDateTime,
});
export const FACILITIES = [
  'HOTEL', 'RESTAURANT', 'CAFE', 'MALL', 'SUPERMARKET', 'SPORT', 'RECREATION_AREA', 'NATURE', 'MUSEUM', 'BIKE_SHARING', 'BUS_STOP', 'TAXI_STAND', 'TRAM_STOP', 'METRO_STATION',
  'TRAIN_STATION', 'AIRPORT', 'PARKING_LOT', 'CARPOOL_PARKING', 'FUEL_STATION', 'WIFI',
] as const;
export const location = z.strictObject({
  country_code: countryCode,
  party_id: partyId,
  id: ci(36).min(1),
  publish: z.boolean(),
  publish_allowed_to: z
    .array(z.strictObject({ uid: ci(36).optional(), type: z.enum(TOKEN_TYPES).optional(), visual_number: str(64).optional(), issuer: str(64).optional(), group_id: ci(36).optional() }))
    .optional(),
  name: str(255).optional(),
  address: str(45),
  city: str(45),
  postal_code: str(10).optional(),
  state: str(20).optional(),
  country: country3,
  coordinates: geoLocation,
  related_locations: z.array(z.strictObject({ latitude: geoLocation.shape.latitude, longitude: geoLocation.shape.longitude, name: displayText.optional() })).optional(),
  parking_type: z.enum(['ALONG_MOTORWAY', 'PARKING_GARAGE', 'PARKING_LOT', 'ON_DRIVEWAY', 'ON_STREET', 'UNDERGROUND_GARAGE']).optional(),
  evses: z.array(evse).optional(),
  directions: z.array(displayText).optional(),
  operator: businessDetails.optional(),
  suboperator: businessDetails.optional(),
  owner: businessDetails.optional(),
  facilities: z.array(z.enum(FACILITIES)).optional(),
  time_zone: str(255).min(1),
  opening_times: hours.optional(),
  charging_when_closed: z.boolean().optional(),
  images: z.array(image).optional(),
  energy_mix: energyMix.optional(),
  last_updated: ocpiDateTime,
});
export type OcpiLocation = z.infer<typeof location>;

/** parseOcpi validates `value` against an OCPI schema, naming the first bad field ("elements.2.restrictions.start_time"). */
export function parseOcpi<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = issue.path.map(String).join('.');
  const field = path || '(root)';
  const message = issue.code === 'unrecognized_keys' ? `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}` : issue.message;
  throw new OpenlecError('E_OCPI', `${what} ${field}: ${message}`, { field: issue.code === 'unrecognized_keys' && issue.keys[0] ? [path, issue.keys[0]].filter(Boolean).join('.') : field });
}

export const parseTariff = (v: unknown, what = 'tariff') => parseOcpi(tariff, v, what);
export const parseCdr = (v: unknown, what = 'cdr') => parseOcpi(cdr, v, what);
export const parseSession = (v: unknown, what = 'session') => parseOcpi(session, v, what);
export const parseLocation = (v: unknown, what = 'location') => parseOcpi(location, v, what);

/** ocpiTime writes epoch ms as an OCPI DateTime, whole seconds, "Z". */
export function ocpiTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** ocpiMs reads an OCPI DateTime (UTC, "Z" optional) as epoch ms. */
export function ocpiMs(text: string): number {
  return Date.parse(text.endsWith('Z') ? text : `${text}Z`);
}
