import { describe, expect, it } from "vitest";
import { SeededRandom } from "../spec/seededRandom.ts";
import {
  dequantiseInt8Into,
  INT8_BLOCK,
  INT8_SCALES_TENSOR,
  INT8_VALUES_TENSOR,
  int8BlockCount,
  int8PseudoGradientTensors,
  int8Values,
  pseudoGradientInto,
  quantiseInt8Into,
} from "./pseudoGradient.ts";
import { toFloat32 } from "./tensor.ts";

function quantise(delta: Float32Array) {
  const values = new Int8Array(delta.length);
  const scales = new Float32Array(int8BlockCount(delta.length));
  quantiseInt8Into(values, scales, delta);
  const back = new Float32Array(delta.length);
  dequantiseInt8Into(back, values, scales, 0);
  return { values, scales, back };
}

/** Δ-like values: mostly a few lr in size, with heavy tails and whole blocks far smaller or larger. */
function samples(length: number, seed: number): Float32Array {
  const random = new SeededRandom(seed);
  return Float32Array.from({ length }, (_, i) => {
    const block = Math.floor(i / INT8_BLOCK);
    const magnitude = [1e-3, 1e-7, 3e-2, 1e-30][block % 4]!;
    const tail = random.int(50) === 0 ? 20 : 1;
    return magnitude * tail * random.normal();
  });
}

describe("int8 pseudo-gradient quantiser", () => {
  it("forms the pseudo-gradient θ − θₖ", () => {
    const out = new Float32Array(2);
    pseudoGradientInto(out, Float32Array.of(1, 2), Float32Array.of(0.5, 3));
    expect(out).toEqual(Float32Array.of(0.5, -1));
  });

  it("rounds every coordinate to within half its block's scale, and the scale is the block's largest |Δ| / 127", () => {
    const delta = samples(10 * INT8_BLOCK + 37, 3);
    const { values, scales, back } = quantise(delta);
    expect(scales).toHaveLength(11);
    for (let i = 0; i < delta.length; i++) {
      const scale = scales[Math.floor(i / INT8_BLOCK)]!;
      expect(Math.abs(values[i]!)).toBeLessThanOrEqual(127);
      // Half a step of rounding, plus float32's own rounding of the scale and of q × scale.
      expect(Math.abs(back[i]! - delta[i]!)).toBeLessThanOrEqual(scale * (0.5 + 2 ** -20));
    }
    for (let b = 0; b < scales.length; b++) {
      const block = delta.subarray(b * INT8_BLOCK, (b + 1) * INT8_BLOCK);
      const largest = Math.max(...block.map(Math.abs));
      expect(scales[b]).toBe(Math.fround(largest / 127));
      // The largest coordinate comes back to float32 rounding.
      const at = b * INT8_BLOCK + block.findIndex((v) => Math.abs(v) === largest);
      expect(Math.abs(values[at]!)).toBe(127);
      expect(Math.abs(back[at]! - delta[at]!)).toBeLessThanOrEqual(largest * 2 ** -22);
    }
  });

  it("keeps relative error per block under 1/254 of its largest value, whatever the block's magnitude (1e-30 to 1e-2)", () => {
    const delta = samples(8 * INT8_BLOCK, 9);
    const { back } = quantise(delta);
    for (let b = 0; b < 8; b++) {
      const range = [b * INT8_BLOCK, (b + 1) * INT8_BLOCK] as const;
      const block = delta.subarray(...range);
      const largest = Math.max(...block.map(Math.abs));
      const worst = Math.max(...block.map((v, i) => Math.abs(back[range[0] + i]! - v)));
      expect(worst / largest).toBeLessThanOrEqual((1 / 254) * (1 + 2 ** -18));
    }
  });

  it("is symmetric: −Δ quantises to −q with the same scales; zero stays zero, and a block of zeros gets scale 0", () => {
    const delta = samples(3 * INT8_BLOCK, 5);
    delta.fill(0, INT8_BLOCK, 2 * INT8_BLOCK);
    delta[5] = 0;
    const plus = quantise(delta);
    const minus = quantise(delta.map((v) => -v));
    expect(minus.scales).toEqual(plus.scales);
    expect([...minus.values]).toEqual([...plus.values].map((q) => (q === 0 ? 0 : -q)));
    expect(plus.scales[1]).toBe(0);
    expect(plus.back[5]).toBe(0);
    expect([...plus.back.subarray(INT8_BLOCK, 2 * INT8_BLOCK)].every((v) => v === 0)).toBe(true);
    // Ties round away from zero: 0.5 and 1.5 steps.
    const ties = quantise(Float32Array.of(127, 0.5, -0.5, 1.5, -1.5));
    expect([...ties.values]).toEqual([127, 1, -1, 2, -2]);
  });

  it("dequantises any run of a parameter, given the scales from the run's first block on, to the same bits as the whole", () => {
    const delta = samples(5 * INT8_BLOCK + 11, 7);
    const { values, scales, back } = quantise(delta);
    for (const [at, length] of [
      [0, 1],
      [100, 300],
      [INT8_BLOCK - 1, 2],
      [2 * INT8_BLOCK, INT8_BLOCK],
      [3 * INT8_BLOCK + 5, 2 * INT8_BLOCK + 6],
    ] as const) {
      const run = new Float32Array(length);
      const first = Math.floor(at / INT8_BLOCK);
      dequantiseInt8Into(run, values.subarray(at, at + length), scales.subarray(first), at);
      expect(run).toEqual(back.subarray(at, at + length));
    }
  });

  it("refuses a non-finite Δ rather than writing it", () => {
    const values = new Int8Array(3);
    const scales = new Float32Array(1);
    expect(() => quantiseInt8Into(values, scales, Float32Array.of(1, Number.NaN, 2))).toThrow(
      /pseudo-gradient value 1 is NaN/,
    );
    expect(() => quantiseInt8Into(values, scales, Float32Array.of(Number.POSITIVE_INFINITY))).toThrow(
      /is Infinity/,
    );
  });

  it("lays parameters out one after another, each with blocks of its own, as two tensors: I8 [N] and F32 [Σ⌈n/256⌉]", () => {
    const a = samples(300, 1);
    const b = samples(64, 2);
    const tensors = int8PseudoGradientTensors([a, b]);
    expect(Object.keys(tensors).sort()).toEqual([INT8_VALUES_TENSOR, INT8_SCALES_TENSOR]);
    const q = tensors[INT8_VALUES_TENSOR]!;
    const s = tensors[INT8_SCALES_TENSOR]!;
    expect({ dtype: q.dtype, shape: q.shape, bytes: q.bytes.byteLength }).toEqual({
      dtype: "I8",
      shape: [364],
      bytes: 364,
    });
    expect({ dtype: s.dtype, shape: s.shape }).toEqual({ dtype: "F32", shape: [3] });
    expect([...int8Values(q).subarray(300)]).toEqual([...quantise(b).values]);
    expect(toFloat32(s)).toEqual(Float32Array.of(...quantise(a).scales, ...quantise(b).scales));
  });
});
