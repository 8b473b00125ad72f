import { z } from 'zod';
import { allocationRun, keySpecSchema } from '../allocation/allocation-run.ts';
import { cdr as OCPI_CDR, location as OCPI_LOCATION, tariff as OCPI_TARIFF } from '../charging/ocpi.ts';
import { flexOrder } from '../flex/order.ts';
import { flexSettle } from '../flex/settle.ts';
import { ASSET_KINDS, OFFER_STATUSES, REQUEST_STATUSES } from '../flex/tables.ts';
import { MECHANISMS } from '../market/clear-book.ts';
import { EVENT, OBJECT_ID, PROGRAM, REPORT, RESOURCE, SUBSCRIPTION, VEN } from './openadr-schemas.ts';
import { LINE_KINDS } from '../settlement/invoice.ts';
import { ROLES } from '../state/registry.ts';

/**
 * The success bodies of the API as zod schemas: each route's `response`, so that
 * /openapi.json says what a client gets and checkResponses holds the handlers to it.
 * Strict objects: a field added to a handler must be added here too, or the tests fail.
 * Amounts are integers in micro-units of the community's currency, energy in Wh.
 */

export const KEY_TEXT = z.string().describe('Ed25519 public key, 43-character base64url');
export const ENTRY = z.number().int().min(0).describe('Index of the log entry that last wrote this');
const INSTANT = z.string().describe('ISO 8601 instant, UTC');
const DAY = z.string().describe('Local day, YYYY-MM-DD');
const MICRO = z.number().int();
const WH = z.number().int();
const ROLE = z.enum(ROLES);
const DIRECTION = z.enum(['import', 'export']);
/** A decimal ratio as text with 4 places ("0.4210"), empty when its denominator is 0. */
const RATIO = z.string().describe('Decimal with 4 places, "" when undefined (nothing to divide by)');

/** A transaction as logged: the signed envelope. */
export const SIGNED_TRANSACTION = z.strictObject({
  v: z.literal(1), type: z.string(), community: z.string(), actor: KEY_TEXT, nonce: z.number().int().min(1), issuedAt: INSTANT,
  body: z.unknown().describe('The body of the transaction type (see POST /v1/transactions)'), sig: z.string().describe('Ed25519, base64url'),
});

export const TRANSACTION_RESULT = z.strictObject({
  entry: ENTRY.describe('Index of the entry in the log'),
  size: z.number().int().min(1).describe('Size of the log after the write'),
  duplicate: z.literal(true).optional().describe('Present on a retry of a logged transaction: nothing was appended'),
});

export const BATCH_RESULT = z.strictObject({
  entries: z.array(ENTRY).describe('Entry of each transaction, in the order sent'),
  size: z.number().int().min(1),
  duplicate: z.literal(true).optional().describe('Present on a retry of a logged set: nothing was appended'),
});

export const CHALLENGE = z.strictObject({
  challenge: z.string(),
  message: z.string().describe('What to sign with the participant key: "openlec-login\\n<origin>\\n<challenge>\\n"'),
  expiresAt: INSTANT,
});

export const TOKEN = z.strictObject({ token: z.string().describe('Bearer token'), roles: z.array(ROLE), expiresAt: INSTANT });

export const COMMUNITY = z.strictObject({
  id: z.string(), name: z.string(), timeZone: z.string().describe('IANA time zone of local days'), intervalMinutes: z.number().int(), currency: z.string(),
  operator: KEY_TEXT, createdAt: INSTANT, entry: ENTRY,
  size: z.number().int().min(0).describe('Entries in the log'),
  origin: z.string().describe('The log\'s origin line (C2SP checkpoint)'),
  verifierKey: z.string().describe('C2SP note verifier key of the operator, to check checkpoints'),
  lastCleared: z.string().nullable().describe('The last interval the market cleared, null before the first'),
  serverTime: INSTANT.describe('The time transactions are admitted by (issuedAt must be near it)'),
});

export const COMMUNITY_EXAMPLE: z.output<typeof COMMUNITY> = {
  id: 'openlec.test/sunny-street', name: 'Sunny Street', timeZone: 'Europe/Paris', intervalMinutes: 30, currency: 'EUR',
  operator: 'Xb3kQ2mJ7vN9pL4rT8wY1zA6cE5fH0gK2jM4nP6qR8s', createdAt: '2026-01-01T00:00:00Z', entry: 0, size: 43, origin: 'openlec.test/sunny-street',
  verifierKey: 'openlec.test/sunny-street+5a1c9e3f+AQm7pY2Xb3kQ2mJ7vN9pL4rT8wY1zA6cE5fH0gK2jM4nP', lastCleared: '2026-06-01T11:30:00Z', serverTime: '2026-06-01T12:00:00.000Z',
};

export const ME = z.strictObject({
  key: KEY_TEXT, roles: z.array(ROLE), nonce: z.number().int().min(0).describe('Highest nonce used; the next transaction needs a higher one'),
  meters: z.array(z.strictObject({ meter: z.string(), direction: DIRECTION, feeder: z.string().nullable() })),
  apiKey: z.string().optional().describe('The API key the request came with, when it came with one'),
});

