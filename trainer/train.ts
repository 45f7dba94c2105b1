import * as tf from "@tensorflow/tfjs-core";
// Registers the gradient of every kernel (tfjs-core alone ships them only as untranspiled ESM).
import "@tensorflow/tfjs";
import { type Batch, lossOf, type ModelParams } from "../model/forward.ts";
import type { RunSpec } from "../spec/runSpec.ts";
import { AdamW } from "./adamw.ts";

export interface InnerLoopResult {
  /** Training loss of each step, in order. */
  readonly losses: readonly number[];
  readonly tokens: number;
  readonly seconds: number;
}

/** A step's loss was NaN or infinite: training diverged. */
export class TrainingDivergedError extends Error {
  override readonly name = "TrainingDivergedError";
}

/** Where the inner loop takes its batches from: a replica's `TrainingBatches`, or a bench's mix. */
export interface BatchSource {
  next(): Batch;
}

/**
 * The inner loop: `steps` AdamW steps (fresh optimizer state, the spec's lr, weight decay and
 * batch) on batches from `batches`. Replaces `params` in place with the trained tensors.
 */
export function innerLoop(
  params: ModelParams,
  spec: RunSpec,
  batches: BatchSource,
  steps: number,
  onStep: (step: number, loss: number) => void = () => {},
): InnerLoopResult {
  const names = Object.keys(params);
  const optimizer = new AdamW({ lr: spec.inner.lr, weightDecay: spec.inner.weightDecay });
  const losses: number[] = [];
  const started = performance.now();
  let tokens = 0;
  try {
    for (let step = 1; step <= steps; step++) {
      const batch = batches.next();
      const { value, grads } = tf.tidy(() =>
        tf.valueAndGrads((...ts: tf.Tensor[]) => lossOf(byName(names, ts), spec.model, batch))(
          names.map((n) => params[n]!),
        ),
      );
      const loss = value.dataSync()[0]!;
      value.dispose();
      if (!Number.isFinite(loss)) {
        tf.dispose(grads);
        throw new TrainingDivergedError(`the training loss became ${loss} at step ${step}; lower inner.lr`);
      }
      optimizer.step(params, byName(names, grads));
      tf.dispose(grads);
      losses.push(loss);
      tokens += batch.inputs.length;
      onStep(step, loss);
    }
  } finally {
    optimizer.dispose();
  }
  return { losses, tokens, seconds: (performance.now() - started) / 1000 };
}

function byName<T>(names: readonly string[], values: readonly T[]): Record<string, T> {
  return Object.fromEntries(names.map((n, i) => [n, values[i]!]));
}
