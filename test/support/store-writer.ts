// A child process that appends to a log until it is killed, printing each acknowledged
// entry as "ack <entry>": the conformance suite kills it mid-write (SIGKILL) and checks that
// every acknowledged entry survived. Usage: store-writer.ts <label> <target...>
import { Signer } from '../../src/client.ts';
import { seededKey } from './community.ts';
import { openTarget } from './stores.ts';

const [label, ...target] = process.argv.slice(2);
const { ledger } = await openTarget(target);
const me = Signer.forState(ledger.state, seededKey(label!));
process.stdout.write('ready\n');
for (let i = 0; ; i++) {
  // Bursts of 50, so that a kill lands inside a batch's transaction as often as between two.
  const batch = Array.from({ length: 50 }, (_, k) => me.sign('feeder.define', { id: `${label}-${i}-${k}`, parent: 'substation-1' }));
  const results = await ledger.submitMany(batch);
  for (const r of results) {
    if (!r.ok) throw r.error;
    process.stdout.write(`ack ${r.entry}\n`);
  }
}
