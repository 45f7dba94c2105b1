import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { IAMClient } from "@aws-sdk/client-iam";
import { CoreV1Api, type Informer, makeInformer, type V1Pod } from "@kubernetes/client-node";
import { Client } from "@temporalio/client";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { parse as parseYaml } from "yaml";
import { onboardContributor } from "../../k8s/contributor/onboard.ts";
import { runWorkflowId } from "../../spec/workflowIds.ts";
import { type RunningWorker, startWorker } from "../../workers/main.ts";
import { grantStoreKeys } from "../../workers/storeGrants.ts";
import { type ContainerNode, kubeletNodeUnsupported, startContainerNode } from "../harness/kubeletNode.ts";
import { startCluster, type TestCluster } from "../harness/kubernetes.ts";
import { type PodRunner, startPodRunner } from "../harness/podRunner.ts";
import { type S3Server, startS3Server } from "../harness/s3.ts";
import { TEST_IMAGE } from "./fixtures.ts";
import { type ClusterEntryFile, type OrchestrationStack, startOrchestrationStack } from "./stack.ts";
import { provesTheRunStory } from "./story.ts";

// The same story on two contributed Kubernetes clusters: real control planes, the contributor
// bundle applied by onboarding, Jobs created with the ServiceAccount kubeconfigs. On kbeta a real
// kubelet with containerd pulls the trainer image by digest from a local registry and runs each
// replica in a container, in a network namespace of its own, reaching the run store's bucket
// through the pod bridge as a remote pod would; on kalpha (KWOK nodes) the test pod runner runs
// the same trainer as a process here. As trainers on remote clusters must, they reach the dataset
// and the run store in buckets of a real S3 server, with keys of each contributor's own (IAM users
// with the trainer policy, workers/storeGrants.ts) that come to each pod in its round's Secret.

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
let s3: S3Server;
let stack: OrchestrationStack;
let clusters: TestCluster[] = [];
let runners: PodRunner[] = [];
let containers: ContainerNode | undefined;
// Where no container can run here, the pod runner plays the pods as host processes and never pulls it.
let image = TEST_IMAGE;
let worker: RunningWorker;
const tokens: string[] = [];
const storeSecrets: string[] = [];
/** kbeta's trainer containers that exited 0: "<containerID> <imageID>". */
const ranInContainers = new Set<string>();
let kbetaPods: Informer<V1Pod> | undefined;

