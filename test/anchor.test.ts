import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startAnvil, ANVIL_KEY } from '../src/anchor/anvil.ts';
import { AnchorContract } from '../src/anchor/evm.ts';
import { SqliteLedger } from '../src/store/sqlite-ledger.ts';
import { openlec } from './support/cli.ts';
import { seededKey, smallCommunity } from './support/community.ts';

/** Anchoring on a real EVM node: anvil from @foundry-rs/anvil, started and stopped here. */
// anvil's second development account: not the community's operator on the contract.
const OTHER_KEY = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d';

describe('anchoring checkpoints on an EVM chain (anvil)', () => {
  let anvil: Awaited<ReturnType<typeof startAnvil>>;
  before(async () => {
    anvil = await startAnvil({ chainId: 31337 });
  });
  after(() => anvil?.stop());

  test('openlec anchor deploys the contract and anchors checkpoints; verify --anchors matches them and catches a false root', async () => {
    const c = await smallCommunity();
    c.ledger.checkpoint(seededKey('operator'));
    const size1 = c.ledger.size;
    await c.ledger.close();
    const keyFile = join(c.path, '..', 'evm.key');
    writeFileSync(keyFile, `${ANVIL_KEY}\n`);

    const first = await openlec('anchor', '--db', c.path, '--rpc', anvil.rpc, '--key', keyFile, '--deploy', '--chain-id', '31337');
    assert.equal(first.code, 0, first.stderr);
    const address = /anchor contract (0x[0-9a-fA-F]{40})/.exec(first.stdout)![1]!;
    assert.match(first.stdout, new RegExp(`anchored checkpoint ${size1} `));

    // The log grows; the next round anchors the new checkpoint, not the old one again.
    const ledger = SqliteLedger.open(c.path);
    assert.ok((await ledger.submit(c.dso.sign('feeder.define', { id: 'feeder-b' }))).ok);
    ledger.checkpoint(seededKey('operator'));
    const size2 = ledger.size;
    await ledger.close();
    const second = await openlec('anchor', '--db', c.path, '--rpc', anvil.rpc, '--key', keyFile, '--contract', address);
    assert.match(second.stdout, new RegExp(`anchored checkpoint ${size2} `));
    assert.match((await openlec('anchor', '--db', c.path, '--rpc', anvil.rpc, '--key', keyFile, '--contract', address)).stdout, /^anchor contract.*\n0 checkpoint\(s\) anchored/);

    const ok = await openlec('verify', '--db', c.path, '--anchors', anvil.rpc, '--contract', address);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /anchors ok: 2 anchored root\(s\) match the log, the latest for size \d+ in block \d+/);

    // Only the community's first anchoring account may anchor for it.
    const other = await AnchorContract.at({ rpc: anvil.rpc, address, privateKey: OTHER_KEY });
    await assert.rejects(other.anchor('openlec.test/sunny-street', size2 + 1, new Uint8Array(32)), /NotOperator/);

    // An operator that anchors a root its log does not have is caught.
    const liar = await AnchorContract.at({ rpc: anvil.rpc, address, privateKey: ANVIL_KEY });
    await liar.anchor('openlec.test/sunny-street', size2 + 5, new Uint8Array(32).fill(9));
    const bad = await openlec('verify', '--db', c.path, '--anchors', anvil.rpc, '--contract', address, '--json');
    assert.equal(bad.code, 1);
    const report = JSON.parse(bad.stdout);
    assert.equal(report.ok, false);
    assert.deepEqual(report.anchors.problems.map((p: { code: string }) => p.code), ['E_ANCHOR_BEYOND']);
    const l2 = SqliteLedger.open(c.path);
    for (let i = 0; i < 5; i++) assert.ok((await l2.submit(c.dso.sign('feeder.define', { id: `feeder-x${i}` }))).ok);
    await l2.close();
    const mismatch = await openlec('verify', '--db', c.path, '--anchors', anvil.rpc, '--contract', address);
    assert.equal(mismatch.code, 1);
    assert.match(mismatch.stdout, /\[E_ANCHOR_MISMATCH\] the root anchored for size \d+ in block \d+/);
    const wrongChain = await openlec('verify', '--db', c.path, '--anchors', anvil.rpc, '--contract', address, '--chain-id', '1');
    assert.equal(wrongChain.code, 3, 'a wrong chain id is refused: the anchors could not be checked');
    assert.match(wrongChain.stderr, /E_CHAIN_ID/);
  });
});
