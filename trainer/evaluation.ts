import { readCheckpoint } from "../checkpoints/read.ts";
import { readDatasetManifest } from "../datasets/manifest.ts";
import { modelValues } from "../model/evaluate.ts";
import {
  heldOutScoringBatches,
  type ReplicaScores,
  scoreReplica,
  scoringSeedOf,
  scoringShards,
} from "../model/replicaScores.ts";
import { InvalidInputError } from "../spec/errors.ts";
import { type EvaluatorEnv, encodeScoresFile, parseEvaluatorEnv } from "../spec/trainerContract.ts";
import { openStore, splitObjectUri } from "../storage/index.ts";
import {
  checkVocabulary,
  InputMismatchError,
  removeScratch,
  stagedInput,
  verifiedDataset,
  verifiedGlobal,
} from "./io.ts";

export interface EvaluatorResult {
  /** DAOTRAIN_SCORES_URI, where the scores now are. */
  readonly scoresUri: string;
  readonly scores: ReplicaScores;
}

/**
 * One replica's scores for the outer step, per the evaluator's contract (spec/trainerContract.ts
 * `EvaluatorEnv`): θ, the dataset and the replica's output are each refused unless they match the
 * root the orchestrator gave; the scores come from model/replicaScores.ts, the code the worker
 * scores with, so they are the bits the worker would compute; they are written to
 * DAOTRAIN_SCORES_URI bound to the run, round, replica, output root and seed.
 */
export async function runEvaluator(
  environment: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<EvaluatorResult> {
  const env = parseEvaluatorEnv(environment);
  await removeScratch();
  try {
    return await evaluate(env, log);
  } finally {
    await removeScratch();
  }
}

async function evaluate(env: EvaluatorEnv, log: (line: string) => void): Promise<EvaluatorResult> {
  const seed = scoringSeedOf(env.DAOTRAIN_SCORING_SEED);
  const { init, spec } = await verifiedGlobal(env);
  if (init.manifest.round !== env.DAOTRAIN_ROUND)
    throw new InputMismatchError(
      `the global checkpoint is round ${init.manifest.round}'s, not round ${env.DAOTRAIN_ROUND}'s`,
    );
  if (env.DAOTRAIN_REPLICA >= spec.replicasPerRound)
    throw new InvalidInputError("evaluator environment", [
      `DAOTRAIN_REPLICA: ${env.DAOTRAIN_REPLICA} is not a replica of a round of ${spec.replicasPerRound}`,
    ]);
  // Of a dataset in a bucket, only the held-out shards and the two this replica is scored on come.
  const manifest = await readDatasetManifest(
    await stagedInput(
      env.DAOTRAIN_DATASET_URI,
      env.DAOTRAIN_DATASET_ROOT,
      "DAOTRAIN_DATASET_URI",
      () => false,
    ),
  );
  const needed = new Set(scoringShards(manifest, spec, env.DAOTRAIN_REPLICA, seed));
  const dataset = await verifiedDataset(
    await stagedInput(
      env.DAOTRAIN_DATASET_URI,
      env.DAOTRAIN_DATASET_ROOT,
      "DAOTRAIN_DATASET_URI",
      (shard, index) => shard.split === "validation" || needed.has(index),
    ),
    env.DAOTRAIN_DATASET_ROOT,
  );
  checkVocabulary(dataset, spec);
  const outputDir = await stagedInput(
    env.DAOTRAIN_EVALUATE_URI,
    env.DAOTRAIN_EVALUATE_ROOT,
    "DAOTRAIN_EVALUATE_URI",
  );
  const output = await readCheckpoint(outputDir, { expectedRoot: env.DAOTRAIN_EVALUATE_ROOT }).catch(
    (error: Error) => {
      throw new InputMismatchError(error.message);
    },
  );
  log(
    `inputs verified: global ${init.manifest.root}, dataset ${dataset.manifest.root}, replica ${env.DAOTRAIN_REPLICA}'s output ${output.manifest.root}`,
  );
  const started = performance.now();
  const scores = await scoreReplica({
    spec,
    global: modelValues(init.tensors, spec),
    replica: modelValues(output.tensors, spec),
    index: env.DAOTRAIN_REPLICA,
    seed,
    dataset,
    heldOut: await heldOutScoringBatches(dataset, spec),
  });
  const { storeUri, key } = splitObjectUri(env.DAOTRAIN_SCORES_URI);
  const file = encodeScoresFile({
    runId: env.DAOTRAIN_RUN_ID,
    round: env.DAOTRAIN_ROUND,
    replica: env.DAOTRAIN_REPLICA,
    root: env.DAOTRAIN_EVALUATE_ROOT,
    seed: env.DAOTRAIN_SCORING_SEED,
    scores: { ...scores, ownShards: [...scores.ownShards] },
  });
  await openStore(storeUri).putBytes(key, Buffer.from(file));
  log(
    `scored in ${((performance.now() - started) / 1000).toFixed(1)} s: held-out ${scores.heldOutLoss.toFixed(4)}, ` +
      `own shards ${scores.ownShards.join(",")} ${scores.ownShardLoss.toFixed(4)} (θ ${scores.ownShardLossOfGlobal.toFixed(4)}); wrote ${env.DAOTRAIN_SCORES_URI}`,
  );
  return { scoresUri: env.DAOTRAIN_SCORES_URI, scores };
}
