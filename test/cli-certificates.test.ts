import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { runMonth } from '../src/allocation/month.ts';
import { EXIT } from '../src/cli/output.ts';
import { writeKeyFile } from '../src/node/key-file.ts';
import { openlec } from './support/cli.ts';
import { smallCommunity } from './support/community.ts';

const MONTH = '2026-06';
const DAYS = ['2026-06-01', '2026-06-02'];
const ALICE_PRM = '30001234567890';
const BOB_PRM = '30009876543210';
/** A sunny day: 48 half-hours of a local day, export from 05:00 to 17:00 local time. */
const sun = (peak: number) => Array.from({ length: 48 }, (_, k) => (k >= 10 && k < 34 ? Math.round(peak * Math.sin((Math.PI * (k - 10)) / 24)) : 0));
const flat = (wh: number) => Array.from({ length: 48 }, () => wh);
const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
const EXPORT = [sun(2000), sun(1500)];

interface Bundle { device: string; interval: string; from: number; to: number; quantityWh: number; holder: string; status: string; reason: string; claim: { meter: string } | null; entries: number[] }
interface Listing { bundles: Bundle[]; totals: { issuedWh: number; active: number; cancelled: number; expired: number; withdrawn: number } }

/**
 * A file log (Europe/Paris, 30-minute intervals): Alice's PV export meter and her
 * consumption, Bob's consumption, two days of readings and June's prorata allocation,
 * built with the library; the key files where the commands look for them (keys/ beside
 * the database) and the members' beside it. Everything about certificates then goes
 * through the command line.
 */
async function setup() {
  const c = await smallCommunity();
  const { ledger, operator, dso } = c;
  const txs = DAYS.flatMap((date, d) => [
    dso.sign('meter.readings', { meter: ALICE_PRM, direction: 'export', date, values: EXPORT[d] }),
    dso.sign('meter.readings', { meter: ALICE_PRM, direction: 'import', date, values: flat(150) }),
    dso.sign('meter.readings', { meter: BOB_PRM, direction: 'import', date, values: flat(400) }),
  ]);
  for (const r of await ledger.submitMany(txs)) if (!r.ok) throw r.error;
  const run = await ledger.submit(operator.sign('allocation.run', runMonth(ledger.state, MONTH, { kind: 'prorata' }).summary));
  if (!run.ok) throw run.error;
  // The commands below are dated by the real clock: certificates of June 2026 kept for 5 years
  // (the most the rules allow), so that they have not expired on the day the test runs.
  const kept = await ledger.submit(operator.sign('certificates.configure', { expiryMonths: 60 }));
  if (!kept.ok) throw kept.error;
  await ledger.close();
  const dir = dirname(c.path);
  writeKeyFile(join(dir, 'keys', 'operator.key'), operator.key);
  writeKeyFile(join(dir, 'keys', 'dso.key'), dso.key);
  writeKeyFile(join(dir, 'alice.key'), c.alice.key);
  writeKeyFile(join(dir, 'bob.key'), c.bob.key);
  return { db: c.path, dir, alice: c.alice.actor, bob: c.bob.actor };
}

