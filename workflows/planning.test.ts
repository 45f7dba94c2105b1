import { describe, expect, test } from "vitest";
import {
  drawRechecks,
  freeGpusFor,
  PEER_TIME_FACTOR,
  PEER_TIME_SLACK_SECONDS,
  paidRunTimes,
  placeReplicas,
  planEvaluations,
} from "./planning.ts";
import type { ClusterCandidate, Hex, ReplicaResult } from "./types.ts";

type Succeeded = Extract<ReplicaResult, { phase: "succeeded" }>;
const cluster = `0x${"aa".repeat(32)}` as Hex;

function took(replica: number, seconds: number): Succeeded {
  return {
    replica,
    clusterId: cluster,
    phase: "succeeded",
    outputUri: `file:///out/${replica}`,
    startedAtMs: 1_000_000,
    finishedAtMs: 1_000_000 + seconds * 1000,
  };
}
const accept = (...replicas: number[]) => replicas.map((replica) => ({ replica, accepted: true as const }));
const paidSeconds = (results: Succeeded[]) => results.map((r) => (r.finishedAtMs - r.startedAtMs) / 1000);

test("honest replicas within 3× (+ slack) of the lower median are paid what they claim", () => {
  const results = [took(0, 600), took(1, 900), took(2, 1700), took(3, 650)];
  expect(paidSeconds(paidRunTimes(results, accept(0, 1, 2, 3), 6 * 3600))).toEqual([600, 900, 1700, 650]);
});

test("a replica claiming far more than its peers is paid 3× the lower median plus the slack", () => {
  const results = [took(0, 600), took(1, 620), took(2, 3 * 3600), took(3, 3 * 3600)];
  const cap = PEER_TIME_FACTOR * 620 + PEER_TIME_SLACK_SECONDS;
  expect(paidSeconds(paidRunTimes(results, accept(0, 1, 2, 3), 6 * 3600))).toEqual([600, 620, cap, cap]);
});

test("no replica is paid beyond the deadline, and rejected replicas are not what sets the reference", () => {
  const results = [took(0, 5 * 3600), took(1, 5 * 3600), took(2, 1)];
  const paid = paidRunTimes(results, [...accept(0, 1), { replica: 2, accepted: false }], 3600);
  expect(paidSeconds(paid)).toEqual([3600, 3600, 1]);
});

function candidate(
  name: string,
  freeGpus: number,
  freeGpusByProduct: Record<string, number>,
  gpuProduct = "NVIDIA-A100",
): ClusterCandidate {
  return {
    id: `0x${name.padEnd(64, "0")}` as Hex,
    name,
    owner: "0x01",
    gpuProduct,
    health: { healthy: true, freeGpus, freeGpusByProduct },
  };
}

describe("placement by GPU product", () => {
  const shared = candidate("a", 8, { "NVIDIA-A100": 2, "NVIDIA-H100": 6 });
  const quotaOnly = candidate("b", 4, {}, "NVIDIA-H100");

  test("counts only the asked product's free GPUs, per node where the cluster shares capacity, else by its registered product", () => {
    expect(freeGpusFor(shared, undefined)).toBe(8);
    expect(freeGpusFor(shared, "NVIDIA-H100")).toBe(6);
    expect(freeGpusFor(shared, "NVIDIA-L4")).toBe(0);
    expect(freeGpusFor(quotaOnly, "NVIDIA-H100")).toBe(4);
    expect(freeGpusFor(quotaOnly, "NVIDIA-A100")).toBe(0);
    // The quota caps what the nodes have free.
    expect(freeGpusFor(candidate("c", 1, { "NVIDIA-H100": 6 }), "NVIDIA-H100")).toBe(1);
  });

  test("places replicas only where that product is free", () => {
    const placements = placeReplicas([shared, quotaOnly], [0, 1, 2, 3], 2, { gpuProduct: "NVIDIA-A100" });
    expect(placements.map((p) => [p.cluster.name, p.replicas])).toEqual([["a", [0]]]);
    const h100 = placeReplicas([shared, quotaOnly], [0, 1, 2, 3], 2, { gpuProduct: "NVIDIA-H100" });
    expect(h100.map((p) => [p.cluster.name, p.replicas])).toEqual([
      ["a", [0, 2]],
      ["b", [1, 3]],
    ]);
  });
});

