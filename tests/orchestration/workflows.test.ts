import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { Client, WorkflowFailedError } from "@temporalio/client";
import { Worker } from "@temporalio/worker";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type RunSpec, runIdOf } from "../../spec/runSpec.ts";
import { runWorkflowId } from "../../spec/workflowIds.ts";
import { AesGcmCodec, encryptedDataConverter } from "../../workers/codec.ts";
import {
  cancelSignal,
  clusterHealthQuery,
  pauseSignal,
  resumeSignal,
  statusQuery,
} from "../../workflows/signals.ts";
import type { RunOptions, TrainingRunInput } from "../../workflows/trainingRun.ts";
import type { RunStatus } from "../../workflows/types.ts";
import { collectPayloads } from "../harness/history.ts";
import { tinySpec } from "./fixtures.ts";
import { waitFor } from "./polling.ts";
import { idOf, type SimulatedCluster } from "./simulatedActivities.ts";
import { type SimulatedTemporal, startSimulatedTemporal } from "./simulatedWorkers.ts";

// The workflows' logic on a real Temporal dev server and a real Worker, over simulated
// activities (pure logic: placement, quorum and retries, budget, pause, cancel, continueAsNew).

const fastOptions: Partial<RunOptions> = {
  replicaDeadlineSeconds: 30,
  heartbeatSeconds: 10,
  noCapacityRetrySeconds: 1,
};

let simulated: SimulatedTemporal;
let client: Client;
const codecKey = randomBytes(32);
const codecKeyBase64 = codecKey.toString("base64");
const codec = new AesGcmCodec(codecKey);

beforeAll(async () => {
  simulated = await startSimulatedTemporal(codec);
  client = simulated.client;
});

afterAll(async () => {
  await simulated?.stop();
});

const simulate = (clusters: SimulatedCluster[]) => simulated.simulate(clusters);

function cluster(name: string, overrides: Partial<SimulatedCluster> = {}): SimulatedCluster {
  return { name, freeGpus: 8, healthy: true, behaviour: "train", trainMs: 20, ...overrides };
}

async function startRun(taskQueue: string, input: Omit<TrainingRunInput, "runId"> & { spec: RunSpec }) {
  const runId = runIdOf({ ...input.spec, name: `${input.spec.name}-${randomBytes(4).toString("hex")}` });
  const handle = await client.workflow.start("trainingRun", {
    taskQueue,
    workflowId: runWorkflowId(runId),
    args: [{ ...input, runId, options: { ...fastOptions, ...input.options } }],
  });
  return { runId, handle };
}

