import { randomBytes } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { community, participant } from '../community/tables.ts';
import { OpenlecError } from '../errors.ts';
import type { AssetRow, RequestRow } from '../flex/tables.ts';
import { decodeEntry } from '../ledger/index.ts';
import type { MeterRow } from '../metering/meter-register.ts';
import type { FeederRow } from '../network/feeder-define.ts';
import type { Role } from '../state/registry.ts';
import type { LedgerStore } from '../store/ledger-store.ts';
import { formatInstant, parseInstant } from '../units/index.ts';
import type { Auth, Session } from './auth.ts';
import type { EventHub } from './events.ts';
import { failureOf } from './failures.ts';
import {
  BASE, LIST_QUERY, OBJECT_ID, OBJECTS_QUERY, type ObjectType, type Operation, PROGRAM, REPORT, RESOURCE, type Report, SUBSCRIPTION, type Subscription, VEN, type ValuesMap,
} from './openadr-schemas.ts';
import { OpenAdrStore, type Stored, type StoredKind } from './openadr-store.ts';
import { allow, parseRequest, type Route } from './route.ts';
import { ADR_EVENT, ADR_PROGRAM, ADR_REPORT, ADR_RESOURCE, ADR_SUBSCRIPTION, ADR_VEN } from './responses.ts';

/**
 * An OpenADR 3.0.1 VTN (subset) over the community's log, at /openadr3/3.0.1.
 *
 * - Events are the DSO's congestion requests: each `flex.request` in the log (a signed
 *   transaction sent to POST /v1/transactions, like every write) is served as an event of
 *   the community's built-in program `flex`, with one interval per ISP carrying the
 *   feeder's IMPORT_CAPACITY_LIMIT (reduce-import) or EXPORT_CAPACITY_LIMIT (reduce-export)
 *   in kW, targeted at the feeder and the flexible assets behind it. Events are read-only
 *   here: the log is their source of truth.
 * - Programs (besides `flex`, derived from the log), VENs and resources, reports and
 *   subscriptions are kept off the log (openadr-store.ts). Reports are informative only:
 *   settlement rests on the DSO's meter data in the log, never on what a VEN reports.
 * - Notifications {objectType, operation, object, targets} go to subscriptions' webhooks
 *   (POST, http/https, 5 s timeout, no redirects, three attempts then logged and dropped)
 *   and to a server-sent event stream, GET /openadr3/3.0.1/notifications, for VENs that
 *   cannot be reached (behind NAT).
 *
 * Authentication is the API's: a bearer token from POST /v1/auth/challenge and
 * /v1/auth/token. The business logic (BL) is a DSO or the operator; a VEN is a member or an
 * aggregator, whose clientName is its participant key. Errors are OpenADR `problem` objects.
 */
export const FLEX_PROGRAM_ID = 'flex';
export const FLEX_PROGRAM_NAME = 'openlec-flex';

const BL: readonly Role[] = ['dso', 'operator'];
const VENS: readonly Role[] = ['member', 'aggregator'];
/** Who may read: BL, VENs, and the auditor (read only). */
const READERS: readonly Role[] = [...BL, ...VENS, 'auditor'];
const MAX_STREAMS = 1000;
const WEBHOOK_TIMEOUT_MS = 5000;
/** Delays before the second and third attempt of a webhook; after the third failure it is logged and dropped. */
const RETRY_DELAYS_MS = [1000, 5000];

/** ISO 3166-1 alpha-2 country of a community's time zone, for the program; null when not listed. */
const COUNTRIES: Record<string, string> = {
  'Europe/Paris': 'FR', 'Europe/Amsterdam': 'NL', 'Europe/Brussels': 'BE', 'Europe/Berlin': 'DE', 'Europe/Luxembourg': 'LU', 'Europe/Zurich': 'CH', 'Europe/Vienna': 'AT',
  'Europe/Madrid': 'ES', 'Europe/Lisbon': 'PT', 'Europe/Rome': 'IT', 'Europe/London': 'GB', 'Europe/Dublin': 'IE', 'Europe/Copenhagen': 'DK', 'Europe/Stockholm': 'SE',
  'Europe/Oslo': 'NO', 'Europe/Helsinki': 'FI', 'Europe/Warsaw': 'PL', 'Europe/Prague': 'CZ', 'Europe/Athens': 'GR', 'Europe/Tallinn': 'EE', 'Europe/Riga': 'LV',
  'Europe/Vilnius': 'LT', 'Europe/Budapest': 'HU', 'Europe/Bucharest': 'RO', 'Europe/Sofia': 'BG', 'Europe/Ljubljana': 'SI', 'Europe/Zagreb': 'HR', 'Europe/Bratislava': 'SK',
};

/** Status of the VTN's own refusals; the rest follow failures.ts (a 422 rule of the log becomes 400). */
const STATUS: Record<string, number> = { E_EVENTS_FROM_LOG: 405, E_BUILTIN_PROGRAM: 403, E_BAD_RESOURCE: 400, E_BAD_REPORT: 400, E_CLIENT_NAME: 403 };

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  /** openlec's extension members: the stable error code and the field at fault. */
  code: string;
  field: string | null;
}

/** PROBLEM: an OpenADR refusal (RFC 7807 problem details, the spec's `problem`), for the document and the contract check. */
export const PROBLEM = z.strictObject({
  type: z.string(), title: z.string(), status: z.number().int().min(400).max(599), detail: z.string(),
  code: z.string().regex(/^E_[A-Z0-9_]+$/).describe('openlec extension: the stable error code'),
  field: z.string().nullable().describe('openlec extension: the request part at fault'),
});

/** EVENT_WRITE_REFUSED: the only answer of POST, PUT and DELETE on events (events come from the log's flex.request entries). */
export const EVENT_WRITE_REFUSED = PROBLEM.extend({
  status: z.literal(405), title: z.literal('Method Not Allowed'), code: z.literal('E_EVENTS_FROM_LOG'), field: z.literal('method'),
}).describe('Refused: events are read-only (the Allow header says GET)');

const EVENT_WRITE_REFUSED_EXAMPLE: z.output<typeof EVENT_WRITE_REFUSED> = {
  type: 'about:blank', title: 'Method Not Allowed', status: 405, code: 'E_EVENTS_FROM_LOG', field: 'method',
  detail: 'events are read-only here: a congestion request is a signed flex.request transaction sent by the DSO to POST /v1/transactions; it appears here as an event once appended to the log',
};

export function problemOf(e: Error): Problem {
  const f = failureOf(e);
  const mapped = e instanceof OpenlecError ? STATUS[e.code] : undefined;
  const status = mapped ?? (f.status === 422 ? 400 : f.status);
  return { type: 'about:blank', title: STATUS_CODES[status] ?? 'Error', status, detail: f.message, code: f.code, field: f.field };
}

