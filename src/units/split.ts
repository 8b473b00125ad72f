import { OpenlecError } from '../errors.ts';

/**
 * splitByWeights divides the integer `total` into parts proportional to `weights` with
 * the largest-remainder (Hamilton) method: every part is the floor of its exact share,
 * and the units left over go one each to the largest remainders, ties to the lowest
 * index. The parts always sum to `total`, and each differs from its exact share by
 * less than one. Weights are non-negative safe integers; all-zero weights give zeros
 * only when total is 0.
 */
export function splitByWeights(total: number, weights: readonly number[]): number[] {
  if (!Number.isSafeInteger(total) || total < 0) {
    throw new OpenlecError('E_OUT_OF_RANGE', `total must be a non-negative safe integer, got ${total}`, { field: 'total' });
  }
  let sum = 0n;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i]!;
    if (!Number.isSafeInteger(w) || w < 0) {
      throw new OpenlecError('E_OUT_OF_RANGE', `weights[${i}] must be a non-negative safe integer, got ${w}`, { field: `weights[${i}]` });
    }
    sum += BigInt(w);
  }
  if (sum === 0n) {
    if (total === 0) return weights.map(() => 0);
    throw new OpenlecError('E_NO_WEIGHT', `cannot split ${total} over weights that sum to 0`, { field: 'weights' });
  }
  const bigTotal = BigInt(total);
  const parts = new Array<number>(weights.length);
  const remainders: { index: number; remainder: bigint }[] = [];
  let given = 0;
  for (let i = 0; i < weights.length; i++) {
    const product = bigTotal * BigInt(weights[i]!);
    const part = product / sum;
    parts[i] = Number(part);
    given += parts[i]!;
    remainders.push({ index: i, remainder: product - part * sum });
  }
  remainders.sort((a, b) => (a.remainder === b.remainder ? a.index - b.index : a.remainder > b.remainder ? -1 : 1));
  for (let k = 0; k < total - given; k++) parts[remainders[k]!.index]! += 1;
  return parts;
}
