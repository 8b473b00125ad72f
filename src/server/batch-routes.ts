import { z } from 'zod';
import { keySpecSchema } from '../allocation/allocation-run.ts';
import { type KeySpec, runMonth } from '../allocation/month.ts';
import { community } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import { lastCleared, type MarketConfigRow } from '../market/tables.ts';
import type { ReadingsRow } from '../metering/readings.ts';
import type { Role } from '../state/registry.ts';
import type { LedgerStore } from '../store/ledger-store.ts';
import { addDays } from '../units/index.ts';
import type { Admission } from './admission.ts';
import { EventHub } from './events.ts';
import { DATE, MONTH, type Route, WithStatus } from './route.ts';
import { marketRules } from './views.ts';
import { ALLOCATION_PLAN, BATCH_RESULT, MARKET_CONFIG, READINGS } from './responses.ts';

/**
 * The operator's and the DSO's actions in the dashboard (web/src/actions/operator.ts,
 * meter-files.ts): many signed transactions admitted all or none, and the read models
 * their pages plan with. The browser holds no state, so what it signs is planned here
 * from the log (the allocation's body, the readings a file is checked against); the
 * server re-derives everything when it applies the transactions anyway.
 */

/**
 * At most this many transactions in one batch. The request's size is bounded as well, by
 * the server's body limit (256 KiB: some 300 days of half-hourly readings).
 */
export const MAX_BATCH = 1000;

const STAFF: readonly Role[] = ['operator', 'dso', 'auditor'];

/** keySpecOf reads the `key` query: a kind without parameters ("prorata") or a KeySpec as JSON. */
function keySpecOf(text: string): KeySpec {
  let value: unknown = { kind: text };
  if (text.startsWith('{')) {
    try {
      value = JSON.parse(text);
    } catch {
      throw new OpenlecError('E_REQUEST', 'query.key: not JSON', { field: 'query.key' });
    }
  }
  const r = keySpecSchema.safeParse(value);
  if (!r.success) throw new OpenlecError('E_REQUEST', `query.key: ${r.error.issues[0]!.message} (a kind such as prorata or full-dynamic, or a key as JSON)`, { field: 'query.key' });
  return r.data as KeySpec;
}

export function batchRoutes(ledger: LedgerStore, admission: Admission, events: EventHub, readOnly?: { operatorUrl: string }): Route[] {
  return [
    {
      method: 'POST', url: '/v1/transactions/batch', operationId: 'submitTransactionBatch', tags: ['transactions'], response: BATCH_RESULT, summary: `Append signed transactions all or none (at most ${MAX_BATCH}), each through the admission checks of POST /v1/transactions; a refusal names the transaction's index (field "transactions[i]...") and nothing is appended. The same set again (a retry) gives its entries with 200 and \`duplicate: true\`.`, access: 'signed', status: 201,
      body: z.strictObject({ transactions: z.array(z.record(z.string(), z.unknown())).min(1).max(MAX_BATCH) }),
      async handler({ body }) {
        if (readOnly) throw new OpenlecError('E_READ_ONLY', `this is a read-only replica: send transactions to the operator at ${readOnly.operatorUrl}`, { field: 'body' });
        const txs = body.transactions as Record<string, unknown>[];
        const { entries, duplicate } = await admission.admitAtomic(txs);
        if (duplicate) return new WithStatus(200, { entries, size: ledger.size, duplicate: true });
        // Appended, so every type and body was checked: announce them.
        entries.forEach((entry, i) => {
          for (const e of EventHub.forEntry(entry, txs[i]!.type as string, txs[i]!.body as Record<string, unknown>)) events.emit(e);
        });
        return { entries, size: ledger.size };
      },
    },
    {
      method: 'GET', url: '/v1/allocations/:month/plan', operationId: 'planAllocation', tags: ['allocation'], response: ALLOCATION_PLAN, summary: 'The allocation.run body of a month with a key (`key`: prorata, full-dynamic, or a key as JSON; default the month\'s recorded key, else prorata), computed from the log as its apply will recompute it: what the operator signs.', access: { roles: STAFF },
      params: MONTH, query: z.object({ key: z.string().min(1).max(10_000).optional() }),
      handler: ({ params, query }) => {
        const recorded = ledger.state.get<{ key: KeySpec; entry: number; runs: number }>('allocations', params.month);
        const key = query.key ? keySpecOf(query.key) : recorded?.key ?? { kind: 'prorata' };
        return { body: runMonth(ledger.state, params.month, key).summary, recorded: recorded ? { entry: recorded.entry, runs: recorded.runs, key: recorded.key } : null };
      },
    },
    {
      method: 'GET', url: '/v1/market/config', operationId: 'getMarketConfig', tags: ['market'], response: MARKET_CONFIG, summary: 'The market\'s rules: every market.configure in force from its interval (mode, mechanism, k, gate closure, the supplier\'s retail and feed-in prices), oldest first, the network fees by path (tariff.set), the mechanisms openlec supports and the last cleared interval (rules change only after it). Rules name no member: public.', access: 'public',
      handler: () => ({ currency: community(ledger.state)!.currency, ...marketRules(ledger.state), lastCleared: lastCleared(ledger.state) || null }),
    },
    {
      method: 'GET', url: '/v1/readings', operationId: 'listReadings', tags: ['metering'], response: READINGS, summary: 'Recorded meter readings (Wh per interval, the entry that last changed them) of local days [from, to] (at most 93), optionally of some meters (comma-separated): what an imported file is planned and checked against.', access: { roles: STAFF },
      query: z.object({ from: DATE, to: DATE, meters: z.string().max(100_000).optional() }),
      handler: ({ query }) => {
        if (query.from > query.to) throw new OpenlecError('E_BAD_RANGE', 'need from ≤ to', { field: 'query.to' });
        const days = (Date.parse(query.to) - Date.parse(query.from)) / 86_400_000;
        if (days > 92) throw new OpenlecError('E_BAD_RANGE', 'at most 93 days', { field: 'query.to' });
        const meters: string[] | undefined = query.meters ? (query.meters as string).split(',').filter(Boolean) : undefined;
        const rows = meters
          ? [...new Set(meters)].flatMap((m) => ledger.state.lookup<ReadingsRow>('readings', 'meter', m))
          : Array.from({ length: days + 1 }, (_, k) => addDays(query.from, k)).flatMap((d) => ledger.state.lookup<ReadingsRow>('readings', 'date', d));
        return rows.filter((r) => r.date >= query.from && r.date <= query.to)
          .sort((a, b) => a.meter.localeCompare(b.meter) || a.direction.localeCompare(b.direction) || a.date.localeCompare(b.date))
          .map((r) => ({ meter: r.meter, direction: r.direction, date: r.date, values: r.values, corrections: r.corrections, entry: r.entry }));
      },
    },
  ];
}
