import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { sleep as activitySleep, heartbeat } from "@temporalio/activity";
import type { Activities } from "../../workflows/activities.ts";
import type { ClusterCandidate, Hex, ReplicaResult, RunClosing } from "../../workflows/types.ts";

/**
 * Activities over an in-memory simulation of clusters, for unit tests of the workflows' logic
 * (placement, quorum, retries, budget, pause, cancel). The end-to-end tests use the real ones.
 */
export type ReplicaBehaviour = "train" | "fail" | "cheat" | "hang" | "preempted-once";

export interface SimulatedCluster {
  name: string;
  freeGpus: number;
  healthy: boolean;
  behaviour: ReplicaBehaviour;
  /** Simulated training time of one replica. */
  trainMs: number;
}

export interface Simulation {
  clusters: SimulatedCluster[];
  launches: { key: string; replicas: number[] }[];
  liveJobs: Set<string>;
  commits: Map<string, Hex>;
  publications: Map<string, string>;
  credits: { runId: Hex; round: number; clusterId: Hex; gpuSeconds: number }[];
  /** How each run was closed on-chain; a run is closed once, later calls change nothing. */
  closed: Map<string, ClosedRun>;
  states: string[];
  /** Errors to throw, one per call and in order, from the named activities (then they work again). */
  failures: Partial<Record<keyof Activities, Error[]>>;
}

export type ClosedRun = RunClosing;

export function idOf(name: string): Hex {
  return `0x${createHash("sha256").update(name).digest("hex")}`;
}

export function newSimulation(clusters: SimulatedCluster[]): Simulation {
  return {
    clusters,
    launches: [],
    liveJobs: new Set(),
    commits: new Map(),
    publications: new Map(),
    credits: [],
    closed: new Map(),
    states: [],
    failures: {},
  };
}

export function simulatedActivities(sim: Simulation): Activities {
  const activities = workingActivities(sim);
  const failing = Object.entries(activities).map(([name, activity]) => [
    name,
    async (...args: never[]) => {
      const error = sim.failures[name as keyof Activities]?.shift();
      if (error) throw error;
      return await (activity as (...a: never[]) => Promise<unknown>)(...args);
    },
  ]);
  return Object.fromEntries(failing) as Activities;
}

function notSimulated(name: string): () => Promise<never> {
  return async () => {
    throw new Error(`${name}: no simulated cluster evaluates`);
  };
}

