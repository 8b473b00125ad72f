import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { Signer } from '../client.ts';
import { writeKeyFile } from '../node/key-file.ts';
import { OcpiStore } from '../server/ocpi.ts';
import { SqliteLedger } from '../store/sqlite-ledger.ts';
import { CHARGER, LOCATION, TARIFF, TOKEN_KEY, token } from '../../test/support/charging.ts';
import { openlec } from '../../test/support/cli.ts';
import { COMMUNITY, seededKey, tempDb } from '../../test/support/community.ts';
import { EXIT } from './output.ts';

/**
 * The `openlec charging` commands, run as the CLI (with OPENLEC_USE_DIST=1 after
 * `npm run build:lib`, the compiled one). `price` on the OCPI spec's worked examples;
 * then the roaming flow from the command line: party, location, tariff, a CDR from the
 * OCPP 1.6 fixture trace, refusals that append nothing, a credit, settlement, statement.
 */

type Result = { code: number; stdout: string; stderr: string };
const json = <T>(r: Result, what: string): T => {
  assert.equal(r.code, 0, `${what}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
};
const OCPI = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'charging', 'ocpi');
const TRACE = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'charging', 'ocpp16-trace.json');
const spec = (name: string) => JSON.parse(readFileSync(join(OCPI, name), 'utf8'));

const CDR_LOCATION = {
  id: 'LOC1', address: 'F.Rooseveltlaan 3A', city: 'Gent', country: 'BEL', coordinates: { latitude: '51.047599', longitude: '3.729944' }, evse_uid: '3256', evse_id: 'BE*BEC*E041503003',
  connector_id: '1', connector_standard: 'IEC_62196_T2', connector_format: 'SOCKET', connector_power_type: 'AC_3_PHASE',
};

/** The tariff_4_complex worked example (mod_tariffs): Monday 2024-01-15 09:30 Berlin, 165 min at 16 A, then 42 min parked: 9.00 / 10.30. */
const complexCdr = {
  country_code: 'DE', party_id: 'ALL', id: 'CDR-COMPLEX', start_date_time: '2024-01-15T08:30:00Z', end_date_time: '2024-01-15T11:57:00Z',
  cdr_token: { country_code: 'NL', party_id: 'TST', uid: '012345678', type: 'RFID', contract_id: 'NL-TST-C12345678-S' }, auth_method: 'WHITELIST', cdr_location: CDR_LOCATION, currency: 'EUR',
  charging_periods: [
    { start_date_time: '2024-01-15T08:30:00Z', dimensions: [{ type: 'ENERGY', volume: 10 }, { type: 'MIN_CURRENT', volume: 16 }, { type: 'MAX_CURRENT', volume: 16 }] },
    { start_date_time: '2024-01-15T11:15:00Z', dimensions: [{ type: 'PARKING_TIME', volume: 0.7 }] },
  ],
  total_cost: { excl_vat: 9, incl_vat: 10.3 }, total_fixed_cost: { excl_vat: 2.5, incl_vat: 2.875 }, total_energy: 10, total_time: 3.45, total_time_cost: { excl_vat: 2.75, incl_vat: 3.3 },
  total_parking_cost: { excl_vat: 3.75, incl_vat: 4.125 }, total_parking_time: 0.7, last_updated: '2024-01-15T12:00:00Z',
};

interface Dim { excl: number; incl: number | null; quantity: number; billed: number }
interface Priced {
  kind: string; timeZone: string | null; tariff: { id: string; from: string }; ocpi: { total_cost: { excl_vat: number; incl_vat?: number }; total_time: number; total_parking_time?: number };
  micro: { fixed: Dim; energy: Dim; time: Dim; parking: Dim; total: { excl: number; incl: number | null }; timeStep: string; importWh: number; seconds: number }; check: { field: string | null };
}

describe('openlec charging (CLI of EV charging)', () => {
  test('price: the spec\'s worked examples from files, a time zone required only by local-time restrictions, strict parse errors naming the field', async () => {
    const dir = dirname(tempDb());
    const cdrFile = join(dir, 'complex-cdr.json');
    writeFileSync(cdrFile, JSON.stringify(complexCdr));
    const complex = join(OCPI, 'tariff_4_complex.json');

    // The tariff has weekday and time-of-day restrictions, the CDR no zone: refused, naming the option.
    const noZone = await openlec('charging', 'price', '--tariff', complex, '--cdr', cdrFile);
    assert.equal(noZone.code, EXIT.usage);
    assert.match(noZone.stderr, /--time-zone is required: tariff 14 has restrictions in local time \(elements\.\d+\.restrictions\.\w+\).*\[E_USAGE, field time-zone\]/);

    const p = json<Priced>(await openlec('charging', 'price', '--tariff', complex, '--cdr', cdrFile, '--time-zone', 'Europe/Berlin', '--json'), 'price complex');
    assert.equal(p.kind, 'cdr');
    assert.equal(p.timeZone, 'Europe/Berlin');
    assert.deepEqual(p.ocpi.total_cost, { excl_vat: 9, incl_vat: 10.3 });
    assert.deepEqual(p.micro.total, { excl: 9_000_000, incl: 10_300_000 });
    assert.deepEqual([p.micro.fixed.excl, p.micro.fixed.incl], [2_500_000, 2_875_000]);
    assert.deepEqual([p.micro.time.quantity, p.micro.time.billed, p.micro.time.excl, p.micro.time.incl], [9900, 9900, 2_750_000, 3_300_000]);
    assert.deepEqual([p.micro.parking.quantity, p.micro.parking.billed, p.micro.parking.excl, p.micro.parking.incl], [2520, 2700, 3_750_000, 4_125_000]);
    assert.equal(p.micro.importWh, 10_000);
    assert.equal(p.check.field, null); // the CDR's own totals agree

    const text = await openlec('charging', 'price', '--tariff', complex, '--cdr', cdrFile, '--time-zone', 'Europe/Berlin');
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^CDR CDR-COMPLEX, 2024-01-15T08:30:00Z to 2024-01-15T11:57:00Z, under tariff 14 /);
    assert.match(text.stdout, /local time Europe\/Berlin/);
    assert.match(text.stdout, /time \(h:mm:ss\)\s+2:45:00\s+2:45:00\s+2\.7500\s+3\.3000/);
    assert.match(text.stdout, /parking \(h:mm:ss\)\s+0:42:00\s+0:45:00\s+3\.7500\s+4\.1250/);
    assert.match(text.stdout, /total\s+9\.0000\s+10\.3000/);
    assert.match(text.stdout, /step rule for time and parking: \w+/);

    // A Session (told apart by its fields) under tariff_13, which reads no local time: no zone needed.
    const session = {
      ...spec('session_example_2_short_finished.json'), start_date_time: '2024-01-15T08:00:00Z', end_date_time: '2024-01-15T11:12:00Z', kwh: 25,
      charging_periods: [{ start_date_time: '2024-01-15T08:00:00Z', dimensions: [{ type: 'ENERGY', volume: 25 }] }, { start_date_time: '2024-01-15T10:30:00Z', dimensions: [{ type: 'PARKING_TIME', volume: 0.7 }] }],
      total_cost: { excl_vat: 11.25, incl_vat: 12.75 },
    };
    const sessionFile = join(dir, 'session.json');
    writeFileSync(sessionFile, JSON.stringify(session));
    const s = json<Priced>(await openlec('charging', 'price', '--tariff', join(OCPI, 'tariff_13_simple_3hour_5parking.json'), '--cdr', sessionFile, '--json'), 'price session');
    assert.equal(s.kind, 'session');
    assert.equal(s.timeZone, null);
    assert.deepEqual(s.micro.total, { excl: 11_250_000, incl: 12_750_000 });
    assert.deepEqual([s.micro.time.billed, s.micro.parking.billed], [9000, 2700]);
    assert.equal(s.check.field, null);

    // The spec's CDR example carries its tariff: --tariff may be left out.
    const own = json<Priced>(await openlec('charging', 'price', '--cdr', join(OCPI, 'cdr_example.json'), '--json'), 'price cdr_example');
    assert.deepEqual([own.tariff.id, own.tariff.from, own.micro.total.excl, own.micro.total.incl, own.micro.time.billed], ['12', 'cdr', 4_000_000, 4_400_000, 7200]);

    // Strict OCPI parsing: the field at fault is named.
    const badTariff = join(dir, 'bad-tariff.json');
    const t = spec('tariff_8_simple_025kwh.json');
    writeFileSync(badTariff, JSON.stringify({ ...t, elements: [{ price_components: [{ ...t.elements[0].price_components[0], type: 'KWH' }] }] }));
    const bad = await openlec('charging', 'price', '--tariff', badTariff, '--cdr', cdrFile, '--time-zone', 'Europe/Berlin');
    assert.equal(bad.code, EXIT.error);
    assert.match(bad.stderr, /tariff elements\.0\.price_components\.0\.type: .*\[E_OCPI, field elements\.0\.price_components\.0\.type\]/);
    const extra = join(dir, 'extra-cdr.json');
    writeFileSync(extra, JSON.stringify({ ...complexCdr, cdr_location: { ...CDR_LOCATION, floor: '2' } }));
    const unknown = await openlec('charging', 'price', '--tariff', complex, '--cdr', extra, '--time-zone', 'Europe/Berlin');
    assert.equal(unknown.code, EXIT.error);
    assert.match(unknown.stderr, /CDR cdr_location: unknown field "floor" \[E_OCPI, field cdr_location\.floor\]/);
  });

  test('party, location, tariff, a CDR from an OCPP 1.6 trace, a refused CDR appends nothing, credit, settle, statement CSV, sessions by card; verify replays it', async () => {
    // A community with a DSO, the CPO (its meter CHARGER) and an eMSP participant; everything charging goes through the command line.
    const db = tempDb();
    const dir = dirname(db);
    const clock = { ms: Date.UTC(2025, 0, 1) };
    const mk = (label: string) => new Signer(seededKey(label), COMMUNITY, 0, () => new Date(clock.ms).toISOString());
    const [operator, dso, cpo] = ['operator', 'dso', 'cpo'].map(mk) as [Signer, Signer, Signer];
    const ledger = SqliteLedger.create(db);
    const results = await ledger.submitMany([
      operator.sign('community.create', { name: 'Charge Lane', timeZone: 'Europe/Paris', intervalMinutes: 30, currency: 'EUR', operator: operator.actor }),
      operator.sign('participant.register', { key: dso.actor, roles: ['dso'] }),
      operator.sign('participant.register', { key: cpo.actor, roles: ['cpo', 'member'] }),
      dso.sign('meter.register', { meter: CHARGER, scheme: 'PRM', direction: 'import', owner: cpo.actor }),
    ]);
    for (const r of results) if (!r.ok) throw r.error;
    await ledger.close();
    writeKeyFile(join(dir, 'keys', 'operator.key'), seededKey('operator'));
    writeKeyFile(join(dir, 'keys', 'cpo.key'), seededKey('cpo'));
    writeFileSync(join(dir, 'keys', 'token.key'), TOKEN_KEY, { mode: 0o600 });
    const locationFile = join(dir, 'location.json');
    const tariffFile = join(dir, 'tariff.json');
    writeFileSync(locationFile, JSON.stringify(LOCATION));
    writeFileSync(tariffFile, JSON.stringify({ data: TARIFF, status_code: 1000, timestamp: '2025-01-01T00:00:00Z' })); // an OCPI response, unwrapped
    const size = async () => {
      const l = SqliteLedger.open(db);
      try {
        return l.size;
      } finally {
        await l.close();
      }
    };

    const cpoParty = json<{ party: string; key: string }>(await openlec('charging', 'party', '--db', db, '--at', '2025-02-01T00:00:00Z', '--role', 'CPO', '--country', 'FR', '--party-id', 'OLC',
      '--name', 'Charge Lane CPO', '--party-key', join(dir, 'keys', 'cpo.key'), '--json'), 'party CPO');
    assert.deepEqual([cpoParty.party, cpoParty.key], ['FR*OLC', cpo.actor]);
    const emsp = await openlec('charging', 'party', '--db', db, '--at', '2025-02-01T00:00:00Z', '--role', 'emsp', '--country', 'NL', '--party-id', 'TST', '--name', 'Test Mobility');
    assert.equal(emsp.code, 0, emsp.stderr);
    assert.match(emsp.stdout, /^EMSP NL\*TST \(Test Mobility\) registered in entry \d+/);
    const location = await openlec('charging', 'location', '--db', db, '--at', '2025-02-01T00:01:00Z', '--file', locationFile, '--meter', CHARGER);
    assert.equal(location.code, 0, location.stderr);
    assert.match(location.stdout, /location LANE-1 of FR\*OLC recorded in entry \d+: 2 EVSE\(s\) \(LANE-1-1, LANE-1-2\), time zone Europe\/Paris, behind meter 30009999999999/);
    const tariff = json<{ id: string; version: string }>(await openlec('charging', 'tariff', '--db', db, '--at', '2025-02-01T00:02:00Z', '--file', tariffFile, '--json'), 'tariff');
    assert.deepEqual([tariff.id, tariff.version], ['LANE', '2025-01-01T00:00:00Z']);

    // The OCPP 1.6 trace: 15.065 kWh on 2025-03-14 from 10:00 local, 40 min parked; the card enters the log as its pseudonym.
    const ocpp = (id: string, at: string) => openlec('charging', 'cdr', '--db', db, '--at', at, '--ocpp', TRACE, '--location', 'LANE-1', '--evse', 'LANE-1-1', '--connector', '1',
      '--tariff', 'LANE', '--emsp', 'NL*TST', '--id', id, '--json');
    const one = json<{ entry: number; cdr: { cdr_token: unknown; total_cost: unknown; total_energy: number; last_updated: string; tariffs: unknown[] } }>(await ocpp('CDR-1', '2025-03-14T12:00:00Z'), 'cdr');
    assert.deepEqual(one.cdr.cdr_token, token('04A1B2C3D4E5F6'));
    assert.deepEqual(one.cdr.total_cost, { excl_vat: 5.3528, incl_vat: 6.4234 });
    assert.equal(one.cdr.total_energy, 15.065);
    assert.equal(one.cdr.last_updated, '2025-03-14T12:00:00Z');
    assert.deepEqual(one.cdr.tariffs, [TARIFF]);

    // Refused by the log (its price is not the recorded tariff's), or by the strict schema: the field is named, the exit code is not 0, nothing is appended.
    const before = await size();
    const wrongFile = join(dir, 'wrong-cdr.json');
    writeFileSync(wrongFile, JSON.stringify({ ...one.cdr, id: 'CDR-9', total_cost: { excl_vat: 5, incl_vat: 6 } }));
    const wrong = await openlec('charging', 'cdr', '--db', db, '--at', '2025-03-14T12:30:00Z', '--cdr', wrongFile);
    assert.equal(wrong.code, EXIT.error);
    assert.match(wrong.stderr, /body\.cdr\.total_cost is \{"excl_vat":5,"incl_vat":6\}, the tariff recorded in the log gives \{"excl_vat":5\.3528,"incl_vat":6\.4234\} \[E_CDR_PRICE, field body\.cdr\.total_cost\]/);
    assert.doesNotMatch(wrong.stderr, /    at /);
    const strictFile = join(dir, 'strict-cdr.json');
    writeFileSync(strictFile, JSON.stringify({ ...one.cdr, id: 'CDR-9', auth_method: 'BADGE' }));
    const strict = await openlec('charging', 'cdr', '--db', db, '--at', '2025-03-14T12:30:00Z', '--cdr', strictFile);
    assert.equal(strict.code, EXIT.error);
    assert.match(strict.stderr, /CDR auth_method: .*\[E_OCPI, field auth_method\]/);
    const noEvse = await openlec('charging', 'cdr', '--db', db, '--at', '2025-03-14T12:30:00Z', '--ocpp', TRACE, '--location', 'LANE-1', '--evse', 'LANE-1-7', '--connector', '1',
      '--tariff', 'LANE', '--emsp', 'NL*TST', '--id', 'CDR-9');
    assert.equal(noEvse.code, EXIT.error);
    assert.match(noEvse.stderr, /EVSE LANE-1-7 is not at location LANE-1 \(--evse\) \[E_UNKNOWN_EVSE, field evse\]/);
    assert.equal(await size(), before);

    // CDR-1 is credited, then sent again as CDR-2: the month nets one session.
    const credit = json<{ cdr: { id: string; credit: boolean; credit_reference_id: string; total_cost: unknown } }>(
      await openlec('charging', 'credit', '--db', db, '--at', '2025-03-15T09:00:00Z', '--cdr', 'CDR-1', '--id', 'CDR-1-C', '--json'), 'credit');
    assert.deepEqual([credit.cdr.id, credit.cdr.credit, credit.cdr.credit_reference_id, credit.cdr.total_cost], ['CDR-1-C', true, 'CDR-1', { excl_vat: -5.3528, incl_vat: -6.4234 }]);
    assert.equal((await ocpp('CDR-2', '2025-03-15T09:05:00Z')).code, 0);

    const early = await openlec('charging', 'settle', '--db', db, '--at', '2025-03-20T00:00:00Z', '--month', '2025-03');
    assert.equal(early.code, EXIT.error);
    assert.match(early.stderr, /\[E_CHARGING_GATE, field body\.month\]/);
    const settled = json<{ entry: number; month: string; lines: { cpo: string; emsp: string; cdrs: number; credits: number; energyWh: number; netExclMicro: number; netInclMicro: number }[] }>(
      await openlec('charging', 'settle', '--db', db, '--at', '2025-04-01T08:00:00Z', '--month', '2025-03', '--json'), 'settle');
    assert.deepEqual(settled.lines.map((l) => [l.cpo, l.emsp, l.cdrs, l.credits, l.energyWh, l.netInclMicro]), [['FR*OLC', 'NL*TST', 2, 1, 15_065, 6_423_400]]);

    const csv = join(dir, 'statement.csv');
    const statement = await openlec('charging', 'statement', '--db', db, '--party', 'NL*TST', '--month', '2025-03', '--csv', csv);
    assert.equal(statement.code, 0, statement.stderr);
    assert.match(statement.stdout, new RegExp(`charging statement of NL\\*TST for 2025-03: settled in entry ${settled.entry}`));
    assert.match(statement.stdout, /CDR-1-C\s+credit of CDR-1\s+FR\*OLC\s+NL\*TST\s+LANE-1\s+2025-03-14 10:00\s+2025-03-14 12:10\s+-15\.065\s+EUR\s+-5\.3528\s+-6\.4234/);
    const rows = readFileSync(csv, 'utf8').trim().split('\n');
    assert.deepEqual(rows.map((r) => r.split(';').slice(0, 10).join(';')), [
      'kind;cpo;emsp;cdr;credit_of;start;end;location;energy_wh;currency',
      'cdr;FR*OLC;NL*TST;CDR-1;;2025-03-14T09:00:00Z;2025-03-14T11:10:00Z;LANE-1;15065;EUR',
      'credit;FR*OLC;NL*TST;CDR-1-C;CDR-1;2025-03-14T09:00:00Z;2025-03-14T11:10:00Z;LANE-1;-15065;EUR',
      'cdr;FR*OLC;NL*TST;CDR-2;;2025-03-14T09:00:00Z;2025-03-14T11:10:00Z;LANE-1;15065;EUR',
      'total;FR*OLC;NL*TST;;;;;;15065;EUR',
    ]);
    const money = rows.slice(1).map((r) => r.split(';').slice(10).map(Number));
    assert.deepEqual(money.map((m) => m[1]), [6_423_400, -6_423_400, 6_423_400, 6_423_400]);
    assert.deepEqual([money[0]![0], money[2]![0]], [5_352_833, 5_352_833]);
    // The total is the sum of the CDRs and the credit, as the settlement signed it.
    assert.equal(money[3]![0], money[0]![0]! + money[1]![0]! + money[2]![0]!);
    assert.equal(money[3]![0], settled.lines[0]!.netExclMicro);

    // A driver's sessions through the pseudonym of the card; a CPO's sessions.
    const mine = json<{ sessions: { id: string }[] }>(await openlec('charging', 'sessions', '--db', db, '--card', '04A1B2C3D4E5F6', '--month', '2025-03', '--json'), 'sessions by card');
    assert.deepEqual(mine.sessions.map((s) => s.id), ['CDR-1', 'CDR-1-C', 'CDR-2']);
    const other = json<{ sessions: unknown[] }>(await openlec('charging', 'sessions', '--db', db, '--card', 'SOMEONE-ELSE', '--json'), 'sessions of another card');
    assert.equal(other.sessions.length, 0);
    const byCpo = await openlec('charging', 'sessions', '--db', db, '--cpo', 'FR*OLC');
    assert.equal(byCpo.code, 0, byCpo.stderr);
    assert.match(byCpo.stdout, /^3 charging session\(s\) of FR\*OLC; local time Europe\/Paris/);

    // An OCPI registration token A for the eMSP, kept hashed in the store beside the log; none for a party the log does not know.
    const issued = json<{ party: string; token: string; store: string }>(await openlec('charging', 'ocpi-token', '--db', db, '--country', 'NL', '--party-id', 'TST', '--json'), 'ocpi-token');
    assert.equal(issued.party, 'NL*TST');
    assert.equal(issued.store, `${db}.ocpi.db`);
    const store = OcpiStore.open(issued.store);
    try {
      assert.deepEqual(store.tokenOf(issued.token), { kind: 'A', party: 'NL*TST' });
    } finally {
      store.close();
    }
    const unknownEmsp = await openlec('charging', 'ocpi-token', '--db', db, '--country', 'BE', '--party-id', 'UNK');
    assert.equal(unknownEmsp.code, EXIT.usage);
    assert.match(unknownEmsp.stderr, /BE\*UNK is not a registered eMSP .*\[E_USAGE, field party-id\]/);

    // The CPO links the card to a member (only the pseudonym enters the log); local origin needs the month's certificates settled first.
    const linked = json<{ token: string; member: string }>(await openlec('charging', 'driver', '--db', db, '--card', '04A1B2C3D4E5F6', '--emsp', 'NL*TST', '--member', cpo.actor, '--json'), 'driver');
    assert.equal(linked.token, token('04A1B2C3D4E5F6').uid);
    assert.equal(linked.member, cpo.actor);
    const noCertificates = await openlec('charging', 'origin', '--db', db, '--month', '2025-03');
    assert.notEqual(noCertificates.code, 0);
    assert.match(noCertificates.stderr, /E_CERTIFICATES_NOT_SETTLED/);

    const verified = json<{ ok: boolean; rows: Record<string, number> }>(await openlec('verify', '--db', db, '--json'), 'verify');
    assert.equal(verified.ok, true);
    assert.equal(verified.rows.charging_cdrs, 3);
    assert.equal(verified.rows.charging_settlements, 1);
  });
});
