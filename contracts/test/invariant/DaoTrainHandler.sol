// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Action} from "@aragon/osx-commons-contracts/src/executors/IExecutor.sol";
import {CheckpointRegistry} from "../../src/CheckpointRegistry.sol";
import {ClusterRegistry} from "../../src/ClusterRegistry.sol";
import {DaoTrainToken} from "../../src/DaoTrainToken.sol";
import {DatasetRegistry} from "../../src/DatasetRegistry.sol";
import {RunRegistry} from "../../src/RunRegistry.sol";
import {IOsxDao, executeAsDao, oneAction} from "../utils/OsxDao.sol";
import {bound, vm} from "../utils/Vm.sol";

/// @notice What the fuzzer may do to a deployed daotrain: the DAO's proposals (this handler holds
/// EXECUTE_PERMISSION, like the voting plugin), the operator's commits, records, completions and
/// failures, owners' claims, and anyone's attempts at calls they have no permission for. Ghost
/// state records what was observed, for the invariants to compare with what the contracts say.
contract DaoTrainHandler {
    struct System {
        IOsxDao dao;
        DaoTrainToken token;
        DatasetRegistry datasets;
        ClusterRegistry clusters;
        RunRegistry runs;
        CheckpointRegistry checkpoints;
        address operator;
        bytes32 dataset;
    }

    uint256 internal constant MAX_ROUND = 7;

    IOsxDao internal immutable dao;
    DaoTrainToken internal immutable token;
    ClusterRegistry internal immutable clusters;
    RunRegistry internal immutable runs;
    CheckpointRegistry internal immutable checkpoints;
    DatasetRegistry internal immutable datasets;
    address internal immutable operator;
    bytes32 internal immutable dataset;

    struct RunRound {
        bytes32 runId;
        uint64 round;
    }

    bytes32[] public runIds;
    bytes32[] public clusterIds;
    RunRound[] public committed;

    mapping(bytes32 runId => mapping(uint64 round => bytes32)) public firstRoot;
    mapping(bytes32 runId => uint256) public ghostPaid;
    mapping(bytes32 clusterId => bool) public ghostRemoved;
    mapping(bytes32 clusterId => uint256) public earnedAtRemoval;
    uint256 public doubleCommits;
    uint256 public creditsToUnadmitted;
    uint256 public unauthorizedGovernance;
    uint256 public unauthorizedOperations;
    uint256 public daoApprovedRuns;
    uint256 public daoReleases;
    uint256 public commits;
    uint256 public recordCalls;
    uint256 public claims;
    uint256 public failedRuns;

    constructor(System memory system, bytes32[] memory runIds_, bytes32[] memory clusterIds_) {
        dao = system.dao;
        token = system.token;
        datasets = system.datasets;
        clusters = system.clusters;
        runs = system.runs;
        checkpoints = system.checkpoints;
        operator = system.operator;
        dataset = system.dataset;
        runIds = runIds_;
        clusterIds = clusterIds_;
    }

    // ---- the DAO's proposals ----

    /// @dev Approves the pool's runs in order, so the other actions find approved runs to act on.
    function approveRun(uint64 gpuSecondsBudget, uint256 rewardPerGpuHour) external {
        if (daoApprovedRuns == runIds.length) return;
        bytes32 runId = runIds[daoApprovedRuns];
        gpuSecondsBudget = uint64(bound(gpuSecondsBudget, 10, 500) * 1 hours + gpuSecondsBudget % 1 hours);
        rewardPerGpuHour = bound(rewardPerGpuHour, 0, 50 ether);
        uint256 escrow = runs.escrowFor(gpuSecondsBudget, rewardPerGpuHour);
        Action[] memory actions = new Action[](2);
        actions[0] = Action({to: address(token), value: 0, data: abi.encodeCall(token.approve, (address(runs), escrow))});
        actions[1] = Action({
            to: address(runs),
            value: 0,
            data: abi.encodeCall(RunRegistry.approveRun, (runId, dataset, gpuSecondsBudget, rewardPerGpuHour, "spec"))
        });
        executeAsDao(dao, actions);
        daoApprovedRuns++;
    }

    /// @dev Closing is weighted down (1 call in 4) so runs live long enough to be worked on.
    function cancelRun(uint256 runSeed) external {
        bytes32 runId = _run(runSeed);
        if (runSeed % 4 != 0 || runs.runStatus(runId) != RunRegistry.RunStatus.Approved) return;
        executeAsDao(dao, oneAction(address(runs), abi.encodeCall(RunRegistry.cancelRun, (runId))));
    }

    /// @dev Releases a committed, unreleased round if the run has one (searching from the seed).
    function releaseCheckpoint(uint256 runSeed, uint64 roundSeed) external {
        bytes32 runId = _run(runSeed);
        for (uint64 i = 0; i <= MAX_ROUND; i++) {
            uint64 round = uint64((roundSeed % (MAX_ROUND + 1) + i) % (MAX_ROUND + 1));
            if (!checkpoints.isCommitted(runId, round) || checkpoints.getCheckpoint(runId, round).released) continue;
            executeAsDao(
                dao,
                oneAction(address(checkpoints), abi.encodeCall(CheckpointRegistry.releaseCheckpoint, (runId, round)))
            );
            daoReleases++;
            return;
        }
    }

    function admitCluster(uint256 clusterSeed) external {
        bytes32 clusterId = _cluster(clusterSeed);
        ClusterRegistry.ClusterStatus status = clusters.getCluster(clusterId).status;
        if (status != ClusterRegistry.ClusterStatus.Registered && status != ClusterRegistry.ClusterStatus.Suspended) {
            return;
        }
        executeAsDao(dao, oneAction(address(clusters), abi.encodeCall(ClusterRegistry.admitCluster, (clusterId))));
    }

    /// @dev Weighted down (1 call in 2) so that most batches name admitted clusters.
    function suspendCluster(uint256 clusterSeed) external {
        bytes32 clusterId = _cluster(clusterSeed);
        if (clusterSeed % 2 != 0 || !clusters.isAdmitted(clusterId)) return;
        executeAsDao(dao, oneAction(address(clusters), abi.encodeCall(ClusterRegistry.suspendCluster, (clusterId))));
    }

    /// @dev Removal is final, so it is weighted down (1 call in 4) to leave clusters to work with.
    function removeCluster(uint256 clusterSeed) external {
        bytes32 clusterId = _cluster(clusterSeed);
        if (clusterSeed % 4 != 0 || ghostRemoved[clusterId]) return;
        executeAsDao(dao, oneAction(address(clusters), abi.encodeCall(ClusterRegistry.removeCluster, (clusterId))));
        ghostRemoved[clusterId] = true;
        earnedAtRemoval[clusterId] = totalEarned(clusters.ownerOf(clusterId));
    }

    // ---- the operator ----

    function commitCheckpoint(uint256 runSeed, uint64 round, bytes32 root) external {
        bytes32 runId = _run(runSeed);
        round = uint64(bound(round, 0, MAX_ROUND));
        if (root == bytes32(0)) root = keccak256(abi.encode(runId, round));
        bool wasCommitted = firstRoot[runId][round] != bytes32(0);
        vm.prank(operator);
        (bool ok,) = address(checkpoints).call(
            abi.encodeCall(CheckpointRegistry.commitCheckpoint, (runId, round, root, "manifest", _metrics()))
        );
        if (!ok) return;
        commits++;
        if (wasCommitted) {
            doubleCommits++;
        } else {
            firstRoot[runId][round] = root;
            committed.push(RunRound({runId: runId, round: round}));
        }
    }

    /// @param clusterMask Which clusters the batch names (bit i = cluster i), so batches mix
    /// admitted, pending, suspended and removed clusters; an empty mask names cluster 0.
    function recordCompute(uint256 runSeed, uint64 round, uint8 clusterMask, uint64 gpuSeconds) external {
        bytes32 runId = _run(runSeed);
        round = uint64(bound(round, 0, MAX_ROUND));
        gpuSeconds = uint64(bound(gpuSeconds, 0, 4 hours));
        (RunRegistry.ComputeRecord[] memory records, bool anyUnadmitted) = _batch(clusterMask, gpuSeconds);
        vm.prank(operator);
        (bool ok,) = address(runs).call(abi.encodeCall(RunRegistry.recordCompute, (runId, round, records)));
        if (!ok) return;
        recordCalls++;
        if (anyUnadmitted) creditsToUnadmitted++;
    }

    function completeRun(uint256 runSeed) external {
        bytes32 runId = _run(runSeed);
        if (runSeed % 4 != 0 || runs.runStatus(runId) != RunRegistry.RunStatus.Approved) return;
        vm.prank(operator);
        runs.completeRun(runId);
    }

    /// @dev Weighted down like completion (1 call in 4).
    function failRun(uint256 runSeed) external {
        bytes32 runId = _run(runSeed);
        if (runSeed % 4 != 0 || runs.runStatus(runId) != RunRegistry.RunStatus.Approved) return;
        vm.prank(operator);
        runs.failRun(runId, "round 2: fewer than 2 accepted replicas after 3 attempts");
        failedRuns++;
    }

    // ---- contributors ----

    /// @dev The first owner (searching from the seed) with something to claim in the run claims it.
    function claim(uint256 ownerSeed, uint256 runSeed) external {
        bytes32 runId = _run(runSeed);
        for (uint256 i = 0; i < clusterIds.length; i++) {
            address owner = clusters.ownerOf(_cluster(ownerSeed % clusterIds.length + i));
            if (runs.claimable(runId, owner) == 0) continue;
            vm.prank(owner);
            ghostPaid[runId] += runs.claim(runId);
            claims++;
            return;
        }
    }

    // ---- everyone else ----

    function attackGovernance(address caller, uint8 which, uint256 seed) external {
        if (caller == address(dao)) return;
        bytes32 runId = _run(seed);
        bytes32 clusterId = _cluster(seed);
        address target;
        bytes memory data;
        which = uint8(bound(which, 0, 6));
        if (which == 0) (target, data) = (address(datasets), abi.encodeCall(DatasetRegistry.approveDataset, (runId, "u", "l")));
        else if (which == 1) (target, data) = (address(datasets), abi.encodeCall(DatasetRegistry.revokeDataset, (dataset)));
        else if (which == 2) (target, data) = (address(clusters), abi.encodeCall(ClusterRegistry.admitCluster, (clusterId)));
        else if (which == 3) (target, data) = (address(clusters), abi.encodeCall(ClusterRegistry.removeCluster, (clusterId)));
        else if (which == 4) {
            (target, data) = (address(runs), abi.encodeCall(RunRegistry.approveRun, (runId, dataset, 1 hours, 0, "u")));
        } else if (which == 5) {
            (target, data) = (address(runs), abi.encodeCall(RunRegistry.cancelRun, (runId)));
        } else {
            (target, data) = (address(checkpoints), abi.encodeCall(CheckpointRegistry.releaseCheckpoint, (runId, 0)));
        }
        vm.prank(caller);
        (bool ok,) = target.call(data);
        if (ok) unauthorizedGovernance++;
    }

    /// @dev The DAO itself is among the callers: it too needs OPERATOR_PERMISSION_ID to operate.
    function attackOperations(address caller, uint8 which, uint256 seed) external {
        if (caller == operator) return;
        bytes32 runId = _run(seed);
        address target;
        bytes memory data;
        which = uint8(bound(which, 0, 3));
        if (which == 0) {
            (target, data) = (
                address(checkpoints),
                abi.encodeCall(CheckpointRegistry.commitCheckpoint, (runId, 0, keccak256("forged"), "x", _metrics()))
            );
        } else if (which == 1) {
            (RunRegistry.ComputeRecord[] memory records,) = _batch(type(uint8).max, 1 hours);
            (target, data) = (address(runs), abi.encodeCall(RunRegistry.recordCompute, (runId, 0, records)));
        } else if (which == 2) {
            (target, data) = (address(runs), abi.encodeCall(RunRegistry.completeRun, (runId)));
        } else {
            (target, data) = (address(runs), abi.encodeCall(RunRegistry.failRun, (runId, "forged")));
        }
        vm.prank(seed % 4 == 0 ? address(dao) : caller);
        (bool ok,) = target.call(data);
        if (ok) unauthorizedOperations++;
    }

    // ---- reads for the invariants ----

    function committedCount() external view returns (uint256) {
        return committed.length;
    }

    function totalEarned(address account) public view returns (uint256 sum) {
        for (uint256 i = 0; i < runIds.length; i++) {
            sum += runs.earned(runIds[i], account);
        }
    }

    function _batch(uint8 clusterMask, uint64 gpuSeconds)
        internal
        view
        returns (RunRegistry.ComputeRecord[] memory records, bool anyUnadmitted)
    {
        if (clusterMask & ((1 << clusterIds.length) - 1) == 0) clusterMask = 1;
        uint256 count;
        for (uint256 i = 0; i < clusterIds.length; i++) {
            if (clusterMask & (1 << i) != 0) count++;
        }
        records = new RunRegistry.ComputeRecord[](count);
        uint256 next;
        for (uint256 i = 0; i < clusterIds.length; i++) {
            if (clusterMask & (1 << i) == 0) continue;
            records[next++] = RunRegistry.ComputeRecord({clusterId: clusterIds[i], gpuSeconds: gpuSeconds});
            if (!clusters.isAdmitted(clusterIds[i])) anyUnadmitted = true;
        }
    }

    /// @dev One of the runs approved so far (whatever its status now), or any run before the first.
    function _run(uint256 seed) internal view returns (bytes32) {
        uint256 pool = daoApprovedRuns == 0 ? runIds.length : daoApprovedRuns;
        return runIds[seed % pool];
    }

    function _cluster(uint256 seed) internal view returns (bytes32) {
        return clusterIds[seed % clusterIds.length];
    }

    function _metrics() internal pure returns (CheckpointRegistry.Metrics memory) {
        return CheckpointRegistry.Metrics({loss: 1e9, valLoss: 1e9, tokens: 1, steps: 1});
    }
}
