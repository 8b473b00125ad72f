import { OpenlecError } from '../errors.ts';

/**
 * Units. Energy is an integer number of watt-hours (Wh); money an integer number of
 * micro-units of the community currency (1 EUR = 1,000,000 micro); a price an integer
 * number of micro-units per kWh. All values are safe integers: arithmetic that could
 * leave the safe range goes through BigInt.
 */
export type Wh = number;
export type Micro = number;
export type MicroPerKwh = number;

export const WH_PER_KWH = 1000;
export const MICRO_PER_UNIT = 1_000_000;

/** assertSafeInteger rejects anything that is not a safe integer, naming the field. */
export function assertSafeInteger(value: unknown, field: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new OpenlecError('E_NOT_INTEGER', `${field} must be a safe integer, got ${JSON.stringify(value)}`, { field });
  }
}

const DECIMAL = /^([+-]?)(\d+)(?:[.,](\d+))?$/;

/**
 * parseDecimal reads a decimal text ("12.5", "-0,25") exactly as an integer scaled by
 * 10^scale. Digits beyond the scale are an error unless `round` is given, in which case
 * the value is rounded half away from zero, or half to even with 'even'.
 */
export function parseDecimal(text: string, scale: number, field: string, round?: 'half-up' | 'even'): number {
  const m = DECIMAL.exec(text.trim());
  if (!m) throw new OpenlecError('E_NOT_DECIMAL', `${field}: "${text}" is not a decimal number`, { field });
  const [, sign, whole = '', fraction = ''] = m;
  let kept = fraction.slice(0, scale).padEnd(scale, '0');
  const dropped = fraction.slice(scale);
  let value = BigInt(whole + kept);
  if (/[1-9]/.test(dropped)) {
    if (!round) throw new OpenlecError('E_TOO_PRECISE', `${field}: "${text}" has more than ${scale} decimals`, { field });
    const first = Number(dropped[0]);
    const rest = /[1-9]/.test(dropped.slice(1));
    const up = first > 5 || (first === 5 && (rest || round === 'half-up' || value % 2n === 1n));
    if (up) value += 1n;
  }
  if (sign === '-') value = -value;
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new OpenlecError('E_OUT_OF_RANGE', `${field}: "${text}" is out of range`, { field });
  return n === 0 ? 0 : n;
}

/** formatDecimal writes an integer scaled by 10^scale as a decimal text ("1234", 3 -> "1.234"). */
export function formatDecimal(value: number, scale: number, separator = '.'): string {
  const negative = value < 0;
  const digits = String(Math.abs(value)).padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  const fraction = digits.slice(digits.length - scale);
  return (negative ? '-' : '') + whole + (scale > 0 ? separator + fraction : '');
}

/**
 * mulDivRound divides a*b by c rounding half to even, exactly, for any safe-integer inputs
 * (the product goes through BigInt only when it would leave the safe range).
 */
export function mulDivRound(a: number, b: number, c: number): number {
  // `|| 0` turns -0 into 0: stored integers never carry a negative zero.
  return mulDivRoundSigned(a, b, c) || 0;
}

function mulDivRoundSigned(a: number, b: number, c: number): number {
  if (c === 0) throw new RangeError('mulDivRound: division by zero');
  const p = a * b;
  // Below 2^48 the float quotient p / c truncates to the exact integer quotient.
  if (Math.abs(p) < 2 ** 48) {
    const q = Math.trunc(p / c);
    const r = p - q * c;
    if (r === 0) return q;
    return roundQuotient(q, Math.abs(r) * 2, Math.abs(c), (p < 0) !== (c < 0));
  }
  const bp = BigInt(a) * BigInt(b);
  const bc = BigInt(c);
  let bq = bp / bc;
  const br = bp - bq * bc;
  if (br !== 0n) {
    const twice = (br < 0n ? -br : br) * 2n;
    const abc = bc < 0n ? -bc : bc;
    const odd = (bq < 0n ? -bq : bq) % 2n === 1n;
    if (twice > abc || (twice === abc && odd)) bq += (bp < 0n) !== (bc < 0n) ? -1n : 1n;
  }
  const q = Number(bq);
  if (!Number.isSafeInteger(q)) throw new OpenlecError('E_OUT_OF_RANGE', `${a} x ${b} / ${c} is beyond the safe integer range`, { field: 'value' });
  return q;
}

function roundQuotient(q: number, twiceRemainder: number, divisor: number, negative: boolean): number {
  const cmp = twiceRemainder === divisor ? 0 : twiceRemainder > divisor ? 1 : -1;
  return roundCompared(q, cmp, negative);
}

// q is the truncated quotient; cmp compares the remainder with half the divisor.
function roundCompared(q: number, cmp: number, negative: boolean): number {
  const away = cmp > 0 || (cmp === 0 && Math.abs(q) % 2 === 1);
  return away ? q + (negative ? -1 : 1) : q;
}

/** costMicro is the money for `energyWh` at `priceMicroPerKwh`, rounded half to even. */
export function costMicro(energyWh: Wh, priceMicroPerKwh: MicroPerKwh): Micro {
  return mulDivRound(energyWh, priceMicroPerKwh, WH_PER_KWH);
}

/** averagePowerToWh converts an average power in W over `minutes` to Wh, exactly or rounded half to even. */
export function averagePowerToWh(powerW: number, minutes: number): Wh {
  return mulDivRound(powerW, minutes, 60);
}
