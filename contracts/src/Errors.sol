// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

// Errors shared across the registries, so a client decodes one name whichever contract reverted.
// Unauthorized calls revert with OSx's `DaoUnauthorized(dao, where, who, permissionId)`.

/// A root, id or run id of zero is never a valid key.
error ZeroId();

/// The dataset root is not (or no longer) approved by the DAO.
error DatasetNotApproved(bytes32 root);
/// The dataset root is already approved; revoke it first to change its uri or license.
error DatasetAlreadyApproved(bytes32 root);

/// The cluster id is taken; cluster ids are never reused, even after removal.
error ClusterAlreadyRegistered(bytes32 clusterId);
/// No cluster is registered under this id.
error ClusterNotRegistered(bytes32 clusterId);
/// The cluster is not admitted (pending, suspended or removed), so it cannot earn rewards.
error ClusterNotAdmitted(bytes32 clusterId);
/// The DAO admitted a cluster id for an owner that is not the one who registered it (squatting).
error ClusterOwnerMismatch(bytes32 clusterId, address expected, address registered);
/// The DAO asked for a status change the cluster's current status does not allow.
error InvalidClusterTransition(bytes32 clusterId, uint8 from, uint8 to);
/// Only the cluster's owner may change its registration.
error NotClusterOwner(bytes32 clusterId, address caller);

/// A run with this id (spec hash) was already approved once; ids are never reused.
error RunAlreadyExists(bytes32 runId);
/// The run is not in the approved (active) state: unknown, completed, cancelled or failed.
error RunNotApproved(bytes32 runId);
/// A run's limits must allow work: at least one round, one replica per round, one second per round.
error InvalidRunLimits(bytes32 runId);
/// The operator fails or cancels a run with the reason it stopped; an empty reason says nothing.
error ReasonRequired(bytes32 runId);
/// Rounds count from 1 to the run's `rounds`; round 0 (the initial checkpoint) is never committed.
error RoundOutOfRange(bytes32 runId, uint64 round, uint64 rounds);
/// A round's compute may not exceed replicasPerRound × gpusPerReplica × roundDeadlineSeconds.
error RoundComputeExceeded(bytes32 runId, uint64 round, uint256 requested, uint256 remaining);
/// A round's compute records name each cluster once, in strictly ascending id order.
error ComputeRecordsUnsorted(bytes32 runId, uint64 round, uint256 index);
/// Recording these GPU-seconds would exceed the run's GPU budget.
error GpuBudgetExceeded(bytes32 runId, uint256 requested, uint256 remaining);
/// Crediting this reward would exceed what the run's escrow holds uncommitted.
error EscrowExhausted(bytes32 runId, uint256 requested, uint256 available);
/// The account has no unclaimed reward in this run.
error NothingToClaim(bytes32 runId, address account);

/// A checkpoint for this (run, round) is already committed; commits are final.
error AlreadyCommitted(bytes32 runId, uint64 round);
/// No checkpoint is committed for this (run, round).
error NotCommitted(bytes32 runId, uint64 round);
/// The checkpoint for this (run, round) is already released.
error AlreadyReleased(bytes32 runId, uint64 round);
/// The checkpoint for this (run, round) is not released, so it may not be published.
error NotReleased(bytes32 runId, uint64 round);

/// The root named is not the one committed for this (run, round).
error RootMismatch(bytes32 runId, uint64 round, bytes32 committed, bytes32 given);
/// This verifier already attested or disputed this round; a verifier's verdict is final.
error AlreadyVerified(bytes32 runId, uint64 round, address verifier);
/// A dispute must point at its evidence (a URI the DAO can read).
error EvidenceRequired(bytes32 runId, uint64 round);
/// A dispute on this round is open: it cannot be released until the DAO resolves it.
error RoundUnderDispute(bytes32 runId, uint64 round);
/// The DAO upheld a dispute on this round: it can never be released.
error RoundRejected(bytes32 runId, uint64 round);
/// There is no open dispute on this round to resolve.
error NoOpenDispute(bytes32 runId, uint64 round);
/// Fewer current verifiers attested this round than the DAO's attestation quorum.
error AttestationQuorumNotMet(bytes32 runId, uint64 round, uint256 attestations, uint256 quorum);
