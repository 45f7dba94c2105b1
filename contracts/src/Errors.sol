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
/// The DAO asked for a status change the cluster's current status does not allow.
error InvalidClusterTransition(bytes32 clusterId, uint8 from, uint8 to);
/// Only the cluster's owner may change its registration.
error NotClusterOwner(bytes32 clusterId, address caller);

/// A run with this id (spec hash) was already approved once; ids are never reused.
error RunAlreadyExists(bytes32 runId);
/// The run is not in the approved (active) state: unknown, completed, cancelled or failed.
error RunNotApproved(bytes32 runId);
/// A run is failed with the reason it could not go on; an empty reason says nothing.
error FailureReasonRequired(bytes32 runId);
/// Recording these GPU-seconds would exceed the run's GPU budget.
error GpuBudgetExceeded(bytes32 runId, uint256 requested, uint256 remaining);
/// Crediting this reward would exceed what the run's escrow holds uncommitted.
error EscrowExhausted(bytes32 runId, uint256 requested, uint256 available);
/// Compute for this (run, round, cluster) was already recorded; each is recorded once.
error ComputeAlreadyRecorded(bytes32 runId, uint64 round, bytes32 clusterId);
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
