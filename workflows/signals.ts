import { defineQuery, defineSignal } from "@temporalio/workflow";
import type { CancelSource, ClusterHealth, RunStatus } from "./types.ts";

// Messages a running workflow accepts. Clients (CLI, governanceWatch) import these same objects,
// so a name is spelled once.

/** Pause after the round in flight; nothing new is launched until resumed. */
export const pauseSignal = defineSignal("pause");
export const resumeSignal = defineSignal("resume");
/** Stop now: the round in flight is abandoned and its Jobs deleted. */
export const cancelSignal = defineSignal<[{ source: CancelSource; reason: string }]>("cancel");
export const statusQuery = defineQuery<RunStatus>("status");

/** The task queue every daotrain worker polls and every client starts workflows on. */
export const TASK_QUEUE = "daotrain";

export const GOVERNANCE_WATCH_ID = "governance-watch";
export const CLUSTER_HEALTH_ID = "cluster-health";

export function releaseWorkflowId(runId: string, round: number): string {
  return `release-${runId}-${round}`;
}

export interface ClusterHealthRow {
  id: string;
  name: string;
  owner: string;
  health: ClusterHealth;
}
export const clusterHealthQuery = defineQuery<ClusterHealthRow[]>("clusters");
/** The block the governance watcher reads next. */
export const cursorQuery = defineQuery<number>("cursor");
