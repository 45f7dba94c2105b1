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
/// EXECUTE_PERMISSION, like the voting plugin), the operator's commits, completions, failures and
/// cancellations, owners' claims and capacity reports, verifiers' attestations and disputes, and
/// anyone's attempts at calls they have no permission for. Ghost state records what was observed,
/// for the invariants to compare with what the contracts say.
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

    /// Runs have 1..MAX_ROUND rounds; the operator tries rounds 0..MAX_ROUND + 1.
    uint64 internal constant MAX_ROUND = 7;

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
    address[] public verifiers;
    RunRound[] public committed;

    mapping(bytes32 runId => mapping(uint64 round => bytes32)) public firstRoot;
    mapping(bytes32 runId => uint256) public ghostPaid;
    mapping(bytes32 clusterId => bool) public ghostRemoved;
    mapping(bytes32 clusterId => uint256) public earnedAtRemoval;
    /// The capacity the DAO approved at the cluster's last admission.
    mapping(bytes32 clusterId => uint32) public approvedCapacity;
    mapping(address verifier => bool) public ghostVerifier;
    mapping(bytes32 runId => mapping(uint64 round => address[])) internal _ghostAttesters;
    mapping(bytes32 runId => mapping(uint64 round => CheckpointRegistry.DisputeState)) public ghostDispute;
    uint32 public ghostQuorum;
    uint256 public doubleCommits;
    uint256 public creditsToUnadmitted;
    uint256 public creditsOutOfRange;
    uint256 public creditsOverRoundLimit;
    uint256 public admissionsForAnotherOwner;
    uint256 public releasesWithoutQuorum;
    uint256 public releasesOfDisputedRounds;
    uint256 public acceptedWrongRoots;
    uint256 public unauthorizedGovernance;
    uint256 public unauthorizedOperations;
    uint256 public daoApprovedRuns;
    uint256 public daoReleases;
    uint256 public commits;
    uint256 public claims;
    uint256 public failedRuns;
    uint256 public attestations;
    uint256 public disputes;

    constructor(
        System memory system,
        bytes32[] memory runIds_,
        bytes32[] memory clusterIds_,
        address[] memory verifiers_
    ) {
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
        verifiers = verifiers_;
        for (uint256 i = 0; i < clusterIds_.length; i++) {
            approvedCapacity[clusterIds_[i]] = clusters.getCluster(clusterIds_[i]).admittedGpuCapacity;
        }
    }

    // ---- the DAO's proposals ----

    /// @dev Approves the pool's runs in order, so the other actions find approved runs to act on.
    /// Limits are drawn small enough that the per-round bound is often what stops a commit; the
    /// seed's bytes are rounds, replicas per round and GPUs per replica, then the deadline.
    function approveRun(uint64 gpuSecondsBudget, uint256 rewardPerGpuHour, uint256 limitsSeed) external {
        if (daoApprovedRuns == runIds.length) return;
        bytes32 runId = runIds[daoApprovedRuns];
        gpuSecondsBudget = uint64(bound(gpuSecondsBudget, 10, 500) * 1 hours + gpuSecondsBudget % 1 hours);
        rewardPerGpuHour = bound(rewardPerGpuHour, 0, 50 ether);
        RunRegistry.RunLimits memory limits = RunRegistry.RunLimits({
            rounds: uint32(bound(uint8(limitsSeed), 1, MAX_ROUND)),
            replicasPerRound: uint32(bound(uint8(limitsSeed >> 8), 1, 4)),
            gpusPerReplica: uint32(bound(uint8(limitsSeed >> 16), 0, 8)),
            roundDeadlineSeconds: uint32(bound(uint32(limitsSeed >> 24), 60, 2 hours))
        });
        uint256 escrow = runs.escrowFor(gpuSecondsBudget, rewardPerGpuHour);
        Action[] memory actions = new Action[](2);
        actions[0] = Action({to: address(token), value: 0, data: abi.encodeCall(token.approve, (address(runs), escrow))});
        actions[1] = Action({
            to: address(runs),
            value: 0,
            data: abi.encodeCall(
                RunRegistry.approveRun, (runId, dataset, gpuSecondsBudget, rewardPerGpuHour, limits, "spec")
            )
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

    /// @dev Tries to release a committed, unreleased round: a disputed one of any run first, else
    /// one of the seed's run (searching from the seeds). The ghost state says whether it should
    /// succeed, and a success it should not have had is counted.
    function releaseCheckpoint(uint256 runSeed, uint64 roundSeed) external {
        (bool found, bytes32 runId, uint64 round) = _findRound(runSeed, roundSeed, Wanted.DisputedUnreleased);
        if (!found) (found, runId, round) = _findRound(runSeed, roundSeed, Wanted.Unreleased);
        if (found) _tryRelease(runId, round);
    }

    function _tryRelease(bytes32 runId, uint64 round) internal {
        (bool ok,) = address(dao).call(
            abi.encodeCall(
                dao.execute,
                (
                    keccak256(abi.encode("release", runId, round, daoReleases)),
                    oneAction(address(checkpoints), abi.encodeCall(CheckpointRegistry.releaseCheckpoint, (runId, round))),
                    0
                )
            )
        );
        if (!ok) return;
        daoReleases++;
        if (currentAttestations(runId, round) < ghostQuorum) releasesWithoutQuorum++;
        CheckpointRegistry.DisputeState dispute = ghostDispute[runId][round];
        if (dispute == CheckpointRegistry.DisputeState.Open || dispute == CheckpointRegistry.DisputeState.Upheld) {
            releasesOfDisputedRounds++;
        }
    }

    /// @dev Sometimes names the wrong owner, as a proposal racing a squatter would.
    function admitCluster(uint256 clusterSeed, address claimedOwner) external {
        bytes32 clusterId = _cluster(clusterSeed);
        ClusterRegistry.Cluster memory cluster = clusters.getCluster(clusterId);
        if (cluster.status == ClusterRegistry.ClusterStatus.Removed) return;
        address owner = clusterSeed % 3 == 0 ? claimedOwner : cluster.owner;
        (bool ok,) = address(dao).call(
            abi.encodeCall(
                dao.execute,
                (
                    keccak256(abi.encode("admit", clusterId, owner, block.number, approvedCapacity[clusterId])),
                    oneAction(address(clusters), abi.encodeCall(ClusterRegistry.admitCluster, (clusterId, owner))),
                    0
                )
            )
        );
        if (!ok) return;
        if (owner != cluster.owner) admissionsForAnotherOwner++;
        approvedCapacity[clusterId] = cluster.gpuCapacity;
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

    function appointVerifier(uint256 verifierSeed) external {
        address verifier = _verifier(verifierSeed);
        _grantVerifier(verifier, true);
    }

    /// @dev Weighted down (1 call in 3) so that quorums are often reachable.
    function revokeVerifier(uint256 verifierSeed) external {
        address verifier = _verifier(verifierSeed);
        if (verifierSeed % 3 != 0) return;
        _grantVerifier(verifier, false);
    }

    function setAttestationQuorum(uint32 quorum) external {
        quorum = uint32(bound(quorum, 0, verifiers.length));
        executeAsDao(
            dao, oneAction(address(checkpoints), abi.encodeCall(CheckpointRegistry.setAttestationQuorum, (quorum)))
        );
        ghostQuorum = quorum;
    }

    /// @dev Resolves an open dispute if there is one (searching from the seeds).
    function resolveDispute(uint256 runSeed, uint64 roundSeed, bool upheld) external {
        (bool found, bytes32 runId, uint64 round) = _findRound(runSeed, roundSeed, Wanted.OpenDispute);
        if (!found) return;
        executeAsDao(
            dao,
            oneAction(address(checkpoints), abi.encodeCall(CheckpointRegistry.resolveDispute, (runId, round, upheld)))
        );
        ghostDispute[runId][round] =
            upheld ? CheckpointRegistry.DisputeState.Upheld : CheckpointRegistry.DisputeState.Dismissed;
    }

    // ---- the operator ----

    /// @param clusterMask Which clusters the round credits (bit i = cluster i), so batches mix
    /// admitted, pending, suspended and removed clusters; 0 commits the root with no credits.
    /// @param roundSeed Mostly a round within the run's rounds; 1 in 8 is 0 or beyond them.
    function commitRound(uint256 runSeed, uint64 roundSeed, bytes32 root, uint8 clusterMask, uint64 gpuSeconds)
        external
    {
        bytes32 runId = _run(runSeed);
        uint64 rounds = runs.getRun(runId).limits.rounds;
        uint64 round = roundSeed % 8 == 0
            ? (roundSeed % 16 == 0 ? 0 : rounds + 1)
            : uint64(bound(roundSeed, 1, rounds == 0 ? MAX_ROUND : rounds));
        if (root == bytes32(0)) root = keccak256(abi.encode(runId, round));
        gpuSeconds = uint64(bound(gpuSeconds, 0, 4 hours));
        bool wasCommitted = firstRoot[runId][round] != bytes32(0);
        (RunRegistry.ComputeRecord[] memory records, bool anyUnadmitted, uint256 total) = _batch(clusterMask, gpuSeconds);
        vm.prank(operator);
        (bool ok,) = address(checkpoints).call(
            abi.encodeCall(
                CheckpointRegistry.commitRound,
                (runId, round, root, "manifest", keccak256(abi.encode(root)), _metrics(), records)
            )
        );
        if (!ok) return;
        commits++;
        if (wasCommitted) {
            doubleCommits++;
            return;
        }
        firstRoot[runId][round] = root;
        committed.push(RunRound({runId: runId, round: round}));
        if (total == 0) return;
        if (anyUnadmitted) creditsToUnadmitted++;
        if (round == 0 || round > runs.getRun(runId).limits.rounds) creditsOutOfRange++;
        if (total > runs.maxGpuSecondsPerRound(runId)) creditsOverRoundLimit++;
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

    /// @dev Weighted down like completion (1 call in 4).
    function cancelRunAsOperator(uint256 runSeed) external {
        bytes32 runId = _run(runSeed);
        if (runSeed % 4 != 0 || runs.runStatus(runId) != RunRegistry.RunStatus.Approved) return;
        vm.prank(operator);
        runs.cancelRunAsOperator(runId, "operator: stopped on request");
    }

    // ---- verifiers ----

    /// @param rootSeed 1 in 4 names a root other than the committed one (must never be accepted).
    function attestRound(uint256 verifierSeed, uint256 runSeed, uint64 round, uint8 rootSeed) external {
        _judge(verifierSeed, runSeed, round, rootSeed, false);
    }

    function disputeRound(uint256 verifierSeed, uint256 runSeed, uint64 round, uint8 rootSeed) external {
        _judge(verifierSeed, runSeed, round, rootSeed, true);
    }

    /// @dev Every verifier (appointed or not) that has not judged the round attests its committed
    /// root, so that quorums are reached often enough for releases to test the other rules.
    function attestByAll(uint256 runSeed, uint64 roundSeed) external {
        for (uint256 i = 0; i < verifiers.length; i++) {
            _judge(i, runSeed, roundSeed, 1, false);
        }
    }

    function _judge(uint256 verifierSeed, uint256 runSeed, uint64 roundSeed, uint8 rootSeed, bool dispute) internal {
        (address verifier, bytes32 runId, uint64 round, bytes32 root, bool wrongRoot) =
            _judgement(verifierSeed, runSeed, roundSeed, rootSeed);
        bytes memory call = dispute
            ? abi.encodeCall(CheckpointRegistry.disputeRound, (runId, round, root, "s3://evidence"))
            : abi.encodeCall(CheckpointRegistry.attestRound, (runId, round, root));
        vm.prank(verifier);
        (bool ok,) = address(checkpoints).call(call);
        if (!ok) return;
        if (wrongRoot) acceptedWrongRoots++;
        if (dispute) {
            disputes++;
            ghostDispute[runId][round] = CheckpointRegistry.DisputeState.Open;
        } else {
            attestations++;
            _ghostAttesters[runId][round].push(verifier);
        }
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

    function updateCapacity(uint256 clusterSeed, uint32 capacity) external {
        bytes32 clusterId = _cluster(clusterSeed);
        vm.prank(clusters.ownerOf(clusterId));
        clusters.updateCluster(clusterId, uint32(bound(capacity, 0, 64)), "region=eu");
    }

    // ---- everyone else ----

    function attackGovernance(address caller, uint8 which, uint256 seed) external {
        if (caller == address(dao)) return;
        bytes32 runId = _run(seed);
        bytes32 clusterId = _cluster(seed);
        address target;
        bytes memory data;
        which = uint8(bound(which, 0, 8));
        if (which == 0) {
            (target, data) = (address(datasets), abi.encodeCall(DatasetRegistry.approveDataset, (runId, "u", "l")));
        } else if (which == 1) {
            (target, data) = (address(datasets), abi.encodeCall(DatasetRegistry.revokeDataset, (dataset)));
        } else if (which == 2) {
            (target, data) = (address(clusters), abi.encodeCall(ClusterRegistry.admitCluster, (clusterId, caller)));
        } else if (which == 3) {
            (target, data) = (address(clusters), abi.encodeCall(ClusterRegistry.removeCluster, (clusterId)));
        } else if (which == 4) {
            (target, data) = (
                address(runs),
                abi.encodeCall(
                    RunRegistry.approveRun,
                    (runId, dataset, 1 hours, 0, RunRegistry.RunLimits(1, 1, 1, 1 hours), "u")
                )
            );
        } else if (which == 5) {
            (target, data) = (address(runs), abi.encodeCall(RunRegistry.cancelRun, (runId)));
        } else if (which == 6) {
            (target, data) = (address(checkpoints), abi.encodeCall(CheckpointRegistry.releaseCheckpoint, (runId, 1)));
        } else if (which == 7) {
            (target, data) = (address(checkpoints), abi.encodeCall(CheckpointRegistry.setAttestationQuorum, (0)));
        } else {
            (target, data) = (address(checkpoints), abi.encodeCall(CheckpointRegistry.resolveDispute, (runId, 1, false)));
        }
        vm.prank(caller);
        (bool ok,) = target.call(data);
        if (ok) unauthorizedGovernance++;
    }

    /// @dev The DAO itself is among the callers: it too needs OPERATOR_PERMISSION_ID to operate,
    /// and the operator is among the callers that try to credit compute outside a commit.
    function attackOperations(address caller, uint8 which, uint256 seed) external {
        bytes32 runId = _run(seed);
        address target;
        bytes memory data;
        which = uint8(bound(which, 0, 4));
        (RunRegistry.ComputeRecord[] memory records,,) = _batch(type(uint8).max, 1 hours);
        if (which == 0) {
            (target, data) = (
                address(checkpoints),
                abi.encodeCall(
                    CheckpointRegistry.commitRound,
                    (runId, 1, keccak256("forged"), "x", keccak256("forged"), _metrics(), records)
                )
            );
        } else if (which == 1) {
            (target, data) = (address(runs), abi.encodeCall(RunRegistry.creditRound, (runId, 1, records)));
        } else if (which == 2) {
            (target, data) = (address(runs), abi.encodeCall(RunRegistry.completeRun, (runId)));
        } else if (which == 3) {
            (target, data) = (address(runs), abi.encodeCall(RunRegistry.failRun, (runId, "forged")));
        } else {
            (target, data) = (address(runs), abi.encodeCall(RunRegistry.cancelRunAsOperator, (runId, "forged")));
        }
        // The checkpoint registry is the one caller allowed to credit (inside a commit).
        if (caller == address(checkpoints)) return;
        if (seed % 4 == 0) caller = address(dao);
        else if (seed % 4 == 1 && which == 1) caller = operator;
        else if (caller == operator) return;
        vm.prank(caller);
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

    /// @notice Attestations of the round by addresses the handler last saw appointed.
    function currentAttestations(bytes32 runId, uint64 round) public view returns (uint256 count) {
        address[] storage attesters = _ghostAttesters[runId][round];
        for (uint256 i = 0; i < attesters.length; i++) {
            if (ghostVerifier[attesters[i]]) count++;
        }
    }

    function ghostAttesterCount(bytes32 runId, uint64 round) external view returns (uint256) {
        return _ghostAttesters[runId][round].length;
    }

    function _grantVerifier(address verifier, bool appoint) internal {
        if (ghostVerifier[verifier] == appoint) return;
        bytes32 permission = checkpoints.VERIFIER_PERMISSION_ID();
        bytes memory data = appoint
            ? abi.encodeCall(IOsxDao.grant, (address(checkpoints), verifier, permission))
            : abi.encodeCall(IOsxDao.revoke, (address(checkpoints), verifier, permission));
        executeAsDao(dao, oneAction(address(dao), data));
        ghostVerifier[verifier] = appoint;
    }

    enum Wanted {
        Unreleased,
        DisputedUnreleased,
        OpenDispute
    }

    /// @dev A committed round that is what the caller wants: of the seed's run for an unreleased
    /// one, of any approved run (from the seed's) for a disputed one, searching rounds from the seed.
    function _findRound(uint256 runSeed, uint64 roundSeed, Wanted wanted)
        internal
        view
        returns (bool found, bytes32 runId, uint64 round)
    {
        uint256 pool = wanted == Wanted.Unreleased ? 1 : (daoApprovedRuns == 0 ? 1 : daoApprovedRuns);
        for (uint256 r = 0; r < pool; r++) {
            runId = _run(runSeed % runIds.length + r);
            for (uint64 i = 0; i < MAX_ROUND; i++) {
                round = (roundSeed % MAX_ROUND + i) % MAX_ROUND + 1;
                if (firstRoot[runId][round] == bytes32(0)) continue;
                CheckpointRegistry.DisputeState dispute = ghostDispute[runId][round];
                if (wanted == Wanted.OpenDispute) {
                    if (dispute == CheckpointRegistry.DisputeState.Open) return (true, runId, round);
                    continue;
                }
                if (checkpoints.getCheckpoint(runId, round).released) continue;
                if (wanted == Wanted.Unreleased || dispute != CheckpointRegistry.DisputeState.None) {
                    return (true, runId, round);
                }
            }
        }
        return (false, bytes32(0), 0);
    }

    /// @dev Who judges which round (a committed one if the run has any, searching from the seed),
    /// and the root they name: the committed one, or a wrong one (1 in 4, or no round committed).
    function _judgement(uint256 verifierSeed, uint256 runSeed, uint64 roundSeed, uint8 rootSeed)
        internal
        view
        returns (address verifier, bytes32 runId, uint64 round, bytes32 root, bool wrong)
    {
        verifier = _verifier(verifierSeed);
        runId = _run(runSeed);
        round = uint64(bound(roundSeed, 1, MAX_ROUND));
        for (uint64 i = 0; i < MAX_ROUND && firstRoot[runId][round] == bytes32(0); i++) {
            round = round % MAX_ROUND + 1;
        }
        root = firstRoot[runId][round];
        wrong = rootSeed % 4 == 0 || root == bytes32(0);
        if (wrong) root = keccak256(abi.encode("not the committed root", root));
    }

    /// @dev The masked clusters in ascending id order, as commitRound requires.
    function _batch(uint8 clusterMask, uint64 gpuSeconds)
        internal
        view
        returns (RunRegistry.ComputeRecord[] memory records, bool anyUnadmitted, uint256 total)
    {
        uint256 count;
        for (uint256 i = 0; i < clusterIds.length; i++) {
            if (clusterMask & (1 << i) != 0) count++;
        }
        records = new RunRegistry.ComputeRecord[](count);
        uint256 next;
        for (uint256 i = 0; i < clusterIds.length; i++) {
            if (clusterMask & (1 << i) == 0) continue;
            uint256 at = next++;
            while (at > 0 && records[at - 1].clusterId > clusterIds[i]) {
                records[at] = records[at - 1];
                at--;
            }
            records[at] = RunRegistry.ComputeRecord({clusterId: clusterIds[i], gpuSeconds: gpuSeconds});
            if (!clusters.isAdmitted(clusterIds[i])) anyUnadmitted = true;
            total += gpuSeconds;
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

    function _verifier(uint256 seed) internal view returns (address) {
        return verifiers[seed % verifiers.length];
    }

    function _metrics() internal pure returns (CheckpointRegistry.Metrics memory) {
        return CheckpointRegistry.Metrics({loss: 1e9, valLoss: 1e9, tokens: 1, steps: 1});
    }
}
