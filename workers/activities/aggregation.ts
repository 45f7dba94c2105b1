import { heartbeat, log } from "@temporalio/activity";
import type { ReplicaEvidence } from "../../diloco/index.ts";
import type { Governance } from "../../governance/chain.ts";
import { judgeRound } from "../../rounds/judge.ts";
import { roundRecord } from "../../rounds/record.ts";
import type { RunStore } from "../../rounds/runStore.ts";
import type { AggregationActivities } from "../../workflows/activities.ts";
import type { ReplicaScores, ReplicaVerdict } from "../../workflows/types.ts";
import { datasetUriOf } from "./datasets.ts";

export interface AggregationContext {
  chain: Governance;
  runStore: RunStore;
}

export function aggregationActivities(ctx: AggregationContext): AggregationActivities {
  return {
    async aggregateRound({ runId, round, spec, parent, outputs }) {
      // The outer step re-hashes every replica and scores it on held-out data: seconds to minutes.
      const pulse = setInterval(() => heartbeat(), 1_000);
      try {
        const { runStore } = ctx;
        // Staging judges what it fetches: a replica whose output is missing, oversized or corrupt
        // comes back as its defect, and the round goes on with the others.
        const judged = await judgeRound(runStore, {
          spec,
          parent,
          datasetUri: await datasetUriOf(ctx.chain, spec.dataset, runId),
          outputs,
        });
        const { step } = judged;
        const evidence = new Map(step.evidence.replicas.map((e) => [e.id, e]));
        const verdicts: ReplicaVerdict[] = step.verdicts.map((v) => {
          const scores = scoresOf(evidence.get(v.id));
          const replica = Number(v.id);
          if (v.accepted) return { replica, accepted: true, detail: v.message, scores: scores! };
          return {
            replica,
            accepted: false,
            reason: v.reason,
            detail: v.message,
            ...(scores ? { scores } : {}),
          };
        });
        for (const v of verdicts) log.info("replica verdict", { runId, round, ...v });
        if (!step.quorum) return { verdicts, checkpoint: undefined };
        const key = runStore.globalKey(runId, round);
        const manifest = await runStore.writeCheckpoint(key, (dir) => step.write(dir));
        // The next round starts from the new global checkpoint; a retry of this one re-stages.
        await runStore.dropStaged([judged.globalDir]);
        const manifestUri = runStore.manifestUri(key);
        // Published before the commit, so that a committed round always has its record.
        const record = await runStore.publishRecord(
          roundRecord({
            runId,
            round,
            spec,
            parent,
            outputs: judged.outputs,
            step,
            next: { root: manifest.root, manifestUri },
          }),
        );
        const { metrics } = manifest;
        return {
          verdicts,
          checkpoint: {
            uri: manifestUri,
            root: manifest.root,
            metrics: {
              loss: metrics.loss ?? Number.NaN,
              valLoss: metrics.valLoss ?? Number.NaN,
              tokens: metrics.tokens,
              steps: metrics.steps,
            },
            record,
          },
        };
      } finally {
        clearInterval(pulse);
      }
    },
  };
}

/** The few numbers of a replica's evidence worth carrying through the workflow (no sketch). */
function scoresOf(evidence: ReplicaEvidence | undefined): ReplicaScores | undefined {
  if (!evidence || !("scores" in evidence)) return undefined;
  const { scores, delta } = evidence;
  return {
    heldOutLoss: scores.heldOutLoss,
    ownShardLoss: scores.ownShardLoss,
    ownShardLossOfGlobal: scores.ownShardLossOfGlobal,
    movement: delta.norm,
  };
}
