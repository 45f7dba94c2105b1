// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IDAO} from "@aragon/osx-commons-contracts/src/dao/IDAO.sol";
import {DaoGoverned} from "./DaoGoverned.sol";
import {DatasetAlreadyApproved, DatasetNotApproved, ZeroId} from "./Errors.sol";

/// @notice Datasets the DAO has approved for training, keyed by their manifest's Merkle root.
contract DatasetRegistry is DaoGoverned {
    struct Dataset {
        string uri;
        string license;
        uint64 approvedAt;
        bool approved;
    }

    mapping(bytes32 root => Dataset) private _datasets;

    event DatasetApproved(bytes32 indexed root, string uri, string license);
    event DatasetRevoked(bytes32 indexed root);

    constructor(IDAO dao_) DaoGoverned(dao_) {}

    function approveDataset(bytes32 root, string calldata uri, string calldata license)
        external
        auth(GOVERNANCE_PERMISSION_ID)
    {
        if (root == bytes32(0)) revert ZeroId();
        if (_datasets[root].approved) revert DatasetAlreadyApproved(root);
        _datasets[root] = Dataset({uri: uri, license: license, approvedAt: uint64(block.timestamp), approved: true});
        emit DatasetApproved(root, uri, license);
    }

    /// @dev Runs already approved on this dataset keep running; only new runs are refused.
    function revokeDataset(bytes32 root) external auth(GOVERNANCE_PERMISSION_ID) {
        if (!_datasets[root].approved) revert DatasetNotApproved(root);
        _datasets[root].approved = false;
        emit DatasetRevoked(root);
    }

    function isDatasetApproved(bytes32 root) external view returns (bool) {
        return _datasets[root].approved;
    }

    /// @notice The dataset's record; a revoked dataset keeps its uri and license with approved = false.
    function getDataset(bytes32 root) external view returns (Dataset memory) {
        return _datasets[root];
    }
}
