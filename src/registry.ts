import { apiKeyIssue, apiKeyRevoke, apiKeyRotate } from './access/api-keys.ts';
import { allocationRun } from './allocation/allocation-run.ts';
import { allocationShares } from './allocation/allocation-shares.ts';
import { deviceRegister } from './certificates/device-register.ts';
import { certificateAutoClaim, certificateCancel, certificateTransfer } from './certificates/holder.ts';
import { certificatesIssue } from './certificates/issue.ts';
import { certificatesConfigure, certificatesExpire } from './certificates/lifecycle.ts';
import { certificatesSettle } from './certificates/settle.ts';
import { assetRegister, flexConfigure, flexOffer, flexRequest } from './flex/market.ts';
import { flexOrder } from './flex/order.ts';
import { flexSettle } from './flex/settle.ts';
import { chargingCdr, chargingLocation, chargingParty, chargingSettle, chargingTariff } from './charging/roaming.ts';
import { chargingOrigin } from './charging/origin.ts';
import { chargingDriver } from './charging/driver.ts';
import { communityCreate } from './community/community-create.ts';
import { participantRegister } from './community/participant-register.ts';
import { COMMUNITY_TABLE, PARTICIPANTS_TABLE } from './community/tables.ts';
import { meterRegister } from './metering/meter-register.ts';
import { meterCorrect, meterReadings } from './metering/readings.ts';
import { feederLimit, marketConfigure, tariffSet } from './market/configure.ts';
import { marketClear } from './market/market-clear.ts';
import { orderCancel, orderPlace, orderStanding, standingCancel } from './market/orders.ts';
import { feederDefine } from './network/feeder-define.ts';
import { Registry } from './state/registry.ts';
import { State } from './state/tables.ts';

/** createRegistry lists every transaction type openlec knows, and so every projection table. */
export function createRegistry(): Registry {
  return new Registry([COMMUNITY_TABLE, PARTICIPANTS_TABLE], [
    communityCreate, participantRegister, feederDefine, meterRegister, meterReadings, meterCorrect, allocationShares, allocationRun,
    marketConfigure, tariffSet, feederLimit, orderPlace, orderCancel, orderStanding, standingCancel, marketClear,
    deviceRegister, certificatesConfigure, certificatesIssue, certificatesSettle, certificateTransfer, certificateCancel, certificateAutoClaim, certificatesExpire,
    assetRegister, flexConfigure, flexRequest, flexOffer, flexOrder, flexSettle,
    chargingParty, chargingLocation, chargingTariff, chargingCdr, chargingSettle, chargingDriver, chargingOrigin,
    apiKeyIssue, apiKeyRotate, apiKeyRevoke,
  ]);
}

/** emptyState is the state before entry 0, with every table of the registry. */
export function emptyState(registry: Registry): State {
  return new State(registry.tables);
}
