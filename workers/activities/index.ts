import type { Activities } from "../../workflows/activities.ts";
import { aggregationActivities } from "./aggregation.ts";
import { type ChainContext, chainActivities } from "./chain.ts";
import { withFinalReverts } from "./chainFailures.ts";
import { type ClusterContext, clusterActivities } from "./cluster.ts";
import { type GovernanceContext, governanceActivities } from "./governance.ts";
import { metricsActivities } from "./metrics.ts";
import { scoringActivities } from "./scoring.ts";
import { type StorageContext, storageActivities } from "./storage.ts";

export type ActivityContext = ChainContext & ClusterContext & StorageContext & GovernanceContext;

/**
 * Every activity the workflows call, bound to one worker's chain session, stores and clusters;
 * a contract's named revert, from whichever activity, fails it for good.
 */
export function createActivities(ctx: ActivityContext): Activities {
  return withFinalReverts({
    ...clusterActivities(ctx),
    ...storageActivities(ctx),
    ...aggregationActivities(ctx),
    ...scoringActivities(ctx),
    ...chainActivities(ctx),
    ...governanceActivities(ctx),
    ...metricsActivities(ctx.metrics),
  });
}