export const PARTICIPANTS = z.array(z.strictObject({ key: KEY_TEXT, roles: z.array(ROLE), entry: ENTRY }));

export const METER = z.strictObject({
  meter: z.string(), direction: DIRECTION, scheme: z.string().describe('Identifier scheme of the metering point (e.g. PRM, EAN)'), owner: KEY_TEXT,
  feeder: z.string().nullable(), technology: z.string().nullable().describe('Production technology of an export meter'), entry: ENTRY,
});

export const FEEDERS = z.array(z.strictObject({
  id: z.string(), parent: z.string().nullable(), importLimitW: z.number().int().nullable(), exportLimitW: z.number().int().nullable(), entry: ENTRY,
}));

export const LOG = z.strictObject({
  size: z.number().int().min(0),
  entries: z.array(SIGNED_TRANSACTION.extend({ entry: ENTRY.describe('Index of the entry') })),
});

export const RAW_LOG = z.strictObject({
  size: z.number().int().min(0), from: z.number().int().min(0),
  entries: z.array(z.string().describe('The entry\'s exact bytes (canonical JSON) as text')),
});

export const CHECKPOINTS = z.array(z.strictObject({
  size: z.number().int().min(0), note: z.string().describe('C2SP signed note'), cosigners: z.number().int().min(0).describe('Witness cosignatures kept'),
}));

export const COSIGNATURE_RESULT = z.strictObject({ size: z.number().int(), cosigners: z.number().int(), quorum: z.number().int(), final: z.boolean() });

export const FINAL_CHECKPOINT = z.strictObject({
  size: z.number().int(), quorum: z.number().int(), cosigners: z.array(z.string()).describe('Names of the witnesses that cosigned'),
  note: z.string().describe('The signed note with the witnesses\' signature lines'),
});

export const LATEST_CHECKPOINT = z.strictObject({ size: z.number().int(), note: z.string() });

export const CONSISTENCY = z.strictObject({ from: z.number().int(), to: z.number().int(), proof: z.array(z.string()).describe('RFC 9162 hashes, base64') });

export const INCLUSION = z.strictObject({
  entry: ENTRY, transaction: z.string().describe('The entry\'s exact bytes as text'), proof: z.array(z.string()).describe('RFC 9162 audit path, base64'),
  checkpoint: z.string().describe('The signed note of the checkpoint the proof is under'), verifierKey: z.string(),
});

export const COMMUNITY_ENERGY = z.strictObject({
  from: DAY, to: DAY, timeZone: z.string(), intervalMinutes: z.number().int(), currency: z.string(),
  intervals: z.array(z.strictObject({
    interval: INSTANT, drawnWh: WH, fedInWh: WH, localWh: WH.describe('Matched between members by the market'), priceMicroPerKwh: MICRO.nullable(),
    missing: z.number().int().describe('Meter-intervals still without a value'),
  })),
  totals: z.strictObject({ drawnWh: WH, fedInWh: WH, localWh: WH, selfSufficiency: RATIO, selfConsumption: RATIO, missing: z.number().int() }),
  flows: z.array(z.strictObject({ from: z.enum(['members', 'supplier']), to: z.enum(['members', 'grid']), wh: WH })),
});

const MODE = z.enum(['ex-ante', 'ex-post']);
const MECHANISM = z.enum(MECHANISMS);

export const MARKET_DEPTH = z.strictObject({
  interval: INSTANT, mode: MODE, mechanism: MECHANISM, orders: z.number().int(),
  supply: z.array(z.strictObject({ cumulativeWh: WH, limitMicroPerKwh: MICRO })).describe('Asks, ascending in price'),
  demand: z.array(z.strictObject({ cumulativeWh: WH, limitMicroPerKwh: MICRO })).describe('Bids, descending in price'),
});

export const CLEARINGS = z.array(z.strictObject({
  interval: INSTANT, mode: MODE, mechanism: MECHANISM, path: z.string(), orders: z.number().int(), priceMicroPerKwh: MICRO.nullable(), volumeWh: WH,
  feesMicro: MICRO, surplusMicro: MICRO, trades: z.number().int().describe('How many trades (the trades themselves name meters)'), entry: ENTRY,
}));

export const MARKET_CONFIG_ROW = z.strictObject({
  from: INSTANT, mode: MODE, mechanism: MECHANISM, kPpm: z.number().int(), gateClosureMinutes: z.number().int(), feedInMicroPerKwh: MICRO, retailMicroPerKwh: MICRO, entry: ENTRY,
});

export const MARKET_BOOK = z.strictObject({
  interval: INSTANT, config: MARKET_CONFIG_ROW,
  orders: z.array(z.strictObject({ side: z.enum(['buy', 'sell']), quantityWh: WH, limitMicroPerKwh: MICRO, meter: z.string().optional() })),
});

