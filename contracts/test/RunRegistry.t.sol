// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {DaoUnauthorized} from "@aragon/osx-commons-contracts/src/permission/auth/auth.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {ClusterRegistry} from "../src/ClusterRegistry.sol";
import {
    ClusterNotAdmitted,
    ComputeRecordsUnsorted,
    DatasetNotApproved,
    GpuBudgetExceeded,
    InvalidRunLimits,
    NothingToClaim,
    ReasonRequired,
    RoundComputeExceeded,
    RoundOutOfRange,
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
        _commitRound(RUN, round, _records(clusterId, gpuSeconds));
    }

    /// EU and US in one round, in ascending id order as commitRound requires.
    function _both(uint64 euSeconds, uint64 usSeconds) internal pure returns (RunRegistry.ComputeRecord[] memory both) {
        both = new RunRegistry.ComputeRecord[](2);
        RunRegistry.ComputeRecord memory eu = RunRegistry.ComputeRecord({clusterId: EU, gpuSeconds: euSeconds});
        RunRegistry.ComputeRecord memory us = RunRegistry.ComputeRecord({clusterId: US, gpuSeconds: usSeconds});
        (both[0], both[1]) = EU < US ? (eu, us) : (us, eu);
    }

    function _expectCommitReverts(uint64 round, RunRegistry.ComputeRecord[] memory records, bytes memory error)
        internal
    {
        vm.prank(operator);
        vm.expectRevert(error);
        checkpoints.commitRound(RUN, round, _rootOf(RUN, round), "u", _recordOf(RUN, round), _metrics(), records);
    }

    function test_runProposalPullsTheEscrowFromTheTreasury() public {
        vm.expectEmit(address(runs));
        emit RunRegistry.RunApproved(RUN, DATASET, BUDGET, RATE, ESCROW, _limits(), "s3://specs/run.json");
        _approveRun(RUN, BUDGET, RATE);

        RunRegistry.Run memory run = runs.getRun(RUN);
        vm.assertEq(uint256(run.status), uint256(RunRegistry.RunStatus.Approved), "approved");
        vm.assertEq(run.datasetRoot, DATASET, "dataset");
        vm.assertEq(uint256(run.limits.rounds), ROUNDS, "rounds");
        vm.assertEq(uint256(run.limits.roundDeadlineSeconds), ROUND_DEADLINE, "round deadline");
        vm.assertEq(runs.maxGpuSecondsPerRound(RUN), uint256(REPLICAS) * GPUS_PER_REPLICA * ROUND_DEADLINE, "per round");
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
        runs.approveRun(RUN, DATASET, BUDGET, RATE, _limits(), "s3://specs/run.json");
    }

    function test_runOnAnUnapprovedDatasetReverts() public {
        bytes32 unknown = keccak256("unknown dataset");
        vm.prank(address(dao));
        vm.expectRevert(abi.encodeWithSelector(DatasetNotApproved.selector, unknown));
        runs.approveRun(RUN, unknown, BUDGET, RATE, _limits(), "u");
    }

    function test_aZeroRunIdIsRefused() public {
        vm.prank(address(dao));
        vm.expectRevert(abi.encodeWithSelector(ZeroId.selector));
        runs.approveRun(bytes32(0), DATASET, BUDGET, RATE, _limits(), "u");
    }

    function test_runIdsAreNeverReused() public {
        _approveRun(RUN, BUDGET, RATE);
        vm.prank(address(dao));
        vm.expectRevert(abi.encodeWithSelector(RunAlreadyExists.selector, RUN));
        runs.approveRun(RUN, DATASET, BUDGET, RATE, _limits(), "u");
    }

    function test_aCommittedRoundCreditsTheClusterOwnerAtTheRunRate() public {
        _approveRun(RUN, BUDGET, RATE);
        vm.expectEmit(address(runs));
        emit RunRegistry.ComputeRecorded(RUN, 1, EU, alice, 2 hours, 6 ether);
        _record(1, EU, 2 hours);

        vm.assertEq(runs.earned(RUN, alice), 6 ether, "earned");
        vm.assertEq(runs.claimable(RUN, alice), 6 ether, "claimable");
        vm.assertEq(uint256(runs.roundGpuSeconds(RUN, 1)), 2 hours, "round's gpu seconds");
        vm.assertEq(uint256(runs.getRun(RUN).gpuSecondsRecorded), 2 hours, "gpu seconds");
    }

    function test_tenContributorsAreRecordedInOneCall() public {
        _approveRun(RUN, BUDGET, RATE);
        RunRegistry.ComputeRecord[] memory records = new RunRegistry.ComputeRecord[](10);
        for (uint256 i = 0; i < 10; i++) {
            // Ascending ids: the index in the top byte.
            bytes32 clusterId = bytes32(i << 248) | (keccak256(abi.encode("cluster", i)) >> 8);
            _registerAndAdmit(vm.addr(0x100 + i), clusterId, 1);
            records[i] = RunRegistry.ComputeRecord({clusterId: clusterId, gpuSeconds: uint64(600 * (i + 1))});
        }
        _commitRound(RUN, 1, records);
        for (uint256 i = 0; i < 10; i++) {
            vm.assertEq(runs.earned(RUN, vm.addr(0x100 + i)), runs.rewardFor(uint64(600 * (i + 1)), RATE), "each");
        }
    }

    function test_aRoundNamesEachClusterOnceInAscendingOrder() public {
        _approveRun(RUN, BUDGET, RATE);
        RunRegistry.ComputeRecord[] memory twice = new RunRegistry.ComputeRecord[](2);
        twice[0] = RunRegistry.ComputeRecord({clusterId: EU, gpuSeconds: 1 hours});
        twice[1] = twice[0];
        _expectCommitReverts(1, twice, abi.encodeWithSelector(ComputeRecordsUnsorted.selector, RUN, uint64(1), 1));

        RunRegistry.ComputeRecord[] memory descending = _both(1 hours, 1 hours);
        (descending[0], descending[1]) = (descending[1], descending[0]);
        _expectCommitReverts(1, descending, abi.encodeWithSelector(ComputeRecordsUnsorted.selector, RUN, uint64(1), 1));

        _commitRound(RUN, 1, _both(1 hours, 1 hours));
        _commitRound(RUN, 2, _records(EU, 1 hours));
        vm.assertEq(runs.earned(RUN, alice), 6 ether, "two rounds credited");
        vm.assertEq(runs.earned(RUN, bob), 3 ether, "one round credited");
    }

    function test_pendingSuspendedOrRemovedClustersEarnNothing() public {
        _approveRun(RUN, BUDGET, RATE);
        bytes32 pending = keccak256("cluster: pending");
        vm.prank(alice);
        clusters.registerCluster(pending, 2, "NVIDIA-A100", "");
        _expectCommitReverts(1, _records(pending, 1 hours), abi.encodeWithSelector(ClusterNotAdmitted.selector, pending));

        _execute(address(clusters), abi.encodeCall(ClusterRegistry.suspendCluster, (US)));
        _expectCommitReverts(1, _records(US, 1 hours), abi.encodeWithSelector(ClusterNotAdmitted.selector, US));

        _execute(address(clusters), abi.encodeCall(ClusterRegistry.removeCluster, (US)));
        _expectCommitReverts(1, _both(1 hours, 1 hours), abi.encodeWithSelector(ClusterNotAdmitted.selector, US));

        vm.assertEq(runs.earned(RUN, bob), 0, "removed cluster's owner earned nothing");
        vm.assertEq(runs.earned(RUN, alice), 0, "a batch applies all or nothing");
        vm.assertFalse(checkpoints.isCommitted(RUN, 1), "and the root with it: commit and pay are one");
    }

    function test_computeBeyondTheGpuBudgetReverts() public {
        _approveRun(RUN, 2 hours, RATE);
        _record(1, EU, 90 minutes);
        _expectCommitReverts(
            2, _records(US, 31 minutes), abi.encodeWithSelector(GpuBudgetExceeded.selector, RUN, 31 minutes, 30 minutes)
        );
    }

    function test_aRoundCreditsAtMostEveryReplicaForTheWholeDeadline() public {
        _approveRun(RUN, 1000 hours, RATE);
        uint64 perRound = uint64(runs.maxGpuSecondsPerRound(RUN));
        _expectCommitReverts(
            1,
            _both(perRound / 2, perRound / 2 + 1),
            abi.encodeWithSelector(RoundComputeExceeded.selector, RUN, uint64(1), uint256(perRound) + 1, perRound)
        );
        _commitRound(RUN, 1, _both(perRound / 2, perRound / 2));
        vm.assertEq(uint256(runs.roundGpuSeconds(RUN, 1)), perRound, "the whole round's allowance");
    }

    function test_onlyRoundsOneToTheSpecsRoundsAreCommittedOrCredited() public {
        _approveRun(RUN, BUDGET, RATE);
        _expectCommitReverts(
            0, _records(EU, 1 hours), abi.encodeWithSelector(RoundOutOfRange.selector, RUN, uint64(0), uint64(ROUNDS))
        );
        _expectCommitReverts(
            ROUNDS + 1, _noRecords(), abi.encodeWithSelector(RoundOutOfRange.selector, RUN, uint64(ROUNDS + 1), uint64(ROUNDS))
        );
        _commitRound(RUN, ROUNDS, _records(EU, 1 hours));
        vm.assertFalse(checkpoints.isCommitted(RUN, 0), "round 0 is never committed");
        vm.assertEq(runs.earned(RUN, alice), 3 ether, "the last round is credited");
    }

    function test_aRunNeedsLimitsThatAllowWork() public {
        RunRegistry.RunLimits[3] memory broken = [_limits(), _limits(), _limits()];
        broken[0].rounds = 0;
        broken[1].replicasPerRound = 0;
        broken[2].roundDeadlineSeconds = 0;
        for (uint256 i = 0; i < broken.length; i++) {
            vm.prank(address(dao));
            vm.expectRevert(abi.encodeWithSelector(InvalidRunLimits.selector, RUN));
            runs.approveRun(RUN, DATASET, BUDGET, RATE, broken[i], "u");
        }
    }

    function test_claimPaysWhatIsOwedOnce() public {
        _approveRun(RUN, BUDGET, RATE);
        _record(1, EU, 1 hours);
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
        _record(1, EU, 10 hours);
        vm.expectEmit(address(runs));
        emit RunRegistry.RunCancelled(RUN, ESCROW - 30 ether);
        _execute(address(runs), abi.encodeCall(RunRegistry.cancelRun, (RUN)));

        vm.assertEq(token.balanceOf(address(dao)), TREASURY - 30 ether, "refunded to the DAO");
        vm.prank(alice);
        runs.claim(RUN);
        vm.assertEq(token.balanceOf(alice), 30 ether, "claimed after cancel");
        vm.assertEq(token.balanceOf(address(runs)), 0, "escrow empty");

        _expectCommitReverts(2, _records(EU, 1), abi.encodeWithSelector(RunNotApproved.selector, RUN));
    }

    function test_theOperatorCancelsARunItWasAskedToStopAndItEndsCancelled() public {
        _approveRun(RUN, BUDGET, RATE);
        _record(1, EU, 10 hours);
        vm.expectEmit(address(runs));
        emit RunRegistry.RunCancelledByOperator(RUN, ESCROW - 30 ether, "operator: daotrain run cancel");
        vm.prank(operator);
        runs.cancelRunAsOperator(RUN, "operator: daotrain run cancel");

        vm.assertEq(uint256(runs.runStatus(RUN)), uint256(RunRegistry.RunStatus.Cancelled), "cancelled, not completed");
        vm.assertEq(token.balanceOf(address(dao)), TREASURY - 30 ether, "refunded to the DAO");
        vm.assertEq(runs.claimable(RUN, alice), 30 ether, "credited rewards stay claimable");
        _expectCommitReverts(2, _records(EU, 1), abi.encodeWithSelector(RunNotApproved.selector, RUN));
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(RunNotApproved.selector, RUN));
        runs.completeRun(RUN);
    }

    function test_operatorCompletesARunAndTheRestReturnsToTheDao() public {
        _approveRun(RUN, BUDGET, RATE);
        _record(1, US, 1 hours);
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
        _record(1, EU, 10 hours);
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

        _expectCommitReverts(2, _records(EU, 1), abi.encodeWithSelector(RunNotApproved.selector, RUN));
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

    function test_theOperatorFailsOrCancelsARunOnlyWithAReason() public {
        _approveRun(RUN, BUDGET, RATE);
        vm.startPrank(operator);
        vm.expectRevert(abi.encodeWithSelector(ReasonRequired.selector, RUN));
        runs.failRun(RUN, "");
        vm.expectRevert(abi.encodeWithSelector(ReasonRequired.selector, RUN));
        runs.cancelRunAsOperator(RUN, "");
        vm.stopPrank();
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
        runs.approveRun(keccak256("other"), DATASET, BUDGET, RATE, _limits(), "u");
        vm.expectRevert(denied);
        runs.cancelRun(RUN);
        vm.stopPrank();
    }

    function testFuzz_nobodyButTheOperatorCompletesFailsOrCancels(address caller) public {
        vm.assume(caller != operator);
        _approveRun(RUN, BUDGET, RATE);
        bytes memory denied = abi.encodeWithSelector(
            DaoUnauthorized.selector, address(dao), address(runs), caller, runs.OPERATOR_PERMISSION_ID()
        );
        vm.startPrank(caller);
        vm.expectRevert(denied);
        runs.completeRun(RUN);
        vm.expectRevert(denied);
        runs.failRun(RUN, NO_QUORUM);
        vm.expectRevert(denied);
        runs.cancelRunAsOperator(RUN, "forged");
        vm.stopPrank();
    }

    /// Neither the operator nor the DAO credits compute directly: only the checkpoint registry,
    /// inside a commit.
    function testFuzz_nobodyButTheCheckpointRegistryCredits(address caller) public {
        vm.assume(caller != address(checkpoints));
        _approveRun(RUN, BUDGET, RATE);
        RunRegistry.ComputeRecord[] memory records = _records(EU, 1 hours);
        bytes32 permission = runs.CREDIT_PERMISSION_ID();
        address[3] memory callers = [caller, operator, address(dao)];
        for (uint256 i = 0; i < callers.length; i++) {
            vm.prank(callers[i]);
            vm.expectRevert(
                abi.encodeWithSelector(DaoUnauthorized.selector, address(dao), address(runs), callers[i], permission)
            );
            runs.creditRound(RUN, 1, records);
        }
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
        uint256 perRound = uint256(REPLICAS) * GPUS_PER_REPLICA * ROUND_DEADLINE;
        euSeconds = uint64(bound(euSeconds, 0, _min(budget, perRound)));
        usSeconds = uint64(bound(usSeconds, 0, _min(budget - euSeconds, perRound)));
        _approveRun(RUN, budget, rate);
        _record(1, EU, euSeconds);
        _record(2, US, usSeconds);
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

    function _min(uint256 a, uint256 b) internal pure returns (uint256) {
        return a < b ? a : b;
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
