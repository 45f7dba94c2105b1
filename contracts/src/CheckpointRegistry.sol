// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IDAO} from "@aragon/osx-commons-contracts/src/dao/IDAO.sol";
import {DaoOperated} from "./DaoGoverned.sol";
import {
    AlreadyCommitted,
    AlreadyReleased,
    AlreadyVerified,
    AttestationQuorumNotMet,
    EvidenceRequired,
    NoOpenDispute,
    NotCommitted,
    NotReleased,
    RootMismatch,
    RoundRejected,
    RoundUnderDispute,
    ZeroId
} from "./Errors.sol";
import {RunRegistry} from "./RunRegistry.sol";

/// @notice The global checkpoint of every (run, round): the operator commits its Merkle root, its
/// round record's hash and its compute credits in one call, verifiers the DAO appointed attest or
/// dispute it, the DAO releases it for public download once enough of them attested and no dispute
/// is open, and the operator records where it was published.
///
/// Attestations count at release time, and only those of addresses that still hold
/// VERIFIER_PERMISSION_ID: revoking a verifier (say, one found attesting without auditing) withdraws
/// its attestations from every round not yet released, and a new attestation from another verifier
/// is needed. A release already made stands. A dispute stays open until the DAO resolves it, even if
/// its verifier is revoked meanwhile (the revoking proposal can dismiss it in the same vote).
contract CheckpointRegistry is DaoOperated {
    /// @notice Granted by the DAO on this registry to each verifier it appoints.
    bytes32 public constant VERIFIER_PERMISSION_ID = keccak256("DAOTRAIN_VERIFIER_PERMISSION");

    /// @notice loss and valLoss are fixed point with this many units per 1.0.
    uint64 public constant METRICS_SCALE = 1e9;

    struct Metrics {
        uint64 loss;
        uint64 valLoss;
        uint64 tokens;
        uint64 steps;
    }

    /// @notice None → Open (a verifier disputes) → Upheld (final: never released) or Dismissed
    /// (releasable again; another verifier may open it again).
    enum DisputeState {
        None,
        Open,
        Upheld,
        Dismissed
    }

    /// @notice A verifier's one verdict on a round.
    enum Verdict {
        None,
        Attested,
        Disputed
    }

    struct Checkpoint {
        bytes32 root;
        /// @dev sha256 of the round record's canonical JSON: everything needed to redo the round.
        bytes32 recordHash;
        uint64 committedAt;
        bool released;
        DisputeState dispute;
        Metrics metrics;
        string manifestUri;
        /// @dev Where the public store serves the released checkpoint; empty until published.
        string publishedManifestUri;
    }

    /// @dev `exists` distinguishes "no round yet" from a round number.
    struct LatestRound {
        bool exists;
        uint64 round;
    }

    RunRegistry public immutable runRegistry;

    /// @notice How many current verifiers must attest a round before the DAO can release it; 0
    /// (the initial value) releases without attestations, for a DAO that has appointed none yet.
    uint32 public attestationQuorum;

    mapping(bytes32 runId => mapping(uint64 round => Checkpoint)) private _checkpoints;
    mapping(bytes32 runId => mapping(uint64 round => address[])) private _attesters;
    mapping(bytes32 runId => mapping(uint64 round => mapping(address verifier => Verdict))) private _verdicts;
    mapping(bytes32 runId => LatestRound) private _latestCommitted;
    mapping(bytes32 runId => LatestRound) private _latestReleased;
    mapping(bytes32 runId => uint64[]) private _releasedRounds;

    event CheckpointCommitted(
        bytes32 indexed runId,
        uint64 indexed round,
        bytes32 root,
        string manifestUri,
        bytes32 recordHash,
        Metrics metrics
    );
    event CheckpointReleased(bytes32 indexed runId, uint64 indexed round, bytes32 root, string manifestUri);
    event CheckpointPublished(bytes32 indexed runId, uint64 indexed round, bytes32 root, string publishedManifestUri);
    event RoundAttested(bytes32 indexed runId, uint64 indexed round, address indexed verifier, bytes32 root);
    event DisputeOpened(
        bytes32 indexed runId, uint64 indexed round, address indexed verifier, bytes32 root, string evidenceUri
    );
    event DisputeResolved(bytes32 indexed runId, uint64 indexed round, bool upheld);
    event AttestationQuorumSet(uint32 quorum);

    constructor(IDAO dao_, RunRegistry runs_) DaoOperated(dao_) {
        runRegistry = runs_;
    }

    /// @notice Commits a round: its global checkpoint's root, the hash of its round record, and the
    /// GPU-seconds each accepted cluster is credited, all in this one call (no cancellation can
    /// land between a root and its payment). Once per (run, round): a second commit reverts with
    /// AlreadyCommitted, whatever its root. RunRegistry.creditRound checks the run is approved, the
    /// round is within its rounds and the credits within its limits.
    /// @param records In strictly ascending cluster id order; may be empty.
    function commitRound(
        bytes32 runId,
        uint64 round,
        bytes32 root,
        string calldata manifestUri,
        bytes32 recordHash,
        Metrics calldata metrics,
        RunRegistry.ComputeRecord[] calldata records
    ) external auth(OPERATOR_PERMISSION_ID) {
        if (root == bytes32(0) || recordHash == bytes32(0)) revert ZeroId();
        Checkpoint storage checkpoint = _checkpoints[runId][round];
        if (checkpoint.root != bytes32(0)) revert AlreadyCommitted(runId, round);
        checkpoint.root = root;
        checkpoint.recordHash = recordHash;
        checkpoint.committedAt = uint64(block.timestamp);
        checkpoint.metrics = metrics;
        checkpoint.manifestUri = manifestUri;
        _advance(_latestCommitted[runId], round);
        emit CheckpointCommitted(runId, round, root, manifestUri, recordHash, metrics);
        runRegistry.creditRound(runId, round, records);
    }

    /// @notice A verifier attests that it redid the round and got the committed root.
    function attestRound(bytes32 runId, uint64 round, bytes32 root) external auth(VERIFIER_PERMISSION_ID) {
        _judge(runId, round, root, Verdict.Attested);
        _attesters[runId][round].push(_msgSender());
        emit RoundAttested(runId, round, _msgSender(), root);
    }

    /// @notice A verifier disputes the committed root, pointing at its evidence; the round cannot
    /// be released until the DAO resolves the dispute. A released or rejected round cannot be disputed.
    function disputeRound(bytes32 runId, uint64 round, bytes32 root, string calldata evidenceUri)
        external
        auth(VERIFIER_PERMISSION_ID)
    {
        if (bytes(evidenceUri).length == 0) revert EvidenceRequired(runId, round);
        Checkpoint storage checkpoint = _judge(runId, round, root, Verdict.Disputed);
        if (checkpoint.released) revert AlreadyReleased(runId, round);
        if (checkpoint.dispute == DisputeState.Upheld) revert RoundRejected(runId, round);
        checkpoint.dispute = DisputeState.Open;
        emit DisputeOpened(runId, round, _msgSender(), root, evidenceUri);
    }

    /// @notice The DAO resolves an open dispute: upheld, the round can never be released; dismissed,
    /// it can be released again (given its attestations).
    function resolveDispute(bytes32 runId, uint64 round, bool upheld) external auth(GOVERNANCE_PERMISSION_ID) {
        Checkpoint storage checkpoint = _committed(runId, round);
        if (checkpoint.dispute != DisputeState.Open) revert NoOpenDispute(runId, round);
        checkpoint.dispute = upheld ? DisputeState.Upheld : DisputeState.Dismissed;
        emit DisputeResolved(runId, round, upheld);
    }

    /// @notice How many current verifiers must attest a round before it can be released.
    function setAttestationQuorum(uint32 quorum) external auth(GOVERNANCE_PERMISSION_ID) {
        attestationQuorum = quorum;
        emit AttestationQuorumSet(quorum);
    }

    /// @notice Releases a committed round for public download: it needs `attestationQuorum`
    /// attestations from current verifiers and no open or upheld dispute. Allowed after the run
    /// completed or was cancelled: a committed checkpoint stays valid.
    function releaseCheckpoint(bytes32 runId, uint64 round) external auth(GOVERNANCE_PERMISSION_ID) {
        Checkpoint storage checkpoint = _committed(runId, round);
        if (checkpoint.released) revert AlreadyReleased(runId, round);
        if (checkpoint.dispute == DisputeState.Open) revert RoundUnderDispute(runId, round);
        if (checkpoint.dispute == DisputeState.Upheld) revert RoundRejected(runId, round);
        uint256 quorum = attestationQuorum;
        uint256 attestations = _currentAttestations(runId, round, quorum);
        if (attestations < quorum) revert AttestationQuorumNotMet(runId, round, attestations, quorum);
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
        // A root compared, not a time: Slither's timestamp heuristics misread it.
        // slither-disable-next-line timestamp
        return _checkpoints[runId][round].root != bytes32(0);
    }

    /// @notice Attestations of this round that count now: those of current verifiers.
    function attestationCount(bytes32 runId, uint64 round) external view returns (uint256) {
        return _currentAttestations(runId, round, type(uint256).max);
    }

    /// @notice Everyone who attested this round, in order, revoked verifiers included.
    function attesters(bytes32 runId, uint64 round) external view returns (address[] memory) {
        return _attesters[runId][round];
    }

    /// @notice The verdict this verifier gave on the round, if any: how a restarted verifier knows
    /// it already judged.
    function verdictOf(bytes32 runId, uint64 round, address verifier) external view returns (Verdict) {
        return _verdicts[runId][round][verifier];
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

    /// @dev Records the caller's one verdict on the committed `root` of (run, round).
    function _judge(bytes32 runId, uint64 round, bytes32 root, Verdict verdict)
        private
        returns (Checkpoint storage checkpoint)
    {
        checkpoint = _committed(runId, round);
        if (checkpoint.root != root) revert RootMismatch(runId, round, checkpoint.root, root);
        address verifier = _msgSender();
        if (_verdicts[runId][round][verifier] != Verdict.None) revert AlreadyVerified(runId, round, verifier);
        _verdicts[runId][round][verifier] = verdict;
    }

    /// @dev Counts attesters that still hold VERIFIER_PERMISSION_ID, stopping once `enough` are found.
    function _currentAttestations(bytes32 runId, uint64 round, uint256 enough) private view returns (uint256 count) {
        address[] storage all = _attesters[runId][round];
        IDAO governingDao = dao();
        for (uint256 i = 0; i < all.length && count < enough; i++) {
            // Only verifiers the DAO appointed can be in `all`, and the DAO is the trusted permission
            // manager; a release stops asking once it has its quorum.
            // slither-disable-next-line calls-loop
            if (governingDao.hasPermission(address(this), all[i], VERIFIER_PERMISSION_ID, "")) count++;
        }
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
