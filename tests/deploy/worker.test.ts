import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { IAMClient } from "@aws-sdk/client-iam";
import { CoreV1Api, type Informer, makeInformer, type V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { getCheckpoint } from "../../governance/reads.ts";
import { onboardContributor } from "../../k8s/contributor/onboard.ts";
import { runWorkflowId } from "../../spec/workflowIds.ts";
import { grantStoreKeys } from "../../workers/storeGrants.ts";
import type { RunStatus } from "../../workflows/types.ts";
import { type ContainerNode, kubeletNodeUnsupported, startContainerNode } from "../harness/kubeletNode.ts";
import { startCluster, type TestCluster } from "../harness/kubernetes.ts";
import { applyObjects, kustomizeBuild } from "../harness/kustomize.ts";
import { waitUntilReady } from "../harness/process.ts";
import { builtImage } from "../harness/registry.ts";
import { type S3Server, startS3Server } from "../harness/s3.ts";
import { type OrchestrationStack, startOrchestrationStack } from "../orchestration/stack.ts";
import { workflowResult } from "../orchestration/story.ts";

// The orchestrator in a cluster, as an operator deploys it (deploy/README.md): deploy/worker,
// rendered by the real kustomize under an operator's overlay (the image by digest, the endpoints),
// applied to a control plane whose one node is a real kubelet, after the Secrets it reads. The
// worker's pod reaches Temporal, the chain and the run store's bucket on this machine through the
// node's bridge, as a pod reaches services outside its cluster, and drives an approved run whose
// replicas are Jobs of a contributed cluster: the same control plane's `daotrain` namespace,
// onboarded with the contributor bundle and reached with its ServiceAccount kubeconfig, so each
// replica is a container of the trainer image on that kubelet, never a process in the worker's pod.

const unsupported = await kubeletNodeUnsupported();
if (unsupported) console.warn(`tests/deploy/worker.test.ts skipped: ${unsupported}`);

const DEPLOY_DIR = fileURLToPath(new URL("../../deploy/worker/", import.meta.url));
const SYSTEM_NAMESPACE = "daotrain-system";
const CONTRIBUTED_NAMESPACE = "daotrain";
const CONTRIBUTED = "acme";
const WORKER_POD = "app.kubernetes.io/name=daotrain-worker";
const NODE = "node-1";

let s3: S3Server;
let stack: OrchestrationStack;
let cluster: TestCluster;
let containers: ContainerNode;
let core: CoreV1Api;
let overlayDir: string;
let workerImage: string;
let replicaPods: Informer<V1Pod> | undefined;
/** The contributed namespace's containers that exited 0: "<containerID> <imageID>". */
const ranInContainers = new Set<string>();

/** The operator's overlay: deploy/worker as its base, the image pinned, the endpoints it reaches. */
async function writeOverlay(image: string, literals: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "daotrain-overlay-"));
  const [name, digest] = image.split("@");
  await writeFile(
    join(dir, "kustomization.yaml"),
    toYaml({
      apiVersion: "kustomize.config.k8s.io/v1beta1",
      kind: "Kustomization",
      // kustomize takes a base by a path relative to the overlay only.
      resources: [relative(dir, DEPLOY_DIR)],
      images: [{ name: "daotrain/worker", newName: name, digest }],
      configMapGenerator: [
        {
          name: "daotrain-worker-env",
          behavior: "merge",
          literals: Object.entries(literals).map(([key, value]) => `${key}=${value}`),
        },
      ],
    }),
  );
  return dir;
}

/** The contributor's ServiceAccount kubeconfig, its apiserver reached at `server` (a relay). */
function reachedAt(kubeconfig: string, server: string): string {
  const parsed = parseYaml(kubeconfig);
  // The apiserver's certificate names localhost; the relay's address is not in it.
  parsed.clusters[0].cluster = { ...parsed.clusters[0].cluster, server, "tls-server-name": "localhost" };
  return toYaml(parsed);
}

/** What the worker's pod is doing, for a failure message. */
async function workerPodReport(): Promise<string> {
  const pods = await core.listNamespacedPod({ namespace: SYSTEM_NAMESPACE, labelSelector: WORKER_POD });
  const lines: string[] = [];
  for (const pod of pods.items) {
    const name = pod.metadata?.name ?? "";
    const [container] = pod.status?.containerStatuses ?? [];
    lines.push(`${name}: ${JSON.stringify(container ?? pod.status?.conditions)}`);
    // A container that crashed has restarted: its last words are in the previous one's log.
    const previous = (container?.restartCount ?? 0) > 0;
    const log = await core
      .readNamespacedPodLog({ name, namespace: SYSTEM_NAMESPACE, tailLines: 30, previous })
      .catch((error: Error) => `(no log: ${error.message})`);
    lines.push(log);
  }
  const events = await core.listNamespacedEvent({ namespace: SYSTEM_NAMESPACE });
  for (const event of events.items) lines.push(`event ${event.reason}: ${event.message}`);
  return lines.join("\n");
}

