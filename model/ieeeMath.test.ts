import { describe, expect, it } from "vitest";
import { SeededRandom } from "../spec/seededRandom.ts";
import { exp, log, sqrt, tanh } from "./ieeeMath.ts";

/** |a − b| in units of b's last place. */
function ulps(a: number, b: number): number {
  return Math.abs(a - b) / (Math.abs(b) * Number.EPSILON || Number.MIN_VALUE);
}

describe("exp, log, tanh and sqrt from + − × ÷ alone", () => {
  it("agree with the engine's Math within a few ulps over the whole range", () => {
    const random = new SeededRandom(9);
    let worst = 0;
    for (let i = 0; i < 20_000; i++) {
      const x = (random.next() - 0.5) * 1400;
      const y = Math.exp((random.next() - 0.5) * 1400);
      worst = Math.max(
        worst,
        ulps(exp(x), Math.exp(x)),
        ulps(log(y), Math.log(y)),
        ulps(sqrt(y), Math.sqrt(y)),
      );
      expect(Math.abs(tanh(x / 100) - Math.tanh(x / 100))).toBeLessThan(1e-15);
    }
    expect(worst).toBeLessThan(4);
  });

  it("keep IEEE's special values", () => {
    expect([exp(0), log(1), sqrt(4), sqrt(0), tanh(0)]).toEqual([1, 0, 2, 0, 0]);
    expect([exp(800), exp(-800), log(0), sqrt(Number.POSITIVE_INFINITY)]).toEqual([
      Number.POSITIVE_INFINITY,
      0,
      Number.NEGATIVE_INFINITY,
      Number.POSITIVE_INFINITY,
    ]);
    expect([log(-1), sqrt(-1), exp(Number.NaN)].every(Number.isNaN)).toBe(true);
    expect(log(5e-324)).toBeCloseTo(-744.44, 2);
    expect([tanh(30), tanh(-30)]).toEqual([1, -1]);
  });
});