const MEMBER_TOTALS = z.strictObject({
  meter: z.string(), consumedWh: WH, allocatedWh: WH, supplierWh: WH, surplusWh: WH, missingIntervals: z.number().int(),
});

export const ALLOCATIONS = z.array(z.strictObject({
  month: z.string(), key: keySpecSchema, inputHash: z.string(), allocationRoot: z.string().describe('Merkle root of the per-interval records'),
  productionWh: WH, allocatedWh: WH, surplusWh: WH, members: z.array(MEMBER_TOTALS), runs: z.number().int(), entry: ENTRY,
}));

export const MEMBER_ALLOCATIONS = z.array(z.strictObject({
  month: z.string(), key: z.string().describe('The key\'s kind'), productionWh: WH, entry: ENTRY, meters: z.array(MEMBER_TOTALS),
}));

export const CURVES = z.array(z.strictObject({
  meter: z.string(), direction: DIRECTION, date: DAY, values: z.array(WH.nullable()).describe('Wh per interval of the local day, null where missing'), entry: ENTRY,
}));

const CONDITIONS = z.strictObject({ within: z.enum(['local', 'feeder', 'substation']).optional(), renewableOnly: z.boolean().optional(), maxFeeMicroPerKwh: MICRO.optional() }).nullable();

export const ORDER = z.strictObject({
  id: z.string(), owner: KEY_TEXT, side: z.enum(['buy', 'sell']), interval: INSTANT, quantityWh: WH, limitMicroPerKwh: MICRO, meter: z.string(),
  conditions: CONDITIONS, status: z.enum(['open', 'cancelled']), entry: ENTRY,
});

export const STANDING_ORDER = z.strictObject({
  id: z.string(), owner: KEY_TEXT, side: z.enum(['buy', 'sell']), meter: z.string(), fromDate: DAY, toDate: DAY,
  window: z.strictObject({ start: z.string(), end: z.string() }).describe('Local wall-clock window, end exclusive'),
  quantityWh: WH.nullable().describe('Wh per interval; null for all the metered surplus or need'), limitMicroPerKwh: MICRO, conditions: CONDITIONS,
  placedAt: INSTANT, cancelledAt: INSTANT.nullable(), entry: ENTRY,
});

export const MEMBER_ORDERS = z.strictObject({ orders: z.array(ORDER), standing: z.array(STANDING_ORDER) });

export const MEMBER_TRADES = z.array(z.strictObject({
  interval: INSTANT, side: z.enum(['buy', 'sell']), wh: WH, priceMicroPerKwh: MICRO, feeMicroPerKwh: MICRO, amountMicro: MICRO.describe('Paid (buy) or received (sell)'), entry: ENTRY,
  record: z.string().describe('The trade record as canonical JSON: a leaf of the clearing\'s trade tree'), index: z.number().int().min(0),
  proof: z.array(z.string()).describe('Audit path of the record in the trade tree, base64'),
}));

export const INVOICE = z.strictObject({
  month: z.string(), participant: KEY_TEXT, meters: z.array(z.string()),
  lines: z.array(z.strictObject({ kind: z.enum(LINE_KINDS), wh: WH, priceMicroPerKwh: MICRO.nullable(), amountMicro: MICRO.min(0), credit: z.boolean() })),
  chargesMicro: MICRO, creditsMicro: MICRO, totalMicro: MICRO.describe('Charges minus credits'), withoutCommunityMicro: MICRO.describe('The same energy with the supplier alone'),
  savingsMicro: MICRO, missingIntervals: z.number().int(),
});

const PERSONAL = z.strictObject({
  name: z.string().optional(), address: z.string().optional(), email: z.string().optional(), contract: z.string().optional(), updatedAt: INSTANT,
}).describe('Kept off the log, encrypted with the member\'s own data key');

export const PERSONAL_STORED = z.strictObject({ stored: z.literal(true) });
export const PERSONAL_DATA = z.strictObject({ data: PERSONAL.nullable(), erasedAt: INSTANT.nullable() });
export const PERSONAL_ERASED = z.strictObject({ erased: z.boolean(), erasedAt: INSTANT.nullable() });

export const MEMBER_EXPORT = z.strictObject({
  key: KEY_TEXT, exportedAt: INSTANT,
  participant: z.strictObject({ key: KEY_TEXT, roles: z.array(ROLE), nonce: z.number().int(), entry: ENTRY }),
  personal: PERSONAL.nullable(), meters: z.array(METER), curves: CURVES, orders: z.array(ORDER), trades: MEMBER_TRADES,
});

export const ALLOCATION_PLAN = z.strictObject({
  body: allocationRun.body.describe('The allocation.run body to sign, as its apply will recompute it'),
  recorded: z.strictObject({ entry: ENTRY, runs: z.number().int(), key: keySpecSchema }).nullable().describe('The month\'s recorded allocation, if any'),
});

const TARIFF = z.strictObject({ from: INSTANT, feesMicroPerKwh: z.record(z.string(), MICRO).describe('Network fee per path class'), entry: ENTRY });

