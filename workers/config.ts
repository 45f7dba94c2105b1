import { isAbsolute } from "node:path";
import { z } from "zod";
import { parseWith } from "../spec/errors.ts";
import { CodecKeyEnv } from "./codec.ts";

const absolutePath = z.string().refine(isAbsolute, { message: "must be an absolute path" });
const privateKey = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/, "must be a 0x-prefixed 32-byte hex private key")
  .transform((s) => s as `0x${string}`);

/**
 * The worker's environment. Secrets (the codec key, the operator key, kubeconfigs through
 * DAOTRAIN_CLUSTERS) come only from here, never from a command line.
 */
export const WorkerEnv = CodecKeyEnv.extend({
  TEMPORAL_ADDRESS: z.string().min(1).default("127.0.0.1:7233"),
  TEMPORAL_NAMESPACE: z.string().min(1).default("default"),
  /** The deployment file `daotrain dao deploy` wrote (contract addresses, chain id, RPC URL). */
  DAOTRAIN_DEPLOYMENT: absolutePath,
  /** Overrides the deployment's RPC URL (e.g. a node of your own). */
  DAOTRAIN_RPC_URL: z.string().url().optional(),
  /** The key holding the DAO's operator permission: commits roots, records compute. */
  DAOTRAIN_OPERATOR_KEY: privateKey,
  /** Where initial, replica and global checkpoints live (a directory trainers can reach). */
  DAOTRAIN_STORE_DIR: absolutePath,
  /** Where released checkpoints are published: file:///dir or s3://bucket/prefix. */
  DAOTRAIN_PUBLIC_STORE_URI: z.string().min(1),
  /** YAML file naming the clusters this worker can reach and how (see workers/README.md). */
  DAOTRAIN_CLUSTERS: absolutePath,
  /** The trainer's command line, as a JSON array. */
  DAOTRAIN_TRAINER_COMMAND: z
    .string()
    .default('["node","trainer/main.ts"]')
    .transform((s, ctx) => {
      const parsed = z.array(z.string().min(1)).min(1).safeParse(safeJson(s));
      if (!parsed.success) {
        ctx.addIssue({
          code: "custom",
          message: 'must be a JSON array of strings, e.g. ["node","trainer/main.ts"]',
        });
        return z.NEVER;
      }
      return parsed.data;
    }),
  /** A workflow bundle built ahead (bundleWorkflowCode); without it the worker bundles at start. */
  DAOTRAIN_WORKFLOW_BUNDLE: absolutePath.optional(),
  /** Start governanceWatch and clusterHealth at start when they are not running ("false" to leave them). */
  DAOTRAIN_START_WATCHERS: z
    .enum(["true", "false"])
    .default("true")
    .transform((s) => s === "true"),
  DAOTRAIN_METRICS_PORT: z.coerce.number().int().min(0).max(65_535).default(9464),
  DAOTRAIN_METRICS_HOST: z.string().min(1).default("127.0.0.1"),
});
export type WorkerEnv = z.infer<typeof WorkerEnv>;

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function parseWorkerEnv(env: NodeJS.ProcessEnv = process.env): WorkerEnv {
  return parseWith(WorkerEnv, env, "worker environment");
}
