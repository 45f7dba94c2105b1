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
import { splitObjectUri } from "../../storage/index.ts";
import type { ClusterActivities } from "../../workflows/activities.ts";
import type {
  ClusterCandidate,
  ClusterHealth,
  Hex,
  LaunchKey,
  ReplicaResult,
} from "../../workflows/types.ts";
import { type ConfiguredCluster, clusterClient } from "../clusterDirectory.ts";
import type { Metrics } from "../metrics.ts";
import type { RunStore } from "../runStore.ts";
import { datasetUriOf } from "./datasets.ts";

export interface ClusterContext {
  chain: Governance;
  runStore: RunStore;
  /** The clusters the worker can reach (DAOTRAIN_CLUSTERS), read per survey. */
  configuredClusters: () => Promise<ConfiguredCluster[]>;
  trainerCommand: string[];
  /** What trainers need to reach the run store (secret-valued: the cluster keeps it in a Secret). */
  storeEnv: Record<string, string>;
  /** The keys the clusters file gives one cluster's trainers instead, read at each launch. */
  clusterStoreEnv: (name: string) => Promise<Record<string, string> | undefined>;
  /** Working directory and env of local trainer processes. */
  cwd: string;
  env?: Record<string, string>;
  metrics: Metrics;
}

/**
 * The trainer contract's DAOTRAIN_ROUND is the round of the checkpoint a replica starts from; the
 * workflow numbers a round by the checkpoint it produces (round 1 trains from the initial one).
 */
function trainerRound(round: number): number {
  return round - 1;
}

/** What an awaiting activity learnt so far; heartbeated, so a retry on another worker keeps it. */
interface Observed {
  started: Record<number, number>;
  finished: Record<number, number>;
}

export function clusterActivities(ctx: ClusterContext): ClusterActivities {
  const client = (cluster: Pick<ConfiguredCluster, "name" | "access">): ComputeCluster =>
    clusterClient(cluster, { cwd: ctx.cwd, env: ctx.env });
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
          return { ...cluster, owner: record.owner as Hex, health: await healthOf(client(cluster)) };
        }),
      ).then((all) => all.filter((c): c is ClusterCandidate => c !== undefined));
    },

    async launchReplicas({ key, placement, spec, init }) {
      const datasetUri = await datasetUriOf(ctx.chain, spec.dataset);
      const dataset = await datasetManifest(spec.dataset, datasetUri);
      try {
        await client(placement.cluster).launchRound(
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
            initUri: splitObjectUri(init.uri).storeUri,
            initRoot: init.root,
            datasetUri,
            datasetRoot: spec.dataset,
            innerSteps: spec.innerSteps,
            seed: spec.seed,
            storeEnv: (await ctx.clusterStoreEnv(key.clusterName)) ?? ctx.storeEnv,
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

    async awaitReplicas({ key, placement, deadlineMs }) {
      const cluster = client(placement.cluster);
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
      let last = await cluster.roundStatus(ref);
      note(last);
      try {
        if (!last.done) {
          for await (const status of cluster.watchRound(ref, { signal: abort.signal })) {
            last = status;
            note(status);
          }
        }
      } finally {
        clearTimeout(deadline);
        clearInterval(pulse);
      }
      // Temporal's cancellation error is the signal's reason; rethrowing it reports "cancelled".
      if (cancelled.aborted) throw cancelled.reason;
      return last.replicas.map((state): ReplicaResult => {
        const base = { replica: state.replica, clusterId: placement.cluster.id };
        if (state.state === "succeeded") {
          return {
            ...base,
            phase: "succeeded",
            outputUri: ctx.runStore.dirUri(
              ctx.runStore.replicaKey(key.runId, key.round, key.clusterName, state.replica, key.attempt),
            ),
            ...verifiedRunTime(state, observed),
          };
        }
        ctx.metrics.clusterFailures.inc({
          cluster: key.clusterName,
          reason: state.state === "lost" ? "lost" : "failed",
        });
        if (state.state === "failed" || state.state === "lost")
          return { ...base, phase: state.state, reason: state.reason };
        return { ...base, phase: "lost", reason: `still ${state.state} at the round's deadline` };
      });
    },

    async cancelReplicas({ key, cluster }) {
      await client(cluster).cancelRound(refOf(key));
    },
  };
}

/**
 * The time a replica is paid for. The cluster's own record (the container's start and finish) is
 * exact but reported by the contributor; the worker's observation (first seen running, first seen
 * done) includes scheduling and polling delays but cannot be inflated by the cluster. The shorter
 * of the two is paid, so neither a slow watch nor a boastful cluster adds GPU-seconds.
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

async function healthOf(cluster: ComputeCluster): Promise<ClusterHealth> {
  try {
    const capacity = await cluster.capacity();
    return { healthy: true, freeGpus: capacity.freeGpus };
  } catch (error) {
    return { healthy: false, freeGpus: 0, reason: error instanceof Error ? error.message : String(error) };
  }
}
