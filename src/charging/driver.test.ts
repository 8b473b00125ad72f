import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { verifyLog } from '../audit/verify.ts';
import { chargingCommunity, simpleCdr, token } from '../../test/support/charging.ts';
import { ok, refused } from '../../test/support/flex.ts';
import { driverCdrs, findDriver } from './driver.ts';

describe('charging.driver: a CPO links a token pseudonym to a member', () => {
  it('links once, to a registered participant, by the CPO only; the member then has their CDRs', async () => {
    const { ledger, cpo, alice, emsp, operator, at } = await chargingCommunity();
    at('2025-03-20T12:00:00Z');
    const card = token('CARD-A').uid;
    await ok(ledger, cpo.sign('charging.cdr', { cdr: simpleCdr('A1', '2025-03-20T07:00:00Z', 60, 11, 0, 'CARD-A').cdr }));
    await ok(ledger, cpo.sign('charging.cdr', { cdr: simpleCdr('B1', '2025-03-20T09:00:00Z', 60, 7, 0, 'CARD-B').cdr }));
    let e = await refused(ledger, alice.sign('charging.driver', { token: card, member: alice.actor }));
    assert.equal(e.code, 'E_TX_ROLE');
    e = await refused(ledger, cpo.sign('charging.driver', { token: 'CARD-A', member: alice.actor }));
    assert.equal(e.field, 'body.token');
    e = await refused(ledger, cpo.sign('charging.driver', { token: card, member: 'A'.repeat(43) }));
    assert.equal(e.code, 'E_UNKNOWN_MEMBER');
    e = await refused(ledger, cpo.sign('charging.driver', { token: card, member: alice.actor, cpo: 'NL*TST' }));
    assert.equal(e.code, 'E_NOT_PARTY');
    await ok(ledger, cpo.sign('charging.driver', { token: card, member: alice.actor }));
    assert.equal(findDriver(ledger.state, 'FR*OLC', card)?.member, alice.actor);
    e = await refused(ledger, cpo.sign('charging.driver', { token: card, member: emsp.actor }));
    assert.equal(e.code, 'E_DRIVER_EXISTS');
    assert.deepEqual(driverCdrs(ledger.state, alice.actor).map((r) => r.id), ['A1']);
    assert.deepEqual(driverCdrs(ledger.state, operator.actor), []);
    assert.deepEqual((await verifyLog(ledger, ledger.registry)).problems, []);
    await ledger.close();
  });
});
