import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import type { Hex } from "viem";
import { z } from "zod";
import { readKeystore, readPasswordFile } from "../governance/keys.ts";
import { InvalidInputError, parseWith } from "../spec/errors.ts";
import { parseStoreUri, type S3StoreOptions } from "../storage/index.ts";
import { CodecKeyEnv, codecKeysOf } from "./codec.ts";
import { type TemporalTarget, temporalTarget } from "./temporalConnection.ts";

const absolutePath = z.string().refine(isAbsolute, { message: "must be an absolute path" });
const storeUri = z.string().superRefine((uri, ctx) => {
  try {
    parseStoreUri(uri);
  } catch (error) {
    ctx.addIssue({
      code: "custom",
      message: error instanceof InvalidInputError ? error.problems.join("; ") : String(error),
    });
  }
});
const privateKey = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/, "must be a 0x-prefixed 32-byte hex private key")
  .transform((s) => s as `0x${string}`);

const flag = z
  .enum(["true", "false"])
  .default("false")
  .transform((s) => s === "true");

/**
 * The worker's environment. Secrets (the codec keys, the operator key or its keystore's password
 * file, kubeconfigs through DAOTRAIN_CLUSTERS) come only from here, never from a command line.
 */
const WorkerEnvSchema = CodecKeyEnv.extend({
  /** The deployment file `daotrain dao deploy` wrote (contract addresses, chain id, RPC URL). */
  DAOTRAIN_DEPLOYMENT: absolutePath,
  /** Overrides the deployment's RPC URL (e.g. a node of your own). */
  DAOTRAIN_RPC_URL: z.string().url().optional(),
  /**
   * The key holding the DAO's operator permission (commits roots, records compute): in clear in
   * the environment, or (better) a Web3 Secret Storage keystore and the file holding its password.
   */
  DAOTRAIN_OPERATOR_KEY: privateKey.optional(),
  DAOTRAIN_OPERATOR_KEYSTORE: absolutePath.optional(),
  DAOTRAIN_OPERATOR_PASSWORD_FILE: absolutePath.optional(),
  /**
   * Blocks a governance event must be buried under before the watcher acts on it, so that a
   * reorg cannot retract a run it started. Default: 0 on a development chain (anvil's and
   * hardhat's chain ids), 12 elsewhere.
   */
  DAOTRAIN_CONFIRMATIONS: z.coerce.number().int().min(0).max(10_000).optional(),
  /** An operator transaction not mined after this long is sent again, same nonce, higher fee. */
  DAOTRAIN_TX_REPLACE_AFTER_SECONDS: z.coerce.number().positive().max(3600).default(30),
  /**
   * Accept run specs at file:// URIs (a spec on this machine's disk, which no other worker can
   * read). Off by default: `daotrain propose run` publishes specs inline or in the run store.
   */
  DAOTRAIN_ALLOW_FILE_SPECS: flag,
  /**
   * The run store: where initial, replica and global checkpoints live. file:///dir when every
   * trainer runs on this machine; s3://bucket/prefix when trainers run on remote clusters (each
   * contributor's with keys of its own, `daotrain store grant`; never the worker's).
   */
  DAOTRAIN_STORE_URI: storeUri,
  /** Where the worker stages remote checkpoints and datasets and writes before uploading. */
  DAOTRAIN_WORK_DIR: absolutePath.default(join(tmpdir(), "daotrain-worker")),
  /** Where released checkpoints are published: file:///dir or s3://bucket/prefix. */
  DAOTRAIN_PUBLIC_STORE_URI: storeUri,
  /** The S3-compatible server of s3:// stores (a self-hosted one, path-style); AWS when unset. */
  AWS_ENDPOINT_URL_S3: z.string().url().optional(),
  AWS_REGION: z.string().min(1).optional(),
  /** Keys for s3:// stores; trainers on this machine (local executors) get them too, no others. */
  AWS_ACCESS_KEY_ID: z.string().min(1).optional(),
  AWS_SECRET_ACCESS_KEY: z.string().min(1).optional(),
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
/** The worker's settings: its own variables, and how to reach Temporal (`temporalConnection.ts`). */
export type WorkerEnv = z.infer<typeof WorkerEnvSchema> & { readonly temporal: TemporalTarget };

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function parseWorkerEnv(env: NodeJS.ProcessEnv = process.env): WorkerEnv {
  const parsed = parseWith(WorkerEnvSchema, env, "worker environment");
  codecKeysOf(parsed, "worker environment");
  checkOperatorKeySource(parsed);
  const remoteRunStore = parseStoreUri(parsed.DAOTRAIN_STORE_URI).kind === "s3";
  if (remoteRunStore && !(parsed.AWS_ACCESS_KEY_ID && parsed.AWS_SECRET_ACCESS_KEY)) {
    throw new InvalidInputError("worker environment", [
      "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: required with an s3:// DAOTRAIN_STORE_URI, which the worker reads and writes with them",
    ]);
  }
  return { ...parsed, temporal: temporalTarget(env) };
}

/** How the worker reaches s3:// stores. */
export function s3StoreOptions(env: WorkerEnv): S3StoreOptions {
  return {
    ...(env.AWS_ENDPOINT_URL_S3 ? { endpoint: env.AWS_ENDPOINT_URL_S3, forcePathStyle: true } : {}),
    ...(env.AWS_REGION ? { region: env.AWS_REGION } : {}),
    ...(env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? { credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY } }
      : {}),
  };
}

/**
 * What a trainer on this machine (a local executor's) needs to reach the run store, in the
 * variables the trainer reads: nothing for a local directory, the endpoint, region and the
 * worker's keys for a bucket. A contributor's cluster gets keys of its own instead.
 */
export function trainerStoreEnv(env: WorkerEnv): Record<string, string> {
  if (parseStoreUri(env.DAOTRAIN_STORE_URI).kind === "file") return {};
  const picked = {
    AWS_ENDPOINT_URL_S3: env.AWS_ENDPOINT_URL_S3,
    AWS_REGION: env.AWS_REGION,
    AWS_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY,
  };
  return Object.fromEntries(Object.entries(picked).filter((e): e is [string, string] => e[1] !== undefined));
}

function checkOperatorKeySource(env: z.infer<typeof WorkerEnvSchema>): void {
  const { DAOTRAIN_OPERATOR_KEY: key, DAOTRAIN_OPERATOR_KEYSTORE: keystore } = env;
  const problem =
    key && keystore
      ? "DAOTRAIN_OPERATOR_KEY, DAOTRAIN_OPERATOR_KEYSTORE: give one, not both"
      : !key && !keystore
        ? "DAOTRAIN_OPERATOR_KEYSTORE (with DAOTRAIN_OPERATOR_PASSWORD_FILE) or DAOTRAIN_OPERATOR_KEY: is required: the worker signs as the DAO's operator"
        : keystore && !env.DAOTRAIN_OPERATOR_PASSWORD_FILE
          ? "DAOTRAIN_OPERATOR_PASSWORD_FILE: is required with DAOTRAIN_OPERATOR_KEYSTORE (a file holding the keystore's password)"
          : undefined;
  if (problem) throw new InvalidInputError("worker environment", [problem]);
}

/** The operator's private key: from the environment, or decrypted from its keystore. */
export async function operatorKeyOf(env: WorkerEnv): Promise<Hex> {
  if (env.DAOTRAIN_OPERATOR_KEY) return env.DAOTRAIN_OPERATOR_KEY;
  const keystore = env.DAOTRAIN_OPERATOR_KEYSTORE;
  const passwordFile = env.DAOTRAIN_OPERATOR_PASSWORD_FILE;
  if (!keystore || !passwordFile) throw new Error("operatorKeyOf: parseWorkerEnv admits no such env");
  return await readKeystore(keystore, await readPasswordFile(passwordFile));
}

/** Development chains (anvil, hardhat) reorganise only when told to. */
const DEVELOPMENT_CHAIN_IDS = new Set([31_337, 1_337]);

/** Blocks to wait before acting on an event: as configured, or by the kind of chain. */
export function confirmationsFor(env: WorkerEnv, chainId: number): number {
  return env.DAOTRAIN_CONFIRMATIONS ?? (DEVELOPMENT_CHAIN_IDS.has(chainId) ? 0 : 12);
}
