// The workflow bundle's entry: the Worker loads exactly the workflows exported here.
export { clusterHealth } from "./clusterHealth.ts";
export { governanceWatch } from "./governanceWatch.ts";
export { release } from "./release.ts";
export { trainingRun } from "./trainingRun.ts";
