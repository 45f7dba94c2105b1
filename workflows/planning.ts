import type { RunSpec } from "../spec/runSpec.ts";
import type {
  ClusterCandidate,
  ComputeRecord,
  Hex,
  Placement,
  ReplicaResult,
  ReplicaVerdict,
} from "./types.ts";

/** What the planning rules need of a verdict: whose it is and whether it was accepted. */
export type VerdictOutcome = Pick<ReplicaVerdict, "replica" | "accepted">;

/**
 * The GPUs a round may use on a cluster: all its free ones, or, when the spec asks for a GPU
 * product, those of that product — counted per node product where the contributor shares node
 * capacity, else all of them if the product it registered is the one asked for, none otherwise.
 */
export function freeGpusFor(candidate: ClusterCandidate, gpuProduct: string | undefined): number {
  const { health } = candidate;
  if (!health.healthy) return 0;
  if (gpuProduct === undefined) return health.freeGpus;
  const byProduct = health.freeGpusByProduct ?? {};
  if (Object.keys(byProduct).length > 0) return Math.min(health.freeGpus, byProduct[gpuProduct] ?? 0);
  return candidate.gpuProduct === gpuProduct ? health.freeGpus : 0;
}

/**
 * Spreads `replicas` over healthy clusters with free quota (of the asked GPU product, when the
 * spec names one), one at a time round-robin, so a round does not hinge on one contributor.
 * Clusters that misbehaved earlier in the run (`strikes`) are tried last; `excluded` ones not at
 * all. Replicas that fit nowhere are left out.
 */
