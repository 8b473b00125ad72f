import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseTariff } from './ocpi.ts';
import { compileTariff, priceSession, pricingSession } from './price.ts';

const dir = new URL('../../test/fixtures/charging/', import.meta.url);
interface Example {
  name: string;
  tariff: string | object;
  timeZone: string;
  periods: { start_date_time: string; dimensions: { type: string; volume: number }[] }[];
  end: string;
  reservation: 'RESERVATION' | 'RESERVATION_EXPIRES' | null;
  expected: { excl_vat: number; incl_vat: number | null; energy_kwh?: number; billed_time_s?: number; billed_parking_s?: number };
}
const examples = JSON.parse(readFileSync(new URL('worked-examples.json', dir), 'utf8')) as Example[];
const tariffOf = (t: string | object) => parseTariff(typeof t === 'string' ? JSON.parse(readFileSync(new URL(t, new URL('ocpi/', dir)), 'utf8')) : t);
const micro = (v: number) => Math.round(v * 1e6);

describe('the OCPI 2.2.1 worked examples price exactly', () => {
  for (const e of examples) {
    it(e.name, () => {
      const t = compileTariff(tariffOf(e.tariff), e.timeZone);
      const p = priceSession(t, pricingSession(e.periods[0]!.start_date_time, e.end, e.periods as never, e.reservation));
      assert.equal(p.total.excl, micro(e.expected.excl_vat), 'total excl. VAT');
      assert.equal(p.total.incl, e.expected.incl_vat === null ? null : micro(e.expected.incl_vat), 'total incl. VAT');
      if (e.expected.energy_kwh !== undefined && e.name.indexOf('cdr_example') < 0) assert.equal(p.energy.billed, Math.round(e.expected.energy_kwh * 1000), 'billed energy');
      if (e.expected.billed_time_s !== undefined) assert.equal(p.time.billed, e.expected.billed_time_s, 'billed charging time');
      if (e.expected.billed_parking_s !== undefined) assert.equal(p.parking.billed, e.expected.billed_parking_s, 'billed parking time');
    });
  }
});