beforeAll(async () => {
  const unsupported = await kubeletNodeUnsupported();
  if (unsupported) console.warn(`kbeta runs its pods as host processes: ${unsupported}`);
  s3 = await startS3Server({ iam: true });
  const iam = new IAMClient({ endpoint: s3.iamEndpoint, region: "us-east-1", credentials: s3.credentials });
  [stack, ...clusters] = await Promise.all([
    startOrchestrationStack(
      [
        { name: "kalpha", gpus: 4, ownerIndex: 0 },
        { name: "kbeta", gpus: 2, ownerIndex: 1 },
      ],
      { bucketsOn: s3 },
    ),
    startCluster({
      name: "kalpha",
      nodes: [{ name: "a100-1", gpus: 4, gpuProduct: "NVIDIA-A100" }],
      podRunner: true,
    }),
    startCluster({
      name: "kbeta",
      nodes: unsupported ? [{ name: "h100-1", gpus: 2, gpuProduct: "NVIDIA-H100" }] : [],
      podRunner: unsupported !== undefined,
    }),
  ]);
  const kbeta = clusters[1]!;
  let kbetaStoreEndpoint: string | undefined;
  if (!unsupported) {
    containers = await startContainerNode({
      cluster: kbeta,
      name: "h100-1",
      gpus: 2,
      gpuProduct: "NVIDIA-H100",
    });
    image = containers.trainerImage;
    kbetaStoreEndpoint = `http://${containers.node.hostAddress}:${await containers.node.expose(Number(new URL(s3.endpoint).port))}`;
  }
  const entries: ClusterEntryFile[] = [];
  for (const [i, cluster] of clusters.entries()) {
    const onboarded = await onboardContributor(cluster.kubeconfig, {
      gpus: i === 0 ? 4 : 2,
      namespace: "daotrain",
    });
    const path = join(stack.dir, `${cluster.name}.kubeconfig`);
    await writeFile(path, onboarded.serviceAccountKubeconfig);
    tokens.push(parseYaml(onboarded.serviceAccountKubeconfig).users[0].user.token);
    const keys = await grantStoreKeys(iam, {
      cluster: cluster.name,
      runStore: "s3://runs/store",
      datasets: ["s3://datasets/fables"],
    });
    storeSecrets.push(keys.secretAccessKey);
    entries.push({
      name: cluster.name,
      kubernetes: { kubeconfig: path },
      storeEnv: {
        // kbeta's containers reach the store as a remote pod would: through the pod bridge.
        AWS_ENDPOINT_URL_S3: cluster === kbeta && kbetaStoreEndpoint ? kbetaStoreEndpoint : s3.endpoint,
        AWS_ACCESS_KEY_ID: keys.accessKeyId,
        AWS_SECRET_ACCESS_KEY: keys.secretAccessKey,
      },
    });
  }
  await stack.writeClusters(entries);
  runners = await Promise.all(
    clusters
      .filter((c) => c.podRunner)
      .map((c) => startPodRunner({ kubeConfig: c.kubeConfig, cwd: repoRoot })),
  );
  if (containers) {
    kbetaPods = makeInformer(kbeta.kubeConfig, "/api/v1/namespaces/daotrain/pods", () =>
      kbeta.kubeConfig.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: "daotrain" }),
    );
    kbetaPods.on("update", (pod) => {
      for (const container of pod.status?.containerStatuses ?? [])
        if (container.state?.terminated?.exitCode === 0)
          ranInContainers.add(`${container.containerID} ${container.imageID}`);
    });
    await kbetaPods.start();
  }
  worker = await startWorker(stack.env);
  await stack.startWatcher();
});

afterAll(async () => {
  await worker?.stop();
  await kbetaPods?.stop();
  await Promise.allSettled(runners.map((r) => r.stop()));
  await containers?.stop();
  await Promise.allSettled(clusters.map((c) => c.stop()));
  await stack?.stop();
  await s3?.stop();
});

describe("end to end on Kubernetes", () => {
  test("a run approved by DAO vote trains 3 rounds on two clusters through their ServiceAccounts (kbeta's replicas in containers of the trainer image, pulled by digest by a real kubelet), its trainers reading and writing the run store's bucket, commits the stored roots, credits each owner its accepted GPU-seconds, gets its release published, and its history holds no kubeconfig or key in clear", async () => {
    const { runId, status } = await provesTheRunStory(stack, 3, { image });
    const placedOn = new Set(status.recent.flatMap((r) => r.replicas.map((replica) => replica.cluster)));
    expect([...placedOn].sort()).toEqual(["kalpha", "kbeta"]);
    if (containers) {
      // kbeta's replicas ran under its kubelet, in containers of the image the spec names by digest.
      expect(runners).toHaveLength(1);
      const kbetaReplicas = status.recent.flatMap((r) => r.replicas).filter((r) => r.cluster === "kbeta");
      expect(ranInContainers.size).toBeGreaterThanOrEqual(kbetaReplicas.length);
      for (const ran of ranInContainers) {
        const [containerId, imageId] = ran.split(" ");
        expect(containerId).toMatch(/^containerd:\/\//);
        expect(imageId).toBe(image);
      }
    }

    // The history, read without the codec, holds none of the credentials that went through it.
    const raw = new Client({ connection: stack.client.connection, namespace: stack.temporal.namespace });
    const history = Buffer.from(
      JSON.stringify(await raw.workflow.getHandle(runWorkflowId(runId)).fetchHistory()),
    );
    const secrets = [
      ...tokens,
      "certificate-authority-data",
      stack.operatorKey.slice(2),
      stack.codecKey,
      s3.credentials.secretAccessKey,
      ...storeSecrets,
    ];
    for (const secret of secrets) expect(history.includes(secret)).toBe(false);
  });
});
