import * as tf from "@tensorflow/tfjs-core";
import type { ModelSpec } from "../spec/runSpec.ts";
import { parameterShapes } from "./parameters.ts";

/** The model's parameters as TensorFlow.js tensors, by GPT-2 name (see parameters.ts). */
export type ModelParams = Record<string, tf.Tensor>;

/** A batch of token windows: `inputs[b, t]` predicts `targets[b, t]` (the next token). */
export interface Batch {
  readonly inputs: Int32Array;
  readonly targets: Int32Array;
  readonly size: number;
}

export function paramsToTensors(
  values: Readonly<Record<string, Float32Array>>,
  model: ModelSpec,
): ModelParams {
  const params: ModelParams = {};
  for (const [name, shape] of parameterShapes(model)) {
    const v = values[name];
    if (!v) throw new Error(`parameter ${name} is missing`);
    params[name] = tf.tensor(v, shape, "float32");
  }
  return params;
}

export async function tensorsToValues(params: ModelParams): Promise<Record<string, Float32Array>> {
  const out: Record<string, Float32Array> = {};
  for (const [name, t] of Object.entries(params)) out[name] = (await t.data()) as Float32Array;
  return out;
}

function layerNorm(x: tf.Tensor, gain: tf.Tensor, bias: tf.Tensor): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), gain), bias);
}

/** GELU, tanh approximation (as GPT-2). */
function gelu(x: tf.Tensor): tf.Tensor {
  const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.square(x), x), 0.044715)), Math.sqrt(2 / Math.PI));
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
}

/** Swaps the last two axes (a matrix transpose, batched for rank 3). */
function swapLast(x: tf.Tensor): tf.Tensor {
  return tf.transpose(x, x.rank === 3 ? [0, 2, 1] : [1, 0]);
}

/**
 * a·b (rank 2, or batched rank 3) whose gradients are also plain a·b products of explicitly
 * transposed operands. tfjs-backend-wasm runs untransposed products through XNNPACK but the
 * transposeA/transposeB variants, which tf.matMul's own gradient uses, 10–20× slower.
 */
const matMul = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [a, b, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved as [tf.Tensor, tf.Tensor];
      return [
        tf.matMul(dy as tf.Tensor3D, swapLast(sb) as tf.Tensor3D),
        tf.matMul(swapLast(sa) as tf.Tensor3D, dy as tf.Tensor3D),
      ];
    },
  };
}) as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/** x·W + b for x [N, in], W [in, out]. */
function linear(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor): tf.Tensor {
  return tf.add(matMul(x, weight), bias);
}

/** Additive causal mask [T, T]: 0 on and below the diagonal, −1e9 above. */
function causalMask(t: number): tf.Tensor {
  return tf.mul(tf.sub(tf.linalg.bandPart(tf.ones([t, t]), -1, 0), 1), 1e9);
}

/** Splits [B·T, D] into heads [B·H, T, D/H]. */
function toHeads(x: tf.Tensor, b: number, t: number, h: number): tf.Tensor {
  const hd = x.shape[1]! / h;
  return tf.reshape(tf.transpose(tf.reshape(x, [b, t, h, hd]), [0, 2, 1, 3]), [b * h, t, hd]);
}

/** Joins heads [B·H, T, D/H] back into [B·T, D]. */
function fromHeads(x: tf.Tensor, b: number, t: number, h: number): tf.Tensor {
  const hd = x.shape[2]!;
  return tf.reshape(tf.transpose(tf.reshape(x, [b, h, t, hd]), [0, 2, 1, 3]), [b * t, h * hd]);
}

function attention(
  x: tf.Tensor,
  p: ModelParams,
  l: number,
  spec: ModelSpec,
  b: number,
  t: number,
  mask: tf.Tensor,
) {
  const qkv = linear(x, p[`h.${l}.attn.c_attn.weight`]!, p[`h.${l}.attn.c_attn.bias`]!);
  const [q, k, v] = tf.split(qkv, 3, 1) as [tf.Tensor, tf.Tensor, tf.Tensor];
  const h = spec.heads;
  const scores = tf.add(
    tf.mul(matMul(toHeads(q, b, t, h), swapLast(toHeads(k, b, t, h))), 1 / Math.sqrt(spec.dModel / h)),
    mask,
  );
  const out = fromHeads(matMul(tf.softmax(scores), toHeads(v, b, t, h)), b, t, h);
  return linear(out, p[`h.${l}.attn.c_proj.weight`]!, p[`h.${l}.attn.c_proj.bias`]!);
}

function mlp(x: tf.Tensor, p: ModelParams, l: number): tf.Tensor {
  const hidden = gelu(linear(x, p[`h.${l}.mlp.c_fc.weight`]!, p[`h.${l}.mlp.c_fc.bias`]!));
  return linear(hidden, p[`h.${l}.mlp.c_proj.weight`]!, p[`h.${l}.mlp.c_proj.bias`]!);
}

/** Mean next-token cross-entropy (nats) of the model on a batch. */
export function lossOf(p: ModelParams, spec: ModelSpec, batch: Batch): tf.Scalar {
  const logits = logitsOf(p, spec, batch.inputs, batch.size);
  const targets = tf.oneHot(tf.tensor1d(batch.targets, "int32"), spec.vocabSize);
  return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), targets), -1))) as tf.Scalar;
}

/** Next-token logits [b·t, vocabSize] for `b` windows of `t` tokens each (`tokens` row-major). */
export function logitsOf(p: ModelParams, spec: ModelSpec, tokens: Int32Array, b: number): tf.Tensor {
  const t = tokens.length / b;
  const mask = causalMask(t);
  // The embedding lookup as oneHot·wte: its gradient is a matMul, which every backend has
  // (gather's needs UnsortedSegmentSum, which the wasm backend lacks).
  const inputs = tf.oneHot(tf.tensor1d(tokens, "int32"), spec.vocabSize);
  const embedded = tf.reshape(matMul(inputs, p.wte!), [b, t, spec.dModel]);
  let x = tf.reshape(tf.add(embedded, tf.slice(p.wpe!, [0, 0], [t, spec.dModel])), [b * t, spec.dModel]);
  for (let l = 0; l < spec.layers; l++) {
    x = tf.add(
      x,
      attention(layerNorm(x, p[`h.${l}.ln_1.weight`]!, p[`h.${l}.ln_1.bias`]!), p, l, spec, b, t, mask),
    );
    x = tf.add(x, mlp(layerNorm(x, p[`h.${l}.ln_2.weight`]!, p[`h.${l}.ln_2.bias`]!), p, l));
  }
  const final = layerNorm(x, p["ln_f.weight"]!, p["ln_f.bias"]!);
  return matMul(final, swapLast(p.wte!));
}
