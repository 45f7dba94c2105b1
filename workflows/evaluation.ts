import { CancellationScope, isCancellation, log, proxyActivities } from "@temporalio/workflow";
import type { Activities } from "./activities.ts";
import { drawRechecks, planEvaluations } from "./planning.ts";
import { clusterRetry } from "./retry.ts";
import type {
  CheckpointRef,
  ClusterCandidate,
  Hex,
  LaunchKey,
  PlannedEvaluator,
  ReplicaResult,
  RoundEvaluations,
} from "./types.ts";

// Scoring a round's outputs where the GPUs are: after the replicas delivered, evaluation Jobs on
// contributed clusters score each output (trainer/evaluate.ts, the worker's own deterministic
// code, so the same bits), and the worker reads the scores instead of computing them.
//
// The rule (evaluators are strangers too):
// - An output's evaluators are clusters whose owner is not its author's: two of different owners
//   when the round has them, else one.
// - The worker computes an output's scores itself when an evaluator wrote none, or a file that
//   does not parse or names another run, round, replica, root or seed; when its two evaluators
//   disagree (scores are bit-exact, so honest evaluators never do); and when the output was drawn
//   for a re-check: of the outputs with one evaluator, one per evaluating cluster per round, drawn
//   after every score is in, from the workflow's own randomness, which no evaluator sees.
// - Whatever the worker computed is what the verdict rests on. An evaluator whose scores differ
//   from it (or claim another root or seed) lied: a strike, as a failed replica's cluster gets,
//   and it is never paid for the round. An evaluator that wrote nothing is not struck, and not paid.
// So a lie never changes a verdict it is caught on, a two-evaluator lie is always caught unless
// both owners collude, and a one-evaluator liar is caught at least once a round whenever it lies
// on every output it scores.
//
// What it costs: per output one CPU-only pod (or two) reading θ, the output and the few dataset
// shards it is scored on, and computing three deterministic losses (bench/roundScoring.ts: tens
// of seconds on a 25.4M-parameter model); the worker keeps θ's and the new θ's losses, the
// streaming read of each output and one re-check per single evaluator per round. Evaluators are
// not paid: the contract's per-round bound (replicasPerRound × gpusPerReplica × deadline) counts
// GPU-seconds, which evaluation pods do not use; paying them would be a credit of their own
// within what the round's replicas leave of that bound, for the DAO to decide.
//
// When no output can have an evaluator of another owner (one contributor, local executors, the
// demo, clusters that do not offer evaluation), or the round has none to spare, the worker scores
// every output itself, as before: `scoreOnClusters` returns undefined.

/** An evaluation pod scores on the CPU in minutes; one still going after this is given up on. */
export const EVALUATION_DEADLINE_SECONDS = 3600;

const quick = proxyActivities<Activities>({ startToCloseTimeout: "30 seconds", retry: clusterRetry });
const prepare = proxyActivities<Activities>({ startToCloseTimeout: "10 minutes", retry: clusterRetry });
const cleanup = proxyActivities<Activities>({
  startToCloseTimeout: "3 minutes",
  retry: { ...clusterRetry, maximumAttempts: 3 },
});

export interface ScoreOnClustersInput {
  runId: Hex;
  round: number;
  attempt: number;
  spec: Parameters<Activities["prepareScoring"]>[0]["spec"];
  parent: CheckpointRef;
  outputs: readonly Extract<ReplicaResult, { phase: "succeeded" }>[];
  candidates: readonly ClusterCandidate[];
  excluded: ReadonlySet<Hex>;
  heartbeatSeconds: number;
}

/**
 * Scores the round's outputs on evaluation Jobs per the rule above and says what the aggregation
 * should read; undefined when the worker is to score them all itself. An evaluating cluster that
 * cannot launch or be watched leaves its outputs to the worker. The Jobs' deletion goes into
 * `cleanups`, on cancellation too.
 */
export async function scoreOnClusters(
  input: ScoreOnClustersInput,
  cleanups: Promise<unknown>[],
): Promise<RoundEvaluations | undefined> {
  const plan = planEvaluations(input.outputs, input.candidates, input.excluded);
  if (!plan) return undefined;
  const { seed, roots } = await prepare.prepareScoring({
    runId: input.runId,
    round: input.round,
    spec: input.spec,
    parent: input.parent,
    outputs: input.outputs.map(({ replica, clusterId, outputUri }) => ({ replica, clusterId, outputUri })),
  });
  const byCluster = new Map<Hex, { cluster: ClusterCandidate; replicas: number[] }>();
  for (const output of input.outputs) {
    if (roots[output.replica] === undefined) continue;
    for (const cluster of plan.evaluators.get(output.replica) ?? []) {
      const entry = byCluster.get(cluster.id) ?? { cluster, replicas: [] };
      entry.replicas.push(output.replica);
      byCluster.set(cluster.id, entry);
    }
  }
  if (byCluster.size === 0) return undefined;
  const keyOf = (cluster: ClusterCandidate): LaunchKey => ({
    runId: input.runId,
    round: input.round,
    attempt: input.attempt,
    clusterName: cluster.name,
  });
  const deadlineMs = Date.now() + EVALUATION_DEADLINE_SECONDS * 1000;
  const watch = proxyActivities<Activities>({
    startToCloseTimeout: `${EVALUATION_DEADLINE_SECONDS + 120} seconds`,
    heartbeatTimeout: `${input.heartbeatSeconds} seconds`,
    retry: clusterRetry,
  });
  const outputUri = new Map(input.outputs.map((o) => [o.replica, o.outputUri]));
  const one = async ({ cluster, replicas }: { cluster: ClusterCandidate; replicas: number[] }) => {
    try {
      await quick.launchEvaluation({
        key: keyOf(cluster),
        spec: input.spec,
        parent: input.parent,
        seed,
        outputs: replicas.map((replica) => ({
          replica,
          outputUri: outputUri.get(replica)!,
          root: roots[replica]!,
        })),
      });
      return { cluster, scored: await watch.awaitEvaluation({ key: keyOf(cluster), deadlineMs }) };
    } catch (error) {
      if (isCancellation(error)) throw error;
      log.warn("an evaluating cluster failed; the worker scores its outputs", {
        cluster: cluster.name,
        error: error instanceof Error ? error.message : String(error),
      });
      return { cluster, scored: [] as number[] };
    }
  };
  let finished: { cluster: ClusterCandidate; scored: number[] }[];
  try {
    finished = await Promise.all([...byCluster.values()].map(one));
  } finally {
    cleanups.push(
      CancellationScope.nonCancellable(() =>
        Promise.all(
          [...byCluster.values()].map(({ cluster }) =>
            cleanup.cancelEvaluation({ key: keyOf(cluster) }).catch(() => undefined),
          ),
        ),
      ),
    );
  }
  const scoredBy = new Map<number, PlannedEvaluator[]>();
  for (const { cluster, scored } of finished)
    for (const replica of scored)
      scoredBy.set(replica, [
        ...(scoredBy.get(replica) ?? []),
        { clusterId: cluster.id, clusterName: cluster.name },
      ]);
  // Drawn only now, with every score written: no evaluator could have known.
  const recheck = drawRechecks(plan, Math.random);
  return {
    attempt: input.attempt,
    seed,
    outputs: [...scoredBy].map(([replica, evaluators]) => ({
      replica,
      root: roots[replica]!,
      evaluators,
      recheck: recheck.has(replica) || evaluators.length < (plan.evaluators.get(replica)?.length ?? 0),
    })),
  };
}
