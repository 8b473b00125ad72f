import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { OpenlecError } from '../errors.ts';
import { formatInstant, parseInstant } from '../units/index.ts';
import { chargingPeriods, sessionFromOcpp, type MeteredSession } from './ocpp.ts';

const fixture = (name: string): unknown[] => JSON.parse(readFileSync(new URL(`../../test/fixtures/charging/${name}`, import.meta.url), 'utf8'));

/** Asserts that `fn` throws an OpenlecError with `code` whose message matches every pattern. */
function refused(fn: () => unknown, code: string, ...patterns: RegExp[]): OpenlecError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof OpenlecError, `expected an OpenlecError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  for (const p of patterns) assert.match(caught.message, p);
  return caught;
}

// --- small trace builders --------------------------------------------------------------

const T0 = parseInstant('2025-03-14T09:00:00Z');
const at = (minutes: number) => formatInstant(T0 + minutes * 60_000);

const start16 = (meterStart = 1000, minutes = 0, extra: Record<string, unknown> = {}) =>
  [2, 'm-start', 'StartTransaction', { connectorId: 1, idTag: 'TAG1', meterStart, timestamp: at(minutes), ...extra }];
const mv16 = (minutes: number, wh: number | string, extra: Record<string, unknown>[] = [], txId: number | null = 7) =>
  [2, `m-${minutes}`, 'MeterValues', {
    connectorId: 1, ...(txId === null ? {} : { transactionId: txId }),
    meterValue: [{ timestamp: at(minutes), sampledValue: [{ value: String(wh), measurand: 'Energy.Active.Import.Register', unit: 'Wh' }, ...extra] }],
  }];
const stop16 = (meterStop: number, minutes: number, txId = 7) =>
  [2, 'm-stop', 'StopTransaction', { meterStop, timestamp: at(minutes), transactionId: txId, reason: 'Local' }];

const T1 = parseInstant('2025-06-02T17:00:00Z');
const at201 = (minutes: number) => formatInstant(T1 + minutes * 60_000);
const sv201 = (kwh: number, measurand = 'Energy.Active.Import.Register') => ({ value: kwh, measurand, unitOfMeasure: { unit: 'kWh' } });
function ev201(eventType: 'Started' | 'Updated' | 'Ended', seqNo: number, minutes: number, opts: { state?: string; samples?: unknown[]; txId?: string } = {}) {
  return {
    action: 'TransactionEvent',
    payload: {
      eventType, timestamp: at201(minutes), triggerReason: 'MeterValuePeriodic', seqNo,
      transactionInfo: { transactionId: opts.txId ?? 'TX-1', ...(opts.state ? { chargingState: opts.state } : {}) },
      ...(opts.samples ? { meterValue: [{ timestamp: at201(minutes), sampledValue: opts.samples }] } : {}),
    },
  };
}

/** Periods tile start..end: the first starts at start, starts strictly increase, none after end, states alternate. */
function assertTiles(s: MeteredSession): void {
  assert.ok(s.periods.length > 0);
  assert.equal(s.periods[0]!.start, s.start);
  for (let k = 1; k < s.periods.length; k++) {
    assert.ok(parseInstant(s.periods[k]!.start) > parseInstant(s.periods[k - 1]!.start));
    assert.notEqual(s.periods[k]!.state, s.periods[k - 1]!.state);
  }
  assert.ok(parseInstant(s.periods.at(-1)!.start) <= parseInstant(s.end));
}

const volumes = (s: MeteredSession, type: string) => chargingPeriods(s).flatMap((p) => p.dimensions.filter((d) => d.type === type).map((d) => d.volume));

// --- OCPP 1.6 --------------------------------------------------------------------------

describe('OCPP 1.6 trace', () => {
  test('the fixture: 90 min of 11 kW charging then 40 min parked, one session of two periods', () => {
    const s = sessionFromOcpp(fixture('ocpp16-trace.json'));
    assert.deepEqual(s, {
      protocol: 'ocpp1.6', transactionId: '4711', idTag: '04A1B2C3D4E5F6',
      start: '2025-03-14T09:00:00Z', end: '2025-03-14T11:10:00Z',
      meterStartWh: 1_250_000, meterStopWh: 1_265_065, exportStartWh: null, exportStopWh: null,
      periods: [
        // 15.9 + 16.0 + 15.8 … the 09:45 sample sums 16.2 + 16.1 + 16.2 = 48.5 A, rounded half up to 49.
        { start: '2025-03-14T09:00:00Z', state: 'charging', importWh: 15_065, exportWh: 0, maxPowerW: 11_040, maxCurrentA: 49 },
        { start: '2025-03-14T10:30:00Z', state: 'parking', importWh: 0, exportWh: 0, maxPowerW: 0, maxCurrentA: 0 },
      ],
    });
    assertTiles(s);
  });

  test('the fixture as OCPI charging periods: ENERGY, TIME, MAX_POWER, MAX_CURRENT, then PARKING_TIME', () => {
    assert.deepEqual(chargingPeriods(sessionFromOcpp(fixture('ocpp16-trace.json'))), [
      { start_date_time: '2025-03-14T09:00:00Z', dimensions: [
        { type: 'ENERGY', volume: 15.065 }, { type: 'TIME', volume: 1.5 }, { type: 'MAX_POWER', volume: 11.04 }, { type: 'MAX_CURRENT', volume: 49 },
      ] },
      { start_date_time: '2025-03-14T10:30:00Z', dimensions: [{ type: 'PARKING_TIME', volume: 0.6667 }] },
    ]);
  });

  test('plain { action, payload } objects read the same as OCPP-J CALL frames', () => {
    const wire = fixture('ocpp16-trace.json') as unknown[][];
    const plain = wire.filter((m) => m[0] === 2).map((m) => ({ action: m[2], payload: m[3] }));
    const s = sessionFromOcpp(plain);
    assert.deepEqual(s, sessionFromOcpp(wire));
  });

  test('kWh and W/kW units, unknown vendor fields, connector-level values and other actions', () => {
    const s = sessionFromOcpp([
      [2, 'b', 'BootNotification', { chargePointVendor: 'X', chargePointModel: 'Y' }],
      mv16(-5, 999, [], null), // connector-level, before the transaction: skipped
      start16(1000, 0, { vendorExtra: { anything: true } }),
      [3, 'm-start', { transactionId: 7, idTagInfo: { status: 'Accepted' } }],
      [2, 'x', 'MeterValues', { connectorId: 1, meterValue: [{ timestamp: at(10), sampledValue: [
        { value: '1.5', unit: 'kWh' }, // default measurand Energy.Active.Import.Register
        { value: '7.4', measurand: 'Power.Active.Import', unit: 'kW' },
        { value: '32.25', measurand: 'Current.Import' }, // phase-less: the total
        { value: 'MIIBsignedblob', format: 'SignedData' },
      ] }], vendorId: 'acme' }],
      [2, 'y', 'MeterValues', { connectorId: 2, meterValue: [{ timestamp: at(12), sampledValue: [{ value: '5' }] }] }], // other connector
      stop16(2000, 20),
    ]);
    assert.equal(s.transactionId, '7');
    assert.deepEqual(s.periods, [{ start: at(0), state: 'charging', importWh: 1000, exportWh: 0, maxPowerW: 7400, maxCurrentA: 32 }]);
  });

  test('transactionData merges with the live samples by time (duplicates agree)', () => {
    const s = sessionFromOcpp([
      start16(1000), mv16(15, 1500),
      [2, 's', 'StopTransaction', { meterStop: 1500, timestamp: at(45), transactionId: 7, transactionData: [
        { timestamp: at(0), sampledValue: [{ value: '1000', context: 'Transaction.Begin' }] },
        { timestamp: at(30), sampledValue: [{ value: '1500', context: 'Sample.Clock' }, { value: '0', measurand: 'Power.Active.Import' }] },
        { timestamp: at(45), sampledValue: [{ value: '1500', context: 'Transaction.End' }] },
      ] }],
    ]);
    assert.deepEqual(s.periods.map((p) => [p.start, p.state, p.importWh, p.maxPowerW]), [[at(0), 'charging', 500, null], [at(15), 'parking', 0, 0]]);
  });
});

// --- OCPP 2.0.1 ------------------------------------------------------------------------

describe('OCPP 2.0.1 trace', () => {
  test('the fixture: V2G, kWh registers, import 12.9 kWh, export 5 kWh, then SuspendedEV', () => {
    const s = sessionFromOcpp(fixture('ocpp201-trace.json'));
    assert.deepEqual(s, {
      protocol: 'ocpp2.0.1', transactionId: '8e3c5a0e-4f6b-4d4b-9f0e-1c2d3e4f5a6b', idTag: 'DEABCC12345678X',
      start: '2025-06-02T17:00:00Z', end: '2025-06-02T18:50:00Z',
      // 2114.1356 kWh = 2114135.6 Wh, rounded half up to 2114136.
      meterStartWh: 2_114_136, meterStopWh: 2_127_036, exportStartWh: 523_400, exportStopWh: 528_400,
      periods: [
        { start: '2025-06-02T17:00:00Z', state: 'charging', importWh: 12_900, exportWh: 5000, maxPowerW: 14_800, maxCurrentA: 64 },
        { start: '2025-06-02T18:30:00Z', state: 'parking', importWh: 0, exportWh: 0, maxPowerW: 0, maxCurrentA: 0 },
      ],
    });
    assertTiles(s);
  });

  test('the fixture as OCPI charging periods: net ENERGY with ENERGY_IMPORT and ENERGY_EXPORT', () => {
    assert.deepEqual(chargingPeriods(sessionFromOcpp(fixture('ocpp201-trace.json'))), [
      { start_date_time: '2025-06-02T17:00:00Z', dimensions: [
        { type: 'ENERGY', volume: 7.9 }, { type: 'ENERGY_IMPORT', volume: 12.9 }, { type: 'ENERGY_EXPORT', volume: 5 },
        { type: 'TIME', volume: 1.5 }, { type: 'MAX_POWER', volume: 14.8 }, { type: 'MAX_CURRENT', volume: 64 },
      ] },
      { start_date_time: '2025-06-02T18:30:00Z', dimensions: [{ type: 'PARKING_TIME', volume: 0.3333 }] },
    ]);
  });

  test('a Keba-style value without a unit is Wh with a fraction, rounded half up; multiplier scales by 10^m', () => {
    const s = sessionFromOcpp([
      ev201('Started', 0, 0, { samples: [{ value: 2114135.6 }] }),
      ev201('Updated', 1, 15, { samples: [{ value: 2114140.5 }, { value: 3.68, measurand: 'Power.Active.Import', unitOfMeasure: { unit: 'W', multiplier: 3 } }] }),
      ev201('Ended', 2, 30, { samples: [{ value: 211.41421, unitOfMeasure: { multiplier: 4 } }] }),
    ]);
    assert.equal(s.meterStartWh, 2_114_136);
    assert.equal(s.meterStopWh, 2_114_142);
    // 2114140.5 rounds half up to 2114141; 211.41421 × 10^4 = 2114142.1 → 2114142.
    assert.deepEqual(s.periods.map((p) => [p.state, p.importWh, p.maxPowerW]), [['charging', 6, 3680]]);
  });

  test('chargingState Charging makes a span charging with no rise; SuspendedEV with no rise is parking', () => {
    const s = sessionFromOcpp([
      ev201('Started', 0, 0, { state: 'EVConnected', samples: [sv201(10)] }),
      ev201('Updated', 1, 10, { samples: [sv201(10)] }), // EVConnected, flat: parking
      ev201('Updated', 2, 20, { state: 'Charging', samples: [sv201(10)] }), // Charging, flat (ramping up): charging
      ev201('Updated', 3, 30, { samples: [sv201(12)] }),
      ev201('Updated', 4, 40, { state: 'SuspendedEVSE', samples: [sv201(12)] }),
      ev201('Ended', 5, 50, { state: 'Idle', samples: [sv201(12)] }),
    ]);
    assert.deepEqual(s.periods.map((p) => [p.start, p.state, p.importWh]), [[at201(0), 'parking', 0], [at201(20), 'charging', 2000], [at201(40), 'parking', 0]]);
    assert.equal(s.idTag, null);
    assertTiles(s);
  });

  test('a state change between two register samples counts for the whole span; a first register after Started is meterStart', () => {
    const s = sessionFromOcpp([
      ev201('Started', 0, 0, { state: 'EVConnected' }),
      ev201('Updated', 1, 5, { state: 'Charging' }),
      ev201('Updated', 2, 15, { samples: [sv201(1.25)] }),
      ev201('Updated', 3, 30, { samples: [sv201(4)] }),
      ev201('Ended', 4, 31, { state: 'EVConnected' }),
    ]);
    assert.equal(s.meterStartWh, 1250);
    assert.deepEqual(s.periods.map((p) => [p.start, p.state, p.importWh]), [[at201(0), 'charging', 2750]]);
  });
});

// --- refusals --------------------------------------------------------------------------

describe('refusals', () => {
  test('a register that goes down: E_OCPP_REGISTER names the message and both values', () => {
    const e = refused(() => sessionFromOcpp([start16(1000), mv16(15, 1600), mv16(30, 1590), stop16(1700, 45)]),
      'E_OCPP_REGISTER', /message 2 \(MeterValues\)/, /from 1600 Wh \(message 1/, /to 1590 Wh/);
    assert.equal(e.field, 'messages.2.meterValue.0.sampledValue.0.value');
    assert.deepEqual([e.details.previous, e.details.value], [1600, 1590]);
    refused(() => sessionFromOcpp([start16(1000), mv16(15, 1600), stop16(1500, 45)]), 'E_OCPP_REGISTER', /message 2 \(StopTransaction\): meterStop/, /from 1600 Wh/, /to 1500 Wh/);
    refused(() => sessionFromOcpp([start16(1000), mv16(15, 900), stop16(1500, 45)]), 'E_OCPP_REGISTER', /from 1000 Wh \(message 0 meterStart\) to 900 Wh/);
    refused(() => sessionFromOcpp([
      ev201('Started', 0, 0, { samples: [sv201(1), sv201(5, 'Energy.Active.Export.Register')] }),
      ev201('Ended', 1, 10, { samples: [sv201(2), sv201(4.999, 'Energy.Active.Export.Register')] }),
    ]), 'E_OCPP_REGISTER', /message 1 \(TransactionEvent\): meterValue\.0\.sampledValue\.1\.value: Energy\.Active\.Export\.Register goes down from 5000 Wh/, /to 4999 Wh/);
  });

  test('a non-numeric value: E_OCPP_VALUE', () => {
    const e = refused(() => sessionFromOcpp([start16(), mv16(15, '12,5kWh'), stop16(2000, 30)]), 'E_OCPP_VALUE', /message 1 \(MeterValues\): meterValue\.0\.sampledValue\.0\.value: "12,5kWh" is not a number/);
    assert.equal(e.field, 'messages.1.meterValue.0.sampledValue.0.value');
    refused(() => sessionFromOcpp([start16(), mv16(15, 1200, [{ value: 'n/a', measurand: 'Voltage' }]), stop16(2000, 30)]), 'E_OCPP_VALUE', /sampledValue\.1\.value: "n\/a"/);
  });

  test('a wrong type is refused with its path (E_OCPP_PAYLOAD); a 2.0.1 value must be a number', () => {
    refused(() => sessionFromOcpp([start16(), [2, 'x', 'MeterValues', { connectorId: 1, meterValue: [{ timestamp: at(5), sampledValue: [{ value: 12 }] }] }], stop16(2000, 30)]),
      'E_OCPP_PAYLOAD', /message 1 \(MeterValues\): meterValue\.0\.sampledValue\.0\.value: .*expected string/);
    refused(() => sessionFromOcpp([start16('1000' as unknown as number)]), 'E_OCPP_PAYLOAD', /message 0 \(StartTransaction\): meterStart: .*expected number/);
    refused(() => sessionFromOcpp([ev201('Started', 0, 0, { samples: [{ value: '12.5' }] })]), 'E_OCPP_PAYLOAD', /message 0 \(TransactionEvent\): meterValue\.0\.sampledValue\.0\.value/);
    refused(() => sessionFromOcpp([ev201('Started', 0, 0, { state: 'Discharging' })]), 'E_OCPP_PAYLOAD', /transactionInfo\.chargingState/);
    refused(() => sessionFromOcpp([[2, 'x', 'StartTransaction']]), 'E_OCPP_FRAME', /message 0/);
    refused(() => sessionFromOcpp({}), 'E_OCPP_FRAME', /JSON array/);
  });

  test('timestamps that go backwards: E_OCPP_TIME', () => {
    refused(() => sessionFromOcpp([start16(), mv16(20, 1200), mv16(15, 1300), stop16(2000, 30)]), 'E_OCPP_TIME', /message 2 \(MeterValues\): meterValue\.0\.timestamp: timestamp 2025-03-14T09:15:00Z goes backwards from 2025-03-14T09:20:00Z \(message 1\)/);
    refused(() => sessionFromOcpp([start16(1000, 10), stop16(2000, 5)]), 'E_OCPP_TIME', /message 1 \(StopTransaction\): timestamp/);
    refused(() => sessionFromOcpp([ev201('Started', 0, 10, { samples: [sv201(1)] }), ev201('Ended', 1, 5, { samples: [sv201(2)] })]), 'E_OCPP_TIME', /message 1 \(TransactionEvent\): timestamp/);
    refused(() => sessionFromOcpp([start16(), [2, 's', 'StopTransaction', { meterStop: 2000, timestamp: at(30), transactionId: 7, transactionData: [{ timestamp: at(31), sampledValue: [{ value: '2000' }] }] }]]),
      'E_OCPP_TIME', /transactionData\.0\.timestamp: sample at 2025-03-14T09:31:00Z is outside the transaction/);
    refused(() => sessionFromOcpp([start16(), [2, 'x', 'MeterValues', { connectorId: 1, meterValue: [{ timestamp: '2025-03-14 09:15', sampledValue: [{ value: '1' }] }] }], stop16(2000, 30)]), 'E_OCPP_TIME', /is not an ISO 8601 date-time/);
  });

  test('no start, no stop, no Ended: E_OCPP_NO_START / E_OCPP_NO_STOP', () => {
    refused(() => sessionFromOcpp([mv16(15, 1200), stop16(2000, 30)]), 'E_OCPP_SEQUENCE', /MeterValues of a transaction before its StartTransaction/);
    refused(() => sessionFromOcpp([stop16(2000, 30)]), 'E_OCPP_NO_START', /message 0 \(StopTransaction\)/);
    refused(() => sessionFromOcpp([[2, 'h', 'Heartbeat', {}]]), 'E_OCPP_NO_START', /OCPP trace: has no StartTransaction/);
    refused(() => sessionFromOcpp([start16(), mv16(15, 1200)]), 'E_OCPP_NO_STOP', /has no StopTransaction/);
    refused(() => sessionFromOcpp([ev201('Updated', 1, 0, { samples: [sv201(1)] })]), 'E_OCPP_NO_START', /Updated event before the Started event/);
    refused(() => sessionFromOcpp([ev201('Started', 0, 0, { samples: [sv201(1)] }), ev201('Updated', 1, 15, { samples: [sv201(2)] })]), 'E_OCPP_NO_STOP', /no TransactionEvent with eventType Ended for transaction "TX-1"/);
    refused(() => sessionFromOcpp([ev201('Started', 0, 0), ev201('Ended', 1, 15)]), 'E_OCPP_NO_REGISTER', /no Energy\.Active\.Import\.Register/);
  });

  test('mixed transaction ids: E_OCPP_TRANSACTION', () => {
    refused(() => sessionFromOcpp([start16(), mv16(15, 1200, [], 7), stop16(2000, 30, 8)]), 'E_OCPP_TRANSACTION', /message 2 \(StopTransaction\): transactionId: transaction 8 is not the trace's transaction 7 \(message 1\)/);
    refused(() => sessionFromOcpp([start16(), [3, 'm-start', { transactionId: 9 }], stop16(2000, 30, 7)]), 'E_OCPP_TRANSACTION', /transaction 7 is not the trace's transaction 9/);
    refused(() => sessionFromOcpp([ev201('Started', 0, 0, { samples: [sv201(1)] }), ev201('Ended', 1, 5, { samples: [sv201(2)], txId: 'TX-2' })]),
      'E_OCPP_TRANSACTION', /message 1 \(TransactionEvent\): transactionInfo\.transactionId: transaction "TX-2" is not the trace's transaction "TX-1" \(message 0\)/);
  });

  test('mixed protocols, a second start, seqNo going back, a unit that is not energy', () => {
    refused(() => sessionFromOcpp([start16(), ev201('Started', 0, 0, { samples: [sv201(1)] }), stop16(2000, 30)]), 'E_OCPP_PROTOCOL', /mixes OCPP 1\.6 StartTransaction \(message 0\) and OCPP 2\.0\.1 TransactionEvent \(message 1\)/);
    refused(() => sessionFromOcpp([start16(), start16(), stop16(2000, 30)]), 'E_OCPP_SEQUENCE', /a second StartTransaction/);
    refused(() => sessionFromOcpp([ev201('Started', 3, 0, { samples: [sv201(1)] }), ev201('Ended', 3, 5, { samples: [sv201(2)] })]), 'E_OCPP_SEQUENCE', /seqNo 3 does not follow seqNo 3/);
    refused(() => sessionFromOcpp([start16(), mv16(15, 1200, [{ value: '5', unit: 'varh' }]), stop16(2000, 30)]), 'E_OCPP_UNIT', /sampledValue\.1\.value: unit "varh"/);
  });
});

// --- properties ------------------------------------------------------------------------

describe('properties', () => {
  /** A random monotone series: (minutes after start, import step, export step) per sample. */
  const series = fc.array(fc.record({ gap: fc.integer({ min: 0, max: 30 }), imp: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 5000 })), exp: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3000 })) }), { maxLength: 20 });

  const checkSession = (s: MeteredSession) => {
    assertTiles(s);
    const importWh = s.periods.reduce((a, p) => a + p.importWh, 0);
    const exportWh = s.periods.reduce((a, p) => a + p.exportWh, 0);
    assert.equal(importWh, s.meterStopWh - s.meterStartWh);
    assert.equal(exportWh, s.exportStopWh === null ? 0 : s.exportStopWh - s.exportStartWh!);
    for (const p of s.periods) if (p.state === 'parking') assert.equal(p.importWh + p.exportWh, 0);
    // ENERGY volumes are exact Wh / 1000: × 1000 they are integers that sum to the net energy.
    const energy = volumes(s, 'ENERGY').map((v) => v * 1000);
    for (const v of energy) assert.ok(Math.abs(v - Math.round(v)) < 1e-6, `${v}`);
    assert.equal(energy.reduce((a, v) => a + Math.round(v), 0), importWh - exportWh);
    // TIME + PARKING_TIME cover the session to within the 4-decimal rounding of each period.
    const hours = [...volumes(s, 'TIME'), ...volumes(s, 'PARKING_TIME')].reduce((a, v) => a + v, 0);
    const seconds = (parseInstant(s.end) - parseInstant(s.start)) / 1000;
    assert.ok(Math.abs(hours - seconds / 3600) <= chargingPeriods(s).length * 0.00005 + 1e-9);
  };

  test('OCPP 1.6: Σ period importWh = meterStop − meterStart and the periods tile start..end', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 10_000_000 }), series, fc.integer({ min: 0, max: 20 }), (meterStart, steps, tail) => {
      let t = 0;
      let wh = meterStart;
      const msgs: unknown[] = [start16(meterStart)];
      for (const s of steps) {
        t += s.gap;
        wh += s.imp;
        msgs.push(mv16(t, s.imp % 2 ? (wh / 1000).toFixed(3) : wh, [], 7));
        if (s.imp % 2) (msgs.at(-1) as any)[3].meterValue[0].sampledValue[0].unit = 'kWh';
      }
      msgs.push(stop16(wh, t + tail));
      checkSession(sessionFromOcpp(msgs));
    }), { numRuns: 200 });
  });

  test('OCPP 2.0.1 with export: Σ import and export per period are the register differences, ENERGY sums exactly', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 10_000_000 }), fc.integer({ min: 0, max: 1_000_000 }), series, fc.array(fc.constantFrom('Charging', 'SuspendedEV', 'EVConnected', undefined), { minLength: 22, maxLength: 22 }), (imp0, exp0, steps, states) => {
      let t = 0;
      let imp = imp0;
      let exp = exp0;
      const samples = () => [{ value: imp / 1000, measurand: 'Energy.Active.Import.Register', unitOfMeasure: { unit: 'kWh' } }, { value: exp, measurand: 'Energy.Active.Export.Register' }];
      const msgs: unknown[] = [ev201('Started', 0, 0, { samples: samples(), ...(states[0] ? { state: states[0] } : {}) })];
      steps.forEach((s, k) => {
        t += s.gap;
        imp += s.imp;
        exp += s.exp;
        msgs.push(ev201('Updated', k + 1, t, { samples: samples(), ...(states[k + 1] ? { state: states[k + 1] } : {}) }));
      });
      msgs.push(ev201('Ended', steps.length + 1, t + 1, { samples: samples() }));
      const s = sessionFromOcpp(msgs);
      assert.deepEqual([s.meterStartWh, s.meterStopWh, s.exportStartWh, s.exportStopWh], [imp0, imp, exp0, exp]);
      checkSession(s);
    }), { numRuns: 200 });
  });
});
