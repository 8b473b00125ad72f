import { z } from 'zod';
import { OpenlecError } from '../errors.ts';
import { formatInstant, mulDivRound, parseInstant } from '../units/index.ts';

/**
 * Sessions from what chargers send. A charger's trace of one transaction (OCPP 1.6 J
 * StartTransaction / MeterValues / StopTransaction, or OCPP 2.0.1 TransactionEvent
 * Started / Updated / Ended) becomes a `MeteredSession`: the import (and, for V2G, export)
 * registers at start and stop, and periods of charging and parking between samples.
 *
 * Energy is always a difference of the charger's energy registers
 * (Energy.Active.Import.Register, Energy.Active.Export.Register), never an estimate from
 * power or an .Interval measurand. A period's energy is the register difference between
 * its bounds, so the periods' energy sums to meterStop − meterStart exactly.
 *
 * Choices, as the code makes them:
 * - Frames: `[2, msgId, action, payload]` (OCPP-J CALL) and `{ action, payload }`. A
 *   CALLRESULT `[3, msgId, payload]` answering the StartTransaction CALL gives the 1.6
 *   transactionId (the CSMS assigns it); other CALLRESULTs and CALLERRORs `[4, …]` are
 *   skipped, and so are actions that say nothing of the transaction (Heartbeat,
 *   StatusNotification, Authorize, 2.0.1 MeterValues outside a TransactionEvent, …).
 * - Payloads: known fields are type-checked (a wrong type names its path); unknown fields
 *   are tolerated since vendors add their own.
 * - 1.6 MeterValues without a transactionId belong to the transaction when they come from
 *   its connector between StartTransaction and StopTransaction; others are skipped.
 * - Registers: only phase-less samples, at one location (that of the first energy register
 *   sample; Outlet when none is given); per-phase and other-location registers are skipped.
 *   Power and current are read at that location too (any location when no register sample
 *   gives one). SignedData samples are skipped (their value is a signed blob).
 * - Times: ISO 8601 with offset, fractions of a second allowed on the wire; the session's
 *   instants are floored to whole seconds. Sample timestamps must not go backwards in
 *   message order and must lie within start..end. 1.6 StopTransaction.transactionData is
 *   checked in its own order and merged with the live samples by time.
 * - State of the span between two register samples: `charging` when the import register
 *   rose over it, or the export register rose (V2G discharge is energy transfer, not
 *   parking), or (2.0.1) chargingState was Charging at some moment of it; else `parking`.
 *   Consecutive spans of one state are merged into one period.
 * - Power and current samples at instant t count in the period [start, next start); the
 *   last period also takes the samples at `end`. Current is summed over L1, L2, L3 (N is
 *   the neutral; a phase-less current stands for the total when no phase is given).
 */

export type OcppProtocol = 'ocpp1.6' | 'ocpp2.0.1';

export interface MeteredSession {
  protocol: OcppProtocol;
  transactionId: string;
  /** As sent; the caller pseudonymises it, never store it. */
  idTag: string | null;
  /** ISO instants, UTC 'Z', whole seconds. */
  start: string;
  end: string;
  /** Integer Wh registers (import). */
  meterStartWh: number;
  meterStopWh: number;
  /** Energy.Active.Export.Register when present (V2G). */
  exportStartWh: number | null;
  exportStopWh: number | null;
  /** Consecutive, cover start..end. */
  periods: SessionPeriod[];
}

export interface SessionPeriod {
  /** ISO Z; lasts until the next period's start (the last until `end`). */
  start: string;
  /** parking = connected, not charging. */
  state: 'charging' | 'parking';
  /** Register differences over the period, integer Wh. */
  importWh: number;
  exportWh: number;
  /** From Power.Active.Import / Current.Import samples in the period (current summed over phases), integers (half up). */
  maxPowerW: number | null;
  maxCurrentA: number | null;
}

/** An OCPI 2.2.1 CDR charging period (the full schemas live in src/charging/ocpi.ts). */
export interface OcpiChargingPeriod {
  start_date_time: string;
  dimensions: { type: string; volume: number }[];
  tariff_id?: string;
}

const IMPORT_REGISTER = 'Energy.Active.Import.Register';
const EXPORT_REGISTER = 'Energy.Active.Export.Register';
const POWER_IMPORT = 'Power.Active.Import';
const CURRENT_IMPORT = 'Current.Import';
const SUM_PHASES = new Set(['L1', 'L2', 'L3', 'L1-N', 'L2-N', 'L3-N']);

// ---------------------------------------------------------------------------------------
// Schemas. z.object drops unknown keys (vendors add them) and refuses wrong types.

