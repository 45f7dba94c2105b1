import { activityInfo, Context, heartbeat } from "@temporalio/activity";
import { ApplicationFailure } from "@temporalio/common";
import { assignShards, type DatasetManifest, readDatasetManifest } from "../../datasets/index.ts";
import type { Governance } from "../../governance/chain.ts";
import { getCluster } from "../../governance/reads.ts";
import {
  type ComputeCluster,
  isTerminal,
  parseRoundJobSpec,
  QuotaExceededError,
  type ReplicaState,
  type RoundRef,
  type RoundStatus,
  roundName,
} from "../../k8s/cluster.ts";
import { ClusterUnreachableError } from "../../k8s/kubernetesCluster.ts";
import type { RunStore } from "../../rounds/runStore.ts";
import { splitObjectUri } from "../../storage/index.ts";
import type { ClusterActivities } from "../../workflows/activities.ts";
import type {
  ClusterCandidate,
  ClusterHealth,
  Hex,
  LaunchKey,
  ReplicaResult,
} from "../../workflows/types.ts";
import {
  type ClusterClientOptions,
  type ConfiguredCluster,
  clusterClient,
  clusterNotConfigured,
} from "../clusterDirectory.ts";
import type { Metrics } from "../metrics.ts";
import { datasetUriOf } from "./datasets.ts";

export interface ClusterContext {
  chain: Governance;
  runStore: RunStore;
  /**
   * The clusters the worker can reach (DAOTRAIN_CLUSTERS), read again by every activity: workflows
   * name a cluster, and its credentials are looked up here, never carried through Temporal.
   */
  configuredClusters: () => Promise<ConfiguredCluster[]>;
  trainerCommand: string[];
  /**
   * The worker's own run-store env (empty for a local directory). Only trainers on this machine
   * (local executors) get it; a contributor's cluster gets the keys the clusters file gives it.
   */
  storeEnv: Record<string, string>;
  /** Working directory and env of local trainer processes. */
  cwd: string;
  env?: Record<string, string>;
  metrics: Metrics;
}

/**
 * The trainer contract's DAOTRAIN_ROUND is the round of the checkpoint a replica starts from; the
 * workflow numbers a round by the checkpoint it produces (round 1 trains from the initial one).
 */
export function trainerRound(round: number): number {
  return round - 1;
}

/** What an awaiting activity learnt so far; heartbeated, so a retry on another worker keeps it. */
interface Observed {
  started: Record<number, number>;
  finished: Record<number, number>;
}

/** How the worker's activities reach a configured cluster by name, and the store keys its pods get. */
export function clusterAccess(ctx: ClusterContext) {
  const resolve = async (name: string): Promise<ConfiguredCluster> => {
    const cluster = (await ctx.configuredClusters()).find((c) => c.name === name);
    if (!cluster) throw clusterNotConfigured(name, "not in the worker's clusters file any more");
    return cluster;
  };
  const client = (cluster: ConfiguredCluster, options: Partial<ClusterClientOptions> = {}): ComputeCluster =>
    clusterClient(cluster, { cwd: ctx.cwd, env: ctx.env, ...options });
  /**
   * The run-store env a cluster's trainers get: the worker's own only for trainers on this machine;
   * a contributor's cluster needs keys of its own when the store is a bucket.
   */
  const trainerStoreEnv = (cluster: ConfiguredCluster): Record<string, string> => {
    if (cluster.storeEnv) return cluster.storeEnv;
    if (cluster.access.kind === "local" || Object.keys(ctx.storeEnv).length === 0) return ctx.storeEnv;
    throw clusterNotConfigured(
      cluster.name,
      `has no run-store keys of its own (storeEnv in the clusters file), and the worker's never go to a contributor; mint them with: daotrain store grant ${cluster.name}`,
    );
  };
  return { resolve, client, trainerStoreEnv };
}

