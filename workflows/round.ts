import { CancellationScope, isCancellation, log, proxyActivities, sleep } from "@temporalio/workflow";
import type { RunSpec } from "../spec/runSpec.ts";
import type { Activities } from "./activities.ts";
import { scoreOnClusters } from "./evaluation.ts";
import {
  creditsFor,
  gpuSecondsOf,
  paidRunTimes,
  placeReplicas,
  replicaDeadlineSeconds,
  replicasToRetry,
} from "./planning.ts";
import { chainRetry, clusterRetry } from "./retry.ts";
import type {
  AggregateResult,
  CheckpointRef,
  Hex,
  LaunchKey,
  Placement,
  ReplicaResult,
  ReplicaStatus,
  RoundSummary,
} from "./types.ts";

export interface RoundOptions {
  /**
   * For tests only: a replica deadline shorter than the spec's `roundDeadlineSeconds` (a longer
   * one is ignored; the DAO approved the spec's, and the contract bounds a round's credits by it).
   */
  replicaDeadlineSeconds?: number;
  /**
   * A cluster that answers no status read for this long (each read gives up after 10 s) is dead
   * for the round: its unfinished replicas are lost and retried elsewhere, long before the deadline.
   */
  clusterSilenceSeconds: number;
  /** Attempts per round (the first plus retries on other clusters) before the run fails. */
  maxAttemptsPerRound: number;
  /** An activity watching a Job that is silent this long is retried (on another worker). */
  heartbeatSeconds: number;
  /** Wait before an attempt that found no cluster with room. */
  noCapacityRetrySeconds: number;
}

export interface RoundInput {
  runId: Hex;
  spec: RunSpec;
  round: number;
  parent: CheckpointRef;
  strikes: Readonly<Record<string, number>>;
  options: RoundOptions;
  /** Called whenever the round's replicas change, for the live status query. */
  onProgress: (attempt: number, replicas: ReplicaStatus[]) => void;
}

export type RoundOutcome =
  | { ok: true; summary: RoundSummary; offenders: Hex[] }
  | { ok: false; reason: string; offenders: Hex[] };

const quick = proxyActivities<Activities>({
  startToCloseTimeout: "30 seconds",
  retry: clusterRetry,
});
const chain = proxyActivities<Activities>({ startToCloseTimeout: "45 seconds", retry: chainRetry });
/**
 * Deleting a round's Jobs: three tries (one on a cluster that already stopped answering), then it
 * is left to the cluster (the Job's own deadline and TTL remove it there), so a dead cluster never
 * holds up or fails the run.
 */
const cleanup = proxyActivities<Activities>({
  startToCloseTimeout: "3 minutes",
  retry: { ...clusterRetry, maximumAttempts: 3 },
});
const cleanupOnce = proxyActivities<Activities>({
  startToCloseTimeout: "1 minute",
  retry: { ...clusterRetry, maximumAttempts: 1 },
});

/**
 * One DiLoCo round: place replicas, launch a Job per cluster, await them, aggregate what came
 * back, and, once `minReplicas` outputs are accepted, commit the new global checkpoint and
 * credit the clusters whose replicas were accepted. Replicas without an accepted output are
 * retried on other clusters until the quorum is met or the attempts are spent.
 */
export async function runRound(input: RoundInput): Promise<RoundOutcome> {
  // Deleting an attempt's Jobs is off the critical path: it runs while the round aggregates and
  // commits, and the round still waits for it before it returns or gives way to a cancellation.
  const cleanups: Promise<unknown>[] = [];
  try {
    return await playRound(input, cleanups);
  } finally {
    await Promise.all(cleanups);
  }
}

