import type { RetryPolicy } from "@temporalio/common";

/**
 * Error types an activity raises when retrying cannot help: the input is wrong, the chain
 * holds a conflicting fact, or the cluster refuses the request for good. Everything else
 * (timeouts, connection errors, 5xx) is retried with backoff. A contract's named revert is
 * final too: the chain activities raise it as a non-retryable failure whose type is the
 * revert's name (`workers/activities/chainFailures.ts`), and `failures.ts` decides what the
 * run does about it.
 */
export const finalErrorTypes = [
  "InvalidInputError",
  "CommitConflictError",
  "RunSpecMismatchError",
  "QuotaExceededError",
  "ClusterNotConfiguredError",
] as const;

/**
 * Chain calls of a run: an RPC outage of minutes must not stop a run, so they retry for about
 * 15 minutes (1 s doubling to 10 s between attempts, 95 attempts); past that the run pauses with
 * the last error as its reason (`failures.ts`) and the operator resumes it once the chain
 * answers. A revert is not retried at all.
 */
export const chainRetry: RetryPolicy = {
  initialInterval: "1 second",
  backoffCoefficient: 2,
  maximumInterval: "10 seconds",
  maximumAttempts: 95,
  nonRetryableErrorTypes: [...finalErrorTypes],
};

/**
 * The governance watcher's reads (event polling, a run's status): uncapped on purpose. The
 * watcher has no other work and nothing is lost by waiting: its cursor stays where it is and
 * every event is handled once the chain answers, while giving up would fail the watcher and
 * leave every later decision unhandled. Its last failure is visible on the pending activity.
 */
export const watcherChainRetry: RetryPolicy = {
  initialInterval: "1 second",
  backoffCoefficient: 2,
  maximumInterval: "30 seconds",
  nonRetryableErrorTypes: [...finalErrorTypes],
};

/**
 * Fetching an approved run's spec: a store that does not answer for about 2 minutes (1 s
 * doubling to 20 s, 10 attempts) refuses the run rather than holding its escrow indefinitely.
 */
export const specRetry: RetryPolicy = {
  initialInterval: "1 second",
  backoffCoefficient: 2,
  maximumInterval: "20 seconds",
  maximumAttempts: 10,
  nonRetryableErrorTypes: [...finalErrorTypes],
};

/** Cluster and storage calls: a few quick retries; a cluster that stays down is handled by the round. */
export const clusterRetry: RetryPolicy = {
  initialInterval: "1 second",
  backoffCoefficient: 2,
  maximumInterval: "15 seconds",
  maximumAttempts: 8,
  nonRetryableErrorTypes: [...finalErrorTypes],
};