export interface Notification {
  objectType: ObjectType;
  operation: Operation;
  object: Record<string, unknown>;
  targets: ValuesMap[] | null;
}
/** Who may see a notification: `owner` null means every reader; `program` the program it concerns, if any. */
interface Scope { program: string | null; owner: string | null }
/** `valid` judges the stream's credential again before each delivery: a revoked or expired API key, or an expired token, ends the stream. */
interface Stream { session: Session; programID?: string; objects?: ObjectType[]; send(n: Notification): boolean; valid(): boolean; end(): void }

export interface OpenAdrDeps {
  ledger: LedgerStore;
  events: EventHub;
  now: () => number;
  /** The off-log store; by default a file beside the log (`<log>.openadr.db`), or in memory for an in-memory log or a replica. */
  store?: OpenAdrStore;
  /** A replica: events and programs are served, off-log writes refused. */
  readOnly?: boolean;
}

type List = z.infer<typeof LIST_QUERY>;
const page = <T>(items: T[], q: List) => items.slice(q.skip, q.skip + q.limit);
const matchesTargets = (targets: unknown, type?: string, values?: string[]) => {
  if (type === undefined && (values === undefined || values.length === 0)) return true;
  return ((targets as ValuesMap[] | null | undefined) ?? []).some((t) => (type === undefined || t.type === type) && (values === undefined || values.length === 0 || t.values.some((v) => values.includes(String(v)))));
};
const idOf = (kind: string) => `${kind}-${randomBytes(9).toString('base64url')}`;
const forbidden = (message: string, field = 'authorization') => new OpenlecError('E_FORBIDDEN', message, { field });
const notFound = (what: string, id: string, field: string) => new OpenlecError('E_NOT_FOUND', `no ${what} ${id}`, { field });

/** durationOf writes minutes as an ISO 8601 duration (PT30M, PT1H, -PT5H, PT0S). */
export function durationOf(minutes: number): string {
  if (minutes === 0) return 'PT0S';
  const sign = minutes < 0 ? '-' : '';
  const m = Math.abs(minutes);
  return `${sign}PT${m >= 60 ? `${Math.floor(m / 60)}H` : ''}${m % 60 ? `${m % 60}M` : ''}`;
}

/** standardOffsetMinutes: the zone's offset from UTC in standard time (the smaller of January's and July's), in the given year. */
function standardOffsetMinutes(timeZone: string, year: number): number {
  const at = (month: number) => {
    const name = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' }).formatToParts(Date.UTC(year, month, 15)).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
    const m = /GMT([+-])(\d{2}):(\d{2})/.exec(name);
    return m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
  };
  return Math.min(at(0), at(6));
}

export class OpenAdr {
  readonly store: OpenAdrStore;
  private readonly ownsStore: boolean;
  private readonly streams = new Set<Stream>();
  /** Requests seen and their status, to announce new events (POST) and revoked ones (DELETE). */
  private readonly seen = new Map<string, string>();
  private readonly issuedAt = new Map<number, string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<AbortController>();
  private readonly offHub: () => void;
  private closed = false;
  /** The announcements of new and revoked events, one after the other, in log order. */
  private announcing: Promise<void> = Promise.resolve();
  private log: (message: string, data: Record<string, unknown>) => void = () => {};

  constructor(private readonly d: OpenAdrDeps) {
    const file = d.ledger.sidePath;
    this.ownsStore = d.store === undefined;
    this.store = d.store ?? OpenAdrStore.open(d.readOnly || file === undefined ? ':memory:' : `${file}.openadr.db`);
    for (const r of this.requests()) this.seen.set(r.request, r.status);
    this.offHub = d.events.on((e) => {
      if (e.event !== 'entry' || !String(e.data.type).startsWith('flex.')) return;
      // The entry is appended whatever happens here: a failure to announce it is logged, never the writer's error.
      this.announcing = this.announcing.then(() => this.syncEvents()).catch((err: unknown) => {
        this.log('openadr: announcing events failed', { entry: e.data.entry, error: (err as Error).message });
      });
    });
  }

  // ---- the log's side: program and events ------------------------------------------

  private hasTable(name: string): boolean {
    return this.d.ledger.registry.tables.some((t) => t.name === name);
  }

  private rows<R>(table: string): R[] {
    return this.hasTable(table) ? [...this.d.ledger.state.rows(table)] as unknown as R[] : [];
  }

  private requests(): RequestRow[] {
    return this.rows<RequestRow>('flex_requests').sort((a, b) => a.entry - b.entry);
  }

  /** loadTimes reads the issuedAt of the requests' entries that entryTime does not know yet. */
  private async loadTimes(rows: readonly RequestRow[]): Promise<void> {
    const missing = [...new Set(rows.map((r) => r.entry).filter((entry) => !this.issuedAt.has(entry)))];
    const times = await Promise.all(missing.map(async (entry) => decodeEntry(await this.d.ledger.readEntry(entry)).tx.issuedAt));
    missing.forEach((entry, i) => this.issuedAt.set(entry, times[i]!));
  }

  /** entryTime: the issuedAt of a request's entry, read by loadTimes beforehand. */
  private entryTime(entry: number): string {
    const t = this.issuedAt.get(entry);
    if (t === undefined) throw new OpenlecError('E_INTERNAL', `the time of entry ${entry} was not read`, { field: 'entry' });
    return t;
  }

  private community() {
    const c = community(this.d.ledger.state);
    if (!c) throw new OpenlecError('E_NOT_FOUND', 'the log has no community yet', { field: 'community' });
    return c;
  }

  /** The community's flexibility program, derived from the log. */
  flexProgram(): Record<string, unknown> {
    const c = this.community();
    return {
      id: FLEX_PROGRAM_ID, createdDateTime: c.createdAt, modificationDateTime: c.createdAt, objectType: 'PROGRAM',
      programName: FLEX_PROGRAM_NAME, programLongName: `${c.name}: DSO flexibility (congestion management)`, retailerName: c.id, retailerLongName: c.name,
      programType: 'CONGESTION_MANAGEMENT', country: COUNTRIES[c.timeZone] ?? null, principalSubdivision: null,
      timeZoneOffset: durationOf(standardOffsetMinutes(c.timeZone, Number(c.createdAt.slice(0, 4)))),
      intervalPeriod: { start: c.createdAt, duration: durationOf(c.intervalMinutes) },
      programDescriptions: null, bindingEvents: true, localPrice: false,
      payloadDescriptors: [
        { objectType: 'EVENT_PAYLOAD_DESCRIPTOR', payloadType: 'IMPORT_CAPACITY_LIMIT', units: 'KW', currency: null },
        { objectType: 'EVENT_PAYLOAD_DESCRIPTOR', payloadType: 'EXPORT_CAPACITY_LIMIT', units: 'KW', currency: null },
        { objectType: 'REPORT_PAYLOAD_DESCRIPTOR', payloadType: 'USAGE', readingType: 'DIRECT_READ', units: 'KWH', accuracy: null, confidence: null },
        { objectType: 'REPORT_PAYLOAD_DESCRIPTOR', payloadType: 'BASELINE', readingType: 'ESTIMATED', units: 'KWH', accuracy: null, confidence: null },
      ],
      targets: null,
    };
  }

