// Plain data that crosses the workflow ↔ activity boundary. Types only: the workflow bundle
// must not pull in any module that does I/O.

import type { RejectionReason } from "../diloco/verdicts.ts";

export type Hex = `0x${string}`;

/**
 * An admitted cluster the worker holds credentials for. Workflows know it by name only: each
 * activity resolves the name to its credentials from the worker's own clusters file, so no
 * kubeconfig or key is ever part of a workflow's payloads or history.
 */
export interface ClusterTarget {
  /** On-chain cluster id (bytes32). */
  id: Hex;
  /** The name in the worker's clusters file; also Job names, logs and metrics labels. */
  name: string;
  /** The owner the compute ledger credits. */
  owner: Hex;
}

export type ClusterHealth =
  | {
      healthy: true;
      freeGpus: number;
      /** Free GPUs per `nvidia.com/gpu.product`; empty when the cluster does not share node capacity. */
      freeGpusByProduct?: Record<string, number>;
    }
  | { healthy: false; freeGpus: 0; reason: string };

export type ClusterCandidate = ClusterTarget & {
  health: ClusterHealth;
  /** Its clusters-file entry offers evaluation pods (CPU only) scoring other contributors' outputs. */
  evaluates?: true;
  /** The GPU product its owner registered on-chain (what placement goes by without node capacity). */
  gpuProduct?: string;
};

/** A checkpoint the orchestrator has verified (root recomputed from its shards). */
export interface CheckpointRef {
  /** URI of the checkpoint directory (or prefix) in the run store. */
  uri: string;
  root: Hex;
}

export interface CheckpointMetrics {
  loss: number;
  valLoss: number;
  tokens: number;
  steps: number;
}

/** What one cluster runs in one attempt of a round: a Job with these global replica indices. */
export interface Placement {
  cluster: ClusterTarget;
  replicas: number[];
}

/** Identifies one launch: deterministic, so a retried launch finds the Job it already created. */
export interface LaunchKey {
  runId: Hex;
  round: number;
  attempt: number;
  clusterName: string;
}

export type ReplicaPhase = "pending" | "running" | "succeeded" | "failed" | "lost";

/** A replica's end state as the cluster reported it, with the times its pod ran. */
export type ReplicaResult =
  | {
      replica: number;
      clusterId: Hex;
      phase: "succeeded";
      outputUri: string;
      startedAtMs: number;
      finishedAtMs: number;
    }
  | {
      replica: number;
      clusterId: Hex;
      phase: "failed" | "lost";
      reason: string;
      /** Lost because its cluster stopped answering (so deleting its Job is tried once only). */
      unreachable?: true;
      /** The owner's own work took the GPUs back: a dropout without a strike (and without pay). */
      preempted?: true;
    };

/** What the worker measured of a replica (diloco/verdicts.ts), in nats and parameter units. */
export interface ReplicaScores {
  heldOutLoss: number;
  ownShardLoss: number;
  /** θ's loss on the same own-shard windows: the improvement is this minus ownShardLoss. */
  ownShardLossOfGlobal: number;
  /** ‖θ − θₖ‖. */
  movement: number;
}

/**
 * The evaluating clusters (ids) whose scores of an output are the bits its verdict rests on;
 * absent when the worker alone computed them.
 */
type EvaluatedBy = { evaluatedBy?: Hex[] };

/**
 * What the outer step needs of a succeeded replica: which one, where its output is, and the
 * cluster the round record names for it. Only this travels to the aggregation: a 6,400-replica
 * round's full results would be a 2.1 MiB payload, over Temporal's 2 MiB limit.
 */
export type ReplicaOutput = Pick<
  Extract<ReplicaResult, { phase: "succeeded" }>,
  "replica" | "clusterId" | "outputUri"
>;

/**
 * A round of up to this many replicas brings every verdict back to the workflow in full. A larger
 * one brings its accepted verdicts bare and its rejections with their reason and a shortened
 * message (`briefVerdicts`); the round record and the worker's log keep every one whole. 6,400
 * verdicts in full are about 3 MB, over Temporal's 2 MiB payload limit.
 */
export const DETAILED_ROUND_REPLICAS = 256;

export type ReplicaVerdict =
  | ({
      replica: number;
      accepted: true;
      /** Each measure beside the threshold it passed; absent in a round past DETAILED_ROUND_REPLICAS. */
      detail?: string;
      /** Absent in a round past DETAILED_ROUND_REPLICAS. */
      scores?: ReplicaScores;
    } & EvaluatedBy)
  | ({
      replica: number;
      accepted: false;
      reason: RejectionReason;
      /** What exactly was wrong, for a person (shortened in a round past DETAILED_ROUND_REPLICAS). */
      detail: string;
      /** Absent when its files failed before anything was measured, or in a round past DETAILED_ROUND_REPLICAS. */
      scores?: ReplicaScores;
    } & EvaluatedBy);

