import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import type { ModelSpec } from "../spec/runSpec.ts";
import type { Batch } from "./forward.ts";
import { exp, log, sqrt, tanh } from "./ieeeMath.ts";

/** Parameter values by GPT-2 name (parameters.ts); other entries are ignored. */
export type ParameterValues = Readonly<Record<string, Float32Array>>;

const LAYER_NORM_EPSILON = 1e-5;
/** Positions whose logits are computed together (one block of the product with wteᵀ). */
const LOGIT_ROWS = 4;
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
  /** Weight matrices transposed ([out, in]), made once per evaluation: every product's sums run along contiguous memory. */
  private readonly transposed = new Map<string, Float32Array>();

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
    this.logits = new Float64Array(LOGIT_ROWS * model.vocabSize);
  }

  private param(name: string): Float32Array {
    const v = this.p[name];
    if (!v) throw new Error(`parameter ${name} is missing`);
    return v;
  }

  /** The [n, m] matrix `name`, transposed to [m, n]. */
  private columnsOf(name: string, n: number, m: number): Float32Array {
    let t = this.transposed.get(name);
    if (!t) {
      const w = this.param(name);
      t = new Float32Array(n * m);
      for (let k = 0; k < n; k++) for (let j = 0; j < m; j++) t[j * n + k] = w[k * m + j]!;
      this.transposed.set(name, t);
    }
    return t;
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
      linear(this.qkv, this.normed, t, d, this.columnsOf(`${h}.attn.c_attn.weight`, d, 3 * d), 3 * d);
      addBias(this.qkv, t, this.param(`${h}.attn.c_attn.bias`));
      this.attend(t);
      linear(this.projected, this.attended, t, d, this.columnsOf(`${h}.attn.c_proj.weight`, d, d), d);
      addBias(this.projected, t, this.param(`${h}.attn.c_proj.bias`));
      addInto(this.x, this.projected, t * d);
      layerNorm(this.normed, this.x, t, d, this.param(`${h}.ln_2.weight`), this.param(`${h}.ln_2.bias`));
      linear(this.hidden, this.normed, t, d, this.columnsOf(`${h}.mlp.c_fc.weight`, d, f), f);
      addBias(this.hidden, t, this.param(`${h}.mlp.c_fc.bias`));
      gelu(this.hidden, t * f);
      linear(this.projected, this.hidden, t, f, this.columnsOf(`${h}.mlp.c_proj.weight`, f, d), d);
      addBias(this.projected, t, this.param(`${h}.mlp.c_proj.bias`));
      addInto(this.x, this.projected, t * d);
    }
    layerNorm(this.normed, this.x, t, d, this.param("ln_f.weight"), this.param("ln_f.bias"));
    let sum = 0;
    for (let i = 0; i < t; i += LOGIT_ROWS) sum += this.tokenLosses(i, targets.subarray(i, i + LOGIT_ROWS));
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

  /** Σ −log softmax(normed[i + r] · wteᵀ)[targets[r]] over the rows from i (the output is tied to wte, [vocab, d]). */
  private tokenLosses(i: number, targets: Int32Array): number {
    const d = this.model.dModel;
    const v = this.model.vocabSize;
    const logits = this.logits;
    linear(logits, this.normed.subarray(i * d), targets.length, d, this.param("wte"), v);
    let sum = 0;
    for (let r = 0; r < targets.length; r++) {
      const row = r * v;
      let max = Number.NEGATIVE_INFINITY;
      for (let c = 0; c < v; c++) if (logits[row + c]! > max) max = logits[row + c]!;
      let z = 0;
      for (let c = 0; c < v; c++) z += exp(logits[row + c]! - max);
      sum += -(logits[row + targets[r]!]! - max - log(z));
    }
    return sum;
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
 * out[i, j] = Σₖ x[i, k] · w[k, j] for a [rows, n] by [n, m] product, given w transposed
 * (`wt[j, k]`): each sum starts from zero and runs over k in ascending order, in a local binary64
 * accumulator. Blocks of 4 rows × 4 columns share their loads (for speed); an element's sum is the
 * same whichever path computes it.
 */
function linear(
  out: Float64Array,
  x: Float64Array,
  rows: number,
  n: number,
  wt: Float32Array,
  m: number,
): void {
  let i = 0;
  for (; i + 4 <= rows; i += 4) {
    let j = 0;
    for (; j + 4 <= m; j += 4) block(out, x, i, n, wt, j, m);
    for (; j < m; j++) for (let r = i; r < i + 4; r++) out[r * m + j] = dot(x, r * n, wt, j * n, n);
  }
  for (; i < rows; i++) for (let j = 0; j < m; j++) out[i * m + j] = dot(x, i * n, wt, j * n, n);
}

function dot(x: Float64Array, xo: number, wt: Float32Array, wo: number, n: number): number {
  let sum = 0;
  for (let k = 0; k < n; k++) sum += x[xo + k]! * wt[wo + k]!;
  return sum;
}

/** The 4 × 4 block of `linear` at rows i…i+3, columns j…j+3. */
function block(
  out: Float64Array,
  x: Float64Array,
  i: number,
  n: number,
  wt: Float32Array,
  j: number,
  m: number,
) {
  const [x0, x1, x2, x3] = [i * n, (i + 1) * n, (i + 2) * n, (i + 3) * n];
  const [w0, w1, w2, w3] = [j * n, (j + 1) * n, (j + 2) * n, (j + 3) * n];
  let c00 = 0,
    c01 = 0,
    c02 = 0,
    c03 = 0,
    c10 = 0,
    c11 = 0,
    c12 = 0,
    c13 = 0;
  let c20 = 0,
    c21 = 0,
    c22 = 0,
    c23 = 0,
    c30 = 0,
    c31 = 0,
    c32 = 0,
    c33 = 0;
  for (let k = 0; k < n; k++) {
    const a0 = x[x0 + k]!;
    const a1 = x[x1 + k]!;
    const a2 = x[x2 + k]!;
    const a3 = x[x3 + k]!;
    const b0 = wt[w0 + k]!;
    const b1 = wt[w1 + k]!;
    const b2 = wt[w2 + k]!;
    const b3 = wt[w3 + k]!;
    c00 += a0 * b0;
    c01 += a0 * b1;
    c02 += a0 * b2;
    c03 += a0 * b3;
    c10 += a1 * b0;
    c11 += a1 * b1;
    c12 += a1 * b2;
    c13 += a1 * b3;
    c20 += a2 * b0;
    c21 += a2 * b1;
    c22 += a2 * b2;
    c23 += a2 * b3;
    c30 += a3 * b0;
    c31 += a3 * b1;
    c32 += a3 * b2;
    c33 += a3 * b3;
  }
  const o = i * m + j;
  out[o] = c00;
  out[o + 1] = c01;
  out[o + 2] = c02;
  out[o + 3] = c03;
  out[o + m] = c10;
  out[o + m + 1] = c11;
  out[o + m + 2] = c12;
  out[o + m + 3] = c13;
  out[o + 2 * m] = c20;
  out[o + 2 * m + 1] = c21;
  out[o + 2 * m + 2] = c22;
  out[o + 2 * m + 3] = c23;
  out[o + 3 * m] = c30;
  out[o + 3 * m + 1] = c31;
  out[o + 3 * m + 2] = c32;
  out[o + 3 * m + 3] = c33;
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
