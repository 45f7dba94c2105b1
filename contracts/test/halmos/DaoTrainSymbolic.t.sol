// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IDAO} from "@aragon/osx-commons-contracts/src/dao/IDAO.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {CheckpointRegistry} from "../../src/CheckpointRegistry.sol";
import {ClusterRegistry} from "../../src/ClusterRegistry.sol";
import {DatasetRegistry} from "../../src/DatasetRegistry.sol";
import {RunRegistry} from "../../src/RunRegistry.sol";
import {vm} from "../utils/Vm.sol";

/// @notice The DAO's permission manager reduced to its table: Halmos cannot load the real OSx DAO
/// (the forge suites deploy it from a fixture file, a cheatcode Halmos lacks), and these proofs are
/// about the registries' arithmetic and state rules, not about OSx's permission logic, which the
/// forge suites exercise on the real DAO.
contract PermissionTable {
    mapping(address where => mapping(address who => mapping(bytes32 id => bool))) public granted;

    function grant(address where, address who, bytes32 id) external {
        granted[where][who][id] = true;
    }

    function revoke(address where, address who, bytes32 id) external {
        granted[where][who][id] = false;
    }

    function hasPermission(address where, address who, bytes32 id, bytes calldata) external view returns (bool) {
        return granted[where][who][id];
    }
}

contract RewardToken is ERC20 {
    constructor(address treasury, uint256 supply) ERC20("Reward", "RWD") {
        _mint(treasury, supply);
    }
}

