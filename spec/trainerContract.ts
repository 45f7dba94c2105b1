import { z } from "zod";
import { InvalidInputError, parseWith } from "./errors.ts";
import { Bytes32 } from "./runSpec.ts";

/**
 * The trainer contract (DESIGN.md): the environment any trainer image receives. The Kubernetes
 * Job builder, the local executor and the trainer all go through this one schema.
 */
const uint = z.coerce.number().int().min(0);
export const TrainerEnv = z.object({
  DAOTRAIN_RUN_ID: Bytes32,
  DAOTRAIN_ROUND: uint,
  DAOTRAIN_REPLICA: uint,
  DAOTRAIN_REPLICAS: uint.min(1),
  DAOTRAIN_INIT_URI: z.string().min(1),
  DAOTRAIN_INIT_ROOT: Bytes32,
  DAOTRAIN_DATASET_URI: z.string().min(1),
  DAOTRAIN_DATASET_ROOT: Bytes32,
  /** Comma-separated dataset shard indices this replica trains on. */
  DAOTRAIN_SHARDS: z.string().regex(/^[0-9]+(,[0-9]+)*$/, "must be comma-separated shard indices"),
  DAOTRAIN_INNER_STEPS: uint.min(1),
  DAOTRAIN_SEED: uint,
  DAOTRAIN_OUTPUT_URI: z.string().min(1),
  MASTER_ADDR: z.string().default("127.0.0.1"),
  MASTER_PORT: uint.default(29500),
  WORLD_SIZE: uint.min(1).default(1),
  RANK: uint.default(0),
});
export type TrainerEnv = z.infer<typeof TrainerEnv>;

export function parseTrainerEnv(env: NodeJS.ProcessEnv): TrainerEnv {
  return parseWith(TrainerEnv, env, "trainer environment");
}

/** Renders the contract as string env vars (for a pod spec or a child process). */
export function trainerEnvVars(env: z.input<typeof TrainerEnv>): Record<string, string> {
  const parsed = TrainerEnv.parse(env);
  return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
}

/**
 * The evaluator's contract: the environment of an evaluation pod (`node trainer/evaluate.ts` in the
 * trainer image), which scores one replica's output for the outer step on a cluster of another
 * contributor than its author, and writes a `ScoresFile` to DAOTRAIN_SCORES_URI. The run spec
 * comes from θ's metadata, covered by DAOTRAIN_INIT_ROOT.
 */
/** The evaluator's command line in the trainer image (images/recipes.ts TRAINER_PROGRAMS). */
export const EVALUATOR_COMMAND = ["node", "trainer/evaluate.ts"];

const Hex256 = z.string().regex(/^0x[0-9a-f]{64}$/, "must be 0x and 64 lowercase hex digits");
export const EvaluatorEnv = z.object({
  DAOTRAIN_RUN_ID: Bytes32,
  /** The round of θ, the checkpoint the scored replica trained from (as DAOTRAIN_ROUND is for it). */
  DAOTRAIN_ROUND: uint,
  /** The scored replica's index in the round: which shards it was assigned. */
  DAOTRAIN_REPLICA: uint,
  DAOTRAIN_INIT_URI: z.string().min(1),
  DAOTRAIN_INIT_ROOT: Bytes32,
  DAOTRAIN_DATASET_URI: z.string().min(1),
  DAOTRAIN_DATASET_ROOT: Bytes32,
  /** The replica's output checkpoint, and the root its bytes must hash to. */
  DAOTRAIN_EVALUATE_URI: z.string().min(1),
  DAOTRAIN_EVALUATE_ROOT: Bytes32,
  /** The round's sampling seed (the outer step's, over θ's and every readable output's root). */
  DAOTRAIN_SCORING_SEED: Hex256,
  /** The object the scores are written to (`…/<name>.json`). */
  DAOTRAIN_SCORES_URI: z.string().regex(/\.json$/, "must name a .json object"),
});
export type EvaluatorEnv = z.infer<typeof EvaluatorEnv>;

export function parseEvaluatorEnv(env: NodeJS.ProcessEnv): EvaluatorEnv {
  return parseWith(EvaluatorEnv, env, "evaluator environment");
}

export function evaluatorEnvVars(env: z.input<typeof EvaluatorEnv>): Record<string, string> {
  const parsed = EvaluatorEnv.parse(env);
  return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
}

export const SCORES_FORMAT = "daotrain-scores/1";
/** A scores file is a few hundred bytes; the worker reads none past this. */
export const MAX_SCORES_FILE_BYTES = 4096;

/** binary64 as JSON holds it (JSON numbers round-trip every finite double), or the name of one it cannot. */
const Float64 = z.union([z.number(), z.enum(["NaN", "Infinity", "-Infinity"])]);
const encodeFloat = (x: number): number | string => (Number.isFinite(x) ? x : String(x));

/** What an evaluator writes: the scores of one output, bound to the run, round, output root and seed. */
export const ScoresFile = z
  .object({
    format: z.literal(SCORES_FORMAT),
    runId: Bytes32,
    round: uint,
    replica: uint,
    root: Bytes32,
    seed: Hex256,
    scores: z
      .object({
        heldOutLoss: Float64,
        ownShards: z.array(uint).max(64),
        ownShardLoss: Float64,
        ownShardLossOfGlobal: Float64,
      })
      .strict(),
  })
  .strict();

export interface EvaluatedScores {
  runId: Bytes32;
  round: number;
  replica: number;
  root: Bytes32;
  seed: string;
  scores: { heldOutLoss: number; ownShards: number[]; ownShardLoss: number; ownShardLossOfGlobal: number };
}

export function encodeScoresFile(file: EvaluatedScores): string {
  const { scores } = file;
  return JSON.stringify({
    format: SCORES_FORMAT,
    ...file,
    scores: {
      heldOutLoss: encodeFloat(scores.heldOutLoss),
      ownShards: scores.ownShards,
      ownShardLoss: encodeFloat(scores.ownShardLoss),
      ownShardLossOfGlobal: encodeFloat(scores.ownShardLossOfGlobal),
    },
  });
}

/** An evaluator's file, parsed: untrusted, refused naming the field (InvalidInputError). */
export function parseScoresFile(text: string, source: string): EvaluatedScores {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new InvalidInputError(source, ["(root): not JSON"]);
  }
  const { format: _format, ...file } = parseWith(ScoresFile, json, source);
  const { scores } = file;
  return {
    ...file,
    scores: {
      ...scores,
      heldOutLoss: Number(scores.heldOutLoss),
      ownShardLoss: Number(scores.ownShardLoss),
      ownShardLossOfGlobal: Number(scores.ownShardLossOfGlobal),
    },
  };
}