  /** The feeder and every feeder under it. */
  private subtree(feeder: string): Set<string> {
    const children = new Map<string, string[]>();
    for (const f of this.rows<FeederRow>('feeders')) if (f.parent !== null) children.set(f.parent, [...(children.get(f.parent) ?? []), f.id]);
    const out = new Set<string>([feeder]);
    const todo = [feeder];
    while (todo.length > 0) for (const c of children.get(todo.pop()!) ?? []) if (!out.has(c)) { out.add(c); todo.push(c); }
    return out;
  }

  /** Asset ids (flex_assets) whose meter hangs on the feeder or below it, sorted. */
  private assetsOn(feeder: string): string[] {
    const feeders = this.subtree(feeder);
    const meters = new Set(this.rows<MeterRow>('meters').filter((m) => m.feeder !== null && feeders.has(m.feeder)).map((m) => m.meter));
    return this.rows<AssetRow>('flex_assets').filter((a) => meters.has(a.meter)).map((a) => a.asset).sort();
  }

  /**
   * The limit (W) in force on a feeder at an interval in the request's direction: the latest
   * feeder.limit covering the interval, else the feeder's standing limit (market/book.ts
   * networkAt does the same); a feeder without one is bounded by its nearest ancestor that
   * has one. Null when no feeder up to the root has a limit.
   */
  private limitInForce(feeder: string, iso: string, importing: boolean): number | null {
    const overrides = this.rows<{ feeder: string; from: string; to: string; importLimitW: number | null; exportLimitW: number | null; entry: number }>('feeder_limits');
    for (let id: string | null = feeder; id !== null;) {
      const f: FeederRow | undefined = this.d.ledger.state.get<FeederRow>('feeders', id);
      if (!f) return null;
      const o = overrides.filter((r) => r.feeder === id && r.from <= iso && iso < r.to).sort((a, b) => b.entry - a.entry)[0];
      const l = o ?? f;
      const w = importing ? l.importLimitW : l.exportLimitW;
      if (w !== null) return w;
      id = f.parent;
    }
    return null;
  }

  /**
   * event maps a flex.request to an OpenADR event. Each ISP i becomes interval i with the
   * feeder's capacity limit the DSO wants respected, in kW (W / 1000, exact decimal):
   * - with the DSO's forecast F[i] of the request's feeder (W, positive = consumption),
   *   the net power after the least flexibility that solves the congestion, the ISP's bound
   *   nearest zero (UFTP sign: maxW ≤ 0 for reduce-import, minW ≥ 0 for reduce-export):
   *   IMPORT_CAPACITY_LIMIT = max(0, F[i] + maxW), EXPORT_CAPACITY_LIMIT = max(0, −(F[i] + minW));
   * - without a forecast of the feeder, the feeder's limit in force at the interval
   *   (limitInForce), and no payload at all when no limit is defined anywhere above it.
   * Everything comes from the log, so the same log always yields the same event.
   * The time of its entry is read beforehand (loadTimes): `events` and `findEvent` do.
   */
  private event(r: RequestRow): Record<string, unknown> {
    const c = this.community();
    const importing = r.direction === 'reduce-import';
    const type = importing ? 'IMPORT_CAPACITY_LIMIT' : 'EXPORT_CAPACITY_LIMIT';
    const duration = durationOf(c.intervalMinutes);
    const start = parseInstant(r.start, 'start');
    const forecast = r.forecast.find((f) => f.feeder === r.feeder)?.W;
    const intervals = r.isps.map((isp, i) => {
      const at = formatInstant(start + i * c.intervalMinutes * 60_000);
      let limitW: number | null;
      const f = forecast?.[i];
      if (f !== undefined) limitW = importing ? Math.max(0, f + isp.maxW) : Math.max(0, -(f + isp.minW));
      else limitW = this.limitInForce(r.feeder, at, importing);
      return { id: i, intervalPeriod: { start: at, duration }, payloads: limitW === null ? [] : [{ type, values: [limitW / 1000] }] };
    });
    const targets = [{ type: 'FEEDER', values: [r.feeder] }, { type: 'RESOURCE_NAME', values: this.assetsOn(r.feeder) }];
    const report = (payloadType: string, readingType: string) => ({
      payloadType, readingType, units: 'KWH', targets: null, aggregate: false, startInterval: -1, numIntervals: -1, historical: true, frequency: -1, repeat: 1,
    });
    const created = this.entryTime(r.entry);
    return {
      id: r.request, createdDateTime: created, modificationDateTime: created, objectType: 'EVENT', programID: FLEX_PROGRAM_ID,
      eventName: `congestion on ${r.feeder}: ${r.direction} from ${r.start}`, priority: null, targets,
      reportDescriptors: [report('USAGE', 'DIRECT_READ'), report('BASELINE', 'ESTIMATED')],
      payloadDescriptors: [{ objectType: 'EVENT_PAYLOAD_DESCRIPTOR', payloadType: type, units: 'KW', currency: null }],
      intervalPeriod: { start: r.start, duration }, intervals,
    };
  }

  /** Live events: every request not revoked, in log order. */
  private async events(): Promise<Record<string, unknown>[]> {
    const live = this.requests().filter((r) => r.status !== 'revoked');
    await this.loadTimes(live);
    return live.map((r) => this.event(r));
  }

  private async findEvent(id: string): Promise<Record<string, unknown> | undefined> {
    const r = this.hasTable('flex_requests') ? this.d.ledger.state.get<RequestRow>('flex_requests', id) : undefined;
    if (!r || r.status === 'revoked') return undefined;
    await this.loadTimes([r]);
    return this.event(r);
  }

