import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { computeCredits } from "../../governance/reads.ts";
import { type RunningWorker, startWorker } from "../../workers/main.ts";
import type { RunStatus } from "../../workflows/types.ts";
import { type OrchestrationStack, startOrchestrationStack } from "../orchestration/stack.ts";
import {
  attackRunOptions,
  type ContributedCluster,
  completedActivities,
  contributedCluster,
  type SilentFront,
  startRun,
  startSilentFront,
} from "./harness.ts";

// A dead cluster (issue 12.8): "dead" is a real control plane reached through a front that falls
// silent mid-round, as an apiserver does when its machine hangs or its network drops: connections
// stay open and nothing answers. Its pods are mid-training at that moment. "alpha" is healthy.

let stack: OrchestrationStack;
let dead: ContributedCluster;
let front: SilentFront | undefined;
let worker: RunningWorker;

beforeAll(async () => {
  stack = await startOrchestrationStack([
    { name: "alpha", gpus: 2, ownerIndex: 0 },
    { name: "dead", gpus: 2, ownerIndex: 1 },
  ]);
  dead = await contributedCluster(stack, "dead", {
    gpus: 2,
    // Its trainers keep running long enough for the cluster to die under them.
    report: async (ran) => {
      await sleep(600_000);
      return ran;
    },
    server: async (apiserver) => {
      front = await startSilentFront({ host: "127.0.0.1", port: Number(apiserver.port) });
      return `https://127.0.0.1:${front.port}`;
    },
  });
  await stack.writeClusters([stack.localCluster("alpha"), dead.entry]);
  worker = await startWorker(stack.env);
});

afterAll(async () => {
  await worker?.stop();
  await front?.stop();
  await dead?.stop();
  await stack?.stop();
});

describe("a cluster that stops answering mid-round", () => {
  test(
    "drops out after the stated silence, long before the replica deadline: the round finishes on the other cluster, its cleanup failing fails nothing, and it earns nothing",
    { timeout: 300_000 },
    async () => {
      const spec = stack.spec({ rounds: 1, replicasPerRound: 4, minReplicas: 2 });
      const started = Date.now();
      const { runId, handle } = await startRun(stack, spec);
      // Mid-round: both clusters' launches are done and the dead cluster's pods train.
      while ((await completedActivities(handle, "launchReplicas")) < 2) await sleep(250);
      await sleep(2_000);
      front?.fallSilent();
      const silentAt = Date.now();
      const status = (await handle.result()) as RunStatus;
      const endedAt = Date.now();
      expect(status).toMatchObject({ state: "completed", committedRounds: 1 });
      const replicas = status.recent[0]?.replicas ?? [];
      expect(replicas.filter((r) => r.cluster === "alpha").map((r) => r.phase)).toEqual([
        "accepted",
        "accepted",
      ]);
      const lost = replicas.filter((r) => r.cluster === "dead");
      expect(lost.map((r) => r.phase)).toEqual(["lost", "lost"]);
      for (const r of lost) expect(r.reason).toMatch(/cluster dead answered no request for \d+ s/);
      const afterSilence = (endedAt - silentAt) / 1000;
      expect(afterSilence).toBeLessThan(attackRunOptions.replicaDeadlineSeconds! / 2);
      const credited = (await computeCredits(stack.dao.operator, runId)).map((c) => c.contributor);
      expect(credited).toEqual([stack.owners.alpha]);
      process.stdout.write(
        `dead cluster: silent ${((silentAt - started) / 1000).toFixed(0)} s into the run; run completed ${afterSilence.toFixed(0)} s later ` +
          `(silence rule ${attackRunOptions.clusterSilenceSeconds} s, replica deadline ${attackRunOptions.replicaDeadlineSeconds} s)\n`,
      );
    },
  );
});