const int = z.number().int();

const sampledValue16 = z.object({
  value: z.string(),
  context: z.string().optional(),
  format: z.enum(['Raw', 'SignedData']).optional(),
  measurand: z.string().optional(),
  phase: z.string().optional(),
  location: z.string().optional(),
  unit: z.string().optional(),
});
const meterValue16 = z.object({ timestamp: z.string(), sampledValue: z.array(sampledValue16).min(1) });

const startTransaction16 = z.object({
  connectorId: int.min(0),
  idTag: z.string().max(20),
  meterStart: int,
  timestamp: z.string(),
  reservationId: int.optional(),
});
const startTransactionConf16 = z.object({ transactionId: int });
const meterValues16 = z.object({ connectorId: int.min(0), transactionId: int.optional(), meterValue: z.array(meterValue16).min(1) });
const stopTransaction16 = z.object({
  meterStop: int,
  timestamp: z.string(),
  transactionId: int,
  idTag: z.string().max(20).optional(),
  reason: z.string().optional(),
  transactionData: z.array(meterValue16).optional(),
});

const sampledValue201 = z.object({
  value: z.number(),
  context: z.string().optional(),
  measurand: z.string().optional(),
  phase: z.string().optional(),
  location: z.string().optional(),
  unitOfMeasure: z.object({ unit: z.string().max(20).optional(), multiplier: int.optional() }).optional(),
});
const meterValue201 = z.object({ timestamp: z.string(), sampledValue: z.array(sampledValue201).min(1) });
const transactionEvent201 = z.object({
  eventType: z.enum(['Started', 'Updated', 'Ended']),
  timestamp: z.string(),
  triggerReason: z.string(),
  seqNo: int.min(0),
  offline: z.boolean().optional(),
  transactionInfo: z.object({
    transactionId: z.string().min(1).max(36),
    chargingState: z.enum(['Charging', 'EVConnected', 'SuspendedEV', 'SuspendedEVSE', 'Idle']).optional(),
    stoppedReason: z.string().optional(),
  }),
  evse: z.object({ id: int, connectorId: int.optional() }).optional(),
  idToken: z.object({ idToken: z.string().max(36), type: z.string() }).optional(),
  meterValue: z.array(meterValue201).min(1).optional(),
});

// ---------------------------------------------------------------------------------------
// Frames.

interface Frame {
  index: number;
  kind: 'call' | 'result';
  msgId: string | null;
  action: string;
  payload: unknown;
}

function refuse(code: string, index: number | null, action: string | null, path: string, what: string, details: Record<string, unknown> = {}): never {
  const where = index === null ? 'OCPP trace' : `OCPP message ${index}${action ? ` (${action})` : ''}`;
  const field = ['messages', ...(index === null ? [] : [String(index)]), ...(path ? [path] : [])].join('.');
  throw new OpenlecError(code, `${where}: ${path ? `${path}: ` : ''}${what}`, { field, details: { ...(index === null ? {} : { message: index }), ...details } });
}

function frameOf(raw: unknown, index: number): Frame | null {
  if (Array.isArray(raw)) {
    const type = raw[0];
    if (type === 2) {
      if (raw.length !== 4 || typeof raw[1] !== 'string' || typeof raw[2] !== 'string') {
        refuse('E_OCPP_FRAME', index, null, '', 'a CALL is [2, "messageId", "Action", {payload}]');
      }
      return { index, kind: 'call', msgId: raw[1], action: raw[2], payload: raw[3] };
    }
    if (type === 3) {
      if (raw.length !== 3 || typeof raw[1] !== 'string') refuse('E_OCPP_FRAME', index, null, '', 'a CALLRESULT is [3, "messageId", {payload}]');
      return { index, kind: 'result', msgId: raw[1], action: '', payload: raw[2] };
    }
    if (type === 4) return null; // CALLERROR: says nothing of the meter
    refuse('E_OCPP_FRAME', index, null, '0', `message type ${JSON.stringify(type)} is not 2 (CALL), 3 (CALLRESULT) or 4 (CALLERROR)`);
  }
  if (raw !== null && typeof raw === 'object') {
    const o = raw as Record<string, unknown>;
    if (typeof o.action !== 'string') refuse('E_OCPP_FRAME', index, null, 'action', 'must be the OCPP action name, a string');
    if (o.payload === null || typeof o.payload !== 'object' || Array.isArray(o.payload)) refuse('E_OCPP_FRAME', index, o.action, 'payload', 'must be an object');
    return { index, kind: 'call', msgId: typeof o.messageId === 'string' ? o.messageId : null, action: o.action, payload: o.payload };
  }
  refuse('E_OCPP_FRAME', index, null, '', 'is neither an OCPP-J array [2, "messageId", "Action", {payload}] nor { action, payload }');
}