describe("trainingRun", () => {
  test("spreads replicas over healthy clusters with free quota and commits one root per round", async () => {
    const { sim, taskQueue } = await simulate([
      cluster("alpha", { freeGpus: 2 }),
      cluster("beta", { freeGpus: 4 }),
      cluster("down", { healthy: false }),
      cluster("full", { freeGpus: 0 }),
    ]);
    const { runId, handle } = await startRun(taskQueue, { spec: tinySpec({ rounds: 3 }) });
    const status = (await handle.result()) as RunStatus;
    expect(status.state).toBe("completed");
    expect(status.committedRounds).toBe(3);
    expect([...sim.commits.keys()]).toEqual([1, 2, 3].map((r) => `${runId}/${r}`));
    const firstRound = sim.launches.filter((l) => l.key.includes("-r1-"));
    expect(firstRound.map((l) => [l.key.split("-").at(-1), l.replicas.length]).sort()).toEqual([
      ["alpha", 2],
      ["beta", 2],
    ]);
    expect(sim.liveJobs.size).toBe(0);
    expect(sim.closed.get(runId)).toEqual({ as: "completed" });
    // 4 replicas × 2 s (1.5 s rounded up) × 1 GPU per round, split evenly between the two clusters.
    expect(sim.credits.filter((c) => c.round === 1).map((c) => c.gpuSeconds)).toEqual([4, 4]);
    expect(status.gpuSecondsUsed).toBe(24);
  });

  test("a cluster whose pods fail earns nothing and the round completes on the quorum", async () => {
    const { sim, taskQueue } = await simulate([cluster("good"), cluster("bad", { behaviour: "fail" })]);
    const { runId, handle } = await startRun(taskQueue, { spec: tinySpec({ rounds: 1, minReplicas: 2 }) });
    const status = (await handle.result()) as RunStatus;
    expect(status.state).toBe("completed");
    expect(sim.credits).toEqual([{ runId, round: 1, clusterId: idOf("good"), gpuSeconds: 4 }]);
    const replicas = status.recent[0]?.replicas ?? [];
    expect(replicas.filter((r) => r.phase === "failed").every((r) => r.cluster === "bad")).toBe(true);
    expect(status.recent[0]?.attempts).toBe(1);
  });

  test("replicas the owner preempts are dropouts without a strike: unpaid, and their cluster is tried again in the retry", async () => {
    const { sim, taskQueue } = await simulate([
      cluster("steady", { freeGpus: 2 }),
      cluster("owned", { freeGpus: 2, behaviour: "preempted-once" }),
    ]);
    const { runId, handle } = await startRun(taskQueue, { spec: tinySpec({ rounds: 1, minReplicas: 4 }) });
    const status = (await handle.result()) as RunStatus;
    expect(status.state).toBe("completed");
    expect(status.recent[0]?.attempts).toBe(2);
    // A failed cluster would be left out of the retry; a preempted one is not.
    expect(sim.launches.filter((l) => l.key.includes("-a2-")).map((l) => l.key.split("-").at(-1))).toContain(
      "owned",
    );
    const paid = sim.credits.reduce((sum, c) => sum + c.gpuSeconds, 0);
    expect(paid).toBe(8);
    expect(sim.credits.every((c) => c.runId === runId)).toBe(true);
  });

  test("a round short of its quorum is retried on other clusters, and the cheating cluster is not paid", async () => {
    const { sim, taskQueue } = await simulate([
      cluster("honest"),
      cluster("cheater", { behaviour: "cheat" }),
    ]);
    const { runId, handle } = await startRun(taskQueue, { spec: tinySpec({ rounds: 1, minReplicas: 4 }) });
    const status = (await handle.result()) as RunStatus;
    expect(status.state).toBe("completed");
    const summary = status.recent[0];
    expect(summary?.attempts).toBe(2);
    expect(summary?.replicas.every((r) => r.phase === "accepted" && r.cluster === "honest")).toBe(true);
    expect(sim.credits).toEqual([{ runId, round: 1, clusterId: idOf("honest"), gpuSeconds: 8 }]);
    const retry = sim.launches.find((l) => l.key.includes("-a2-"));
    expect(retry?.key.endsWith("honest")).toBe(true);
  });

  test("a run that cannot reach its quorum fails with the reason instead of committing, and is closed on-chain as failed with it", async () => {
    const { sim, taskQueue } = await simulate([cluster("bad", { behaviour: "fail" })]);
    const { runId, handle } = await startRun(taskQueue, {
      spec: tinySpec({ rounds: 1, minReplicas: 2 }),
      options: { maxAttemptsPerRound: 2 },
    });
    const failure = await handle.result().catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const reason = String((failure as WorkflowFailedError).cause?.message);
    expect(reason).toMatch(/fewer than 2 accepted replicas/);
    expect(sim.commits.size).toBe(0);
    expect(sim.closed.get(runId)).toEqual({ as: "failed", reason });
    expect(sim.states.at(-1)).toBe(`${runId.slice(0, 6)}:failed`);
  });

  test("replaying a finished run's history with today's workflow code reproduces it (determinism)", async () => {
    const { taskQueue } = await simulate([cluster("alpha"), cluster("beta", { behaviour: "fail" })]);
    const { handle } = await startRun(taskQueue, { spec: tinySpec({ rounds: 2, minReplicas: 2 }) });
    await handle.result();
    await Worker.runReplayHistory(
      {
        workflowsPath: fileURLToPath(new URL("../../workflows/index.ts", import.meta.url)),
        dataConverter: encryptedDataConverter(codec),
      },
      await handle.fetchHistory(),
      handle.workflowId,
    );
  });

  test("stops at the GPU-hour budget before a round that would exceed it", async () => {
    const { sim, taskQueue } = await simulate([cluster("alpha"), cluster("beta")]);
    // Each round costs 8 GPU-seconds; 20 s of budget fits two rounds, not a third (and the worst
    // case of one round, 4 replicas × 1 GPU × a 5 s deadline, fits it).
    const { handle } = await startRun(taskQueue, {
      spec: tinySpec({ rounds: 5, gpuHourBudget: 20 / 3600 }),
      options: { replicaDeadlineSeconds: 5 },
    });
    const status = (await handle.result()) as RunStatus;
    expect(status).toMatchObject({
      state: "completed",
      reason: "budget",
      committedRounds: 2,
      gpuSecondsUsed: 16,
    });
    expect(sim.commits.size).toBe(2);
  });

  test("refuses a run that cannot pay for one round before launching anything, and closes it as failed", async () => {
    const { sim, taskQueue } = await simulate([cluster("alpha")]);
    // 4 replicas × 1 GPU × a 30 s deadline may cost 120 GPU-seconds; the budget is 60.
    const { runId, handle } = await startRun(taskQueue, { spec: tinySpec({ gpuHourBudget: 60 / 3600 }) });
    const failure = (await handle.result().catch((e: unknown) => e)) as WorkflowFailedError;
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect(failure.cause?.message).toMatch(
      /^refused to start: one round may cost .* = 120 GPU-seconds, more than the budget of 60/,
    );
    expect(sim.launches).toEqual([]);
    expect(sim.closed.get(runId)).toEqual({ as: "failed", reason: failure.cause?.message });
    expect((await handle.query(statusQuery)).state).toBe("failed");
  });

  test("continues as new between rounds and keeps its progress", async () => {
    const { sim, taskQueue } = await simulate([cluster("alpha")]);
    const { handle } = await startRun(taskQueue, {
      spec: tinySpec({ rounds: 4, replicasPerRound: 2, minReplicas: 1 }),
      options: { roundsPerExecution: 1 },
    });
    const status = (await handle.result()) as RunStatus;
    expect(status).toMatchObject({ state: "completed", committedRounds: 4, gpuSecondsUsed: 16 });
    expect(sim.commits.size).toBe(4);
    const description = await handle.describe();
    expect(description.runId).not.toBe(handle.firstExecutionRunId);
  });

  // A payload over the server's 2 MiB limit fails the workflow task again and again: the run
  // would hang (and the test time out) rather than complete. 6,400 replicas, as at 100 clusters ×
  // 64; on 10 clusters, since the payloads grow with replicas and the test's time with clusters.
  test("a run of 6,400 replicas a round completes within Temporal's 2 MiB payload limit through continueAsNew, and older rounds keep only their unaccepted rows", async () => {
    const { sim, taskQueue } = await simulate(
      Array.from({ length: 10 }, (_, i) => cluster(`c${i}`, { freeGpus: 640 })),
    );
    const { handle } = await startRun(taskQueue, {
      spec: tinySpec({ rounds: 5, replicasPerRound: 6_400, minReplicas: 1, gpuHourBudget: 1_000 }),
      options: { roundsPerExecution: 1 },
    });
    const status = (await handle.result()) as RunStatus;
    expect(status).toMatchObject({ state: "completed", committedRounds: 5 });
    expect(sim.commits.size).toBe(5);
    expect(status.recent.map((r) => r.replicas.length)).toEqual([0, 0, 0, 0, 6_400]);
  }, 240_000);

  test("pauses after the round in flight, reports it, and resumes on the signal", async () => {
    const { sim, taskQueue } = await simulate([cluster("alpha", { trainMs: 300 })]);
    const { handle } = await startRun(taskQueue, {
      spec: tinySpec({ rounds: 3, replicasPerRound: 1, minReplicas: 1 }),
    });
    await handle.signal(pauseSignal);
    await waitFor(async () => (await handle.query(statusQuery)).state === "paused");
    const paused = await handle.query(statusQuery);
    await new Promise((r) => setTimeout(r, 800));
    expect(sim.commits.size).toBe(paused.committedRounds);
    await handle.signal(resumeSignal);
    const status = (await handle.result()) as RunStatus;
    expect(status).toMatchObject({ state: "completed", committedRounds: 3 });
  });

  test("an operator's cancel stops the round in flight, deletes its Jobs and closes the run as cancelled, not completed", async () => {
    const { sim, taskQueue } = await simulate([
      cluster("alpha", { behaviour: "hang" }),
      cluster("beta", { behaviour: "hang" }),
    ]);
    const { runId, handle } = await startRun(taskQueue, { spec: tinySpec({ rounds: 3 }) });
    await waitFor(async () => sim.liveJobs.size === 2);
    const live = await handle.query(statusQuery);
    expect(live.current?.replicas.map((r) => r.phase)).toEqual(["pending", "pending", "pending", "pending"]);
    await handle.signal(cancelSignal, { source: "operator", reason: "test" });
    const status = (await handle.result()) as RunStatus;
    expect(status).toMatchObject({ state: "cancelled", reason: "operator: test", committedRounds: 0 });
    expect(sim.liveJobs.size).toBe(0);
    expect(sim.closed.get(runId)).toEqual({ as: "cancelled", reason: "operator: test" });
  });
});