async function workerPod(): Promise<V1Pod> {
  const pods = await core.listNamespacedPod({ namespace: SYSTEM_NAMESPACE, labelSelector: WORKER_POD });
  const [pod, ...more] = pods.items;
  if (!pod || more.length > 0) throw new Error(`expected one worker pod, found ${pods.items.length}`);
  return pod;
}

/** How often the kubelet ran the worker container's liveness probe, by result (its `/metrics/probes`). */
async function livenessProbeCounts(podName: string): Promise<{ successful: number; failed: number }> {
  const text = await core.connectGetNodeProxyWithPath({ name: NODE, path: "metrics/probes" });
  const count = (result: string) =>
    text
      .split("\n")
      .filter(
        (line) =>
          line.startsWith("prober_probe_total{") &&
          line.includes(`pod="${podName}"`) &&
          line.includes('probe_type="Liveness"') &&
          line.includes(`result="${result}"`),
      )
      .reduce((sum, line) => sum + Number(line.split(" ").at(-1)), 0);
  return { successful: count("successful"), failed: count("failed") };
}

const isReady = (pod: V1Pod) =>
  pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

beforeAll(async () => {
  if (unsupported) return;
  s3 = await startS3Server({ iam: true });
  [stack, cluster] = await Promise.all([
    startOrchestrationStack([{ name: CONTRIBUTED, gpus: 2, ownerIndex: 0 }], { bucketsOn: s3 }),
    startCluster({ name: "operator", nodes: [] }),
  ]);
  core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  containers = await startContainerNode({ cluster, name: NODE, gpus: 2, gpuProduct: "NVIDIA-TEST" });
  workerImage = await containers.registry.push(await builtImage("worker"));
  const { node } = containers;
  /** host:port at which a pod reaches a service on this machine's loopback. */
  const throughBridge = async (port: string) => `${node.hostAddress}:${await node.expose(Number(port))}`;
  const [temporal, rpc, store, apiserver] = await Promise.all([
    throughBridge(stack.temporal.address.split(":").at(-1) ?? ""),
    throughBridge(new URL(stack.dao.deployment.rpcUrl).port),
    throughBridge(new URL(s3.endpoint).port),
    throughBridge(new URL(cluster.server).port),
  ]);

  // The contributor: the bundle applied, a ServiceAccount kubeconfig, run-store keys of its own.
  const onboarded = await onboardContributor(cluster.kubeconfig, {
    gpus: 2,
    namespace: CONTRIBUTED_NAMESPACE,
  });
  const iam = new IAMClient({ endpoint: s3.iamEndpoint, region: "us-east-1", credentials: s3.credentials });
  const contributorKeys = await grantStoreKeys(iam, {
    cluster: CONTRIBUTED,
    runStore: "s3://runs/store",
    datasets: ["s3://datasets/fables"],
  });

  // What deploy/README.md has the operator create before `kubectl apply -k`.
  await core.createNamespace({ body: { metadata: { name: SYSTEM_NAMESPACE } } });
  const secret = (name: string, stringData: Record<string, string>) =>
    core.createNamespacedSecret({ namespace: SYSTEM_NAMESPACE, body: { metadata: { name }, stringData } });
  await secret("daotrain-worker-keys", {
    DAOTRAIN_CODEC_KEY: stack.codecKey,
    DAOTRAIN_OPERATOR_KEY: stack.operatorKey,
    AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
  });
  await secret("daotrain-clusters", {
    "clusters.yaml": toYaml({
      clusters: [
        {
          name: CONTRIBUTED,
          kubernetes: { kubeconfig: `/etc/daotrain/clusters/${CONTRIBUTED}.kubeconfig` },
          storeEnv: {
            AWS_ENDPOINT_URL_S3: `http://${store}`,
            AWS_ACCESS_KEY_ID: contributorKeys.accessKeyId,
            AWS_SECRET_ACCESS_KEY: contributorKeys.secretAccessKey,
          },
        },
      ],
    }),
    [`${CONTRIBUTED}.kubeconfig`]: reachedAt(onboarded.serviceAccountKubeconfig, `https://${apiserver}`),
  });
  await core.createNamespacedConfigMap({
    namespace: SYSTEM_NAMESPACE,
    body: {
      metadata: { name: "daotrain-deployment" },
      data: { "deployment.json": JSON.stringify(stack.dao.deployment) },
    },
  });

  overlayDir = await writeOverlay(workerImage, {
    TEMPORAL_ADDRESS: temporal,
    TEMPORAL_NAMESPACE: stack.temporal.namespace,
    DAOTRAIN_RPC_URL: `http://${rpc}`,
    AWS_ENDPOINT_URL_S3: `http://${store}`,
    DAOTRAIN_STORE_URI: "s3://runs/store",
    DAOTRAIN_PUBLIC_STORE_URI: "s3://runs/public",
    // The test starts the governance watcher itself, with short deadlines for the runs it starts.
    DAOTRAIN_START_WATCHERS: "false",
  });
  await applyObjects(cluster.kubeConfig, await kustomizeBuild(overlayDir));

  replicaPods = makeInformer(cluster.kubeConfig, `/api/v1/namespaces/${CONTRIBUTED_NAMESPACE}/pods`, () =>
    core.listNamespacedPod({ namespace: CONTRIBUTED_NAMESPACE }),
  );
  replicaPods.on("update", (pod) => {
    for (const container of pod.status?.containerStatuses ?? [])
      if (container.state?.terminated?.exitCode === 0)
        ranInContainers.add(`${container.containerID} ${container.imageID}`);
  });
  await replicaPods.start();

  await waitUntilReady(
    "the worker's pod Ready (its readiness probe on /metrics)",
    async () => (isReady(await workerPod()) ? true : undefined),
    { timeoutMs: 120_000, intervalMs: 500 },
  ).catch(async (error: Error) => {
    throw new Error(`${error.message}\n${await workerPodReport()}`);
  });
  await stack.startWatcher();
});

