// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {DaoUnauthorized} from "@aragon/osx-commons-contracts/src/permission/auth/auth.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {ClusterRegistry} from "../src/ClusterRegistry.sol";
import {
    ClusterNotAdmitted,
    ComputeAlreadyRecorded,
    DatasetNotApproved,
    FailureReasonRequired,
    GpuBudgetExceeded,
    NothingToClaim,
    RunAlreadyExists,
    RunNotApproved,
    ZeroId
} from "../src/Errors.sol";
import {RunRegistry} from "../src/RunRegistry.sol";
import {DaoTrainFixture} from "./utils/DaoTrainFixture.sol";
import {bound, vm} from "./utils/Vm.sol";

contract RunRegistryTest is DaoTrainFixture {
    bytes32 internal constant RUN = keccak256("run spec");
    bytes32 internal constant EU = keccak256("cluster: eu");
    bytes32 internal constant US = keccak256("cluster: us");
    uint64 internal constant BUDGET = 100 hours;
    uint256 internal constant RATE = 3 ether;
    uint256 internal constant ESCROW = 300 ether;
    string internal constant NO_QUORUM = "round 3: fewer than 4 accepted replicas after 3 attempts";

    address internal immutable alice = vm.addr(0xA);
    address internal immutable bob = vm.addr(0xB);

    function setUp() public override {
        super.setUp();
        _approveDataset(DATASET);
        _registerAndAdmit(alice, EU, 8);
        _registerAndAdmit(bob, US, 4);
    }

    function _record(uint64 round, bytes32 clusterId, uint64 gpuSeconds) internal {
        vm.prank(operator);
        runs.recordCompute(RUN, round, _records(clusterId, gpuSeconds));
    }

    function test_runProposalPullsTheEscrowFromTheTreasury() public {
        vm.expectEmit(address(runs));
        emit RunRegistry.RunApproved(RUN, DATASET, BUDGET, RATE, ESCROW, "s3://specs/run.json");
        _approveRun(RUN, BUDGET, RATE);

        RunRegistry.Run memory run = runs.getRun(RUN);
        vm.assertEq(uint256(run.status), uint256(RunRegistry.RunStatus.Approved), "approved");
        vm.assertEq(run.datasetRoot, DATASET, "dataset");
        vm.assertEq(run.funded, ESCROW, "funded");
        vm.assertEq(runs.escrowBalance(RUN), ESCROW, "escrow balance");
        vm.assertEq(token.balanceOf(address(runs)), ESCROW, "tokens held");
        vm.assertEq(token.balanceOf(address(dao)), TREASURY - ESCROW, "treasury paid");
    }

    function test_approveRunWithoutTheTreasuryAllowanceReverts() public {
        vm.prank(address(dao));
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, address(runs), 0, ESCROW)
        );
        runs.approveRun(RUN, DATASET, BUDGET, RATE, "s3://specs/run.json");
    }

    function test_runOnAnUnapprovedDatasetReverts() public {
        bytes32 unknown = keccak256("unknown dataset");
        vm.prank(address(dao));
        vm.expectRevert(abi.encodeWithSelector(DatasetNotApproved.selector, unknown));
        runs.approveRun(RUN, unknown, BUDGET, RATE, "u");
    }

    function test_aZeroRunIdIsRefused() public {
        vm.prank(address(dao));
        vm.expectRevert(abi.encodeWithSelector(ZeroId.selector));
        runs.approveRun(bytes32(0), DATASET, BUDGET, RATE, "u");
    }

    function test_runIdsAreNeverReused() public {
        _approveRun(RUN, BUDGET, RATE);
        vm.prank(address(dao));
        vm.expectRevert(abi.encodeWithSelector(RunAlreadyExists.selector, RUN));
        runs.approveRun(RUN, DATASET, BUDGET, RATE, "u");
    }

    function test_recordedComputeCreditsTheClusterOwnerAtTheRunRate() public {
        _approveRun(RUN, BUDGET, RATE);
        vm.expectEmit(address(runs));
        emit RunRegistry.ComputeRecorded(RUN, 0, EU, alice, 2 hours, 6 ether);
        _record(0, EU, 2 hours);

        vm.assertEq(runs.earned(RUN, alice), 6 ether, "earned");
        vm.assertEq(runs.claimable(RUN, alice), 6 ether, "claimable");
        vm.assertTrue(runs.computeRecorded(RUN, 0, EU), "recorded");
        vm.assertEq(uint256(runs.getRun(RUN).gpuSecondsRecorded), 2 hours, "gpu seconds");
    }

    function test_tenContributorsAreRecordedInOneCall() public {
        _approveRun(RUN, BUDGET, RATE);
        RunRegistry.ComputeRecord[] memory records = new RunRegistry.ComputeRecord[](10);
        for (uint256 i = 0; i < 10; i++) {
            bytes32 clusterId = keccak256(abi.encode("cluster", i));
            _registerAndAdmit(vm.addr(0x100 + i), clusterId, 1);
            records[i] = RunRegistry.ComputeRecord({clusterId: clusterId, gpuSeconds: uint64(600 * (i + 1))});
        }
        vm.prank(operator);
        runs.recordCompute(RUN, 0, records);
        for (uint256 i = 0; i < 10; i++) {
            vm.assertEq(runs.earned(RUN, vm.addr(0x100 + i)), runs.rewardFor(uint64(600 * (i + 1)), RATE), "each");
        }
    }

    function test_computeIsRecordedOncePerRunRoundAndCluster() public {
        _approveRun(RUN, BUDGET, RATE);
        _record(0, EU, 1 hours);
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(ComputeAlreadyRecorded.selector, RUN, uint64(0), EU));
        runs.recordCompute(RUN, 0, _records(EU, 1 hours));

        _record(1, EU, 1 hours);
        vm.assertEq(runs.earned(RUN, alice), 6 ether, "two rounds credited");
    }

    function test_pendingSuspendedOrRemovedClustersEarnNothing() public {
        _approveRun(RUN, BUDGET, RATE);
        bytes32 pending = keccak256("cluster: pending");
        vm.prank(alice);
        clusters.registerCluster(pending, 2, "NVIDIA-A100", "");
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(ClusterNotAdmitted.selector, pending));
        runs.recordCompute(RUN, 0, _records(pending, 1 hours));

        _execute(address(clusters), abi.encodeCall(ClusterRegistry.suspendCluster, (US)));
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(ClusterNotAdmitted.selector, US));
        runs.recordCompute(RUN, 0, _records(US, 1 hours));

        _execute(address(clusters), abi.encodeCall(ClusterRegistry.removeCluster, (US)));
        RunRegistry.ComputeRecord[] memory both = new RunRegistry.ComputeRecord[](2);
        both[0] = RunRegistry.ComputeRecord({clusterId: EU, gpuSeconds: 1 hours});
        both[1] = RunRegistry.ComputeRecord({clusterId: US, gpuSeconds: 1 hours});
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(ClusterNotAdmitted.selector, US));
        runs.recordCompute(RUN, 0, both);

        vm.assertEq(runs.earned(RUN, bob), 0, "removed cluster's owner earned nothing");
        vm.assertEq(runs.earned(RUN, alice), 0, "a batch applies all or nothing");
    }

    function test_computeBeyondTheGpuBudgetReverts() public {
        _approveRun(RUN, 2 hours, RATE);
        _record(0, EU, 90 minutes);
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(GpuBudgetExceeded.selector, RUN, 31 minutes, 30 minutes));
        runs.recordCompute(RUN, 0, _records(US, 31 minutes));
    }

    function test_claimPaysWhatIsOwedOnce() public {
        _approveRun(RUN, BUDGET, RATE);
        _record(0, EU, 1 hours);
        vm.expectEmit(address(runs));
        emit RunRegistry.RewardClaimed(RUN, alice, 3 ether);
        vm.prank(alice);
        runs.claim(RUN);

        vm.assertEq(token.balanceOf(alice), 3 ether, "paid");
        vm.assertEq(runs.escrowBalance(RUN), ESCROW - 3 ether, "escrow reduced");
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(NothingToClaim.selector, RUN, alice));
        runs.claim(RUN);
    }

    function test_cancelRefundsTheUncreditedRestAndCreditedRewardsStayClaimable() public {
        _approveRun(RUN, BUDGET, RATE);
        _record(0, EU, 10 hours);
        vm.expectEmit(address(runs));
        emit RunRegistry.RunCancelled(RUN, ESCROW - 30 ether);
        _execute(address(runs), abi.encodeCall(RunRegistry.cancelRun, (RUN)));

        vm.assertEq(token.balanceOf(address(dao)), TREASURY - 30 ether, "refunded to the DAO");
        vm.prank(alice);
        runs.claim(RUN);
        vm.assertEq(token.balanceOf(alice), 30 ether, "claimed after cancel");
        vm.assertEq(token.balanceOf(address(runs)), 0, "escrow empty");

        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(RunNotApproved.selector, RUN));
        runs.recordCompute(RUN, 1, _records(EU, 1));
    }

    function test_operatorCompletesARunAndTheRestReturnsToTheDao() public {
        _approveRun(RUN, BUDGET, RATE);
        _record(0, US, 1 hours);
        vm.expectEmit(address(runs));
        emit RunRegistry.RunCompleted(RUN, ESCROW - 3 ether);
        vm.prank(operator);
        runs.completeRun(RUN);
        vm.assertEq(uint256(runs.runStatus(RUN)), uint256(RunRegistry.RunStatus.Completed), "completed");
        vm.assertEq(runs.escrowBalance(RUN), 3 ether, "only the owed reward is left");

        vm.prank(address(dao));
        vm.expectRevert(abi.encodeWithSelector(RunNotApproved.selector, RUN));
        runs.cancelRun(RUN);
    }

    function test_operatorFailsARunWithItsReasonAndCreditedRewardsStayClaimable() public {
        _approveRun(RUN, BUDGET, RATE);
        _record(0, EU, 10 hours);
        vm.expectEmit(address(runs));
        emit RunRegistry.RunFailed(RUN, ESCROW - 30 ether, NO_QUORUM);
        vm.prank(operator);
        runs.failRun(RUN, NO_QUORUM);

        RunRegistry.Run memory run = runs.getRun(RUN);
        vm.assertEq(uint256(run.status), uint256(RunRegistry.RunStatus.Failed), "failed");
        vm.assertEq(run.refunded, ESCROW - 30 ether, "refunded the uncredited rest");
        vm.assertEq(token.balanceOf(address(dao)), TREASURY - 30 ether, "refunded to the DAO");
        vm.assertEq(runs.escrowBalance(RUN), 30 ether, "only the owed reward is left");

        vm.prank(alice);
        runs.claim(RUN);
        vm.assertEq(token.balanceOf(alice), 30 ether, "claimed after failure");
        vm.assertEq(token.balanceOf(address(runs)), 0, "escrow empty");

        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(RunNotApproved.selector, RUN));
        runs.recordCompute(RUN, 1, _records(EU, 1));
    }

    function test_aClosedOrUnknownRunCannotFail() public {
        bytes32 completed = keccak256("completed");
        bytes32 cancelled = keccak256("cancelled");
        bytes32 failed = keccak256("failed");
        for (uint256 i = 0; i < 3; i++) {
            _approveRun([completed, cancelled, failed][i], BUDGET, RATE);
        }
        vm.prank(operator);
        runs.completeRun(completed);
        _execute(address(runs), abi.encodeCall(RunRegistry.cancelRun, (cancelled)));
        vm.prank(operator);
        runs.failRun(failed, NO_QUORUM);

        bytes32[4] memory closed = [completed, cancelled, failed, keccak256("never approved")];
        for (uint256 i = 0; i < closed.length; i++) {
            vm.prank(operator);
            vm.expectRevert(abi.encodeWithSelector(RunNotApproved.selector, closed[i]));
            runs.failRun(closed[i], NO_QUORUM);
        }
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(RunNotApproved.selector, failed));
        runs.completeRun(failed);
        vm.assertEq(token.balanceOf(address(runs)), 0, "each run refunded once");
        vm.assertEq(token.balanceOf(address(dao)), TREASURY, "treasury whole again");
    }

    function test_aRunFailsOnlyWithAReason() public {
        _approveRun(RUN, BUDGET, RATE);
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(FailureReasonRequired.selector, RUN));
        runs.failRun(RUN, "");
        vm.assertEq(uint256(runs.runStatus(RUN)), uint256(RunRegistry.RunStatus.Approved), "still approved");
    }

    function testFuzz_rewardIsGpuSecondsTimesRatePerHourRoundedDown(uint64 gpuSeconds, uint128 rate) public view {
        vm.assertEq(runs.rewardFor(gpuSeconds, rate), (uint256(gpuSeconds) * rate) / 3600, "reward");
    }

    function testFuzz_nobodyButTheDaoApprovesOrCancelsRuns(address caller) public {
        vm.assume(caller != address(dao));
        _approveRun(RUN, BUDGET, RATE);
        bytes memory denied = abi.encodeWithSelector(
            DaoUnauthorized.selector, address(dao), address(runs), caller, runs.GOVERNANCE_PERMISSION_ID()
        );
        vm.startPrank(caller);
        vm.expectRevert(denied);
        runs.approveRun(keccak256("other"), DATASET, BUDGET, RATE, "u");
        vm.expectRevert(denied);
        runs.cancelRun(RUN);
        vm.stopPrank();
    }

    function testFuzz_nobodyButTheOperatorRecordsCompletesOrFails(address caller) public {
        vm.assume(caller != operator);
        _approveRun(RUN, BUDGET, RATE);
        bytes memory denied = abi.encodeWithSelector(
            DaoUnauthorized.selector, address(dao), address(runs), caller, runs.OPERATOR_PERMISSION_ID()
        );
        RunRegistry.ComputeRecord[] memory records = _records(EU, 1 hours);
        vm.startPrank(caller);
        vm.expectRevert(denied);
        runs.recordCompute(RUN, 0, records);
        vm.expectRevert(denied);
        runs.completeRun(RUN);
        vm.expectRevert(denied);
        runs.failRun(RUN, NO_QUORUM);
        vm.stopPrank();
    }

    /// Whatever is recorded and claimed, and however the run closes (cancelled, completed or
    /// failed), tokens are conserved: the DAO ends with the treasury minus exactly what
    /// contributors were paid.
    function testFuzz_claimsAndRefundAddUpToTheEscrow(
        uint64 budget,
        uint256 rate,
        uint64 euSeconds,
        uint64 usSeconds,
        uint8 closeWith
    ) public {
        budget = uint64(bound(budget, 1, 10_000 hours));
        rate = bound(rate, 0, 100 ether);
        euSeconds = uint64(bound(euSeconds, 0, budget));
        usSeconds = uint64(bound(usSeconds, 0, budget - euSeconds));
        _approveRun(RUN, budget, rate);
        _record(0, EU, euSeconds);
        _record(0, US, usSeconds);
        _closeRun(closeWith % 3);
        if (runs.claimable(RUN, alice) > 0) {
            vm.prank(alice);
            runs.claim(RUN);
        }
        if (runs.claimable(RUN, bob) > 0) {
            vm.prank(bob);
            runs.claim(RUN);
        }
        uint256 paid = token.balanceOf(alice) + token.balanceOf(bob);
        vm.assertEq(paid, runs.rewardFor(euSeconds, rate) + runs.rewardFor(usSeconds, rate), "paid = ledger");
        vm.assertLe(paid, runs.escrowFor(budget, rate), "paid <= escrow");
        vm.assertEq(token.balanceOf(address(dao)) + paid, TREASURY, "conserved");
        vm.assertEq(token.balanceOf(address(runs)), 0, "nothing stuck");
    }

    function _closeRun(uint8 how) internal {
        if (how == 0) {
            _execute(address(runs), abi.encodeCall(RunRegistry.cancelRun, (RUN)));
            return;
        }
        vm.prank(operator);
        if (how == 1) runs.completeRun(RUN);
        else runs.failRun(RUN, NO_QUORUM);
    }
}
