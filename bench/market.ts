import { clearUniform } from '../src/market/mechanisms.ts';
import type { Order } from '../src/market/order.ts';
import { printTable, round, timed } from './support.ts';

/** n orders in one interval: half bids, half asks, prices spread around 0.15/kWh (deterministic). */
function orders(n: number): Order[] {
  let s = 42;
  const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  return Array.from({ length: n }, (_, i) => ({
    id: `o${i}`, side: i % 2 ? 'buy' : 'sell', quantityWh: 100 + Math.floor(rand() * 2000), limitMicroPerKwh: 80_000 + Math.floor(rand() * 140_000), seq: i,
  }));
}

export async function run(): Promise<Record<string, number>> {
  const figures: Record<string, number> = {};
  const rows: (string | number)[][] = [];
  for (const n of [10_000, 100_000, 1_000_000]) {
    const book = orders(n);
    clearUniform(book.slice(0, 1000)); // warm up
    const { value, seconds } = await timed(() => clearUniform(book));
    const prices = Float64Array.from(book, (o) => o.limitMicroPerKwh);
    const { seconds: sortSeconds } = await timed(() => prices.sort());
    figures[`uniform_${n}_ms`] = round(seconds * 1000, 1);
    figures[`sort_${n}_ms`] = round(sortSeconds * 1000, 1);
    rows.push([n, round(seconds * 1000, 1), round(sortSeconds * 1000, 1), round(seconds / sortSeconds, 1), value.trades.length]);
  }
  printTable('Uniform-price clearing of one interval (no network limits yet), one core', rows, ['orders', 'clear ms', 'Float64Array sort ms', 'ratio', 'trades']);
  return figures;
}
