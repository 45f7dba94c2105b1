import { WorkflowNotFoundError } from "@temporalio/client";
import type { Hex } from "viem";
import { runWorkflowId } from "../../spec/workflowIds.ts";
import { statusQuery } from "../../workflows/signals.ts";
import type { RunStatus } from "../../workflows/types.ts";
import type { ConsoleSources } from "./sources.ts";

/** A page waits at most this long for Temporal before it shows the chain's side alone. */
const TEMPORAL_DEADLINE_MS = 5_000;

export type LiveRun = { available: true; status: RunStatus } | { available: false; why: string };

/**
 * The run's workflow status: its query while it runs, its result once completed (a closed
 * workflow's result needs no worker). The reasons shown never quote Temporal's errors.
 */
export async function liveRun(sources: ConsoleSources, runId: Hex): Promise<LiveRun> {
  const { temporal } = sources;
  if (!temporal)
    return { available: false, why: "this console is not connected to the orchestrator's Temporal" };
  const handle = temporal.workflow.getHandle(runWorkflowId(runId));
  const deadline = Date.now() + TEMPORAL_DEADLINE_MS;
  try {
    return await temporal.withDeadline(deadline, async () => {
      const { status } = await handle.describe();
      const runStatus =
        status.name === "COMPLETED"
          ? ((await handle.result()) as RunStatus)
          : await handle.query(statusQuery);
      return { available: true, status: runStatus };
    });
  } catch (error) {
    if (error instanceof WorkflowNotFoundError)
      return { available: false, why: "the orchestrator has not started this run's workflow yet" };
    return { available: false, why: "the orchestrator's Temporal did not answer in time" };
  }
}
