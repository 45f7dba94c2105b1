import type { RunSpec } from "../spec/runSpec.ts";
import type {
  AggregateResult,
  ChainRunStatus,
  CheckpointMetrics,
  CheckpointRef,
  ClusterCandidate,
  ClusterTarget,
  ComputeRecord,
  Hex,
  LaunchKey,
  Placement,
  RefusalCause,
  ReplicaOutput,
  ReplicaResult,
  RoundEvaluations,
  RoundSummary,
  RunClosing,
  RunState,
} from "./types.ts";

// The activities' signatures: the contract between the workflows (which only import these
// types) and the worker (whose implementations must satisfy them). Grouped by concern.

export interface ClusterActivities {
  /** Admitted clusters (chain) that the worker has credentials for, each with fresh health. */
  surveyClusters(): Promise<ClusterCandidate[]>;
  /** Starts one Job for the placement; launching the same key twice finds the first Job. */
  launchReplicas(request: {
    key: LaunchKey;
    placement: Placement;
    spec: RunSpec;
    init: CheckpointRef;
  }): Promise<void>;
  /**
   * Watches the Job until every replica ended or `deadlineMs` (epoch ms) passed, heartbeating;
   * a replica still going at the deadline is reported lost, and so is every unfinished replica
   * of a cluster that answered no status read for `silenceSeconds`.
   */
  awaitReplicas(request: {
    key: LaunchKey;
    placement: Placement;
    deadlineMs: number;
    silenceSeconds: number;
  }): Promise<ReplicaResult[]>;
  /** Deletes the Job and its pods (foreground); deleting what is gone is not an error. */
  cancelReplicas(request: { key: LaunchKey; cluster: ClusterTarget }): Promise<void>;
}

export interface StorageActivities {
  /** The run's initial global checkpoint (written once, the same on every call). */
  prepareRun(request: { runId: Hex; spec: RunSpec }): Promise<CheckpointRef>;
  /** Copies a released checkpoint to the public store, verifying it against its on-chain root. */
  publishCheckpoint(request: { runId: Hex; round: number }): Promise<CheckpointRef>;
  /**
   * The retention rule's end (rounds/README.md): deletes the replica outputs of every round of the
   * run up to `round`, which the DAO released; their records and global checkpoints stay.
   */
  pruneReplicaOutputs(request: { runId: Hex; round: number }): Promise<{ deleted: number }>;
}

export interface AggregationActivities {
  /**
   * Re-hashes and validates every replica output against `parent`, and when at least
   * `minReplicas` pass, writes the next global checkpoint (the DiLoCo outer step).
   */
  aggregateRound(request: {
    runId: Hex;
    round: number;
    spec: RunSpec;
    parent: CheckpointRef;
    outputs: ReplicaOutput[];
    /** Outputs scored on evaluation Jobs; the worker scores the rest (and re-checks per the rule). */
    evaluations?: RoundEvaluations;
  }): Promise<AggregateResult>;
}

/** Scoring a round's outputs on evaluation Jobs of other contributors' clusters (workflows/evaluation.ts). */
export interface ScoringActivities {
  /**
   * What evaluators are told, from the outputs' manifests alone (no tensor): the round's sampling
   * seed and each readable output's root; an output whose manifest fails is absent (the outer step
   * judges it).
   */
  prepareScoring(request: {
    runId: Hex;
    round: number;
    spec: RunSpec;
    parent: CheckpointRef;
    outputs: ReplicaOutput[];
  }): Promise<{ seed: Hex; roots: Record<number, Hex> }>;
  /** Starts the evaluation Job on `key`'s cluster for these outputs, or finds it started. */
  launchEvaluation(request: {
    key: LaunchKey;
    spec: RunSpec;
    parent: CheckpointRef;
    seed: Hex;
    outputs: { replica: number; outputUri: string; root: Hex }[];
  }): Promise<void>;
  /** Watches the evaluation Job until its pods ended or `deadlineMs`; the replicas whose pod succeeded. */
  awaitEvaluation(request: { key: LaunchKey; deadlineMs: number }): Promise<number[]>;
  /** Deletes the evaluation Job; deleting what is gone is not an error. */
  cancelEvaluation(request: { key: LaunchKey }): Promise<void>;
}

export interface ChainActivities {
  /**
   * Commits the round and pays for it in one transaction: its root, the hash of its round record
   * and each accepted cluster's credits. "Already committed with the same root and record hash"
   * is success (an earlier attempt landed, credits included).
   */
  commitRound(request: {
    runId: Hex;
    round: number;
    checkpoint: CheckpointRef;
    metrics: CheckpointMetrics;
    credits: ComputeRecord[];
    /** sha256 of the round record's canonical JSON (AggregateResult's `record.hash`). */
    recordHash: Hex;
  }): Promise<{ alreadyCommitted: boolean }>;
  /**
   * Closes the run on-chain when it is still open, returning the unspent escrow to the DAO:
   * completed (completeRun), failed with its reason (failRun) or cancelled on request with its
   * reason (cancelRunAsOperator). A run already closed, however, is success with `closedNow: false`.
   */
  closeRun(request: { runId: Hex; closing: RunClosing }): Promise<{ closedNow: boolean }>;
  /** Records where a released checkpoint was published; the same URI recorded again is success. */
  recordPublication(request: { runId: Hex; round: number; manifestUri: string }): Promise<{
    recordedNow: boolean;
  }>;
}

export type GovernanceEvent =
  | { kind: "runApproved"; runId: Hex; specUri: string; block: number }
  | { kind: "runCancelled"; runId: Hex; block: number }
  | { kind: "checkpointReleased"; runId: Hex; round: number; block: number };

export interface GovernanceActivities {
  /**
   * Daotrain's governance events in blocks [fromBlock, head − confirmations] (the worker's
   * setting); `nextBlock` resumes after them.
   */
  pollGovernance(request: { fromBlock: number }): Promise<{ events: GovernanceEvent[]; nextBlock: number }>;
  /** The run's status on-chain now. */
  readRunStatus(request: { runId: Hex }): Promise<{ status: ChainRunStatus }>;
  /**
   * Fetches a run spec and checks that it is the approved run's: it hashes to the run id and
   * its dataset, GPU-second budget and reward rate are the ones approved on-chain. Final errors:
   * InvalidInputError (not a spec, or a URI this worker may not read), RunSpecMismatchError.
   */
  fetchRunSpec(request: { runId: Hex; specUri: string }): Promise<RunSpec>;
}

export interface MetricsActivities {
  reportRound(request: { runId: Hex; summary: RoundSummary }): Promise<void>;
  reportRunState(request: { runId: Hex; from: RunState | undefined; to: RunState }): Promise<void>;
  reportClusterHealth(request: { candidates: ClusterCandidate[] }): Promise<void>;
  /** Logs and counts a run that was approved on-chain but refused to start. */
  reportRunRefused(request: { runId: Hex; cause: RefusalCause; reason: string }): Promise<void>;
}

export type Activities = ClusterActivities &
  StorageActivities &
  AggregationActivities &
  ScoringActivities &
  ChainActivities &
  GovernanceActivities &
  MetricsActivities;
