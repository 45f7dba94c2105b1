import { proxyActivities } from "@temporalio/workflow";
import type { Activities } from "./activities.ts";
import { clusterRetry } from "./retry.ts";
import type { CheckpointRef, Hex } from "./types.ts";

const storage = proxyActivities<Activities>({
  startToCloseTimeout: "2 hours",
  heartbeatTimeout: "2 minutes",
  retry: clusterRetry,
});

/**
 * A checkpoint the DAO released: copy it to the public store, each shard verified against the
 * root committed on-chain, the manifest written last so that a reader never sees half of it.
 * Workflow id: `release-<runId>-<round>`, so a release event seen twice publishes once.
 */
export async function release(input: { runId: Hex; round: number }): Promise<CheckpointRef> {
  return await storage.publishCheckpoint(input);
}