export const MARKET_CONFIG = z.strictObject({
  currency: z.string(), configs: z.array(MARKET_CONFIG_ROW).describe('Every market.configure, oldest first'), tariffs: z.array(TARIFF),
  mechanisms: z.array(MECHANISM).describe('The clearing mechanisms openlec supports'), lastCleared: INSTANT.nullable(),
});

export const READINGS = z.array(z.strictObject({
  meter: z.string(), direction: DIRECTION, date: DAY, values: z.array(WH.nullable()), corrections: z.number().int().min(0).describe('Corrections recorded for this day'), entry: ENTRY,
}));

const LIMITS = { importLimitW: z.number().int().nullable(), exportLimitW: z.number().int().nullable(), entry: ENTRY };
const SIGNED_BY = { signedBy: KEY_TEXT.describe('The key that signed the entry'), signedAt: INSTANT.describe('Its issuedAt') };
const NETWORK_TARIFF = TARIFF.extend({ ...SIGNED_BY, status: z.enum(['in force', 'to come', 'superseded']) });

export const NETWORK = z.strictObject({
  at: INSTANT, currency: z.string().nullable(), lastCleared: INSTANT.nullable(),
  feeders: z.array(z.strictObject({
    id: z.string(), parent: z.string().nullable(), depth: z.number().int().min(0), kind: z.enum(['substation', 'feeder', 'connection point']), children: z.array(z.string()),
    standing: z.strictObject(LIMITS).describe('The limits of feeder.define'), applies: z.strictObject(LIMITS).describe('The limits that apply at `at`'),
    limits: z.array(z.strictObject({ from: INSTANT, to: INSTANT, ...LIMITS, ...SIGNED_BY, status: z.enum(['to come', 'in force', 'overridden']) })).describe('feeder.limit overrides in force or to come'),
    ended: z.number().int().min(0).describe('Overrides that are over'),
  })).describe('Depth-first'),
  tariffs: z.strictObject({ inForce: NETWORK_TARIFF.nullable(), history: z.array(NETWORK_TARIFF) }),
});

export const DASHBOARD_COMMUNITY = z.strictObject({
  from: DAY, to: DAY, currency: z.string(),
  savingsMicro: MICRO.describe('What members saved against the supplier alone on their trades'), tradedWh: WH, trades: z.number().int(),
  storage: z.strictObject({ assets: z.number().int(), capacityWh: WH, powerW: z.number() }),
});

export const DASHBOARD_KEYS = z.array(z.strictObject({ key: KEY_TEXT, roles: z.array(z.enum(['operator', 'dso'])) }));

const LIFE_TOTALS = MEMBER_TOTALS.extend({
  missingIntervals: z.number().int().describe('Counted inside the meter\'s life in the community'), recordedMissingIntervals: z.number().int().describe('As recorded by allocation.run'),
});

export const DASHBOARD_ALLOCATIONS = z.array(ALLOCATIONS.element.extend({ members: z.array(LIFE_TOTALS) }));

export const DASHBOARD_MEMBER_ALLOCATIONS = z.array(z.strictObject({
  month: z.string(), key: z.string(), productionWh: WH, allocatedWh: WH, surplusWh: WH, entry: ENTRY, meters: z.array(LIFE_TOTALS),
}));

export const MEMBER_SUMMARY = z.strictObject({
  by: z.enum(['day', 'month', 'year']), currency: z.string(),
  buckets: z.array(z.strictObject({
    period: z.string().describe('Local day (YYYY-MM-DD), month (YYYY-MM) or year (YYYY)'), drawnWh: WH, fedWh: WH,
    neighboursWh: WH.describe('Drawn and bought from neighbours'), sunWh: WH.describe('Drawn from the community\'s allocated production beyond the purchases'),
    supplierWh: WH.describe('The rest of the energy drawn'), soldWh: WH, missingIntervals: z.number().int(),
    billMicro: MICRO.nullable().describe('The invoice total (month and year; null by day or without market rules)'), savingMicro: MICRO.nullable(),
  })).describe('Oldest first'),
});

export const INVOICE_RECORDS = z.strictObject({
  month: z.string(), community: z.strictObject({ entry: ENTRY }),
  meters: z.array(z.strictObject({ meter: z.string(), direction: DIRECTION, entry: ENTRY })),
  marketConfigs: z.array(z.strictObject({ from: INSTANT, entry: ENTRY })).describe('The rules in force at the month\'s first interval and those starting within it'),
});

export const CERTIFICATE_DEVICES = z.array(z.strictObject({
  device: z.string(), meter: z.string(), owner: KEY_TEXT, fuel: z.string().describe('EECS fuel code'), technology: z.string().describe('EECS technology code'),
  capacityW: z.number().int(), commissioned: z.string(), zone: z.string(), gridArea: z.string(), support: z.boolean().describe('Public investment or production support received'), entry: ENTRY,
}));

export const CERTIFICATE_MONTHS = z.array(z.strictObject({
  month: z.string(), issuedWh: WH, active: WH, cancelled: WH, expired: WH, withdrawn: WH, transferredWh: WH,
  settledEntry: ENTRY.nullable().describe('The certificates.settle entry of the month, null while open'),
}));

