import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Client } from "@temporalio/client";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { hashCheckpoint } from "../../checkpoints/index.ts";
import { checkpointRegistryAbi } from "../../contracts/abi/index.ts";
import { cancelRunProposal } from "../../governance/proposals.ts";
import { computeCredits, getRun, tokenBalance } from "../../governance/reads.ts";
import { runWorkflowId } from "../../spec/workflowIds.ts";
import { clusterIdOf } from "../../workers/clusterDirectory.ts";
import { statusQuery } from "../../workflows/signals.ts";
import type { Hex, RunStatus } from "../../workflows/types.ts";
import type { ManagedProcess } from "../harness/process.ts";
import { waitFor } from "./polling.ts";
import { type OrchestrationStack, startOrchestrationStack } from "./stack.ts";
import { startTcpProxy, type TcpProxy } from "./tcpProxy.ts";

// The fault matrix, each on the real stack: a worker process (which tests kill), real anvil
// behind a TCP proxy (which tests take down), real trainer processes with injected faults.

let stack: OrchestrationStack;
let proxy: TcpProxy;
let worker: ManagedProcess;
const faultyTrainer = JSON.stringify(["node", "tests/orchestration/faultyTrainer.ts"]);

beforeAll(async () => {
  stack = await startOrchestrationStack([
    { name: "alpha", gpus: 4, ownerIndex: 0 },
    { name: "beta", gpus: 4, ownerIndex: 1 },
    { name: "gamma", gpus: 4, ownerIndex: 2 },
    { name: "delta", gpus: 4, ownerIndex: 3 },
  ]);
  proxy = await startTcpProxy({ host: "127.0.0.1", port: stack.dao.anvil.port });
  worker = await startWorker();
  await stack.startWatcher();
});

afterAll(async () => {
  await worker?.stop();
  await proxy?.stop();
  await stack?.stop();
});

function startWorker(): Promise<ManagedProcess> {
  return stack.startWorkerProcess({ DAOTRAIN_RPC_URL: proxy.url, DAOTRAIN_TRAINER_COMMAND: faultyTrainer });
}

