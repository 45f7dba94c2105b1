import { describe, expect, test } from "vitest";
import { freeGpusFor, placeReplicas } from "./planning.ts";
import type { ClusterCandidate, Hex } from "./types.ts";

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
    access: { kind: "kubernetes", kubeconfig: "", namespace: "daotrain" },
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
