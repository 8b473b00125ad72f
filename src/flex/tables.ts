import type { State, TableSpec } from '../state/tables.ts';

/** Kinds of flexible asset behind a member's meter. */
export const ASSET_KINDS = ['battery', 'ev-charger', 'ev-v2g', 'heat-pump', 'water-heater', 'pv-curtailment'] as const;
export type AssetKind = (typeof ASSET_KINDS)[number];

/**
 * Storage: a stationary battery, or an EV on a bidirectional (V2G, ISO 15118-20 BPT)
 * charger whose owner lets it discharge `capacityWh`. Storage declares its usable energy,
 * an offer of storage alone stays within it, and the energy it delivers to an order is
 * what the double-charging rule refunds.
 */
export const STORAGE_KINDS: readonly AssetKind[] = ['battery', 'ev-v2g'];
export const isStorage = (kind: AssetKind) => STORAGE_KINDS.includes(kind);

/** A flexible asset (asset.register): behind one metering point, owned by a member, optionally delegated to an aggregator. */
export const ASSETS_TABLE: TableSpec = {
  name: 'flex_assets',
  columns: { asset: 'text', meter: 'text', owner: 'text', kind: 'text', powerW: 'integer', capacityWh: 'integer', aggregator: 'text', entry: 'integer' },
  primaryKey: ['asset'],
  indexes: [['meter'], ['owner'], ['aggregator']],
};

export interface AssetRow {
  [column: string]: string | number | null;
  asset: string;
  /** The metering point (PRM, EAN...) the asset sits behind: its import and/or export curves measure it. */
  meter: string;
  owner: string;
  kind: AssetKind;
  /** Rated power in W (charge and discharge for a battery). */
  powerW: number;
  /** Usable energy in Wh, for storage (a battery, or the energy a V2G EV may discharge); null otherwise. */
  capacityWh: number | null;
  /** The aggregator the owner delegated the asset to, who may offer it; null when the owner offers it. */
  aggregator: string | null;
  entry: number;
}

export const DIRECTIONS = ['reduce-import', 'reduce-export'] as const;
export type FlexDirection = (typeof DIRECTIONS)[number];

/** One ISP of a request: the flexibility wanted lies between minW and maxW (UFTP sign: positive = more consumption). */
export interface RequestIsp {
  [field: string]: number;
  minW: number;
  maxW: number;
}

/** The DSO's expected net power (W, positive = consumption) of a feeder over the request's window, interval by interval. */
export interface FeederForecast {
  [field: string]: string | number[];
  feeder: string;
  W: number[];
}

/**
 * A flexibility request (flex.request), UFTP FlexRequest: congestion point, direction,
 * consecutive ISPs from `start` (one community interval each), prices, the gate for offers
 * and the DSO's forecast of the feeders its acceptance check looks at (window = the
 * forecasts' length, at least the ISPs').
 */
export const REQUESTS_TABLE: TableSpec = {
  name: 'flex_requests',
  columns: {
    request: 'text', dso: 'text', feeder: 'text', direction: 'text', start: 'text', isps: 'json', maxPriceMicroPerKwh: 'integer', penaltyMicroPerKwh: 'integer',
    expires: 'text', forecast: 'json', status: 'text', order: 'text', entry: 'integer',
  },
  primaryKey: ['request'],
  indexes: [['feeder']],
};

export const REQUEST_STATUSES = ['open', 'ordered', 'unfilled', 'revoked'] as const;

export interface RequestRow {
  [column: string]: string | number | RequestIsp[] | FeederForecast[] | null;
  request: string;
  dso: string;
  feeder: string;
  direction: FlexDirection;
  /** UTC start of the first ISP (aligned to the community interval). */
  start: string;
  isps: RequestIsp[];
  maxPriceMicroPerKwh: number;
  /** The one-sided penalty per kWh of deficiency (USEF), the request's contract term. */
  penaltyMicroPerKwh: number;
  /** Gate for offers (UFTP ExpirationDateTime); orders come after it. */
  expires: string;
  forecast: FeederForecast[];
  status: (typeof REQUEST_STATUSES)[number];
  /** The order that answered the request, once ordered. */
  order: string | null;
  entry: number;
}

