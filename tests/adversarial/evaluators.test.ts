import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { outerStep } from "../../diloco/index.ts";
import type { RunSpec } from "../../spec/runSpec.ts";
import { encodeScoresFile, parseScoresFile } from "../../spec/trainerContract.ts";
import { clusterIdOf } from "../../workers/clusterDirectory.ts";
import { type RunningWorker, startWorker } from "../../workers/main.ts";
import type { Hex, RoundSummary } from "../../workflows/types.ts";
import { type OrchestrationStack, startOrchestrationStack } from "../orchestration/stack.ts";
import { type ContributedCluster, contributedCluster, runToEnd } from "./harness.ts";

// Scoring where the GPUs are (issue 18.1): two contributors' Kubernetes clusters (KWOK nodes, a
// pod runner playing each kubelet and running the trainer image's programs here) train a round,
// and each output is scored by an evaluation pod of the other contributor (trainer/evaluate.ts).
// Then kbeta lies: as the admin of its cluster, when its evaluation pod exits it rewrites the
// scores the pod wrote (a flattering held-out loss) before its kubelet reports the pod done. The
// rule (workflows/evaluation.ts) re-checks one output per single evaluator: the lie is caught,
// the verdicts and the root are the worker's own, and kbeta is struck.

let stack: OrchestrationStack;
let kalpha: ContributedCluster;
let kbeta: ContributedCluster;
let worker: RunningWorker;
let lying = false;
/** kbeta's scores files from before it started lying, and those it rewrote. */
const honest = new Set<string>();
const tampered: string[] = [];

async function kbetaScores(): Promise<string[]> {
  const keys = (await stack.runStore.store.list("runs/")).map((o) => o.key);
  return keys.filter((key) => key.includes("/clusters/kbeta/scores/"));
}

/** kbeta's admin rewrites every scores file its evaluators wrote since it started lying. */
async function rewriteKbetaScores(): Promise<void> {
  const { store } = stack.runStore;
  for (const key of await kbetaScores()) {
    if (honest.has(key) || tampered.includes(key)) continue;
    const file = parseScoresFile(Buffer.from(await store.getBytes(key)).toString("utf8"), key);
    const flattering = { ...file.scores, heldOutLoss: file.scores.heldOutLoss / 2 };
    await store.putBytes(key, Buffer.from(encodeScoresFile({ ...file, scores: flattering })));
    tampered.push(key);
  }
}

beforeAll(async () => {
  stack = await startOrchestrationStack([
    { name: "kalpha", gpus: 1, ownerIndex: 0 },
    { name: "kbeta", gpus: 1, ownerIndex: 1 },
  ]);
  kalpha = await contributedCluster(stack, "kalpha", { gpus: 1 });
  kbeta = await contributedCluster(stack, "kbeta", {
    gpus: 1,
    report: async (ran) => {
      if (lying && ran.pod.includes("-eval-")) await rewriteKbetaScores();
      return ran;
    },
  });
  const evaluating = (c: ContributedCluster) => ({
    ...c.entry,
    kubernetes: { ...c.entry.kubernetes!, evaluates: true },
  });
  await stack.writeClusters([evaluating(kalpha), evaluating(kbeta)]);
  worker = await startWorker(stack.env);
});

afterAll(async () => {
  await worker?.stop();
  await kalpha?.stop();
  await kbeta?.stop();
  await stack?.stop();
});

/** The root the round gets when the worker scores every output itself (no evaluator at all). */
async function workerScoredRoot(runId: Hex, spec: RunSpec, summary: RoundSummary): Promise<string> {
  const store = stack.runStore;
  const replicas = await Promise.all(
    [...summary.replicas]
      .sort((a, b) => a.replica - b.replica)
      .map(async (r) => ({
        id: String(r.replica),
        index: r.replica,
        dir: await store.localDir(
          store.dirUri(store.replicaKey(runId, summary.round, r.cluster, r.replica, r.attempt)),
        ),
      })),
  );
  const step = await outerStep({
    global: await store.localDir(store.dirUri(store.initKey(runId))),
    replicas,
    spec,
    dataset: async () => join(stack.dir, "dataset"),
  });
  const out = await mkdtemp(join(tmpdir(), "daotrain-worker-scored-"));
  try {
    return (await step.write(join(out, "next"))).root;
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

const evaluatedBy = (summary: RoundSummary) =>
  Object.fromEntries(summary.replicas.map((r) => [r.cluster, r.evaluatedBy ?? "worker"]));

describe("replica scores computed on other contributors' evaluation pods", () => {
  test("each output is scored by the other contributor's pod, and the round's root is the root of worker-side scoring", async () => {
    const spec = stack.spec({ rounds: 1, replicasPerRound: 2, minReplicas: 2, gpusPerReplica: 1 });
    const { runId, status } = await runToEnd(stack, spec);
    expect(status).toMatchObject({ state: "completed", committedRounds: 1 });
    const summary = status.recent[0]!;
    expect(summary.replicas.map((r) => [r.cluster, r.phase]).sort()).toEqual([
      ["kalpha", "accepted"],
      ["kbeta", "accepted"],
    ]);
    // Re-checked (one per single evaluator) and equal: the evaluator is named beside the worker.
    expect(evaluatedBy(summary)).toEqual({ kalpha: [clusterIdOf("kbeta")], kbeta: [clusterIdOf("kalpha")] });
    expect(summary.lyingEvaluators).toBeUndefined();
    expect(kalpha.runner.started().filter((pod) => pod.includes("-eval-"))).toHaveLength(1);
    expect(kbeta.runner.started().filter((pod) => pod.includes("-eval-"))).toHaveLength(1);
    expect(summary.root).toBe(await workerScoredRoot(runId, spec, summary));
  });

  test("an evaluator that rewrites its scores is caught by the re-check, changes no verdict and no root, and is struck", async () => {
    for (const key of await kbetaScores()) honest.add(key);
    lying = true;
    const spec = stack.spec({ rounds: 1, replicasPerRound: 2, minReplicas: 2, gpusPerReplica: 1 });
    const { runId, status } = await runToEnd(stack, spec);
    expect(tampered).toHaveLength(1);
    expect(status).toMatchObject({ state: "completed", committedRounds: 1 });
    const summary = status.recent[0]!;
    expect(summary.lyingEvaluators).toEqual([clusterIdOf("kbeta")]);
    // kalpha's output rests on the worker's scores only; kbeta's on kalpha's honest pod's too.
    expect(evaluatedBy(summary)).toEqual({ kalpha: "worker", kbeta: [clusterIdOf("kalpha")] });
    expect(summary.replicas.every((r) => r.phase === "accepted")).toBe(true);
    const kalphaRow = summary.replicas.find((r) => r.cluster === "kalpha")!;
    const lie = parseScoresFile(
      Buffer.from(await stack.runStore.store.getBytes(tampered[0]!)).toString("utf8"),
      tampered[0]!,
    );
    expect(kalphaRow.scores?.heldOutLoss).not.toBe(lie.scores.heldOutLoss);
    expect(summary.root).toBe(await workerScoredRoot(runId, spec, summary));
  });
});
