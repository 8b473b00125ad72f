import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Signer } from '../../src/client.ts';
import { keyPairFromSeed } from '../../src/ledger/index.ts';
import type { LedgerStore } from '../../src/store/ledger-store.ts';
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

/**
 * populate appends a community, a DSO, two members, a feeder and three meters (9 entries)
 * to an empty log of any store, signed by `signerOf` (the community id is the signers').
 */
export async function populate(ledger: LedgerStore, signerOf: (label: string) => Signer = signer) {
  const operator = signerOf('operator');
  const dso = signerOf('dso');
  const alice = signerOf('alice');
  const bob = signerOf('bob');
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
  return { operator, dso, alice, bob };
}

/** smallCommunity creates a SQLite log with populate's community. */
export async function smallCommunity(path = tempDb()) {
  const ledger = SqliteLedger.create(path);
  return { path, ledger, ...(await populate(ledger)) };
}