function parsePayload<T>(schema: z.ZodType<T>, frame: Frame, action: string): T {
  const r = schema.safeParse(frame.payload);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = issue.path.map(String).join('.');
  refuse('E_OCPP_PAYLOAD', frame.index, action, path || 'payload', issue.message, { issues: r.error.issues.length });
}

// ---------------------------------------------------------------------------------------
// Exact decimals: value = m × 10^e.

interface Dec {
  m: bigint;
  e: number;
}

const DECIMAL_TEXT = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

function decOf(text: string): Dec | null {
  const m = DECIMAL_TEXT.exec(text.trim());
  if (!m) return null;
  const [, sign = '', whole = '', fraction = '', exp = '0'] = m;
  if (whole === '' && fraction === '') return null;
  const digits = BigInt((whole + fraction) || '0');
  return { m: sign === '-' ? -digits : digits, e: Number(exp) - fraction.length };
}

/** The decimal text of a JSON number: String() gives the shortest round-trip form ("2114135.6", "1e-7"). */
function decOfNumber(value: number): Dec {
  return decOf(String(value))!;
}

function shift(d: Dec, by: number): Dec {
  return { m: d.m, e: d.e + by };
}

function addDec(a: Dec, b: Dec): Dec {
  const e = Math.min(a.e, b.e);
  return { m: a.m * 10n ** BigInt(a.e - e) + b.m * 10n ** BigInt(b.e - e), e };
}

/** Rounds to an integer, half away from zero (half up for the registers, which are ≥ 0). */
function roundDec(d: Dec): number {
  let q: bigint;
  if (d.e >= 0) q = d.m * 10n ** BigInt(d.e);
  else {
    const div = 10n ** BigInt(-d.e);
    const abs = d.m < 0n ? -d.m : d.m;
    let t = abs / div;
    if ((abs % div) * 2n >= div) t += 1n;
    q = d.m < 0n ? -t : t;
  }
  const n = Number(q);
  return n === 0 ? 0 : n;
}

// ---------------------------------------------------------------------------------------
// Samples, as read from either protocol.

type Kind = 'import' | 'export' | 'power' | 'current';

interface Sample {
  kind: Kind;
  /** Wh for registers, W for power, A for current (exact, rounded later). */
  value: Dec;
  phase: string | undefined;
  location: string;
  index: number;
  action: string;
  path: string;
}

interface Reading {
  t: number;
  index: number;
  action: string;
  path: string;
  /** Order among readings at one instant (meterStart first, meterStop last). */
  seq: number;
  samples: Sample[];
}

function kindOf(measurand: string | undefined): Kind | null {
  switch (measurand ?? IMPORT_REGISTER) {
    case IMPORT_REGISTER: return 'import';
    case EXPORT_REGISTER: return 'export';
    case POWER_IMPORT: return 'power';
    case CURRENT_IMPORT: return 'current';
    default: return null;
  }
}

/** Powers of ten of a unit for a kind: registers to Wh, power to W, current to A. */
function unitExponent(kind: Kind, unit: string | undefined): number | null {
  const u = unit ?? (kind === 'current' ? 'A' : kind === 'power' ? 'W' : 'Wh');
  if (kind === 'import' || kind === 'export') return u === 'Wh' ? 0 : u === 'kWh' ? 3 : null;
  if (kind === 'power') return u === 'W' ? 0 : u === 'kW' ? 3 : null;
  return u === 'A' ? 0 : null;
}

interface RawSample {
  measurand: string | undefined;
  phase: string | undefined;
  location: string | undefined;
  unit: string | undefined;
  multiplier: number;
  value: Dec;
  path: string;
}

function samplesOf(raws: RawSample[], index: number, action: string): Sample[] {
  const out: Sample[] = [];
  for (const r of raws) {
    const kind = kindOf(r.measurand);
    if (!kind) continue;
    const exp = unitExponent(kind, r.unit);
    if (exp === null) {
      refuse('E_OCPP_UNIT', index, action, r.path, `unit "${r.unit}" is not one for ${r.measurand ?? IMPORT_REGISTER}`, { unit: r.unit });
    }
    // Registers arrive with fractions (a Keba sends 2114135.6 with no unit, that is Wh):
    // the value is kept exact here and rounded to an integer Wh half up where it is used.
    out.push({ kind, value: shift(r.value, exp + r.multiplier), phase: r.phase, location: r.location ?? 'Outlet', index, action, path: r.path });
  }
  return out;
}

