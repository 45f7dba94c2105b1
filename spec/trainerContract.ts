import { z } from "zod";
import { parseWith } from "./errors.ts";
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
