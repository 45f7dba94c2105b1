import * as tf from "@tensorflow/tfjs-core";
import type { ModelSpec } from "../spec/runSpec.ts";
import { SeededRandom } from "../spec/seededRandom.ts";
import { selectBackend } from "./backend.ts";
import { logitsOf, type ModelParams, paramsToTensors } from "./forward.ts";

/** Next-token logits of whole windows (each `contextLength` tokens or fewer, all of one length), row-major [windows, t, vocab]. */
export async function windowLogits(
  values: Readonly<Record<string, Float32Array>>,
  model: ModelSpec,
  windows: readonly ArrayLike<number>[],
): Promise<Float32Array> {
  await selectBackend();
  const params = paramsToTensors(values, model);
  try {
    const tokens = Int32Array.from(windows.flatMap((w) => Array.from(w)));
    return tf.tidy(() => logitsOf(params, model, tokens, windows.length).dataSync() as Float32Array);
  } finally {
    tf.dispose(Object.values(params));
  }
}

export interface ContinueOptions {
  /** New tokens to generate. */
  readonly tokens: number;
  /** 0 picks the most likely token every time (greedy); above 0 samples from softmax(logits / T). */
  readonly temperature: number;
  /** Seeds the sampler, so the same model, prompt and seed give the same text. */
  readonly seed: number;
}

/**
 * Continues `prompt` token by token, each step reading at most the last `contextLength` tokens
 * (the model has no positions beyond them).
 */
export async function continueTokens(
  values: Readonly<Record<string, Float32Array>>,
  model: ModelSpec,
  prompt: ArrayLike<number>,
  options: ContinueOptions,
): Promise<number[]> {
  if (prompt.length === 0) throw new Error("the prompt is empty: give at least one token to continue");
  await selectBackend();
  const params = paramsToTensors(values, model);
  const random = new SeededRandom(options.seed, 0x5a3e);
  const tokens = Array.from(prompt);
  try {
    for (let i = 0; i < options.tokens; i++) {
      const window = Int32Array.from(tokens.slice(-model.contextLength));
      const last = lastLogits(params, model, window);
      tokens.push(pickToken(last, options.temperature, random));
    }
  } finally {
    tf.dispose(Object.values(params));
  }
  return tokens.slice(prompt.length);
}

function lastLogits(params: ModelParams, model: ModelSpec, window: Int32Array): Float32Array {
  return tf.tidy(() => {
    const logits = logitsOf(params, model, window, 1);
    return tf.slice(logits, [window.length - 1, 0], [1, model.vocabSize]).dataSync() as Float32Array;
  });
}

/** The argmax (lowest id on ties) at temperature 0; else a draw from softmax(logits / temperature). */
export function pickToken(logits: Float32Array, temperature: number, random: SeededRandom): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  if (temperature === 0) return best;
  const weights = Array.from(logits, (l) => Math.exp((l - logits[best]!) / temperature));
  let at = random.next() * weights.reduce((a, b) => a + b, 0);
  for (const [token, weight] of weights.entries()) {
    at -= weight;
    if (at < 0) return token;
  }
  return best;
}