async function playRound(input: RoundInput, cleanups: Promise<unknown>[]): Promise<RoundOutcome> {
  const { spec, options } = input;
  const terms = {
    gpusPerReplica: spec.gpusPerReplica,
    deadlineSeconds: replicaDeadlineSeconds(spec, options.replicaDeadlineSeconds),
  };
  const startedAt = Date.now();
  const phaseMs = { launch: 0, train: 0, aggregate: 0, commit: 0, total: 0 };
  const all = Array.from({ length: spec.replicasPerRound }, (_, i) => i);
  const outputs = new Map<number, Extract<ReplicaResult, { phase: "succeeded" }>>();
  const rows = new Map<number, ReplicaStatus>();
  const offenders = new Set<Hex>();
  const lyingEvaluators = new Set<Hex>();
  let pending = all;
  // The outer step computes in long synchronous stretches that delay its heartbeats on a busy
  // machine, so it gets more slack than a watch before it is presumed lost.
  const heavy = proxyActivities<Activities>({
    startToCloseTimeout: "30 minutes",
    heartbeatTimeout: `${Math.max(options.heartbeatSeconds, 30)} seconds`,
    retry: clusterRetry,
  });
  let aggregate: AggregateResult | undefined;
  let attempt = 0;

  while (attempt < options.maxAttemptsPerRound) {
    attempt += 1;
    const candidates = await quick.surveyClusters();
    const placements = placeReplicas(candidates, pending, spec.gpusPerReplica, {
      excluded: offenders,
      strikes: input.strikes,
      ...(spec.gpuProduct ? { gpuProduct: spec.gpuProduct } : {}),
    });
    if (placements.length === 0) {
      await sleep(options.noCapacityRetrySeconds * 1000);
      continue;
    }
    for (const p of placements) {
      for (const replica of p.replicas) rows.set(replica, row(replica, attempt, p, "pending"));
    }
    input.onProgress(attempt, [...rows.values()]);

    const results = await runAttempt(input, attempt, placements, terms.deadlineSeconds, phaseMs, cleanups);
    for (const result of results) {
      const placement = placements.find((p) => p.cluster.id === result.clusterId);
      if (result.phase === "succeeded") {
        outputs.set(result.replica, result);
        rows.set(result.replica, {
          ...row(result.replica, attempt, placement, "succeeded"),
          gpuSeconds: gpuSecondsOf(result, terms),
        });
      } else {
        // Contributors keep first call on their GPUs: giving them back is no fault.
        if (!result.preempted) offenders.add(result.clusterId);
        rows.set(result.replica, {
          ...row(result.replica, attempt, placement, result.phase),
          reason: result.reason,
        });
      }
    }
    input.onProgress(attempt, [...rows.values()]);

    if (outputs.size >= spec.minReplicas) {
      const aggregateStarted = Date.now();
      const delivered = [...outputs.values()].sort((a, b) => a.replica - b.replica);
      const evaluations = await scoreOnClusters(
        {
          runId: input.runId,
          round: input.round,
          attempt,
          spec,
          parent: input.parent,
          outputs: delivered,
          candidates,
          excluded: offenders,
          heartbeatSeconds: options.heartbeatSeconds,
        },
        cleanups,
      );
      aggregate = await heavy.aggregateRound({
        runId: input.runId,
        round: input.round,
        spec,
        parent: input.parent,
        outputs: delivered.map(({ replica, clusterId, outputUri }) => ({ replica, clusterId, outputUri })),
        ...(evaluations ? { evaluations } : {}),
      });
      phaseMs.aggregate += Date.now() - aggregateStarted;
      for (const liar of aggregate.lyingEvaluators ?? []) {
        offenders.add(liar);
        lyingEvaluators.add(liar);
      }
      for (const verdict of aggregate.verdicts) {
        const found = rows.get(verdict.replica);
        if (!found) continue;
        const { evaluatedBy: _previous, ...unscored } = found;
        const current = verdict.evaluatedBy ? { ...unscored, evaluatedBy: verdict.evaluatedBy } : unscored;
        if (verdict.accepted)
          rows.set(verdict.replica, {
            ...current,
            phase: "accepted",
            ...(verdict.scores ? { scores: verdict.scores } : {}),
            ...(verdict.detail !== undefined ? { measures: verdict.detail } : {}),
          });
        else {
          rows.set(verdict.replica, {
            ...current,
            phase: "rejected",
            reason: `${verdict.reason}: ${verdict.detail}`,
            rejection: verdict.reason,
            ...(verdict.scores ? { scores: verdict.scores } : {}),
            gpuSeconds: 0,
          });
          const output = outputs.get(verdict.replica);
          if (output) offenders.add(output.clusterId);
          outputs.delete(verdict.replica);
        }
      }
      input.onProgress(attempt, [...rows.values()]);
      if (aggregate.checkpoint) break;
    }
    pending = replicasToRetry(all, aggregate?.verdicts ?? []).filter((r) => !outputs.has(r));
  }

  if (aggregate?.checkpoint) {
    // Each accepted replica is paid for at most what its peers took (planning.ts paidRunTimes).
    const accepted = [...outputs.values()];
    for (const paid of paidRunTimes(accepted, aggregate.verdicts, terms.deadlineSeconds)) {
      const current = rows.get(paid.replica);
      const claimed = outputs.get(paid.replica);
      outputs.set(paid.replica, paid);
      if (!current || !claimed) continue;
      const gpuSeconds = gpuSecondsOf(paid, terms);
      const claimedGpuSeconds = gpuSecondsOf(claimed, terms);
      rows.set(paid.replica, {
        ...current,
        gpuSeconds,
        ...(claimedGpuSeconds > gpuSeconds ? { claimedGpuSeconds } : {}),
      });
    }
  }
  const checkpoint = aggregate?.checkpoint;
  if (!aggregate || !checkpoint) {
    return {
      ok: false,
      reason: `round ${input.round}: fewer than ${spec.minReplicas} accepted replicas after ${attempt} attempts`,
      offenders: [...offenders],
    };
  }
  const commitStarted = Date.now();
  const credits = creditsFor([...outputs.values()], aggregate.verdicts, terms);
  // Root and payment land in one transaction, so a cancellation meanwhile finds the round either
  // committed and paid or not committed at all (a run the DAO cancelled refuses the commit).
  await chain.commitRound({
    runId: input.runId,
    round: input.round,
    checkpoint: { uri: checkpoint.uri, root: checkpoint.root },
    metrics: checkpoint.metrics,
    credits,
    recordHash: checkpoint.record.hash,
  });
  phaseMs.commit = Date.now() - commitStarted;
  phaseMs.total = Date.now() - startedAt;
  const summary: RoundSummary = {
    round: input.round,
    root: checkpoint.root,
    manifestUri: checkpoint.uri,
    metrics: checkpoint.metrics,
    attempts: attempt,
    replicas: [...rows.values()].sort((a, b) => a.replica - b.replica),
    credits,
    phaseMs,
    ...(lyingEvaluators.size > 0 ? { lyingEvaluators: [...lyingEvaluators].sort() } : {}),
  };
  await quick.reportRound({ runId: input.runId, summary });
  return { ok: true, summary, offenders: [...offenders] };
}

