import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { BatchV1Api, CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, expect, test } from "vitest";
import { GPU_PRODUCT_LABEL, startCluster, type TestCluster } from "../harness/kubernetes.ts";
import { waitUntilReady } from "../harness/process.ts";

let cluster: TestCluster;
let core: CoreV1Api;
let batch: BatchV1Api;
const gpuNodes = ["gpu-a", "gpu-b"];

/** etcd data a killed run left in /dev/shm: its owner's pid is one no process holds any more. */
let orphanedEtcdDir: string | undefined;

beforeAll(async () => {
  if (existsSync("/dev/shm")) {
    const gone = spawnSync(process.execPath, ["-e", ""]).pid;
    orphanedEtcdDir = await mkdtemp(join("/dev/shm", `daotrain-etcd-${gone}-`));
    await writeFile(join(orphanedEtcdDir, "db"), Buffer.alloc(1024));
  }
  const started = Date.now();
  cluster = await startCluster({
    name: "smoke",
    nodes: gpuNodes.map((name) => ({ name, gpus: 2, gpuProduct: "NVIDIA-A100-SXM4-80GB" })),
  });
  console.log(`control plane + 2 KWOK GPU nodes ready in ${Date.now() - started} ms at ${cluster.server}`);
  core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
});
afterAll(async () => {
  await cluster?.stop();
});

function gpuContainer(gpus: number) {
  return {
    name: "work",
    image: "busybox",
    command: ["true"],
    resources: { requests: { "nvidia.com/gpu": String(gpus) }, limits: { "nvidia.com/gpu": String(gpus) } },
  };
}

test("the real scheduler places an Indexed Job's 3 one-GPU pods on the KWOK GPU nodes and the Job completes", async () => {
  const nodes = await core.listNode();
  expect(nodes.items.map((n) => n.metadata?.labels?.[GPU_PRODUCT_LABEL])).toEqual([
    "NVIDIA-A100-SXM4-80GB",
    "NVIDIA-A100-SXM4-80GB",
  ]);
  expect(nodes.items.map((n) => n.status?.allocatable?.["nvidia.com/gpu"])).toEqual(["2", "2"]);

  await batch.createNamespacedJob({
    namespace: "default",
    body: {
      metadata: { name: "indexed" },
      spec: {
        completionMode: "Indexed",
        completions: 3,
        parallelism: 3,
        template: { spec: { restartPolicy: "Never", containers: [gpuContainer(1)] } },
      },
    },
  });
  const job = await waitUntilReady(
    "Job indexed Complete",
    async () => {
      const current = await batch.readNamespacedJob({ name: "indexed", namespace: "default" });
      return current.status?.conditions?.some((c) => c.type === "Complete" && c.status === "True")
        ? current
        : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
  expect(job.status?.succeeded).toBe(3);
  expect(job.status?.completedIndexes).toBe("0-2");

  const pods = await core.listNamespacedPod({
    namespace: "default",
    labelSelector: "batch.kubernetes.io/job-name=indexed",
  });
  expect(pods.items).toHaveLength(3);
  for (const pod of pods.items) expect(gpuNodes).toContain(pod.spec?.nodeName);
  // Three one-GPU pods on two-GPU nodes: the scheduler had to use both nodes.
  expect(new Set(pods.items.map((p) => p.spec?.nodeName)).size).toBe(2);
});

test("a pod asking for 5 GPUs, more than any node has, stays unscheduled", async () => {
  await core.createNamespacedPod({
    namespace: "default",
    body: { metadata: { name: "too-big" }, spec: { restartPolicy: "Never", containers: [gpuContainer(5)] } },
  });
  const unschedulable = await waitUntilReady(
    "too-big marked Unschedulable",
    async () => {
      const pod: V1Pod = await core.readNamespacedPod({ name: "too-big", namespace: "default" });
      const scheduled = pod.status?.conditions?.find((c) => c.type === "PodScheduled");
      return scheduled?.status === "False" ? { pod, scheduled } : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 250 },
  );
  expect(unschedulable.scheduled.reason).toBe("Unschedulable");
  expect(unschedulable.scheduled.message).toContain("Insufficient nvidia.com/gpu");
  // Still unbound a while later: nothing will ever fit it.
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  const later = await core.readNamespacedPod({ name: "too-big", namespace: "default" });
  expect(later.spec?.nodeName).toBeUndefined();
  expect(later.status?.phase).toBe("Pending");
});

test.runIf(existsSync("/dev/shm"))(
  "starting a control plane removes etcd data a killed process left in memory, and keeps its own",
  () => {
    expect(existsSync(orphanedEtcdDir!)).toBe(false);
    expect(
      readdirSync("/dev/shm").filter((name) => name.startsWith(`daotrain-etcd-${process.pid}-`)),
    ).toHaveLength(1);
  },
);
