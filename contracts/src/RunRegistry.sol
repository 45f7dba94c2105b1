// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IDAO} from "@aragon/osx-commons-contracts/src/dao/IDAO.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ClusterRegistry} from "./ClusterRegistry.sol";
import {DaoOperated} from "./DaoGoverned.sol";
import {DatasetRegistry} from "./DatasetRegistry.sol";
import {
    ClusterNotAdmitted,
    ComputeRecordsUnsorted,
    DatasetNotApproved,
    EscrowExhausted,
    GpuBudgetExceeded,
    InvalidRunLimits,
    NothingToClaim,
    ReasonRequired,
    RoundComputeExceeded,
    RoundOutOfRange,
    RunAlreadyExists,
    RunNotApproved,
    ZeroId
} from "./Errors.sol";

/// @notice Training runs the DAO approved, each with its own escrow in one ERC-20, and the compute
/// ledger that pays contributors from it.
///
/// Accounting per run: `funded` is pulled from the DAO on approval; the operator's records move
/// value from uncommitted (`funded - credited`) to owed (`credited - paid`); claims pay owed value
/// out; completion, cancellation or failure refunds the uncommitted rest to the DAO. Hence always
/// `paid + refunded + escrowBalance == funded` and `paid <= credited <= funded`.
///
/// Compute is credited only through `creditRound`, which the DAO lets the CheckpointRegistry call
/// (CREDIT_PERMISSION_ID), so a round's credits land in the same transaction as its root. The run's
/// limits bound what the operator can credit: rounds 1..`rounds` only, and per round at most
/// `replicasPerRound × gpusPerReplica × roundDeadlineSeconds` GPU-seconds.
contract RunRegistry is DaoOperated {
    using SafeERC20 for IERC20;

    /// @notice Granted by the DAO on this registry to the CheckpointRegistry alone: it credits a
    /// round's compute as part of the round's commit.
    bytes32 public constant CREDIT_PERMISSION_ID = keccak256("DAOTRAIN_CREDIT_PERMISSION");

    uint256 private constant SECONDS_PER_HOUR = 3600;

    enum RunStatus {
        None,
        Approved,
        Completed,
        Cancelled,
        Failed
    }

    /// @notice What the DAO approved the operator to do in a run, from the run spec.
    struct RunLimits {
        /// @dev Rounds count from 1; no round above this is committed or credited.
        uint32 rounds;
        uint32 replicasPerRound;
        uint32 gpusPerReplica;
        /// @dev The longest a replica may run in a round before it is dropped.
        uint32 roundDeadlineSeconds;
    }

    struct Run {
        bytes32 datasetRoot;
        RunStatus status;
        uint64 gpuSecondsBudget;
        uint64 gpuSecondsRecorded;
        uint64 approvedAt;
        RunLimits limits;
        uint256 rewardPerGpuHour;
        uint256 funded;
        uint256 credited;
        uint256 paid;
        uint256 refunded;
        string specUri;
    }

    /// @notice One cluster's verified work in a round.
    struct ComputeRecord {
        bytes32 clusterId;
        uint64 gpuSeconds;
    }

    IERC20 public immutable rewardToken;
    DatasetRegistry public immutable datasetRegistry;
    ClusterRegistry public immutable clusterRegistry;

    mapping(bytes32 runId => Run) private _runs;
    mapping(bytes32 runId => mapping(uint64 round => uint64)) private _roundGpuSeconds;
    mapping(bytes32 runId => mapping(address account => uint256)) private _earned;
    mapping(bytes32 runId => mapping(address account => uint256)) private _claimed;

    event RunApproved(
        bytes32 indexed runId,
        bytes32 indexed datasetRoot,
        uint64 gpuSecondsBudget,
        uint256 rewardPerGpuHour,
        uint256 escrow,
        RunLimits limits,
        string specUri
    );
    event RunCompleted(bytes32 indexed runId, uint256 refunded);
    /// @notice The DAO cancelled the run by proposal.
    event RunCancelled(bytes32 indexed runId, uint256 refunded);
    /// @notice The operator stopped the run on request (`daotrain run cancel`), with the reason.
    event RunCancelledByOperator(bytes32 indexed runId, uint256 refunded, string reason);
    event RunFailed(bytes32 indexed runId, uint256 refunded, string reason);
    event ComputeRecorded(
        bytes32 indexed runId,
        uint64 indexed round,
        bytes32 indexed clusterId,
        address contributor,
        uint64 gpuSeconds,
        uint256 reward
    );
    event RewardClaimed(bytes32 indexed runId, address indexed contributor, uint256 amount);

    constructor(IDAO dao_, IERC20 rewardToken_, DatasetRegistry datasets_, ClusterRegistry clusters_)
        DaoOperated(dao_)
    {
        rewardToken = rewardToken_;
        datasetRegistry = datasets_;
        clusterRegistry = clusters_;
    }

    /// @notice Approves a run and funds its escrow from the caller (the DAO), which must have
    /// approved this contract for `escrowFor(gpuSecondsBudget, rewardPerGpuHour)` tokens in an
    /// earlier action of the same proposal.
    /// @param runId The sha256 of the run spec's canonical JSON.
    /// @param gpuSecondsBudget The spec's GPU-hour budget × 3600, rounded to whole seconds.
    /// @param limits The spec's rounds, replicasPerRound, gpusPerReplica and roundDeadlineSeconds.
    function approveRun(
        bytes32 runId,
        bytes32 datasetRoot,
        uint64 gpuSecondsBudget,
        uint256 rewardPerGpuHour,
        RunLimits calldata limits,
        string calldata specUri
    ) external auth(GOVERNANCE_PERMISSION_ID) {
        if (runId == bytes32(0)) revert ZeroId();
        if (_runs[runId].status != RunStatus.None) revert RunAlreadyExists(runId);
        if (!datasetRegistry.isDatasetApproved(datasetRoot)) revert DatasetNotApproved(datasetRoot);
        if (limits.rounds == 0 || limits.replicasPerRound == 0 || limits.roundDeadlineSeconds == 0) {
            revert InvalidRunLimits(runId);
        }
        uint256 escrow = escrowFor(gpuSecondsBudget, rewardPerGpuHour);
        Run storage run = _runs[runId];
        run.datasetRoot = datasetRoot;
        run.status = RunStatus.Approved;
        run.gpuSecondsBudget = gpuSecondsBudget;
        run.approvedAt = uint64(block.timestamp);
        run.limits = limits;
        run.rewardPerGpuHour = rewardPerGpuHour;
        run.funded = escrow;
        run.specUri = specUri;
        emit RunApproved(runId, datasetRoot, gpuSecondsBudget, rewardPerGpuHour, escrow, limits, specUri);
        rewardToken.safeTransferFrom(_msgSender(), address(this), escrow);
    }

    /// @notice Stops a run; what no contributor has been credited yet goes back to the DAO,
    /// and credited rewards stay claimable.
    function cancelRun(bytes32 runId) external auth(GOVERNANCE_PERMISSION_ID) {
        uint256 refund = _close(runId, RunStatus.Cancelled);
        emit RunCancelled(runId, refund);
    }

    /// @notice The orchestrator closes a run after its last round; the unspent escrow returns to the DAO.
    function completeRun(bytes32 runId) external auth(OPERATOR_PERMISSION_ID) {
        uint256 refund = _close(runId, RunStatus.Completed);
        emit RunCompleted(runId, refund);
    }

    /// @notice The orchestrator closes a run that cannot go on (a round short of its quorum); the
    /// unspent escrow returns to the DAO and credited rewards stay claimable, as on completion.
    /// @param reason Why the run failed, for the DAO and contributors; only in the event, not stored.
    function failRun(bytes32 runId, string calldata reason) external auth(OPERATOR_PERMISSION_ID) {
        if (bytes(reason).length == 0) revert ReasonRequired(runId);
        uint256 refund = _close(runId, RunStatus.Failed);
        emit RunFailed(runId, refund, reason);
    }

    /// @notice The orchestrator stops a run it was asked to stop (not by the DAO: `daotrain run
    /// cancel`); the run ends Cancelled, refunding as a DAO cancellation does.
    /// @param reason Who asked and why; only in the event, not stored.
    function cancelRunAsOperator(bytes32 runId, string calldata reason) external auth(OPERATOR_PERMISSION_ID) {
        if (bytes(reason).length == 0) revert ReasonRequired(runId);
        uint256 refund = _close(runId, RunStatus.Cancelled);
        emit RunCancelledByOperator(runId, refund, reason);
    }

    /// @notice Credits each cluster's owner with `gpuSeconds × rewardPerGpuHour / 3600` for a
    /// committed round; only the CheckpointRegistry calls it, inside `commitRound`. All records
    /// apply or none: a round outside 1..rounds, a cluster that is not admitted or named twice
    /// (records go in strictly ascending cluster id order), or a total beyond the round's limit,
    /// the run's GPU budget or its escrow reverts the whole call (and so the commit).
    function creditRound(bytes32 runId, uint64 round, ComputeRecord[] calldata records)
        external
        auth(CREDIT_PERMISSION_ID)
    {
        Run storage run = _approved(runId);
        uint64 rounds = run.limits.rounds;
        if (round == 0 || round > rounds) revert RoundOutOfRange(runId, round, rounds);
        uint256 roundTotal = _roundGpuSeconds[runId][round];
        for (uint256 i = 0; i < records.length; i++) {
            if (i > 0 && records[i].clusterId <= records[i - 1].clusterId) {
                revert ComputeRecordsUnsorted(runId, round, i);
            }
            roundTotal += records[i].gpuSeconds;
            _record(run, runId, round, records[i]);
        }
        uint256 roundLimit = maxGpuSecondsPerRound(runId);
        if (roundTotal > roundLimit) {
            uint256 before = _roundGpuSeconds[runId][round];
            revert RoundComputeExceeded(runId, round, roundTotal - before, roundLimit - before);
        }
        // casting to 'uint64' is safe because every record fitted the run's uint64 GPU budget,
        // which all of its rounds share.
        // forge-lint: disable-next-line(unsafe-typecast)
        _roundGpuSeconds[runId][round] = uint64(roundTotal);
    }

    /// @notice Pays the caller everything the ledger owes them in this run.
    function claim(bytes32 runId) external returns (uint256 amount) {
        address account = _msgSender();
        amount = claimable(runId, account);
        if (amount == 0) revert NothingToClaim(runId, account);
        _claimed[runId][account] += amount;
        _runs[runId].paid += amount;
        rewardToken.safeTransfer(account, amount);
        emit RewardClaimed(runId, account, amount);
    }

    function getRun(bytes32 runId) external view returns (Run memory) {
        return _runs[runId];
    }

    function runStatus(bytes32 runId) external view returns (RunStatus) {
        return _runs[runId].status;
    }

    /// @notice Tokens this contract holds for the run: owed to contributors plus still uncommitted.
    function escrowBalance(bytes32 runId) external view returns (uint256) {
        Run storage run = _runs[runId];
        return run.funded - run.paid - run.refunded;
    }

    function earned(bytes32 runId, address account) external view returns (uint256) {
        return _earned[runId][account];
    }

    function claimed(bytes32 runId, address account) external view returns (uint256) {
        return _claimed[runId][account];
    }

    function claimable(bytes32 runId, address account) public view returns (uint256) {
        return _earned[runId][account] - _claimed[runId][account];
    }

    /// @notice GPU-seconds credited for this round of the run (0 before its commit).
    function roundGpuSeconds(bytes32 runId, uint64 round) external view returns (uint64) {
        return _roundGpuSeconds[runId][round];
    }

    /// @notice The most GPU-seconds one round of the run may credit: every replica on its GPUs
    /// for the whole round deadline.
    function maxGpuSecondsPerRound(bytes32 runId) public view returns (uint256) {
        RunLimits storage limits = _runs[runId].limits;
        return uint256(limits.replicasPerRound) * limits.gpusPerReplica * limits.roundDeadlineSeconds;
    }

    /// @notice The escrow a run with this budget and rate holds; the amount a proposal approves.
    function escrowFor(uint64 gpuSecondsBudget, uint256 rewardPerGpuHour) public pure returns (uint256) {
        return rewardFor(gpuSecondsBudget, rewardPerGpuHour);
    }

    /// @notice Rounds down, so the sum of a run's rewards never exceeds its escrow.
    function rewardFor(uint64 gpuSeconds, uint256 rewardPerGpuHour) public pure returns (uint256) {
        return (uint256(gpuSeconds) * rewardPerGpuHour) / SECONDS_PER_HOUR;
    }

    function _record(Run storage run, bytes32 runId, uint64 round, ComputeRecord calldata entry) private {
        bytes32 clusterId = entry.clusterId;
        // One call to the immutable cluster registry per record: the round's records are bounded by
        // the operator's own transaction, and a revert there fails only that commit.
        // slither-disable-next-line calls-loop
        address contributor = clusterRegistry.admittedOwnerOf(clusterId);
        if (contributor == address(0)) revert ClusterNotAdmitted(clusterId);
        uint256 gpuSecondsLeft = run.gpuSecondsBudget - run.gpuSecondsRecorded;
        if (entry.gpuSeconds > gpuSecondsLeft) revert GpuBudgetExceeded(runId, entry.gpuSeconds, gpuSecondsLeft);
        uint256 reward = rewardFor(entry.gpuSeconds, run.rewardPerGpuHour);
        uint256 available = run.funded - run.credited;
        if (reward > available) revert EscrowExhausted(runId, reward, available);

        run.gpuSecondsRecorded += entry.gpuSeconds;
        run.credited += reward;
        _earned[runId][contributor] += reward;
        emit ComputeRecorded(runId, round, clusterId, contributor, entry.gpuSeconds, reward);
    }

    function _close(bytes32 runId, RunStatus status) private returns (uint256 refund) {
        Run storage run = _approved(runId);
        run.status = status;
        refund = run.funded - run.credited;
        run.refunded = refund;
        rewardToken.safeTransfer(address(dao()), refund);
    }

    function _approved(bytes32 runId) private view returns (Run storage run) {
        run = _runs[runId];
        if (run.status != RunStatus.Approved) revert RunNotApproved(runId);
    }
}
