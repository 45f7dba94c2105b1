// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IDAO} from "@aragon/osx-commons-contracts/src/dao/IDAO.sol";
import {Action, IExecutor} from "@aragon/osx-commons-contracts/src/executors/IExecutor.sol";
import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {vm} from "./Vm.sol";

/// @notice The slice of the real Aragon OSx DAO (v1.4, from the npm osx-ethers package) the tests drive.
interface IOsxDao is IDAO, IExecutor {
    function initialize(bytes calldata metadata, address initialOwner, address trustedForwarder, string calldata daoURI)
        external;
    function grant(address where, address who, bytes32 permissionId) external;
    function revoke(address where, address who, bytes32 permissionId) external;
}

bytes32 constant ROOT_PERMISSION_ID = keccak256("ROOT_PERMISSION");
bytes32 constant EXECUTE_PERMISSION_ID = keccak256("EXECUTE_PERMISSION");

/// @notice Deploys the real OSx DAO implementation behind an ERC-1967 proxy, as DAOFactory does,
/// with `initialOwner` holding ROOT_PERMISSION. The bytecode comes from the npm osx-ethers package via
/// test/osx-fixture.ts (forge-test.sh writes it), so the permission logic under test is OSx's own.
function deployOsxDao(address initialOwner) returns (IOsxDao) {
    bytes memory code = vm.parseBytes(vm.readFile(string.concat(vm.projectRoot(), "/cache/fixtures/OsxDao.hex")));
    address implementation;
    assembly {
        implementation := create(0, add(code, 0x20), mload(code))
    }
    require(implementation != address(0), "OSx DAO implementation failed to deploy");
    bytes memory init = abi.encodeCall(IOsxDao.initialize, ("", initialOwner, address(0), ""));
    return IOsxDao(address(new ERC1967Proxy(implementation, init)));
}

/// @notice Executes actions as the DAO, the way an executed proposal does; the caller needs
/// EXECUTE_PERMISSION on the DAO (the TokenVoting plugin holds it in production).
function executeAsDao(IOsxDao dao, Action[] memory actions) {
    dao.execute(keccak256(abi.encode(actions)), actions, 0);
}

function oneAction(address to, bytes memory data) pure returns (Action[] memory actions) {
    actions = new Action[](1);
    actions[0] = Action({to: to, value: 0, data: data});
}
