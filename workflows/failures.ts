import { ActivityFailure, ApplicationFailure } from "@temporalio/common";

// What a run does when an activity fails for good: pure decisions, so the workflow reads as
// the story and a test can state each case.

/**
 * Reverts a DAO decision can undo, so the run pauses instead of closing: the operator's
 * permission revoked (OSx's DaoUnauthorized; the DAO may grant it again, or cancel the run, which
 * the operator could not close without it) and a cluster suspended while its replicas ran
 * (ClusterNotAdmitted; the DAO may admit it again).
 */
const PAUSING_FAILURES: Readonly<Record<string, string>> = {
  DaoUnauthorized:
    "the worker's key lacks OPERATOR_PERMISSION; the DAO grants it again (`daotrain propose operator <address>`) and the operator resumes (`daotrain run resume`), or the DAO cancels the run (`daotrain propose cancel`)",
  ClusterNotAdmitted:
    "a cluster was suspended while its replicas ran and its compute cannot be recorded; the DAO admits it again and the operator resumes, or the DAO cancels the run",
};

/** The chain no longer holds the run open: the DAO cancelled it, or it was closed meanwhile. */
const RUN_ENDED = "RunNotApproved";

export type FailureReaction =
  /** Wait for `resume` (or a cancel), then play the round again. */
  | { kind: "pause"; reason: string }
  /** Stop: the run is already closed on-chain. */
  | { kind: "ended"; reason: string }
  /** Close the run on-chain as failed with `reason` (the escrow's uncredited rest goes back). */
  | { kind: "close"; reason: string; type: string }
  /** Not an activity's final failure: a bug or a cancellation, passed on. */
  | { kind: "rethrow" };

/** How the run answers an error that ended one of its steps. */
export function reactionTo(error: unknown): FailureReaction {
  if (!(error instanceof ActivityFailure)) return { kind: "rethrow" };
  const cause = error.cause;
  const message = cause?.message || error.message || "no message";
  const step = `${error.activityType}: ${message}`;
  switch (error.retryState) {
    case "MAXIMUM_ATTEMPTS_REACHED":
    case "TIMEOUT":
      return {
        kind: "pause",
        reason: `${step} (retries exhausted; fix what it names, then \`daotrain run resume\`)`,
      };
    case "NON_RETRYABLE_FAILURE": {
      const type = cause instanceof ApplicationFailure ? (cause.type ?? "Error") : "Error";
      const hint = PAUSING_FAILURES[type];
      if (hint) return { kind: "pause", reason: `${step}; ${hint}` };
      if (type === RUN_ENDED) return { kind: "ended", reason: step };
      return { kind: "close", reason: step, type };
    }
    default:
      return { kind: "rethrow" };
  }
}
