import { ApplicationFailure } from "@temporalio/common";
import { contractErrorNames } from "../../governance/chain.ts";
import { ContractRevertError } from "../../governance/errors.ts";

/**
 * A revert the contracts' ABIs name (decoded by viem in `governance/chain.ts`) happens again on
 * every retry of the same call, so it becomes a non-retryable failure whose type is the revert's
 * name (`GpuBudgetExceeded`, `DaoUnauthorized`, …) and whose message names it with its
 * arguments; the workflow decides whether the run closes or pauses (`workflows/failures.ts`).
 * Anything else (an RPC timeout, a dropped connection) is passed on and retried.
 */
export function finalRevert(error: unknown): unknown {
  if (error instanceof ContractRevertError && contractErrorNames.has(error.errorName))
    return ApplicationFailure.nonRetryable(error.message, error.errorName);
  return error;
}

type AsyncFunctions<T> = {
  [K in keyof T]: T[K] extends (...args: never[]) => Promise<unknown> ? T[K] : never;
};

/** The same activities, each raising a contract's named revert as a final failure. */
export function withFinalReverts<T extends AsyncFunctions<T>>(activities: T): T {
  const wrapped = Object.entries(activities).map(([name, activity]) => [
    name,
    async (...args: never[]) => {
      try {
        return await (activity as (...a: never[]) => Promise<unknown>)(...args);
      } catch (error) {
        throw finalRevert(error);
      }
    },
  ]);
  return Object.fromEntries(wrapped) as T;
}