/// @notice Symbolic proofs (Halmos: every `check_` argument is symbolic, every path is explored)
/// of escrow conservation, the operator's limits, admission and release gating.
///   contracts/analysis/halmos.sh
contract DaoTrainSymbolic {
    uint256 internal constant TREASURY = 1e30;
    bytes32 internal constant DATASET = keccak256("dataset");
    bytes32 internal constant RUN = keccak256("run");
    /// Two clusters in ascending id order, as a round's records must be.
    bytes32 internal constant CLUSTER_A = bytes32(uint256(1));
    bytes32 internal constant CLUSTER_B = bytes32(uint256(2));
    address internal constant OWNER_A = address(0xA);
    address internal constant OWNER_B = address(0xB);
    address internal constant OPERATOR = address(0x0FE);
    address internal constant VERIFIER_1 = address(0x7E1);
    address internal constant VERIFIER_2 = address(0x7E2);

    PermissionTable internal dao;
    RewardToken internal token;
    DatasetRegistry internal datasets;
    ClusterRegistry internal clusters;
    RunRegistry internal runs;
    CheckpointRegistry internal checkpoints;

    function setUp() public {
        dao = new PermissionTable();
        token = new RewardToken(address(dao), TREASURY);
        datasets = new DatasetRegistry(IDAO(address(dao)));
        clusters = new ClusterRegistry(IDAO(address(dao)));
        runs = new RunRegistry(IDAO(address(dao)), token, datasets, clusters);
        checkpoints = new CheckpointRegistry(IDAO(address(dao)), runs);
        bytes32 governance = runs.GOVERNANCE_PERMISSION_ID();
        dao.grant(address(datasets), address(dao), governance);
        dao.grant(address(clusters), address(dao), governance);
        dao.grant(address(runs), address(dao), governance);
        dao.grant(address(checkpoints), address(dao), governance);
        dao.grant(address(runs), OPERATOR, runs.OPERATOR_PERMISSION_ID());
        dao.grant(address(checkpoints), OPERATOR, checkpoints.OPERATOR_PERMISSION_ID());
        dao.grant(address(runs), address(checkpoints), runs.CREDIT_PERMISSION_ID());
        dao.grant(address(checkpoints), VERIFIER_1, checkpoints.VERIFIER_PERMISSION_ID());
        dao.grant(address(checkpoints), VERIFIER_2, checkpoints.VERIFIER_PERMISSION_ID());

        vm.prank(address(dao));
        datasets.approveDataset(DATASET, "uri", "CC0-1.0");
        _register(OWNER_A, CLUSTER_A, 8);
        _register(OWNER_B, CLUSTER_B, 8);
    }

    // ---- escrow ----

    /// Whatever is credited, however the run closes and whoever claims: tokens are conserved, and
    /// `paid + refunded + escrowBalance == funded` with `paid <= credited <= funded`.
    function check_escrowIsConserved(
        uint64 budget,
        uint128 rate,
        uint32 secondsA,
        uint32 secondsB,
        uint8 closeWith,
        bool claimA,
        bool claimB
    ) public {
        _approveRun(budget, rate, RunRegistry.RunLimits(3, 2, 8, 1 days));
        _commit(1, _records(secondsA, secondsB));
        if (closeWith % 4 == 1) {
            vm.prank(address(dao));
            runs.cancelRun(RUN);
        } else if (closeWith % 4 == 2) {
            vm.prank(OPERATOR);
            runs.completeRun(RUN);
        } else if (closeWith % 4 == 3) {
            vm.prank(OPERATOR);
            runs.cancelRunAsOperator(RUN, "stopped");
        }
        if (claimA && runs.claimable(RUN, OWNER_A) > 0) {
            vm.prank(OWNER_A);
            runs.claim(RUN);
        }
        if (claimB && runs.claimable(RUN, OWNER_B) > 0) {
            vm.prank(OWNER_B);
            runs.claim(RUN);
        }
        RunRegistry.Run memory run = runs.getRun(RUN);
        uint256 balance = runs.escrowBalance(RUN);
        assert(run.paid + run.refunded + balance == run.funded);
        assert(run.paid <= run.credited && run.credited <= run.funded);
        assert(run.refunded == (run.status == RunRegistry.RunStatus.Approved ? 0 : run.funded - run.credited));
        assert(runs.claimable(RUN, OWNER_A) + runs.claimable(RUN, OWNER_B) <= balance);
        assert(token.balanceOf(address(runs)) == balance);
        assert(token.balanceOf(address(dao)) + balance + token.balanceOf(OWNER_A) + token.balanceOf(OWNER_B) == TREASURY);
        assert(run.paid == token.balanceOf(OWNER_A) + token.balanceOf(OWNER_B));
    }

    // ---- the operator's limits ----

    /// A commit that lands is of a round in 1..rounds and credits at most
    /// replicasPerRound × gpusPerReplica × roundDeadlineSeconds, all of it to that round.
    function check_aRoundCreditsWithinItsLimits(
        uint32 rounds,
        uint32 replicas,
        uint32 gpus,
        uint32 deadline,
        uint64 round,
        uint32 secondsA,
        uint32 secondsB
    ) public {
        _approveRun(type(uint64).max, 0, RunRegistry.RunLimits(rounds, replicas, gpus, deadline));
        _commit(round, _records(secondsA, secondsB));
        assert(round >= 1 && round <= rounds);
        assert(checkpoints.isCommitted(RUN, round));
        uint256 credited = runs.roundGpuSeconds(RUN, round);
        assert(credited == uint256(secondsA) + secondsB);
        assert(credited <= uint256(replicas) * gpus * deadline);
    }

    /// Nobody but the checkpoint registry (inside a commit) credits compute: not the operator, not
    /// the DAO, not anyone.
    function check_computeIsCreditedOnlyInsideACommit(address caller, uint64 round, uint32 secondsA) public {
        vm.assume(caller != address(checkpoints));
        _approveRun(1000 hours, 1, RunRegistry.RunLimits(3, 2, 8, 1 days));
        vm.prank(caller);
        try runs.creditRound(RUN, round, _records(secondsA, 0)) {
            assert(false);
        } catch {}
        assert(runs.getRun(RUN).gpuSecondsRecorded == 0);
    }

    // ---- admission ----

    /// An admission lands only for the owner who registered the id.
    function check_admissionBindsTheRegisteringOwner(address named) public {
        bytes32 id = keccak256("squatted");
        _register(OWNER_B, id, 8);
        vm.prank(address(dao));
        clusters.admitCluster(id, named);
        assert(named == OWNER_B);
        assert(clusters.admittedOwnerOf(id) == OWNER_B);
    }

    /// The admitted capacity is what the DAO approved, lowered at once by a lower report, never
    /// raised by a higher one until the DAO admits the cluster again.
    function check_aRaisedCapacityWaitsForANewAdmission(uint32 admitted, uint32 first, uint32 second) public {
        bytes32 id = keccak256("growing");
        _register(OWNER_A, id, admitted);
        vm.startPrank(OWNER_A);
        clusters.updateCluster(id, first, "");
        clusters.updateCluster(id, second, "");
        vm.stopPrank();
        uint32 capacity = clusters.getCluster(id).admittedGpuCapacity;
        assert(capacity <= admitted && capacity <= first && capacity <= second);
    }

    // ---- release gating ----

    /// A release lands only with the quorum of current verifiers' attestations and no open or
    /// upheld dispute, whatever the verifiers and the DAO did before it.
    function check_aReleaseNeedsTheQuorumAndNoDispute(
        uint32 quorum,
        bool attest1,
        bool attest2,
        bool revoke2,
        bool dispute1,
        bool resolve,
        bool upheld
    ) public {
        _approveRun(1000 hours, 1, RunRegistry.RunLimits(3, 2, 8, 1 days));
        _commit(1, _records(0, 0));
        bytes32 root = checkpoints.getCheckpoint(RUN, 1).root;
        vm.prank(address(dao));
        checkpoints.setAttestationQuorum(quorum);
        if (dispute1) {
            vm.prank(VERIFIER_1);
            checkpoints.disputeRound(RUN, 1, root, "evidence");
            if (resolve) {
                vm.prank(address(dao));
                checkpoints.resolveDispute(RUN, 1, upheld);
            }
        } else if (attest1) {
            vm.prank(VERIFIER_1);
            checkpoints.attestRound(RUN, 1, root);
        }
        if (attest2) {
            vm.prank(VERIFIER_2);
            checkpoints.attestRound(RUN, 1, root);
        }
        if (revoke2) dao.revoke(address(checkpoints), VERIFIER_2, checkpoints.VERIFIER_PERMISSION_ID());

        vm.prank(address(dao));
        checkpoints.releaseCheckpoint(RUN, 1);
        uint256 current = (!dispute1 && attest1 ? 1 : 0) + (attest2 && !revoke2 ? 1 : 0);
        assert(current >= quorum);
        assert(!dispute1 || (resolve && !upheld));
    }

    // ---- helpers ----

    function _register(address owner, bytes32 id, uint32 gpus) internal {
        vm.prank(owner);
        clusters.registerCluster(id, gpus, "H100", "");
        vm.prank(address(dao));
        clusters.admitCluster(id, owner);
    }

    /// The run proposal's two actions, as the DAO.
    function _approveRun(uint64 budget, uint256 rate, RunRegistry.RunLimits memory limits) internal {
        vm.startPrank(address(dao));
        token.approve(address(runs), runs.escrowFor(budget, rate));
        runs.approveRun(RUN, DATASET, budget, rate, limits, "spec");
        vm.stopPrank();
    }

    function _commit(uint64 round, RunRegistry.ComputeRecord[] memory records) internal {
        vm.prank(OPERATOR);
        checkpoints.commitRound(
            RUN,
            round,
            keccak256(abi.encode("root", round)),
            "manifest",
            keccak256(abi.encode("record", round)),
            CheckpointRegistry.Metrics(1, 1, 1, 1),
            records
        );
    }

    function _records(uint64 secondsA, uint64 secondsB) internal pure returns (RunRegistry.ComputeRecord[] memory records) {
        records = new RunRegistry.ComputeRecord[](2);
        records[0] = RunRegistry.ComputeRecord({clusterId: CLUSTER_A, gpuSeconds: secondsA});
        records[1] = RunRegistry.ComputeRecord({clusterId: CLUSTER_B, gpuSeconds: secondsB});
    }
}