afterAll(async () => {
  await replicaPods?.stop();
  await containers?.stop();
  await cluster?.stop();
  await stack?.stop();
  await s3?.stop();
  if (overlayDir) await rm(overlayDir, { recursive: true, force: true });
});

describe.skipIf(unsupported !== undefined)("the worker deployed with deploy/worker", () => {
  test("runs the worker image by digest under a real kubelet, Ready by its probe, its metrics served through the pod network where its annotations say", async () => {
    const pod = await workerPod();
    expect(pod.status?.containerStatuses?.[0]?.imageID).toBe(workerImage);
    const annotations = pod.metadata?.annotations ?? {};
    expect(annotations["prometheus.io/scrape"]).toBe("true");
    const scraped = await fetch(
      `http://${pod.status?.podIP}:${annotations["prometheus.io/port"]}${annotations["prometheus.io/path"]}`,
    );
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toMatch(/^daotrain_/m);
  });

  test("drives an approved run from its pod: the replicas run as containers of the trainer image on the contributed cluster, and the round's root is committed", async () => {
    const spec = stack.spec({
      rounds: 1,
      replicasPerRound: 2,
      minReplicas: 2,
      image: containers.trainerImage,
      // The node's 2 CPUs hold the worker's 1 and two half-CPU replicas.
      resources: { cpu: "500m", memory: "1Gi", ephemeralStorage: "1Gi" },
    });
    const runId = await stack.approveRun(spec);
    const status = await workflowResult<RunStatus>(stack.client, runWorkflowId(runId), 300_000).catch(
      async (error: Error) => {
        throw new Error(`${error.message}\n${await workerPodReport()}`);
      },
    );
    expect(status).toMatchObject({ state: "completed", committedRounds: 1 });
    const replicas = status.recent.flatMap((round) => round.replicas);
    expect(replicas.map((r) => [r.cluster, r.phase])).toEqual([
      [CONTRIBUTED, "accepted"],
      [CONTRIBUTED, "accepted"],
    ]);
    const committed = await getCheckpoint(stack.dao.operator, runId, 1n);
    expect(committed.committed).toBe(true);

    expect(ranInContainers.size).toBe(2);
    for (const ran of ranInContainers) {
      const [containerId, imageId] = ran.split(" ");
      expect(containerId).toMatch(/^containerd:\/\//);
      expect(imageId).toBe(containers.trainerImage);
    }
    // The worker stayed up throughout: its liveness probe passed every time it ran (the kubelet's
    // own count), it never restarted, it is still Ready.
    const pod = await workerPod();
    const liveness = await waitUntilReady(
      "the worker's liveness probe run by the kubelet",
      async () => {
        const counts = await livenessProbeCounts(pod.metadata?.name ?? "");
        return counts.successful > 0 ? counts : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 2_000 },
    );
    expect(liveness.failed).toBe(0);
    expect(pod.status?.containerStatuses?.[0]?.restartCount).toBe(0);
    expect(isReady(pod)).toBe(true);
  }, 360_000);
});
