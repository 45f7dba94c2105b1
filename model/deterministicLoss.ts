import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import type { ModelSpec } from "../spec/runSpec.ts";
import type { Batch } from "./forward.ts";
import { exp, log, sqrt, tanh } from "./ieeeMath.ts";

/** Parameter values by GPT-2 name (parameters.ts); other entries are ignored. */
export type ParameterValues = Readonly<Record<string, Float32Array>>;

const LAYER_NORM_EPSILON = 1e-5;
/** √(2/π), GELU's tanh approximation's constant, as the binary64 literal nearest to it. */
const GELU_SCALE = 0.7978845608028654;

/**
 * Mean next-token cross-entropy (nats) of the model over every token of `batches`: the same model
 * as forward.ts's `lossOf`, computed in plain JavaScript in binary64 with every sum in an order
 * this file fixes (rows, then heads, then the reduced index ascending) and exp/log/tanh/sqrt from
 * ieeeMath.ts. It uses no threads, no backend and no library reduction, so any machine computes
 * the identical number from the same parameters and tokens: the scores the outer step's verdicts
 * rest on can be recomputed bit for bit by anyone, on any engine. It yields to the event loop
 * between sequences (a large model takes seconds per sequence), which changes nothing computed.
 */
export async function deterministicLoss(
  values: ParameterValues,
  model: ModelSpec,
  batches: readonly Batch[],
): Promise<number> {
  const forward = new SequenceForward(values, model);
  let sum = 0;
  let tokens = 0;
  for (const batch of batches) {
    const t = batch.inputs.length / batch.size;
    for (let row = 0; row < batch.size; row++) {
      sum += forward.negativeLogLikelihood(
        batch.inputs.subarray(row * t, (row + 1) * t),
        batch.targets.subarray(row * t, (row + 1) * t),
      );
      tokens += t;
      await yieldToEventLoop();
    }
  }
  return sum / tokens;
}

/** The forward pass over one sequence at a time, with buffers reused between sequences. */
class SequenceForward {
  private readonly p: ParameterValues;
  private readonly model: ModelSpec;
  private readonly x: Float64Array;
  private readonly normed: Float64Array;
  private readonly qkv: Float64Array;
  private readonly attended: Float64Array;
  private readonly projected: Float64Array;
  private readonly hidden: Float64Array;
  private readonly scores: Float64Array;
  private readonly logits: Float64Array;

  constructor(values: ParameterValues, model: ModelSpec) {
    this.p = values;
    this.model = model;
    const t = model.contextLength;
    const d = model.dModel;
    this.x = new Float64Array(t * d);
    this.normed = new Float64Array(t * d);
    this.qkv = new Float64Array(t * 3 * d);
    this.attended = new Float64Array(t * d);
    this.projected = new Float64Array(t * d);
    this.hidden = new Float64Array(t * d * model.ffnMultiplier);
    this.scores = new Float64Array(t);
    this.logits = new Float64Array(model.vocabSize);
  }

  private param(name: string): Float32Array {
    const v = this.p[name];
    if (!v) throw new Error(`parameter ${name} is missing`);
    return v;
  }

  /** Σ over positions of −log p(target | inputs so far). */
  negativeLogLikelihood(inputs: Int32Array, targets: Int32Array): number {
    const { model } = this;
    const t = inputs.length;
    const d = model.dModel;
    const f = d * model.ffnMultiplier;
    this.embed(inputs);
    for (let l = 0; l < model.layers; l++) {
      const h = `h.${l}`;
      layerNorm(this.normed, this.x, t, d, this.param(`${h}.ln_1.weight`), this.param(`${h}.ln_1.bias`));
      linear(this.qkv, this.normed, t, d, this.param(`${h}.attn.c_attn.weight`), 3 * d);
      addBias(this.qkv, t, this.param(`${h}.attn.c_attn.bias`));
      this.attend(t);
      linear(this.projected, this.attended, t, d, this.param(`${h}.attn.c_proj.weight`), d);
      addBias(this.projected, t, this.param(`${h}.attn.c_proj.bias`));
      addInto(this.x, this.projected, t * d);
      layerNorm(this.normed, this.x, t, d, this.param(`${h}.ln_2.weight`), this.param(`${h}.ln_2.bias`));
      linear(this.hidden, this.normed, t, d, this.param(`${h}.mlp.c_fc.weight`), f);
      addBias(this.hidden, t, this.param(`${h}.mlp.c_fc.bias`));
      gelu(this.hidden, t * f);
      linear(this.projected, this.hidden, t, f, this.param(`${h}.mlp.c_proj.weight`), d);
      addBias(this.projected, t, this.param(`${h}.mlp.c_proj.bias`));
      addInto(this.x, this.projected, t * d);
    }
    layerNorm(this.normed, this.x, t, d, this.param("ln_f.weight"), this.param("ln_f.bias"));
    let sum = 0;
    for (let i = 0; i < t; i++) sum += this.tokenLoss(i, targets[i]!);
    return sum;
  }

  private embed(inputs: Int32Array): void {
    const d = this.model.dModel;
    const wte = this.param("wte");
    const wpe = this.param("wpe");
    for (let i = 0; i < inputs.length; i++) {
      const token = inputs[i]!;
      if (token < 0 || token >= this.model.vocabSize)
        throw new RangeError(`token ${token} is outside the model's vocabulary of ${this.model.vocabSize}`);
      for (let c = 0; c < d; c++) this.x[i * d + c] = wte[token * d + c]! + wpe[i * d + c]!;
    }
  }

