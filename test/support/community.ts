import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Signer } from '../../src/client.ts';
import { keyPairFromSeed } from '../../src/ledger/index.ts';
import { SqliteLedger } from '../../src/store/sqlite-ledger.ts';

export const COMMUNITY = 'openlec.test/sunny-street';

/** seededKey gives a fixed key per label, so tests are reproducible. */
export function seededKey(label: string) {
  const seed = new Uint8Array(32);
  new TextEncoder().encodeInto(label.padEnd(32, '.'), seed);
  return keyPairFromSeed(seed);
}

let clock = Date.UTC(2026, 0, 1);
const tick = () => new Date((clock += 1000)).toISOString();

export function signer(label: string): Signer {
  return new Signer(seededKey(label), COMMUNITY, 0, tick);
}

export function tempDb(): string {
  return join(mkdtempSync(join(tmpdir(), 'openlec-')), 'log.db');
}

/** smallCommunity creates a log with a community, a DSO, two members, a feeder and two meters. */
export async function smallCommunity(path = tempDb()) {
  const ledger = SqliteLedger.create(path);
  const operator = signer('operator');
  const dso = signer('dso');
  const alice = signer('alice');
  const bob = signer('bob');
  const results = await ledger.submitMany([
    operator.sign('community.create', { name: 'Sunny Street', timeZone: 'Europe/Paris', intervalMinutes: 30, currency: 'EUR', operator: operator.actor }),
    operator.sign('participant.register', { key: dso.actor, roles: ['dso'] }),
    operator.sign('participant.register', { key: alice.actor, roles: ['member'] }),
    operator.sign('participant.register', { key: bob.actor, roles: ['member'] }),
    dso.sign('feeder.define', { id: 'substation-1', importLimitW: 250000, exportLimitW: 200000 }),
    dso.sign('feeder.define', { id: 'feeder-a', parent: 'substation-1' }),
    dso.sign('meter.register', { meter: '30001234567890', scheme: 'PRM', direction: 'import', owner: alice.actor, feeder: 'feeder-a' }),
    dso.sign('meter.register', { meter: '30001234567890', scheme: 'PRM', direction: 'export', owner: alice.actor, feeder: 'feeder-a' }),
    dso.sign('meter.register', { meter: '30009876543210', scheme: 'PRM', direction: 'import', owner: bob.actor, feeder: 'feeder-a' }),
  ]);
  for (const r of results) if (!r.ok) throw r.error;
  return { path, ledger, operator, dso, alice, bob };
}
