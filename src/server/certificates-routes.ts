import { z } from 'zod';
import { bundles, eecsCsv, eecsExport, energyTagBundles, matching, origin, totals } from '../certificates/reports.ts';
import { certKeyDate, type DeviceRow } from '../certificates/tables.ts';
import { OpenlecError } from '../errors.ts';
import type { Role } from '../state/registry.ts';
import type { LedgerStore } from '../store/ledger-store.ts';
import type { Session } from './auth.ts';
import { KEY, MONTH, type Route } from './route.ts';
import { CERTIFICATE_BUNDLES, CERTIFICATE_DEVICES, CERTIFICATE_EXPORT, CERTIFICATE_EXPORT_EXAMPLE, CERTIFICATE_MONTHS, CERTIFICATE_ORIGIN, MATCHING } from './responses.ts';

/**
 * The certificates of origin over HTTP (src/certificates/reports.ts): devices and the
 * community's matching scores are public (codes, sizes and aggregates name no member);
 * bundles and the hour-by-hour origin are a member's own, or anyone's for the staff of
 * certificates (operator, auditor, issuer, DSO); the registry exports are staff only.
 * Transactions (device.register, certificates.issue, certificate.transfer, ...) go
 * through POST /v1/transactions like every other.
 */
const STAFF: readonly Role[] = ['operator', 'auditor', 'issuer', 'dso'];
const LOGGED_IN: readonly Role[] = [...STAFF, 'member'];

const isStaff = (s: Session | undefined) => s !== undefined && s.roles.some((r) => STAFF.includes(r));

/** holderFor: whose data a request reads. A member reads their own only; staff anyone's (or, with `all`, everyone's). */
function holderFor(session: Session | undefined, asked: string | undefined, all: boolean): string | undefined {
  if (!session) throw new OpenlecError('E_AUTH', 'this needs a token: POST /v1/auth/challenge, sign it, POST /v1/auth/token', { field: 'authorization' });
  if (isStaff(session)) return asked ?? (all ? undefined : session.key);
  if (asked !== undefined && asked !== session.key) throw new OpenlecError('E_FORBIDDEN', 'a member reads only their own certificates: needs the role operator, auditor, issuer or dso for another holder', { field: 'query.holder' });
  return session.key;
}

export function certificateRoutes(ledger: LedgerStore): Route[] {
  const month = MONTH.extend({ holder: KEY.shape.key.optional() });
  return [
    {
      method: 'GET', url: '/v1/certificates/devices', operationId: 'listCertificateDevices', tags: ['certificates'], response: CERTIFICATE_DEVICES, summary: 'Production devices registered for certificates of origin (EECS fuel and technology codes, capacity, zone, grid area; no personal data): public.', access: 'public',
      handler: () => ([...ledger.state.rows('devices')] as DeviceRow[]).sort((a, b) => (a.device < b.device ? -1 : 1))
        .map((d) => ({ device: d.device, meter: d.meter, owner: d.owner, fuel: d.fuel, technology: d.technology, capacityW: d.capacityW, commissioned: d.commissioned, zone: d.zone, gridArea: d.gridArea, support: d.support === 1, entry: d.entry })),
    },
    {
      method: 'GET', url: '/v1/certificates/months', operationId: 'listCertificateMonths', tags: ['certificates'], response: CERTIFICATE_MONTHS, summary: 'Months with certificates, oldest first, with the totals by status and whether the month was settled (aggregates: public).', access: 'public',
      handler: () => {
        const months = new Set<string>();
        // From the rows' keys: the rows themselves may be kept deflated.
        for (const key of ledger.state.keys('certificates')) months.add(certKeyDate(key).slice(0, 7));
        return [...months].sort().map((m) => {
          const settled = ledger.state.get<{ settled: { entry: number } | null }>('certificate_months', m)?.settled ?? null;
          return { month: m, ...totals(ledger.state, m), settledEntry: settled ? settled.entry : null };
        });
      },
    },
    {
      method: 'GET', url: '/v1/certificates', operationId: 'listCertificates', tags: ['certificates'], response: CERTIFICATE_BUNDLES, summary: 'Live certificate bundles of a month (1 Wh each, ID ranges), each with its lineage hash and the log entries to prove with /v1/proofs/{entry}. A member sees only their own; operator, auditor, issuer and DSO see all or one holder\'s.', access: { roles: LOGGED_IN },
      query: month,
      handler: ({ query, session }) => bundles(ledger.state, query.month, holderFor(session, query.holder, true)),
    },
    {
      method: 'GET', url: '/v1/certificates/origin', operationId: 'getCertificateOrigin', tags: ['certificates'], response: CERTIFICATE_ORIGIN, summary: '"Where did my energy come from": the holder\'s consumption per local clock hour of a month and the Wh of it matched by claimed certificates, by technology (the rest came from the grid). The logged-in member\'s own; staff may name a holder.', access: { roles: LOGGED_IN },
      query: month,
      handler: ({ query, session }) => {
        const holder = holderFor(session, query.holder, false)!;
        return { month: query.month, holder, hours: origin(ledger.state, query.month, holder), matching: matching(ledger.state, query.month, holder) };
      },
    },
    {
      method: 'GET', url: '/v1/certificates/matching', operationId: 'getCertificateMatching', tags: ['certificates'], response: MATCHING, summary: 'Matching scores of a month in ppm, hourly (24/7) against monthly: the whole community (public), or with holder= one member (that member or staff).', access: 'public',
      query: month,
      handler: ({ query, session }) => matching(ledger.state, query.month, query.holder === undefined ? undefined : holderFor(session, query.holder, false)),
    },
    {
      method: 'GET', url: '/v1/certificates/export', operationId: 'exportCertificates', tags: ['certificates'], response: CERTIFICATE_EXPORT, alsoText: { contentType: 'text/csv', when: 'for format=eecs-csv: the EECS rows, one a line' }, example: CERTIFICATE_EXPORT_EXAMPLE, summary: 'Registry export of a month: EECS guarantees of origin (whole MWh per device, remainder carried) as JSON or CSV, or the bundles shaped as EnergyTag granular certificates.', access: { roles: STAFF },
      query: MONTH.extend({ format: z.enum(['eecs-json', 'eecs-csv', 'energytag']).default('eecs-json') }),
      handler: ({ query, reply }) => {
        if (query.format === 'energytag') return energyTagBundles(ledger.state, bundles(ledger.state, query.month));
        const rows = eecsExport(ledger.state, query.month);
        if (query.format === 'eecs-json') return rows;
        reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="eecs-${query.month}.csv"`);
        return eecsCsv(rows);
      },
    },
  ];
}
