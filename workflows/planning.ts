import type { RunSpec } from "../spec/runSpec.ts";
import type {
  ClusterCandidate,
  ComputeRecord,
  Hex,
  Placement,
  ReplicaResult,
  ReplicaVerdict,
} from "./types.ts";

/**
 * Spreads `replicas` over healthy clusters with free quota, one at a time round-robin, so a
 * round does not hinge on one contributor. Clusters that misbehaved earlier in the run
 * (`strikes`) are tried last; `excluded` ones not at all. Replicas that fit nowhere are left out.
 */
export function placeReplicas(
  candidates: readonly ClusterCandidate[],
  replicas: readonly number[],
  gpusPerReplica: number,
  options: { excluded?: ReadonlySet<string>; strikes?: Readonly<Record<string, number>> } = {},
): Placement[] {
  const strikes = options.strikes ?? {};
  const usable = candidates
    .filter((c) => c.health.healthy && !options.excluded?.has(c.id))
    .filter((c) => c.health.freeGpus >= gpusPerReplica)
    .sort(
      (a, b) =>
        (strikes[a.id] ?? 0) - (strikes[b.id] ?? 0) ||
        b.health.freeGpus - a.health.freeGpus ||
        (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
  const free = usable.map((c) => c.health.freeGpus);
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
      const { health: _health, ...cluster } = c;
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
  verdicts: readonly ReplicaVerdict[],
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
export function replicasToRetry(all: readonly number[], verdicts: readonly ReplicaVerdict[]): number[] {
  const accepted = new Set(verdicts.filter((v) => v.accepted).map((v) => v.replica));
  return all.filter((r) => !accepted.has(r));
}