const json = <T>(r: { code: number; stdout: string; stderr: string }, what: string): T => {
  assert.equal(r.code, 0, `${what}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
};

describe('openlec certificates (issue 14)', () => {
  test('register a device, issue a month, settle, list, transfer, cancel, match, export and expire from the command line; verify replays it', async () => {
    const { db, dir, alice, bob } = await setup();
    const aliceKey = join(dir, 'alice.key');
    const bobKey = join(dir, 'bob.key');

    const device = await openlec('device', 'register', '--db', db, '--device', 'pv-alice', '--meter', ALICE_PRM, '--fuel', 'F01040100', '--technology', 'T010100',
      '--capacity-w', '6000', '--commissioned', '2024-04-01', '--zone', '10YFR-RTE------C', '--grid-area', 'enedis-paris', '--support');
    assert.equal(device.code, 0, device.stderr);
    assert.match(device.stdout, /device pv-alice on export meter 30001234567890 registered in entry \d+/);

    // The whole month in one set: the two days with export readings are issued, their certificates equal the metered export.
    const issued = json<{ days: { date: string; entry: number; issuedWh: number }[]; totals: { dates: number; issuedWh: number; withdrawnWh: number; refusedIntervals: number } }>(
      await openlec('certificates', 'issue', '--db', db, '--month', MONTH, '--json'), 'issue');
    assert.deepEqual(issued.days.map((d) => [d.date, d.issuedWh]), DAYS.map((date, d) => [date, sum(EXPORT[d]!)]));
    assert.equal(issued.days[1]!.entry, issued.days[0]!.entry + 1);
    assert.deepEqual([issued.totals.dates, issued.totals.issuedWh, issued.totals.withdrawnWh, issued.totals.refusedIntervals], [2, sum(EXPORT.flat()), 0, 0]);

    // Again: nothing left to issue is a refusal, exit 3, nothing appended.
    const again = await openlec('certificates', 'issue', '--db', db, '--month', MONTH);
    assert.equal(again.code, EXIT.error);
    assert.match(again.stderr, /2026-06: every device's export readings are issued already .*\[E_NOTHING_TO_ISSUE, field month\]/);
    assert.doesNotMatch(again.stderr, /    at /);

    assert.match((await openlec('certificates', 'autoclaim', '--db', db, '--key', bobKey, '--on')).stdout, new RegExp(`automatic claims on for ${bob}`));
    // The operator key is found beside the database.
    const settled = json<{ month: string; movedWh: number; claimedWh: number; shortWh: number }>(await openlec('certificates', 'settle', '--db', db, '--month', MONTH, '--json'), 'settle');
    assert.ok(settled.movedWh > 0);
    assert.equal(settled.claimedWh, settled.movedWh, 'Bob opted in: everything allocated to him is claimed against his consumption');

    const bobs = json<Listing>(await openlec('certificates', 'list', '--db', db, '--month', MONTH, '--holder', bob, '--json'), 'list bob');
    assert.equal(sum(bobs.bundles.map((b) => b.quantityWh)), settled.movedWh);
    assert.ok(bobs.bundles.every((b) => b.holder === bob && b.status === 'cancelled' && b.claim!.meter === BOB_PRM && b.reason === 'claim'));
    const alices = json<Listing>(await openlec('certificates', 'list', '--db', db, '--month', MONTH, '--holder', aliceKey, '--json'), 'list alice');
    assert.ok(alices.bundles.every((b) => b.holder === alice && b.status === 'active'));
    assert.equal(bobs.totals.issuedWh, sum(EXPORT.flat()));
    assert.equal(bobs.totals.active + bobs.totals.cancelled, bobs.totals.issuedWh);

    // Alice gives 10 Wh of a bundle to Bob and claims the next 10 for her own consumption in the same hour.
    const big = alices.bundles.find((b) => b.quantityWh > 100)!;
    const ref = ['--device', big.device, '--interval', big.interval];
    const moved = await openlec('certificates', 'transfer', '--db', db, '--key', aliceKey, ...ref, '--from', String(big.from), '--wh', '10', '--to', bobKey);
    assert.equal(moved.code, 0, moved.stderr);
    assert.match(moved.stdout, new RegExp(`transferred 10 certificate\\(s\\) pv-alice/${big.interval}/${big.from} to ${bob}`));
    const cancelled = await openlec('certificates', 'cancel', '--db', db, '--key', aliceKey, ...ref, '--from', String(big.from + 10), '--wh', '10', '--meter', ALICE_PRM, '--json');
    assert.equal(json<{ quantityWh: number }>(cancelled, 'cancel').quantityWh, 10);

    const table = await openlec('certificates', 'list', '--db', db, '--month', MONTH, '--holder', bob);
    assert.match(table.stdout, /device\s+interval\s+IDs\s+Wh\s+holder\s+status\s+reason/);
    assert.match(table.stdout, new RegExp(`pv-alice\\s+${big.interval.slice(0, 10)} \\d\\d:\\d\\d\\s+${big.from}-${big.from + 9}\\s+10\\s+${bob.slice(0, 10)}…\\s+active\\s+transfer`));

    // 24/7 matching: the claims (Bob's automatic ones and Alice's 10 Wh) in their hour, against the month's volume.
    const m = json<{ consumedWh: number; hourlyMatchedWh: number; monthlyMatchedWh: number; hourlyPpm: number; monthlyPpm: number; hourlyPercent: string; hours: unknown[] }>(
      await openlec('certificates', 'match', '--db', db, '--month', MONTH, '--json'), 'match');
    assert.equal(m.consumedWh, DAYS.length * 48 * (150 + 400));
    assert.equal(m.hourlyMatchedWh, settled.claimedWh + 10);
    assert.equal(m.hourlyPpm, Math.floor((m.hourlyMatchedWh * 1e6) / m.consumedWh));
    assert.equal(m.monthlyMatchedWh, Math.min(m.consumedWh, sum(EXPORT.flat())));
    assert.ok(m.monthlyPpm > m.hourlyPpm);
    assert.match(m.hourlyPercent, /^\d+\.\d\d %$/);
    assert.equal(m.hours.length, 30 * 24);
    const html = join(dir, 'match.html');
    const chart = await openlec('certificates', 'match', '--db', db, '--month', MONTH, '--holder', bobKey, '--html', html);
    assert.equal(chart.code, 0, chart.stderr);
    assert.match(chart.stdout, /hourly \(24\/7\): \d+\.\d\d %/);
    assert.match(chart.stdout, /\n2026-06-01 [ ▁▂▃▄▅▆▇█]{24}\n/);
    assert.match(chart.stdout, /\n2026-06-03 ·{24}\n/);
    assert.ok(existsSync(html) && /<svg id="hours"/.test(readFileSync(html, 'utf8')));

    const csv = (await openlec('certificates', 'export', '--db', db, '--month', MONTH, '--format', 'eecs-csv')).stdout.trim().split('\n');
    assert.equal(csv.length, 2);
    assert.equal(csv[0], 'device,month,energySource,technology,capacityW,commissioned,zone,gridArea,supportReceived,productionStart,productionEnd,producedWh,carriedInWh,gos,carriedOutWh,issuingBody');
    const row = csv[1]!.split(',');
    assert.deepEqual([row[0], row[2], row[8], Number(row[11]), Number(row[13]), Number(row[14])], ['pv-alice', 'F01040100', 'true', sum(EXPORT.flat()), 0, sum(EXPORT.flat())]);

    // With a one-month expiry period June is over: the still active certificates expire, counted as the log recomputes them.
    assert.equal((await openlec('tx', 'submit', '--db', db, '--key', join(dir, 'keys', 'operator.key'), '--type', 'certificates.configure', '--body', '{"expiryMonths":1}')).code, 0);
    const expired = json<{ expiredWh: number }>(await openlec('certificates', 'expire', '--db', db, '--month', MONTH, '--json'), 'expire');
    assert.equal(expired.expiredWh, alices.totals.active - 10);

    const verified = json<{ ok: boolean; rows: Record<string, number> }>(await openlec('verify', '--db', db, '--json'), 'verify');
    assert.equal(verified.ok, true);
    assert.equal(verified.rows.certificates, 2);
  });
});
