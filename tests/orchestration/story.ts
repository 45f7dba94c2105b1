import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Client } from "@temporalio/client";
import { expect } from "vitest";
import { hashCheckpoint, verifyCheckpoint } from "../../checkpoints/index.ts";
import { releaseCheckpointProposal } from "../../governance/proposals.ts";
import { computeCredits, getCheckpoint, getRun } from "../../governance/reads.ts";
import type { RunSpecInput } from "../../spec/runSpec.ts";
import { runWorkflowId } from "../../spec/workflowIds.ts";
import { releaseWorkflowId } from "../../workflows/signals.ts";
import type { Hex, RunStatus } from "../../workflows/types.ts";
import type { OrchestrationStack } from "./stack.ts";

/**
 * The whole story of issue 6, on whichever clusters the stack's worker reaches: the DAO approves
 * a run, it trains `rounds` rounds, every committed root equals the root recomputed from the
 * stored checkpoint, the ledger credits each owner exactly its accepted replicas' GPU-seconds,
 * the run is closed with the rest of the escrow returned, and the DAO's release vote gets the
 * last checkpoint published (verified against its root in the public store, its URI on-chain).
 */
export async function provesTheRunStory(
  stack: OrchestrationStack,
  rounds: number,
  spec: Partial<RunSpecInput> = {},
): Promise<{ runId: Hex; status: RunStatus }> {
  const runId = await stack.approveRun(stack.spec({ rounds, replicasPerRound: 4, minReplicas: 2, ...spec }));
  const status = await workflowResult<RunStatus>(stack.client, runWorkflowId(runId));
  expect(status).toMatchObject({ state: "completed", committedRounds: rounds, reason: "rounds" });

  for (let round = 1; round <= rounds; round++) {
    const committed = await getCheckpoint(stack.dao.operator, runId, BigInt(round));
    if (!committed.committed) throw new Error(`round ${round} is not committed`);
    const recomputed = await hashCheckpoint(await stack.runStore.localDir(committed.manifestUri));
    expect(recomputed.root).toBe(committed.root);
    expect(recomputed.manifest.round).toBe(round);
  }

  const expected = new Map<string, bigint>();
  for (const round of status.recent) {
    for (const replica of round.replicas) {
      if (replica.phase !== "accepted") continue;
      const owner = stack.owners[replica.cluster];
      if (!owner) throw new Error(`replica on unknown cluster ${replica.cluster}`);
      expected.set(owner, (expected.get(owner) ?? 0n) + BigInt(replica.gpuSeconds ?? 0));
    }
  }
  const credited = new Map<string, bigint>();
  for (const credit of await computeCredits(stack.dao.operator, runId)) {
    credited.set(credit.contributor, (credited.get(credit.contributor) ?? 0n) + BigInt(credit.gpuSeconds));
  }
  expect(credited).toEqual(expected);
  expect([...credited.keys()].sort()).toEqual(Object.values(stack.owners).sort());
  const run = await getRun(stack.dao.operator, runId);
  expect(run.status).toBe("completed");
  expect(run.escrow.refunded).toBe(run.escrow.funded - run.escrow.credited);

  await stack.dao.pass(releaseCheckpointProposal(stack.dao.deployment.contracts, runId, BigInt(rounds)));
  const published = await workflowResult<{ uri: string; root: Hex }>(
    stack.client,
    releaseWorkflowId(runId, rounds),
  );
  expect(published.root).toBe(status.recent.at(-1)?.root);
  const publicDir = join(fileURLToPath(stack.env.DAOTRAIN_PUBLIC_STORE_URI), runId, String(rounds));
  expect((await verifyCheckpoint(publicDir, published.root)).problems).toEqual([]);
  const onChain = await getCheckpoint(stack.dao.operator, runId, BigInt(rounds));
  expect(onChain.committed && onChain.publishedManifestUri).toBe(published.uri);
  return { runId, status };
}

/** Waits for a workflow the watcher starts (it may not exist yet), then for its result. */
export async function workflowResult<T>(client: Client, workflowId: string, timeoutMs = 240_000): Promise<T> {
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
