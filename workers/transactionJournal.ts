import { Context } from "@temporalio/activity";
import type { PendingTransaction, TransactionJournal } from "../governance/transactions.ts";

/**
 * Remembers an operator transaction in the heartbeat details of the activity that sends it: a
 * retry of that activity (after a timeout, or on another worker after a crash) recalls it and
 * waits for or replaces that transaction instead of sending a second one. Outside an activity
 * (the CLI, tests) there is nothing to remember in.
 */
export const activityTransactionJournal: TransactionJournal = {
  recall() {
    return currentActivity()?.info.heartbeatDetails;
  },
  remember(pending: PendingTransaction) {
    currentActivity()?.heartbeat(pending);
  },
  signal() {
    const activity = currentActivity();
    return activity ? attemptSignal(activity) : undefined;
  },
};

/**
 * The worker's `defaultHeartbeatThrottleInterval` (the SDK's own is 30 s for activities without a
 * heartbeat timeout, as the chain activities are): a transaction's record reaches Temporal within
 * a second of its broadcast, before a timed-out attempt's retry looks for it.
 */
export const JOURNAL_HEARTBEAT_THROTTLE = "1 second";

const attemptSignals = new WeakMap<Context, AbortSignal>();

/**
 * Aborted when the activity is cancelled or its attempt's start-to-close time is up. Temporal
 * times the attempt out on the server, but the worker is not told at once, and an abandoned
 * attempt that kept outbidding its retry's replacements would waste fees and hide the mined hash.
 */
function attemptSignal(activity: Context): AbortSignal {
  let signal = attemptSignals.get(activity);
  if (!signal) {
    const { startToCloseTimeoutMs, currentAttemptScheduledTimestampMs } = activity.info;
    const leftMs = Math.max(0, currentAttemptScheduledTimestampMs + startToCloseTimeoutMs - Date.now());
    signal = AbortSignal.any([activity.cancellationSignal, AbortSignal.timeout(leftMs)]);
    attemptSignals.set(activity, signal);
  }
  return signal;
}

function currentActivity(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}
