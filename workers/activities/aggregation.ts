import { heartbeat } from "@temporalio/activity";
import { outerStep } from "../../diloco/index.ts";
import type { Governance } from "../../governance/chain.ts";
import { localPathOf } from "../../trainer/uri.ts";
import type { AggregationActivities } from "../../workflows/activities.ts";
import type { ReplicaVerdict } from "../../workflows/types.ts";
import { checkpointDirOf, manifestUriOf, type RunLayout } from "../runLayout.ts";
import { datasetUriOf } from "./datasets.ts";

export interface AggregationContext {
  chain: Governance;
  layout: RunLayout;
}

export function aggregationActivities(ctx: AggregationContext): AggregationActivities {
  return {
    async aggregateRound({ runId, round, spec, parent, outputs }) {
      // The outer step re-hashes every replica and scores it on held-out data: seconds to minutes.
      const pulse = setInterval(() => heartbeat(), 1_000);
      try {
        const datasetDir = localPathOf(await datasetUriOf(ctx.chain, spec.dataset), "dataset URI");
        const step = await outerStep({
          global: checkpointDirOf(parent.uri),
          globalRoot: parent.root,
          replicas: outputs.flatMap((o) =>
            o.phase === "succeeded"
              ? [{ id: String(o.replica), dir: localPathOf(o.outputUri, "replica output") }]
              : [],
          ),
          spec,
          datasetDir,
        });
        const verdicts: ReplicaVerdict[] = [
          ...step.accepted.map((id) => ({ replica: Number(id), accepted: true as const })),
          ...step.rejected.map((r) => ({
            replica: Number(r.id),
            accepted: false as const,
            reason: `${r.reason}: ${r.message}`,
          })),
        ].sort((a, b) => a.replica - b.replica);
        if (!step.quorum) return { verdicts, checkpoint: undefined };
        const dir = ctx.layout.globalDir(runId, round);
        const manifest = await step.write(dir);
        const { metrics } = manifest;
        return {
          verdicts,
          checkpoint: {
            uri: manifestUriOf(dir),
            root: manifest.root,
            metrics: {
              loss: metrics.loss ?? Number.NaN,
              valLoss: metrics.valLoss ?? Number.NaN,
              tokens: metrics.tokens,
              steps: metrics.steps,
            },
          },
        };
      } finally {
        clearInterval(pulse);
      }
    },
  };
}
