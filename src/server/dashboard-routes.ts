import { z } from 'zod';
import type { KeySpec, MemberTotals } from '../allocation/month.ts';
import { community } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import { decodeEntry } from '../ledger/index.ts';
import type { MeterRow } from '../metering/meter-register.ts';
import type { Role } from '../state/registry.ts';
import type { LedgerStore } from '../store/ledger-store.ts';
import { addDays, formatInstant, localDay } from '../units/index.ts';
import { DATE, KEY, type Route } from './route.ts';
import { communitySavings, marketRules, missingInsideLife, storage } from './views.ts';
import { DASHBOARD_ALLOCATIONS, DASHBOARD_COMMUNITY, DASHBOARD_KEYS, DASHBOARD_MEMBER_ALLOCATIONS } from './responses.ts';

/**
 * Read models of the dashboard's community, market, allocation and ledger views. The public
 * ones are aggregates or rules (savings, storage, market prices, the organisations' keys)
 * and name no member; allocations are staff's, or a member's own.
 */
interface AllocationRow {
  month: string;
  key: KeySpec;
  productionWh: number;
  allocatedWh: number;
  surplusWh: number;
  members: MemberTotals[];
  runs: number;
  entry: number;
}

const STAFF: readonly Role[] = ['operator', 'dso', 'auditor'];

export function dashboardRoutes(ledger: LedgerStore): Route[] {
  const state = ledger.state;
  const allocations = () => ([...state.rows('allocations')] as unknown as AllocationRow[]).sort((a, b) => a.month.localeCompare(b.month));
  /** When each import meter joined: the issuedAt of its meter.register (the meters as they are when called). */
  const joined = async () => {
    const meters = ([...state.rows('meters')] as unknown as MeterRow[]).filter((m) => m.direction === 'import');
    const issued = await Promise.all(meters.map(async (m) => decodeEntry(await ledger.readEntry(m.entry)).tx.issuedAt));
    return new Map(meters.map((m, i) => [m.meter, issued[i]!]));
  };
  /** withLifeMissing: the recorded totals with missing intervals counted inside each meter's life (the record's own count kept as recordedMissingIntervals). */
  const withLifeMissing = (a: AllocationRow, meters: (m: MemberTotals) => boolean, since: Map<string, string>) => {
    const inside = missingInsideLife(state, a.month, since);
    return a.members.filter(meters).map((m) => ({ ...m, missingIntervals: inside.get(m.meter) ?? m.missingIntervals, recordedMissingIntervals: m.missingIntervals }));
  };
  return [
    {
      method: 'GET', url: '/v1/dashboard/community', operationId: 'getDashboardCommunity', tags: ['dashboard'], response: DASHBOARD_COMMUNITY, summary: 'The community over local days [from, to] (at most 93): what members saved against the supplier alone on their trades (micro-units of the currency) and the registered storage (count, usable Wh, W). Aggregates only, so public.', access: 'public',
      query: z.object({ from: DATE, to: DATE }),
      handler: ({ query }) => {
        if (query.from > query.to || addDays(query.from, 92) < query.to) throw new OpenlecError('E_BAD_RANGE', 'need from ≤ to and at most 93 days', { field: 'query.to' });
        const c = community(state)!;
        const from = formatInstant(localDay(query.from, c.timeZone).startMs);
        const to = formatInstant(localDay(query.to, c.timeZone).endMs);
        return { from: query.from, to: query.to, currency: c.currency, ...communitySavings(state, from, to), storage: storage(state) };
      },
    },
    {
      method: 'GET', url: '/v1/dashboard/keys', operationId: 'listDashboardKeys', tags: ['dashboard', 'allocation'], response: DASHBOARD_KEYS, summary: 'The keys of the community\'s organisations with their roles (the operator, the DSO), so that anyone can tell who signed an entry; members stay pseudonymous. Public.', access: 'public',
      handler: () => {
        const c = community(state)!;
        const orgs = ([...state.rows('participants')] as unknown as { key: string; roles: Role[] }[]).filter((p) => p.key === c.operator || p.roles.includes('dso'))
          .map((p) => ({ key: p.key, roles: p.roles.filter((r) => r === 'operator' || r === 'dso') }));
        if (!orgs.some((o) => o.key === c.operator)) orgs.unshift({ key: c.operator, roles: ['operator'] });
        return orgs;
      },
    },
    {
      method: 'GET', url: '/v1/dashboard/allocations', operationId: 'listDashboardAllocations', tags: ['dashboard', 'allocation'], response: DASHBOARD_ALLOCATIONS, summary: 'Monthly allocations with per-meter totals, the missing intervals counted only inside each meter\'s life in the community (from its registration; the recorded count is kept as recordedMissingIntervals). Staff.', access: { roles: STAFF },
      handler: async () => {
        // The allocations first: every meter they name is registered, so joined() knows it.
        const rows = allocations();
        const since = await joined();
        return rows.map((a) => ({ ...a, members: withLifeMissing(a, () => true, since) }));
      },
    },
    {
      method: 'GET', url: '/v1/dashboard/members/:key/allocations', operationId: 'listDashboardMemberAllocations', tags: ['dashboard', 'allocation'], response: DASHBOARD_MEMBER_ALLOCATIONS, summary: 'A member\'s share of each monthly allocation (per import meter), with the community\'s production, allocated and surplus energy; missing intervals counted inside the meter\'s life.', access: { roles: ['operator', 'dso'], self: true },
      params: KEY,
      handler: async ({ params }) => {
        const mine = new Set(state.lookup<MeterRow>('meters', 'owner', params.key).map((m) => m.meter));
        const rows = allocations();
        const since = await joined();
        return rows.map((a) => ({ month: a.month, key: a.key.kind, productionWh: a.productionWh, allocatedWh: a.allocatedWh, surplusWh: a.surplusWh, entry: a.entry, meters: withLifeMissing(a, (m) => mine.has(m.meter), since) }));
      },
    },
  ];
}
