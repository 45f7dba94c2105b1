/** What to do about each named error the daotrain and OSx contracts revert with. */
const hints: Record<string, string> = {
  DaoUnauthorized:
    "the caller lacks the DAO permission this function needs; governance functions run only through an executed proposal, operator functions only from the address the DAO granted OPERATOR_PERMISSION",
  ZeroId: "a root, id or run id of zero is never valid",
  DatasetNotApproved: "propose the dataset first with `daotrain propose dataset`",
  DatasetAlreadyApproved: "the dataset is approved already; revoke it first to change its uri or license",
  ClusterAlreadyRegistered: "cluster ids are never reused; register under a new id",
  ClusterNotRegistered: "register the cluster first with registerCluster",
  ClusterNotAdmitted:
    "the cluster must be admitted by the DAO (`daotrain propose cluster admit`) to earn rewards",
  InvalidClusterTransition:
    "admit works from registered, suspended or admitted (to approve a raised capacity), suspend from admitted; removal is final",
  ClusterOwnerMismatch:
    "the cluster id was registered by another address than the one the proposal admits; check who registered it (`daotrain cluster status`) before proposing",
  NotClusterOwner: "only the cluster's owner may change its registration",
  RunAlreadyExists: "run ids are spec hashes and are never reused; change the spec to propose a new run",
  RunNotApproved: "the run is unknown, completed, cancelled or failed",
  InvalidRunLimits:
    "a run needs at least one round, one replica per round and a round deadline of at least a second",
  ReasonRequired: "say why the run stopped; the reason is recorded in the run's event",
  RoundOutOfRange: "rounds count from 1 to the rounds the DAO approved for the run",
  RoundComputeExceeded:
    "a round credits at most replicasPerRound × gpusPerReplica × roundDeadlineSeconds GPU-seconds, as the DAO approved",
  ComputeRecordsUnsorted: "name each cluster once per round, in ascending cluster id order",
  GpuBudgetExceeded: "the run's GPU-hour budget is spent",
  EscrowExhausted: "the run's escrow cannot cover this reward",
  NothingToClaim: "the ledger owes this account nothing in this run",
  AlreadyCommitted: "the checkpoint for this (run, round) is committed and final",
  NotCommitted: "no checkpoint is committed for this (run, round) yet",
  AlreadyReleased: "the checkpoint is released already",
  RootMismatch: "name the root committed for this round (`getCheckpoint`)",
  AlreadyVerified: "this verifier already attested or disputed the round; a verdict is final",
  EvidenceRequired: "a dispute points at its evidence: a URI the DAO can read",
  RoundUnderDispute:
    "a verifier disputes this round; the DAO resolves it first (`daotrain propose dispute <run> <round> uphold|dismiss`)",
  RoundRejected: "the DAO upheld a dispute on this round: it can never be released",
  NoOpenDispute: "no dispute on this round is open",
  AttestationQuorumNotMet:
    "fewer current verifiers attested the round than the DAO's attestation quorum; wait for the verifiers",
  ProposalCreationForbidden:
    "the proposer needs at least the DAO's minimum proposer voting power in the token",
  VoteCastForbidden:
    "the voter had no voting power at the proposal's snapshot block, already voted, or the vote is closed",
  ProposalExecutionForbidden:
    "the proposal has not passed (support, participation) or its vote is still open",
  DateOutOfBounds: "the proposal's start or end date lies outside what the voting settings allow",
  ERC20InsufficientBalance:
    "the sender does not hold enough tokens; the DAO treasury must hold a run's escrow",
};

export function revertHint(errorName: string): string {
  return hints[errorName] ?? "";
}
