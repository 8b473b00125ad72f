import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { EXIT } from '../src/cli/output.ts';
import { writeKeyFile } from '../src/node/key-file.ts';
import { openlec } from './support/cli.ts';
import { ALICE, BOB, DAVE, ERIN, EVENT_START, flexCommunity } from './support/flex.ts';

const EUR = 1_000_000;

/**
 * The flexibility fixture (Europe/Paris, 30-minute intervals; feeder-a with a 20 kW import
 * limit holds alice's 5 kW battery and bob's 7 kW EV charger delegated to the aggregator)
 * as a file log, with the key files where the commands look for them (operator and DSO in
 * keys/ beside the database, the others beside it). Everything else goes through the
 * command line, each command signing as of `--at` in March 2026.
 */
async function setup() {
  const c = await flexCommunity();
  await c.ledger.close();
  const dir = dirname(c.path);
  writeKeyFile(join(dir, 'keys', 'operator.key'), c.operator.key);
  writeKeyFile(join(dir, 'keys', 'dso.key'), c.dso.key);
  for (const who of ['aggregator', 'alice', 'dave', 'erin'] as const) writeKeyFile(join(dir, `${who}.key`), c[who].key);
  return { db: c.path, dir, alice: c.alice.actor, aggregator: c.aggregator.actor };
}

