import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Client } from "@temporalio/client";
import { expect } from "vitest";
import { hashCheckpoint } from "../../checkpoints/index.ts";
import { releaseFacts } from "../../download/index.ts";
import { releaseCheckpointProposal } from "../../governance/proposals.ts";
import { computeCredits, getCheckpoint, getRun } from "../../governance/reads.ts";
import { verifyRelease } from "../../release/verify.ts";
import type { RunSpecInput } from "../../spec/runSpec.ts";
import { runWorkflowId } from "../../spec/workflowIds.ts";
import { PEER_TIME_FACTOR, PEER_TIME_SLACK_SECONDS } from "../../workflows/planning.ts";
import { releaseWorkflowId } from "../../workflows/signals.ts";
import type { Hex, RunStatus } from "../../workflows/types.ts";
import type { OrchestrationStack } from "./stack.ts";

/**
 * The whole story of issue 6, on whichever clusters the stack's worker reaches: the DAO approves
 * a run, it trains `rounds` rounds, every committed root equals the root recomputed from the
 * stored checkpoint, the ledger credits each owner exactly its accepted replicas' GPU-seconds,
 * the run is closed with the rest of the escrow returned, and the DAO's release vote gets the
 * last checkpoint published (verified against its root in the public store, its URI on-chain).
 * `beforeRelease` sees the run store as the rounds left it: the release ends the retention of the
 * replicas' outputs (rounds/README.md).
 */
export async function provesTheRunStory(
  stack: OrchestrationStack,
  rounds: number,
  spec: Partial<RunSpecInput> = {},
  beforeRelease: (runId: Hex) => Promise<void> = async () => {},
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

  // Honest replicas are paid all the time they took: none hits the peer bound (planning.ts).
  for (const round of status.recent) {
    const accepted = round.replicas.filter((r) => r.phase === "accepted");
    expect(accepted.filter((r) => r.claimedGpuSeconds !== undefined)).toEqual([]);
    const times = accepted.map((r) => r.gpuSeconds ?? 0).sort((a, b) => a - b);
    const reference = times[Math.floor((times.length - 1) / 2)] ?? 0;
    process.stdout.write(
      `honest round ${round.round}: accepted replicas' GPU-seconds ${times.join(", ")}; longest ${times.at(-1)} vs bound ${PEER_TIME_FACTOR * reference + PEER_TIME_SLACK_SECONDS} (3 × ${reference} + ${PEER_TIME_SLACK_SECONDS})\n`,
    );
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

  await beforeRelease(runId);
  await stack.dao.pass(releaseCheckpointProposal(stack.dao.deployment.contracts, runId, BigInt(rounds)));
  const published = await workflowResult<{ uri: string; root: Hex }>(
    stack.client,
    releaseWorkflowId(runId, rounds),
  );
  expect(published.root).toBe(status.recent.at(-1)?.root);
  const publicDir = join(fileURLToPath(stack.env.DAOTRAIN_PUBLIC_STORE_URI), runId, String(rounds));
  // What was published is the release (Hugging Face layout), every file proven against the chain.
  const release = { runId, round: rounds, checkpointRoot: published.root };
  const facts = await releaseFacts(stack.dao.operator, runId, rounds);
  expect((await verifyRelease(publicDir, release, facts)).problems).toEqual([]);
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
