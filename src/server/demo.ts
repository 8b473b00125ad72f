import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Signer } from '../client.ts';
import { encodeKey, type SignedTransaction, toBase64Url } from '../ledger/index.ts';
import { ANVIL_KEY, startAnvil } from '../anchor/anvil.ts';
import { AnchorContract } from '../anchor/evm.ts';
import { anchorNewest } from '../anchor/anchoring.ts';
import { runMonth } from '../allocation/month.ts';
import { planIssue } from '../certificates/issue.ts';
import { planSettle } from '../certificates/settle.ts';
import { autoClaims, deviceOfMeter } from '../certificates/tables.ts';
import { participant } from '../community/tables.ts';
import { findMeter } from '../metering/meter-register.ts';
import { clearAt } from '../market/book.ts';
import { lastCleared } from '../market/tables.ts';
import { writeKeyFile } from '../node/key-file.ts';
import { nodeSign } from '../node/signatures.ts';
import { hasExportMeter, householdDay, type HouseholdDay, type SimHousehold } from '../sim/household.ts';
import { Rng } from '../sim/rng.ts';
import { DEMO_SCENARIO, parseScenario } from '../sim/scenario.ts';
import type { LedgerStore } from '../store/ledger-store.ts';
import { SqliteLedger } from '../store/sqlite-ledger.ts';
import { addDays, formatInstant, localDateOf, localDay, parseInstant } from '../units/index.ts';
import { households, simCommunityId, simDay, simKey } from '../sim/community.ts';
import { type Progress, simulate } from '../sim/run.ts';
import { readDataFile } from '../sim/scenario-file.ts';
import { EventHub } from './events.ts';

/**
 * The live demo that `openlec serve --demo` runs beside the API: the `demo` community
 * backfilled by the simulator, then kept running one interval per tick through the
 * served ledger, with its checkpoints anchored on a local anvil chain.
 */

const SEED = 'demo';
/** The demo's allocation key: production shared in proportion to consumption. */
const ALLOCATION_KEY = 'prorata';
/** The demo's PV devices: solar photovoltaic (EECS F01040100 / T010100) in the Swiss bidding zone. */
const PV_DEVICE = { fuel: 'F01040100', technology: 'T010100', commissioned: '2020-01-01', zone: 'CH', support: false } as const;
/** A device's capacity bound when a home's PV size is not known (a data series). */
const DEFAULT_CAPACITY_W = 20_000;

/**
 * prepareDemo: the demo community, the `demo` scenario backfilled over the last 7 days
 * (with `progress`, the caller's display of the backfill), plus an auditor; key files for logging in.
 */
export async function prepareDemo(dir: string, now: () => number, progress?: (label: string) => Progress) {
  const out = join(dir, 'live');
  const db = join(out, 'ledger.db');
  const s = DEMO_SCENARIO;
  const key = (label: string) => simKey(SEED, s.name, label);
  if (!existsSync(db)) {
    const today = localDateOf(now(), s.timeZone);
    // Certificates are left to the live demo (startLiveDemo): a batch run settles its last
    // month too, which here is the month still running.
    await simulate({ scenario: parseScenario({ ...s, start: addDays(today, -7), days: 7, allocationKey: ALLOCATION_KEY, certificates: false }, 'demo'), out, seed: SEED, ...(progress ? { progress } : {}) });
    const ledger = SqliteLedger.open(db);
    try {
      const operator = Signer.forState(ledger.state, key('operator'), () => new Date(now()).toISOString(), nodeSign);
      const r = await ledger.submit(operator.sign('participant.register', { key: encodeKey(key('auditor').publicKey), roles: ['auditor'] }));
      if (!r.ok) throw r.error;
      await ledger.signCheckpoint(key('operator'));
    } finally {
      await ledger.close();
    }
  }
  const member = households(parseScenario(s, 'demo'), new Rng(`${SEED}/${s.name}`), (label) => new Signer(key(label), simCommunityId(s.name)), readDataFile)[0]!.label;
  const logins: Record<string, { key: string; secretKey: string }> = {};
  mkdirSync(join(out, 'keys'), { recursive: true });
  for (const [role, label] of [['operator', 'operator'], ['dso', 'dso'], ['member', member], ['auditor', 'auditor']] as const) {
    const k = key(label);
    const file = join(out, 'keys', `${role}.key`);
    if (!existsSync(file)) writeKeyFile(file, k);
    logins[role] = { key: encodeKey(k.publicKey), secretKey: toBase64Url(k.secretKey) };
  }
  return { db, operator: key('operator'), logins };
}

