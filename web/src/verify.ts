import { checkCheckpointConsistency } from '../../src/audit/consistency.ts';
import { checkEntryProof, checkTradeInclusion, type EntryProof } from '../../src/audit/entry-proof.ts';
import { api } from './api.ts';

/**
 * "Verify my records", in the browser, with the CLI's own verification code: each record
 * shown to the member is fetched with its inclusion proof and checked against the
 * operator's checkpoint key pinned on first use (never the key sent with the proof).
 */
export interface CurveDay {
  meter: string;
  direction: string;
  date: string;
  values: (number | null)[];
  entry: number;
}

export interface Trade {
  interval: string;
  side: string;
  wh: number;
  priceMicroPerKwh: number;
  entry: number;
  record: string;
  index: number;
  proof: string[];
}

export interface Check {
  what: string;
  entry: number;
  ok: boolean;
  detail: string;
}

const PIN = (origin: string) => `openlec.verifierKey.${origin}`;

/** pinnedKey returns the operator key this browser first saw for the log, and whether the server now announces a different one. */
export function pinnedKey(origin: string, announced: string): { key: string; changed: boolean } {
  const pinned = localStorage.getItem(PIN(origin));
  if (!pinned) {
    localStorage.setItem(PIN(origin), announced);
    return { key: announced, changed: false };
  }
  return { key: pinned, changed: pinned !== announced };
}

/** verifyRecords checks each day of readings and each trade shown against the log; the latest `limit` entries. */
export async function verifyRecords(curves: readonly CurveDay[], trades: readonly Trade[], verifierKey: string, limit = 30): Promise<Check[]> {
  const checks: Check[] = [];
  const proofs = new Map<number, Promise<ReturnType<typeof checkEntryProof>>>();
  const proven = (entry: number) => {
    let p = proofs.get(entry);
    if (!p) proofs.set(entry, (p = api<EntryProof>(`/v1/proofs/${entry}`).then((proof) => checkEntryProof(proof, verifierKey))));
    return p;
  };
  const attempt = async (what: string, entry: number, check: () => Promise<string>) => {
    try {
      checks.push({ what, entry, ok: true, detail: await check() });
    } catch (e) {
      checks.push({ what, entry, ok: false, detail: (e as Error).message });
    }
  };
  for (const c of [...curves].sort((a, b) => b.entry - a.entry).slice(0, limit)) {
    await attempt(`readings ${c.meter} ${c.direction} ${c.date}`, c.entry, async () => {
      const { transaction, checkpoint } = await proven(c.entry);
      const body = transaction.body as { meter: string; direction: string; date: string; values: (number | null)[] };
      if (body.meter !== c.meter || body.direction !== c.direction || body.date !== c.date || body.values.length !== c.values.length) {
        throw new Error(`entry ${c.entry} in the log is not this day's readings`);
      }
      // The day's latest entry carries every value it sent; values it left null came from earlier entries of the day.
      const differ = body.values.findIndex((v, i) => v !== null && v !== c.values[i]);
      if (differ >= 0) throw new Error(`value ${differ} shown (${String(c.values[differ])} Wh) differs from the log (${String(body.values[differ])} Wh)`);
      const earlier = body.values.filter((v, i) => v === null && c.values[i] !== null).length;
      return `in the log under checkpoint ${checkpoint.size}${earlier ? ` (${earlier} values from earlier entries)` : ''}`;
    });
  }
  for (const t of [...trades].sort((a, b) => b.entry - a.entry).slice(0, limit)) {
    await attempt(`trade ${t.side} ${t.interval}`, t.entry, async () => {
      const { transaction, checkpoint } = await proven(t.entry);
      const record = checkTradeInclusion(t, transaction as unknown as { body: { trades: number; tradesRoot: string } });
      if (record.wh !== t.wh) throw new Error(`the energy shown (${t.wh} Wh) differs from the trade record (${String(record.wh)} Wh)`);
      return `in clearing entry ${t.entry}, under checkpoint ${checkpoint.size}`;
    });
  }
  return checks;
}

/** checkConsistency checks that the newer checkpoint extends the older, with the proof from the server. */
export async function checkConsistency(older: { size: number; note: string }, newer: { size: number; note: string }, verifierKey: string) {
  const r = older.size === newer.size
    ? { proof: [] as string[] }
    : await api<{ proof: string[] }>(`/v1/consistency?from=${older.size}&to=${newer.size}`);
  return checkCheckpointConsistency(older.note, newer.note, r.proof, verifierKey);
}