describe("clusterHealth", () => {
  test("reports each cluster's health and free GPUs, and a failing one with its reason", async () => {
    const { taskQueue } = await simulate([
      cluster("up", { freeGpus: 3 }),
      cluster("down", { healthy: false }),
    ]);
    const handle = await client.workflow.start("clusterHealth", {
      taskQueue,
      workflowId: `health-${taskQueue}`,
      args: [{ intervalSeconds: 1 }],
    });
    await waitFor(async () => (await handle.query(clusterHealthQuery)).length === 2);
    const rows = await handle.query(clusterHealthQuery);
    expect(rows.map((r) => [r.name, r.health])).toEqual([
      ["up", { healthy: true, freeGpus: 3 }],
      ["down", { healthy: false, freeGpus: 0, reason: "down" }],
    ]);
    await handle.terminate();
  });
});

describe("payload codec", () => {
  test("history holds no run input or codec key in clear, yet decodes with the key", async () => {
    const secret = `run-${randomBytes(8).toString("hex")}`;
    const { taskQueue } = await simulate([cluster("remote")]);
    const { handle } = await startRun(taskQueue, {
      spec: tinySpec({ name: secret, rounds: 1, replicasPerRound: 2, minReplicas: 1 }),
    });
    await handle.result();

    const raw = new Client({ connection: simulated.connection, namespace: simulated.temporal.namespace });
    const history = await raw.workflow.getHandle(handle.workflowId).fetchHistory();
    const bytes = Buffer.from(JSON.stringify(history));
    for (const clear of [secret, codecKeyBase64, "trainingRun input"]) {
      expect(bytes.includes(clear)).toBe(false);
    }
    const payloads = collectPayloads(history);
    expect(payloads.length).toBeGreaterThan(10);
    expect(
      payloads.every((p) => Buffer.from(p.metadata?.encoding ?? []).toString() === "binary/encrypted"),
    ).toBe(true);
    const decoded = await codec.decode(payloads);
    expect(
      decoded.some((p) =>
        Buffer.from(p.data ?? [])
          .toString()
          .includes(secret),
      ),
    ).toBe(true);
  });
});
