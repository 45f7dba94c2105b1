import { BatchV1Api, CustomObjectsApi, SchedulingV1Api, type V1Job } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { RoundStatus } from "../../k8s/cluster.ts";
import { onboardContributor } from "../../k8s/contributor/onboard.ts";
import { KubernetesCluster } from "../../k8s/kubernetesCluster.ts";
import { QUEUE_LABEL } from "../../k8s/roundJob.ts";
import { startCluster, type TestCluster } from "../harness/kubernetes.ts";
import { type RunningKueue, startKueue } from "../harness/kueue.ts";
import { type PodRunner, startPodRunner } from "../harness/podRunner.ts";
import { waitUntilReady } from "../harness/process.ts";
import { hex, probeRound } from "./fixtures.ts";

// A contributor who runs Kueue: daotrain's Jobs go to the LocalQueue the clusters file names,
// suspended, and Kueue (the real manager, built from its module) admits them when the owner's
// ClusterQueue has room. The owner's higher-priority workload holds the GPUs first, then
// preempts a running round.

const KUEUE = { group: "kueue.x-k8s.io", version: "v1beta2" } as const;
let cluster: TestCluster;
let runner: PodRunner;
let kueue: RunningKueue;
let contributor: KubernetesCluster;

/** The owner's own GPU Job, in its own LocalQueue, at a priority above daotrain's. */
function ownersJob(name: string): V1Job {
  return {
    metadata: { name, namespace: "default", labels: { [QUEUE_LABEL]: "owner" } },
    spec: {
      suspend: true,
      template: {
        spec: {
          restartPolicy: "Never",
          priorityClassName: "owner-high",
          tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
          containers: [
            {
              name: "train",
              image: "owner/train:1",
              command: ["sleep", "300"],
              resources: {
                requests: { cpu: "1", memory: "1Gi", "nvidia.com/gpu": "2" },
                limits: { "nvidia.com/gpu": "2" },
              },
            },
          ],
        },
      },
    },
  };
}

async function admitted(name: string): Promise<void> {
  const batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
  await waitUntilReady(
    `Kueue admits ${name}`,
    async () =>
      (await batch.readNamespacedJob({ name, namespace: "default" })).spec?.suspend ? undefined : true,
    { timeoutMs: 60_000, intervalMs: 250 },
  );
}

beforeAll(async () => {
  cluster = await startCluster({
    name: "queued",
    nodes: [{ name: "gpu-1", gpus: 2, gpuProduct: "NVIDIA-TEST" }],
    podRunner: true,
  });
  [runner, kueue] = await Promise.all([
    startPodRunner({ kubeConfig: cluster.kubeConfig }),
    startKueue(cluster),
  ]);
  const onboarded = await onboardContributor(cluster.kubeconfig, { gpus: 2, namespace: "daotrain" });
  contributor = new KubernetesCluster({
    name: "queued",
    kubeconfig: onboarded.serviceAccountKubeconfig,
    queue: "daotrain",
  });
  await cluster.kubeConfig.makeApiClient(SchedulingV1Api).createPriorityClass({
    body: { metadata: { name: "owner-high" }, value: 1000 },
  });
  const custom = cluster.kubeConfig.makeApiClient(CustomObjectsApi);
  const create = (plural: string, body: object, namespace?: string) =>
    namespace
      ? custom.createNamespacedCustomObject({ ...KUEUE, plural, namespace, body })
      : custom.createClusterCustomObject({ ...KUEUE, plural, body });
  const api = `${KUEUE.group}/${KUEUE.version}`;
  await create("resourceflavors", { apiVersion: api, kind: "ResourceFlavor", metadata: { name: "default" } });
  await create("clusterqueues", {
    apiVersion: api,
    kind: "ClusterQueue",
    metadata: { name: "gpus" },
    spec: {
      namespaceSelector: {},
      preemption: { withinClusterQueue: "LowerPriority" },
      resourceGroups: [
        {
          coveredResources: ["cpu", "memory", "ephemeral-storage", "nvidia.com/gpu"],
          flavors: [
            {
              name: "default",
              resources: [
                { name: "cpu", nominalQuota: "16" },
                { name: "memory", nominalQuota: "64Gi" },
                { name: "ephemeral-storage", nominalQuota: "1Ti" },
                { name: "nvidia.com/gpu", nominalQuota: "2" },
              ],
            },
          ],
        },
      ],
    },
  });
  for (const [name, namespace] of [
    ["daotrain", "daotrain"],
    ["owner", "default"],
  ] as const)
    await create(
      "localqueues",
      { apiVersion: api, kind: "LocalQueue", metadata: { name, namespace }, spec: { clusterQueue: "gpus" } },
      namespace,
    );
});

afterAll(async () => {
  await runner?.stop();
  await kueue?.stop();
  await cluster?.stop();
});

describe("a contributor who runs Kueue", () => {
  test("daotrain's round waits, suspended in its LocalQueue, while the owner's workload holds the GPUs, then runs", async () => {
    const batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
    await batch.createNamespacedJob({ namespace: "default", body: ownersJob("owners-first") });
    await admitted("owners-first");

    const ref = await contributor.launchRound(probeRound(["sleep", "2"], [0, 1], { runId: hex("e") }));
    const job = await batch.readNamespacedJob({ name: ref.name, namespace: "daotrain" });
    expect(job.metadata?.labels?.[QUEUE_LABEL]).toBe("daotrain");
    // Held for seconds while the owner's Job runs: queued, no pod.
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    const waiting = await contributor.roundStatus(ref);
    for (const replica of waiting.replicas)
      expect(replica).toMatchObject({ state: "pending", reason: expect.stringMatching(/^queued/) });

    await batch.deleteNamespacedJob({
      name: "owners-first",
      namespace: "default",
      propagationPolicy: "Background",
    });
    let final: RoundStatus | undefined;
    for await (const status of contributor.watchRound(ref, { signal: AbortSignal.timeout(90_000) }))
      final = status;
    expect(final?.replicas.map((r) => r.state)).toEqual(["succeeded", "succeeded"]);
    await contributor.cleanupRound(ref);
  });

  test("the owner's higher-priority workload preempts a running round through Kueue, and its replicas are preempted dropouts", async () => {
    const ref = await contributor.launchRound(
      probeRound(["sleep", "300"], [0, 1], { runId: hex("e"), attempt: 1 }),
    );
    await waitUntilReady(
      "the round running",
      async () =>
        (await contributor.roundStatus(ref)).replicas.every((r) => r.state === "running") ? true : undefined,
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const watching = (async () => {
      let final: RoundStatus | undefined;
      for await (const status of contributor.watchRound(ref, { signal: AbortSignal.timeout(90_000) }))
        final = status;
      return final;
    })();
    await cluster.kubeConfig
      .makeApiClient(BatchV1Api)
      .createNamespacedJob({ namespace: "default", body: ownersJob("owners-second") });
    const final = await watching;
    for (const replica of final?.replicas ?? [])
      expect(replica).toMatchObject({
        state: "lost",
        preempted: true,
        reason: expect.stringMatching(/Kueue|Preemption/),
      });
    expect(final?.done).toBe(true);
    await admitted("owners-second");
  });
});
