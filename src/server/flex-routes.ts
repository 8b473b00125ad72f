import { z } from 'zod';
import { OpenlecError } from '../errors.ts';
import { planFlexOrder } from '../flex/order.ts';
import { earnings, requestsOf, requestView } from '../flex/reports.ts';
import { flexSettleBody, planFlexSettle } from '../flex/settle.ts';
import type { AssetRow, OfferRow, SettlementRow } from '../flex/tables.ts';
import type { Role } from '../state/registry.ts';
import type { LedgerStore } from '../store/ledger-store.ts';
import type { Session } from './auth.ts';
import { KEY, MONTH, type Route } from './route.ts';
import { FLEX_ASSETS, FLEX_EARNINGS, FLEX_OFFERS, FLEX_ORDER_PLAN, FLEX_REQUEST, FLEX_REQUESTS, FLEX_SETTLEMENT, FLEX_SETTLE_PLAN } from './responses.ts';

/**
 * The flexibility market over HTTP (src/flex). Requests are public, as a DSO publishes
 * its congestion requests to every provider, with the feeder's aggregate load; offers are
 * commercial: before and after the order a provider sees its own, the DSO, operator and
 * auditor all of them (the order's merit order, in the log, names offers and prices).
 * Settlements are staff only; a provider reads its own earnings. Writes (asset.register,
 * flex.request, flex.offer, flex.order, flex.settle) go through POST /v1/transactions;
 * the plan routes give the DSO the body to sign, computed at the server's time.
 */
const STAFF: readonly Role[] = ['operator', 'dso', 'auditor'];
const PROVIDERS: readonly Role[] = ['member', 'aggregator'];
const isStaff = (s: Session | undefined) => s !== undefined && s.roles.some((r) => STAFF.includes(r));
const ID = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1 to 64 letters, digits, "_" or "-"');