export function placeReplicas(
  candidates: readonly ClusterCandidate[],
  replicas: readonly number[],
  gpusPerReplica: number,
  options: {
    excluded?: ReadonlySet<string>;
    strikes?: Readonly<Record<string, number>>;
    gpuProduct?: string;
  } = {},
): Placement[] {
  const strikes = options.strikes ?? {};
  const freeOf = new Map(candidates.map((c) => [c.id, freeGpusFor(c, options.gpuProduct)]));
  const usable = candidates
    .filter((c) => c.health.healthy && !options.excluded?.has(c.id))
    .filter((c) => (freeOf.get(c.id) ?? 0) >= gpusPerReplica)
    .sort(
      (a, b) =>
        (strikes[a.id] ?? 0) - (strikes[b.id] ?? 0) ||
        (freeOf.get(b.id) ?? 0) - (freeOf.get(a.id) ?? 0) ||
        (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
  const free = usable.map((c) => freeOf.get(c.id) ?? 0);
  const assigned: number[][] = usable.map(() => []);
  let next = 0;
  for (const replica of replicas) {
    const slot = findSlot(free, gpusPerReplica, next);
    if (slot === undefined) break;
    assigned[slot]?.push(replica);
    free[slot] = (free[slot] ?? 0) - gpusPerReplica;
    next = (slot + 1) % usable.length;
  }
  return usable
    .map((c, i) => {
      const { health: _health, gpuProduct: _gpuProduct, ...cluster } = c;
      return { cluster, replicas: assigned[i] ?? [] };
    })
    .filter((p) => p.replicas.length > 0);
}

function findSlot(free: readonly number[], need: number, from: number): number | undefined {
  for (let k = 0; k < free.length; k++) {
    const i = (from + k) % free.length;
    if ((free[i] ?? 0) >= need) return i;
  }
  return undefined;
}

/**
 * How many times its round's reference time a replica may be paid for. Every replica of a round does
 * the same work (`innerSteps` of the same batch size from the same checkpoint), so honest replicas
 * on comparable GPUs take comparable times; 3× leaves room for a GPU a generation slower and for a
 * busy node, and no more.
 */
export const PEER_TIME_FACTOR = 3;
/**
 * Seconds a replica may take beyond `PEER_TIME_FACTOR` × the reference: start-up (scheduling, the
 * trainer's imports, staging the checkpoint) adds a fixed time that short rounds would otherwise
 * count as slowness. Negligible against rounds of hours.
 */
export const PEER_TIME_SLACK_SECONDS = 20;

type Succeeded = Extract<ReplicaResult, { phase: "succeeded" }>;

/**
 * The run times a round pays its accepted replicas for. A replica's claimed time (the shorter of
 * what its cluster reported and what the worker observed, both through the contributor's own
 * apiserver, so both can lie) is paid up to `PEER_TIME_FACTOR` × the round's reference time plus
 * `PEER_TIME_SLACK_SECONDS`, and never beyond the replica deadline. The reference is the lower median of the accepted replicas'
 * claimed times: a contributor holding no more than half of a round's accepted replicas cannot
 * raise it, so cannot raise its own pay above 3× what an honest peer took (plus the slack). Others' replicas are
 * returned as they are (they are paid nothing).
 */
export function paidRunTimes(
  results: readonly Succeeded[],
  verdicts: readonly VerdictOutcome[],
  deadlineSeconds: number,
): Succeeded[] {
  const accepted = new Set(verdicts.filter((v) => v.accepted).map((v) => v.replica));
  const claimedMs = (r: Succeeded) => Math.max(0, r.finishedAtMs - r.startedAtMs);
  const times = results
    .filter((r) => accepted.has(r.replica))
    .map(claimedMs)
    .sort((a, b) => a - b);
  const reference = times[Math.floor((times.length - 1) / 2)] ?? 0;
  const capMs = Math.min(
    PEER_TIME_FACTOR * reference + PEER_TIME_SLACK_SECONDS * 1000,
    deadlineSeconds * 1000,
  );
  return results.map((r) =>
    accepted.has(r.replica) ? { ...r, finishedAtMs: r.startedAtMs + Math.min(claimedMs(r), capMs) } : r,
  );
}

/**
 * How long a replica of the run may take: the spec's round deadline, which the DAO approved with
 * the run and which bounds what a round can credit on-chain; a test may only shorten it.
 */
export function replicaDeadlineSeconds(
  spec: Pick<RunSpec, "roundDeadlineSeconds">,
  shorter?: number,
): number {
  return Math.min(shorter ?? spec.roundDeadlineSeconds, spec.roundDeadlineSeconds);
}

/**
 * A replica's GPU-seconds: a started second counts, up to the round deadline (so a round never
 * claims more than the contract's replicasPerRound × gpusPerReplica × deadline), times its GPUs.
 */
export function gpuSecondsOf(
  result: ReplicaResult,
  terms: { gpusPerReplica: number; deadlineSeconds: number },
): number {
  if (result.phase !== "succeeded") return 0;
  const seconds = Math.ceil(Math.max(0, result.finishedAtMs - result.startedAtMs) / 1000);
  return Math.min(seconds, terms.deadlineSeconds) * terms.gpusPerReplica;
}

/**
 * The compute ledger's entries for a round: per cluster, the GPU-seconds of its accepted
 * replicas only (failed, lost and rejected replicas earn nothing). Sorted by cluster id.
 */
export function creditsFor(
  results: readonly ReplicaResult[],
  verdicts: readonly VerdictOutcome[],
  terms: { gpusPerReplica: number; deadlineSeconds: number },
): ComputeRecord[] {
  const accepted = new Set(verdicts.filter((v) => v.accepted).map((v) => v.replica));
  const perCluster = new Map<Hex, number>();
  for (const result of results) {
    if (!accepted.has(result.replica)) continue;
    const seconds = gpuSecondsOf(result, terms);
    perCluster.set(result.clusterId, (perCluster.get(result.clusterId) ?? 0) + seconds);
  }
  return [...perCluster]
    .filter(([, gpuSeconds]) => gpuSeconds > 0)
    .map(([clusterId, gpuSeconds]) => ({ clusterId, gpuSeconds }))
    .sort((a, b) => (a.clusterId < b.clusterId ? -1 : a.clusterId > b.clusterId ? 1 : 0));
}

/**
 * Whether another round fits the budget: the next round is assumed to cost what the last one
 * did (nothing known before the first), and a round is only started if that still fits.
 */
export function budgetAllowsRound(used: number, budget: number, lastRoundCost: number): boolean {
  return used < budget && used + lastRoundCost <= budget;
}

/**
 * Replicas a retry must run again: those without an accepted output. Keeps each replica's
 * index (and so its data shards) stable across attempts.
 */
export function replicasToRetry(all: readonly number[], verdicts: readonly VerdictOutcome[]): number[] {
  const accepted = new Set(verdicts.filter((v) => v.accepted).map((v) => v.replica));
  return all.filter((r) => !accepted.has(r));
}

/**
 * The most GPU-seconds one round can be credited: every replica holding its GPUs until the
 * deadline (the bound the compute ledger enforces per round). A run whose budget is below it
 * cannot pay for its first round and is refused before anything is launched.
 */
export function worstRoundGpuSeconds(
  spec: { replicasPerRound: number; gpusPerReplica: number },
  replicaDeadlineSeconds: number,
): number {
  return spec.replicasPerRound * spec.gpusPerReplica * replicaDeadlineSeconds;
}

// Who scores a round's outputs on evaluation Jobs, and which the worker re-checks: the rule is
// stated in workflows/evaluation.ts.

/** Of the outputs with a single evaluator, how many per evaluating cluster the worker re-checks. */
export const RECHECKS_PER_EVALUATOR = 1;

export interface EvaluationPlan {
  /** By scored replica: its evaluators (one, or two of different owners). */
  readonly evaluators: ReadonlyMap<number, readonly ClusterCandidate[]>;
}

/**
 * Who scores which output: for each, the healthy clusters offering evaluation whose owner is not
 * the output's author's, up to two of different owners, the least loaded first (ties by name, so
 * the plan is the same on replay). Undefined when some output has none: the worker scores them all.
 */
export function planEvaluations(
  outputs: readonly { replica: number; clusterId: Hex }[],
  candidates: readonly ClusterCandidate[],
  excluded: ReadonlySet<Hex> = new Set(),
): EvaluationPlan | undefined {
  const ownerOf = new Map(candidates.map((c) => [c.id, c.owner]));
  // A cluster struck this round (a failed replica, a rejected output, a lie) scores nothing in it.
  const able = candidates
    .filter((c) => c.evaluates && c.health.healthy && !excluded.has(c.id))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const load = new Map<Hex, number>();
  const evaluators = new Map<number, ClusterCandidate[]>();
  for (const output of outputs) {
    const author = ownerOf.get(output.clusterId);
    const chosen: ClusterCandidate[] = [];
    const byLoad = [...able].sort((a, b) => (load.get(a.id) ?? 0) - (load.get(b.id) ?? 0));
    for (const candidate of byLoad) {
      if (chosen.length === 2) break;
      if (author === undefined || candidate.owner === author) continue;
      if (chosen.some((c) => c.owner === candidate.owner)) continue;
      chosen.push(candidate);
    }
    if (chosen.length === 0) return undefined;
    for (const c of chosen) load.set(c.id, (load.get(c.id) ?? 0) + 1);
    evaluators.set(output.replica, chosen);
  }
  return { evaluators };
}

/**
 * The outputs drawn for a re-check: among those with one evaluator, RECHECKS_PER_EVALUATOR per
 * evaluating cluster, picked with `random` (the workflow's: deterministic on replay, unseen by any
 * evaluator). Pure given `random`.
 */
export function drawRechecks(plan: EvaluationPlan, random: () => number): Set<number> {
  const single = new Map<Hex, number[]>();
  for (const [replica, evaluators] of [...plan.evaluators].sort(([a], [b]) => a - b)) {
    if (evaluators.length !== 1) continue;
    const id = evaluators[0]!.id;
    single.set(id, [...(single.get(id) ?? []), replica]);
  }
  const drawn = new Set<number>();
  for (const [, replicas] of [...single].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const pool = [...replicas];
    for (let i = 0; i < RECHECKS_PER_EVALUATOR && pool.length > 0; i++)
      drawn.add(pool.splice(Math.floor(random() * pool.length), 1)[0]!);
  }
  return drawn;
}
