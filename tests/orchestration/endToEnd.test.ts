import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Client } from "@temporalio/client";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { hashCheckpoint, verifyCheckpoint } from "../../checkpoints/index.ts";
import { checkpointRegistryAbi, runRegistryAbi } from "../../contracts/abi/index.ts";
import { releaseCheckpointProposal } from "../../governance/proposals.ts";
import { runWorkflowId } from "../../spec/workflowIds.ts";
import { clusterIdOf } from "../../workers/clusterDirectory.ts";
import { type RunningWorker, startWorker } from "../../workers/main.ts";
import { checkpointDirOf } from "../../workers/runLayout.ts";
import { releaseWorkflowId } from "../../workflows/signals.ts";
import type { Hex, RunStatus } from "../../workflows/types.ts";
import { type OrchestrationStack, startOrchestrationStack } from "./stack.ts";

// A DAO decision becomes a trained, committed and released checkpoint: real anvil with the DAO,
// a real Temporal server and worker, real trainer processes on two local executors.

let stack: OrchestrationStack;
let worker: RunningWorker;

beforeAll(async () => {
  stack = await startOrchestrationStack([
    { name: "alpha", gpus: 4, ownerIndex: 0 },
    { name: "beta", gpus: 4, ownerIndex: 1 },
  ]);
  worker = await startWorker(stack.env);
  await stack.startWatcher();
});

afterAll(async () => {
  await worker?.stop();
  await stack?.stop();
});

describe("end to end on local executors", () => {
  test("a run approved by DAO vote trains 3 rounds, commits the stored checkpoints' roots, credits each owner its accepted GPU-seconds, and its release vote publishes the last checkpoint", async () => {
    const spec = stack.spec({ rounds: 3, replicasPerRound: 4, minReplicas: 2 });
    const runId = await stack.approveRun(spec);
    const status = await runResult(stack.client, runId);
    expect(status).toMatchObject({ state: "completed", committedRounds: 3, reason: "rounds" });

    const chain = stack.dao.operator.publicClient;
    const { checkpointRegistry, runRegistry } = stack.dao.deployment.contracts;
    for (const round of [1, 2, 3]) {
      const committed = await chain.readContract({
        address: checkpointRegistry,
        abi: checkpointRegistryAbi,
        functionName: "getCheckpoint",
        args: [runId, BigInt(round)],
      });
      const recomputed = await hashCheckpoint(checkpointDirOf(committed.manifestUri));
      expect(recomputed.root).toBe(committed.root);
      expect(recomputed.manifest.round).toBe(round);
    }

    // The ledger credits each owner exactly the GPU-seconds of its accepted replicas.
    const expected = new Map<string, bigint>();
    for (const round of status.recent) {
      for (const replica of round.replicas) {
        if (replica.phase !== "accepted") continue;
        const owner = stack.owners[replica.cluster]!;
        expected.set(owner, (expected.get(owner) ?? 0n) + BigInt(replica.gpuSeconds ?? 0));
      }
    }
    const records = await chain.getContractEvents({
      address: runRegistry,
      abi: runRegistryAbi,
      eventName: "ComputeRecorded",
      args: { runId },
      fromBlock: 0n,
    });
    const credited = new Map<string, bigint>();
    for (const { args } of records) {
      credited.set(args.contributor!, (credited.get(args.contributor!) ?? 0n) + args.gpuSeconds!);
    }
    expect(credited).toEqual(expected);
    expect([...credited.keys()].sort()).toEqual(Object.values(stack.owners).sort());
    expect(
      records
        .map((r) => r.args.clusterId)
        .every((id) => [clusterIdOf("alpha"), clusterIdOf("beta")].includes(id!)),
    ).toBe(true);
    const run = await chain.readContract({
      address: runRegistry,
      abi: runRegistryAbi,
      functionName: "getRun",
      args: [runId],
    });
    expect(run.status).toBe(2); // Completed: the unspent escrow went back to the DAO.
    expect(run.refunded).toBe(run.funded - run.credited);

    // The DAO releases the last round; the release workflow publishes it to the public store.
    await stack.dao.pass(releaseCheckpointProposal(stack.dao.deployment.contracts, runId, 3n));
    const published = await workflowResult<{ uri: string; root: Hex }>(
      stack.client,
      releaseWorkflowId(runId, 3),
    );
    expect(published.root).toBe(status.recent.at(-1)?.root);
    const publicDir = join(fileURLToPath(stack.env.DAOTRAIN_PUBLIC_STORE_URI), runId, "3");
    const verification = await verifyCheckpoint(publicDir, published.root);
    expect(verification.problems).toEqual([]);
  });
});

/** Waits for the workflow the watcher starts (it may not exist yet), then for its result. */
async function workflowResult<T>(client: Client, workflowId: string, timeoutMs = 240_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return (await client.workflow.getHandle(workflowId).result()) as T;
    } catch (error) {
      if ((error as Error).name !== "WorkflowNotFoundError" || Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

async function runResult(client: Client, runId: Hex): Promise<RunStatus> {
  return await workflowResult<RunStatus>(client, runWorkflowId(runId));
}
