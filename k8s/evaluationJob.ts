import type { V1Job, V1Secret } from "@kubernetes/client-node";
import { evaluatorEnvVars } from "../spec/trainerContract.ts";
import { type EvaluationJobSpec, evaluationName } from "./cluster.ts";
import { buildStoreSecret, indexedJob, jobLabels } from "./roundJob.ts";

/** The label that tells an evaluation Job (and its pods) from a round's training Job. */
export const TASK_LABEL = "daotrain.io/task";

export interface BuiltEvaluation {
  name: string;
  job: V1Job;
  /** The evaluating cluster's run-store env (`spec.storeEnv`); absent when there is none. */
  storeSecret: V1Secret | undefined;
}

/** The evaluator contract's env of each scored output, in the spec's order. */
export function evaluationEnvs(spec: EvaluationJobSpec): Record<string, string>[] {
  return spec.outputs.map((output) =>
    evaluatorEnvVars({
      DAOTRAIN_RUN_ID: spec.runId,
      DAOTRAIN_ROUND: spec.round,
      DAOTRAIN_REPLICA: output.replica,
      DAOTRAIN_INIT_URI: spec.initUri,
      DAOTRAIN_INIT_ROOT: spec.initRoot,
      DAOTRAIN_DATASET_URI: spec.datasetUri,
      DAOTRAIN_DATASET_ROOT: spec.datasetRoot,
      DAOTRAIN_EVALUATE_URI: output.outputUri,
      DAOTRAIN_EVALUATE_ROOT: output.outputRoot,
      DAOTRAIN_SCORING_SEED: spec.scoringSeed,
      DAOTRAIN_SCORES_URI: output.scoresUri,
    }),
  );
}

/**
 * The Indexed Job scoring other contributors' outputs of a round on one cluster: one pod per
 * output, locked down as a trainer's (`indexedJob`), with no GPU, no node selector and no
 * rendezvous Service; REPLICAS_ANNOTATION names the scored replicas, so the round's status
 * reading (`replicaState.ts`) reads it as it reads a training Job. Pure.
 */
export function buildEvaluationJob(spec: EvaluationJobSpec, namespace: string): BuiltEvaluation {
  const name = evaluationName(spec);
  const labels = { ...jobLabels(name, spec.round), [TASK_LABEL]: "evaluate" };
  const storeSecret = buildStoreSecret(name, labels, spec.storeEnv, namespace);
  const job = indexedJob(
    {
      name,
      labels,
      replicas: spec.outputs.map((o) => o.replica),
      envs: evaluationEnvs(spec),
      gpus: 0,
      rendezvous: false,
      spec,
      storeSecret,
    },
    namespace,
  );
  return { name, job, storeSecret };
}
