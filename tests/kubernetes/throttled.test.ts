import { type ApiException, CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, expect, test } from "vitest";
import { onboardContributor } from "../../k8s/contributor/onboard.ts";
import { KubernetesCluster } from "../../k8s/kubernetesCluster.ts";
import { startCluster, type TestCluster } from "../harness/kubernetes.ts";

// A contributor's apiserver under load sheds requests with 429 and a Retry-After before handling
// them. This one holds one request in flight at a time (its own controllers, as system:masters,
// are exempt), so a burst of the contributor's ServiceAccount requests is shed in part: the plain
// client-node client fails those, daotrain's client waits and sends them again, as client-go does.

const NAMESPACE = "daotrain";
const BURST = 60;
/** Each survey is three requests; fewer of them keep the retries well within the 10-s request timeout. */
const SURVEYS = 20;
let cluster: TestCluster;
let kubeconfig: string;

beforeAll(async () => {
  cluster = await startCluster({
    name: "shedding",
    nodes: [{ name: "gpu-1", gpus: 4, gpuProduct: "NVIDIA-TEST" }],
    apiserverFlags: ["--max-requests-inflight=1", "--max-mutating-requests-inflight=1"],
  });
  ({ serviceAccountKubeconfig: kubeconfig } = await onboardContributor(cluster.kubeconfig, {
    gpus: 4,
    namespace: NAMESPACE,
  }));
});

afterAll(async () => {
  await cluster?.stop();
});

test("an apiserver shedding a burst of requests with 429 slows the worker's client down and fails none of them", async () => {
  const plain = new KubeConfig();
  plain.loadFromString(kubeconfig);
  const core = plain.makeApiClient(CoreV1Api);
  const unaided = await Promise.allSettled(
    Array.from({ length: BURST }, () => core.listNamespacedPod({ namespace: NAMESPACE })),
  );
  const shed = unaided.filter(
    (r) => r.status === "rejected" && (r.reason as ApiException<unknown>).code === 429,
  );
  console.log(`client-node alone: ${shed.length} of ${BURST} requests failed with 429`);
  expect(shed.length).toBeGreaterThan(0);

  const contributor = new KubernetesCluster({ name: "shedding", kubeconfig });
  const started = performance.now();
  const answers = await Promise.allSettled(Array.from({ length: SURVEYS }, () => contributor.capacity()));
  console.log(
    `daotrain's client: ${SURVEYS} capacity surveys (3 requests each) in ${Math.round(performance.now() - started)} ms`,
  );
  expect(answers.filter((a) => a.status === "rejected")).toEqual([]);
  expect(answers.map((a) => (a.status === "fulfilled" ? a.value.quota?.hard : undefined))).toEqual(
    Array(SURVEYS).fill(4),
  );
});
