import { continueAsNew, proxyActivities, setHandler, sleep, workflowInfo } from "@temporalio/workflow";
import type { Activities } from "./activities.ts";
import { clusterRetry } from "./retry.ts";
import { clusterHealthQuery } from "./signals.ts";
import type { ClusterCandidate } from "./types.ts";

const quick = proxyActivities<Activities>({ startToCloseTimeout: "2 minutes", retry: clusterRetry });

export interface ClusterHealthInput {
  intervalSeconds: number;
  /** Checks per execution before continuing as new. */
  checksPerExecution?: number;
}

/**
 * Checks every admitted cluster's reachability and free quota on a period and publishes them
 * as metrics. Rounds survey clusters themselves before placing replicas, so a cluster that
 * fails here is also skipped by every new round; this workflow is what operators watch.
 */
export async function clusterHealth(input: ClusterHealthInput): Promise<void> {
  let latest: ClusterCandidate[] = [];
  setHandler(clusterHealthQuery, () =>
    latest.map(({ id, name, owner, health }) => ({ id, name, owner, health })),
  );
  const checks = input.checksPerExecution ?? 500;
  for (let i = 0; i < checks && !workflowInfo().continueAsNewSuggested; i++) {
    latest = await quick.surveyClusters();
    await quick.reportClusterHealth({ candidates: latest });
    await sleep(input.intervalSeconds * 1000);
  }
  await continueAsNew<typeof clusterHealth>(input);
}
