export { assertSafeInteger, averagePowerToWh, costMicro, formatDecimal, MICRO_PER_UNIT, mulDivRound, parseDecimal, WH_PER_KWH } from './energy.ts';
export type { Micro, MicroPerKwh, Wh } from './energy.ts';
export { splitByWeights } from './split.ts';
export {
  addDays, assertAligned, assertIntervalMinutes, assertTimeZone, dayIntervals, formatInstant, formatLocal, INTERVAL_MINUTES,
  intervalOf, intervalsInDay, localDateOf, localDay, localMinuteOfDay, MS_PER_MINUTE, fixedInstant, fixedInstantAt, parseInstant, parseInstantGeneral, parseIntervalStart,
} from './interval.ts';
export type { IntervalMinutes, LocalDay } from './interval.ts';
