import type {
  ClusterCandidate,
  ComputeRecord,
  Hex,
  Placement,
  ReplicaResult,
  ReplicaVerdict,
} from "./types.ts";

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

/** A replica's GPU-seconds: a started second counts, times the GPUs it held. */
export function gpuSecondsOf(result: ReplicaResult, gpusPerReplica: number): number {
  if (result.phase !== "succeeded") return 0;
  const seconds = Math.ceil(Math.max(0, result.finishedAtMs - result.startedAtMs) / 1000);
  return seconds * gpusPerReplica;
}

/**
 * The compute ledger's entries for a round: per cluster, the GPU-seconds of its accepted
 * replicas only (failed, lost and rejected replicas earn nothing). Sorted by cluster id.
 */
export function creditsFor(
  results: readonly ReplicaResult[],
  verdicts: readonly ReplicaVerdict[],
  gpusPerReplica: number,
): ComputeRecord[] {
  const accepted = new Set(verdicts.filter((v) => v.accepted).map((v) => v.replica));
  const perCluster = new Map<Hex, number>();
  for (const result of results) {
    if (!accepted.has(result.replica)) continue;
    const seconds = gpuSecondsOf(result, gpusPerReplica);
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
