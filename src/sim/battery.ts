/**
 * A home battery behind the meter. Energies are whole Wh at the meter side; the state of
 * charge is kept exactly as the sum of what went in times the one-way efficiency minus what
 * came out divided by it (one-way efficiency = √ round-trip). It never leaves
 * [minSocPct × capacity, capacity].
 */
export type BatteryStrategy = 'self-consumption' | 'community-price';

export interface BatterySpec {
  readonly capacityKwh: number;
  readonly powerKw: number;
  /** Round-trip efficiency, 0..1. */
  readonly efficiency: number;
  readonly minSocPct: number;
  readonly strategy: BatteryStrategy;
}

export interface BatteryDispatch {
  /** Wh taken in per interval (from own PV or, with community-price, from the grid). */
  readonly chargeWh: number[];
  /** Wh delivered per interval. */
  readonly dischargeWh: number[];
  /** State of charge at the end of each interval, Wh. */
  readonly socWh: number[];
}

export class Battery {
  socWh: number;
  readonly capacityWh: number;
  readonly minWh: number;
  /** One-way efficiency (√ round trip): stored energy × oneWay is what reaches the meter. */
  readonly oneWay: number;

  constructor(readonly spec: BatterySpec) {
    this.capacityWh = spec.capacityKwh * 1000;
    this.minWh = (this.capacityWh * spec.minSocPct) / 100;
    this.socWh = (this.capacityWh + this.minWh) / 2;
    this.oneWay = Math.sqrt(spec.efficiency);
  }

  /**
   * dispatch runs one day. `netWh[k]` is PV minus load in interval k (after any EV).
   * `cheap[k]` says the community price is forecast to be low in k (the community had a
   * surplus at that time the day before): a community-price battery then keeps its charge
   * for dearer intervals and fills up from the grid, that is from neighbours' surplus.
   * `extraWh[k]` > 0 is a DSO flexibility order: in k the battery does not charge and
   * discharges that much more than it would (within its power and state of charge), the
   * surplus going out through the export meter.
   */
  dispatch(netWh: readonly number[], intervalMinutes: number, cheap: readonly boolean[] = [], extraWh: readonly number[] = []): BatteryDispatch {
    const maxWh = Math.floor((this.spec.powerKw * 1000 * intervalMinutes) / 60);
    const chargeWh: number[] = [];
    const dischargeWh: number[] = [];
    const socWh: number[] = [];
    const respond = this.spec.strategy === 'community-price';
    netWh.forEach((net, k) => {
      let charge = 0;
      let discharge = 0;
      // The 1e-9 keeps float noise from costing a whole Wh; the bounds hold to within it.
      const room = Math.max(0, Math.floor((this.capacityWh - this.socWh) / this.oneWay + 1e-9));
      if (net > 0) charge = Math.min(net, maxWh, room);
      else if (net < 0 && !(respond && cheap[k])) discharge = Math.min(-net, maxWh, Math.max(0, Math.floor((this.socWh - this.minWh) * this.oneWay + 1e-9)));
      if (respond && cheap[k]) charge = Math.min(maxWh, room);
      const extra = extraWh[k] ?? 0;
      if (extra > 0) {
        charge = 0;
        discharge = Math.min(discharge + extra, maxWh, Math.max(0, Math.floor((this.socWh - this.minWh) * this.oneWay + 1e-9)));
      }
      this.socWh += charge * this.oneWay - discharge / this.oneWay;
      chargeWh.push(charge);
      dischargeWh.push(discharge);
      socWh.push(this.socWh);
    });
    return { chargeWh, dischargeWh, socWh };
  }
}