export const BASELINE_METHODS = ['nomination', 'mbma', 'x-of-y', 'rolling'] as const;

/** How an offer's delivery is measured: the counterfactual load of its meters without activation. */
export type BaselineSpec =
  /** A schedule declared in the offer, Wh per ISP (net: import − export). */
  | { method: 'nomination'; wh: number[] }
  /** Meter before / meter after: every ISP holds the last interval before the first ISP. */
  | { method: 'mbma' }
  /** The X highest (or middle) of the last Y eligible days of the same day type, per interval, optional additive adjustment from the `adjustIntervals` before the event. */
  | { method: 'x-of-y'; x: number; y: number; pick: 'high' | 'mid'; adjustIntervals: number }
  /** The mean of the last `days` eligible days of the same day type. */
  | { method: 'rolling'; days: number };

/** A flexibility offer (flex.offer), UFTP FlexOffer with one option. */
export const OFFERS_TABLE: TableSpec = {
  name: 'flex_offers',
  columns: {
    offer: 'text', provider: 'text', request: 'text', feeder: 'text', start: 'text', assets: 'json', powerW: 'json', reboundW: 'json', priceMicroPerKwh: 'integer',
    minActivationPct: 'integer', baseline: 'json', validUntil: 'text', status: 'text', entry: 'integer',
  },
  primaryKey: ['offer'],
  indexes: [['request'], ['feeder']],
};

export const OFFER_STATUSES = ['open', 'ordered', 'not-selected', 'revoked'] as const;

export interface OfferRow {
  [column: string]: string | number | string[] | number[] | BaselineSpec | null;
  offer: string;
  /** The member or aggregator who offers and is paid. */
  provider: string;
  /** The request it answers; null for an unsolicited offer. */
  request: string | null;
  /** The congestion point the offer's assets relieve (the request's feeder or one under it). */
  feeder: string;
  start: string;
  assets: string[];
  /** Flexibility per ISP in W (UFTP sign: negative = less consumption). */
  powerW: number[];
  /** The opposite-signed power the activation moves after the last ISP (an EV charging later), W per interval; empty when none. */
  reboundW: number[];
  priceMicroPerKwh: number;
  /** Smallest activation factor the provider accepts, in percent (UFTP MinActivationFactor 0.01..1). */
  minActivationPct: number;
  baseline: BaselineSpec;
  validUntil: string;
  status: (typeof OFFER_STATUSES)[number];
  entry: number;
}

/**
 * Which offers each metering point is in, with their span: delivery is measured at the
 * meter, so a meter is in at most one live offer per interval (else one reduction would
 * be paid twice).
 */
export const METER_OFFERS_TABLE: TableSpec = {
  name: 'flex_meter_offers',
  columns: { meter: 'text', offer: 'text', from: 'text', to: 'text', entry: 'integer' },
  primaryKey: ['meter', 'offer'],
  indexes: [['meter']],
};

export interface MeterOfferRow {
  [column: string]: string | number;
  meter: string;
  offer: string;
  /** UTC start of the offer's first ISP and end of its last (rebound included). */
  from: string;
  to: string;
  entry: number;
}

/** Why an offer was or was not ordered, in merit order (recorded in the order and recomputed). */
export interface MeritLine {
  [field: string]: string | number | null;
  offer: string;
  priceMicroPerKwh: number;
  /** selected | above-max-price | covered | too-large | violation | wrong-direction */
  decision: string;
  /** Activation factor in percent when selected, else 0. */
  factorPct: number;
  /** For a refusal by the acceptance check: the feeder and interval where the limit would break. */
  feeder: string | null;
  interval: string | null;
}

/** One ordered offer: the ordered power per ISP (offer power × factor, toward zero) and its rebound. */
export interface OrderedOffer {
  [field: string]: string | number | number[];
  offer: string;
  provider: string;
  factorPct: number;
  priceMicroPerKwh: number;
  powerW: number[];
  reboundW: number[];
}

