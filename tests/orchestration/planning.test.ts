import { describe, expect, it } from "vitest";
import { creditsFor, gpuSecondsOf, replicaDeadlineSeconds } from "../../workflows/planning.ts";
import type { ReplicaResult } from "../../workflows/types.ts";
import { tinySpec } from "./fixtures.ts";
import { idOf } from "./simulatedActivities.ts";

// The round's credits against the limits the DAO approved with the run (RunRegistry.creditRound
// reverts with RoundComputeExceeded above replicasPerRound × gpusPerReplica × roundDeadlineSeconds).

const ran = (replica: number, cluster: string, seconds: number): ReplicaResult => ({
  replica,
  clusterId: idOf(cluster),
  phase: "succeeded",
  outputUri: `file:///out/${replica}`,
  startedAtMs: 1_000,
  finishedAtMs: 1_000 + Math.round(seconds * 1000),
});

describe("a round's credits stay within the run's limits", () => {
  it("the replica deadline is the spec's; a test may shorten it but never lengthen it", () => {
    const spec = tinySpec({ roundDeadlineSeconds: 600 });
    expect(replicaDeadlineSeconds(spec)).toBe(600);
    expect(replicaDeadlineSeconds(spec, 30)).toBe(30);
    expect(replicaDeadlineSeconds(spec, 3600)).toBe(600);
    expect(tinySpec().roundDeadlineSeconds).toBe(6 * 3600);
  });

  it("a replica is credited a started second at most up to the deadline, times its GPUs", () => {
    const terms = { gpusPerReplica: 2, deadlineSeconds: 60 };
    expect(gpuSecondsOf(ran(0, "a", 10.001), terms)).toBe(22);
    expect(gpuSecondsOf(ran(0, "a", 3600), terms)).toBe(120);
  });

  it("however long replicas claim to have run, a round credits at most replicas × GPUs × deadline", () => {
    const spec = tinySpec({ replicasPerRound: 4, gpusPerReplica: 2, roundDeadlineSeconds: 60 });
    const terms = { gpusPerReplica: spec.gpusPerReplica, deadlineSeconds: replicaDeadlineSeconds(spec) };
    const results = [ran(0, "a", 10_000), ran(1, "a", 59), ran(2, "b", 1e9), ran(3, "b", 61)];
    const verdicts = results.map((r) => ({ replica: r.replica, accepted: true as const }));
    const credits = creditsFor(results, verdicts, terms);
    const total = credits.reduce((sum, c) => sum + c.gpuSeconds, 0);
    expect(total).toBe((60 + 59 + 60 + 60) * 2);
    expect(total).toBeLessThanOrEqual(
      spec.replicasPerRound * spec.gpusPerReplica * spec.roundDeadlineSeconds,
    );
  });
});