function raw16(mv: z.infer<typeof meterValue16>, base: string, index: number, action: string): RawSample[] {
  const out: RawSample[] = [];
  mv.sampledValue.forEach((sv, k) => {
    if (sv.format === 'SignedData') return;
    const path = `${base}.sampledValue.${k}.value`;
    const value = decOf(sv.value);
    if (!value) refuse('E_OCPP_VALUE', index, action, path, `"${sv.value}" is not a number`, { value: sv.value });
    out.push({ measurand: sv.measurand, phase: sv.phase, location: sv.location, unit: sv.unit, multiplier: 0, value, path });
  });
  return out;
}

function raw201(mv: z.infer<typeof meterValue201>, base: string): RawSample[] {
  return mv.sampledValue.map((sv, k) => ({
    measurand: sv.measurand, phase: sv.phase, location: sv.location,
    unit: sv.unitOfMeasure?.unit, multiplier: sv.unitOfMeasure?.multiplier ?? 0,
    value: decOfNumber(sv.value), path: `${base}.sampledValue.${k}.value`,
  }));
}

/** Epoch ms of an OCPP timestamp (fractions of a second allowed), refusing with the message named. */
function timeOf(text: string, index: number, action: string, path: string): number {
  const m = /^(.*T\d{2}:\d{2}:\d{2})\.(\d{1,9})(Z|[+-]\d{2}:?\d{2})$/.exec(text);
  try {
    if (m) return parseInstant(m[1]! + m[3]!) + Number(m[2]!.padEnd(3, '0').slice(0, 3));
    return parseInstant(text);
  } catch {
    refuse('E_OCPP_TIME', index, action, path, `"${text}" is not an ISO 8601 date-time with offset`, { value: text });
  }
}

const floorSecond = (ms: number) => Math.floor(ms / 1000) * 1000;

// ---------------------------------------------------------------------------------------
// The transaction, protocol by protocol.

interface Parsed {
  protocol: OcppProtocol;
  transactionId: string;
  idTag: string | null;
  start: number;
  end: number;
  readings: Reading[];
  /** 2.0.1 chargingState changes (time, is Charging), in order. */
  states: { t: number; charging: boolean }[];
}

/** Checks that timestamps do not go backwards and lie within start..end. */
class Clock {
  private last: { t: number; text: string; index: number } | null = null;
  constructor(private readonly what: string) {}
  see(t: number, text: string, index: number, action: string, path: string): void {
    if (this.last && t < this.last.t) {
      refuse('E_OCPP_TIME', index, action, path, `${this.what} ${text} goes backwards from ${this.last.text} (message ${this.last.index})`, { value: text, previous: this.last.text, previousMessage: this.last.index });
    }
    this.last = { t, text, index };
  }
}

function within(t: number, text: string, start: number, end: number, index: number, action: string, path: string): void {
  if (t < start || t > end) {
    refuse('E_OCPP_TIME', index, action, path, `sample at ${text} is outside the transaction ${formatInstant(floorSecond(start))}..${formatInstant(floorSecond(end))}`, { value: text });
  }
}

