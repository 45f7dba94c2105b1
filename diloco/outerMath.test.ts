import { describe, expect, it } from "vitest";
import { combine, outerUpdate, trimCount } from "./outerMath.ts";

const f = (...xs: number[]) => Float32Array.from(xs);

describe("DiLoCo outer arithmetic", () => {
  it("trimmed mean drops each coordinate's extremes, so one byzantine replica cannot drag it", () => {
    // Replica-major: three honest replicas and a byzantine one, two coordinates each.
    const columns = f(1, -1, 1.2, -0.8, 0.8, -1.2, 1000, 1000);
    expect(trimCount(4)).toBe(1);
    const trimmed = combine(columns, 4, 2, "trimmed-mean");
    expect(trimmed[0]).toBeCloseTo(1.1, 5);
    expect(trimmed[1]).toBeCloseTo(-0.9, 5);
    expect(combine(columns, 4, 2, "mean")[0]).toBeCloseTo(250.75, 3);
    expect(combine(columns.subarray(0, 4), 2, 2, "trimmed-mean")).toEqual(
      combine(columns.subarray(0, 4), 2, 2, "mean"),
    );
  });

  it("combines a run of coordinates exactly as it combines the whole, whatever the run's length", () => {
    const k = 5;
    const n = 37;
    const columns = Float32Array.from({ length: k * n }, (_, i) => Math.sin(i * 12.9898) * 0.01);
    for (const method of ["mean", "trimmed-mean"] as const) {
      const whole = combine(columns, k, n, method);
      const pieces = new Float32Array(n);
      for (let start = 0; start < n; start += 8) {
        const m = Math.min(8, n - start);
        const run = new Float32Array(k * m);
        for (let r = 0; r < k; r++) run.set(columns.subarray(r * n + start, r * n + start + m), r * m);
        pieces.set(combine(run, k, m, method), start);
      }
      expect(pieces).toEqual(whole);
    }
  });

  it("applies Nesterov momentum as PyTorch's SGD does, carrying the buffer between rounds", () => {
    const opt = { lr: 0.7, momentum: 0.9, nesterov: true };
    const first = outerUpdate(f(1), f(0.1), undefined, opt);
    expect(first.momentum[0]).toBeCloseTo(0.1, 6);
    expect(first.params[0]).toBeCloseTo(1 - 0.7 * (0.1 + 0.9 * 0.1), 6);
    const second = outerUpdate(first.params, f(0.2), first.momentum, opt);
    const b = 0.9 * 0.1 + 0.2;
    expect(second.momentum[0]).toBeCloseTo(b, 6);
    expect(second.params[0]).toBeCloseTo(first.params[0]! - 0.7 * (0.2 + 0.9 * b), 6);
    const plain = outerUpdate(f(1), f(0.1), f(0.5), { ...opt, nesterov: false });
    expect(plain.params[0]).toBeCloseTo(1 - 0.7 * (0.9 * 0.5 + 0.1), 6);
  });
});