/**
 * startLiveDemo advances the demo community one interval per tick: the DSO appends the
 * interval's metered values (merged into the day's readings, later values still null)
 * and the operator clears the interval ex-post, through the same ledger as the API.
 */
export function startLiveDemo(ledger: LedgerStore, events: EventHub, tickSeconds: number) {
  const s = parseScenario(DEMO_SCENARIO, 'demo');
  const rng = new Rng(`${SEED}/${s.name}`);
  let simNow = 0;
  const clock = () => formatInstant(simNow);
  const homes = households(s, rng, (label) => Signer.forState(ledger.state, simKey(SEED, s.name, label), clock, nodeSign), readDataFile);
  const dso = Signer.forState(ledger.state, simKey(SEED, s.name, 'dso'), clock, nodeSign);
  const operator = Signer.forState(ledger.state, simKey(SEED, s.name, 'operator'), clock, nodeSign);
  // The operator and the DSO also sign in the dashboard: continue from their latest nonce in the log.
  const sync = () => { for (const k of [dso, operator]) k.nonce = Math.max(k.nonce, participant(ledger.state, k.actor)?.nonce ?? 0); };
  let day: { date: string; starts: readonly number[]; energies: HouseholdDay[] } | undefined;
  let busy = false;
  const announce = (first: number, txs: readonly { type: string; body: unknown }[]) => {
    for (const [i, tx] of txs.entries()) for (const e of EventHub.forEntry(first + i, tx.type, tx.body as Record<string, unknown>)) events.emit(e);
  };
  const allocate = async (month: string) => {
    sync();
    const run = operator.sign('allocation.run', runMonth(ledger.state, month, { kind: ALLOCATION_KEY }).summary);
    const first = ledger.size;
    await ledger.submitAtomic([run]);
    announce(first, [run]);
  };
  /**
   * certify runs the demo's certificates of origin up to the local date `today` (its
   * readings still arriving): the DSO registers a device for each PV home's export meter
   * (capacity: the PV's kWp), members opt in to automatic claims (the demo's member
   * always), the DSO issues the certificates of every completed day, and the operator
   * settles each completed month once its allocation is recorded. It catches up on a log
   * backfilled before (or without) certificates and skips what is done; a failure is
   * reported and the live demo goes on.
   */
  const certify = async (today: string) => {
    try {
      sync();
      const txs: SignedTransaction[] = [];
      for (const h of homes) {
        if (!h.pv && !h.series) continue;
        if (!hasExportMeter(h) || !findMeter(ledger.state, h.meter, 'export') || deviceOfMeter(ledger.state, h.meter)) continue;
        txs.push(dso.sign('device.register', { device: `${h.meter}-pv`, meter: h.meter, ...PV_DEVICE, capacityW: capacityW(h), gridArea: 'demo-grid' }));
      }
      // The backfill may have opted members in already; else every other home without PV.
      // The demo's member (the first home, whose key `npm start` prints) always is.
      const none = [...ledger.state.rows('certificate_holders')].length === 0;
      homes.forEach((h, i) => {
        if (!(i === 0 || (none && !h.pv && i % 2 === 0)) || autoClaims(ledger.state, h.signer.actor)) return;
        txs.push(Signer.forState(ledger.state, simKey(SEED, s.name, h.label), clock, nodeSign).sign('certificate.autoclaim', { enabled: true }));
      });
      await submit(txs);
      const dates = new Set<string>();
      for (const r of ledger.state.rows('readings') as IterableIterator<{ direction: string; date: string; meter: string }>) {
        if (r.direction === 'export' && r.date < today && deviceOfMeter(ledger.state, r.meter)) dates.add(r.date);
      }
      for (const date of [...dates].sort()) {
        const body = planIssue(ledger.state, date);
        if (body.deviceDays > 0) await submit([dso.sign('certificates.issue', body)]);
      }
      const months = new Set([...dates].map((d) => d.slice(0, 7)).filter((m) => m < today.slice(0, 7)));
      for (const month of [...months].sort()) {
        if (!ledger.state.get('allocations', month)) continue;
        if (ledger.state.get<{ settled: { entry: number } | null }>('certificate_months', month)?.settled) continue;
        await submit([operator.sign('certificates.settle', planSettle(ledger.state, month))]);
      }
    } catch (e) {
      process.stderr.write(`openlec demo: certificates: ${(e as Error).message}\n`);
    }
  };
  const submit = async (txs: SignedTransaction[]) => {
    if (txs.length === 0) return;
    const first = ledger.size;
    await ledger.submitAtomic(txs);
    announce(first, txs);
  };
  const step = async () => {
    if (busy) return;
    busy = true;
    try {
      const last = lastCleared(ledger.state);
      const next = last === '' ? localDay(s.start, s.timeZone).startMs : parseInstant(last) + s.intervalMinutes * 60_000;
      const date = localDateOf(next, s.timeZone);
      const newDay = day?.date !== date;
      if (newDay) {
        // A new local day: the operator re-runs the allocation of the month so far (the month's last run is the final one).
        if (day) await allocate(day.date.slice(0, 7));
        const d = simDay(s, rng, date, []);
        day = { date, starts: d.starts, energies: homes.map((h) => householdDay(h, d)) };
      }
      const k = day!.starts.indexOf(next);
      sync();
      simNow = next + s.intervalMinutes * 60_000 + 60_000;
      // The completed days' certificates, and the month's settlement once it is over.
      if (newDay) await certify(date);
      const upTo = (values: number[]) => values.map((v, i) => (i <= k ? v : null));
      const readings = homes.flatMap((h, i) => [
        dso.sign('meter.readings', { meter: h.meter, direction: 'import', date, values: upTo(day!.energies[i]!.importWh) }),
        ...(hasExportMeter(h) ? [dso.sign('meter.readings', { meter: h.meter, direction: 'export', date, values: upTo(day!.energies[i]!.exportWh) })] : []),
      ]);
      const first = ledger.size;
      await ledger.submitAtomic(readings);
      const c = clearAt(ledger.state, next);
      const clear = operator.sign('market.clear', c.body);
      await ledger.submitAtomic([clear]);
      announce(first, [...readings, clear]);
    } catch (e) {
      process.stderr.write(`openlec demo: ${(e as Error).message}\n`);
    } finally {
      busy = false;
    }
  };
  // At start, the certificates of a log backfilled without them (or left behind) catch up
  // at once, signed at the demo's clock: a minute after the last cleared interval.
  const ready = (async () => {
    const last = lastCleared(ledger.state);
    if (last === '' || busy) return;
    busy = true;
    try {
      simNow = parseInstant(last) + s.intervalMinutes * 60_000 + 60_000;
      await certify(localDateOf(simNow - 60_000, s.timeZone));
    } finally {
      busy = false;
    }
  })();
  const timer = setInterval(() => void step(), tickSeconds * 1000);
  return { stop: () => clearInterval(timer), step, allocate, certify, ready };
}