function parse16(frames: Frame[]): Parsed {
  let start: { frame: Frame; p: z.infer<typeof startTransaction16>; t: number } | null = null;
  let stop: { frame: Frame; p: z.infer<typeof stopTransaction16>; t: number } | null = null;
  let txId: { id: number; index: number } | null = null;
  const live: { frame: Frame; p: z.infer<typeof meterValues16> }[] = [];
  const eventClock = new Clock('timestamp');

  const claim = (id: number, index: number, action: string, path: string) => {
    if (txId && txId.id !== id) {
      refuse('E_OCPP_TRANSACTION', index, action, path, `transaction ${id} is not the trace's transaction ${txId.id} (message ${txId.index})`, { transactionId: String(id), expected: String(txId.id) });
    }
    txId ??= { id, index };
  };

  for (const f of frames) {
    if (f.kind === 'result') {
      if (start && start.frame.msgId !== null && f.msgId === start.frame.msgId) {
        const conf = parsePayload(startTransactionConf16, f, 'StartTransaction.conf');
        claim(conf.transactionId, f.index, 'StartTransaction.conf', 'transactionId');
      }
      continue;
    }
    if (f.action === 'StartTransaction') {
      const p = parsePayload(startTransaction16, f, f.action);
      if (start) refuse('E_OCPP_SEQUENCE', f.index, f.action, '', `a second StartTransaction (the first is message ${start.frame.index})`);
      const t = timeOf(p.timestamp, f.index, f.action, 'timestamp');
      eventClock.see(t, p.timestamp, f.index, f.action, 'timestamp');
      start = { frame: f, p, t };
    } else if (f.action === 'MeterValues') {
      const p = parsePayload(meterValues16, f, f.action);
      if (p.transactionId === undefined) {
        // Connector-level values: part of the transaction only on its connector, while it runs.
        if (!start || stop || p.connectorId !== start.p.connectorId) continue;
      } else {
        if (!start) refuse('E_OCPP_SEQUENCE', f.index, f.action, 'transactionId', 'MeterValues of a transaction before its StartTransaction');
        if (stop) refuse('E_OCPP_SEQUENCE', f.index, f.action, 'transactionId', `MeterValues of the transaction after its StopTransaction (message ${stop.frame.index})`);
        claim(p.transactionId, f.index, f.action, 'transactionId');
        if (p.connectorId !== start.p.connectorId) {
          refuse('E_OCPP_TRANSACTION', f.index, f.action, 'connectorId', `connector ${p.connectorId} is not the transaction's connector ${start.p.connectorId}`);
        }
      }
      p.meterValue.forEach((mv, k) => {
        const path = `meterValue.${k}.timestamp`;
        eventClock.see(timeOf(mv.timestamp, f.index, f.action, path), mv.timestamp, f.index, f.action, path);
      });
      live.push({ frame: f, p });
    } else if (f.action === 'StopTransaction') {
      const p = parsePayload(stopTransaction16, f, f.action);
      if (!start) refuse('E_OCPP_NO_START', f.index, f.action, '', 'StopTransaction without a StartTransaction before it');
      if (stop) refuse('E_OCPP_SEQUENCE', f.index, f.action, '', `a second StopTransaction (the first is message ${stop.frame.index})`);
      claim(p.transactionId, f.index, f.action, 'transactionId');
      const t = timeOf(p.timestamp, f.index, f.action, 'timestamp');
      eventClock.see(t, p.timestamp, f.index, f.action, 'timestamp');
      stop = { frame: f, p, t };
    }
  }
  if (!start) refuse('E_OCPP_NO_START', null, null, '', 'has no StartTransaction');
  if (!stop) refuse('E_OCPP_NO_STOP', null, null, '', `has no StopTransaction for the transaction started in message ${start.frame.index}`);

  const readings: Reading[] = [];
  const S = start.frame.index;
  readings.push({ t: start.t, index: S, action: 'StartTransaction', path: 'meterStart', seq: -1, samples: [registerSample(start.p.meterStart, S, 'StartTransaction', 'meterStart')] });
  let seq = 0;
  for (const { frame, p } of live) {
    p.meterValue.forEach((mv, k) => {
      const path = `meterValue.${k}.timestamp`;
      const t = timeOf(mv.timestamp, frame.index, frame.action, path);
      within(t, mv.timestamp, start.t, stop.t, frame.index, frame.action, path);
      readings.push({ t, index: frame.index, action: frame.action, path, seq: seq++, samples: samplesOf(raw16(mv, `meterValue.${k}`, frame.index, frame.action), frame.index, frame.action) });
    });
  }
  const dataClock = new Clock('transactionData timestamp');
  const I = stop.frame.index;
  (stop.p.transactionData ?? []).forEach((mv, k) => {
    const path = `transactionData.${k}.timestamp`;
    const t = timeOf(mv.timestamp, I, 'StopTransaction', path);
    dataClock.see(t, mv.timestamp, I, 'StopTransaction', path);
    within(t, mv.timestamp, start.t, stop.t, I, 'StopTransaction', path);
    readings.push({ t, index: I, action: 'StopTransaction', path, seq: seq++, samples: samplesOf(raw16(mv, `transactionData.${k}`, I, 'StopTransaction'), I, 'StopTransaction') });
  });
  readings.push({ t: stop.t, index: I, action: 'StopTransaction', path: 'meterStop', seq: Number.MAX_SAFE_INTEGER, samples: [registerSample(stop.p.meterStop, I, 'StopTransaction', 'meterStop')] });
  return { protocol: 'ocpp1.6', transactionId: String(txId!.id), idTag: start.p.idTag, start: start.t, end: stop.t, readings, states: [] };
}

/** meterStart / meterStop: the import register in Wh, at no particular location (they set none). */
function registerSample(wh: number, index: number, action: string, path: string): Sample {
  return { kind: 'import', value: { m: BigInt(wh), e: 0 }, phase: undefined, location: '*', index, action, path };
}

