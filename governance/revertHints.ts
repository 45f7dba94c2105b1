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
    "admit works from registered or suspended, suspend from admitted; removal is final",
  NotClusterOwner: "only the cluster's owner may change its registration",
  RunAlreadyExists: "run ids are spec hashes and are never reused; change the spec to propose a new run",
  RunNotApproved: "the run is unknown, completed or cancelled",
  GpuBudgetExceeded: "the run's GPU-hour budget is spent",
  EscrowExhausted: "the run's escrow cannot cover this reward",
  ComputeAlreadyRecorded: "compute for this (run, round, cluster) is recorded once",
  NothingToClaim: "the ledger owes this account nothing in this run",
  AlreadyCommitted: "the checkpoint for this (run, round) is committed and final",
  NotCommitted: "no checkpoint is committed for this (run, round) yet",
  AlreadyReleased: "the checkpoint is released already",
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