export const CERTIFICATE_BUNDLES = z.array(z.strictObject({
  device: z.string(), technology: z.string(), interval: INSTANT, from: z.number().int().describe('First certificate ID (1 Wh each)'), to: z.number().int().describe('Last certificate ID, inclusive'),
  quantityWh: WH, holder: KEY_TEXT, status: z.enum(['active', 'cancelled', 'expired', 'withdrawn']), reason: z.string(),
  claim: z.strictObject({ meter: z.string(), interval: INSTANT, beneficiary: z.string() }).nullable().describe('What a cancellation claimed'),
  hash: z.string().describe('Lineage hash'), entries: z.array(ENTRY).describe('Entries that issued and moved these certificates, oldest first'), expires: z.string(),
}));

export const MATCHING = z.strictObject({
  month: z.string(), consumedWh: WH, hourlyMatchedWh: WH, monthlyMatchedWh: WH,
  hourlyPpm: z.number().int().min(0).max(1_000_000).describe('24/7 matching score'), monthlyPpm: z.number().int().min(0).max(1_000_000),
});

export const CERTIFICATE_ORIGIN = z.strictObject({
  month: z.string(), holder: KEY_TEXT,
  hours: z.array(z.strictObject({ hour: z.string(), consumedWh: WH, matchedWh: WH, byTechnology: z.record(z.string(), WH) })).describe('Per local clock hour'),
  matching: MATCHING,
});

/** One device-month of the EECS export (certificates/reports.ts eecsExport): whole-MWh guarantees of origin, the remainder carried. */
const GUARANTEE_OF_ORIGIN = z.strictObject({
  device: z.string(), month: z.string(), energySource: z.string().describe('EECS fuel code'), technology: z.string().describe('EECS technology code'), capacityW: z.number().int(),
  commissioned: z.string(), zone: z.string(), gridArea: z.string(), supportReceived: z.boolean(), productionStart: DAY, productionEnd: DAY,
  producedWh: WH.describe('Certificates issued in the month and not withdrawn'), carriedInWh: WH, gos: z.number().int().min(0).describe('Guarantees of origin of 1 MWh'), carriedOutWh: WH,
  issuingBody: z.string().describe('The community id'),
});

/** A bundle shaped as the EnergyTag GC Registry API's GranularCertificateBundle (certificates/reports.ts energyTagBundles). */
const ENERGYTAG_BUNDLE = z.strictObject({
  issuance_id: z.string(), certificate_bundle_id_range_start: z.number().int(), certificate_bundle_id_range_end: z.number().int(), bundle_quantity: WH, face_value: z.literal(1),
  energy_carrier: z.literal('electricity'), energy_source: z.string(), eecs_fuel_code: z.string(), eecs_technology_code: z.string(), device_id: z.string(), device_capacity_w: z.number().int(),
  device_commissioning_date: z.string(), production_starting_interval: INSTANT, production_ending_interval: INSTANT, expiry_datestamp: z.string(), is_storage: z.literal(false),
  issuance_post_energy_carrier_conversion: z.literal(false), certificate_bundle_status: z.enum(['Active', 'Cancelled', 'Expired', 'Withdrawn']), account_id: KEY_TEXT,
  beneficiary: z.string().nullable(), connected_grid_identification: z.string(), issue_market_zone: z.string(), issuing_body: z.string(), support_received: z.boolean(),
  hash: z.string().describe('Lineage hash'), log_entries: z.array(ENTRY),
});

export const CERTIFICATE_EXPORT = z.union([
  z.array(GUARANTEE_OF_ORIGIN).describe('format=eecs-json (the default)'),
  z.array(ENERGYTAG_BUNDLE).describe('format=energytag'),
]).describe('format=eecs-csv answers the EECS rows as text/csv (a header row, "," separated) instead');

export const CERTIFICATE_EXPORT_EXAMPLE: z.output<typeof CERTIFICATE_EXPORT> = [{
  device: 'PV-ALICE', month: '2026-06', energySource: 'F01040100', technology: 'T010100', capacityW: 6_000, commissioned: '2024-05-01', zone: '10YFR-RTE------C', gridArea: 'ENEDIS',
  supportReceived: false, productionStart: '2026-06-01', productionEnd: '2026-06-30', producedWh: 1_180_400, carriedInWh: 612_300, gos: 1, carriedOutWh: 792_700, issuingBody: 'openlec.test/sunny-street',
}];

export const FLEX_ASSETS = z.array(z.strictObject({
  asset: z.string(), meter: z.string().describe('The metering point the asset sits behind'), owner: KEY_TEXT, kind: z.enum(ASSET_KINDS), powerW: z.number().int(),
  capacityWh: WH.nullable().describe('Usable energy of storage; null otherwise'), aggregator: KEY_TEXT.nullable().describe('The aggregator the owner delegated the asset to'), entry: ENTRY,
}));

