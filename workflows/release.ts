import { proxyActivities } from "@temporalio/workflow";
import type { Activities } from "./activities.ts";
import { chainRetry, clusterRetry } from "./retry.ts";
import type { CheckpointRef, Hex } from "./types.ts";

const storage = proxyActivities<Activities>({
  startToCloseTimeout: "2 hours",
  heartbeatTimeout: "2 minutes",
  retry: clusterRetry,
});
const chain = proxyActivities<Activities>({ startToCloseTimeout: "45 seconds", retry: chainRetry });

/**
 * A checkpoint the DAO released: copy it to the public store, each shard verified against the
 * root committed on-chain, the manifest written last so that a reader never sees half of it;
 * then mark it published on-chain, so that anyone finds the public copy from the chain alone.
 * Last, the replica outputs of this round and the earlier ones are deleted: the release ends the
 * time they are kept for auditors (rounds/README.md, retention).
 * Workflow id: `release-<runId>-<round>`, so a release event seen twice publishes once.
 */
export async function release(input: { runId: Hex; round: number }): Promise<CheckpointRef> {
  const published = await storage.publishCheckpoint(input);
  await chain.recordPublication({ ...input, manifestUri: published.uri });
  await storage.pruneReplicaOutputs(input);
  return published;
}
