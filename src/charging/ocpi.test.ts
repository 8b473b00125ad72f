import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { OpenlecError } from '../errors.ts';
import { connector, energyMix, evse, location, parseCdr, parseLocation, parseOcpi, parseSession, parseTariff, session } from './ocpi.ts';

/**
 * The OCPI 2.2.1 example files (ocpi/ocpi examples/, test/fixtures/charging/ocpi) read by the
 * strict schemas, and the refusals: each names the field at fault.
 */

const dir = new URL('../../test/fixtures/charging/ocpi/', import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
const read = (f: string): Record<string, unknown> => JSON.parse(readFileSync(new URL(f, dir), 'utf8'));
const clone = <T>(v: T): T => structuredClone(v);

/** The example files that hold a whole object, by type; the others are fragments, patches or other modules (below). */
const WHOLE: Record<string, (v: unknown) => unknown> = {
  tariff: parseTariff,
  tariffrestriction: parseTariff,
  cdr: parseCdr,
  session: parseSession,
  location: parseLocation,
};
/** Fragments of those four types: a PATCH body or a part of the object, read with the matching part of the schema. */
const FRAGMENTS: Record<string, (v: unknown) => unknown> = {
  'location_energymix_example_complete.json': (v) => parseOcpi(location.pick({ energy_mix: true }), v, 'location'),
  'location_energymix_example_energy_provider.json': (v) => parseOcpi(location.pick({ energy_mix: true }), v, 'location'),
  'location_energymix_example_simple.json': (v) => parseOcpi(location.pick({ energy_mix: true }), v, 'location'),
  'location_hours_247_open_exception_closing.json': (v) => parseOcpi(location.shape.opening_times.unwrap(), v, 'opening_times'),
  'location_hours_opening_hours_with_exceptional_closing.json': (v) => parseOcpi(location.shape.opening_times.unwrap(), v, 'opening_times'),
  'location_hours_opening_hours_with_exceptional_opening.json': (v) => parseOcpi(location.shape.opening_times.unwrap(), v, 'opening_times'),
  'location_regularhours_example.json': (v) => parseOcpi(location.pick({ opening_times: true }), v, 'location'),
  'location_patch_example_location.json': (v) => parseOcpi(location.partial(), v, 'location patch'),
  'location_patch_example_remove_evse.json': (v) => parseOcpi(evse.partial(), v, 'evse patch'),
  'location_patch_example_status.json': (v) => parseOcpi(evse.partial(), v, 'evse patch'),
  'location_patch_example_tariff.json': (v) => parseOcpi(connector.partial(), v, 'connector patch'),
  'location_put_example_add_evse.json': (v) => parseOcpi(evse, v, 'evse'),
  'session_patch_example_charging_period.json': (v) => parseOcpi(session.partial(), v, 'session patch'),
  'session_patch_example_total_cost.json': (v) => parseOcpi(session.partial(), v, 'session patch'),
};
/**
 * Examples of the spec that break its own object definitions (v2.2.1-d2 examples/):
 * tariff_put_example omits last_updated (Card. 1); location_put_example_add_evse has a
 * connector without power_type, max_voltage, max_amperage, last_updated, and writes
 * "floor": -1 and "physical_reference": 3 (the fields are floor_level, string(4), and string(16)).
 */
const DEFECTIVE: Record<string, { field: string; repair: (v: any) => unknown }> = {
  'tariff_put_example.json': { field: 'last_updated', repair: (v) => ({ ...v, last_updated: '2019-02-02T14:15:01Z' }) },
  'location_put_example_add_evse.json': {
    field: 'connectors.0.power_type',
    repair: ({ floor, physical_reference, ...v }) => ({
      ...v,
      floor_level: String(floor),
      physical_reference: String(physical_reference),
      connectors: v.connectors.map((c: object) => ({ ...c, power_type: 'AC_3_PHASE', max_voltage: 230, max_amperage: 32, last_updated: v.last_updated })),
    }),
  },
};
const typeOf = (f: string) => f.replace(/_.*$/, '');
const OF_TYPE = files.filter((f) => typeOf(f) in WHOLE);

function refusal(fn: () => unknown, field: string, pattern?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof OpenlecError, `expected an OpenlecError, got ${String(e)}`);
    assert.equal(e.code, 'E_OCPI');
    assert.equal(e.field, field, e.message);
    // An unknown key is reported at its parent: 'elements.0.price_components.0: unknown field "foo"'.
    const parent = field.includes('.') ? field.slice(0, field.lastIndexOf('.')) : '';
    const last = field.slice(field.lastIndexOf('.') + 1);
    assert.ok(e.message.includes(field) || (e.message.includes(parent) && e.message.includes(`"${last}"`)), `the message names the field: ${e.message}`);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

describe('the OCPI 2.2.1 example files parse', () => {
  it('there are example files of each type (tariff, cdr, session, location)', () => {
    for (const t of ['tariff', 'cdr', 'session', 'location']) assert.ok(OF_TYPE.some((f) => typeOf(f) === t), t);
    assert.ok(OF_TYPE.length >= 40, `${OF_TYPE.length} files`);
  });

  for (const f of OF_TYPE) {
    it(f, () => {
      const v = read(f);
      const fragment = FRAGMENTS[f];
      const parse = fragment ?? WHOLE[typeOf(f)]!;
      const defect = DEFECTIVE[f];
      if (defect) {
        // A defective example in the spec itself: refused, naming the first field at fault; repaired, it parses.
        refusal(() => parse(v), defect.field);
        assert.doesNotThrow(() => parse(defect.repair(clone(v))));
        return;
      }
      const parsed = parse(v);
      // Strict schemas drop nothing: what parses is the file, field for field.
      assert.deepEqual(parsed, v);
    });
  }

  it('every fragment or patch file is named in the fragment table (no file of these types is skipped)', () => {
    const whole = OF_TYPE.filter((f) => !FRAGMENTS[f] && !DEFECTIVE[f]);
    for (const f of whole) assert.doesNotThrow(() => WHOLE[typeOf(f)]!(read(f)), f);
    for (const f of Object.keys(FRAGMENTS)) assert.ok(files.includes(f), f);
  });

  it('the energy mix fragment parses with the energyMix schema itself', () => {
    const v = read('location_energymix_example_complete.json');
    assert.deepEqual(parseOcpi(energyMix, v.energy_mix, 'energy_mix'), v.energy_mix);
  });
});

describe('OCPI refusals name the field', () => {
  const tariff = read('tariff_4_complex.json');
  const cdr = read('cdr_example.json');
  const sessionExample = read('session_example_2_short_finished.json');
  const locationExample = read('location_example.json');
  type Json = Record<string, any>;
  const edit = <T extends Json>(v: T, f: (c: Json) => void): T => {
    const c = clone(v) as Json;
    f(c);
    return c as T;
  };

  it('an unknown field: elements.0.price_components.0.foo', () => {
    refusal(() => parseTariff(edit(tariff, (t) => (t.elements[0].price_components[0].foo = 1))), 'elements.0.price_components.0.foo', /unknown field "foo"/);
  });

  it('an unknown field at the root and in a restriction', () => {
    refusal(() => parseTariff({ ...tariff, tax_included: true }), 'tax_included');
    refusal(() => parseTariff(edit(tariff, (t) => (t.elements[1].restrictions.weekdays = ['MONDAY']))), 'elements.1.restrictions.weekdays');
  });

  it('an unknown dimension type in a CDR charging period', () => {
    refusal(() => parseCdr(edit(cdr, (c) => (c.charging_periods[0].dimensions[0].type = 'KWH'))), 'charging_periods.0.dimensions.0.type');
    refusal(() => parseSession(edit(sessionExample, (s) => (s.charging_periods[0].dimensions[0].type = 'FLAT'))), 'charging_periods.0.dimensions.0.type');
  });

  it('a bad time of day: "25:00", "24:00", "9:00", "12:60"', () => {
    for (const bad of ['25:00', '24:00', '9:00', '12:60', '12:00:00']) {
      refusal(() => parseTariff(edit(tariff, (t) => (t.elements[1].restrictions.start_time = bad))), 'elements.1.restrictions.start_time', /HH:MM/);
    }
    refusal(() => parseTariff(edit(tariff, (t) => (t.elements[1].restrictions.end_time = '25:00'))), 'elements.1.restrictions.end_time');
    refusal(() => parseLocation(edit(locationExample, (l) => (l.opening_times = { twentyfourseven: false, regular_hours: [{ weekday: 1, period_begin: '25:00', period_end: '20:00' }] }))), 'opening_times.regular_hours.0.period_begin');
  });

  it('a bad date: restriction dates and DateTimes', () => {
    for (const bad of ['2024-13-01', '2024-00-10', '2024-01-32', '24-01-01', '2024/01/01', '2024-01-01T00:00:00Z']) {
      refusal(() => parseTariff(edit(tariff, (t) => (t.elements[1].restrictions.start_date = bad))), 'elements.1.restrictions.start_date', /YYYY-MM-DD/);
    }
    refusal(() => parseTariff(edit(tariff, (t) => (t.elements[1].restrictions.end_date = '2024-1-1'))), 'elements.1.restrictions.end_date');
    for (const bad of ['2015-13-29T21:39:09Z', '2015-06-29 21:39:09Z', '2015-06-29T21:39:09+02:00', '2015-06-29T24:00:00Z', '2015-06-29']) {
      refusal(() => parseCdr({ ...cdr, start_date_time: bad }), 'start_date_time', /DateTime/);
    }
    refusal(() => parseCdr(edit(cdr, (c) => (c.charging_periods[0].start_date_time = '2015-06-29T21:39:61Z'))), 'charging_periods.0.start_date_time');
    refusal(() => parseTariff({ ...tariff, last_updated: 'yesterday' }), 'last_updated');
  });

  it('a too-long id (CiString 36 for tariff, session, location, token uid; 39 for a CDR)', () => {
    const x = (n: number) => 'X'.repeat(n);
    parseTariff({ ...tariff, id: x(36) });
    refusal(() => parseTariff({ ...tariff, id: x(37) }), 'id', /36/);
    refusal(() => parseSession({ ...sessionExample, id: x(37) }), 'id');
    refusal(() => parseLocation({ ...locationExample, id: x(37) }), 'id');
    parseCdr({ ...cdr, id: x(39) });
    refusal(() => parseCdr({ ...cdr, id: x(40) }), 'id', /39/);
    refusal(() => parseCdr(edit(cdr, (c) => (c.cdr_token.uid = x(37)))), 'cdr_token.uid');
    refusal(() => parseCdr(edit(cdr, (c) => (c.charging_periods[0].tariff_id = x(37)))), 'charging_periods.0.tariff_id');
    // CiString is printable ASCII.
    refusal(() => parseTariff({ ...tariff, id: 'tarif-é' }), 'id', /ASCII/);
    refusal(() => parseTariff({ ...tariff, id: '' }), 'id');
    refusal(() => parseTariff({ ...tariff, party_id: 'ABCD' }), 'party_id');
    refusal(() => parseTariff({ ...tariff, country_code: 'FRA' }), 'country_code');
  });

  it('a wrong enum value', () => {
    refusal(() => parseTariff(edit(tariff, (t) => (t.elements[0].price_components[0].type = 'KWH'))), 'elements.0.price_components.0.type');
    refusal(() => parseTariff(edit(tariff, (t) => (t.elements[2].restrictions.day_of_week = ['MONDAY', 'MON']))), 'elements.2.restrictions.day_of_week.1');
    refusal(() => parseTariff(edit(tariff, (t) => (t.elements[1].restrictions.reservation = 'RESERVED'))), 'elements.1.restrictions.reservation');
    refusal(() => parseTariff({ ...tariff, type: 'CHEAP' }), 'type');
    refusal(() => parseCdr({ ...cdr, auth_method: 'RFID' }), 'auth_method');
    refusal(() => parseCdr(edit(cdr, (c) => (c.cdr_token.type = 'CARD'))), 'cdr_token.type');
    refusal(() => parseCdr(edit(cdr, (c) => (c.cdr_location.connector_standard = 'TYPE2'))), 'cdr_location.connector_standard');
    refusal(() => parseSession({ ...sessionExample, status: 'DONE' }), 'status');
    // Enums are case-sensitive.
    refusal(() => parseTariff(edit(tariff, (t) => (t.elements[0].price_components[0].type = 'flat'))), 'elements.0.price_components.0.type');
  });

  it('more than 4 decimals (OCPI number)', () => {
    parseTariff(edit(tariff, (t) => (t.elements[0].price_components[0].price = 0.1234)));
    refusal(() => parseTariff(edit(tariff, (t) => (t.elements[0].price_components[0].price = 0.12345))), 'elements.0.price_components.0.price', /4 decimals/);
    refusal(() => parseTariff(edit(tariff, (t) => (t.elements[0].price_components[0].vat = 20.00001))), 'elements.0.price_components.0.vat');
    refusal(() => parseTariff({ ...tariff, min_price: { excl_vat: 1.00001 } }), 'min_price.excl_vat');
    refusal(() => parseCdr({ ...cdr, total_energy: 15.34211 }), 'total_energy');
    refusal(() => parseCdr(edit(cdr, (c) => (c.charging_periods[0].dimensions[0].volume = 1.97305))), 'charging_periods.0.dimensions.0.volume');
    refusal(() => parseCdr({ ...cdr, total_cost: { excl_vat: 4.00001, incl_vat: 4.4 } }), 'total_cost.excl_vat');
  });

  it('other shapes: negative prices, a fractional step_size, no elements, a missing field', () => {
    refusal(() => parseTariff(edit(tariff, (t) => (t.elements[0].price_components[0].price = -1))), 'elements.0.price_components.0.price', /negative/);
    refusal(() => parseTariff(edit(tariff, (t) => (t.elements[0].price_components[0].step_size = 1.5))), 'elements.0.price_components.0.step_size');
    refusal(() => parseTariff({ ...tariff, elements: [] }), 'elements');
    refusal(() => parseTariff(edit(tariff, (t) => delete t.currency)), 'currency');
    refusal(() => parseTariff({ ...tariff, currency: 'eur' }), 'currency');
    refusal(() => parseCdr(edit(cdr, (c) => (c.charging_periods[0].dimensions = []))), 'charging_periods.0.dimensions');
    refusal(() => parseTariff([tariff]), '(root)');
  });
});

describe('parser gaps found in review, closed', () => {
  it('refuses a calendar-invalid DateTime (2015-02-30): Date.parse would roll it over to 2015-03-02', () => {
    const cdr = read('cdr_example.json');
    refusal(() => parseCdr({ ...cdr, start_date_time: '2015-02-30T21:39:09Z' }), 'start_date_time');
  });
  it('refuses a calendar-invalid restriction date (2024-02-30)', () => {
    const tariff = read('tariff_4_complex.json') as Record<string, any>;
    const t = clone(tariff);
    t.elements[1].restrictions.start_date = '2024-02-30';
    refusal(() => parseTariff(t), 'elements.1.restrictions.start_date');
  });
});
