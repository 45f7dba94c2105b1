import { log } from "@temporalio/activity";
import type { MetricsActivities } from "../../workflows/activities.ts";
import type { Metrics } from "../metrics.ts";

// Workflows cannot touch the process's metrics, so they report what happened through these.

export function metricsActivities(metrics: Metrics): MetricsActivities {
  return {
    async reportRound({ summary }) {
      for (const [phase, ms] of Object.entries(summary.phaseMs)) {
        metrics.roundDuration.observe({ phase: phase as keyof typeof summary.phaseMs }, ms / 1000);
      }
      for (const replica of summary.replicas) {
        const outcome =
          replica.phase === "accepted" ||
          replica.phase === "rejected" ||
          replica.phase === "failed" ||
          replica.phase === "lost"
            ? replica.phase
            : undefined;
        if (outcome) metrics.replicas.inc({ outcome });
        if (replica.rejection) metrics.replicaRejections.inc({ reason: replica.rejection });
      }
      metrics.checkpointLoss.set({ split: "train" }, summary.metrics.loss);
      metrics.checkpointLoss.set({ split: "val" }, summary.metrics.valLoss);
    },

    async reportRunState({ from, to }) {
      if (from) metrics.runs.dec({ state: from });
      metrics.runs.inc({ state: to });
    },

    async reportRunRefused({ runId, cause, reason }) {
      log.warn(`run ${runId} ${reason}`, { runId, cause });
      metrics.runsRefused.inc({ cause });
    },

    async reportClusterHealth({ candidates }) {
      for (const c of candidates) {
        metrics.clusterHealthy.set({ cluster: c.name }, c.health.healthy ? 1 : 0);
        metrics.clusterFreeGpus.set({ cluster: c.name }, c.health.freeGpus);
      }
    },
  };
}