export function flexRoutes(ledger: LedgerStore, txClock: () => number): Route[] {
  const mineOrStaff = (session: Session | undefined, o: { provider?: string; owner?: string; aggregator?: string | null }) =>
    isStaff(session) || (session !== undefined && (o.provider === session.key || o.owner === session.key || o.aggregator === session.key));
  return [
    {
      method: 'GET', url: '/v1/flex/assets', operationId: 'listFlexAssets', tags: ['flexibility'], response: FLEX_ASSETS, summary: 'Flexible assets (kind, power, capacity, meter, owner, aggregator): staff see all, a member or aggregator the ones it owns or was delegated.', access: { roles: [...STAFF, ...PROVIDERS] },
      handler: ({ session }) => ([...ledger.state.rows('flex_assets')] as AssetRow[]).filter((a) => mineOrStaff(session, a)).sort((a, b) => a.entry - b.entry),
    },
    {
      method: 'GET', url: '/v1/flex/requests', operationId: 'listFlexRequests', tags: ['flexibility'], response: FLEX_REQUESTS, summary: 'The DSO\'s flexibility requests (UFTP FlexRequest: congestion point, direction, ISPs, prices, gate, status), optionally of one local month: public.', access: 'public',
      query: z.object({ month: MONTH.shape.month.optional() }),
      handler: ({ query }) => requestsOf(ledger.state, query.month),
    },
    {
      method: 'GET', url: '/v1/flex/requests/:request', operationId: 'getFlexRequest', tags: ['flexibility'], response: FLEX_REQUEST, summary: 'One request: per interval the feeder\'s metered load against its limit, requested, ordered and delivered power, the order\'s merit order and cost. Offers and settlement lines are shown to staff, and to a provider its own.', access: 'public',
      params: z.object({ request: ID }),
      handler: ({ params, session }) => {
        const v = requestView(ledger.state, params.request);
        if (!v) throw new OpenlecError('E_NOT_FOUND', `request ${params.request} does not exist`, { field: 'request' });
        const visible = (o: { provider: string }) => mineOrStaff(session, o);
        const order = v.order && {
          ...v.order, ordered: v.order.ordered.filter(visible),
          merit: isStaff(session) ? v.order.merit : v.order.merit.filter((m) => v.offers.some((o) => o.offer === m.offer && visible(o))),
        };
        return { ...v, order, offers: v.offers.filter(visible), settlement: v.settlement.filter(visible), costMicro: isStaff(session) ? v.costMicro : null };
      },
    },
    {
      method: 'GET', url: '/v1/flex/offers', operationId: 'listFlexOffers', tags: ['flexibility'], response: FLEX_OFFERS, summary: 'Offers (UFTP FlexOffer) with their status: staff see all, a provider its own. Optional request filter.', access: { roles: [...STAFF, ...PROVIDERS] },
      query: z.object({ request: ID.optional() }),
      handler: ({ query, session }) => ([...ledger.state.rows('flex_offers')] as OfferRow[])
        .filter((o) => (query.request === undefined || o.request === query.request) && mineOrStaff(session, o)).sort((a, b) => a.entry - b.entry),
    },
    {
      method: 'GET', url: '/v1/flex/settlements/:month', operationId: 'getFlexSettlement', tags: ['flexibility', 'settlement'], response: FLEX_SETTLEMENT, summary: 'A month\'s flexibility settlement (UFTP FlexSettlement: per ordered offer and ISP baseline, ordered, actual, delivered, deficiency; revenue, penalty, relief, net): staff.', access: { roles: STAFF },
      params: MONTH,
      handler: ({ params }) => {
        const s = ledger.state.get<SettlementRow>('flex_settlements', params.month);
        if (!s) throw new OpenlecError('E_NOT_FOUND', `flexibility of ${params.month} is not settled`, { field: 'month' });
        return s;
      },
    },
    {
      method: 'GET', url: '/v1/flex/earnings', operationId: 'listFlexEarnings', tags: ['flexibility'], response: FLEX_EARNINGS, summary: 'A provider\'s flexibility earnings of a month (delivered, deficiency, revenue, penalty, network-fee relief, net): the logged-in member\'s or aggregator\'s own; staff may name a provider.', access: { roles: [...STAFF, ...PROVIDERS] },
      query: MONTH.extend({ provider: KEY.shape.key.optional() }),
      handler: ({ query, session }) => {
        const provider = query.provider ?? session!.key;
        if (provider !== session!.key && !isStaff(session)) throw new OpenlecError('E_FORBIDDEN', 'a provider reads only its own earnings', { field: 'query.provider' });
        return earnings(ledger.state, query.month, provider);
      },
    },
    {
      method: 'GET', url: '/v1/flex/plan/order', operationId: 'planFlexOrder', tags: ['flexibility'], response: FLEX_ORDER_PLAN, summary: 'The body of a flex.order for a request, planned by merit order at the server\'s time: sign it with that issuedAt and POST it to /v1/transactions (DSO).', access: { roles: ['dso'] },
      query: z.object({ request: ID, order: ID }),
      handler: ({ query }) => {
        const at = txClock();
        const issuedAt = new Date(Math.floor(at / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
        return { issuedAt, body: planFlexOrder(ledger.state, query.request, query.order, Date.parse(issuedAt)) };
      },
    },
    {
      method: 'GET', url: '/v1/flex/plan/settle', operationId: 'planFlexSettlement', tags: ['flexibility', 'settlement'], response: FLEX_SETTLE_PLAN, summary: 'The body of a flex.settle for a month (totals and the root of its lines), recomputed from the log, with the lines it commits to (DSO or operator): sign `body`.', access: { roles: ['dso', 'operator'] },
      query: MONTH,
      handler: ({ query }) => {
        const plan = planFlexSettle(ledger.state, query.month);
        return { body: flexSettleBody(plan), lines: plan.lines };
      },
    },
  ];
}
