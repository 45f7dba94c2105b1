import { ActivityFailure, ApplicationFailure, CancelledFailure, TimeoutFailure } from "@temporalio/common";
import { describe, expect, test } from "vitest";
import { reactionTo } from "./failures.ts";

const failed = (retryState: ActivityFailure["retryState"], cause: Error) =>
  new ActivityFailure("activity failed", "commitRound", "7", retryState, "worker", cause);

describe("reactionTo", () => {
  test("closes on a final failure, naming the step and keeping the failure's type", () => {
    const cause = ApplicationFailure.nonRetryable(
      "reverted with GpuBudgetExceeded(1, 2, 3)",
      "GpuBudgetExceeded",
    );
    expect(reactionTo(failed("NON_RETRYABLE_FAILURE", cause))).toEqual({
      kind: "close",
      reason: "commitRound: reverted with GpuBudgetExceeded(1, 2, 3)",
      type: "GpuBudgetExceeded",
    });
  });

  test("pauses on a failure the DAO can undo, saying what to do", () => {
    for (const type of ["DaoUnauthorized", "ClusterNotAdmitted"]) {
      const reaction = reactionTo(
        failed("NON_RETRYABLE_FAILURE", ApplicationFailure.nonRetryable("no", type)),
      );
      expect(reaction.kind).toBe("pause");
      expect(reaction.kind === "pause" && reaction.reason).toMatch(/^commitRound: no; .*resumes/);
    }
  });

  test("pauses when retries ran out or the step timed out, naming the last error", () => {
    const exhausted = reactionTo(
      failed("MAXIMUM_ATTEMPTS_REACHED", ApplicationFailure.retryable("rpc down", "Error")),
    );
    expect(exhausted).toEqual({
      kind: "pause",
      reason: "commitRound: rpc down (retries exhausted; fix what it names, then `daotrain run resume`)",
    });
    const timedOut = reactionTo(
      failed("TIMEOUT", new TimeoutFailure("timed out", undefined, "START_TO_CLOSE")),
    );
    expect(timedOut.kind).toBe("pause");
  });

  test("ends when the chain no longer holds the run open", () => {
    const cause = ApplicationFailure.nonRetryable("reverted with RunNotApproved(0x1)", "RunNotApproved");
    expect(reactionTo(failed("NON_RETRYABLE_FAILURE", cause)).kind).toBe("ended");
  });

  test("passes on cancellations and anything that is not an activity's failure", () => {
    expect(reactionTo(failed("CANCEL_REQUESTED", new CancelledFailure("cancelled")))).toEqual({
      kind: "rethrow",
    });
    expect(reactionTo(new Error("bug"))).toEqual({ kind: "rethrow" });
  });
});
