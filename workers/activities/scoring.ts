import { Context, heartbeat } from "@temporalio/activity";
import { ApplicationFailure } from "@temporalio/common";
import { readCheckpointManifest } from "../../checkpoints/index.ts";
import { replicaBounds, roundManifests } from "../../diloco/index.ts";
import {
  evaluationName,
  parseEvaluationJobSpec,
  type RoundRef,
  type RoundStatus,
} from "../../k8s/cluster.ts";
import { KubernetesCluster } from "../../k8s/kubernetesCluster.ts";
import { scoringSeedHex } from "../../model/replicaScores.ts";
import { stageOutputs } from "../../rounds/judge.ts";
import { EVALUATOR_COMMAND } from "../../spec/trainerContract.ts";
import { splitObjectUri } from "../../storage/index.ts";
import type { ScoringActivities } from "../../workflows/activities.ts";
import type { Hex, LaunchKey } from "../../workflows/types.ts";
import { type ClusterContext, clusterAccess, trainerRound } from "./cluster.ts";
import { datasetUriOf } from "./datasets.ts";

export function scoringActivities(ctx: ClusterContext): ScoringActivities {
  const { resolve, client, trainerStoreEnv } = clusterAccess(ctx);
  const refOf = (key: LaunchKey): RoundRef => ({
    cluster: key.clusterName,
    name: evaluationName({ ...key, round: trainerRound(key.round) }),
  });
  /** Evaluation Jobs run on contributed Kubernetes clusters only. */
  const evaluatingCluster = async (name: string): Promise<KubernetesCluster> => {
    const cluster = client(await resolve(name));
    if (!(cluster instanceof KubernetesCluster))
      throw ApplicationFailure.nonRetryable(
        `cluster ${name} is not a Kubernetes cluster: it runs no evaluation Job`,
      );
    return cluster;
  };

  return {
    async prepareScoring({ spec, parent, outputs }) {
      const bounds = replicaBounds(spec);
      const replicas = await stageOutputs(ctx.runStore, outputs, bounds);
      const globalDir = await ctx.runStore.localDir(parent.uri, parent.root);
      const global = { manifest: await readCheckpointManifest(globalDir), root: parent.root };
      const { readable, seed } = await roundManifests(global, replicas, bounds);
      return {
        seed: scoringSeedHex(seed),
        roots: Object.fromEntries(readable.map((r) => [r.replica.index, r.manifest.root as Hex])),
      };
    },

    async launchEvaluation({ key, spec, parent, seed, outputs }) {
      const configured = await resolve(key.clusterName);
      const cluster = await evaluatingCluster(key.clusterName);
      const datasetUri = await datasetUriOf(ctx.chain, spec.dataset, key.runId);
      await cluster.launchEvaluation(
        parseEvaluationJobSpec({
          runId: key.runId,
          round: trainerRound(key.round),
          attempt: key.attempt,
          image: spec.image,
          command: EVALUATOR_COMMAND,
          ...spec.resources,
          initUri: splitObjectUri(parent.uri).storeUri,
          initRoot: parent.root,
          datasetUri,
          datasetRoot: spec.dataset,
          scoringSeed: seed,
          storeEnv: trainerStoreEnv(configured),
          outputs: outputs.map((o) => ({
            replica: o.replica,
            outputUri: o.outputUri,
            outputRoot: o.root,
            scoresUri: ctx.runStore.store.uriOf(
              ctx.runStore.scoresKey(key.runId, key.round, key.clusterName, o.replica, key.attempt),
            ),
          })),
        }),
      );
    },

    async awaitEvaluation({ key, deadlineMs }) {
      const cluster = await evaluatingCluster(key.clusterName);
      const ref = refOf(key);
      const abort = new AbortController();
      const cancelled = Context.current().cancellationSignal;
      cancelled.addEventListener("abort", () => abort.abort(), { once: true });
      const deadline = setTimeout(() => abort.abort(), Math.max(0, deadlineMs - Date.now()));
      const pulse = setInterval(() => heartbeat(), 1_000);
      let last: RoundStatus | undefined;
      try {
        for await (const status of cluster.watchRound(ref, { signal: abort.signal })) last = status;
        last ??= await cluster.roundStatus(ref);
      } finally {
        clearTimeout(deadline);
        clearInterval(pulse);
      }
      if (cancelled.aborted) throw cancelled.reason;
      return last.replicas.filter((r) => r.state === "succeeded").map((r) => r.replica);
    },

    async cancelEvaluation({ key }) {
      await (await evaluatingCluster(key.clusterName)).cancelRound(refOf(key));
    },
  };
}