/** A cluster scoring an output; it writes the scores under its own prefix (RunStore `scoresKey`). */
export interface PlannedEvaluator {
  clusterId: Hex;
  clusterName: string;
}

/**
 * Which outputs of a round were scored on evaluation Jobs, by whom, and which the worker re-checks
 * itself (workflows/evaluation.ts states the rule). An output not listed is scored by the worker.
 */
export interface RoundEvaluations {
  /** The round's attempt whose outputs were scored (the scores' keys carry it). */
  attempt: number;
  /** The round's sampling seed the evaluators were given (model/replicaScores.ts `scoringSeedHex`). */
  seed: Hex;
  outputs: {
    replica: number;
    /** The output root the evaluators were given. */
    root: Hex;
    /** One, or two of different contributors; none of them its author's. */
    evaluators: PlannedEvaluator[];
    /** Drawn after the scores were in: the worker computes this output's scores whatever they say. */
    recheck: boolean;
  }[];
}

/** A published round record (rounds/record.ts): where it is and its sha256, which the commit carries. */
export interface RecordRef {
  uri: string;
  hash: Hex;
}

/**
 * The aggregation's answer: verdicts for every output, and if quorum the new global checkpoint with
 * the round record that says how it came to be (published before the commit).
 */
export interface AggregateResult {
  verdicts: ReplicaVerdict[];
  checkpoint: (CheckpointRef & { metrics: CheckpointMetrics; record: RecordRef }) | undefined;
  /**
   * Evaluating clusters whose scores differ from the bits the worker computed for the same output,
   * or that claim a root or seed other than they were given: struck, and never paid for the round.
   */
  lyingEvaluators?: Hex[];
}

export interface ComputeRecord {
  clusterId: Hex;
  gpuSeconds: number;
}

/** How a run ends on-chain: its rounds or budget done, unable to go on, or stopped on request. */
export type RunClosing =
  | { as: "completed" }
  | { as: "failed"; reason: string }
  | { as: "cancelled"; reason: string };

/** A replica's row in the live status: where it ran and how it ended. */
export interface ReplicaStatus {
  replica: number;
  attempt: number;
  cluster: string;
  phase: ReplicaPhase | "accepted" | "rejected";
  /** Why it failed, was lost or was rejected, for a person. */
  reason?: string;
  /** Why the outer step rejected it, when it did. */
  rejection?: RejectionReason;
  scores?: ReplicaScores;
  /** Accepted: each measure beside the threshold it passed. */
  measures?: string;
  /** What the replica is credited (for an accepted one, after `paidRunTimes`'s bound). */
  gpuSeconds?: number;
  /** What its cluster's times claimed, when that is more than it is credited. */
  claimedGpuSeconds?: number;
  /** The evaluating clusters (ids) whose scores its verdict rests on; absent: the worker's own. */
  evaluatedBy?: Hex[];
}

export interface RoundSummary {
  round: number;
  root: Hex;
  manifestUri: string;
  metrics: CheckpointMetrics;
  attempts: number;
  replicas: ReplicaStatus[];
  credits: ComputeRecord[];
  /** Workflow-clock milliseconds of each phase (launch, train, aggregate, commit, total). */
  phaseMs: Record<"launch" | "train" | "aggregate" | "commit" | "total", number>;
  /** Evaluating clusters caught lying about scores this round (struck, unpaid); absent when none. */
  lyingEvaluators?: Hex[];
}

export type RunState = "running" | "paused" | "completed" | "cancelled" | "failed";

export interface RunStatus {
  runId: Hex;
  name: string;
  state: RunState;
  /** Why the run stopped (completed: "rounds" or "budget"), when it has. */
  reason: string | undefined;
  rounds: number;
  /** Rounds committed so far. */
  committedRounds: number;
  gpuSecondsUsed: number;
  gpuSecondsBudget: number;
  /** The round in flight, with its replicas as they stand. */
  current: { round: number; attempt: number; replicas: ReplicaStatus[] } | undefined;
  /**
   * The latest committed rounds, oldest first (bounded, it travels through continueAsNew); an
   * older round of more than 256 replicas keeps only the rows of those not accepted.
   */
  recent: RoundSummary[];
}

export type CancelSource = "dao" | "operator";

/** A run's status on-chain (RunRegistry), as the orchestration reads it. */
export type ChainRunStatus = "none" | "approved" | "completed" | "cancelled" | "failed";

/**
 * Why a run approved on-chain was not started: its spec could not be fetched (after retries),
 * is not a valid spec, is not the run the DAO approved, or cannot pay for one round.
 */
export type RefusalCause = "unreadable" | "invalid" | "mismatch" | "unaffordable";