export function clusterActivities(ctx: ClusterContext): ClusterActivities {
  const { resolve, client, trainerStoreEnv } = clusterAccess(ctx);
  const refOf = (key: LaunchKey): RoundRef => ({
    cluster: key.clusterName,
    name: roundName({ ...key, round: trainerRound(key.round) }),
  });

  // A dataset's manifest is fixed by its root: read (and parsed) once, not once per cluster and
  // round (a dataset with a shard per replica of a 6,400-replica round has a 1 MiB manifest).
  const manifests = new Map<Hex, Promise<DatasetManifest>>();
  const datasetManifest = (root: Hex, uri: string) => {
    let manifest = manifests.get(root);
    if (!manifest) {
      // Assigning shards needs the manifest only.
      manifest = ctx.runStore.localDir(uri, root, () => false).then(readDatasetManifest);
      manifest.catch(() => manifests.delete(root));
      manifests.set(root, manifest);
    }
    return manifest;
  };

  return {
    async surveyClusters() {
      const configured = await ctx.configuredClusters();
      return await Promise.all(
        configured.map(async (cluster): Promise<ClusterCandidate | undefined> => {
          const record = await getCluster(ctx.chain, cluster.id);
          if (record.status !== "admitted") return undefined;
          const { id, name } = cluster;
          const health = withinAdmission(await healthOf(cluster), record.admittedGpuCapacity);
          const evaluates = cluster.access.kind === "kubernetes" && cluster.access.evaluates === true;
          return {
            id,
            name,
            owner: record.owner as Hex,
            gpuProduct: record.gpuProduct,
            health,
            ...(evaluates ? { evaluates: true as const } : {}),
          };
        }),
      ).then((all) => all.filter((c): c is ClusterCandidate => c !== undefined));
    },

    async launchReplicas({ key, placement, spec, init }) {
      const cluster = await resolve(key.clusterName);
      const storeEnv = trainerStoreEnv(cluster);
      const datasetUri = await datasetUriOf(ctx.chain, spec.dataset, key.runId);
      const dataset = await datasetManifest(spec.dataset, datasetUri);
      try {
        await client(cluster).launchRound(
          parseRoundJobSpec({
            runId: key.runId,
            round: trainerRound(key.round),
            attempt: key.attempt,
            image: spec.image,
            command: ctx.trainerCommand,
            replicas: placement.replicas.map((replica) => ({
              replica,
              shards: assignShards(dataset, replica, spec.replicasPerRound),
              outputUri: ctx.runStore.dirUri(
                ctx.runStore.replicaKey(key.runId, key.round, key.clusterName, replica, key.attempt),
              ),
            })),
            totalReplicas: spec.replicasPerRound,
            gpusPerReplica: spec.gpusPerReplica,
            ...(spec.gpuProduct ? { gpuProduct: spec.gpuProduct } : {}),
            ...spec.resources,
            initUri: splitObjectUri(init.uri).storeUri,
            initRoot: init.root,
            datasetUri,
            datasetRoot: spec.dataset,
            innerSteps: spec.innerSteps,
            seed: spec.seed,
            storeEnv,
          }),
        );
      } catch (error) {
        if (error instanceof QuotaExceededError) {
          ctx.metrics.clusterFailures.inc({ cluster: key.clusterName, reason: "quota" });
          throw ApplicationFailure.nonRetryable(error.message, error.name);
        }
        throw error;
      }
    },

    async awaitReplicas({ key, placement, deadlineMs, silenceSeconds }) {
      const cluster = client(await resolve(key.clusterName), { silenceMs: silenceSeconds * 1000 });
      const ref = refOf(key);
      const observed: Observed = (activityInfo().heartbeatDetails as Observed | undefined) ?? {
        started: {},
        finished: {},
      };
      const note = (status: RoundStatus) => {
        const now = Date.now();
        for (const replica of status.replicas) {
          if (replica.state === "running" || isTerminal(replica)) observed.started[replica.replica] ??= now;
          if (isTerminal(replica)) observed.finished[replica.replica] ??= now;
        }
        heartbeat(observed);
      };
      const abort = new AbortController();
      const cancelled = Context.current().cancellationSignal;
      cancelled.addEventListener("abort", () => abort.abort(), { once: true });
      const deadline = setTimeout(() => abort.abort(), Math.max(0, deadlineMs - Date.now()));
      // A quiet watch still has to prove this worker is alive.
      const pulse = setInterval(() => heartbeat(observed), 1_000);
      let last: RoundStatus | undefined;
      let unreachable: string | undefined;
      try {
        for await (const status of cluster.watchRound(ref, { signal: abort.signal })) {
          last = status;
          note(status);
        }
        // Retried after the deadline: one look at how the replicas ended.
        if (!last) {
          last = await cluster.roundStatus(ref);
          note(last);
        }
      } catch (error) {
        if (!(error instanceof ClusterUnreachableError)) throw error;
        unreachable = error.message;
      } finally {
        clearTimeout(deadline);
        clearInterval(pulse);
      }
      // Temporal's cancellation error is the signal's reason; rethrowing it reports "cancelled".
      if (cancelled.aborted) throw cancelled.reason;
      return placement.replicas.map((replica): ReplicaResult => {
        const base = { replica, clusterId: placement.cluster.id };
        const state = last?.replicas.find((r) => r.replica === replica);
        if (state?.state === "succeeded") {
          return {
            ...base,
            phase: "succeeded",
            outputUri: ctx.runStore.dirUri(
              ctx.runStore.replicaKey(key.runId, key.round, key.clusterName, replica, key.attempt),
            ),
            ...verifiedRunTime(state, observed),
          };
        }
        if (state?.state === "failed") {
          ctx.metrics.clusterFailures.inc({ cluster: key.clusterName, reason: "failed" });
          return { ...base, phase: "failed", reason: state.reason };
        }
        const preempted = state?.state === "lost" && state.preempted === true;
        ctx.metrics.clusterFailures.inc({
          cluster: key.clusterName,
          reason: unreachable ? "unreachable" : preempted ? "preempted" : "lost",
        });
        const reason =
          unreachable ??
          (state?.state === "lost"
            ? state.reason
            : `still ${state?.state ?? "pending"} at the round's deadline`);
        return {
          ...base,
          phase: "lost",
          reason,
          ...(unreachable ? { unreachable: true as const } : {}),
          ...(preempted ? { preempted: true as const } : {}),
        };
      });
    },

    async cancelReplicas({ key, cluster }) {
      await client(await resolve(cluster.name)).cancelRound(refOf(key));
    },
  };

  /** A cluster the worker cannot use, or that does not answer, is unhealthy, with the reason. */
  async function healthOf(cluster: ConfiguredCluster): Promise<ClusterHealth> {
    try {
      trainerStoreEnv(cluster);
      const capacity = await client(cluster).capacity();
      return { healthy: true, freeGpus: capacity.freeGpus, freeGpusByProduct: capacity.freeGpusByProduct };
    } catch (error) {
      return { healthy: false, freeGpus: 0, reason: error instanceof Error ? error.message : String(error) };
    }
  }
}

