import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { parse as parseYaml } from "yaml";
import { computeCredits } from "../../governance/reads.ts";
import { runWorkflowId } from "../../spec/workflowIds.ts";
import { type RunningWorker, startWorker } from "../../workers/main.ts";
import { PEER_TIME_FACTOR, PEER_TIME_SLACK_SECONDS } from "../../workflows/planning.ts";
import type { Hex, ReplicaStatus } from "../../workflows/types.ts";
import { type OrchestrationStack, startOrchestrationStack } from "../orchestration/stack.ts";
import { type ContributedCluster, contributedCluster, historyText, runToEnd } from "./harness.ts";

// Clock inflation (issue 12.3) and kubeconfigs out of Temporal (13.10). The contributor "liar"
// controls its apiserver and kubelet: its pods' trainers really run (so their outputs are
// accepted), but its kubelet holds each pod Running for HOLD_SECONDS after the trainer exited and
// then reports a container that ran for three hours. "alpha" is honest (local executor). Every
// time the worker reads about liar's pods comes through liar's apiserver.

const HOLD_SECONDS = 50;
const CLAIMED_SECONDS = 3 * 3600;

let stack: OrchestrationStack;
let liar: ContributedCluster;
let worker: RunningWorker;
let run: { runId: Hex; replicas: ReplicaStatus[] } | undefined;

beforeAll(async () => {
  stack = await startOrchestrationStack([
    { name: "alpha", gpus: 2, ownerIndex: 0 },
    { name: "liar", gpus: 2, ownerIndex: 1 },
  ]);
  liar = await contributedCluster(stack, "liar", {
    gpus: 2,
    report: async (ran) => {
      await sleep(HOLD_SECONDS * 1000);
      const finishedAt = new Date();
      return { ...ran, startedAt: new Date(finishedAt.getTime() - CLAIMED_SECONDS * 1000), finishedAt };
    },
  });
  await stack.writeClusters([stack.localCluster("alpha"), liar.entry]);
  worker = await startWorker(stack.env);
});

afterAll(async () => {
  await worker?.stop();
  await liar?.stop();
  await stack?.stop();
});

const seconds = (r: ReplicaStatus) => r.gpuSeconds ?? 0;

describe("a contributor whose apiserver lies about time", () => {
  test("holding pods Running and reporting three-hour containers earns at most 3× what its honest peers took (+20 s), and the honest cluster is paid its full time", async () => {
    const { runId, status } = await runToEnd(
      stack,
      stack.spec({ rounds: 1, replicasPerRound: 4, minReplicas: 4, gpusPerReplica: 1 }),
    );
    expect(status).toMatchObject({ state: "completed", committedRounds: 1 });
    const replicas = status.recent[0]?.replicas ?? [];
    run = { runId, replicas };
    const honest = replicas.filter((r) => r.cluster === "alpha");
    const lying = replicas.filter((r) => r.cluster === "liar");
    expect(honest.map((r) => r.phase)).toEqual(["accepted", "accepted"]);
    expect(lying.map((r) => r.phase)).toEqual(["accepted", "accepted"]);

    // The honest replicas are paid what they took; the reference is the lower median of the four.
    for (const r of honest) expect(r.claimedGpuSeconds).toBeUndefined();
    const reference =
      [...replicas].map((r) => r.claimedGpuSeconds ?? seconds(r)).sort((a, b) => a - b)[1] ?? 0;
    for (const r of lying) {
      // It claimed at least the hold (the cluster's 3 h record loses to what the worker saw) ...
      expect(r.claimedGpuSeconds).toBeGreaterThanOrEqual(HOLD_SECONDS);
      // ... and is paid no more than 3× the reference and the slack, a second of rounding aside.
      expect(seconds(r)).toBeLessThanOrEqual(PEER_TIME_FACTOR * reference + PEER_TIME_SLACK_SECONDS + 1);
      expect(seconds(r)).toBeLessThan(r.claimedGpuSeconds ?? 0);
    }

    const credited = new Map<string, number>();
    for (const credit of await computeCredits(stack.dao.operator, runId))
      credited.set(credit.contributor, (credited.get(credit.contributor) ?? 0) + Number(credit.gpuSeconds));
    expect(credited.get(stack.owners.alpha!)).toBe(honest.reduce((sum, r) => sum + seconds(r), 0));
    expect(credited.get(stack.owners.liar!)).toBe(lying.reduce((sum, r) => sum + seconds(r), 0));
    const claimed = lying.reduce((sum, r) => sum + (r.claimedGpuSeconds ?? 0), 0);
    process.stdout.write(
      `clock inflation: liar reported ${2 * CLAIMED_SECONDS} GPU-s (2 × 3 h), claimed ${claimed} GPU-s as observed, ` +
        `credited ${credited.get(stack.owners.liar!)} GPU-s; honest alpha credited ${credited.get(stack.owners.alpha!)} GPU-s ` +
        `(replicas: ${replicas.map((r) => `${r.cluster}#${r.replica} ${r.claimedGpuSeconds ?? seconds(r)}→${seconds(r)}`).join(", ")})\n`,
    );
  });

  test("the run's history, fetched with the codec off and then decoded, holds no byte of the kubeconfig it used", async () => {
    if (!run) throw new Error("the run above did not finish");
    expect(run.replicas.some((r) => r.cluster === "liar" && r.phase === "accepted")).toBe(true);
    const { stored, decoded } = await historyText(stack, runWorkflowId(run.runId));
    const config = parseYaml(liar.kubeconfig);
    const kubeconfigBytes = [
      config.users[0].user.token,
      config.clusters[0].cluster["certificate-authority-data"],
      config.clusters[0].cluster.server,
      liar.kubeconfigPath,
      "certificate-authority",
    ];
    expect(decoded).toContain("liar");
    for (const bytes of kubeconfigBytes) {
      expect(stored.includes(bytes), bytes.slice(0, 40)).toBe(false);
      expect(decoded.includes(bytes), bytes.slice(0, 40)).toBe(false);
    }
  });
});
