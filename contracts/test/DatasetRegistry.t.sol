// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {DaoUnauthorized} from "@aragon/osx-commons-contracts/src/permission/auth/auth.sol";
import {DatasetRegistry} from "../src/DatasetRegistry.sol";
import {DatasetAlreadyApproved, DatasetNotApproved, ZeroId} from "../src/Errors.sol";
import {DaoTrainFixture} from "./utils/DaoTrainFixture.sol";
import {vm} from "./utils/Vm.sol";

contract DatasetRegistryTest is DaoTrainFixture {
    bytes32 internal constant ROOT = keccak256("root");

    function test_approvedByProposalReadsBackWithUriAndLicense() public {
        vm.expectEmit(address(datasets));
        emit DatasetRegistry.DatasetApproved(ROOT, "s3://data/root", "CC-BY-4.0");
        _approveDataset(ROOT);

        DatasetRegistry.Dataset memory dataset = datasets.getDataset(ROOT);
        vm.assertTrue(datasets.isDatasetApproved(ROOT), "approved");
        vm.assertEq(dataset.uri, "s3://data/root", "uri");
        vm.assertEq(dataset.license, "CC-BY-4.0", "license");
        vm.assertEq(uint256(dataset.approvedAt), block.timestamp, "approvedAt");
    }

    function test_revokeKeepsRecordButNotApproval() public {
        _approveDataset(ROOT);
        vm.expectEmit(address(datasets));
        emit DatasetRegistry.DatasetRevoked(ROOT);
        _execute(address(datasets), abi.encodeCall(DatasetRegistry.revokeDataset, (ROOT)));

        vm.assertFalse(datasets.isDatasetApproved(ROOT), "revoked");
        vm.assertEq(datasets.getDataset(ROOT).uri, "s3://data/root", "uri kept");
    }

    function test_approvingTwiceRevertsUntilRevoked() public {
        _approveDataset(ROOT);
        vm.prank(address(dao));
        vm.expectRevert(abi.encodeWithSelector(DatasetAlreadyApproved.selector, ROOT));
        datasets.approveDataset(ROOT, "other", "MIT");

        _execute(address(datasets), abi.encodeCall(DatasetRegistry.revokeDataset, (ROOT)));
        _approveDataset(ROOT);
        vm.assertTrue(datasets.isDatasetApproved(ROOT), "re-approved");
    }

    function test_revokingUnknownRootReverts() public {
        vm.prank(address(dao));
        vm.expectRevert(abi.encodeWithSelector(DatasetNotApproved.selector, ROOT));
        datasets.revokeDataset(ROOT);
    }

    function test_zeroRootIsRefused() public {
        vm.prank(address(dao));
        vm.expectRevert(abi.encodeWithSelector(ZeroId.selector));
        datasets.approveDataset(bytes32(0), "u", "l");
    }

    function testFuzz_nobodyButTheDaoApprovesOrRevokes(address caller, bytes32 root) public {
        vm.assume(caller != address(dao));
        bytes32 permission = datasets.GOVERNANCE_PERMISSION_ID();
        vm.prank(caller);
        vm.expectRevert(
            abi.encodeWithSelector(DaoUnauthorized.selector, address(dao), address(datasets), caller, permission)
        );
        datasets.approveDataset(root, "u", "l");

        vm.prank(caller);
        vm.expectRevert(
            abi.encodeWithSelector(DaoUnauthorized.selector, address(dao), address(datasets), caller, permission)
        );
        datasets.revokeDataset(root);
    }
}
