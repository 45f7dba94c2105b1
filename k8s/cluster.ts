import { z } from "zod";
import { parseWith } from "../spec/errors.ts";
import { Bytes32, ReplicaResources } from "../spec/runSpec.ts";

/**
 * The one interface the orchestrator uses to run a round's replicas somewhere: a contributed
 * Kubernetes cluster (`k8s/kubernetesCluster.ts`) or this machine (`k8s/local/`). Every method is
 * idempotent and keyed by (run, round, attempt), so a Temporal activity may call it again after a
 * crash or a retry without creating a second Job or process.
 */
export interface ComputeCluster {
  /** Stable name of the cluster (the contributor's registered name, or "local"). */
  readonly name: string;
  /** GPUs a new round could get here now, and which GPU products they are. */
  capacity(): Promise<ClusterCapacity>;
  /**
   * Starts the round's replicas, or finds them already started (same run, round and attempt).
   * Throws `QuotaExceededError` when the round needs more GPUs than this cluster donates.
   */
  launchRound(spec: RoundJobSpec): Promise<RoundRef>;
  /** One read of every replica's state (what a restarted heartbeat activity starts from). */
  roundStatus(ref: RoundRef): Promise<RoundStatus>;
  /**
   * Yields the round's status each time a replica's state changes, resuming by itself after a
   * dropped connection, and returns once every replica is terminal (or `signal` aborts).
   */
  watchRound(ref: RoundRef, options?: WatchOptions): AsyncGenerator<RoundStatus, RoundStatus | undefined>;
  /** The replica's output (stdout and stderr), the last `tailLines` lines when given. */
  logs(ref: RoundRef, replica: number, options?: { tailLines?: number }): Promise<string>;
  /** Stops the round's replicas now and removes them (waits until they are gone). */
  cancelRound(ref: RoundRef): Promise<void>;
  /** Removes a finished round's objects or processes; harmless when already gone. */
  cleanupRound(ref: RoundRef): Promise<void>;
}

export interface WatchOptions {
  signal?: AbortSignal;
}

/** Names one launched round on one cluster; plain data, so it travels through Temporal. */
export interface RoundRef {
  cluster: string;
  /** The deterministic name (Job name, or the local executor's directory name). */
  name: string;
}

export interface ClusterCapacity {
  /** GPUs a new Job could be granted now: free on ready, schedulable nodes, capped by the quota. */
  freeGpus: number;
  /**
   * Free GPUs per GPU product (node label `nvidia.com/gpu.product`), before the quota cap; empty
   * when the contributor does not share node capacity (then `freeGpus` is the quota's headroom).
   */
  freeGpusByProduct: Record<string, number>;
  /** The donation: the ResourceQuota on `requests.nvidia.com/gpu`, when there is one. */
  quota: GpuQuota | undefined;
}

export interface GpuQuota {
  name: string;
  hard: number;
  used: number;
}

/** One replica's work in a round: its global replica index, its data shards, where it writes. */
export const ReplicaAssignment = z
  .object({
    replica: z.number().int().min(0),
    shards: z.array(z.number().int().min(0)).min(1),
    outputUri: z.string().min(1),
  })
  .strict();
export type ReplicaAssignment = z.infer<typeof ReplicaAssignment>;

/** An environment variable name as POSIX shells and Kubernetes' envFrom accept it. */
const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;
/** The trainer contract's own variables (`spec/trainerContract.ts`); storeEnv may not shadow them. */
const CONTRACT_PREFIX = "DAOTRAIN_";

/**
 * Env the trainer needs to reach the run store, e.g. AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN, AWS_REGION, AWS_ENDPOINT_URL_S3. Secret-valued: on Kubernetes the values go
 * into a Secret the pods read with `envFrom`, never into the Job; locally into the process env only.
 * Never log them.
 */