  /** Causal multi-head attention of `qkv` (q, k, v side by side) into `attended`. */
  private attend(t: number): void {
    const d = this.model.dModel;
    const heads = this.model.heads;
    const hd = d / heads;
    const scale = 1 / sqrt(hd);
    const qkv = this.qkv;
    const scores = this.scores;
    const attended = this.attended;
    const stride = 3 * d;
    for (let head = 0; head < heads; head++) {
      const q0 = head * hd;
      const k0 = d + head * hd;
      const v0 = 2 * d + head * hd;
      for (let i = 0; i < t; i++) {
        let max = Number.NEGATIVE_INFINITY;
        for (let j = 0; j <= i; j++) {
          let dot = 0;
          for (let c = 0; c < hd; c++) dot += qkv[i * stride + q0 + c]! * qkv[j * stride + k0 + c]!;
          const s = dot * scale;
          scores[j] = s;
          if (s > max) max = s;
        }
        let z = 0;
        for (let j = 0; j <= i; j++) {
          const e = exp(scores[j]! - max);
          scores[j] = e;
          z += e;
        }
        for (let c = 0; c < hd; c++) attended[i * d + q0 + c] = 0;
        for (let j = 0; j <= i; j++) {
          const weight = scores[j]! / z;
          for (let c = 0; c < hd; c++)
            attended[i * d + q0 + c] = attended[i * d + q0 + c]! + weight * qkv[j * stride + v0 + c]!;
        }
      }
    }
  }

  /** −log softmax(normed[i] · wteᵀ)[target]. */
  private tokenLoss(i: number, target: number): number {
    const d = this.model.dModel;
    const wte = this.param("wte");
    const logits = this.logits;
    const normed = this.normed;
    let max = Number.NEGATIVE_INFINITY;
    for (let v = 0; v < logits.length; v++) {
      let dot = 0;
      for (let c = 0; c < d; c++) dot += normed[i * d + c]! * wte[v * d + c]!;
      logits[v] = dot;
      if (dot > max) max = dot;
    }
    let z = 0;
    for (let v = 0; v < logits.length; v++) z += exp(logits[v]! - max);
    return -(logits[target]! - max - log(z));
  }
}

/** out = ((x − mean) · 1/√(variance + ε)) · gain + bias, per row of `d`. */
function layerNorm(
  out: Float64Array,
  x: Float64Array,
  rows: number,
  d: number,
  gain: Float32Array,
  bias: Float32Array,
): void {
  for (let i = 0; i < rows; i++) {
    const o = i * d;
    let sum = 0;
    for (let c = 0; c < d; c++) sum += x[o + c]!;
    const mean = sum / d;
    let squares = 0;
    for (let c = 0; c < d; c++) {
      const centred = x[o + c]! - mean;
      squares += centred * centred;
    }
    const inverse = 1 / sqrt(squares / d + LAYER_NORM_EPSILON);
    for (let c = 0; c < d; c++) out[o + c] = (x[o + c]! - mean) * inverse * gain[c]! + bias[c]!;
  }
}

/**
 * out[i, j] = Σₖ x[i, k] · w[k, j] for a [rows, n] by [n, m] product, each sum taken over k in
 * ascending order from zero. Four rows share each pass over w (for speed); a row's sums are the
 * same whichever pass computes it.
 */
function linear(
  out: Float64Array,
  x: Float64Array,
  rows: number,
  n: number,
  w: Float32Array,
  m: number,
): void {
  out.fill(0, 0, rows * m);
  let i = 0;
  for (; i + 4 <= rows; i += 4) {
    const o0 = i * m;
    const o1 = o0 + m;
    const o2 = o1 + m;
    const o3 = o2 + m;
    for (let k = 0; k < n; k++) {
      const a0 = x[i * n + k]!;
      const a1 = x[(i + 1) * n + k]!;
      const a2 = x[(i + 2) * n + k]!;
      const a3 = x[(i + 3) * n + k]!;
      const r = k * m;
      for (let j = 0; j < m; j++) {
        const wv = w[r + j]!;
        out[o0 + j] = out[o0 + j]! + a0 * wv;
        out[o1 + j] = out[o1 + j]! + a1 * wv;
        out[o2 + j] = out[o2 + j]! + a2 * wv;
        out[o3 + j] = out[o3 + j]! + a3 * wv;
      }
    }
  }
  for (; i < rows; i++) {
    const o = i * m;
    for (let k = 0; k < n; k++) {
      const a = x[i * n + k]!;
      const r = k * m;
      for (let j = 0; j < m; j++) out[o + j] = out[o + j]! + a * w[r + j]!;
    }
  }
}

function addBias(out: Float64Array, rows: number, bias: Float32Array): void {
  const m = bias.length;
  for (let i = 0; i < rows; i++) for (let j = 0; j < m; j++) out[i * m + j] = out[i * m + j]! + bias[j]!;
}

function addInto(x: Float64Array, y: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) x[i] = x[i]! + y[i]!;
}

/** GELU, tanh approximation, in place: (x · 0.5) · (tanh((x + x²·x · 0.044715) · √(2/π)) + 1). */
function gelu(x: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = x[i]!;
    x[i] = v * 0.5 * (tanh((v + v * v * v * 0.044715) * GELU_SCALE) + 1);
  }
}