  /** syncEvents announces requests appended since last time (POST) and requests revoked (DELETE); one runs at a time (`announcing`). */
  private async syncEvents(): Promise<void> {
    const changes: { r: RequestRow; operation: Operation }[] = [];
    for (const r of this.requests()) {
      const before = this.seen.get(r.request);
      this.seen.set(r.request, r.status);
      if (before === undefined && r.status !== 'revoked') changes.push({ r, operation: 'POST' });
      else if (before !== undefined && before !== 'revoked' && r.status === 'revoked') changes.push({ r, operation: 'DELETE' });
    }
    if (changes.length === 0) return;
    await this.loadTimes(changes.map((c) => c.r));
    for (const { r, operation } of changes) this.notify('EVENT', operation, this.event(r), { program: FLEX_PROGRAM_ID, owner: null });
  }

  // ---- off-log objects ---------------------------------------------------------------

  private program(id: string): Record<string, unknown> | undefined {
    return id === FLEX_PROGRAM_ID ? this.flexProgram() : this.store.get('program', id)?.object;
  }

  private writable(): void {
    if (this.d.readOnly) throw new OpenlecError('E_READ_ONLY', 'this is a read-only replica: write to the operator\'s VTN', { field: 'url' });
  }

  private stamp(kind: StoredKind, type: ObjectType, body: Record<string, unknown>, before?: Stored): Record<string, unknown> {
    const now = new Date(this.d.now()).toISOString();
    const { id: _id, createdDateTime: _c, modificationDateTime: _m, objectType: _t, ...fields } = body;
    return { id: before?.id ?? idOf(kind), createdDateTime: before?.object.createdDateTime ?? now, modificationDateTime: now, objectType: type, ...fields };
  }

  private seesAll(s: Session | undefined): boolean {
    return s !== undefined && s.roles.some((r) => BL.includes(r) || r === 'auditor');
  }

  private isBL(s: Session | undefined): boolean {
    return s !== undefined && s.roles.some((r) => BL.includes(r));
  }

  /** own: the stored object if the session may read it (everyone's for BL and auditor, else their own). */
  private own(kind: StoredKind, id: string, s: Session | undefined, write: boolean, field: string): Stored {
    const o = this.store.get(kind, id);
    if (!o) throw notFound(kind, id, field);
    const may = o.owner === s?.key || (write ? kind !== 'report' && this.isBL(s) : this.seesAll(s));
    if (!may) throw forbidden(`this ${kind} belongs to another participant`, field);
    return o;
  }

  /** A VEN may name as resource an asset it owns or that was delegated to it (asset.register). */
  private checkResource(key: string, name: string, field: string): void {
    const a = this.hasTable('flex_assets') ? this.d.ledger.state.get<AssetRow>('flex_assets', name) : undefined;
    if (!a || (a.owner !== key && a.aggregator !== key)) {
      throw new OpenlecError('E_BAD_RESOURCE', `${field}: "${name}" is not a flexible asset you own or that was delegated to you (register it with an asset.register transaction)`, { field });
    }
  }

  private resourceObject(ven: string, body: z.infer<typeof RESOURCE>, key: string, field: string, before?: Stored): Stored {
    this.checkResource(key, body.resourceName, field);
    const { venID: _v, ...rest } = body;
    const object = this.stamp('resource', 'RESOURCE', { ...rest, venID: ven }, before);
    return { kind: 'resource', id: object.id as string, parent: ven, name: body.resourceName, owner: key, program: null, object };
  }

  private ven(o: Stored): Record<string, unknown> {
    return { ...o.object, resources: this.store.list('resource', o.id).map((r) => r.object) };
  }

  /** checkReport: the program and event exist and match, clientName is the caller's key, every resource is one the event targets and the caller speaks for. */
  private async checkReport(body: Report, s: Session): Promise<void> {
    if (body.clientName !== s.key) throw new OpenlecError('E_CLIENT_NAME', `body.clientName must be your participant key (${s.key})`, { field: 'body.clientName' });
    if (!this.program(body.programID)) throw new OpenlecError('E_NOT_FOUND', `no program ${body.programID}`, { field: 'body.programID' });
    const event = await this.findEvent(body.eventID);
    if (!event) throw new OpenlecError('E_NOT_FOUND', `no event ${body.eventID}`, { field: 'body.eventID' });
    if (event.programID !== body.programID) throw new OpenlecError('E_BAD_REPORT', `event ${body.eventID} belongs to program ${event.programID as string}`, { field: 'body.programID' });
    const targeted = new Set((event.targets as ValuesMap[]).find((t) => t.type === 'RESOURCE_NAME')?.values.map(String) ?? []);
    body.resources.forEach((r, i) => {
      if (r.resourceName === 'AGGREGATED_REPORT') return;
      const field = `body.resources.${i}.resourceName`;
      this.checkResource(s.key, r.resourceName, field);
      if (!targeted.has(r.resourceName)) throw new OpenlecError('E_BAD_REPORT', `${field}: event ${body.eventID} does not target "${r.resourceName}"`, { field });
    });
  }

  private checkSubscription(body: Subscription, s: Session): void {
    if (body.clientName !== s.key) throw new OpenlecError('E_CLIENT_NAME', `body.clientName must be your participant key (${s.key})`, { field: 'body.clientName' });
    if (!this.program(body.programID)) throw new OpenlecError('E_NOT_FOUND', `no program ${body.programID}`, { field: 'body.programID' });
  }

  /** A subscription as its reader may see it: the bearer token for the callback is its owner's secret. */
  private subscriptionFor(o: Stored, s: Session | undefined): Record<string, unknown> {
    if (o.owner === s?.key) return o.object;
    const ops = (o.object.objectOperations as Record<string, unknown>[]).map((op) => ({ ...op, bearerToken: op.bearerToken ? '(hidden)' : null }));
    return { ...o.object, objectOperations: ops };
  }

  // ---- notifications -----------------------------------------------------------------

  private mayDeliver(ownerKey: string, roles: readonly Role[], scope: Scope): boolean {
    return scope.owner === null || scope.owner === ownerKey || roles.some((r) => BL.includes(r) || r === 'auditor');
  }

  /** notify sends a notification to the matching subscriptions' webhooks and to the open streams that may see it. */
  notify(objectType: ObjectType, operation: Operation, object: Record<string, unknown>, scope: Scope): void {
    if (this.closed) return;
    const n: Notification = { objectType, operation, object, targets: (object.targets as ValuesMap[] | null | undefined) ?? null };
    for (const stream of this.streams) {
      if (!stream.valid()) {
        this.streams.delete(stream);
        stream.end();
        continue;
      }
      if (!this.mayDeliver(stream.session.key, stream.session.roles, scope)) continue;
      if (stream.objects && !stream.objects.includes(objectType)) continue;
      if (stream.programID !== undefined && scope.program !== null && stream.programID !== scope.program) continue;
      if (!stream.send(n)) this.streams.delete(stream);
    }
    for (const sub of this.store.list('subscription')) {
      const roles = participant(this.d.ledger.state, sub.owner)?.roles ?? [];
      if (!this.mayDeliver(sub.owner, roles, scope)) continue;
      if (scope.program !== null && sub.program !== scope.program) continue;
      const subTargets = (sub.object.targets as ValuesMap[] | null | undefined) ?? [];
      if (subTargets.length > 0 && n.targets && n.targets.length > 0 && !subTargets.some((t) => matchesTargets(n.targets, t.type, t.values.map(String)))) continue;
      const urls = new Map<string, string | null>();
      for (const op of (sub.object as Subscription).objectOperations) {
        if (op.objects.includes(objectType) && op.operations.includes(operation)) urls.set(op.callbackUrl, op.bearerToken ?? null);
      }
      for (const [url, token] of urls) void this.deliver(url, token, n, sub.id, 0);
    }
  }