function workingActivities(sim: Simulation): Activities {
  const byName = (name: string) => {
    const cluster = sim.clusters.find((c) => c.name === name);
    if (!cluster) throw new Error(`no simulated cluster ${name}`);
    return cluster;
  };
  const jobName = (key: { runId: Hex; round: number; attempt: number; clusterName: string }) =>
    `${key.runId.slice(2, 10)}-r${key.round}-a${key.attempt}-${key.clusterName}`;
  return {
    async surveyClusters(): Promise<ClusterCandidate[]> {
      return sim.clusters.map((c) => ({
        id: idOf(c.name),
        name: c.name,
        owner: idOf(`owner-${c.name}`).slice(0, 42) as Hex,
        health: c.healthy
          ? { healthy: true, freeGpus: c.freeGpus }
          : { healthy: false, freeGpus: 0, reason: "down" },
      }));
    },
    async launchReplicas({ key, placement }) {
      const name = jobName(key);
      if (!sim.launches.some((l) => l.key === name))
        sim.launches.push({ key: name, replicas: placement.replicas });
      sim.liveJobs.add(name);
    },
    async awaitReplicas({ key, placement }): Promise<ReplicaResult[]> {
      const cluster = byName(placement.cluster.name);
      const startedAtMs = Date.now();
      // Heartbeats so that a cancelled run's cancellation reaches it, as a real watch does.
      while (cluster.behaviour === "hang") {
        heartbeat();
        await activitySleep(200);
      }
      await sleep(cluster.trainMs);
      // The owner takes its GPUs back once; after that its cluster trains.
      const preempted = cluster.behaviour === "preempted-once";
      if (preempted) cluster.behaviour = "train";
      return placement.replicas.map(
        (replica): ReplicaResult =>
          preempted
            ? {
                replica,
                clusterId: placement.cluster.id,
                phase: "lost",
                reason: "PreemptionByScheduler: preempted by owner/job",
                preempted: true,
              }
            : cluster.behaviour === "fail"
              ? { replica, clusterId: placement.cluster.id, phase: "failed", reason: "exit code 1" }
              : {
                  replica,
                  clusterId: placement.cluster.id,
                  phase: "succeeded",
                  // As long as a real run store's (runStore.replicaKey), so payload sizes are real too.
                  outputUri: `sim:///var/lib/daotrain/run-store/runs/${key.runId}/rounds/${key.round}/clusters/${key.clusterName}/replicas/${replica}-a${key.attempt}/${cluster.behaviour}`,
                  startedAtMs,
                  finishedAtMs: startedAtMs + 1500,
                },
      );
    },
    async cancelReplicas({ key }) {
      sim.liveJobs.delete(jobName(key));
    },
    // No simulated cluster offers evaluation, so the worker scores every output (the fallback).
    prepareScoring: notSimulated("prepareScoring"),
    launchEvaluation: notSimulated("launchEvaluation"),
    awaitEvaluation: notSimulated("awaitEvaluation"),
    cancelEvaluation: notSimulated("cancelEvaluation"),
    async prepareRun({ runId }) {
      return { uri: `sim://${runId}/init`, root: idOf(`${runId}/init`) };
    },
    async publishCheckpoint({ runId, round }) {
      return {
        uri: `sim://public/${runId}/${round}`,
        root: sim.commits.get(`${runId}/${round}`) ?? idOf("?"),
      };
    },
    async pruneReplicaOutputs() {
      return { deleted: 0 };
    },
    async aggregateRound({ runId, round, spec, outputs }) {
      const scores = { heldOutLoss: 3, ownShardLoss: 3, ownShardLossOfGlobal: 3.5, movement: 1 };
      const verdicts = outputs.map((o) =>
        o.outputUri.endsWith("/cheat")
          ? {
              replica: o.replica,
              accepted: false as const,
              reason: "norm-outlier" as const,
              detail: "norm 100x the median",
            }
          : { replica: o.replica, accepted: true as const, detail: "moved 1 (at least 0.25)", scores },
      );
      const accepted = verdicts.filter((v) => v.accepted).length;
      const checkpoint =
        accepted >= spec.minReplicas
          ? {
              uri: `sim://${runId}/${round}/manifest.json`,
              root: idOf(`${runId}/${round}`),
              metrics: {
                loss: 3 - round * 0.1,
                valLoss: 3.1 - round * 0.1,
                tokens: 1000,
                steps: spec.innerSteps,
              },
              record: { uri: `sim://${runId}/${round}/record.json`, hash: idOf(`${runId}/${round}/record`) },
            }
          : undefined;
      return { verdicts, checkpoint };
    },
    async commitRound({ runId, round, checkpoint, credits }) {
      const existing = sim.commits.get(`${runId}/${round}`);
      if (existing && existing !== checkpoint.root) throw new Error("conflicting commit");
      if (existing) return { alreadyCommitted: true };
      sim.commits.set(`${runId}/${round}`, checkpoint.root);
      for (const credit of credits) sim.credits.push({ runId, round, ...credit });
      return { alreadyCommitted: false };
    },
    async closeRun({ runId, closing }) {
      if (sim.closed.has(runId)) return { closedNow: false };
      sim.closed.set(runId, closing);
      return { closedNow: true };
    },
    async recordPublication({ runId, round, manifestUri }) {
      const recordedNow = sim.publications.get(`${runId}/${round}`) !== manifestUri;
      sim.publications.set(`${runId}/${round}`, manifestUri);
      return { recordedNow };
    },
    async pollGovernance({ fromBlock }) {
      return { events: [], nextBlock: fromBlock };
    },
    async readRunStatus({ runId }) {
      const closed = sim.closed.get(runId);
      return { status: closed ? closed.as : "approved" };
    },
    async fetchRunSpec() {
      throw new Error("not simulated");
    },
    async reportRound() {},
    async reportRunState({ runId, to }) {
      sim.states.push(`${runId.slice(0, 6)}:${to}`);
    },
    async reportClusterHealth() {},
    async reportRunRefused() {},
  };
}