export const FLEX_ORDER_PLAN = z.strictObject({
  issuedAt: INSTANT.describe('Sign the transaction with this issuedAt'), body: flexOrder.body.describe('The flex.order body, by merit order'),
});

export const CHARGING_PARTIES = z.array(z.strictObject({
  party: z.string().describe('"FR*OLC": country code * party id'), role: z.enum(['CPO', 'EMSP']), countryCode: z.string(), partyId: z.string(),
  name: z.string().describe('Trading name'), key: KEY_TEXT.nullable().describe('The key that signs for the party; null for an eMSP that only receives'), entry: ENTRY,
}));

const CHARGING_LINE = z.strictObject({
  cpo: z.string(), emsp: z.string(), currency: z.string(), cdrs: z.number().int(), credits: z.number().int(), energyWh: WH,
  grossExclMicro: MICRO, creditExclMicro: MICRO, netExclMicro: MICRO, netInclMicro: MICRO.nullable(),
}).describe('What an eMSP owes a CPO in a currency');

export const CHARGING_SETTLEMENT = z.strictObject({
  month: z.string(), settled: z.boolean(), entry: ENTRY.nullable().describe('The charging.settle entry, null while open'), lines: z.array(CHARGING_LINE),
});

export const CHARGING_SETTLE_PLAN = z.strictObject({
  opensAt: INSTANT.describe('The month\'s end: sign after it'), body: z.strictObject({ month: z.string(), lines: z.array(CHARGING_LINE) }).describe('The charging.settle body'),
});

const OCPI_COSTS = z.strictObject({ excl: MICRO, incl: MICRO.nullable().describe('null when no component billed has a VAT rate') });
const PRICED_DIMENSION = OCPI_COSTS.extend({
  quantity: z.number().int().describe('Metered: Wh for energy, seconds for times, 1 for a flat fee that applies'), billed: z.number().int().describe('After step_size'),
});
const TIME_STEP = z.enum(['none', 'time', 'parking', 'combined']).describe('The step rule used for TIME and PARKING_TIME');
const PRICED = {
  fixed: PRICED_DIMENSION, energy: PRICED_DIMENSION, time: PRICED_DIMENSION, parking: PRICED_DIMENSION, reservation: PRICED_DIMENSION,
  total: OCPI_COSTS.describe('After min_price and max_price'), timeStep: TIME_STEP, importWh: WH, exportWh: WH, seconds: z.number().int().min(0),
};

export const CHARGING_LOCATIONS = z.array(z.strictObject({
  cpo: z.string(), id: z.string(), timeZone: z.string().describe('IANA time zone tariffs are read in'),
  meter: z.string().nullable().describe('The community import meter the chargers sit behind'), location: OCPI_LOCATION.describe('OCPI 2.2.1 Location'), entry: ENTRY,
}));

export const CHARGING_TARIFFS = z.array(z.strictObject({
  cpo: z.string(), id: z.string(), version: z.string().describe('The tariff\'s last_updated'), recordedAt: INSTANT.describe('In force from then until the next version'),
  tariff: OCPI_TARIFF.describe('OCPI 2.2.1 Tariff'), entry: ENTRY,
}));

/** A CDR as recorded (charging_cdrs), without its OCPI document. */
const CDR_SUMMARY = z.strictObject({
  cpo: z.string(), id: z.string(), emsp: z.string().describe('The eMSP of the driver\'s token: who owes the CPO'), token: z.string().describe('The token\'s pseudonym (keyed hash)'),
  location: z.string(), connector: z.string().describe('cpo, location, EVSE and connector, joined by U+001F'), month: z.string().describe('Settlement month (local month of the end)'),
  start: z.string(), end: z.string(), currency: z.string(), importWh: WH.describe('Negative for a credit CDR'), exportWh: WH,
  exclMicro: MICRO.describe('total_cost; negative for a credit CDR'), inclMicro: MICRO.nullable(), credit: z.literal([0, 1]).describe('1 for a credit CDR'),
  creditOf: z.string().nullable(), creditedBy: z.string().nullable().describe('The credit CDR that reversed this one'),
  costs: z.strictObject(PRICED).describe('The integer pricing of the session, excluding and including VAT'), entry: ENTRY,
  localWh: WH.nullable().describe('Covered by certificates cancelled for the driver; null before any run covered it'),
});

export const CHARGING_CDRS = z.array(CDR_SUMMARY);
export const CHARGING_CDR = CDR_SUMMARY.extend({ cdr: OCPI_CDR.describe('The OCPI 2.2.1 CDR') });

export const CHARGING_STATEMENT = z.strictObject({
  party: z.string(), roles: z.array(z.enum(['CPO', 'EMSP'])), name: z.string(), month: z.string(), settled: z.boolean(), entry: ENTRY.nullable().describe('The charging.settle entry, null while open'),
  lines: z.array(CHARGING_LINE), cdrs: CHARGING_CDRS.describe('The CDRs behind the lines'),
}).describe('format=csv answers the same as text/csv instead (";" separated, a header row, one row per line then per CDR)');

