import { heartbeat } from "@temporalio/activity";
import { outerStep } from "../../diloco/index.ts";
import type { Governance } from "../../governance/chain.ts";
import type { AggregationActivities } from "../../workflows/activities.ts";
import type { ReplicaVerdict } from "../../workflows/types.ts";
import type { RunStore } from "../runStore.ts";
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
        // The outer step scores on the held-out shards alone; of a remote dataset only those come.
        const datasetDir = await runStore.localDir(
          await datasetUriOf(ctx.chain, spec.dataset),
          spec.dataset,
          (shard) => shard.split === "validation",
        );
        // Unknown roots: staging only makes each copy whole; the outer step judges the replicas.
        const replicas = await Promise.all(
          outputs.map(async (o) => ({ id: String(o.replica), dir: await runStore.localDir(o.outputUri) })),
        );
        const globalDir = await runStore.localDir(parent.uri, parent.root);
        const step = await outerStep({
          global: globalDir,
          globalRoot: parent.root,
          replicas,
          spec,
          datasetDir,
        });
        await runStore.dropStaged(replicas.map((r) => r.dir));
        const verdicts: ReplicaVerdict[] = [
          ...step.accepted.map((id) => ({ replica: Number(id), accepted: true as const })),
          ...step.rejected.map((r) => ({
            replica: Number(r.id),
            accepted: false as const,
            reason: `${r.reason}: ${r.message}`,
          })),
        ].sort((a, b) => a.replica - b.replica);
        if (!step.quorum) return { verdicts, checkpoint: undefined };
        const key = runStore.globalKey(runId, round);
        const manifest = await runStore.writeCheckpoint(key, (dir) => step.write(dir));
        // The next round starts from the new global checkpoint; a retry of this one re-stages.
        await runStore.dropStaged([globalDir]);
        const { metrics } = manifest;
        return {
          verdicts,
          checkpoint: {
            uri: runStore.manifestUri(key),
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