export const StoreEnv = z.record(z.string(), z.string()).superRefine((env, ctx) => {
  for (const name of Object.keys(env)) {
    if (!ENV_NAME.test(name))
      ctx.addIssue({
        code: "custom",
        message: `"${name}" is not an environment variable name (A-Z, 0-9 and _, not starting with a digit)`,
        path: [name],
      });
    else if (name.startsWith(CONTRACT_PREFIX))
      ctx.addIssue({
        code: "custom",
        message: `"${name}" would shadow the trainer contract's ${CONTRACT_PREFIX}* variables; rename it`,
        path: [name],
      });
  }
});
export type StoreEnv = z.infer<typeof StoreEnv>;

/** What every Job of a round asks of a cluster, whatever its pods do (train, or score outputs). */
const JobCommon = {
  runId: Bytes32,
  round: z.number().int().min(0),
  /** Bumped by the workflow when it retries a round on the same cluster. */
  attempt: z.number().int().min(0).default(0),
  /** The trainer image (ignored by the local executor, which runs `command` here). */
  image: z.string().min(1),
  /** The program's command line, e.g. ["node", "trainer/main.ts"]. */
  command: z.array(z.string().min(1)).min(1),
  /** The PriorityClass the contributor runs daotrain's pods at (its bundle's quota names it). */
  priorityClassName: z.string().min(1).optional(),
  /** The contributor's Kueue LocalQueue: the Job carries its name and starts suspended. */
  queue: z.string().min(1).optional(),
  /** Each pod's cpu, memory and ephemeral storage (requests = limits; the latter caps /tmp too). */
  ...ReplicaResources.shape,
  /** The global checkpoint θ the round starts from. */
  initUri: z.string().min(1),
  initRoot: Bytes32,
  datasetUri: z.string().min(1),
  datasetRoot: Bytes32,
  /** A pod still running after this long is stopped and reported failed. */
  activeDeadlineSeconds: z
    .number()
    .int()
    .min(1)
    .default(6 * 3600),
  /** Retries of one pod before it counts as failed. */
  backoffLimitPerIndex: z.number().int().min(0).default(0),
  /** Secret-valued env for the run store (see `StoreEnv`); none by default. */
  storeEnv: StoreEnv.default({}),
  /** How long a finished Job stays for its logs before Kubernetes removes it. */
  ttlSecondsAfterFinished: z
    .number()
    .int()
    .min(0)
    .default(24 * 3600),
};

/** Each replica index may appear once in a Job. */
function distinctReplicas(entries: readonly { replica: number }[]): boolean {
  return new Set(entries.map((r) => r.replica)).size === entries.length;
}

/** What a round asks of one cluster; the Job (or the local processes) is built from this alone. */
export const RoundJobSpec = z
  .object({
    ...JobCommon,
    /** The replicas this cluster runs, one pod (or process) each. */
    replicas: z.array(ReplicaAssignment).min(1),
    /** All replicas of the round, across clusters (DAOTRAIN_REPLICAS). */
    totalReplicas: z.number().int().min(1),
    gpusPerReplica: z.number().int().min(0),
    /** Only nodes whose `nvidia.com/gpu.product` label equals this, when given. */
    gpuProduct: z.string().min(1).optional(),
    innerSteps: z.number().int().min(1),
    seed: z.number().int().min(0),
  })
  .strict()
  .refine((s) => distinctReplicas(s.replicas), {
    message: "each replica index may appear once",
    path: ["replicas"],
  })
  .refine((s) => s.replicas.every((r) => r.replica < s.totalReplicas), {
    message: "replica indices must be below totalReplicas",
    path: ["replicas"],
  });
export type RoundJobSpec = z.infer<typeof RoundJobSpec>;
export type RoundJobSpecInput = z.input<typeof RoundJobSpec>;

export function parseRoundJobSpec(input: unknown): RoundJobSpec {
  return parseWith(RoundJobSpec, input, "round job spec");
}

