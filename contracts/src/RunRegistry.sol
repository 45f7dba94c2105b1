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
    ComputeAlreadyRecorded,
    DatasetNotApproved,
    EscrowExhausted,
    FailureReasonRequired,
    GpuBudgetExceeded,
    NothingToClaim,
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
contract RunRegistry is DaoOperated {
    using SafeERC20 for IERC20;

    uint256 private constant SECONDS_PER_HOUR = 3600;

    enum RunStatus {
        None,
        Approved,
        Completed,
        Cancelled,
        Failed
    }

    struct Run {
        bytes32 datasetRoot;
        RunStatus status;
        uint64 gpuSecondsBudget;
        uint64 gpuSecondsRecorded;
        uint64 approvedAt;
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
    mapping(bytes32 runId => mapping(uint64 round => mapping(bytes32 clusterId => bool))) private _recorded;
    mapping(bytes32 runId => mapping(address account => uint256)) private _earned;
    mapping(bytes32 runId => mapping(address account => uint256)) private _claimed;

    event RunApproved(
        bytes32 indexed runId,
        bytes32 indexed datasetRoot,
        uint64 gpuSecondsBudget,
        uint256 rewardPerGpuHour,
        uint256 escrow,
        string specUri
    );
    event RunCompleted(bytes32 indexed runId, uint256 refunded);
    event RunCancelled(bytes32 indexed runId, uint256 refunded);
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
    function approveRun(
        bytes32 runId,
        bytes32 datasetRoot,
        uint64 gpuSecondsBudget,
        uint256 rewardPerGpuHour,
        string calldata specUri
    ) external auth(GOVERNANCE_PERMISSION_ID) {
        if (runId == bytes32(0)) revert ZeroId();
        if (_runs[runId].status != RunStatus.None) revert RunAlreadyExists(runId);
        if (!datasetRegistry.isDatasetApproved(datasetRoot)) revert DatasetNotApproved(datasetRoot);
        uint256 escrow = escrowFor(gpuSecondsBudget, rewardPerGpuHour);
        Run storage run = _runs[runId];
        run.datasetRoot = datasetRoot;
        run.status = RunStatus.Approved;
        run.gpuSecondsBudget = gpuSecondsBudget;
        run.approvedAt = uint64(block.timestamp);
        run.rewardPerGpuHour = rewardPerGpuHour;
        run.funded = escrow;
        run.specUri = specUri;
        rewardToken.safeTransferFrom(_msgSender(), address(this), escrow);
        emit RunApproved(runId, datasetRoot, gpuSecondsBudget, rewardPerGpuHour, escrow, specUri);
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
        if (bytes(reason).length == 0) revert FailureReasonRequired(runId);
        uint256 refund = _close(runId, RunStatus.Failed);
        emit RunFailed(runId, refund, reason);
    }

    /// @notice Credits each cluster's owner with `gpuSeconds × rewardPerGpuHour / 3600` for a round.
    /// All records apply or none: a record for a cluster that is not admitted, a repeated
    /// (run, round, cluster), or one beyond the budget or escrow reverts the whole call.
    function recordCompute(bytes32 runId, uint64 round, ComputeRecord[] calldata records)
        external
        auth(OPERATOR_PERMISSION_ID)
    {
        Run storage run = _approved(runId);
        for (uint256 i = 0; i < records.length; i++) {
            _record(run, runId, round, records[i]);
        }
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

    function computeRecorded(bytes32 runId, uint64 round, bytes32 clusterId) external view returns (bool) {
        return _recorded[runId][round][clusterId];
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
        if (_recorded[runId][round][clusterId]) revert ComputeAlreadyRecorded(runId, round, clusterId);
        if (!clusterRegistry.isAdmitted(clusterId)) revert ClusterNotAdmitted(clusterId);
        uint256 gpuSecondsLeft = run.gpuSecondsBudget - run.gpuSecondsRecorded;
        if (entry.gpuSeconds > gpuSecondsLeft) revert GpuBudgetExceeded(runId, entry.gpuSeconds, gpuSecondsLeft);
        uint256 reward = rewardFor(entry.gpuSeconds, run.rewardPerGpuHour);
        uint256 available = run.funded - run.credited;
        if (reward > available) revert EscrowExhausted(runId, reward, available);

        address contributor = clusterRegistry.ownerOf(clusterId);
        _recorded[runId][round][clusterId] = true;
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