export const CHARGING_STATEMENT_EXAMPLE: z.output<typeof CHARGING_STATEMENT> = {
  party: 'DE*EMS', roles: ['EMSP'], name: 'Emsp GmbH', month: '2026-03', settled: false, entry: null,
  lines: [{ cpo: 'FR*OLC', emsp: 'DE*EMS', currency: 'EUR', cdrs: 1, credits: 0, energyWh: 20_000, grossExclMicro: 5_600_000, creditExclMicro: 0, netExclMicro: 5_600_000, netInclMicro: 6_720_000 }],
  cdrs: [],
};

const PRICE_TOTALS = OCPI_CDR.pick({
  total_cost: true, total_fixed_cost: true, total_energy: true, total_energy_cost: true, total_time: true, total_time_cost: true, total_parking_time: true, total_parking_cost: true,
  total_reservation_cost: true,
});

export const CHARGING_PRICE = z.strictObject({
  tariff: z.string().describe('The tariff\'s id'), currency: z.string(), timeZone: z.string(), timeZoneFrom: z.enum(['request', 'location', 'community']),
  totals: PRICE_TOTALS.describe('OCPI CDR totals: costs, energy in kWh, times in hours'),
  costs: z.strictObject({ ...PRICED, subtotal: OCPI_COSTS.describe('Before min_price and max_price'), bounded: z.strictObject({ excl: z.enum(['min', 'max']).nullable(), incl: z.enum(['min', 'max']).nullable() }).describe('Which bound changed the total'), segments: z.number().int().min(0) }).describe('Integer micro-units per dimension'),
  cdr: OCPI_CDR.optional().describe('For a CDR: the CDR with the totals recomputed'),
  problem: z.strictObject({
    field: z.string(), recorded: z.union([OCPI_CDR.shape.total_cost, z.number(), z.null()]), recomputed: z.union([OCPI_CDR.shape.total_cost, z.number(), z.null()]),
  }).nullable().optional().describe('For a CDR, or a session stating its total_cost: the first total that differs from what the tariff gives (charging.cdr would refuse it with E_CDR_PRICE), or null'),
});

/** An OpenADR object as the VTN keeps it: the fields sent, and those it provisions. */
const provisioned = <S extends z.ZodObject, T extends string>(schema: S, type: T) => schema.safeExtend({
  id: OBJECT_ID, createdDateTime: z.string().describe('ISO 8601'), modificationDateTime: z.string().describe('ISO 8601'), objectType: z.literal(type),
});
export const ADR_PROGRAM = provisioned(PROGRAM, 'PROGRAM');
export const ADR_REPORT = provisioned(REPORT, 'REPORT');
export const ADR_SUBSCRIPTION = provisioned(SUBSCRIPTION, 'SUBSCRIPTION');
export const ADR_VEN = provisioned(VEN, 'VEN');
export const ADR_RESOURCE = provisioned(RESOURCE, 'RESOURCE');
export const ADR_EVENT = provisioned(EVENT, 'EVENT');

const FLEX_LINE = z.strictObject({
  order: z.string(), offer: z.string(), provider: KEY_TEXT, feeder: z.string(), priceMicroPerKwh: MICRO, penaltyMicroPerKwh: MICRO, deliveredWh: WH, deficiencyWh: WH,
  revenueMicro: MICRO.describe('price × delivered, paid by the DSO'), penaltyMicro: MICRO.describe('penalty × deficiency, owed by the provider'),
  reliefMicro: MICRO.describe('Network-fee refund on what a battery delivered'), netMicro: MICRO.describe('revenue − penalty + relief'),
  isps: z.array(z.strictObject({ start: INSTANT, baselineWh: WH, orderedWh: WH, actualWh: WH, deliveredWh: WH, deficiencyWh: WH })),
}).describe('The settlement of one ordered offer (UFTP FlexSettlement)');

export const FLEX_SETTLEMENT = z.strictObject({
  month: z.string(), lines: z.array(FLEX_LINE), totalMicro: MICRO, linesRoot: z.string().describe('The root flex.settle carries, over the canonical JSON of each line'), entry: ENTRY,
});

export const FLEX_SETTLE_PLAN = z.strictObject({ body: flexSettle.body.describe('The flex.settle body to sign'), lines: z.array(FLEX_LINE).describe('The lines it commits to') });

export const FLEX_EARNINGS = z.strictObject({
  month: z.string(), provider: KEY_TEXT, settled: z.boolean(), deliveredWh: WH, deficiencyWh: WH, revenueMicro: MICRO, penaltyMicro: MICRO, reliefMicro: MICRO, netMicro: MICRO,
  lines: z.array(FLEX_LINE), orderedWh: WH.describe('Ordered energy not settled yet'),
});

const BASELINE = z.discriminatedUnion('method', [
  z.strictObject({ method: z.literal('nomination'), wh: z.array(WH) }),
  z.strictObject({ method: z.literal('mbma') }),
  z.strictObject({ method: z.literal('x-of-y'), x: z.number().int(), y: z.number().int(), pick: z.enum(['high', 'mid']), adjustIntervals: z.number().int() }),
  z.strictObject({ method: z.literal('rolling'), days: z.number().int() }),
]);

