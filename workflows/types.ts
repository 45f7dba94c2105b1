// Plain data that crosses the workflow ↔ activity boundary. Types only: the workflow bundle
// must not pull in any module that does I/O.

export type Hex = `0x${string}`;

/** How the worker reaches a contributed cluster. Credentials: encrypted by the payload codec. */
export type ClusterAccess =
  | {
      kind: "local";
      workDir: string;
      gpus: number;
      gpuProduct?: string;
      /** Extra env for this executor's trainer processes (the trainer contract's keys win). */
      env?: Record<string, string>;
    }
  | { kind: "kubernetes"; kubeconfig: string; namespace: string };

/** An admitted cluster the worker holds credentials for. */
export interface ClusterTarget {
  /** On-chain cluster id (bytes32). */
  id: Hex;
  /** Short name for Job names, logs and metrics labels. */
  name: string;
  /** The owner the compute ledger credits. */
  owner: Hex;
  access: ClusterAccess;
}

export type ClusterHealth =
  | { healthy: true; freeGpus: number }
  | { healthy: false; freeGpus: 0; reason: string };

export type ClusterCandidate = ClusterTarget & { health: ClusterHealth };

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
  | { replica: number; clusterId: Hex; phase: "failed" | "lost"; reason: string };

/**
 * What the outer step needs of a succeeded replica: which one, and where its output is. Only
 * this travels to the aggregation: a 6,400-replica round's full results would be a 2.1 MiB
 * payload, over Temporal's 2 MiB limit; these are half that.
 */
export type ReplicaOutput = Pick<Extract<ReplicaResult, { phase: "succeeded" }>, "replica" | "outputUri">;

export type ReplicaVerdict =
  | { replica: number; accepted: true }
  | { replica: number; accepted: false; reason: string };

/** The aggregation's answer: verdicts for every output, and the new global checkpoint if quorum. */
export interface AggregateResult {
  verdicts: ReplicaVerdict[];
  checkpoint: (CheckpointRef & { metrics: CheckpointMetrics }) | undefined;
}

export interface ComputeRecord {
  clusterId: Hex;
  gpuSeconds: number;
}

/** A replica's row in the live status: where it ran and how it ended. */
export interface ReplicaStatus {
  replica: number;
  attempt: number;
  cluster: string;
  phase: ReplicaPhase | "accepted" | "rejected";
  reason?: string;
  gpuSeconds?: number;
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
