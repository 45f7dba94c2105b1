import { elementCount, type Tensor, toFloat32 } from "./tensor.ts";

/**
 * The int8 pseudo-gradient: what a replica of a run with `outer.compression: int8` uploads instead
 * of its parameters θₖ. Two tensors in an ordinary checkpoint (so hashing, the root, bounds and
 * staging treat it like any other), laid out over the model's flattened parameter vector — its
 * parameters in the model's order, each row-major, the vector the outer step's sketch samples:
 *
 * - `pseudo_gradient.int8`: I8 [N], q, one per coordinate;
 * - `pseudo_gradient.scale`: F32 [S], one scale per block of INT8_BLOCK coordinates, each
 *   parameter cut into blocks of its own from its first coordinate (its last block shorter), so
 *   S = Σ ⌈nₚ / INT8_BLOCK⌉ and a block never mixes two parameters.
 *
 * Coordinate i of block b stands for Δ = θ − θₖ ≈ q[i] × scale[b], rounded to float32.
 */
export const INT8_VALUES_TENSOR = "pseudo_gradient.int8";
export const INT8_SCALES_TENSOR = "pseudo_gradient.scale";

/**
 * Coordinates per scale. A float32 scale costs 4 / 256 of a byte per coordinate, so the upload is
 * 25.4 % of float32's tensors (the goal is 26 %; 64 with float32 would be 26.6 %), and it is exact
 * for any Δ a float32 holds. A float16 scale would save 0.2 points at 256 (or allow 64 at 25.8 %),
 * but below 6.1e-5 it is subnormal, in steps of 6e-8: a block whose largest |Δ| is about 1e-4 (a
 * small inner lr, a rarely-seen embedding row) would have its scale, hence the whole block, off by
 * up to 4 %, and below 3.8e-6 it would vanish. Smaller blocks round less (a block's
 * error is its largest |Δ| / 254), but AdamW moves every coordinate by about lr a step, so a block's
 * largest |Δ| is a few times its typical one at 256 as at 64: on the demo's round 1, ‖Δ̂ − Δ‖ / ‖Δ‖
 * is 0.47 % at 256 against 0.41 % at 64 (`node bench/compression.ts`).
 */
export const INT8_BLOCK = 256;
/** The largest |q|: symmetric, so −128 is never written. */
const Q_MAX = 127;

/** How many scales a parameter of `length` coordinates takes. */
export function int8BlockCount(length: number): number {
  return Math.ceil(length / INT8_BLOCK);
}

/** The two tensors' element counts for parameters of these lengths. */
export function int8Layout(lengths: readonly number[]): { values: number; scales: number } {
  return {
    values: lengths.reduce((n, l) => n + l, 0),
    scales: lengths.reduce((n, l) => n + int8BlockCount(l), 0),
  };
}

/** Δ = θ − θₖ, rounded to float32: the replica's pseudo-gradient (its inner steps' movement, sign as a gradient). */
export function pseudoGradientInto(out: Float32Array, theta: Float32Array, replica: Float32Array): void {
  for (let i = 0; i < out.length; i++) out[i] = theta[i]! - replica[i]!;
}

/**
 * Quantises one parameter's Δ into `values` and `scales` (its blocks'; `block` other than
 * INT8_BLOCK only to compare block sizes): scale = largest |Δ| of the block / 127 in float32, q = Δ / scale rounded half away from zero, so quantising −Δ gives
 * −q exactly; a block of zeros gets scale 0. Throws on a non-finite Δ (a trainer's bug: its loop
 * stops on a diverging loss).
 */
export function quantiseInt8Into(
  values: Int8Array,
  scales: Float32Array,
  delta: Float32Array,
  block = INT8_BLOCK,
): void {
  for (let b = 0; b * block < delta.length; b++) {
    const from = b * block;
    const to = Math.min(delta.length, from + block);
    let largest = 0;
    for (let i = from; i < to; i++) {
      const d = delta[i]!;
      if (!Number.isFinite(d)) throw new RangeError(`pseudo-gradient value ${i} is ${d}`);
      largest = Math.max(largest, Math.abs(d));
    }
    const scale = Math.fround(largest / Q_MAX);
    scales[b] = scale;
    for (let i = from; i < to; i++) {
      const x = scale === 0 ? 0 : Math.abs(delta[i]!) / scale;
      const q = Math.min(Q_MAX, Math.floor(x + 0.5));
      values[i] = delta[i]! < 0 ? -q : q;
    }
  }
}

/**
 * Δ for a run of one parameter's coordinates: out[i] = values[i] × scales[⌊(at + i) / B⌋ − ⌊at / B⌋],
 * rounded to float32 once (an int8 times a float32 is exact in binary64), where `at` is the run's
 * first coordinate within its parameter and `scales` starts with that coordinate's block.
 */
export function dequantiseInt8Into(
  out: Float32Array,
  values: Int8Array,
  scales: Float32Array,
  at: number,
  block = INT8_BLOCK,
): void {
  const first = Math.floor(at / block);
  for (let i = 0; i < out.length; i++) {
    out[i] = values[i]! * scales[Math.floor((at + i) / block) - first]!;
  }
}

/** Each parameter's Δ (in the model's order), quantised, as the checkpoint's two tensors. */
export function int8PseudoGradientTensors(deltas: readonly Float32Array[]): Record<string, Tensor> {
  const layout = int8Layout(deltas.map((d) => d.length));
  const values = new Int8Array(layout.values);
  const scales = new Float32Array(layout.scales);
  let at = 0;
  let block = 0;
  for (const delta of deltas) {
    const blocks = int8BlockCount(delta.length);
    quantiseInt8Into(values.subarray(at, at + delta.length), scales.subarray(block, block + blocks), delta);
    at += delta.length;
    block += blocks;
  }
  return {
    [INT8_VALUES_TENSOR]: { dtype: "I8", shape: [layout.values], bytes: new Uint8Array(values.buffer) },
    [INT8_SCALES_TENSOR]: { dtype: "F32", shape: [layout.scales], bytes: new Uint8Array(scales.buffer) },
  };
}

/**
 * The inverse of int8PseudoGradientTensors: each parameter's Δ in turn, given the parameters'
 * lengths in the model's order (one parameter's worth at a time; the caller keeps what it needs).
 * The tensors' dtypes and shapes must have been checked against `lengths`.
 */
export function* dequantiseInt8(
  values: Pick<Tensor, "bytes" | "shape">,
  scales: Tensor,
  lengths: readonly number[],
): Generator<Float32Array> {
  const q = int8Values(values);
  const s = toFloat32(scales);
  let at = 0;
  let block = 0;
  for (const length of lengths) {
    const blocks = int8BlockCount(length);
    const delta = new Float32Array(length);
    dequantiseInt8Into(delta, q.subarray(at, at + length), s.subarray(block, block + blocks), 0);
    at += length;
    block += blocks;
    yield delta;
  }
}

/** The q values of an I8 tensor, as a view when they can be. */
export function int8Values(tensor: Pick<Tensor, "bytes" | "shape">): Int8Array {
  return new Int8Array(tensor.bytes.buffer, tensor.bytes.byteOffset, elementCount(tensor.shape));
}
