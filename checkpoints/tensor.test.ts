import { describe, expect, it } from "vitest";
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, floatTensor, toFloat32 } from "./tensor.ts";

describe("half-precision conversions", () => {
  it("encodes IEEE half exactly where the format can, rounding to nearest even", () => {
    expect(f32ToF16(1)).toBe(0x3c00);
    expect(f32ToF16(-2)).toBe(0xc000);
    expect(f32ToF16(65504)).toBe(0x7bff);
    expect(f32ToF16(65520)).toBe(0x7c00);
    expect(f32ToF16(2 ** -24)).toBe(0x0001);
    expect(f32ToF16(2 ** -26)).toBe(0);
    expect(f32ToF16(-0)).toBe(0x8000);
    expect(f32ToF16(1 + 2 ** -11)).toBe(0x3c00);
    expect(f32ToF16(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(f16ToF32(f32ToF16(Number.NaN))).toBeNaN();
    expect(f16ToF32(0x7c00)).toBe(Number.POSITIVE_INFINITY);
    expect(f16ToF32(0x0001)).toBe(2 ** -24);
    expect(f16ToF32(0x3555)).toBeCloseTo(1 / 3, 3);
  });

  it("encodes bfloat16 as the rounded top half of float32", () => {
    expect(f32ToBf16(1)).toBe(0x3f80);
    expect(bf16ToF32(0x3f80)).toBe(1);
    expect(f32ToBf16(1 + 2 ** -8)).toBe(0x3f80);
    expect(f32ToBf16(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(bf16ToF32(f32ToBf16(Number.NaN))).toBeNaN();
  });

  it("round-trips values through each dtype within its precision", () => {
    const values = Float32Array.of(0.1, -3.75, 1000, 1e-3);
    expect(toFloat32(floatTensor([4], values))).toEqual(values);
    const half = toFloat32(floatTensor([4], values, "F16"));
    const brain = toFloat32(floatTensor([2, 2], values, "BF16"));
    for (const [i, v] of values.entries()) {
      expect(half[i]).toBeCloseTo(v, 3);
      expect(Math.abs(brain[i]! - v)).toBeLessThan(Math.abs(v) / 128);
    }
  });
});
