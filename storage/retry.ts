import { setTimeout as sleep } from "node:timers/promises";

export interface RetryPolicy {
  attempts: number;
  /** Delay before the second attempt; doubles each time. */
  initialDelayMs: number;
}

/**
 * Retries an operation with exponential backoff and jitter while `isRetryable` says so. The S3
 * client already retries its requests; this covers what it cannot replay, such as a response
 * body that breaks off while it is read.
 */
export async function withRetries<T>(
  policy: RetryPolicy,
  signal: AbortSignal | undefined,
  isRetryable: (error: unknown) => boolean,
  operation: () => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    try {
      return await operation();
    } catch (error) {
      if (attempt >= policy.attempts || signal?.aborted || !isRetryable(error)) throw error;
      const delay = policy.initialDelayMs * 2 ** (attempt - 1);
      await sleep(delay / 2 + Math.random() * delay, undefined, { signal });
    }
  }
}