function parse201(frames: Frame[]): Parsed {
  let started: { index: number; t: number } | null = null;
  let ended: { index: number; t: number } | null = null;
  let txId: { id: string; index: number } | null = null;
  let lastSeq: { seqNo: number; index: number } | null = null;
  let idTag: string | null = null;
  const eventClock = new Clock('timestamp');
  const sampleClock = new Clock('sample timestamp');
  const events: { frame: Frame; p: z.infer<typeof transactionEvent201>; t: number }[] = [];
  const states: Parsed['states'] = [];

  for (const f of frames) {
    if (f.kind !== 'call' || f.action !== 'TransactionEvent') continue;
    const p = parsePayload(transactionEvent201, f, f.action);
    const t = timeOf(p.timestamp, f.index, f.action, 'timestamp');
    const id = p.transactionInfo.transactionId;
    if (txId && txId.id !== id) {
      refuse('E_OCPP_TRANSACTION', f.index, f.action, 'transactionInfo.transactionId', `transaction "${id}" is not the trace's transaction "${txId.id}" (message ${txId.index})`, { transactionId: id, expected: txId.id });
    }
    txId ??= { id, index: f.index };
    if (lastSeq && p.seqNo <= lastSeq.seqNo) {
      refuse('E_OCPP_SEQUENCE', f.index, f.action, 'seqNo', `seqNo ${p.seqNo} does not follow seqNo ${lastSeq.seqNo} (message ${lastSeq.index})`);
    }
    lastSeq = { seqNo: p.seqNo, index: f.index };
    if (ended) refuse('E_OCPP_SEQUENCE', f.index, f.action, 'eventType', `an event after the Ended event (message ${ended.index})`);
    if (p.eventType === 'Started') {
      if (started) refuse('E_OCPP_SEQUENCE', f.index, f.action, 'eventType', `a second Started event (the first is message ${started.index})`);
      started = { index: f.index, t };
    } else if (!started) {
      refuse('E_OCPP_NO_START', f.index, f.action, 'eventType', `${p.eventType} event before the Started event`);
    }
    eventClock.see(t, p.timestamp, f.index, f.action, 'timestamp');
    if (p.eventType === 'Ended') ended = { index: f.index, t };
    if (idTag === null && p.idToken) idTag = p.idToken.idToken;
    if (p.transactionInfo.chargingState) states.push({ t, charging: p.transactionInfo.chargingState === 'Charging' });
    events.push({ frame: f, p, t });
  }
  if (!started) refuse('E_OCPP_NO_START', null, null, '', 'has no TransactionEvent with eventType Started');
  if (!ended) refuse('E_OCPP_NO_STOP', null, null, '', `has no TransactionEvent with eventType Ended for transaction "${txId!.id}"`);

  const readings: Reading[] = [];
  let seq = 0;
  for (const { frame, p } of events) {
    (p.meterValue ?? []).forEach((mv, k) => {
      const path = `meterValue.${k}.timestamp`;
      const t = timeOf(mv.timestamp, frame.index, frame.action, path);
      sampleClock.see(t, mv.timestamp, frame.index, frame.action, path);
      within(t, mv.timestamp, started.t, ended.t, frame.index, frame.action, path);
      readings.push({ t, index: frame.index, action: frame.action, path, seq: seq++, samples: samplesOf(raw201(mv, `meterValue.${k}`), frame.index, frame.action) });
    });
  }
  return { protocol: 'ocpp2.0.1', transactionId: txId!.id, idTag, start: started.t, end: ended.t, readings, states };
}

// ---------------------------------------------------------------------------------------
// Registers and periods.

interface Register {
  t: number;
  wh: number;
  sample: Sample;
}

/** The register series of one kind at the session's location, in time order, checked monotonic. */
function registerSeries(readings: Reading[], kind: 'import' | 'export', location: string | null): Register[] {
  const out: Register[] = [];
  for (const r of readings) {
    for (const s of r.samples) {
      if (s.kind !== kind || s.phase !== undefined) continue;
      if (s.location !== '*' && location !== null && s.location !== location) continue;
      const wh = roundDec(s.value);
      if (!Number.isSafeInteger(wh) || wh < 0) {
        refuse('E_OCPP_VALUE', s.index, s.action, s.path, `${kind} register ${wh} Wh is not a non-negative safe integer`, { value: wh });
      }
      out.push({ t: r.t, wh, sample: s });
    }
  }
  for (let k = 1; k < out.length; k++) {
    const a = out[k - 1]!;
    const b = out[k]!;
    if (b.wh < a.wh) {
      const measurand = kind === 'import' ? IMPORT_REGISTER : EXPORT_REGISTER;
      refuse('E_OCPP_REGISTER', b.sample.index, b.sample.action, b.sample.path,
        `${measurand} goes down from ${a.wh} Wh (message ${a.sample.index} ${a.sample.path}) to ${b.wh} Wh`,
        { previous: a.wh, value: b.wh, previousMessage: a.sample.index });
    }
  }
  return out;
}

