// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title CheckpointAnchor
/// @notice Public timestamps for openlec logs: the operator of a community records the root
/// hash of its signed checkpoints (RFC 9162 tree head) by tree size. A size is anchored
/// once; sizes only grow; the first address to anchor a community is its operator here.
contract CheckpointAnchor {
    event Anchored(bytes32 indexed community, uint64 indexed size, bytes32 root, address operator, uint64 timestamp);

    mapping(bytes32 => mapping(uint64 => bytes32)) public rootOf;
    mapping(bytes32 => address) public operatorOf;
    mapping(bytes32 => uint64) public latestSize;

    error NotOperator(address operator);
    error SizeNotGrowing(uint64 latest);

    function anchor(bytes32 community, uint64 size, bytes32 root) external {
        address operator = operatorOf[community];
        if (operator == address(0)) operatorOf[community] = msg.sender;
        else if (operator != msg.sender) revert NotOperator(operator);
        uint64 latest = latestSize[community];
        if (size <= latest) revert SizeNotGrowing(latest);
        rootOf[community][size] = root;
        latestSize[community] = size;
        emit Anchored(community, size, root, msg.sender, uint64(block.timestamp));
    }
}