export const FLEX_OFFERS = z.array(z.strictObject({
  offer: z.string(), provider: KEY_TEXT, request: z.string().nullable().describe('null for an unsolicited offer'), feeder: z.string(), start: INSTANT, assets: z.array(z.string()),
  powerW: z.array(z.number().int()).describe('Per ISP (UFTP sign: negative = less consumption)'), reboundW: z.array(z.number().int()), priceMicroPerKwh: MICRO,
  minActivationPct: z.number().int(), baseline: BASELINE, validUntil: INSTANT, status: z.enum(OFFER_STATUSES), entry: ENTRY,
}));

export const FLEX_REQUESTS = z.array(z.strictObject({
  request: z.string(), dso: KEY_TEXT, feeder: z.string().describe('The congestion point'), direction: z.enum(['reduce-import', 'reduce-export']),
  start: INSTANT.describe('UTC start of the first ISP'), isps: z.array(z.strictObject({ minW: z.number(), maxW: z.number() })).describe('One per community interval (UFTP sign: positive = more consumption)'),
  maxPriceMicroPerKwh: MICRO, penaltyMicroPerKwh: MICRO, expires: INSTANT.describe('Gate for offers'),
  forecast: z.array(z.strictObject({ feeder: z.string(), W: z.array(z.number()) })).describe('The DSO\'s expected net power of the feeders it checks'),
  status: z.enum(REQUEST_STATUSES), order: z.string().nullable(), entry: ENTRY,
}));

const FLEX_ORDER = z.strictObject({
  order: z.string(), request: z.string(), feeder: z.string(), start: INSTANT,
  ordered: z.array(z.strictObject({
    offer: z.string(), provider: KEY_TEXT, factorPct: z.number().int().min(0).max(100).describe('Activation factor'), priceMicroPerKwh: MICRO,
    powerW: z.array(z.number().int()).describe('Ordered power per ISP (offer power × factor, toward zero)'), reboundW: z.array(z.number().int()),
  })),
  merit: z.array(z.strictObject({
    offer: z.string(), priceMicroPerKwh: MICRO, decision: z.enum(['selected', 'above-max-price', 'covered', 'too-large', 'violation']), factorPct: z.number().int().min(0).max(100),
    feeder: z.string().nullable().describe('For a violation: the feeder whose limit would break'), interval: INSTANT.nullable().describe('For a violation: where'),
  })).describe('Every candidate offer in merit order, with why it was or was not ordered'),
  costMicro: MICRO.describe('The most the order can cost: pay-as-bid price × ordered energy'), entry: ENTRY,
}).describe('UFTP FlexOrder');

export const FLEX_REQUEST = z.strictObject({
  request: FLEX_REQUESTS.element, order: FLEX_ORDER.nullable().describe('Its ordered offers and merit order limited to the caller\'s own offers, but for staff'),
  offers: FLEX_OFFERS.describe('Staff see all, a provider its own'),
  intervals: z.array(z.strictObject({
    start: INSTANT, loadW: z.number().int().nullable().describe('Net metered power of the feeder and below it, null until every reading is in'), forecastW: z.number().nullable(),
    importLimitW: z.number().int().nullable(), exportLimitW: z.number().int().nullable(), requestedMinW: z.number(), requestedMaxW: z.number(), orderedW: z.number().int(),
    deliveredW: z.number().int().nullable().describe('From the month\'s settlement, null before it'),
  })).describe('Per ISP'),
  settlement: z.array(FLEX_LINE).describe('Once the month is settled: staff see all lines, a provider its own'),
  costMicro: MICRO.nullable().describe('Net cost of the settled lines: staff only, null for others'),
});

export const MY_CHARGING = z.strictObject({
  member: KEY_TEXT, month: z.string().nullable(),
  sessions: z.array(z.strictObject({
    cpo: z.string(), id: z.string().describe('The CDR id'), location: z.string(), month: z.string().describe('Settlement month (local month of the end)'), start: INSTANT, end: INSTANT,
    currency: z.string(), energyWh: WH, exportWh: WH, exclMicro: MICRO.describe('Negative for a credit CDR'), inclMicro: MICRO.nullable(), credit: z.boolean(),
    creditOf: z.string().nullable(), creditedBy: z.string().nullable().describe('The credit CDR that reversed this one'),
    localWh: WH.nullable().describe('Covered by certificates cancelled for the driver; null before any run covered it'),
    costs: z.strictObject({ fixedMicro: MICRO, energyMicro: MICRO, timeMicro: MICRO, parkingMicro: MICRO, reservationMicro: MICRO }).describe('Excluding VAT'),
  })),
  totals: z.array(z.strictObject({ currency: z.string(), sessions: z.number().int(), energyWh: WH, exclMicro: MICRO, inclMicro: MICRO, localWh: WH.nullable() })).describe('Per currency'),
});
