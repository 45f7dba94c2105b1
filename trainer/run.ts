import * as tf from "@tensorflow/tfjs-core";
import type { CheckpointManifest } from "../checkpoints/manifest.ts";
import type { Checkpoint } from "../checkpoints/read.ts";
import { writeCheckpoint } from "../checkpoints/write.ts";
import type { Dataset } from "../datasets/read.ts";
import { describeBackend, selectBackend } from "../model/backend.ts";
import { TrainingBatches, validationBatches } from "../model/batches.ts";
import { meanLoss, modelValues } from "../model/evaluate.ts";
import { paramsToTensors, tensorsToValues } from "../model/forward.ts";
import { runSpecMetadata } from "../model/parameters.ts";
import { InvalidInputError } from "../spec/errors.ts";
import type { RunSpec } from "../spec/runSpec.ts";
import { parseTrainerEnv, type TrainerEnv } from "../spec/trainerContract.ts";
import {
  checkVocabulary,
  outputTarget,
  removeScratch,
  stagedInput,
  verifiedDataset,
  verifiedGlobal,
} from "./io.ts";
import { replicaOutputTensors } from "./output.ts";
import { innerLoop } from "./train.ts";

export interface TrainerResult {
  /** DAOTRAIN_OUTPUT_URI, where the checkpoint now is. */
  readonly output: string;
  readonly manifest: CheckpointManifest;
  /** The backend that trained it (for a reused output, the one its metrics name). */
  readonly backend: string;
  /** True when the output already held this replica's finished checkpoint (a retried pod). */
  readonly reused: boolean;
}

/** Held-out batches the trainer scores its own output on (the outer step re-scores on the spec's count). */
const TRAINER_VALIDATION_BATCHES = 2;

/**
 * One replica's round, per the trainer contract: verify the inputs' roots, train `innerSteps`
 * AdamW steps on the assigned shards from the global parameters, and write the checkpoint to the
 * output URI. The run spec (model, inner optimizer) travels inside the initial checkpoint, covered
 * by its root, and must hash to DAOTRAIN_RUN_ID.
 */
export async function runTrainer(
  environment: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<TrainerResult> {
  const env = parseTrainerEnv(environment);
  if (env.WORLD_SIZE > 1) {
    throw new InvalidInputError("trainer environment", [
      `WORLD_SIZE: ${env.WORLD_SIZE} processes per replica are not supported by this trainer; use 1`,
    ]);
  }
  await removeScratch();
  try {
    return await trainReplica(env, log);
  } finally {
    await removeScratch();
  }
}

async function trainReplica(env: TrainerEnv, log: (line: string) => void): Promise<TrainerResult> {
  const output = outputTarget(env.DAOTRAIN_OUTPUT_URI);
  const existing = await output.delivered(env.DAOTRAIN_INIT_ROOT, env.DAOTRAIN_ROUND);
  if (existing) {
    log(`output ${output.uri} already holds this replica's checkpoint ${existing.root}; nothing to do`);
    const backend = String(existing.metrics.backend ?? "unknown");
    return { output: output.uri, manifest: existing, backend, reused: true };
  }

  const { dataset, init, spec } = await verifiedInputs(env);
  log(
    `inputs verified: checkpoint ${init.manifest.root}, dataset ${dataset.manifest.root}, shards ${env.DAOTRAIN_SHARDS}`,
  );
  const backend = await selectBackend();
  log(describeBackend(backend));
  const start = modelValues(init.tensors, spec);
  const trained = await train(env, dataset, start, spec, log);

  const manifest = await writeCheckpoint(output.dir, replicaOutputTensors(start, trained.values, spec), {
    runId: env.DAOTRAIN_RUN_ID,
    round: env.DAOTRAIN_ROUND,
    parentRoot: env.DAOTRAIN_INIT_ROOT,
    metrics: {
      loss: trained.loss,
      valLoss: trained.valLoss,
      tokens: trained.tokens,
      steps: trained.steps,
      wallSeconds: Number(trained.seconds.toFixed(3)),
      tokensPerSecond: Math.round(trained.tokens / trained.seconds),
      backend: backend.name,
      replica: env.DAOTRAIN_REPLICA,
    },
    metadata: runSpecMetadata(spec),
  });
  await output.deliver();
  log(
    `wrote ${output.uri}: root ${manifest.root}, loss ${trained.loss.toFixed(4)}, valLoss ${trained.valLoss.toFixed(4)}, ` +
      `${trained.tokens} tokens in ${trained.seconds.toFixed(2)} s (${manifest.metrics.tokensPerSecond} tokens/s)`,
  );
  return { output: output.uri, manifest, backend: backend.name, reused: false };
}

/**
 * The dataset and initial checkpoint, each refused (InputMismatchError) unless it is missing
 * nothing and matches the root the orchestrator gave, and the run spec the checkpoint carries.
 */
async function verifiedInputs(
  env: TrainerEnv,
): Promise<{ dataset: Dataset; init: Checkpoint; spec: RunSpec }> {
  // Of a dataset in a bucket, only this replica's shards and the held-out ones are fetched.
  const assigned = new Set(shardIndices(env));
  const datasetDir = await stagedInput(
    env.DAOTRAIN_DATASET_URI,
    env.DAOTRAIN_DATASET_ROOT,
    "DAOTRAIN_DATASET_URI",
    (shard, index) => assigned.has(index) || shard.split === "validation",
  );
  const dataset = await verifiedDataset(datasetDir, env.DAOTRAIN_DATASET_ROOT);
  for (const i of shardIndices(env)) {
    if (dataset.manifest.shards[i]?.split !== "train") {
      throw new InvalidInputError("trainer environment", [
        `DAOTRAIN_SHARDS: ${i} is not a training shard of the dataset`,
      ]);
    }
  }
  const { init, spec } = await verifiedGlobal(env);
  checkVocabulary(dataset, spec);
  return { dataset, init, spec };
}

function shardIndices(env: TrainerEnv): number[] {
  return env.DAOTRAIN_SHARDS.split(",").map(Number);
}

/** The inner loop on this replica's shards, then a score on held-out batches; the trained values. */
async function train(
  env: TrainerEnv,
  dataset: Dataset,
  start: Record<string, Float32Array>,
  spec: RunSpec,
  log: (line: string) => void,
) {
  const shards = await Promise.all(shardIndices(env).map((i) => dataset.readShard(i)));
  const { contextLength } = spec.model;
  const batches = new TrainingBatches(
    shards,
    contextLength,
    spec.inner.batch,
    env.DAOTRAIN_SEED,
    env.DAOTRAIN_ROUND,
    env.DAOTRAIN_REPLICA,
  );
  const steps = env.DAOTRAIN_INNER_STEPS;
  const every = Math.max(1, Math.round(steps / 10));
  const params = paramsToTensors(start, spec.model);
  try {
    const result = innerLoop(params, spec, batches, steps, (step, loss) => {
      if (step % every === 0 || step === steps) log(`step ${step}/${steps} loss ${loss.toFixed(4)}`);
    });
    const held = validationBatches(
      await dataset.readValidation(),
      contextLength,
      spec.inner.batch,
      TRAINER_VALIDATION_BATCHES,
    );
    const tail = result.losses.slice(-Math.min(10, result.losses.length));
    return {
      values: await tensorsToValues(params),
      loss: tail.reduce((a, b) => a + b, 0) / tail.length,
      valLoss: meanLoss(params, spec, held),
      tokens: result.tokens,
      steps: result.losses.length,
      seconds: result.seconds,
    };
  } finally {
    tf.dispose(Object.values(params));
  }
}