/** A flexibility order (flex.order): what the DSO bought for a request, and why. */
export const ORDERS_TABLE: TableSpec = {
  name: 'flex_orders',
  columns: { order: 'text', request: 'text', feeder: 'text', start: 'text', ordered: 'json', merit: 'json', costMicro: 'integer', entry: 'integer' },
  primaryKey: ['order'],
  indexes: [['request']],
};

export interface OrderRow {
  [column: string]: string | number | OrderedOffer[] | MeritLine[];
  order: string;
  request: string;
  feeder: string;
  start: string;
  ordered: OrderedOffer[];
  merit: MeritLine[];
  /** The most the order can cost: pay-as-bid price × ordered energy, micro-units. */
  costMicro: number;
  entry: number;
}

/** One ISP of a settled order line (UFTP FlexSettlement ISP, in Wh of the interval). */
export interface SettledIsp {
  [field: string]: string | number;
  start: string;
  baselineWh: number;
  orderedWh: number;
  actualWh: number;
  deliveredWh: number;
  deficiencyWh: number;
}

/** The settlement of one ordered offer. */
export interface SettlementLine {
  [field: string]: string | number | SettledIsp[];
  order: string;
  offer: string;
  provider: string;
  feeder: string;
  priceMicroPerKwh: number;
  penaltyMicroPerKwh: number;
  deliveredWh: number;
  deficiencyWh: number;
  /** price × delivered, micro-units, paid by the DSO. */
  revenueMicro: number;
  /** penalty × deficiency, micro-units, owed by the provider. */
  penaltyMicro: number;
  /** The network-fee refund on the Wh a battery delivered (double-charging rule), paid by the DSO. */
  reliefMicro: number;
  /** revenue − penalty + relief: what the DSO pays the provider (negative: the provider pays). */
  netMicro: number;
  isps: SettledIsp[];
}

/** A month's flexibility settlement (flex.settle), one row per month. */
export const SETTLEMENTS_TABLE: TableSpec = {
  name: 'flex_settlements',
  columns: { month: 'text', lines: 'json', totalMicro: 'integer', linesRoot: 'text', entry: 'integer' },
  primaryKey: ['month'],
};

export interface SettlementRow {
  [column: string]: string | number | SettlementLine[];
  month: string;
  lines: SettlementLine[];
  totalMicro: number;
  /** The root the signed flex.settle carries, over the canonical JSON of each line. */
  linesRoot: string;
  entry: number;
}

/** The community's flexibility rules (flex.configure): gate lead and the double-charging rule. */
export const FLEX_CONFIG_TABLE: TableSpec = {
  name: 'flex_config',
  columns: { id: 'text', doubleCharging: 'text', networkFeeMicroPerKwh: 'integer', entry: 'integer' },
  primaryKey: ['id'],
};

export const DOUBLE_CHARGING = ['charged', 'refund'] as const;

export interface FlexConfigRow {
  [column: string]: string | number;
  id: string;
  /** charged: no relief; refund: the network fee on Wh a battery delivered to an order is refunded by the DSO. */
  doubleCharging: (typeof DOUBLE_CHARGING)[number];
  networkFeeMicroPerKwh: number;
  entry: number;
}

export const DEFAULT_FLEX_CONFIG: FlexConfigRow = { id: 'flex', doubleCharging: 'refund', networkFeeMicroPerKwh: 0, entry: -1 };

export function flexConfig(state: State): FlexConfigRow {
  return state.get<FlexConfigRow>('flex_config', 'flex') ?? DEFAULT_FLEX_CONFIG;
}
export function findAsset(state: State, asset: string): AssetRow | undefined {
  return state.get<AssetRow>('flex_assets', asset);
}
export function findRequest(state: State, request: string): RequestRow | undefined {
  return state.get<RequestRow>('flex_requests', request);
}
export function findOffer(state: State, offer: string): OfferRow | undefined {
  return state.get<OfferRow>('flex_offers', offer);
}
export function findOrder(state: State, order: string): OrderRow | undefined {
  return state.get<OrderRow>('flex_orders', order);
}
