import {
  type ApiException,
  CoreV1Api,
  type HttpLibrary,
  IsomorphicFetchHttpLibrary,
  KubeConfig,
  wrapHttpLibrary,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, expect, test } from "vitest";
import { onboardContributor } from "../../k8s/contributor/onboard.ts";
import { apiClient, REQUEST_TIMEOUT_MS } from "../../k8s/kubernetesCluster.ts";
import { startCluster, type TestCluster } from "../harness/kubernetes.ts";

// A contributor's apiserver under load sheds requests with 429 and a Retry-After before handling
// them. This one holds one request in flight at a time (its own controllers, as system:masters,
// are exempt), and the contributor's namespace holds enough events that listing them takes a
// while: a handful of lists at once from the contributor's ServiceAccount overlap, and all but
// one are shed. The plain client-node client fails those; daotrain's client waits out each
// Retry-After and sends them again, as client-go does, until every list is answered.

const NAMESPACE = "daotrain";
const EVENTS = 2_000;
const AT_ONCE = 6;
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
  const admin = cluster.kubeConfig.makeApiClient(CoreV1Api);
  const note = "x".repeat(1024);
  for (let from = 0; from < EVENTS; from += 50) {
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        admin.createNamespacedEvent({
          namespace: NAMESPACE,
          body: {
            metadata: { name: `filler-${from + i}` },
            involvedObject: { kind: "Pod", name: "filler", namespace: NAMESPACE },
            reason: "Filler",
            message: note,
          },
        }),
      ),
    );
  }
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

/** client-node's own library, counting the answers it passes on by status. */
function countingLibrary(counts: Map<number, number>): HttpLibrary {
  const inner = new IsomorphicFetchHttpLibrary();
  return wrapHttpLibrary({
    async send(request) {
      const response = await inner.send(request).toPromise();
      counts.set(response.httpStatusCode, (counts.get(response.httpStatusCode) ?? 0) + 1);
      return response;
    },
  });
}

test("an apiserver shedding overlapping requests with 429 slows the worker's client down and fails none of them", async () => {
  const plain = new KubeConfig();
  plain.loadFromString(kubeconfig);
  const unaided = await Promise.allSettled(
    Array.from({ length: AT_ONCE }, () =>
      plain.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: NAMESPACE }),
    ),
  );
  const shed = unaided.filter(
    (r) => r.status === "rejected" && (r.reason as ApiException<unknown>).code === 429,
  );
  console.log(`client-node alone: ${shed.length} of ${AT_ONCE} lists failed with 429`);
  expect(shed.length).toBeGreaterThan(0);

  const statuses = new Map<number, number>();
  const ours = apiClient(plain, CoreV1Api, REQUEST_TIMEOUT_MS, countingLibrary(statuses));
  const started = performance.now();
  const lists = await Promise.allSettled(
    Array.from({ length: AT_ONCE }, () => ours.listNamespacedEvent({ namespace: NAMESPACE })),
  );
  console.log(
    `daotrain's client: ${AT_ONCE} lists in ${Math.round(performance.now() - started)} ms, answers ${JSON.stringify(Object.fromEntries(statuses))}`,
  );
  expect(lists.filter((l) => l.status === "rejected")).toEqual([]);
  for (const list of lists) if (list.status === "fulfilled") expect(list.value.items.length).toBe(EVENTS);
  expect(statuses.get(429) ?? 0).toBeGreaterThan(0);
  expect(statuses.get(200)).toBe(AT_ONCE);
});
