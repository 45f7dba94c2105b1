// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IDAO} from "@aragon/osx-commons-contracts/src/dao/IDAO.sol";
import {DaoOperated} from "./DaoGoverned.sol";
import {AlreadyCommitted, AlreadyReleased, NotCommitted, NotReleased, RunNotApproved, ZeroId} from "./Errors.sol";
import {RunRegistry} from "./RunRegistry.sol";

/// @notice The global checkpoint of every (run, round): the operator commits its Merkle root once,
/// the DAO releases it for public download, and the operator records where it was published.
contract CheckpointRegistry is DaoOperated {
    /// @notice loss and valLoss are fixed point with this many units per 1.0.
    uint64 public constant METRICS_SCALE = 1e9;

    struct Metrics {
        uint64 loss;
        uint64 valLoss;
        uint64 tokens;
        uint64 steps;
    }

    struct Checkpoint {
        bytes32 root;
        uint64 committedAt;
        bool released;
        Metrics metrics;
        string manifestUri;
        /// @dev Where the public store serves the released checkpoint; empty until published.
        string publishedManifestUri;
    }

    /// @dev `exists` distinguishes round 0 from "no round yet".
    struct LatestRound {
        bool exists;
        uint64 round;
    }

    RunRegistry public immutable runRegistry;

    mapping(bytes32 runId => mapping(uint64 round => Checkpoint)) private _checkpoints;
    mapping(bytes32 runId => LatestRound) private _latestCommitted;
    mapping(bytes32 runId => LatestRound) private _latestReleased;
    mapping(bytes32 runId => uint64[]) private _releasedRounds;

    event CheckpointCommitted(
        bytes32 indexed runId, uint64 indexed round, bytes32 root, string manifestUri, Metrics metrics
    );
    event CheckpointReleased(bytes32 indexed runId, uint64 indexed round, bytes32 root, string manifestUri);
    event CheckpointPublished(bytes32 indexed runId, uint64 indexed round, bytes32 root, string publishedManifestUri);

    constructor(IDAO dao_, RunRegistry runs_) DaoOperated(dao_) {
        runRegistry = runs_;
    }

    /// @notice Commits a round's global checkpoint; a second commit for the same (run, round)
    /// reverts with AlreadyCommitted, whatever its root.
    function commitCheckpoint(
        bytes32 runId,
        uint64 round,
        bytes32 root,
        string calldata manifestUri,
        Metrics calldata metrics
    ) external auth(OPERATOR_PERMISSION_ID) {
        if (runRegistry.runStatus(runId) != RunRegistry.RunStatus.Approved) revert RunNotApproved(runId);
        if (root == bytes32(0)) revert ZeroId();
        Checkpoint storage checkpoint = _checkpoints[runId][round];
        if (checkpoint.root != bytes32(0)) revert AlreadyCommitted(runId, round);
        checkpoint.root = root;
        checkpoint.committedAt = uint64(block.timestamp);
        checkpoint.metrics = metrics;
        checkpoint.manifestUri = manifestUri;
        _advance(_latestCommitted[runId], round);
        emit CheckpointCommitted(runId, round, root, manifestUri, metrics);
    }

    /// @dev Allowed after the run completed or was cancelled: a committed checkpoint stays valid.
    function releaseCheckpoint(bytes32 runId, uint64 round) external auth(GOVERNANCE_PERMISSION_ID) {
        Checkpoint storage checkpoint = _committed(runId, round);
        if (checkpoint.released) revert AlreadyReleased(runId, round);
        checkpoint.released = true;
        _releasedRounds[runId].push(round);
        _advance(_latestReleased[runId], round);
        emit CheckpointReleased(runId, round, checkpoint.root, checkpoint.manifestUri);
    }

    /// @notice Records where the public store serves a released checkpoint, so that anyone can find
    /// it from the chain alone. The root stays the one committed: a reader verifies against it, so
    /// the operator may move the copy (a new store) without being trusted with its content.
    function recordPublication(bytes32 runId, uint64 round, string calldata publishedManifestUri)
        external
        auth(OPERATOR_PERMISSION_ID)
    {
        Checkpoint storage checkpoint = _committed(runId, round);
        if (!checkpoint.released) revert NotReleased(runId, round);
        checkpoint.publishedManifestUri = publishedManifestUri;
        emit CheckpointPublished(runId, round, checkpoint.root, publishedManifestUri);
    }

    function getCheckpoint(bytes32 runId, uint64 round) external view returns (Checkpoint memory) {
        return _committed(runId, round);
    }

    function isCommitted(bytes32 runId, uint64 round) external view returns (bool) {
        return _checkpoints[runId][round].root != bytes32(0);
    }

    /// @notice The highest committed round of the run, if any.
    function latestRound(bytes32 runId) external view returns (LatestRound memory) {
        return _latestCommitted[runId];
    }

    /// @notice The highest released round of the run, if any: what `daotrain download` fetches.
    function latestReleasedRound(bytes32 runId) external view returns (LatestRound memory) {
        return _latestReleased[runId];
    }

    /// @notice Released rounds in the order the DAO released them.
    function releasedRounds(bytes32 runId) external view returns (uint64[] memory) {
        return _releasedRounds[runId];
    }

    function _committed(bytes32 runId, uint64 round) private view returns (Checkpoint storage checkpoint) {
        checkpoint = _checkpoints[runId][round];
        if (checkpoint.root == bytes32(0)) revert NotCommitted(runId, round);
    }

    function _advance(LatestRound storage latest, uint64 round) private {
        if (!latest.exists || round > latest.round) {
            latest.exists = true;
            latest.round = round;
        }
    }
}
