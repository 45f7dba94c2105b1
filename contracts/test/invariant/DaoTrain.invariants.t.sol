// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {CheckpointRegistry} from "../../src/CheckpointRegistry.sol";
import {ClusterRegistry} from "../../src/ClusterRegistry.sol";
import {RunRegistry} from "../../src/RunRegistry.sol";
import {EXECUTE_PERMISSION_ID} from "../utils/OsxDao.sol";
import {DaoTrainFixture} from "../utils/DaoTrainFixture.sol";
import {vm} from "../utils/Vm.sol";
import {DaoTrainHandler} from "./DaoTrainHandler.sol";

/// @notice Invariants of the whole system under random sequences of proposals, operator calls,
/// claims and unauthorized attempts (foundry.toml: 256 runs × depth 50).
contract DaoTrainInvariants is DaoTrainFixture {
    DaoTrainHandler internal handler;
    uint64 internal constant MAX_ROUND = 7;

    bytes32[] internal runIds;
    bytes32[] internal clusterIds;
    address[] internal owners;
    address[] internal verifiers;

    function setUp() public override {
        super.setUp();
        _approveDataset(DATASET);
        for (uint256 i = 0; i < 6; i++) {
            runIds.push(keccak256(abi.encode("run", i)));
        }
        for (uint256 i = 0; i < 4; i++) {
            clusterIds.push(keccak256(abi.encode("cluster", i)));
            owners.push(vm.addr(0xC0 + i));
            _registerAndAdmit(owners[i], clusterIds[i], 8);
        }
        for (uint256 i = 0; i < 3; i++) {
            verifiers.push(vm.addr(0x7E0 + i));
        }
        handler = new DaoTrainHandler(
            DaoTrainHandler.System({
                dao: dao,
                token: token,
                datasets: datasets,
                clusters: clusters,
                runs: runs,
                checkpoints: checkpoints,
                operator: operator,
                dataset: DATASET
            }),
            runIds,
            clusterIds,
            verifiers
        );
        dao.grant(address(dao), address(handler), EXECUTE_PERMISSION_ID);
        // Two runs are live from the first call on; the fuzzer approves the other four. Two of the
        // three verifiers are appointed and a release needs one attestation, so that releases,
        // attestations and disputes meet from the first calls on; the fuzzer changes both.
        handler.approveRun(100 hours, 1 ether, 7 | 4 << 8 | 8 << 16 | 7200 << 24);
        handler.approveRun(300 hours, 7 ether, 3 | 2 << 8 | 1 << 16 | 600 << 24);
        handler.appointVerifier(0);
        handler.appointVerifier(1);
        handler.setAttestationQuorum(1);
    }

    /// forge fuzzes only the handler's functions, never the contracts directly.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// Runs the DAO has not approved hold nothing (checked by the DAO-only invariant), so the
    /// invariants below visit only approved ones.
    function invariant_escrowIsConserved() public view {
        uint256 held;
        for (uint256 i = 0; i < handler.daoApprovedRuns(); i++) {
            RunRegistry.Run memory run = runs.getRun(runIds[i]);
            uint256 balance = runs.escrowBalance(runIds[i]);
            vm.assertEq(run.paid + run.refunded + balance, run.funded, "paid + refunded + remaining = funded");
            vm.assertEq(run.paid, handler.ghostPaid(runIds[i]), "paid = sum of claims observed");
            vm.assertLe(run.paid, run.credited, "paid <= credited");
            vm.assertLe(run.credited, run.funded, "credited <= funded");
            vm.assertLe(uint256(run.gpuSecondsRecorded), uint256(run.gpuSecondsBudget), "within GPU budget");
            bool open = run.status == RunRegistry.RunStatus.Approved;
            vm.assertEq(run.refunded, open ? 0 : run.funded - run.credited, "closing refunds the uncredited rest");
            held += balance;
        }
        vm.assertEq(token.balanceOf(address(runs)), held, "registry holds exactly the escrows");
        uint256 paidOut;
        for (uint256 i = 0; i < owners.length; i++) {
            paidOut += token.balanceOf(owners[i]);
        }
        vm.assertEq(token.balanceOf(address(dao)) + held + paidOut, TREASURY, "no token created or lost");
    }

    function invariant_claimsNeverExceedTheLedger() public view {
        for (uint256 r = 0; r < handler.daoApprovedRuns(); r++) {
            uint256 earnedSum;
            for (uint256 o = 0; o < owners.length; o++) {
                uint256 earned = runs.earned(runIds[r], owners[o]);
                vm.assertLe(runs.claimed(runIds[r], owners[o]), earned, "claimed <= earned");
                earnedSum += earned;
            }
            vm.assertEq(earnedSum, runs.getRun(runIds[r]).credited, "ledger sums to credited");
        }
    }

    /// Compute is credited only inside the commit of a round within the run's rounds, and no round
    /// credits more than replicasPerRound × gpusPerReplica × roundDeadlineSeconds.
    function invariant_computeOnlyForCommittedRoundsWithinTheOperatorsLimits() public view {
        vm.assertEq(handler.creditsOutOfRange(), 0, "credited a round outside 1..rounds");
        vm.assertEq(handler.creditsOverRoundLimit(), 0, "credited more than the round's limit");
        for (uint256 r = 0; r < handler.daoApprovedRuns(); r++) {
            RunRegistry.Run memory run = runs.getRun(runIds[r]);
            uint256 perRound = runs.maxGpuSecondsPerRound(runIds[r]);
            uint256 sum;
            for (uint64 round = 0; round <= MAX_ROUND + 1; round++) {
                uint64 credited = runs.roundGpuSeconds(runIds[r], round);
                sum += credited;
                vm.assertLe(credited, perRound, "within the per-round bound");
                if (credited == 0) continue;
                vm.assertTrue(checkpoints.isCommitted(runIds[r], round), "credited round is committed");
                vm.assertTrue(round >= 1 && round <= run.limits.rounds, "credited round within the run's rounds");
            }
            vm.assertEq(sum, run.gpuSecondsRecorded, "every credited second belongs to a committed round");
        }
    }

    /// Admission binds the id to the owner the DAO named, and the admitted capacity is never more
    /// than the DAO approved at the last admission, nor more than the owner reports now.
    function invariant_admissionNamesTheOwnerAndCapsTheCapacity() public view {
        vm.assertEq(handler.admissionsForAnotherOwner(), 0, "admitted for an owner who did not register it");
        for (uint256 i = 0; i < clusterIds.length; i++) {
            ClusterRegistry.Cluster memory cluster = clusters.getCluster(clusterIds[i]);
            vm.assertEq(cluster.owner, owners[i], "the registering owner stays");
            vm.assertLe(cluster.admittedGpuCapacity, handler.approvedCapacity(clusterIds[i]), "approved by the DAO");
            vm.assertLe(cluster.admittedGpuCapacity, cluster.gpuCapacity, "no more than reported");
        }
    }

    /// A round is released only with the quorum of current verifiers' attestations, never while a
    /// dispute is open or after one was upheld, and only the committed root is ever attested or disputed.
    function invariant_releasesNeedTheQuorumAndNoDispute() public view {
        vm.assertEq(handler.releasesWithoutQuorum(), 0, "released without the attestation quorum");
        vm.assertEq(handler.releasesOfDisputedRounds(), 0, "released a disputed or rejected round");
        vm.assertEq(handler.acceptedWrongRoots(), 0, "a verdict on a root other than the committed one");
        vm.assertEq(uint256(checkpoints.attestationQuorum()), uint256(handler.ghostQuorum()), "quorum set by the DAO");
        for (uint256 i = 0; i < handler.committedCount(); i++) {
            (bytes32 runId, uint64 round) = handler.committed(i);
            CheckpointRegistry.Checkpoint memory checkpoint = checkpoints.getCheckpoint(runId, round);
            vm.assertEq(uint256(checkpoint.dispute), uint256(handler.ghostDispute(runId, round)), "dispute state");
            vm.assertEq(checkpoints.attesters(runId, round).length, handler.ghostAttesterCount(runId, round), "attesters");
            vm.assertEq(checkpoints.attestationCount(runId, round), handler.currentAttestations(runId, round), "count");
            if (!checkpoint.released) continue;
            vm.assertTrue(
                checkpoint.dispute == CheckpointRegistry.DisputeState.None
                    || checkpoint.dispute == CheckpointRegistry.DisputeState.Dismissed,
                "a released round was never disputed or its dispute was dismissed"
            );
        }
    }

    function invariant_atMostOneCommitPerRunAndRound() public view {
        vm.assertEq(handler.doubleCommits(), 0, "a second commit succeeded");
        for (uint256 i = 0; i < handler.committedCount(); i++) {
            (bytes32 runId, uint64 round) = handler.committed(i);
            vm.assertEq(checkpoints.getCheckpoint(runId, round).root, handler.firstRoot(runId, round), "first root stands");
        }
        for (uint256 r = 0; r < handler.daoApprovedRuns(); r++) {
            CheckpointRegistry.LatestRound memory latest = checkpoints.latestRound(runIds[r]);
            if (!latest.exists) continue;
            vm.assertTrue(handler.firstRoot(runIds[r], latest.round) != bytes32(0), "every commit was the operator's");
        }
    }

    function invariant_onlyTheDaoApprovesAdmitsAndReleases() public view {
        vm.assertEq(handler.unauthorizedGovernance(), 0, "a non-DAO caller governed");
        uint256 approved;
        uint256 released;
        for (uint256 r = 0; r < runIds.length; r++) {
            if (runs.runStatus(runIds[r]) != RunRegistry.RunStatus.None) approved++;
            released += checkpoints.releasedRounds(runIds[r]).length;
        }
        vm.assertEq(approved, handler.daoApprovedRuns(), "every run came from a DAO proposal");
        vm.assertEq(released, handler.daoReleases(), "every release came from a DAO proposal");
        vm.assertTrue(datasets.isDatasetApproved(DATASET), "dataset still approved");
    }

    function invariant_onlyTheOperatorCommitsAndRecords() public view {
        vm.assertEq(
            handler.unauthorizedOperations(), 0, "a non-operator committed, completed, failed or cancelled, or credited outside a commit"
        );
        uint256 failed;
        for (uint256 r = 0; r < runIds.length; r++) {
            if (runs.runStatus(runIds[r]) == RunRegistry.RunStatus.Failed) failed++;
        }
        vm.assertEq(failed, handler.failedRuns(), "every failed run was failed by the operator");
    }

    function invariant_removedOrSuspendedClustersEarnNothing() public view {
        vm.assertEq(handler.creditsToUnadmitted(), 0, "an unadmitted cluster was credited");
        for (uint256 i = 0; i < clusterIds.length; i++) {
            if (clusters.getCluster(clusterIds[i]).status != ClusterRegistry.ClusterStatus.Removed) continue;
            vm.assertEq(
                handler.totalEarned(owners[i]), handler.earnedAtRemoval(clusterIds[i]), "earned after removal"
            );
        }
    }
}
