import { ActivityFailure, ApplicationFailure, proxyActivities } from "@temporalio/workflow";
import type { ChainActivities } from "../../workflows/activities.ts";
import { chainRetry } from "../../workflows/retry.ts";

// One chain activity of the real worker, called from a workflow with the retry policy the runs
// use, so a test sees exactly what a run would: the result, or how the activity failed for good.

export interface ChainStepInput {
  activity: keyof ChainActivities;
  request: unknown;
  startToCloseSeconds: number;
}

export type ChainStepResult =
  | { ok: true; value: unknown }
  | { ok: false; type: string | undefined; message: string; retryState: string | undefined };

export async function chainStep(input: ChainStepInput): Promise<ChainStepResult> {
  const chain = proxyActivities<ChainActivities>({
    startToCloseTimeout: `${input.startToCloseSeconds} seconds`,
    retry: chainRetry,
  });
  const call = chain[input.activity] as (request: unknown) => Promise<unknown>;
  try {
    return { ok: true, value: await call(input.request) };
  } catch (error) {
    if (!(error instanceof ActivityFailure)) throw error;
    const cause = error.cause;
    return {
      ok: false,
      type: cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined,
      message: cause?.message ?? error.message,
      retryState: error.retryState,
    };
  }
}
