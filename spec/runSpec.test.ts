import { describe, expect, test } from "vitest";
import { parseRunSpec, RunSpec, runIdOf } from "./runSpec.ts";

const base = {
  name: "sized",
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
  innerSteps: 1,
  replicasPerRound: 2,
  minReplicas: 1,
  gpusPerReplica: 1,
  gpuHourBudget: 1,
  rewardPerGpuHour: "1",
  outer: {},
  inner: { optimizer: "adamw", lr: 0.01, batch: 2 },
  validation: { batches: 1, tolerance: 0.5 },
  seed: 1,
  image: `registry.example/daotrain/trainer@sha256:${"a".repeat(64)}`,
};

describe("a run spec's replica resources and GPU product", () => {
  test("are optional, so that a spec without them keeps its id, and filled with defaults when given in part", () => {
    const plain = parseRunSpec(base);
    expect(plain.resources).toBeUndefined();
    expect(runIdOf(plain)).toBe(runIdOf(RunSpec.parse(base)));
    expect(parseRunSpec({ ...base, resources: { memory: "8Gi" } }).resources).toEqual({
      cpu: "1",
      memory: "8Gi",
      ephemeralStorage: "20Gi",
    });
    expect(parseRunSpec({ ...base, gpuProduct: "NVIDIA-H100-80GB-HBM3" }).gpuProduct).toBe(
      "NVIDIA-H100-80GB-HBM3",
    );
  });

  test("are refused with the field named when they are not quantities, out of bounds, or not a label value", () => {
    expect(() => parseRunSpec({ ...base, resources: { cpu: "two" } })).toThrow(
      /resources\.cpu: must be a CPU quantity/,
    );
    expect(() => parseRunSpec({ ...base, resources: { cpu: "100000" } })).toThrow(/resources\.cpu/);
    expect(() => parseRunSpec({ ...base, resources: { memory: "1Ki" } })).toThrow(
      /resources\.memory: .*from 256Mi/,
    );
    expect(() => parseRunSpec({ ...base, resources: { ephemeralStorage: "1Ei" } })).toThrow(
      /resources\.ephemeralStorage/,
    );
    expect(() => parseRunSpec({ ...base, resources: { gpus: 2 } })).toThrow(/resources/);
    expect(() => parseRunSpec({ ...base, gpuProduct: "H100 80GB" })).toThrow(
      /gpuProduct: must be a GPU product/,
    );
  });
});
