import type { RetryPolicy } from "@temporalio/common";

/**
 * Error types an activity raises when retrying cannot help: the input is wrong, the chain
 * holds a conflicting fact, or the cluster refuses the request for good. Everything else
 * (timeouts, connection errors, 5xx) is retried with backoff.
 */
export const finalErrorTypes = [
  "InvalidInputError",
  "CommitConflictError",
  "RunSpecMismatchError",
  "QuotaExceededError",
  "ClusterNotConfiguredError",
] as const;

/** Chain calls: an RPC outage of minutes must not fail a run, so retry without an attempt cap. */
export const chainRetry: RetryPolicy = {
  initialInterval: "1 second",
  backoffCoefficient: 2,
  maximumInterval: "10 seconds",
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
