import * as tf from "@tensorflow/tfjs-core";
import { readCheckpoint } from "../checkpoints/read.ts";
import { type Tensor, toFloat32 } from "../checkpoints/tensor.ts";
import { openDataset } from "../datasets/read.ts";
import type { Bytes32, RunSpec } from "../spec/runSpec.ts";
import { selectBackend } from "./backend.ts";
import { validationBatches } from "./batches.ts";
import { type Batch, lossOf, type ModelParams, paramsToTensors } from "./forward.ts";
import { parameterShapes, runSpecFromMetadata } from "./parameters.ts";

/** The held-out batches every checkpoint of a run is judged on: the dataset's validation split. */
export async function heldOutBatches(
  datasetDir: string,
  spec: RunSpec,
  batches: number,
  datasetRoot?: Bytes32,
): Promise<Batch[]> {
  const dataset = await openDataset(datasetDir, datasetRoot);
  return validationBatches(
    await dataset.readValidation(),
    spec.model.contextLength,
    spec.inner.batch,
    batches,
  );
}

/** Mean held-out loss of parameter values (model parameters by name; other entries are ignored). */
export async function lossOfValues(
  values: Readonly<Record<string, Float32Array>>,
  spec: RunSpec,
  batches: readonly Batch[],
): Promise<number> {
  await selectBackend();
  const params = paramsToTensors(values, spec.model);
  try {
    return meanLoss(params, spec, batches);
  } finally {
    tf.dispose(Object.values(params));
  }
}

/** Float32 values of a checkpoint's model parameters, by name. */
export function modelValues(
  tensors: Readonly<Record<string, Tensor>>,
  spec: RunSpec,
): Record<string, Float32Array> {
  const values: Record<string, Float32Array> = {};
  for (const [name] of parameterShapes(spec.model)) {
    const t = tensors[name];
    if (!t) throw new Error(`the checkpoint has no tensor ${name}`);
    values[name] = toFloat32(t);
  }
  return values;
}

/**
 * Mean next-token loss (nats) of a checkpoint on `batches` held-out batches of its dataset's
 * validation split. The checkpoint is verified against its manifest as it is read; its run spec
 * (model sizes, batch size, dataset root) comes from its own metadata, and the dataset must have
 * that root.
 */
export async function evaluateLoss(
  checkpointDir: string,
  datasetDir: string,
  batches: number,
): Promise<number> {
  const checkpoint = await readCheckpoint(checkpointDir);
  const spec = runSpecFromMetadata(checkpoint.metadata, checkpointDir);
  return lossOfValues(
    modelValues(checkpoint.tensors, spec),
    spec,
    await heldOutBatches(datasetDir, spec, batches, spec.dataset),
  );
}

/** Mean loss over fixed batches (forward passes only). */
export function meanLoss(params: ModelParams, spec: RunSpec, batches: readonly Batch[]): number {
  let sum = 0;
  for (const batch of batches) {
    sum += tf.tidy(() => lossOf(params, spec.model, batch).dataSync()[0]!);
  }
  return sum / batches.length;
}
