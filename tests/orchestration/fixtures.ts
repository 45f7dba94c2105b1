import { parseRunSpec, type RunSpec, type RunSpecInput } from "../../spec/runSpec.ts";
import type { ReplicaScores, ReplicaVerdict } from "../../workflows/types.ts";

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

/** Scores as the outer step carries them: full-precision doubles (the demo's worker log). */
export const REAL_SIZE_SCORES: ReplicaScores = {
  heldOutLoss: 3.0425240385046433,
  ownShardLoss: 3.047794537023658,
  ownShardLossOfGlobal: 5.521999163998448,
  movement: 11.967631530361613,
};

/**
 * An accepted verdict of the real outer step's size: its measures as the demo's worker logs them,
 * beside full-precision scores. What the workflow is handed per replica of a round in full.
 */
export function realSizeAcceptedVerdict(replica: number): ReplicaVerdict {
  return {
    replica,
    accepted: true,
    detail:
      "closest peer's cosine 0.682 (copies from 0.99); moved 12.0 (at least 3.06); alignment 0.721 (at least 0.1); held-out improvement 2.4908 (at least 0.7470); own-shard improvement 2.4742 (at least 0.7391)",
    scores: REAL_SIZE_SCORES,
  };
}
