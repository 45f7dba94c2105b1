import { assignShards, type DatasetManifest } from "../datasets/manifest.ts";
import type { Dataset } from "../datasets/read.ts";
import type { RunSpec } from "../spec/runSpec.ts";
import { SeededRandom } from "../spec/seededRandom.ts";
import { TrainingBatches, validationBatches } from "./batches.ts";
import { deterministicLoss, type ParameterValues } from "./deterministicLoss.ts";
import type { Batch } from "./forward.ts";

// How a replica's output is scored for the outer step's verdicts (diloco/verdicts.ts): which
// windows, drawn how, measured by which code. The worker and an evaluation pod on another
// contributor's cluster (trainer/evaluation.ts) both score through here, so they compute the same
// bits; an auditor redoing the round does too.

/** Losses (nats) from model/deterministicLoss.ts: the same bits on any machine. */
export interface ReplicaScores {
  /** θₖ on the held-out batches. */
  readonly heldOutLoss: number;
  /** The training shards its own-shard windows come from (its own, drawn with the round's seed). */
  readonly ownShards: readonly number[];
  /** θₖ and θ on those windows. */
  readonly ownShardLoss: number;
  readonly ownShardLossOfGlobal: number;
}

/** Of a replica's assigned training shards, how many its own-shard loss is measured on. */
export const SCORING_SHARDS = 2;

/** The round's sampling seed: eight 32-bit words (diloco/sampling.ts `roundSeed`). */
export type ScoringSeed = readonly number[];

/** The seed as 64 hex digits after `0x`, the form it travels in (an evaluation pod's env). */
export function scoringSeedHex(seed: ScoringSeed): `0x${string}` {
  return `0x${seed.map((word) => (word >>> 0).toString(16).padStart(8, "0")).join("")}`;
}

export function scoringSeedOf(hex: string): number[] {
  if (!/^0x[0-9a-f]{64}$/.test(hex)) throw new Error(`a scoring seed is 0x and 64 hex digits, not "${hex}"`);
  return Array.from({ length: 8 }, (_, i) => Number.parseInt(hex.slice(2 + 8 * i, 10 + 8 * i), 16));
}

/**
 * The training shards a replica's own-shard loss is measured on: up to SCORING_SHARDS of those
 * the dataset assigns it (the assignment every replica of the round trains by), drawn with the
 * round's seed.
 */
export function scoringShards(
  manifest: DatasetManifest,
  spec: RunSpec,
  index: number,
  seed: ScoringSeed,
): number[] {
  const assigned = assignShards(manifest, index, spec.replicasPerRound);
  const random = new SeededRandom(...seed, 0x5a4d, index);
  const pool = [...assigned];
  const picked: number[] = [];
  while (picked.length < SCORING_SHARDS && pool.length > 0)
    picked.push(pool.splice(random.int(pool.length), 1)[0]!);
  return picked.sort((a, b) => a - b);
}

/**
 * `validation.batches` batches of random windows from those shards: as many tokens as the
 * held-out score reads, drawn as the trainer draws its training batches, with the round's seed.
 */
export async function scoringBatches(
  dataset: Dataset,
  shards: readonly number[],
  spec: RunSpec,
  index: number,
  seed: ScoringSeed,
): Promise<Batch[]> {
  const tokens = await Promise.all(shards.map((i) => dataset.readShard(i)));
  const windows = new TrainingBatches(
    tokens,
    spec.model.contextLength,
    spec.inner.batch,
    ...seed,
    0xb47c,
    index,
  );
  return Array.from({ length: spec.validation.batches }, () => windows.next());
}

/** The round's held-out batches: `validation.batches` fixed windows of the validation split. */
export async function heldOutScoringBatches(dataset: Dataset, spec: RunSpec): Promise<Batch[]> {
  return validationBatches(
    await dataset.readValidation(),
    spec.model.contextLength,
    spec.inner.batch,
    spec.validation.batches,
  );
}

export interface ScoreInput {
  readonly spec: RunSpec;
  /** θ and θₖ, by parameter name. */
  readonly global: ParameterValues;
  readonly replica: ParameterValues;
  /** The replica's index in the round (DAOTRAIN_REPLICA): which shards it was assigned. */
  readonly index: number;
  readonly seed: ScoringSeed;
  /** The dataset, holding at least the held-out shards and the replica's scoring shards. */
  readonly dataset: Dataset;
  readonly heldOut: readonly Batch[];
}

/**
 * A replica's scores: θₖ's loss on the held-out batches, and θₖ's and θ's on windows of its own
 * shards. Everything comes from deterministicLoss, so any process given the same parameters and
 * tokens — the worker, an auditor, an evaluation pod on another contributor's cluster — computes
 * the same bits.
 */
export async function scoreReplica(input: ScoreInput): Promise<ReplicaScores> {
  const { spec, seed, index } = input;
  const ownShards = scoringShards(input.dataset.manifest, spec, index, seed);
  const own = await scoringBatches(input.dataset, ownShards, spec, index, seed);
  return {
    heldOutLoss: await deterministicLoss(input.replica, spec.model, input.heldOut),
    ownShards,
    ownShardLoss: await deterministicLoss(input.replica, spec.model, own),
    ownShardLossOfGlobal: await deterministicLoss(input.global, spec.model, own),
  };
}

/** Whether two scores are the same bits (NaN equal to NaN): the worker's check of an evaluator's. */
export function sameScores(a: ReplicaScores, b: ReplicaScores): boolean {
  const same = (x: number, y: number) => Object.is(x, y);
  return (
    same(a.heldOutLoss, b.heldOutLoss) &&
    same(a.ownShardLoss, b.ownShardLoss) &&
    same(a.ownShardLossOfGlobal, b.ownShardLossOfGlobal) &&
    a.ownShards.length === b.ownShards.length &&
    a.ownShards.every((shard, i) => shard === b.ownShards[i])
  );
}
