import type { Activities } from "../../workflows/activities.ts";
import { aggregationActivities } from "./aggregation.ts";
import { type ChainContext, chainActivities } from "./chain.ts";
import { type ClusterContext, clusterActivities } from "./cluster.ts";
import { governanceActivities } from "./governance.ts";
import { metricsActivities } from "./metrics.ts";
import { type StorageContext, storageActivities } from "./storage.ts";

export type ActivityContext = ChainContext & ClusterContext & StorageContext;

/** Every activity the workflows call, bound to one worker's chain session, stores and clusters. */
export function createActivities(ctx: ActivityContext): Activities {
  return {
    ...clusterActivities(ctx),
    ...storageActivities(ctx),
    ...aggregationActivities(ctx),
    ...chainActivities(ctx),
    ...governanceActivities(ctx.chain),
    ...metricsActivities(ctx.metrics),
  };
}