type Result = { code: number; stdout: string; stderr: string };
const json = <T>(r: Result, what: string): T => {
  assert.equal(r.code, 0, `${what}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
};

/** DSO readings of 2026-03-10 as a generic CSV: alice imports 500 Wh a half-hour (1000 and 2500 in the two ISPs), bob 3000, dave and erin nothing. */
function readingsCsv(): string {
  const lines = ['meter,start,value,direction'];
  const first = Date.parse('2026-03-09T23:00:00Z'); // local midnight
  for (let k = 0; k < 48; k++) {
    const start = new Date(first + k * 1_800_000).toISOString().replace('.000Z', 'Z');
    lines.push(`${ALICE},${start},${k === 36 ? 1000 : k === 37 ? 2500 : 500},import`, `${ALICE},${start},0,export`, `${BOB},${start},3000,import`, `${DAVE},${start},0,import`, `${ERIN},${start},0,import`);
  }
  return lines.join('\n') + '\n';
}

interface Merit { offer: string; priceMicroPerKwh: number; decision: string; factorPct: number; feeder: string | null; interval: string | null }
interface Ordered { offer: string; provider: string; factorPct: number; powerW: number[]; reboundW: number[] }
interface Line { offer: string; provider: string; deliveredWh: number; deficiencyWh: number; revenueMicro: number; penaltyMicro: number; reliefMicro: number; netMicro: number; isps: { baselineWh: number; orderedWh: number; actualWh: number; deliveredWh: number; deficiencyWh: number }[] }

describe('openlec flex (CLI of the flexibility market)', () => {
  test('request, offers, a refused late offer, merit-order order, readings, settlement, earnings and report from the command line; verify replays it', async () => {
    const { db, dir, alice, aggregator } = await setup();
    const aliceKey = join(dir, 'alice.key');
    const daveKey = join(dir, 'dave.key');
    const erinKey = join(dir, 'erin.key');
    const aggregatorKey = join(dir, 'aggregator.key');

    const configured = json<{ doubleCharging: string; networkFeeMicroPerKwh: number }>(
      await openlec('flex', 'configure', '--db', db, '--double-charging', 'refund', '--network-fee', '0.04', '--json'), 'configure');
    assert.deepEqual([configured.doubleCharging, configured.networkFeeMicroPerKwh], ['refund', 40_000]);

    const heater = await openlec('asset', 'register', '--db', db, '--key', erinKey, '--asset', 'erin-wh', '--meter', ERIN, '--kind', 'water-heater', '--power-w', '2000');
    assert.equal(heater.code, 0, heater.stderr);
    assert.match(heater.stdout, /asset erin-wh \(water-heater, 2000 W\) behind meter 30005555555555 registered in entry \d+; offered by its owner/);

    // feeder-a is forecast at 24 kW for the two ISPs (limit 20 kW), 18 kW in the two intervals after them.
    const request = json<{ isps: { minW: number; maxW: number }[]; maxPriceMicroPerKwh: number; forecast: { feeder: string; W: number[] }[] }>(await openlec('flex', 'request', '--db', db, '--at', '2026-03-09T08:00:00Z',
      '--request', 'R1', '--feeder', 'feeder-a', '--direction', 'reduce-import', '--start', EVENT_START, '--isps', '-6000:-4000,-6000:-4000',
      '--max-price', '0.20', '--penalty', '0.30', '--expires', '2026-03-10T12:00:00Z', '--forecast', 'feeder-a=24000,24000,18000,18000', '--json'), 'request');
    assert.deepEqual(request.isps, [{ minW: -6000, maxW: -4000 }, { minW: -6000, maxW: -4000 }]);
    assert.equal(request.maxPriceMicroPerKwh, 200_000);
    assert.deepEqual(request.forecast, [{ feeder: 'feeder-a', W: [24000, 24000, 18000, 18000] }]);

    const offer = (key: string, ...args: string[]) => openlec('flex', 'offer', '--db', db, '--key', key, '--request', 'R1', '--feeder', 'feeder-a', '--start', EVENT_START,
      '--valid-until', '2026-03-10T16:00:00Z', ...args);
    // The EV charges the energy back right after the event: it would push feeder-a over its limit at 19:00 local.
    const offers = [
      await offer(aggregatorKey, '--at', '2026-03-09T09:00:00Z', '--offer', 'ev', '--assets', 'bob-ev', '--power-w', '-7000,-7000', '--rebound-w', '7000,7000', '--price', '0.05', '--min-activation', '50', '--baseline', 'mbma', '--json'),
    ];
    offers.push(await offer(aliceKey, '--at', '2026-03-09T09:00:00Z', '--offer', 'bat', '--assets', 'alice-battery', '--power-w', '-5000,-5000', '--price', '0.10', '--min-activation', '20', '--baseline', 'nomination:3000,3000', '--json'));
    offers.push(await offer(daveKey, '--at', '2026-03-09T09:01:00Z', '--offer', 'heater', '--assets', 'dave-wh', '--power-w', '-2000,-2000', '--price', '0.15', '--baseline', 'x-of-y:5:10:high:2'));
    offers.push(await offer(erinKey, '--at', '2026-03-09T09:02:00Z', '--offer', 'dear', '--assets', 'erin-wh', '--power-w', '-1000,-1000', '--price', '0.25', '--baseline', 'rolling:5'));
    const ev = json<{ provider: string; reboundW: number[]; priceMicroPerKwh: number; minActivationPct: number; baseline: unknown }>(offers[0]!, 'offer ev');
    assert.deepEqual([ev.provider, ev.reboundW, ev.priceMicroPerKwh, ev.minActivationPct, ev.baseline], [aggregator, [7000, 7000], 50_000, 50, { method: 'mbma' }]);
    assert.deepEqual(json<{ baseline: unknown }>(offers[1]!, 'offer bat').baseline, { method: 'nomination', wh: [3000, 3000] });
    assert.equal(offers[2]!.code, 0, offers[2]!.stderr);
    assert.match(offers[2]!.stdout, /offer heater on request R1 by .* recorded in entry \d+: dave-wh, reduce-import W 2 x -2000 at 0\.150000\/kWh/);

    // After the gate: refused by the log, the message naming the option.
    const late = await offer(aliceKey, '--at', '2026-03-10T12:30:00Z', '--offer', 'late', '--assets', 'alice-battery', '--power-w', '-500,-500', '--price', '0.01', '--baseline', 'mbma');
    assert.equal(late.code, EXIT.error);
    assert.match(late.stderr, /the gate for offers on request R1 closed at 2026-03-10T12:00:00Z \(now 2026-03-10T12:30:00Z\) \(--request\) \[E_FLEX_GATE, field request\]/);
    assert.doesNotMatch(late.stderr, /    at /);
    // A malformed option is a usage error naming it, before anything is signed.
    const bad = await offer(aliceKey, '--offer', 'bad', '--assets', 'alice-battery', '--power-w', '-500,-500', '--price', '0.01', '--baseline', 'x-of-y:5');
    assert.equal(bad.code, EXIT.usage);
    assert.match(bad.stderr, /--baseline must be mbma, nomination:WH,WH,\.\.\., x-of-y:X:Y:high\|mid\[:ADJ\] or rolling:DAYS .*\[E_USAGE, field baseline\]/);

    const listed = json<{ offers: { offer: string; status: string }[] }>(await openlec('flex', 'offers', '--db', db, '--request', 'R1', '--json'), 'offers');
    assert.deepEqual(listed.offers.map((o) => [o.offer, o.status]), [['ev', 'open'], ['bat', 'open'], ['heater', 'open'], ['dear', 'open']]);

    // The dry run shows the merit order and signs nothing; the order is then planned and signed at 13:00.
    const dry = await openlec('flex', 'order', '--db', db, '--request', 'R1', '--order', 'F1', '--at', '2026-03-10T13:00:00Z', '--dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^dry run: would order request R1 at 2026-03-10T13:00:00Z/);
    assert.match(dry.stdout, /ev\s+0\.050000\s+violation\s+-\s+feeder-a\s+2026-03-10 19:00/);
    assert.match(dry.stdout, /bat\s+0\.100000\s+selected\s+80 %/);
    assert.match(dry.stdout, /cost at most 0\.40 for 4\.000 kWh/);
    const order = json<{ entry: number; ordered: Ordered[]; merit: Merit[]; costMicro: number; issuedAt: string }>(
      await openlec('flex', 'order', '--db', db, '--request', 'R1', '--order', 'F1', '--at', '2026-03-10T13:00:00Z', '--json'), 'order');
    assert.deepEqual(order.merit.map((m) => [m.offer, m.decision, m.factorPct, m.feeder, m.interval]), [
      ['ev', 'violation', 0, 'feeder-a', '2026-03-10T18:00:00Z'],
      ['bat', 'selected', 80, null, null],
      ['heater', 'covered', 0, null, null],
      ['dear', 'above-max-price', 0, null, null],
    ]);
    assert.deepEqual(order.ordered.map((o) => [o.offer, o.provider, o.factorPct, o.powerW]), [['bat', alice, 80, [-4000, -4000]]]);
    assert.equal(order.costMicro, 400_000); // 4 kWh at 0.10
    assert.equal(order.issuedAt, '2026-03-10T13:00:00Z');

    const requests = json<{ requests: { request: string; status: string; order: string }[] }>(await openlec('flex', 'requests', '--db', db, '--month', '2026-03', '--json'), 'requests');
    assert.deepEqual(requests.requests.map((r) => [r.request, r.status, r.order]), [['R1', 'ordered', 'F1']]);

    const csv = join(dir, 'readings.csv');
    writeFileSync(csv, readingsCsv());
    const imported = await openlec('meter', 'import', '--db', db, '--key', join(dir, 'keys', 'dso.key'), '--format', 'csv', csv, '--json');
    assert.equal(imported.code, 0, imported.stderr);

    // USEF: nominated baseline 3000 Wh, 2000 Wh ordered per ISP; metered 1000 then 2500.
    const settled = json<{ entry: number; month: string; lines: Line[]; totalMicro: number }>(await openlec('flex', 'settle', '--db', db, '--month', '2026-03', '--json'), 'settle');
    assert.equal(settled.lines.length, 1);
    const line = settled.lines[0]!;
    assert.deepEqual(line.isps.map((x) => [x.baselineWh, x.orderedWh, x.actualWh, x.deliveredWh, x.deficiencyWh]), [[3000, 2000, 1000, 2000, 0], [3000, 2000, 2500, 500, 1500]]);
    assert.deepEqual([line.deliveredWh, line.deficiencyWh, line.revenueMicro, line.penaltyMicro, line.reliefMicro, line.netMicro], [2500, 1500, 250_000, 450_000, 100_000, -100_000]);
    assert.equal(settled.totalMicro, -100_000);

    const earned = json<{ providers: { provider: string; settled: boolean; orderedWh: number; deliveredWh: number; netMicro: number }[] }>(
      await openlec('flex', 'earnings', '--db', db, '--month', '2026-03', '--provider', aliceKey, '--json'), 'earnings');
    assert.deepEqual(earned.providers.map((e) => [e.provider, e.settled, e.orderedWh, e.deliveredWh, e.netMicro]), [[alice, true, 4000, 2500, -0.1 * EUR]]);

    const html = join(dir, 'R1.html');
    const report = json<{ intervals: { loadW: number; importLimitW: number; requestedMinW: number; orderedW: number; deliveredW: number }[]; costMicro: number }>(
      await openlec('flex', 'report', '--db', db, '--request', 'R1', '--html', html, '--json'), 'report');
    assert.deepEqual(report.intervals.map((x) => [x.loadW, x.importLimitW, x.requestedMinW, x.orderedW, x.deliveredW]), [[8000, 20000, 4000, 4000, 4000], [11000, 20000, 4000, 4000, 1000]]);
    assert.equal(report.costMicro, -100_000);
    assert.ok(existsSync(html));
    const page = readFileSync(html, 'utf8');
    assert.match(page, /<svg id="load"/);
    assert.match(page, /<svg id="flex"/);
    assert.match(page, /import limit/);

    const verified = json<{ ok: boolean; rows: Record<string, number> }>(await openlec('verify', '--db', db, '--json'), 'verify');
    assert.equal(verified.ok, true);
    assert.equal(verified.rows.flex_settlements, 1);
    assert.equal(verified.rows.flex_offers, 4);
  });
});
