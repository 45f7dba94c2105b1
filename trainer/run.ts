import * as tf from "@tensorflow/tfjs-core";
import type { CheckpointManifest } from "../checkpoints/manifest.ts";
import { readCheckpointManifest } from "../checkpoints/manifest.ts";
import { readCheckpoint } from "../checkpoints/read.ts";
import { verifyCheckpoint } from "../checkpoints/verify.ts";
import { writeCheckpoint } from "../checkpoints/write.ts";
import { openDataset } from "../datasets/read.ts";
import { InvalidInputError } from "../spec/errors.ts";
import { runIdOf } from "../spec/runSpec.ts";
import { parseTrainerEnv } from "../spec/trainerContract.ts";
import { describeBackend, selectBackend } from "./backend.ts";
import { TrainingBatches, validationBatches } from "./batches.ts";
import { modelValues } from "./evaluate.ts";
import { paramsToTensors, tensorsToValues } from "./model.ts";
import { runSpecFromMetadata, runSpecMetadata, toTensors } from "./parameters.ts";
import { innerLoop, meanLoss } from "./train.ts";
import { localPathOf } from "./uri.ts";

/** An input does not match the root the orchestrator gave for it; the trainer refuses to train. */
export class InputMismatchError extends Error {
  override readonly name = "InputMismatchError";
}

export interface TrainerResult {
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
  const initDir = localPathOf(env.DAOTRAIN_INIT_URI, "DAOTRAIN_INIT_URI");
  const datasetDir = localPathOf(env.DAOTRAIN_DATASET_URI, "DAOTRAIN_DATASET_URI");
  const outputDir = localPathOf(env.DAOTRAIN_OUTPUT_URI, "DAOTRAIN_OUTPUT_URI");
  const shardIndices = env.DAOTRAIN_SHARDS.split(",").map(Number);

  const existing = await finishedOutput(outputDir, env.DAOTRAIN_INIT_ROOT, env.DAOTRAIN_ROUND);
  if (existing) {
    log(`output ${outputDir} already holds this replica's checkpoint ${existing.root}; nothing to do`);
    return {
      output: outputDir,
      manifest: existing,
      backend: String(existing.metrics.backend ?? "unknown"),
      reused: true,
    };
  }

  const dataset = await openDataset(datasetDir, env.DAOTRAIN_DATASET_ROOT).catch((error: Error) => {
    throw new InputMismatchError(error.message);
  });
  for (const i of shardIndices) {
    if (dataset.manifest.shards[i]?.split !== "train") {
      throw new InvalidInputError("trainer environment", [
        `DAOTRAIN_SHARDS: ${i} is not a training shard of the dataset`,
      ]);
    }
  }
  const init = await readCheckpoint(initDir, { expectedRoot: env.DAOTRAIN_INIT_ROOT }).catch(
    (error: Error) => {
      throw new InputMismatchError(error.message);
    },
  );
  const spec = runSpecFromMetadata(init.metadata, initDir);
  if (runIdOf(spec) !== env.DAOTRAIN_RUN_ID || init.manifest.runId !== env.DAOTRAIN_RUN_ID) {
    throw new InputMismatchError(
      `the initial checkpoint belongs to run ${runIdOf(spec)}, not ${env.DAOTRAIN_RUN_ID}`,
    );
  }
  if (dataset.manifest.tokenizer.vocabSize > spec.model.vocabSize) {
    throw new InputMismatchError(
      `the dataset's vocabulary (${dataset.manifest.tokenizer.vocabSize}) exceeds the model's (${spec.model.vocabSize})`,
    );
  }
  log(
    `inputs verified: checkpoint ${env.DAOTRAIN_INIT_ROOT}, dataset ${env.DAOTRAIN_DATASET_ROOT}, shards ${env.DAOTRAIN_SHARDS}`,
  );

  const backend = await selectBackend();
  log(describeBackend(backend));
  const shards = await Promise.all(shardIndices.map((i) => dataset.readShard(i)));
  const batches = new TrainingBatches(
    shards,
    spec.model.contextLength,
    spec.inner.batch,
    env.DAOTRAIN_SEED,
    env.DAOTRAIN_ROUND,
    env.DAOTRAIN_REPLICA,
  );
  const params = paramsToTensors(modelValues(init.tensors, spec), spec.model);
  const every = Math.max(1, Math.round(env.DAOTRAIN_INNER_STEPS / 10));
  const result = innerLoop(params, spec, batches, env.DAOTRAIN_INNER_STEPS, (step, loss) => {
    if (step % every === 0 || step === env.DAOTRAIN_INNER_STEPS)
      log(`step ${step}/${env.DAOTRAIN_INNER_STEPS} loss ${loss.toFixed(4)}`);
  });
  const held = validationBatches(
    await dataset.readValidation(),
    spec.model.contextLength,
    spec.inner.batch,
    TRAINER_VALIDATION_BATCHES,
  );
  const valLoss = meanLoss(params, spec, held);
  const values = await tensorsToValues(params);
  tf.dispose(Object.values(params));

  const tail = result.losses.slice(-Math.min(10, result.losses.length));
  const manifest = await writeCheckpoint(outputDir, toTensors(values, spec.model), {
    runId: env.DAOTRAIN_RUN_ID,
    round: env.DAOTRAIN_ROUND,
    parentRoot: env.DAOTRAIN_INIT_ROOT,
    metrics: {
      loss: tail.reduce((a, b) => a + b, 0) / tail.length,
      valLoss,
      tokens: result.tokens,
      steps: result.losses.length,
      wallSeconds: Number(result.seconds.toFixed(3)),
      tokensPerSecond: Math.round(result.tokens / result.seconds),
      backend: backend.name,
      replica: env.DAOTRAIN_REPLICA,
    },
    metadata: runSpecMetadata(spec),
  });
  log(
    `wrote ${outputDir}: root ${manifest.root}, loss ${manifest.metrics.loss?.toFixed(4)}, valLoss ${valLoss.toFixed(4)}, ` +
      `${result.tokens} tokens in ${result.seconds.toFixed(2)} s (${manifest.metrics.tokensPerSecond} tokens/s)`,
  );
  return { output: outputDir, manifest, backend: backend.name, reused: false };
}

/** The output's manifest when it is already this replica's verified checkpoint for this round. */
async function finishedOutput(
  dir: string,
  parentRoot: string,
  round: number,
): Promise<CheckpointManifest | null> {
  const manifest = await readCheckpointManifest(dir).catch(() => null);
  if (!manifest || manifest.parentRoot !== parentRoot || manifest.round !== round) return null;
  return (await verifyCheckpoint(dir, manifest.root)).ok ? manifest : null;
}
