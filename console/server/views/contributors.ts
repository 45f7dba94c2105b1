import { approvedRunIds } from "../../../governance/history.ts";
import { computeCredits, listClusters } from "../../../governance/reads.ts";
import { CLUSTER_HEALTH_ID, clusterHealthQuery } from "../../../workflows/signals.ts";
import type { ClusterHealth } from "../../../workflows/types.ts";
import type { ContributorList } from "../../api.ts";
import type { ConsoleSources } from "../sources.ts";
import { contributorShares, runBasics } from "./runs.ts";

const HEALTH_DEADLINE_MS = 3_000;

/** The cluster-health survey's latest answer by cluster id, or nothing when it cannot be asked. */
async function healthByCluster(sources: ConsoleSources): Promise<Map<string, ClusterHealth>> {
  const { temporal } = sources;
  if (!temporal) return new Map();
  try {
    const rows = await temporal.withDeadline(Date.now() + HEALTH_DEADLINE_MS, () =>
      temporal.workflow.getHandle(CLUSTER_HEALTH_ID).query(clusterHealthQuery),
    );
    return new Map(rows.map((row) => [row.id.toLowerCase(), row.health]));
  } catch {
    return new Map();
  }
}

/** Contributed clusters with their status, capacity and health; every contributor's rewards per run. */
export async function contributorsView(sources: ConsoleSources): Promise<ContributorList> {
  const { governance } = sources;
  const [clusters, health, runIds] = await Promise.all([
    listClusters(governance),
    healthByCluster(sources),
    approvedRunIds(governance),
  ]);
  const rewards = await Promise.all(
    runIds.toReversed().map(async (runId) => {
      const credits = await computeCredits(governance, runId);
      if (credits.length === 0) return [];
      const [{ name }, shares] = await Promise.all([
        runBasics(sources, runId),
        contributorShares(sources, runId, credits),
      ]);
      return shares.map((share) => ({ ...share, runId, runName: name }));
    }),
  );
  return {
    clusters: clusters.map((c) => {
      const live = health.get(c.clusterId.toLowerCase());
      return {
        clusterId: c.clusterId,
        name: c.metadata,
        owner: c.owner,
        status: c.status,
        gpuCapacity: c.gpuCapacity,
        gpuProduct: c.gpuProduct,
        health: live
          ? {
              healthy: live.healthy,
              freeGpus: live.freeGpus,
              ...(live.healthy ? {} : { reason: live.reason }),
            }
          : null,
      };
    }),
    rewards: rewards.flat(),
  };
}