/**
 * Launches every placement and awaits it; a cluster that cannot launch or be watched fails only
 * its own replicas. The Jobs' deletion is always scheduled afterwards (into `cleanups`), on
 * cancellation too.
 */
async function runAttempt(
  input: RoundInput,
  attempt: number,
  placements: Placement[],
  deadlineSeconds: number,
  phaseMs: { launch: number; train: number },
  cleanups: Promise<unknown>[],
): Promise<ReplicaResult[]> {
  const started = Date.now();
  const deadlineMs = started + deadlineSeconds * 1000;
  const watch = proxyActivities<Activities>({
    startToCloseTimeout: `${deadlineSeconds + 120} seconds`,
    heartbeatTimeout: `${input.options.heartbeatSeconds} seconds`,
    retry: clusterRetry,
  });
  let launched = started;
  const keyOf = (p: Placement): LaunchKey => ({
    runId: input.runId,
    round: input.round,
    attempt,
    clusterName: p.cluster.name,
  });
  const silent = new Set<string>();
  const one = async (p: Placement): Promise<ReplicaResult[]> => {
    try {
      await quick.launchReplicas({ key: keyOf(p), placement: p, spec: input.spec, init: input.parent });
    } catch (error) {
      if (isCancellation(error)) throw error;
      return endAll(p, "failed", `launch failed: ${messageOf(error)}`);
    }
    launched = Math.max(launched, Date.now());
    try {
      const results = await watch.awaitReplicas({
        key: keyOf(p),
        placement: p,
        deadlineMs,
        silenceSeconds: input.options.clusterSilenceSeconds,
      });
      if (results.some((r) => r.phase !== "succeeded" && r.unreachable)) silent.add(p.cluster.id);
      return results;
    } catch (error) {
      if (isCancellation(error)) throw error;
      return endAll(p, "lost", `watch failed: ${messageOf(error)}`);
    }
  };
  try {
    const results = (await Promise.all(placements.map(one))).flat();
    phaseMs.launch += launched - started;
    phaseMs.train += Date.now() - launched;
    return results;
  } finally {
    cleanups.push(
      CancellationScope.nonCancellable(() =>
        Promise.all(
          placements.map((p) =>
            (silent.has(p.cluster.id) ? cleanupOnce : cleanup)
              .cancelReplicas({ key: keyOf(p), cluster: p.cluster })
              .catch((error: unknown) => {
                log.warn("left a round's Job to the cluster's own deadline and TTL", {
                  cluster: p.cluster.name,
                  error: messageOf(error),
                });
              }),
          ),
        ),
      ),
    );
  }
}

function endAll(p: Placement, phase: "failed" | "lost", reason: string): ReplicaResult[] {
  return p.replicas.map((replica) => ({ replica, clusterId: p.cluster.id, phase, reason }));
}

function messageOf(error: unknown): string {
  const cause = (error as { cause?: unknown }).cause;
  const inner = cause instanceof Error ? cause.message : undefined;
  return inner ?? (error instanceof Error ? error.message : String(error));
}

function row(
  replica: number,
  attempt: number,
  placement: Placement | undefined,
  phase: ReplicaStatus["phase"],
): ReplicaStatus {
  return { replica, attempt, cluster: placement?.cluster.name ?? "?", phase };
}