/** One replica output an evaluation pod scores, and where its scores go. */
export const EvaluationAssignment = z
  .object({
    /** The scored replica's index in the round. */
    replica: z.number().int().min(0),
    /** Its output checkpoint, readable with the evaluating cluster's store keys. */
    outputUri: z.string().min(1),
    outputRoot: Bytes32,
    /** Under the evaluating cluster's own prefix of the run store. */
    scoresUri: z.string().min(1),
  })
  .strict();
export type EvaluationAssignment = z.infer<typeof EvaluationAssignment>;

/**
 * What a round asks of a cluster that scores other contributors' outputs for the outer step: one
 * pod per output, running the evaluator (`node trainer/evaluate.ts`) of the run's image. Pods
 * hold no GPU: the scores come from the deterministic evaluator, plain JavaScript on the CPU.
 */
export const EvaluationJobSpec = z
  .object({
    ...JobCommon,
    outputs: z.array(EvaluationAssignment).min(1),
    /** The round's sampling seed (DAOTRAIN_SCORING_SEED). */
    scoringSeed: z.string().regex(/^0x[0-9a-f]{64}$/, "must be 0x and 64 lowercase hex digits"),
  })
  .strict()
  .refine((s) => distinctReplicas(s.outputs), {
    message: "each replica index may appear once",
    path: ["outputs"],
  });
export type EvaluationJobSpec = z.infer<typeof EvaluationJobSpec>;
export type EvaluationJobSpecInput = z.input<typeof EvaluationJobSpec>;

export function parseEvaluationJobSpec(input: unknown): EvaluationJobSpec {
  return parseWith(EvaluationJobSpec, input, "evaluation job spec");
}

/** A replica's state; `failed` and `lost` carry a reason a person can act on. */
export type ReplicaState =
  | { replica: number; state: "pending"; reason?: string }
  | { replica: number; state: "running"; node?: string }
  | {
      replica: number;
      state: "succeeded";
      /** When the trainer ran, as the cluster recorded it (container start and finish). */
      ran?: { startedAtMs: number; finishedAtMs: number };
    }
  | { replica: number; state: "failed"; reason: string; exitCode?: number }
  | {
      replica: number;
      state: "lost";
      reason: string;
      /** The owner's higher-priority work took the GPUs back: a dropout, not a fault of the cluster. */
      preempted?: true;
    };

export interface RoundStatus {
  ref: RoundRef;
  /** In the order of the spec's `replicas`. */
  replicas: ReplicaState[];
  /** Every replica is succeeded, failed or lost. */
  done: boolean;
}

export function isTerminal(state: ReplicaState): boolean {
  return state.state === "succeeded" || state.state === "failed" || state.state === "lost";
}

/** The deterministic name of a round's Job (or local directory) on any cluster. */
export function roundName(spec: Pick<RoundJobSpec, "runId" | "round" | "attempt">): string {
  return `dt-${spec.runId.slice(2, 14)}-r${spec.round}-a${spec.attempt}`;
}

/** The deterministic name of the Job scoring a round attempt's outputs on a cluster. */
export function evaluationName(spec: Pick<RoundJobSpec, "runId" | "round" | "attempt">): string {
  return `${roundName(spec)}-eval`;
}

/** A round asked for more GPUs than the cluster's ResourceQuota leaves. */
export class QuotaExceededError extends Error {
  override readonly name = "QuotaExceededError";
  readonly quota: string;
  readonly requested: number;
  readonly available: number;
  constructor(quota: string, requested: number, available: number) {
    super(
      `round needs ${requested} GPUs but ResourceQuota "${quota}" leaves ${available} (requests.nvidia.com/gpu); ` +
        "launch fewer replicas here or ask the contributor to raise the donation",
    );
    this.quota = quota;
    this.requested = requested;
    this.available = available;
  }
}

/** The round was never launched on this cluster (or was cleaned up). */
export class RoundNotFoundError extends Error {
  override readonly name = "RoundNotFoundError";
  constructor(ref: RoundRef) {
    super(`round ${ref.name} is not on cluster ${ref.cluster}; launch it first`);
  }
}
