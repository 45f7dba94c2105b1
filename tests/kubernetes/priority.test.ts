import { CoreV1Api, SchedulingV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { RoundRef, RoundStatus } from "../../k8s/cluster.ts";
import { DEFAULT_PRIORITY_CLASS } from "../../k8s/contributor/bundle.ts";
import { onboardContributor } from "../../k8s/contributor/onboard.ts";
import { KubernetesCluster } from "../../k8s/kubernetesCluster.ts";
import { startCluster, type TestCluster } from "../harness/kubernetes.ts";
import { type PodRunner, startPodRunner } from "../harness/podRunner.ts";
import { waitUntilReady } from "../harness/process.ts";
import { probeRound } from "./fixtures.ts";

// Contributors keep first call on their GPUs: the bundle runs daotrain's pods at a PriorityClass
// below the owner's, the namespace admits no pod at any other, and the real scheduler preempts
// daotrain's replicas for the owner's pod, which then end as preempted dropouts.

let cluster: TestCluster;
let runner: PodRunner;
let contributor: KubernetesCluster;
let ref: RoundRef;

beforeAll(async () => {
  cluster = await startCluster({
    name: "owned",
    nodes: [{ name: "gpu-1", gpus: 2, gpuProduct: "NVIDIA-TEST" }],
    podRunner: true,
  });
  runner = await startPodRunner({ kubeConfig: cluster.kubeConfig });
  const onboarded = await onboardContributor(cluster.kubeconfig, { gpus: 2, namespace: "daotrain" });
  contributor = new KubernetesCluster({ name: "owned", kubeconfig: onboarded.serviceAccountKubeconfig });
  ref = await contributor.launchRound(probeRound(["sleep", "300"], [0, 1]));
  await waitUntilReady(
    "both replicas running",
    async () =>
      (await contributor.roundStatus(ref)).replicas.every((r) => r.state === "running") ? true : undefined,
    { timeoutMs: 60_000, intervalMs: 250 },
  );
});

afterAll(async () => {
  await runner?.stop();
  await cluster?.stop();
});

describe("contributors keep first call on their GPUs", () => {
  test("daotrain's pods run at the bundle's low PriorityClass, and its namespace admits no pod at another", async () => {
    const admin = cluster.kubeConfig;
    const low = await admin
      .makeApiClient(SchedulingV1Api)
      .readPriorityClass({ name: DEFAULT_PRIORITY_CLASS });
    expect(low).toMatchObject({ value: -1000, preemptionPolicy: "Never" });
    expect(low.globalDefault ?? false).toBe(false);
    const core = admin.makeApiClient(CoreV1Api);
    const pods = await core.listNamespacedPod({ namespace: "daotrain" });
    expect(pods.items.map((p) => p.spec?.priorityClassName)).toEqual([
      DEFAULT_PRIORITY_CLASS,
      DEFAULT_PRIORITY_CLASS,
    ]);
    const unclassed = core.createNamespacedPod({
      namespace: "daotrain",
      body: {
        metadata: { name: "jumps-the-queue" },
        spec: {
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 65532,
            seccompProfile: { type: "RuntimeDefault" },
          },
          containers: [
            {
              name: "c",
              image: "x",
              securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
            },
          ],
        },
      },
    });
    await expect(unclassed).rejects.toThrow(/exceeded quota: daotrain-priority/);
  });

  test("the owner's higher-priority pod preempts the running replicas, which end as preempted dropouts", async () => {
    const admin = cluster.kubeConfig;
    await admin.makeApiClient(SchedulingV1Api).createPriorityClass({
      body: { metadata: { name: "owner-high" }, value: 1000 },
    });
    await admin.makeApiClient(CoreV1Api).createNamespacedPod({
      namespace: "default",
      body: {
        metadata: { name: "owners-training" },
        spec: {
          priorityClassName: "owner-high",
          tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
          containers: [{ name: "c", image: "owner/own:1", resources: { limits: { "nvidia.com/gpu": "2" } } }],
        },
      },
    });
    let final: RoundStatus | undefined;
    for await (const status of contributor.watchRound(ref, { signal: AbortSignal.timeout(90_000) }))
      final = status;
    expect(final?.done).toBe(true);
    for (const replica of final?.replicas ?? [])
      expect(replica).toMatchObject({
        state: "lost",
        preempted: true,
        reason: expect.stringMatching(/^PreemptionByScheduler/),
      });
  });
});
