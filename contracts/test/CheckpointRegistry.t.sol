// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {DaoUnauthorized} from "@aragon/osx-commons-contracts/src/permission/auth/auth.sol";
import {CheckpointRegistry} from "../src/CheckpointRegistry.sol";
import {AlreadyCommitted, AlreadyReleased, NotCommitted, NotReleased, RunNotApproved, ZeroId} from "../src/Errors.sol";
import {RunRegistry} from "../src/RunRegistry.sol";
import {DaoTrainFixture} from "./utils/DaoTrainFixture.sol";
import {bound, vm} from "./utils/Vm.sol";

contract CheckpointRegistryTest is DaoTrainFixture {
    bytes32 internal constant RUN = keccak256("run spec");
    bytes32 internal constant ROOT = keccak256("checkpoint root");
    bytes32 internal constant RECORD = keccak256("round record");

    function setUp() public override {
        super.setUp();
        _approveDataset(DATASET);
        _approveRun(RUN, 100 hours, 1 ether);
    }

    function _commit(uint64 round, bytes32 root) internal {
        vm.prank(operator);
        checkpoints.commitRound(RUN, round, root, "s3://ckpt/manifest.json", RECORD, _metrics(), _noRecords());
    }

    function _release(uint64 round) internal {
        _execute(address(checkpoints), abi.encodeCall(CheckpointRegistry.releaseCheckpoint, (RUN, round)));
    }

    function test_committedCheckpointReadsBackWithRecordAndMetricsUnreleased() public {
        vm.warp(1_700_000_000);
        vm.expectEmit(address(checkpoints));
        emit CheckpointRegistry.CheckpointCommitted(RUN, 1, ROOT, "s3://ckpt/manifest.json", RECORD, _metrics());
        _commit(1, ROOT);

        CheckpointRegistry.Checkpoint memory checkpoint = checkpoints.getCheckpoint(RUN, 1);
        vm.assertEq(checkpoint.root, ROOT, "root");
        vm.assertEq(checkpoint.recordHash, RECORD, "round record hash");
        vm.assertEq(checkpoint.manifestUri, "s3://ckpt/manifest.json", "manifest");
        vm.assertEq(uint256(checkpoint.metrics.loss), 2_500_000_000, "loss");
        vm.assertEq(uint256(checkpoint.metrics.valLoss), 2_600_000_000, "valLoss");
        vm.assertEq(uint256(checkpoint.committedAt), 1_700_000_000, "committedAt");
        vm.assertFalse(checkpoint.released, "unreleased");
        vm.assertEq(uint256(checkpoint.dispute), uint256(CheckpointRegistry.DisputeState.None), "undisputed");
        vm.assertTrue(checkpoints.isCommitted(RUN, 1), "isCommitted");
    }

    function test_secondCommitForSameRunAndRoundRevertsEvenWithSameRoot() public {
        _commit(3, ROOT);
        vm.startPrank(operator);
        vm.expectRevert(abi.encodeWithSelector(AlreadyCommitted.selector, RUN, uint64(3)));
        checkpoints.commitRound(RUN, 3, ROOT, "s3://ckpt/manifest.json", RECORD, _metrics(), _noRecords());
        vm.expectRevert(abi.encodeWithSelector(AlreadyCommitted.selector, RUN, uint64(3)));
        checkpoints.commitRound(RUN, 3, keccak256("other"), "s3://other", RECORD, _metrics(), _noRecords());
        vm.stopPrank();
        vm.assertEq(checkpoints.getCheckpoint(RUN, 3).root, ROOT, "first root stands");
    }

    function test_commitNeedsAnApprovedRun() public {
        bytes32 unknown = keccak256("unknown run");
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(RunNotApproved.selector, unknown));
        checkpoints.commitRound(unknown, 1, ROOT, "u", RECORD, _metrics(), _noRecords());

        _execute(address(runs), abi.encodeCall(RunRegistry.cancelRun, (RUN)));
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(RunNotApproved.selector, RUN));
        checkpoints.commitRound(RUN, 1, ROOT, "u", RECORD, _metrics(), _noRecords());
        vm.assertFalse(checkpoints.isCommitted(RUN, 1), "nothing committed");
    }

    function test_aZeroRootOrRecordHashIsRefused() public {
        vm.startPrank(operator);
        vm.expectRevert(abi.encodeWithSelector(ZeroId.selector));
        checkpoints.commitRound(RUN, 1, bytes32(0), "u", RECORD, _metrics(), _noRecords());
        vm.expectRevert(abi.encodeWithSelector(ZeroId.selector));
        checkpoints.commitRound(RUN, 1, ROOT, "u", bytes32(0), _metrics(), _noRecords());
        vm.stopPrank();
    }

    function test_daoReleasesACommittedCheckpointOnce() public {
        _commit(1, ROOT);
        vm.expectEmit(address(checkpoints));
        emit CheckpointRegistry.CheckpointReleased(RUN, 1, ROOT, "s3://ckpt/manifest.json");
        _release(1);
        vm.assertTrue(checkpoints.getCheckpoint(RUN, 1).released, "released");

        vm.prank(address(dao));
        vm.expectRevert(abi.encodeWithSelector(AlreadyReleased.selector, RUN, uint64(1)));
        checkpoints.releaseCheckpoint(RUN, 1);
    }

    function test_theOperatorRecordsWhereAReleasedCheckpointIsPublished() public {
        _commit(2, ROOT);
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(NotReleased.selector, RUN, uint64(2)));
        checkpoints.recordPublication(RUN, 2, "s3://public/run/2/manifest.json");

        _release(2);
        vm.expectEmit(address(checkpoints));
        emit CheckpointRegistry.CheckpointPublished(RUN, 2, ROOT, "s3://public/run/2/manifest.json");
        vm.prank(operator);
        checkpoints.recordPublication(RUN, 2, "s3://public/run/2/manifest.json");

        CheckpointRegistry.Checkpoint memory checkpoint = checkpoints.getCheckpoint(RUN, 2);
        vm.assertEq(checkpoint.publishedManifestUri, "s3://public/run/2/manifest.json", "published");
        vm.assertEq(checkpoint.manifestUri, "s3://ckpt/manifest.json", "the committed manifest stays");
        vm.assertEq(checkpoint.root, ROOT, "the root stays");
    }

    function testFuzz_onlyTheOperatorRecordsPublication(address caller) public {
        vm.assume(caller != operator);
        _commit(1, ROOT);
        _release(1);
        bytes32 permission = checkpoints.OPERATOR_PERMISSION_ID();
        vm.prank(caller);
        vm.expectRevert(
            abi.encodeWithSelector(DaoUnauthorized.selector, address(dao), address(checkpoints), caller, permission)
        );
        checkpoints.recordPublication(RUN, 1, "s3://elsewhere");
        vm.assertEq(checkpoints.getCheckpoint(RUN, 1).publishedManifestUri, "", "nothing recorded");
    }

    function test_releasingAnUncommittedRoundRevertsNotCommitted() public {
        vm.prank(address(dao));
        vm.expectRevert(abi.encodeWithSelector(NotCommitted.selector, RUN, uint64(7)));
        checkpoints.releaseCheckpoint(RUN, 7);
        vm.expectRevert(abi.encodeWithSelector(NotCommitted.selector, RUN, uint64(7)));
        checkpoints.getCheckpoint(RUN, 7);
    }

    function test_latestRoundsTrackTheHighestCommittedAndReleased() public {
        vm.assertFalse(checkpoints.latestRound(RUN).exists, "none committed");
        _commit(1, ROOT);
        CheckpointRegistry.LatestRound memory latest = checkpoints.latestRound(RUN);
        vm.assertTrue(latest.exists, "round 1 exists");
        vm.assertEq(uint256(latest.round), 1, "round 1");
        _commit(3, keccak256("r3"));
        _commit(2, keccak256("r2"));
        vm.assertEq(uint256(checkpoints.latestRound(RUN).round), 3, "highest committed");

        _release(3);
        _release(1);
        uint64[] memory released = checkpoints.releasedRounds(RUN);
        vm.assertEq(released.length, 2, "two released");
        vm.assertEq(uint256(released[0]), 3, "release order kept");
        vm.assertEq(uint256(released[1]), 1, "release order kept");
        vm.assertEq(uint256(checkpoints.latestReleasedRound(RUN).round), 3, "highest released");
    }

    function test_releaseStillWorksAfterTheRunWasCancelled() public {
        _commit(1, ROOT);
        _execute(address(runs), abi.encodeCall(RunRegistry.cancelRun, (RUN)));
        _release(1);
        vm.assertTrue(checkpoints.getCheckpoint(RUN, 1).released, "released after cancel");
    }

    function testFuzz_onlyTheOperatorCommits(address caller, uint64 round, bytes32 root) public {
        vm.assume(caller != operator && root != bytes32(0));
        bytes32 permission = checkpoints.OPERATOR_PERMISSION_ID();
        vm.prank(caller);
        vm.expectRevert(
            abi.encodeWithSelector(DaoUnauthorized.selector, address(dao), address(checkpoints), caller, permission)
        );
        checkpoints.commitRound(RUN, round, root, "u", RECORD, _metrics(), _noRecords());
    }

    function testFuzz_onlyTheDaoReleases(address caller, uint64 round) public {
        vm.assume(caller != address(dao));
        round = uint64(bound(round, 1, ROUNDS));
        _commit(round, ROOT);
        bytes32 permission = checkpoints.GOVERNANCE_PERMISSION_ID();
        vm.prank(caller);
        vm.expectRevert(
            abi.encodeWithSelector(DaoUnauthorized.selector, address(dao), address(checkpoints), caller, permission)
        );
        checkpoints.releaseCheckpoint(RUN, round);
    }

    function testFuzz_anyRoundCommitsOnceAndReadsBack(uint64 round, bytes32 root, bytes32 second) public {
        vm.assume(root != bytes32(0) && second != bytes32(0));
        round = uint64(bound(round, 1, ROUNDS));
        _commit(round, root);
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(AlreadyCommitted.selector, RUN, round));
        checkpoints.commitRound(RUN, round, second, "u", RECORD, _metrics(), _noRecords());
        vm.assertEq(checkpoints.getCheckpoint(RUN, round).root, root, "root");
        vm.assertEq(uint256(checkpoints.latestRound(RUN).round), round, "latest");
    }
}