describe("who scores a round's outputs (planEvaluations, drawRechecks)", () => {
  const id = (n: number) => `0x${n.toString(16).padStart(64, "0")}` as Hex;
  const candidate = (name: string, n: number, owner: number, evaluates = true): ClusterCandidate => ({
    id: id(n),
    name,
    owner: `0x${owner.toString(16).padStart(40, "0")}` as Hex,
    health: { healthy: true, freeGpus: 1 },
    ...(evaluates ? { evaluates: true as const } : {}),
  });
  const out = (replica: number, cluster: number) => ({ replica, clusterId: id(cluster) });
  const namesOf = (plan: ReturnType<typeof planEvaluations>) =>
    Object.fromEntries([...(plan?.evaluators ?? [])].map(([r, cs]) => [r, cs.map((c) => c.name)]));

  test("two contributors: each output is scored by the other contributor's cluster, never its author's", () => {
    const plan = planEvaluations([out(0, 1), out(1, 2)], [candidate("a", 1, 1), candidate("b", 2, 2)]);
    expect(namesOf(plan)).toEqual({ 0: ["b"], 1: ["a"] });
  });

  test("three contributors: two evaluators of different owners per output, none the author's, load spread", () => {
    const clusters = [
      candidate("a", 1, 1),
      candidate("a2", 4, 1),
      candidate("b", 2, 2),
      candidate("c", 3, 3),
    ];
    const plan = planEvaluations([out(0, 1), out(1, 2), out(2, 3), out(3, 4)], clusters);
    for (const [replica, evaluators] of plan?.evaluators ?? []) {
      const author = clusters.find((c) => c.id === id([1, 2, 3, 4][replica]!))!.owner;
      expect(evaluators).toHaveLength(2);
      expect(new Set(evaluators.map((e) => e.owner)).size).toBe(2);
      expect(evaluators.every((e) => e.owner !== author)).toBe(true);
    }
  });

  test("the worker scores everything itself when some output has no evaluator of another owner", () => {
    // One contributor only; clusters that do not offer evaluation; an unhealthy or struck one.
    expect(
      planEvaluations([out(0, 1), out(1, 4)], [candidate("a", 1, 1), candidate("a2", 4, 1)]),
    ).toBeUndefined();
    expect(
      planEvaluations([out(0, 1), out(1, 2)], [candidate("a", 1, 1), candidate("b", 2, 2, false)]),
    ).toBeUndefined();
    const down = {
      ...candidate("b", 2, 2),
      health: { healthy: false, freeGpus: 0, reason: "down" },
    } as const;
    expect(planEvaluations([out(0, 1)], [candidate("a", 1, 1), down])).toBeUndefined();
    expect(
      planEvaluations([out(0, 1)], [candidate("a", 1, 1), candidate("b", 2, 2)], new Set([id(2)])),
    ).toBeUndefined();
  });

  test("re-checks: one output per single evaluator, drawn with the given randomness; two-evaluator outputs are not drawn", () => {
    const single = planEvaluations(
      [out(0, 1), out(1, 1), out(2, 1), out(3, 2)],
      [candidate("a", 1, 1), candidate("b", 2, 2)],
    )!;
    // b scores 0, 1, 2; a scores 3: one of b's and a's only one.
    for (const r of [0, 0.5, 0.99]) {
      const drawn = drawRechecks(single, () => r);
      expect(drawn.size).toBe(2);
      expect(drawn.has(3)).toBe(true);
    }
    expect([...drawRechecks(single, () => 0)].sort()).toEqual([0, 3]);
    expect([...drawRechecks(single, () => 0.99)].sort()).toEqual([2, 3]);
    const double = planEvaluations(
      [out(0, 1), out(1, 2), out(2, 3)],
      [candidate("a", 1, 1), candidate("b", 2, 2), candidate("c", 3, 3)],
    )!;
    expect(drawRechecks(double, () => 0).size).toBe(0);
  });
});
