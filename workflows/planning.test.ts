import { describe, expect, test } from "vitest";
import {
  freeGpusFor,
  PEER_TIME_FACTOR,
  PEER_TIME_SLACK_SECONDS,
  paidRunTimes,
  placeReplicas,
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
