import { z } from 'zod';
import { community } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import { decodeEntry } from '../ledger/index.ts';
import { lastCleared } from '../market/tables.ts';
import type { FeederRow } from '../network/feeder-define.ts';
import type { LedgerStore } from '../store/ledger-store.ts';
import { formatInstant } from '../units/index.ts';
import type { Route } from './route.ts';
import { NETWORK } from './responses.ts';

/**
 * The network's public rules as one read model (GET /v1/network), read from the
 * projections (feeders, feeder_limits, tariffs) and never by scanning the log: the feeder
 * tree with each node's standing limits (feeder.define), the DSO's published limits
 * (feeder.limit) in force at an instant and to come, and the network fees (tariff.set) in
 * force and their history. Each rule carries its entry and the key that signed it, so
 * anyone can check it against the log. Limits and fees name no member or meter: public.
 */

interface LimitRow { feeder: string; from: string; to: string; importLimitW: number | null; exportLimitW: number | null; entry: number }
interface TariffRow { from: string; feesMicroPerKwh: Record<string, number>; entry: number }

/** An instant with an offset, seconds and fraction optional (a browser's toISOString() too). */
const INSTANT = z.string().max(40).regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/, 'must be an ISO 8601 date-time with offset');

/** The kind of a node by its depth, as the market's path classes read the tree (src/market/network.ts). */
const kindOf = (depth: number) => (depth === 0 ? 'substation' : depth === 1 ? 'feeder' : 'connection point');

/**
 * networkRoutes: `clock` is the server's time ("now" when the query names no instant); the
 * live demo runs ahead of the wall clock, so its pages pass the server's time of
 * /v1/community as `at`.
 */
export function networkRoutes(ledger: LedgerStore, clock: () => number = Date.now): Route[] {
  const state = ledger.state;
  /** Who signed each of these entries and when: each entry read by its index. */
  const signers = async (entries: readonly number[]) => {
    const unique = [...new Set(entries)];
    const txs = await Promise.all(unique.map(async (entry) => decodeEntry(await ledger.readEntry(entry)).tx));
    return new Map(unique.map((entry, i) => [entry, { signedBy: txs[i]!.actor, signedAt: txs[i]!.issuedAt }]));
  };
  return [
    {
      method: 'GET', url: '/v1/network', operationId: 'getNetwork', tags: ['community'], response: NETWORK, summary: 'The network\'s rules at an instant (`at`, default now): the feeder tree (depth-first, each node with its kind, parent, children and standing limits of feeder.define), the feeder.limit overrides in force at `at` and to come (from which interval, until when, the limits in W, the entry and the key that signed it; `ended` counts those over), the limits that apply at `at`, and the DSO\'s tariff (tariff.set) in force with its history. Rules name no member: public.', access: 'public',
      query: z.object({ at: INSTANT.optional() }),
      handler: async ({ query }) => {
        const ms = query.at === undefined ? clock() : Date.parse(query.at as string);
        if (Number.isNaN(ms)) throw new OpenlecError('E_REQUEST', `query.at: "${query.at}" is not an instant`, { field: 'query.at' });
        // Whole seconds, fixed width: compared as text with the projections' instants.
        const at = formatInstant(Math.floor(ms / 1000) * 1000);
        const c = community(state);
        const cleared = lastCleared(state);

        const feeders = [...state.rows('feeders')] as FeederRow[];
        const children = new Map<string | null, FeederRow[]>();
        for (const f of feeders) children.set(f.parent, [...(children.get(f.parent) ?? []), f]);
        for (const list of children.values()) list.sort((a, b) => a.entry - b.entry);

        const limits = ([...state.rows('feeder_limits')] as unknown as LimitRow[]).sort((a, b) => a.from.localeCompare(b.from) || a.entry - b.entry);
        const tariffs = ([...state.rows('tariffs')] as unknown as TariffRow[]).sort((a, b) => a.from.localeCompare(b.from));
        // The projections are read above, before the entries: what follows is of one moment.
        const signedBy = await signers([...limits.filter((l) => l.to > at).map((l) => l.entry), ...tariffs.map((t) => t.entry)]);
        const signer = (entry: number) => signedBy.get(entry)!;
        /** The override that applies at `at`: the latest entry covering it (as networkAt and limitsAt read it). */
        const applying = new Map<string, LimitRow>();
        for (const l of limits) if (l.from <= at && at < l.to && (applying.get(l.feeder)?.entry ?? -1) < l.entry) applying.set(l.feeder, l);
        const published = (l: LimitRow) => ({
          from: l.from, to: l.to, importLimitW: l.importLimitW, exportLimitW: l.exportLimitW, entry: l.entry, ...signer(l.entry),
          status: l.from > at ? 'to come' : applying.get(l.feeder) === l ? 'in force' : 'overridden',
        });

        const tree: unknown[] = [];
        const walk = (parent: string | null, depth: number) => {
          for (const f of children.get(parent) ?? []) {
            const mine = limits.filter((l) => l.feeder === f.id);
            const now = applying.get(f.id);
            tree.push({
              id: f.id, parent: f.parent, depth, kind: kindOf(depth), children: (children.get(f.id) ?? []).map((x) => x.id),
              standing: { importLimitW: f.importLimitW, exportLimitW: f.exportLimitW, entry: f.entry },
              applies: now ? { importLimitW: now.importLimitW, exportLimitW: now.exportLimitW, entry: now.entry } : { importLimitW: f.importLimitW, exportLimitW: f.exportLimitW, entry: f.entry },
              limits: mine.filter((l) => l.to > at).map(published),
              ended: mine.filter((l) => l.to <= at).length,
            });
            walk(f.id, depth + 1);
          }
        };
        walk(null, 0);

        const inForce = tariffs.filter((t) => t.from <= at).pop();
        const tariff = (t: TariffRow) => ({ from: t.from, feesMicroPerKwh: t.feesMicroPerKwh, entry: t.entry, ...signer(t.entry), status: t === inForce ? 'in force' : t.from > at ? 'to come' : 'superseded' });

        return {
          at, currency: c?.currency ?? null, lastCleared: cleared || null,
          feeders: tree,
          tariffs: { inForce: inForce ? tariff(inForce) : null, history: tariffs.map(tariff) },
        };
      },
    },
  ];
}