/** Sum of a reading's current or power samples: L1+L2+L3 when phases are given, else the phase-less total. */
function totalOf(samples: Sample[], kind: 'power' | 'current', location: string | null): number | null {
  const mine = samples.filter((s) => s.kind === kind && (location === null || s.location === location));
  const phased = mine.filter((s) => s.phase !== undefined && SUM_PHASES.has(s.phase));
  const total = mine.filter((s) => s.phase === undefined);
  const use = phased.length > 0 ? phased : total.slice(-1);
  if (use.length === 0) return null;
  return roundDec(use.map((s) => s.value).reduce(addDec));
}

const maxOf = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));

/**
 * sessionFromOcpp reads one transaction's trace (a JSON array of OCPP messages) into a
 * metered session. Throws OpenlecError naming the message index and field on bad input.
 */
export function sessionFromOcpp(messages: unknown): MeteredSession {
  if (!Array.isArray(messages)) refuse('E_OCPP_FRAME', null, null, '', 'must be a JSON array of OCPP messages');
  const frames = messages.map((m, i) => frameOf(m, i)).filter((f): f is Frame => f !== null);
  const v16 = frames.find((f) => f.kind === 'call' && (f.action === 'StartTransaction' || f.action === 'StopTransaction'));
  const v201 = frames.find((f) => f.kind === 'call' && f.action === 'TransactionEvent');
  if (v16 && v201) {
    const later = v16.index > v201.index ? v16 : v201;
    refuse('E_OCPP_PROTOCOL', later.index, later.action, '', `mixes OCPP 1.6 ${v16.action} (message ${v16.index}) and OCPP 2.0.1 TransactionEvent (message ${v201.index})`);
  }
  const parsed = v201 ? parse201(frames) : parse16(frames);

  // Stable order by time; at one instant, meterStart first and meterStop last.
  const readings = [...parsed.readings].sort((a, b) => a.t - b.t || a.seq - b.seq);
  const firstRegister = readings.flatMap((r) => r.samples).find((s) => (s.kind === 'import' || s.kind === 'export') && s.phase === undefined && s.location !== '*');
  const location = firstRegister ? firstRegister.location : null;
  const imports = registerSeries(readings, 'import', location);
  const exports = registerSeries(readings, 'export', location);
  if (imports.length === 0) refuse('E_OCPP_NO_REGISTER', null, null, '', `has no ${IMPORT_REGISTER} sample for transaction "${parsed.transactionId}"`);

  const start = floorSecond(parsed.start);
  const end = floorSecond(parsed.end);
  const sec = floorSecond;
  // Period bounds: start, end and every instant with an energy register.
  const bounds = [...new Set([start, ...imports.map((r) => sec(r.t)), ...exports.map((r) => sec(r.t)), end])].sort((a, b) => a - b);
  if (bounds.length === 1) bounds.push(start); // a session of no duration: one empty span

  // The register at bound k: the last reading at or before it (the first reading for bound 0,
  // and before any reading), so the spans' differences telescope to last − first.
  const at = (series: Register[]) => bounds.map((b, k) => {
    if (k === 0) return series[0]!.wh;
    let v = series[0]!.wh;
    for (const r of series) if (sec(r.t) <= b) v = r.wh;
    return v;
  });
  const importAt = at(imports);
  const exportAt = exports.length > 0 ? at(exports) : null;

  const spans = bounds.length - 1;
  const spanOf = (t: number) => {
    let k = 0;
    while (k + 1 < spans && bounds[k + 1]! <= t) k++;
    return k;
  };
  const maxPower: (number | null)[] = Array.from({ length: spans }, () => null);
  const maxCurrent: (number | null)[] = Array.from({ length: spans }, () => null);
  for (const r of readings) {
    const k = spanOf(sec(r.t));
    maxPower[k] = maxOf(maxPower[k]!, totalOf(r.samples, 'power', location));
    maxCurrent[k] = maxOf(maxCurrent[k]!, totalOf(r.samples, 'current', location));
  }

  const chargingStateIn = (a: number, b: number) => {
    let inForce = false;
    for (const s of parsed.states) {
      if (sec(s.t) <= a) inForce = s.charging;
      else if (sec(s.t) < b && s.charging) return true;
    }
    return inForce;
  };

  const periods: SessionPeriod[] = [];
  for (let k = 0; k < spans; k++) {
    const a = bounds[k]!;
    const b = bounds[k + 1]!;
    const importWh = importAt[k + 1]! - importAt[k]!;
    const exportWh = exportAt ? exportAt[k + 1]! - exportAt[k]! : 0;
    const state = importWh > 0 || exportWh > 0 || chargingStateIn(a, b) ? 'charging' : 'parking';
    const prev = periods.at(-1);
    if (prev && prev.state === state) {
      prev.importWh += importWh;
      prev.exportWh += exportWh;
      prev.maxPowerW = maxOf(prev.maxPowerW, maxPower[k]!);
      prev.maxCurrentA = maxOf(prev.maxCurrentA, maxCurrent[k]!);
    } else {
      periods.push({ start: formatInstant(a), state, importWh, exportWh, maxPowerW: maxPower[k]!, maxCurrentA: maxCurrent[k]! });
    }
  }

  return {
    protocol: parsed.protocol,
    transactionId: parsed.transactionId,
    idTag: parsed.idTag,
    start: formatInstant(start),
    end: formatInstant(end),
    meterStartWh: imports[0]!.wh,
    meterStopWh: imports.at(-1)!.wh,
    exportStartWh: exports.length > 0 ? exports[0]!.wh : null,
    exportStopWh: exports.length > 0 ? exports.at(-1)!.wh : null,
    periods,
  };
}

