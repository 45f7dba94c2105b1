// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IDAO} from "@aragon/osx-commons-contracts/src/dao/IDAO.sol";
import {DaoAuthorizable} from "@aragon/osx-commons-contracts/src/permission/auth/DaoAuthorizable.sol";

/// @notice Binds a registry to one OSx DAO. Governance functions need GOVERNANCE_PERMISSION_ID on
/// this contract, which the DAO grants to itself, so only an executed proposal can call them.
abstract contract DaoGoverned is DaoAuthorizable {
    bytes32 public constant GOVERNANCE_PERMISSION_ID = keccak256("DAOTRAIN_GOVERNANCE_PERMISSION");

    constructor(IDAO dao_) DaoAuthorizable(dao_) {}
}

/// @notice A registry the orchestrator also writes to: the DAO grants OPERATOR_PERMISSION_ID on it
/// to the orchestrator's address (and can revoke it by proposal).
abstract contract DaoOperated is DaoGoverned {
    bytes32 public constant OPERATOR_PERMISSION_ID = keccak256("DAOTRAIN_OPERATOR_PERMISSION");

    constructor(IDAO dao_) DaoGoverned(dao_) {}
}
