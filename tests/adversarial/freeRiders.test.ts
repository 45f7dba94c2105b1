import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { computeCredits, getCheckpoint } from "../../governance/reads.ts";
import { runWorkflowId } from "../../spec/workflowIds.ts";
import { clusterIdOf } from "../../workers/clusterDirectory.ts";
import { parseWorkerEnv } from "../../workers/config.ts";
import { type RunningWorker, startWorker } from "../../workers/main.ts";
import { placeReplicas } from "../../workflows/planning.ts";
import type { ClusterCandidate, RunStatus } from "../../workflows/types.ts";
import { type OrchestrationStack, startOrchestrationStack } from "../orchestration/stack.ts";
import { workflowResult } from "../orchestration/story.ts";

// Free riders and boasters on the real worker, Temporal and the DAO on anvil: contributor
// "gamma" colludes with itself — one honest replica, three copies of it (byte for byte, in F16,
// scaled by half) — and sends θ back unchanged, with tiny noise, and with noise the size of an
// honest step; contributor "alpha" trains honestly, one of its replicas claiming 10^15 tokens and
// a loss of 0.0001. The attacks come from tests/adversarial/hostileTrainer.ts.

let stack: OrchestrationStack;
let worker: RunningWorker;
const clusters = [
  { name: "alpha", gpus: 4, ownerIndex: 0 },
  { name: "gamma", gpus: 7, ownerIndex: 1 },
];

beforeAll(async () => {
  stack = await startOrchestrationStack(clusters);
  worker = await startWorker(
    parseWorkerEnv({
      ...stack.processEnv,
      DAOTRAIN_TRAINER_COMMAND: JSON.stringify(["node", "tests/adversarial/hostileTrainer.ts"]),
    }),
  );
  await stack.startWatcher();
});

afterAll(async () => {
  await worker?.stop();
  await stack?.stop();
});

/** Which replica indices each cluster gets, as the round's placement gives them. */
function placement(replicas: number): Record<string, number[]> {
  const candidates = clusters.map(
    (c) =>
      ({
        id: clusterIdOf(c.name),
        name: c.name,
        health: { healthy: true, freeGpus: c.gpus },
      }) as ClusterCandidate,
  );
  const placed = placeReplicas(
    candidates,
    Array.from({ length: replicas }, (_, i) => i),
    1,
  );
  return Object.fromEntries(placed.map((p) => [p.cluster.name, p.replicas]));
}

describe("free riders", () => {
  test("copies, θ sent back, noise: each is rejected with its reason and earns nothing; a replica's claimed tokens and loss never reach the chain", async () => {
    const spec = stack.spec({ rounds: 1, replicasPerRound: 11, minReplicas: 2 });
    const { alpha = [], gamma = [] } = placement(spec.replicasPerRound);
    expect([alpha.length, gamma.length]).toEqual([4, 7]);
    const [victim, copy, f16, scaled, unchanged, tiny, noise] = gamma as [number, ...number[]];
    const faults: Record<number, string> = {
      [alpha[0]!]: "boastful",
      [copy!]: `copy:${victim}`,
      [f16!]: `f16-copy:${victim}`,
      [scaled!]: `scaled-copy:${victim}`,
      [unchanged!]: "unchanged",
      [tiny!]: "tiny-noise",
      [noise!]: "noise",
    };
    const env = { DAOTRAIN_TEST_FAULTS: JSON.stringify(faults) };
    await stack.writeClusters(clusters.map((c) => stack.localCluster(c.name, env)));

    const runId = await stack.approveRun(spec);
    const status = await workflowResult<RunStatus>(stack.client, runWorkflowId(runId), 400_000);
    expect(status).toMatchObject({ state: "completed", committedRounds: 1 });
    const rows = status.recent[0]!.replicas;
    for (const r of rows) {
      const s = r.scores;
      console.info(
        `replica ${r.replica} on ${r.cluster} (${faults[r.replica] ?? "honest"}): ${r.phase}${r.rejection ? ` ${r.rejection}` : ""}` +
          (s
            ? `; held-out ${s.heldOutLoss.toFixed(4)}, own-shard ${s.ownShardLossOfGlobal.toFixed(4)} → ${s.ownShardLoss.toFixed(4)}, moved ${s.movement.toPrecision(3)}`
            : ""),
      );
    }
    const outcome = Object.fromEntries(rows.map((r) => [r.replica, r.rejection ?? r.phase]));
    expect(outcome).toEqual({
      ...Object.fromEntries(alpha.map((i) => [i, "accepted"])),
      [victim]: "duplicate",
      [copy!]: "duplicate",
      [f16!]: "duplicate",
      [scaled!]: "duplicate",
      [unchanged!]: "no-progress",
      [tiny!]: "no-progress",
      [noise!]: "no-progress",
    });
    expect(rows.filter((r) => r.phase === "rejected").every((r) => r.gpuSeconds === 0)).toBe(true);

    // Only the honest contributor is paid, for exactly its accepted replicas.
    const credits = await computeCredits(stack.dao.operator, runId);
    expect(credits.map((c) => c.clusterId)).toEqual([clusterIdOf("alpha")]);
    expect(credits.reduce((n, c) => n + BigInt(c.gpuSeconds), 0n)).toBe(
      BigInt(rows.filter((r) => r.phase === "accepted").reduce((n, r) => n + (r.gpuSeconds ?? 0), 0)),
    );

    // What the chain records is the worker's: tokens the spec allows the accepted replicas, and
    // the loss it measured on their own shards, not the boaster's 10^15 and 0.0001.
    const committed = await getCheckpoint(stack.dao.operator, runId, 1n);
    if (!committed.committed) throw new Error("round 1 is not committed");
    expect(committed.metrics.tokens).toBe(
      BigInt(alpha.length * spec.innerSteps * spec.inner.batch * spec.model.contextLength),
    );
    expect(committed.metrics.loss).toBeGreaterThan(1);
    expect(committed.metrics.loss).toBeCloseTo(status.recent[0]!.metrics.loss, 6);
  });
});
