import { parseRunSpec, type RunSpec, type RunSpecInput } from "../../spec/runSpec.ts";

/** A trainer image pinned by digest, as a run spec requires (the local executor never pulls it). */
export const TEST_IMAGE = `ghcr.io/daotrain/trainer@sha256:${"0".repeat(64)}`;

/** A run small enough for a test: a tiny transformer, few inner steps, tiny batches. */
export function tinySpec(overrides: Partial<RunSpecInput> = {}): RunSpec {
  return parseRunSpec({
    name: "tiny",
    model: {
      architecture: "transformer-lm",
      vocabSize: 256,
      contextLength: 16,
      dModel: 16,
      layers: 1,
      heads: 2,
    },
    dataset: `0x${"11".repeat(32)}`,
    rounds: 3,
    innerSteps: 2,
    replicasPerRound: 4,
    minReplicas: 2,
    gpusPerReplica: 1,
    gpuHourBudget: 10,
    rewardPerGpuHour: "3600000000000000000",
    outer: {},
    inner: { optimizer: "adamw", lr: 0.01, batch: 2 },
    validation: { batches: 1, tolerance: 0.5 },
    seed: 7,
    image: TEST_IMAGE,
    ...overrides,
  });
}
