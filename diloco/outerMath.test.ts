import { describe, expect, it } from "vitest";
import { aggregate, firstNonFinite, median, outerUpdate, pseudoGradient, trimCount } from "./outerMath.ts";

const f = (...xs: number[]) => Float32Array.from(xs);

describe("DiLoCo outer arithmetic", () => {
  it("forms the pseudo-gradient θ − θₖ", () => {
    expect(pseudoGradient({ w: f(1, 2) }, { w: f(0.5, 3) })).toEqual({ w: f(0.5, -1) });
  });

  it("trimmed mean drops each coordinate's extremes, so one byzantine replica cannot drag it", () => {
    const honest = [{ w: f(1, -1) }, { w: f(1.2, -0.8) }, { w: f(0.8, -1.2) }];
    const byzantine = { w: f(1000, 1000) };
    expect(trimCount(4)).toBe(1);
    const trimmed = aggregate([...honest, byzantine], "trimmed-mean").w!;
    expect(trimmed[0]).toBeCloseTo(1.1, 5);
    expect(trimmed[1]).toBeCloseTo(-0.9, 5);
    expect(aggregate([...honest, byzantine], "mean").w![0]).toBeCloseTo(250.75, 3);
    expect(aggregate(honest.slice(0, 2), "trimmed-mean")).toEqual(aggregate(honest.slice(0, 2), "mean"));
  });

  it("applies Nesterov momentum as PyTorch's SGD does, carrying the buffer between rounds", () => {
    const opt = { lr: 0.7, momentum: 0.9, nesterov: true };
    const first = outerUpdate({ w: f(1) }, { w: f(0.1) }, undefined, opt);
    expect(first.momentum.w![0]).toBeCloseTo(0.1, 6);
    expect(first.params.w![0]).toBeCloseTo(1 - 0.7 * (0.1 + 0.9 * 0.1), 6);
    const second = outerUpdate(first.params, { w: f(0.2) }, first.momentum, opt);
    const b = 0.9 * 0.1 + 0.2;
    expect(second.momentum.w![0]).toBeCloseTo(b, 6);
    expect(second.params.w![0]).toBeCloseTo(first.params.w![0]! - 0.7 * (0.2 + 0.9 * b), 6);
    const plain = outerUpdate({ w: f(1) }, { w: f(0.1) }, { w: f(0.5) }, { ...opt, nesterov: false });
    expect(plain.params.w![0]).toBeCloseTo(1 - 0.7 * (0.9 * 0.5 + 0.1), 6);
  });

  it("finds the first non-finite value and the median", () => {
    expect(firstNonFinite({ a: f(1, 2), b: f(3, Number.POSITIVE_INFINITY) })).toBe("b[1] = Infinity");
    expect(firstNonFinite({ a: f(1) })).toBeNull();
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});
