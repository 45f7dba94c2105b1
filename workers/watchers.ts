import type { Client } from "@temporalio/client";
import { WorkflowExecutionAlreadyStartedError } from "@temporalio/common";
import { CLUSTER_HEALTH_ID, GOVERNANCE_WATCH_ID, TASK_QUEUE } from "../workflows/signals.ts";

export interface WatcherOptions {
  /** Where the governance watcher starts when it is not running yet (the deployment's first block). */
  fromBlock: number;
  pollSeconds: number;
  healthIntervalSeconds: number;
}

/**
 * Starts the two long-lived workflows, governanceWatch and clusterHealth, unless they already run.
 * Their ids are fixed, so every worker of a fleet may call this at start and one of each runs.
 */
export async function ensureWatchers(client: Client, options: WatcherOptions): Promise<void> {
  const startOnce = async (start: () => Promise<unknown>) => {
    try {
      await start();
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    }
  };
  await startOnce(() =>
    client.workflow.start("governanceWatch", {
      taskQueue: TASK_QUEUE,
      workflowId: GOVERNANCE_WATCH_ID,
      args: [{ fromBlock: options.fromBlock, pollSeconds: options.pollSeconds }],
    }),
  );
  await startOnce(() =>
    client.workflow.start("clusterHealth", {
      taskQueue: TASK_QUEUE,
      workflowId: CLUSTER_HEALTH_ID,
      args: [{ intervalSeconds: options.healthIntervalSeconds }],
    }),
  );
}
