import { describe, expect, it } from "vitest";
import { compressionOf, parseRunSpec, type RunSpecInput, runIdOf } from "./runSpec.ts";

const base: RunSpecInput = {
  name: "compression",
  model: {
    architecture: "transformer-lm",
    vocabSize: 256,
    contextLength: 16,
    dModel: 16,
    layers: 1,
    heads: 2,
  },
  dataset: `0x${"11".repeat(32)}`,
  rounds: 1,
  innerSteps: 2,
  replicasPerRound: 2,
  minReplicas: 1,
  gpusPerReplica: 0,
  gpuHourBudget: 1,
  rewardPerGpuHour: "1",
  outer: { lr: 0.7 },
  inner: { optimizer: "adamw", lr: 0.01, batch: 2 },
  validation: { batches: 1, tolerance: 0.5 },
  seed: 1,
  image: `ghcr.io/daotrain/trainer@sha256:${"0".repeat(64)}`,
};
const withCompression = (compression: unknown) =>
  parseRunSpec({ ...base, outer: { ...base.outer, compression } });

describe("outer.compression", () => {
  it("keeps the run id of a spec written before the option existed when it is absent or `none`", () => {
    const absent = parseRunSpec(base);
    // The id of this spec as main computed it before outer.compression existed.
    expect(runIdOf(absent)).toBe("0x594e7c4b1358070e7e573896e6c27903dc6e83430e21f420f1cb7254da8d1c87");
    expect(runIdOf(withCompression("none"))).toBe(runIdOf(absent));
    expect(compressionOf(absent)).toBe("none");
    expect(compressionOf(withCompression("none"))).toBe("none");
  });

  it("gives an int8 run an id of its own, and survives a round trip through its canonical JSON", () => {
    const int8 = withCompression("int8");
    expect(compressionOf(int8)).toBe("int8");
    expect(runIdOf(int8)).not.toBe(runIdOf(parseRunSpec(base)));
    expect(runIdOf(parseRunSpec(JSON.parse(JSON.stringify(int8))))).toBe(runIdOf(int8));
  });

  it("refuses any other value, naming the field", () => {
    expect(() => withCompression("int4")).toThrow(/outer\.compression/);
  });
});