// ---------------------------------------------------------------------------------------
// OCPI charging periods.

const kwh = (wh: number) => wh / 1000 || 0;
/** Hours of `seconds`, rounded to 4 decimals (seconds × 10⁴ / 3600 never ties: 3600 / 10⁴ = 9/25). */
const hours = (seconds: number) => mulDivRound(seconds, 10_000, 3600) / 10_000;

/**
 * chargingPeriods writes a session's periods as OCPI 2.2.1 CDR charging periods.
 * Charging periods carry ENERGY (kWh, net import; with export also ENERGY_IMPORT and
 * ENERGY_EXPORT), TIME (hours, 4 decimals), MAX_POWER (kW) and MAX_CURRENT (A) when
 * known; parking periods carry PARKING_TIME (hours), and ENERGY only if a period built
 * by hand holds any. Consecutive periods of one state are merged.
 */
export function chargingPeriods(session: MeteredSession): OcpiChargingPeriod[] {
  const end = parseInstant(session.end, 'end');
  const merged: (SessionPeriod & { startMs: number })[] = [];
  session.periods.forEach((p, k) => {
    const startMs = parseInstant(p.start, `periods.${k}.start`);
    const prev = merged.at(-1);
    if (prev && prev.state === p.state) {
      prev.importWh += p.importWh;
      prev.exportWh += p.exportWh;
      prev.maxPowerW = maxOf(prev.maxPowerW, p.maxPowerW);
      prev.maxCurrentA = maxOf(prev.maxCurrentA, p.maxCurrentA);
    } else merged.push({ ...p, startMs });
  });
  return merged.map((p, k) => {
    const until = k + 1 < merged.length ? merged[k + 1]!.startMs : end;
    const seconds = Math.max(0, Math.round((until - p.startMs) / 1000));
    const dimensions: OcpiChargingPeriod['dimensions'] = [];
    const energy = () => {
      dimensions.push({ type: 'ENERGY', volume: kwh(p.importWh - p.exportWh) });
      if (p.exportWh > 0) {
        dimensions.push({ type: 'ENERGY_IMPORT', volume: kwh(p.importWh) });
        dimensions.push({ type: 'ENERGY_EXPORT', volume: kwh(p.exportWh) });
      }
    };
    if (p.state === 'charging') {
      energy();
      dimensions.push({ type: 'TIME', volume: hours(seconds) });
      if (p.maxPowerW !== null) dimensions.push({ type: 'MAX_POWER', volume: kwh(p.maxPowerW) });
      if (p.maxCurrentA !== null) dimensions.push({ type: 'MAX_CURRENT', volume: p.maxCurrentA });
    } else {
      if (p.importWh !== 0 || p.exportWh !== 0) energy();
      dimensions.push({ type: 'PARKING_TIME', volume: hours(seconds) });
    }
    return { start_date_time: p.start, dimensions };
  });
}