  /** deliver POSTs a notification to a webhook: 5 s timeout, no redirect followed, a 2xx expected; three attempts, then logged and dropped. */
  private async deliver(url: string, token: string | null, n: Notification, subscription: string, attempt: number): Promise<void> {
    if (this.closed) return;
    const ctl = new AbortController();
    this.inFlight.add(ctl);
    const timer = setTimeout(() => ctl.abort(new Error(`no answer within ${WEBHOOK_TIMEOUT_MS} ms`)), WEBHOOK_TIMEOUT_MS);
    try {
      if (!/^https?:$/.test(new URL(url).protocol)) throw new Error('callbackUrl is not http or https');
      const res = await fetch(url, {
        method: 'POST', redirect: 'manual', signal: ctl.signal, body: JSON.stringify(n),
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      });
      await res.body?.cancel();
      if (res.status < 200 || res.status >= 300) throw new Error(`answered ${res.status}${res.status >= 300 && res.status < 400 ? ' (redirects are not followed)' : ''}`);
    } catch (e) {
      const delay = RETRY_DELAYS_MS[attempt];
      this.log(delay === undefined ? 'openadr webhook failed; dropped' : 'openadr webhook failed; will retry', { url, subscription, attempt: attempt + 1, objectType: n.objectType, operation: n.operation, error: (e as Error).message });
      if (delay !== undefined && !this.closed) {
        const t = setTimeout(() => {
          this.timers.delete(t);
          void this.deliver(url, token, n, subscription, attempt + 1);
        }, delay);
        t.unref();
        this.timers.add(t);
      }
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(ctl);
    }
  }

  // ---- HTTP --------------------------------------------------------------------------

  /** errorHandler wraps the app's error handler: under the OpenADR base path, errors are problem objects. */
  errorHandler(fallback: (e: Error, req: FastifyRequest, reply: FastifyReply) => unknown) {
    return (e: Error, req: FastifyRequest, reply: FastifyReply) => (req.url.startsWith(`${BASE}/`) ? this.problem(e, req, reply) : fallback(e, req, reply));
  }

