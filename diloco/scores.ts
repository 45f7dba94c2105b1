import { deterministicLoss, type ParameterValues } from "../model/deterministicLoss.ts";
import type { Batch } from "../model/forward.ts";
import type { ModelSpec } from "../spec/runSpec.ts";
import type { ReplicaScores } from "./verdicts.ts";

export interface ScoreInput {
  readonly model: ModelSpec;
  /** θ and θₖ, by parameter name. */
  readonly global: ParameterValues;
  readonly replica: ParameterValues;
  /** The round's held-out batches (the dataset's validation split, fixed windows). */
  readonly heldOut: readonly Batch[];
  /** Windows of the replica's own training shards (sampling.ts's scoringBatches). */
  readonly ownShards: readonly number[];
  readonly own: readonly Batch[];
}

/**
 * A replica's scores: θₖ's loss on the held-out batches, and θₖ's and θ's on windows of its own
 * shards. Everything comes from deterministicLoss, so any process given the same parameters and
 * tokens — the worker, an auditor, an evaluation pod on another contributor's cluster — computes
 * the same bits.
 */
export async function scoreReplica(input: ScoreInput): Promise<ReplicaScores> {
  return {
    heldOutLoss: await deterministicLoss(input.replica, input.model, input.heldOut),
    ownShards: [...input.ownShards],
    ownShardLoss: await deterministicLoss(input.replica, input.model, input.own),
    ownShardLossOfGlobal: await deterministicLoss(input.global, input.model, input.own),
  };
}
