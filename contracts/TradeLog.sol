// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title TradeLog
/// @notice The design of many peer-to-peer energy pilots, kept only as a baseline for
/// `npm run bench -- ledger-cost`: every trade is its own transaction, stored on chain.
contract TradeLog {
    struct Trade {
        bytes32 interval;
        bytes32 buyer;
        bytes32 seller;
        uint64 wh;
        uint64 priceMicroPerKwh;
    }

    Trade[] public trades;

    event Traded(bytes32 indexed interval, bytes32 buyer, bytes32 seller, uint64 wh, uint64 priceMicroPerKwh);

    function record(bytes32 interval, bytes32 buyer, bytes32 seller, uint64 wh, uint64 priceMicroPerKwh) external {
        trades.push(Trade(interval, buyer, seller, wh, priceMicroPerKwh));
        emit Traded(interval, buyer, seller, wh, priceMicroPerKwh);
    }
}