describe("fault matrix", () => {
  test(
    "the worker killed mid-round twice: the run completes with one commit per round and no round lost",
    {
      timeout: 240_000,
    },
    async () => {
      await stack.writeClusters([stack.localCluster("alpha"), stack.localCluster("beta")]);
      const runId = await stack.approveRun(stack.spec({ rounds: 3 }));
      const handle = await runHandle(stack.client, runId);
      for (const round of [2, 3]) {
        // Mid-round: all the round's trainer processes run (both Jobs launched, their watches under
        // way). A crash inside a launch is covered by k8s/local/localCluster.test.ts.
        await waitFor(async () => {
          const pids = await trainerPids(["alpha", "beta"], `-r${round - 1}-`);
          return pids.length === 4 && pids.every(isAlive);
        });
        process.kill(worker.pid, "SIGKILL");
        await worker.exited;
        worker = await startWorker();
      }
      const status = (await handle.result()) as RunStatus;
      expect(status).toMatchObject({ state: "completed", committedRounds: 3 });

      const commits = await stack.dao.operator.publicClient.getContractEvents({
        address: stack.dao.deployment.contracts.checkpointRegistry,
        abi: checkpointRegistryAbi,
        eventName: "CheckpointCommitted",
        args: { runId },
        fromBlock: 0n,
      });
      expect(commits.map((c) => Number(c.args.round))).toEqual([1, 2, 3]);
      for (const commit of commits) {
        const stored = await hashCheckpoint(await stack.runStore.localDir(commit.args.manifestUri!));
        expect(stored.root).toBe(commit.args.root);
      }
    },
  );

  test("one cluster's pods fail: the round completes on the quorum and that cluster earns nothing", async () => {
    await stack.writeClusters([
      stack.localCluster("alpha"),
      stack.localCluster("gamma", { DAOTRAIN_TEST_FAULT: "fail" }),
    ]);
    const runId = await stack.approveRun(stack.spec({ rounds: 1, replicasPerRound: 4, minReplicas: 2 }));
    const status = await runResult(stack.client, runId);
    expect(status).toMatchObject({ state: "completed", committedRounds: 1 });
    const replicas = status.recent[0]?.replicas ?? [];
    expect(replicas.filter((r) => r.cluster === "gamma").map((r) => r.phase)).toEqual(["failed", "failed"]);
    expect(replicas.filter((r) => r.cluster === "alpha").map((r) => r.phase)).toEqual([
      "accepted",
      "accepted",
    ]);
    expect(await creditedClusters(runId)).toEqual([clusterIdOf("alpha")]);
  });

  test("a cheating replica (100× norm) is rejected, not aggregated and not paid", async () => {
    await stack.writeClusters([
      stack.localCluster("alpha"),
      stack.localCluster("delta", { DAOTRAIN_TEST_FAULT: "norm100" }),
    ]);
    const runId = await stack.approveRun(stack.spec({ rounds: 1, replicasPerRound: 4, minReplicas: 2 }));
    const status = await runResult(stack.client, runId);
    expect(status).toMatchObject({ state: "completed", committedRounds: 1 });
    const replicas = status.recent[0]?.replicas ?? [];
    const cheats = replicas.filter((r) => r.cluster === "delta");
    expect(cheats.map((r) => r.phase)).toEqual(["rejected", "rejected"]);
    expect(cheats.every((r) => r.reason?.startsWith("norm-outlier"))).toBe(true);
    const global = await hashCheckpoint(await stack.runStore.localDir(status.recent[0]!.manifestUri));
    expect(global.manifest.metrics.replicasAccepted).toBe(2);
    expect(await creditedClusters(runId)).toEqual([clusterIdOf("alpha")]);
  });

  test("the chain RPC down for 15 s: activities retry and the run completes", async () => {
    await stack.writeClusters([stack.localCluster("alpha"), stack.localCluster("beta")]);
    const runId = await stack.approveRun(stack.spec({ rounds: 2 }));
    const handle = await runHandle(stack.client, runId);
    await waitFor(async () => (await handle.query(statusQuery)).current?.round === 1);
    await proxy.pause();
    // Long enough for several of the chain retry policy's attempts (1 s doubling to 10 s).
    await new Promise((r) => setTimeout(r, 15_000));
    const during = await handle.query(statusQuery);
    await proxy.resume();
    expect(during.committedRounds).toBe(0);
    const status = (await handle.result()) as RunStatus;
    expect(status).toMatchObject({ state: "completed", committedRounds: 2 });
  });

  test("the DAO cancels the run: its Jobs are deleted and the escrow remainder returns to the DAO", async () => {
    await stack.writeClusters([
      stack.localCluster("alpha", { DAOTRAIN_TEST_FAULT: "hang" }),
      stack.localCluster("beta", { DAOTRAIN_TEST_FAULT: "hang" }),
    ]);
    const runId = await stack.approveRun(stack.spec({ rounds: 3 }));
    const handle = await runHandle(stack.client, runId);
    const pids = await waitFor(async () => {
      const found = await trainerPids(["alpha", "beta"]);
      return found.length === 4 ? found : undefined;
    });
    expect(pids.every(isAlive)).toBe(true);
    const dao = stack.dao.deployment.dao.address;
    const before = await tokenBalance(stack.dao.operator, dao);

    await stack.dao.pass(cancelRunProposal(stack.dao.deployment.contracts, runId));
    const status = (await handle.result()) as RunStatus;
    expect(status).toMatchObject({ state: "cancelled", committedRounds: 0 });
    expect(status.reason).toMatch(/^dao:/);
    expect(await trainerPids(["alpha", "beta"])).toEqual([]);
    expect(pids.some(isAlive)).toBe(false);
    const run = await getRun(stack.dao.operator, runId);
    expect(run.status).toBe("cancelled");
    expect(run.escrow.refunded).toBe(run.escrow.funded - run.escrow.credited);
    expect((await tokenBalance(stack.dao.operator, dao)) - before).toBe(run.escrow.refunded);
  });
});

describe("worker process", () => {
  test("SIGTERM drains the worker and it exits 0", async () => {
    const spare = await startWorker();
    process.kill(spare.pid, "SIGTERM");
    expect(await spare.exited).toBe(0);
    expect(spare.recentOutput()).toContain("SIGTERM, finishing activities in flight");
  });
});

async function creditedClusters(runId: Hex): Promise<Hex[]> {
  return [...new Set((await computeCredits(stack.dao.operator, runId)).map((c) => c.clusterId))];
}

/** The pids of trainer processes the local executors of these clusters hold now. */
async function trainerPids(clusters: string[], roundPart = ""): Promise<number[]> {
  const pids: number[] = [];
  for (const cluster of clusters) {
    const root = join(stack.dir, "executors", cluster);
    const rounds = await readdir(root).catch(() => [] as string[]);
    for (const round of rounds.filter((name) => name.includes(roundPart))) {
      for (const file of await readdir(join(root, round)).catch(() => [] as string[])) {
        if (file.endsWith(".pid")) pids.push(Number(await readFile(join(root, round, file), "utf8")));
      }
    }
  }
  return pids;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function runHandle(client: Client, runId: Hex) {
  const handle = client.workflow.getHandle(runWorkflowId(runId));
  await waitFor(async () => (await handle.describe().catch(() => undefined)) !== undefined);
  return handle;
}

async function runResult(client: Client, runId: Hex): Promise<RunStatus> {
  return (await (await runHandle(client, runId)).result()) as RunStatus;
}
