import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { IAMClient } from "@aws-sdk/client-iam";
import { Client } from "@temporalio/client";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { parse as parseYaml } from "yaml";
import { onboardContributor } from "../../k8s/contributor/onboard.ts";
import { runWorkflowId } from "../../spec/workflowIds.ts";
import { type RunningWorker, startWorker } from "../../workers/main.ts";
import { grantStoreKeys } from "../../workers/storeGrants.ts";
import { startCluster, type TestCluster } from "../harness/kubernetes.ts";
import { type PodRunner, startPodRunner } from "../harness/podRunner.ts";
import { type S3Server, startS3Server } from "../harness/s3.ts";
import { type OrchestrationStack, startOrchestrationStack } from "./stack.ts";
import { provesTheRunStory } from "./story.ts";

// The same story on two contributed Kubernetes clusters: real control planes with KWOK nodes,
// the contributor bundle applied by onboarding, Jobs created with the ServiceAccount kubeconfigs,
// and the test pod runner running each pod's real trainer process here. As trainers on remote
// clusters must, they reach the dataset and the run store in buckets of a real S3 server, with
// keys of each contributor's own (IAM users with the trainer policy, workers/storeGrants.ts) that
// come to each pod in its round's Secret.

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
let s3: S3Server;
let stack: OrchestrationStack;
let clusters: TestCluster[] = [];
let runners: PodRunner[] = [];
let worker: RunningWorker;
const tokens: string[] = [];
const storeSecrets: string[] = [];

beforeAll(async () => {
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
      nodes: [{ name: "h100-1", gpus: 2, gpuProduct: "NVIDIA-H100" }],
      podRunner: true,
    }),
  ]);
  const entries = [];
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
        AWS_ENDPOINT_URL_S3: s3.endpoint,
        AWS_ACCESS_KEY_ID: keys.accessKeyId,
        AWS_SECRET_ACCESS_KEY: keys.secretAccessKey,
      },
    });
  }
  await stack.writeClusters(entries);
  runners = await Promise.all(
    clusters.map((c) => startPodRunner({ kubeConfig: c.kubeConfig, cwd: repoRoot })),
  );
  worker = await startWorker(stack.env);
  await stack.startWatcher();
});

afterAll(async () => {
  await worker?.stop();
  await Promise.allSettled(runners.map((r) => r.stop()));
  await Promise.allSettled(clusters.map((c) => c.stop()));
  await stack?.stop();
  await s3?.stop();
});

describe("end to end on Kubernetes", () => {
  test("a run approved by DAO vote trains 3 rounds on two KWOK clusters through their ServiceAccounts, its trainers reading and writing the run store's bucket, commits the stored roots, credits each owner its accepted GPU-seconds, gets its release published, and its history holds no kubeconfig or key in clear", async () => {
    const { runId, status } = await provesTheRunStory(stack, 3);
    const placedOn = new Set(status.recent.flatMap((r) => r.replicas.map((replica) => replica.cluster)));
    expect([...placedOn].sort()).toEqual(["kalpha", "kbeta"]);

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