/**
 * The time a replica claims: the shorter of the cluster's own record (the container's start and
 * finish) and the worker's observation (first seen running, first seen done, which includes
 * scheduling and polling delays). Both come through the contributor's apiserver, so both can lie:
 * a cluster can hold a pod Running for hours. The round pays at most what its peers took for the
 * same work (`workflows/planning.ts` `paidRunTimes`).
 */
function verifiedRunTime(
  state: Extract<ReplicaState, { state: "succeeded" }>,
  observed: Observed,
): { startedAtMs: number; finishedAtMs: number } {
  const startedAtMs = observed.started[state.replica] ?? Date.now();
  const finishedAtMs = observed.finished[state.replica] ?? startedAtMs;
  const reported = state.ran
    ? Math.max(0, state.ran.finishedAtMs - state.ran.startedAtMs)
    : Number.POSITIVE_INFINITY;
  return { startedAtMs, finishedAtMs: startedAtMs + Math.min(finishedAtMs - startedAtMs, reported) };
}

/**
 * A round places no more GPUs on a cluster than the DAO admitted it with: capacity its owner
 * raised since (on-chain or in its quota) waits for a new admission. Runs in flight at once share
 * the contributor's quota, which the cluster itself enforces.
 */
function withinAdmission(health: ClusterHealth, admittedGpus: number): ClusterHealth {
  if (!health.healthy) return health;
  const cap = (gpus: number) => Math.min(gpus, admittedGpus);
  const byProduct = health.freeGpusByProduct;
  return {
    ...health,
    freeGpus: cap(health.freeGpus),
    ...(byProduct
      ? { freeGpusByProduct: Object.fromEntries(Object.entries(byProduct).map(([p, n]) => [p, cap(n)])) }
      : {}),
  };
}