  /** notFoundHandler wraps the app's not-found handler likewise. */
  notFoundHandler(fallback: (req: FastifyRequest, reply: FastifyReply) => unknown) {
    return (req: FastifyRequest, reply: FastifyReply) => (req.url.startsWith(`${BASE}/`)
      ? this.problem(new OpenlecError('E_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`, { field: 'url' }), req, reply)
      : fallback(req, reply));
  }

  private problem(e: Error, req: FastifyRequest, reply: FastifyReply) {
    const p = problemOf(e);
    if (p.status >= 500) req.log.error({ err: e, code: p.code }, `${req.method} ${req.url}: ${p.code}: ${e.message}`);
    if (p.status === 405) reply.header('allow', 'GET');
    if (p.status === 503) reply.header('retry-after', '1');
    return reply.status(p.status).type('application/json').send(p);
  }

  /** attach registers the notification stream, the logger and the cleanup on close. */
  attach(app: FastifyInstance, auth: Auth): void {
    this.log = (message, data) => app.log.warn(data, message);
    const query = z.object({ programID: OBJECT_ID.optional(), objects: OBJECTS_QUERY });
    app.get(`${BASE}/notifications`, (req, reply) => {
      const authorization = req.headers.authorization;
      const session = auth.session(authorization, this.d.ledger.state);
      allow({ roles: READERS }, session, {});
      const q = parseRequest(query, req.query, 'query') as z.infer<typeof query>;
      if (this.streams.size >= MAX_STREAMS) throw new OpenlecError('E_BUSY', `${this.streams.size} notification streams are open`);
      reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      reply.raw.write(': OpenADR 3.0.1 notifications {objectType, operation, object, targets}\n\n');
      const stream: Stream = {
        session: session!, ...(q.programID !== undefined ? { programID: q.programID } : {}), ...(q.objects ? { objects: q.objects } : {}),
        send: (n) => reply.raw.write(`event: notification\ndata: ${JSON.stringify(n)}\n\n`),
        valid: () => {
          try {
            return auth.session(authorization, this.d.ledger.state) !== undefined;
          } catch {
            return false;
          }
        },
        end: () => reply.raw.end(),
      };
      this.streams.add(stream);
      req.raw.on('close', () => this.streams.delete(stream));
    });
    app.addHook('onClose', async () => this.close());
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.offHub();
    for (const t of this.timers) clearTimeout(t);
    for (const c of this.inFlight) c.abort(new Error('the server is closing'));
    this.streams.clear();
    if (this.ownsStore) this.store.close();
  }

  routes(): Route[] {
    const list = LIST_QUERY;
    const programParam = z.object({ programID: OBJECT_ID });
    const eventParam = z.object({ eventID: OBJECT_ID });
    const reportParam = z.object({ reportID: OBJECT_ID });
    const subParam = z.object({ subscriptionID: OBJECT_ID });
    const venParam = z.object({ venID: OBJECT_ID });
    const resourceParam = venParam.extend({ resourceID: OBJECT_ID });
    const readOnlyEvents = () => {
      throw new OpenlecError('E_EVENTS_FROM_LOG', 'events are read-only here: a congestion request is a signed flex.request transaction sent by the DSO to POST /v1/transactions; it appears here as an event once appended to the log', { field: 'method' });
    };
    const refused = { access: 'public', status: 405, response: EVENT_WRITE_REFUSED, example: EVENT_WRITE_REFUSED_EXAMPLE, handler: readOnlyEvents } as const;
    const builtin = (id: string) => {
      if (id === FLEX_PROGRAM_ID) throw new OpenlecError('E_BUILTIN_PROGRAM', `program ${FLEX_PROGRAM_ID} is derived from the log (community and flex.request entries) and cannot be changed here`, { field: 'params.programID' });
    };
    const programRecord = (body: z.infer<typeof PROGRAM>, s: Session, before?: Stored): Stored => {
      if (body.programName === FLEX_PROGRAM_NAME) throw new OpenlecError('E_PROGRAM_EXISTS', `a program named "${FLEX_PROGRAM_NAME}" exists already (the built-in one)`, { field: 'body.programName' });
      const object = this.stamp('program', 'PROGRAM', body, before);
      return { kind: 'program', id: object.id as string, parent: '', name: body.programName, owner: before?.owner ?? s.key, program: null, object };
    };
    const venOf = (id: string, s: Session | undefined, write: boolean) => this.own('ven', id, s, write, 'params.venID');
    const resourceOf = (venID: string, id: string, s: Session | undefined, write: boolean) => {
      venOf(venID, s, write);
      const r = this.store.get('resource', id);
      if (!r || r.parent !== venID) throw notFound('resource', id, 'params.resourceID');
      return r;
    };
    const write = <T>(f: () => T) => {
      this.writable();
      return f();
    };
    const table: Route[] = [
      // programs
      {
        method: 'GET', url: `${BASE}/programs`, operationId: 'searchAllPrograms', tags: ['openadr'], response: z.array(ADR_PROGRAM), summary: 'OpenADR programs: the community\'s flexibility program `flex` (from the log) and those a BL created. Filters targetType, targetValues, skip, limit (≤ 50).', access: { roles: READERS },
        query: list,
        handler: ({ query }) => page([this.flexProgram(), ...this.store.list('program').map((p) => p.object)].filter((p) => matchesTargets(p.targets, query.targetType, query.targetValues)), query),
      },
      {
        method: 'POST', url: `${BASE}/programs`, operationId: 'createProgram', tags: ['openadr'], response: ADR_PROGRAM, summary: 'Create a program (BL: dso or operator), kept off the log; 409 when the programName exists.', access: { roles: BL }, status: 201,
        body: PROGRAM,
        handler: ({ body, session }) => write(() => {
          const p = programRecord(body, session!);
          this.store.put(p);
          this.notify('PROGRAM', 'POST', p.object, { program: p.id, owner: null });
          return p.object;
        }),
      },
      {
        method: 'GET', url: `${BASE}/programs/:programID`, operationId: 'searchProgramByProgramId', tags: ['openadr'], response: ADR_PROGRAM, summary: 'An OpenADR program.', access: { roles: READERS },
        params: programParam,
        handler: ({ params }) => this.program(params.programID) ?? (() => { throw notFound('program', params.programID, 'params.programID'); })(),
      },
      {
        method: 'PUT', url: `${BASE}/programs/:programID`, operationId: 'updateProgram', tags: ['openadr'], response: ADR_PROGRAM, summary: 'Update a program a BL created (not `flex`, which the log defines).', access: { roles: BL },
        params: programParam, body: PROGRAM,
        handler: ({ params, body, session }) => write(() => {
          builtin(params.programID);
          const before = this.store.get('program', params.programID);
          if (!before) throw notFound('program', params.programID, 'params.programID');
          const p = programRecord(body, session!, before);
          this.store.put(p);
          this.notify('PROGRAM', 'PUT', p.object, { program: p.id, owner: null });
          return p.object;
        }),
      },
      {
        method: 'DELETE', url: `${BASE}/programs/:programID`, operationId: 'deleteProgram', tags: ['openadr'], response: ADR_PROGRAM, summary: 'Delete a program a BL created (not `flex`).', access: { roles: BL },
        params: programParam,
        handler: ({ params }) => write(() => {
          builtin(params.programID);
          const before = this.store.get('program', params.programID);
          if (!before) throw notFound('program', params.programID, 'params.programID');
          this.store.remove('program', before.id);
          this.notify('PROGRAM', 'DELETE', before.object, { program: before.id, owner: null });
          return before.object;
        }),
      },
      // events
      {
        method: 'GET', url: `${BASE}/events`, operationId: 'searchAllEvents', tags: ['openadr'], response: z.array(ADR_EVENT), summary: 'Events: the DSO\'s flex.request entries of the log, each with the feeder\'s IMPORT/EXPORT_CAPACITY_LIMIT (kW) per interval, targeted at the feeder and the assets behind it. Filters programID, targetType, targetValues, skip, limit (≤ 50).', access: { roles: READERS },
        query: list.extend({ programID: OBJECT_ID.optional() }),
        handler: async ({ query }) => page(query.programID !== undefined && query.programID !== FLEX_PROGRAM_ID ? [] : (await this.events()).filter((e) => matchesTargets(e.targets, query.targetType, query.targetValues)), query),
      },
      {
        method: 'GET', url: `${BASE}/events/:eventID`, operationId: 'searchEventsById', tags: ['openadr'], response: ADR_EVENT, summary: 'An event (a flex.request of the log, by its request id).', access: { roles: READERS },
        params: eventParam,
        handler: async ({ params }) => (await this.findEvent(params.eventID)) ?? (() => { throw notFound('event', params.eventID, 'params.eventID'); })(),
      },
      // Never a success: each answers the 405 problem, and the document says so (status 405, its schema).
      { method: 'POST', url: `${BASE}/events`, operationId: 'createEvent', tags: ['openadr'], summary: 'Refused (405): a congestion request is a signed flex.request transaction sent to POST /v1/transactions.', ...refused },
      { method: 'PUT', url: `${BASE}/events/:eventID`, operationId: 'updateEvent', tags: ['openadr'], summary: 'Refused (405): events come from the log\'s flex.request entries.', ...refused },
      { method: 'DELETE', url: `${BASE}/events/:eventID`, operationId: 'deleteEvent', tags: ['openadr'], summary: 'Refused (405): events come from the log\'s flex.request entries.', ...refused },
      // reports
      {
        method: 'GET', url: `${BASE}/reports`, operationId: 'searchAllReports', tags: ['openadr'], response: z.array(ADR_REPORT), summary: 'Reports (a VEN sees its own; BL and auditor all). Filters programID, eventID, clientName, skip, limit (≤ 50). Informative only: settlement uses the DSO\'s meter data in the log.', access: { roles: READERS },
        query: list.extend({ programID: OBJECT_ID.optional(), eventID: OBJECT_ID.optional(), clientName: z.string().min(1).max(128).optional() }),
        handler: ({ query, session }) => page(this.store.list('report').filter((r) => (this.seesAll(session) || r.owner === session!.key)
          && (query.programID === undefined || r.object.programID === query.programID) && (query.eventID === undefined || r.object.eventID === query.eventID)
          && (query.clientName === undefined || r.object.clientName === query.clientName)).map((r) => r.object), query),
      },
      {
        method: 'POST', url: `${BASE}/reports`, operationId: 'createReport', tags: ['openadr'], response: ADR_REPORT, summary: 'A VEN (member or aggregator) reports USAGE and BASELINE per interval for an event, for resources the event targets. Stored off the log and informative only: settlement rests on the DSO\'s meter data in the log, never on reports.', access: { roles: VENS }, status: 201,
        body: REPORT,
        handler: ({ body, session }) => write(async () => {
          await this.checkReport(body, session!);
          const object = this.stamp('report', 'REPORT', body);
          this.store.put({ kind: 'report', id: object.id as string, parent: '', name: null, owner: session!.key, program: body.programID, object });
          this.notify('REPORT', 'POST', object, { program: body.programID, owner: session!.key });
          return object;
        }),
      },
      {
        method: 'GET', url: `${BASE}/reports/:reportID`, operationId: 'searchReportsByReportId', tags: ['openadr'], response: ADR_REPORT, summary: 'A report (its VEN, BL or auditor).', access: { roles: READERS },
        params: reportParam,
        handler: ({ params, session }) => this.own('report', params.reportID, session, false, 'params.reportID').object,
      },
      {
        method: 'PUT', url: `${BASE}/reports/:reportID`, operationId: 'updateReport', tags: ['openadr'], response: ADR_REPORT, summary: 'Replace one\'s own report (informative only, like every report).', access: { roles: VENS },
        params: reportParam, body: REPORT,
        handler: ({ params, body, session }) => write(async () => {
          this.own('report', params.reportID, session, true, 'params.reportID');
          await this.checkReport(body, session!);
          // Read again after the check: the report as it is now (deleted meanwhile: 404).
          const before = this.own('report', params.reportID, session, true, 'params.reportID');
          const object = this.stamp('report', 'REPORT', body, before);
          this.store.put({ ...before, program: body.programID, object });
          this.notify('REPORT', 'PUT', object, { program: body.programID, owner: before.owner });
          return object;
        }),
      },
      {
        method: 'DELETE', url: `${BASE}/reports/:reportID`, operationId: 'deleteReport', tags: ['openadr'], response: ADR_REPORT, summary: 'Delete one\'s own report.', access: { roles: VENS },
        params: reportParam,
        handler: ({ params, session }) => write(() => {
          const before = this.own('report', params.reportID, session, true, 'params.reportID');
          this.store.remove('report', before.id);
          this.notify('REPORT', 'DELETE', before.object, { program: before.program, owner: before.owner });
          return before.object;
        }),
      },
      // subscriptions
      {
        method: 'GET', url: `${BASE}/subscriptions`, operationId: 'searchSubscriptions', tags: ['openadr'], response: z.array(ADR_SUBSCRIPTION), summary: 'Subscriptions (one\'s own; BL and auditor all, callback tokens hidden). Filters programID, clientName, targetType, targetValues, objects, skip, limit (≤ 50).', access: { roles: READERS },
        query: list.extend({ programID: OBJECT_ID.optional(), clientName: z.string().min(1).max(128).optional(), objects: OBJECTS_QUERY }),
        handler: ({ query, session }) => page(this.store.list('subscription').filter((o) => {
          const sub = o.object as Subscription;
          return (this.seesAll(session) || o.owner === session!.key) && (query.programID === undefined || sub.programID === query.programID)
            && (query.clientName === undefined || sub.clientName === query.clientName) && matchesTargets(sub.targets, query.targetType, query.targetValues)
            && (query.objects === undefined || sub.objectOperations.some((op) => op.objects.some((t) => query.objects!.includes(t))));
        }).map((o) => this.subscriptionFor(o, session)), query),
      },
      {
        method: 'POST', url: `${BASE}/subscriptions`, operationId: 'createSubscription', tags: ['openadr'], response: ADR_SUBSCRIPTION, summary: 'Subscribe (VEN or BL) to notifications {objectType, operation, object, targets}, POSTed to an http(s) callbackUrl (5 s timeout, no redirects, three attempts). The same notifications stream at GET /openadr3/3.0.1/notifications.', access: { roles: [...BL, ...VENS] }, status: 201,
        body: SUBSCRIPTION,
        handler: ({ body, session }) => write(() => {
          this.checkSubscription(body, session!);
          const object = this.stamp('subscription', 'SUBSCRIPTION', body);
          this.store.put({ kind: 'subscription', id: object.id as string, parent: '', name: null, owner: session!.key, program: body.programID, object });
          this.notify('SUBSCRIPTION', 'POST', object, { program: body.programID, owner: session!.key });
          return object;
        }),
      },
      {
        method: 'GET', url: `${BASE}/subscriptions/:subscriptionID`, operationId: 'searchSubscriptionById', tags: ['openadr'], response: ADR_SUBSCRIPTION, summary: 'A subscription.', access: { roles: READERS },
        params: subParam,
        handler: ({ params, session }) => this.subscriptionFor(this.own('subscription', params.subscriptionID, session, false, 'params.subscriptionID'), session),
      },
      {
        method: 'PUT', url: `${BASE}/subscriptions/:subscriptionID`, operationId: 'updateSubscription', tags: ['openadr'], response: ADR_SUBSCRIPTION, summary: 'Replace one\'s own subscription.', access: { roles: [...BL, ...VENS] },
        params: subParam, body: SUBSCRIPTION,
        handler: ({ params, body, session }) => write(() => {
          const before = this.own('subscription', params.subscriptionID, session, true, 'params.subscriptionID');
          if (before.owner !== session!.key) throw forbidden('a subscription is changed by its owner only', 'params.subscriptionID');
          this.checkSubscription(body, session!);
          const object = this.stamp('subscription', 'SUBSCRIPTION', body, before);
          this.store.put({ ...before, program: body.programID, object });
          this.notify('SUBSCRIPTION', 'PUT', object, { program: body.programID, owner: before.owner });
          return object;
        }),
      },
      {
        method: 'DELETE', url: `${BASE}/subscriptions/:subscriptionID`, operationId: 'deleteSubscription', tags: ['openadr'], response: ADR_SUBSCRIPTION, summary: 'Delete a subscription (its owner, or a BL).', access: { roles: [...BL, ...VENS] },
        params: subParam,
        handler: ({ params, session }) => write(() => {
          const before = this.own('subscription', params.subscriptionID, session, true, 'params.subscriptionID');
          this.store.remove('subscription', before.id);
          this.notify('SUBSCRIPTION', 'DELETE', this.subscriptionFor(before, undefined), { program: before.program, owner: before.owner });
          return this.subscriptionFor(before, session);
        }),
      },
      // vens and resources
      {
        method: 'GET', url: `${BASE}/vens`, operationId: 'searchVens', tags: ['openadr'], response: z.array(ADR_VEN), summary: 'VENs (one\'s own; BL and auditor all). Filters venName, targetType, targetValues, skip, limit (≤ 50).', access: { roles: READERS },
        query: list.extend({ venName: z.string().min(1).max(128).optional() }),
        handler: ({ query, session }) => page(this.store.list('ven').filter((v) => (this.seesAll(session) || v.owner === session!.key)
          && (query.venName === undefined || v.name === query.venName) && matchesTargets(v.object.targets, query.targetType, query.targetValues)).map((v) => this.ven(v)), query),
      },
      {
        method: 'POST', url: `${BASE}/vens`, operationId: 'createVen', tags: ['openadr'], response: ADR_VEN, summary: 'A VEN (member or aggregator, identified by its key) registers itself, optionally with resources: each resourceName an asset it owns or was delegated (asset.register). 409 when the venName exists.', access: { roles: VENS }, status: 201,
        body: VEN,
        handler: ({ body, session }) => write(() => {
          const { resources, ...fields } = body as z.infer<typeof VEN>;
          const object = this.stamp('ven', 'VEN', fields);
          const ven: Stored = { kind: 'ven', id: object.id as string, parent: '', name: body.venName, owner: session!.key, program: null, object };
          const children = (resources ?? []).map((r, i) => this.resourceObject(ven.id, r, session!.key, `body.resources.${i}.resourceName`));
          this.store.put(ven, ...children);
          this.notify('VEN', 'POST', this.ven(ven), { program: null, owner: session!.key });
          return this.ven(ven);
        }),
      },
      {
        method: 'GET', url: `${BASE}/vens/:venID`, operationId: 'searchVenById', tags: ['openadr'], response: ADR_VEN, summary: 'A VEN with its resources.', access: { roles: READERS },
        params: venParam,
        handler: ({ params, session }) => this.ven(venOf(params.venID, session, false)),
      },
      {
        method: 'PUT', url: `${BASE}/vens/:venID`, operationId: 'updateVen', tags: ['openadr'], response: ADR_VEN, summary: 'Update one\'s VEN (venName, attributes, targets; resources go through /resources).', access: { roles: VENS },
        params: venParam, body: VEN,
        handler: ({ params, body, session }) => write(() => {
          const before = venOf(params.venID, session, true);
          if (before.owner !== session!.key) throw forbidden('a VEN is changed by its owner only', 'params.venID');
          const { resources: _r, ...fields } = body;
          const ven: Stored = { ...before, name: body.venName, object: this.stamp('ven', 'VEN', fields, before) };
          this.store.put(ven);
          this.notify('VEN', 'PUT', this.ven(ven), { program: null, owner: before.owner });
          return this.ven(ven);
        }),
      },
      {
        method: 'DELETE', url: `${BASE}/vens/:venID`, operationId: 'deleteVen', tags: ['openadr'], response: ADR_VEN, summary: 'Delete a VEN and its resources (its owner, or a BL).', access: { roles: [...BL, ...VENS] },
        params: venParam,
        handler: ({ params, session }) => write(() => {
          const before = venOf(params.venID, session, true);
          const object = this.ven(before);
          this.store.remove('ven', before.id);
          this.notify('VEN', 'DELETE', object, { program: null, owner: before.owner });
          return object;
        }),
      },
      {
        method: 'GET', url: `${BASE}/vens/:venID/resources`, operationId: 'searchVenResources', tags: ['openadr'], response: z.array(ADR_RESOURCE), summary: 'A VEN\'s resources. Filters resourceName, targetType, targetValues, skip, limit (≤ 50).', access: { roles: READERS },
        params: venParam, query: list.extend({ resourceName: z.string().min(1).max(128).optional() }),
        handler: ({ params, query, session }) => {
          venOf(params.venID, session, false);
          return page(this.store.list('resource', params.venID).filter((r) => (query.resourceName === undefined || r.name === query.resourceName)
            && matchesTargets(r.object.targets, query.targetType, query.targetValues)).map((r) => r.object), query);
        },
      },
      {
        method: 'POST', url: `${BASE}/vens/:venID/resources`, operationId: 'createResource', tags: ['openadr'], response: ADR_RESOURCE, summary: 'Add a resource to one\'s VEN: resourceName is an asset id (flex_assets) the VEN\'s owner owns or was delegated, else 400.', access: { roles: VENS }, status: 201,
        params: venParam, body: RESOURCE,
        handler: ({ params, body, session }) => write(() => {
          const ven = venOf(params.venID, session, true);
          if (ven.owner !== session!.key) throw forbidden('resources are added by the VEN\'s owner only', 'params.venID');
          const r = this.resourceObject(ven.id, body, session!.key, 'body.resourceName');
          this.store.put(r);
          this.notify('RESOURCE', 'POST', r.object, { program: null, owner: session!.key });
          return r.object;
        }),
      },
      {
        method: 'GET', url: `${BASE}/vens/:venID/resources/:resourceID`, operationId: 'searchVenResourceById', tags: ['openadr'], response: ADR_RESOURCE, summary: 'A resource of a VEN.', access: { roles: READERS },
        params: resourceParam,
        handler: ({ params, session }) => resourceOf(params.venID, params.resourceID, session, false).object,
      },
      {
        method: 'PUT', url: `${BASE}/vens/:venID/resources/:resourceID`, operationId: 'updateVenResource', tags: ['openadr'], response: ADR_RESOURCE, summary: 'Update a resource of one\'s VEN.', access: { roles: VENS },
        params: resourceParam, body: RESOURCE,
        handler: ({ params, body, session }) => write(() => {
          const before = resourceOf(params.venID, params.resourceID, session, true);
          if (before.owner !== session!.key) throw forbidden('a resource is changed by its VEN\'s owner only', 'params.resourceID');
          const r = this.resourceObject(params.venID, body, session!.key, 'body.resourceName', before);
          this.store.put(r);
          this.notify('RESOURCE', 'PUT', r.object, { program: null, owner: before.owner });
          return r.object;
        }),
      },
      {
        method: 'DELETE', url: `${BASE}/vens/:venID/resources/:resourceID`, operationId: 'deleteVenResource', tags: ['openadr'], response: ADR_RESOURCE, summary: 'Delete a resource of a VEN (its owner, or a BL).', access: { roles: [...BL, ...VENS] },
        params: resourceParam,
        handler: ({ params, session }) => write(() => {
          const before = resourceOf(params.venID, params.resourceID, session, true);
          this.store.remove('resource', before.id);
          this.notify('RESOURCE', 'DELETE', before.object, { program: null, owner: before.owner });
          return before.object;
        }),
      },
    ];
    // Refusals under the OpenADR base path are problem objects (errorHandler).
    return table.map((r) => ({ ...r, failure: PROBLEM }));
  }
}