/** capacityW: a PV device's capacity from the home's peak power (kWp, rounded up), else a safe bound. */
function capacityW(h: SimHousehold): number {
  return h.pv ? Math.max(1, Math.ceil(h.pv.kWp * 1000)) : DEFAULT_CAPACITY_W;
}

/**
 * startDemoAnchoring runs a local EVM chain (anvil, its state kept in the demo folder),
 * deploys the CheckpointAnchor contract once, and anchors the newest checkpoint every
 * 30 seconds, as an operator would every hour on a public or consortium chain.
 */
export async function startDemoAnchoring(dir: string, ledger: LedgerStore) {
  const anvil = await startAnvil({ statePath: join(dir, 'anvil-state.json') });
  const file = join(dir, 'anchor.json');
  let contract: AnchorContract | undefined;
  if (existsSync(file)) contract = await AnchorContract.at({ rpc: anvil.rpc, address: (JSON.parse(readFileSync(file, 'utf8')) as { contract: string }).contract, privateKey: ANVIL_KEY }).catch(() => undefined);
  if (!contract) {
    contract = await AnchorContract.deploy({ rpc: anvil.rpc, privateKey: ANVIL_KEY });
    writeFileSync(file, JSON.stringify({ contract: contract.address, chainId: contract.chainId }, null, 2) + '\n');
  }
  const c = contract;
  let anchored = (await c.anchors(ledger.origin())).reduce((m, a) => Math.max(m, a.size), 0);
  let busy = false;
  const round = async () => {
    if (busy) return;
    busy = true;
    try {
      anchored = (await anchorNewest(ledger, c, 0, anchored))?.size ?? anchored;
    } catch (e) {
      process.stderr.write(`openlec demo: anchoring failed: ${(e as Error).message.split('\n')[0]}\n`);
    } finally {
      busy = false;
    }
  };
  await round();
  const timer = setInterval(() => void round(), 30_000);
  return {
    rpc: anvil.rpc, contract: c.address,
    async stop() {
      clearInterval(timer);
      while (busy) await new Promise((r) => setTimeout(r, 50));
      await anvil.stop();
    },
  };
}
