import { CancellationScope, isCancellation, proxyActivities, sleep } from "@temporalio/workflow";
import type { RunSpec } from "../spec/runSpec.ts";
import type { Activities } from "./activities.ts";
import { creditsFor, gpuSecondsOf, placeReplicas, replicasToRetry } from "./planning.ts";
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
  /** How long a replica may take before it is reported lost and its Job deleted. */
  replicaDeadlineSeconds: number;
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
 * Deleting a round's Job waits until its pods are gone (up to 120 s, `ComputeCluster.cancelRound`):
 * a busy cluster takes tens of seconds for 64 pods, past a quick activity's 30 s.
 */
const cleanup = proxyActivities<Activities>({ startToCloseTimeout: "150 seconds", retry: clusterRetry });

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
  const startedAt = Date.now();
  const phaseMs = { launch: 0, train: 0, aggregate: 0, commit: 0, total: 0 };
  const all = Array.from({ length: spec.replicasPerRound }, (_, i) => i);
  const outputs = new Map<number, Extract<ReplicaResult, { phase: "succeeded" }>>();
  const rows = new Map<number, ReplicaStatus>();
  const offenders = new Set<Hex>();
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
    });
    if (placements.length === 0) {
      await sleep(options.noCapacityRetrySeconds * 1000);
      continue;
    }
    for (const p of placements) {
      for (const replica of p.replicas) rows.set(replica, row(replica, attempt, p, "pending"));
    }
    input.onProgress(attempt, [...rows.values()]);

    const results = await runAttempt(input, attempt, placements, phaseMs, cleanups);
    for (const result of results) {
      const placement = placements.find((p) => p.cluster.id === result.clusterId);
      if (result.phase === "succeeded") {
        outputs.set(result.replica, result);
        rows.set(result.replica, {
          ...row(result.replica, attempt, placement, "succeeded"),
          gpuSeconds: gpuSecondsOf(result, spec.gpusPerReplica),
        });
      } else {
        offenders.add(result.clusterId);
        rows.set(result.replica, {
          ...row(result.replica, attempt, placement, result.phase),
          reason: result.reason,
        });
      }
    }
    input.onProgress(attempt, [...rows.values()]);

    if (outputs.size >= spec.minReplicas) {
      const aggregateStarted = Date.now();
      aggregate = await heavy.aggregateRound({
        runId: input.runId,
        round: input.round,
        spec,
        parent: input.parent,
        outputs: [...outputs.values()]
          .sort((a, b) => a.replica - b.replica)
          .map(({ replica, outputUri }) => ({ replica, outputUri })),
      });
      phaseMs.aggregate += Date.now() - aggregateStarted;
      for (const verdict of aggregate.verdicts) {
        const current = rows.get(verdict.replica);
        if (!current) continue;
        if (verdict.accepted) rows.set(verdict.replica, { ...current, phase: "accepted" });
        else {
          rows.set(verdict.replica, { ...current, phase: "rejected", reason: verdict.reason, gpuSeconds: 0 });
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

  const checkpoint = aggregate?.checkpoint;
  if (!aggregate || !checkpoint) {
    return {
      ok: false,
      reason: `round ${input.round}: fewer than ${spec.minReplicas} accepted replicas after ${attempt} attempts`,
      offenders: [...offenders],
    };
  }
  const commitStarted = Date.now();
  await chain.commitRound({
    runId: input.runId,
    round: input.round,
    checkpoint: { uri: checkpoint.uri, root: checkpoint.root },
    metrics: checkpoint.metrics,
  });
  const credits = creditsFor([...outputs.values()], aggregate.verdicts, spec.gpusPerReplica);
  if (credits.length > 0)
    await chain.recordCompute({ runId: input.runId, round: input.round, records: credits });
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
  phaseMs: { launch: number; train: number },
  cleanups: Promise<unknown>[],
): Promise<ReplicaResult[]> {
  const started = Date.now();
  const deadlineMs = started + input.options.replicaDeadlineSeconds * 1000;
  const watch = proxyActivities<Activities>({
    startToCloseTimeout: `${input.options.replicaDeadlineSeconds + 120} seconds`,
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
  const one = async (p: Placement): Promise<ReplicaResult[]> => {
    try {
      await quick.launchReplicas({ key: keyOf(p), placement: p, spec: input.spec, init: input.parent });
    } catch (error) {
      if (isCancellation(error)) throw error;
      return endAll(p, "failed", `launch failed: ${messageOf(error)}`);
    }
    launched = Math.max(launched, Date.now());
    try {
      return await watch.awaitReplicas({ key: keyOf(p), placement: p, deadlineMs });
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
        Promise.all(placements.map((p) => cleanup.cancelReplicas({ key: keyOf(p), cluster: p.cluster }))),
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
