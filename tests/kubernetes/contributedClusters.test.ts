import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  BatchV1Api,
  CoreV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
  type V1Pod,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  parseRoundJobSpec,
  QuotaExceededError,
  type RoundJobSpecInput,
  type RoundStatus,
} from "../../k8s/cluster.ts";
import { DEFAULT_PRIORITY_CLASS } from "../../k8s/contributor/bundle.ts";
import { checkAccess, onboardContributor } from "../../k8s/contributor/onboard.ts";
import { KubernetesCluster } from "../../k8s/kubernetesCluster.ts";
import { buildRoundJob } from "../../k8s/roundJob.ts";
import { startCluster, type TestCluster } from "../harness/kubernetes.ts";
import { type PodRunner, startPodRunner } from "../harness/podRunner.ts";
import { waitUntilReady } from "../harness/process.ts";

const A100 = "NVIDIA-A100-SXM4-80GB";
const H100 = "NVIDIA-H100-80GB-HBM3";
const NAMESPACE = "daotrain";
const hex = (digit: string) => `0x${digit.repeat(64)}`;

let alpha: TestCluster;
let beta: TestCluster;
let alphaSa: string;
let betaSa: string;
let alphaClient: KubernetesCluster;
let betaClient: KubernetesCluster;
let runner: PodRunner;
let scratch: string;

beforeAll(async () => {
  const started = Date.now();
  // Two contributors at once: different GPU products and counts; beta's pods really run here.
  [alpha, beta] = await Promise.all([
    startCluster({
      name: "alpha",
      nodes: [
        { name: "a100-1", gpus: 4, gpuProduct: A100 },
        {
          name: "a100-2",
          gpus: 4,
          gpuProduct: A100,
          taints: [{ key: "nvidia.com/gpu", value: "present", effect: "NoSchedule" }],
        },
        { name: "cpu-1", gpus: 0, gpuProduct: "none" },
      ],
    }),
    startCluster({
      name: "beta",
      nodes: [
        { name: "h100-1", gpus: 2, gpuProduct: H100 },
        { name: "h100-2", gpus: 2, gpuProduct: H100 },
      ],
      podRunner: true,
    }),
  ]);
  console.log(`two control planes with KWOK nodes ready in ${Date.now() - started} ms`);
  scratch = await mkdtemp(join(tmpdir(), "daotrain-k8s-test-"));
  const [a, b] = await Promise.all([
    // alpha grants nothing cluster-wide; beta shares its node capacity (and so node disappearances).
    onboardContributor(alpha.kubeconfig, { gpus: 6, namespace: NAMESPACE }),
    onboardContributor(beta.kubeconfig, { gpus: 4, namespace: NAMESPACE, shareNodeCapacity: true }),
  ]);
  alphaSa = a.serviceAccountKubeconfig;
  betaSa = b.serviceAccountKubeconfig;
  // Everything below runs with the contributors' ServiceAccount kubeconfigs, as the orchestrator would.
  alphaClient = new KubernetesCluster({ name: "alpha", kubeconfig: alphaSa, nodeCheckIntervalMs: 500 });
  betaClient = new KubernetesCluster({ name: "beta", kubeconfig: betaSa, nodeCheckIntervalMs: 500 });
  runner = await startPodRunner({ kubeConfig: beta.kubeConfig, cwd: scratch });
});

afterAll(async () => {
  await runner?.stop();
  await Promise.all([alpha?.stop(), beta?.stop()]);
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

function round(
  roundNumber: number,
  command: string[],
  replicas: number[],
  extra: Partial<RoundJobSpecInput> = {},
): RoundJobSpecInput {
  return {
    runId: hex("d"),
    round: roundNumber,
    image: "ghcr.io/daotrain/trainer:test",
    command,
    replicas: replicas.map((replica) => ({
      replica,
      shards: [replica],
      outputUri: `file://${scratch}/round-${roundNumber}/replica-${replica}`,
    })),
    totalReplicas: 8,
    gpusPerReplica: 1,
    initUri: "file:///init",
    initRoot: hex("b"),
    datasetUri: "file:///data",
    datasetRoot: hex("c"),
    innerSteps: 10,
    seed: 3,
    ...extra,
  };
}

async function watchToEnd(
  cluster: KubernetesCluster,
  ref: { cluster: string; name: string },
  onUpdate: (status: RoundStatus) => void | Promise<void> = () => {},
): Promise<RoundStatus[]> {
  const seen: RoundStatus[] = [];
  const signal = AbortSignal.timeout(90_000);
  for await (const status of cluster.watchRound(ref, { signal })) {
    seen.push(status);
    await onUpdate(status);
  }
  return seen;
}

async function ignore404<T>(call: Promise<T>): Promise<T | undefined> {
  return await call.catch((error: unknown) => {
    if ((error as { code?: unknown }).code === 404) return undefined;
    throw error;
  });
}

async function podsOf(cluster: TestCluster, job: string): Promise<V1Pod[]> {
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  const pods = await core.listNamespacedPod({
    namespace: NAMESPACE,
    labelSelector: `batch.kubernetes.io/job-name=${job}`,
  });
  return pods.items;
}

describe("capacity and placement across two contributed clusters", () => {
  test("capacity reads match what each cluster's quota and, where shared, its nodes allow", async () => {
    const [a, b] = await Promise.all([alphaClient.capacity(), betaClient.capacity()]);
    // alpha shares no node capacity: the quota's headroom is all the orchestrator may know.
    expect(a).toEqual({
      freeGpus: 6,
      freeGpusByProduct: {},
      quota: { name: "daotrain-gpus", hard: 6, used: 0 },
    });
    expect(b).toEqual({
      freeGpus: 4,
      freeGpusByProduct: { [H100]: 4 },
      quota: { name: "daotrain-gpus", hard: 4, used: 0 },
    });

    // With an admin's view, GPUs other tenants' pods hold are subtracted too.
    const core = alpha.kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespacedPod({
      namespace: "default",
      body: {
        metadata: { name: "other-tenant" },
        spec: {
          nodeName: "a100-1",
          containers: [{ name: "x", image: "x", resources: { limits: { "nvidia.com/gpu": "3" } } }],
        },
      },
    });
    const admin = new KubernetesCluster({
      name: "alpha",
      kubeconfig: alpha.kubeconfig,
      namespace: NAMESPACE,
    });
    // alpha has 8 A100s on ready nodes (the tainted node counts: Jobs tolerate the GPU taint).
    expect((await admin.capacity()).freeGpusByProduct).toEqual({ [A100]: 5 });
    expect((await admin.capacity()).freeGpus).toBe(5);
    await core.deleteNamespacedPod({ name: "other-tenant", namespace: "default", gracePeriodSeconds: 0 });
  });

  test("a round's Jobs land on the right clusters and nodes, and beta's replicas really run with their contract env", async () => {
    const alphaRef = await alphaClient.launchRound(
      round(1, ["trainer"], [0, 1, 2], { gpusPerReplica: 2, gpuProduct: A100 }),
    );
    const write = `require("node:fs").writeFileSync(new URL(process.env.DAOTRAIN_OUTPUT_URI), [process.env.DAOTRAIN_REPLICA, process.env.DAOTRAIN_SHARDS, process.env.DAOTRAIN_ROUND].join(" "))`;
    const betaRef = await betaClient.launchRound(
      round(1, ["sh", "-c", `mkdir -p ${scratch}/round-1 && node -e '${write}'`], [3, 4], {
        gpuProduct: H100,
      }),
    );
    const [alphaSeen, betaSeen] = await Promise.all([
      watchToEnd(alphaClient, alphaRef),
      watchToEnd(betaClient, betaRef),
    ]);
    expect(alphaSeen.at(-1)?.replicas.map((r) => r.state)).toEqual(["succeeded", "succeeded", "succeeded"]);
    expect(betaSeen.at(-1)?.replicas).toMatchObject([
      { replica: 3, state: "succeeded" },
      { replica: 4, state: "succeeded" },
    ]);
    const alphaNodes = (await podsOf(alpha, alphaRef.name)).map((p) => p.spec?.nodeName);
    expect(alphaNodes).toHaveLength(3);
    for (const node of alphaNodes) expect(["a100-1", "a100-2"]).toContain(node);
    // Three 2-GPU replicas on two 4-GPU nodes: one had to go to the tainted node.
    expect(alphaNodes).toContain("a100-2");
    for (const pod of await podsOf(beta, betaRef.name))
      expect(["h100-1", "h100-2"]).toContain(pod.spec?.nodeName);
    expect(await readFile(join(scratch, "round-1", "replica-3"), "utf8")).toBe("3 3 1");
    expect(await readFile(join(scratch, "round-1", "replica-4"), "utf8")).toBe("4 4 1");
    const headless = await alpha.kubeConfig
      .makeApiClient(CoreV1Api)
      .readNamespacedService({ name: alphaRef.name, namespace: NAMESPACE });
    expect(headless.spec?.clusterIP).toBe("None");
    await Promise.all([alphaClient.cleanupRound(alphaRef), betaClient.cleanupRound(betaRef)]);
  });

  test("a round asking for more GPUs than the quota allows is refused up front, naming the quota", async () => {
    const tooBig = round(2, ["trainer"], [0, 1, 2, 3], { gpusPerReplica: 2 });
    const error = await alphaClient.launchRound(tooBig).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QuotaExceededError);
    expect((error as Error).message).toContain('ResourceQuota "daotrain-gpus"');
    expect((error as Error).message).toContain("needs 8 GPUs");
    const jobs = await alpha.kubeConfig.makeApiClient(BatchV1Api).listNamespacedJob({ namespace: NAMESPACE });
    expect(jobs.items.map((j) => j.metadata?.name)).not.toContain("dt-dddddddddddd-r2-a0");
  });
});

describe("replica failures, cancel and idempotent launch", () => {
  test("a replica exiting non-zero is failed with its exit code and logs, and one whose node disappears is lost", async () => {
    const command = [
      "sh",
      "-c",
      'if [ "$DAOTRAIN_REPLICA" = 0 ]; then echo boom >&2; exit 3; fi; exec sleep 120',
    ];
    const ref = await betaClient.launchRound(round(3, command, [0, 1]));
    let removed: string | undefined;
    const seen = await watchToEnd(betaClient, ref, async (status) => {
      const survivor = status.replicas[1];
      if (
        !removed &&
        survivor?.state === "running" &&
        survivor.node &&
        status.replicas[0]?.state === "failed"
      ) {
        removed = survivor.node;
        await beta.removeNode(removed);
      }
    });
    expect(removed).toBeDefined();
    const last = seen.at(-1);
    expect(last?.done).toBe(true);
    expect(last?.replicas[0]).toEqual({
      replica: 0,
      state: "failed",
      reason: "trainer exited with code 3 (Error)",
      exitCode: 3,
    });
    expect(last?.replicas[1]).toEqual({
      replica: 1,
      state: "lost",
      reason: `NodeLost: node ${removed} no longer exists`,
    });
    // The failed replica's output, read through the apiserver's pods/log with the ServiceAccount.
    expect(await betaClient.logs(ref, 0)).toBe("boom\n");

    await betaClient.cancelRound(ref);
    expect(await podsOf(beta, ref.name)).toEqual([]);
    await expect(betaClient.roundStatus(ref)).rejects.toThrow(/launch it first/);
    await beta.addNode({ name: removed ?? "", gpus: 2, gpuProduct: H100 });
  });

  test("cancel removes the Job and its pods; launching the same round twice makes one Job", async () => {
    const spec = round(4, ["sh", "-c", "exec sleep 120"], [0, 1]);
    const first = await betaClient.launchRound(spec);
    const second = await betaClient.launchRound(spec);
    expect(second).toEqual(first);
    const batch = beta.kubeConfig.makeApiClient(BatchV1Api);
    const jobs = await batch.listNamespacedJob({
      namespace: NAMESPACE,
      labelSelector: `daotrain.io/round-name=${first.name}`,
    });
    expect(jobs.items).toHaveLength(1);
    await waitUntilReady(
      "both replicas running",
      async () =>
        (await betaClient.roundStatus(first)).replicas.every((r) => r.state === "running") ? true : undefined,
      { timeoutMs: 30_000 },
    );
    await betaClient.cancelRound(first);
    expect(
      (await batch.listNamespacedJob({ namespace: NAMESPACE })).items.map((j) => j.metadata?.name),
    ).not.toContain(first.name);
    expect(await podsOf(beta, first.name)).toEqual([]);
    expect((await betaClient.capacity()).quota?.used).toBe(0);
  });
});

describe("watch across a dropped apiserver connection", () => {
  test("the watch survives kube-apiserver restarting mid-Job and still reports completion", async () => {
    const flag = join(scratch, "go-round-5");
    const command = ["sh", "-c", `while [ ! -e ${flag} ]; do sleep 0.2; done`];
    const ref = await betaClient.launchRound(round(5, command, [0]));
    let restarted = false;
    const seen = await watchToEnd(betaClient, ref, async (status) => {
      if (!restarted && status.replicas[0]?.state === "running") {
        restarted = true;
        await beta.restartApiserver();
        await writeFile(flag, "");
      }
    });
    expect(restarted).toBe(true);
    expect(seen.map((s) => s.replicas[0]?.state)).toContain("running");
    expect(seen.at(-1)?.replicas).toMatchObject([{ replica: 0, state: "succeeded" }]);
    await betaClient.cleanupRound(ref);
  });
});

describe("the run store's credentials", () => {
  const storeEnv = {
    AWS_ACCESS_KEY_ID: "AKIABETATEST00000001",
    AWS_SECRET_ACCESS_KEY: "beta-secret-access-key-1",
    AWS_ENDPOINT_URL_S3: "http://127.0.0.1:9000",
  };
  // The fake trainer writes the store env it received to its output and only a line to its log.
  const writeStoreEnv = (roundNumber: number) => {
    const write = `require("node:fs").writeFileSync(new URL(process.env.DAOTRAIN_OUTPUT_URI), [process.env.AWS_ACCESS_KEY_ID, process.env.AWS_SECRET_ACCESS_KEY, process.env.AWS_ENDPOINT_URL_S3].join(" ")); console.log("wrote output")`;
    return ["sh", "-c", `mkdir -p ${scratch}/round-${roundNumber} && node -e '${write}'`];
  };
  const secretOf = async (round: string) =>
    await ignore404(
      beta.kubeConfig
        .makeApiClient(CoreV1Api)
        .readNamespacedSecret({ name: `${round}-store`, namespace: NAMESPACE }),
    );
  const decoded = (data: Record<string, string> | undefined) =>
    Object.fromEntries(Object.entries(data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]));

  test("reach the trainer through a Secret the Job owns, never through the Job; relaunch is idempotent, takes rotated values, and cleanup removes the Secret", async () => {
    const spec = round(6, writeStoreEnv(6), [0, 1], { storeEnv });
    const ref = await betaClient.launchRound(spec);
    expect(await betaClient.launchRound(spec)).toEqual(ref);
    const batch = beta.kubeConfig.makeApiClient(BatchV1Api);
    const jobs = await batch.listNamespacedJob({
      namespace: NAMESPACE,
      labelSelector: `daotrain.io/round-name=${ref.name}`,
    });
    expect(jobs.items).toHaveLength(1);
    const job = jobs.items[0];
    for (const value of Object.values(storeEnv)) expect(JSON.stringify(job)).not.toContain(value);
    const secret = await secretOf(ref.name);
    expect(decoded(secret?.data)).toEqual(storeEnv);
    expect(secret?.metadata?.ownerReferences).toEqual([
      expect.objectContaining({ kind: "Job", name: ref.name, uid: job?.metadata?.uid }),
    ]);

    const seen = await watchToEnd(betaClient, ref);
    expect(seen.at(-1)?.replicas.map((r) => r.state)).toEqual(["succeeded", "succeeded"]);
    const received = `${storeEnv.AWS_ACCESS_KEY_ID} ${storeEnv.AWS_SECRET_ACCESS_KEY} ${storeEnv.AWS_ENDPOINT_URL_S3}`;
    for (const replica of [0, 1])
      expect(await readFile(join(scratch, "round-6", `replica-${replica}`), "utf8")).toBe(received);
    for (const replica of [0, 1]) expect(await betaClient.logs(ref, replica)).toBe("wrote output\n");

    // Rotated credentials: the same round launched again updates the Secret, still one Job.
    const rotated = { ...storeEnv, AWS_SECRET_ACCESS_KEY: "beta-secret-access-key-2" };
    expect(await betaClient.launchRound({ ...spec, storeEnv: rotated })).toEqual(ref);
    expect(decoded((await secretOf(ref.name))?.data)).toEqual(rotated);
    expect((await secretOf(ref.name))?.metadata?.ownerReferences?.[0]?.uid).toBe(job?.metadata?.uid);
    const again = await batch.listNamespacedJob({
      namespace: NAMESPACE,
      labelSelector: `daotrain.io/round-name=${ref.name}`,
    });
    expect(again.items.map((j) => j.metadata?.uid)).toEqual([job?.metadata?.uid]);

    await betaClient.cleanupRound(ref);
    expect(await secretOf(ref.name)).toBeUndefined();
  });

  test("a Job whose Secret is missing waits with CreateContainerConfigError, runs once launch puts the Secret in, and takes the Secret with it when deleted", async () => {
    const spec = round(7, writeStoreEnv(7), [0], { storeEnv });
    // As if a launch had died after the Job and before the Secret: the Job alone, made directly
    // (at the PriorityClass launch reads from the bundle's quota, without which no pod is admitted).
    const { job } = buildRoundJob(
      parseRoundJobSpec({ ...spec, priorityClassName: DEFAULT_PRIORITY_CLASS }),
      NAMESPACE,
    );
    await beta.kubeConfig.makeApiClient(BatchV1Api).createNamespacedJob({ namespace: NAMESPACE, body: job });
    const ref = { cluster: "beta", name: job.metadata?.name ?? "" };
    await waitUntilReady(
      "replica held for its missing Secret",
      async () => {
        const [replica] = (await betaClient.roundStatus(ref)).replicas;
        return replica?.state === "pending" && replica.reason?.startsWith("CreateContainerConfigError")
          ? replica
          : undefined;
      },
      { timeoutMs: 30_000 },
    );
    expect((await betaClient.roundStatus(ref)).replicas[0]).toEqual({
      replica: 0,
      state: "pending",
      reason: `CreateContainerConfigError: secret "${ref.name}-store" not found`,
    });

    expect(await betaClient.launchRound(spec)).toEqual(ref);
    const seen = await watchToEnd(betaClient, ref);
    expect(seen.at(-1)?.replicas).toMatchObject([{ replica: 0, state: "succeeded" }]);
    expect(await readFile(join(scratch, "round-7", "replica-0"), "utf8")).toContain(
      storeEnv.AWS_SECRET_ACCESS_KEY,
    );
    // The Job goes as its TTL would take it: the garbage collector takes the Secret it owns.
    await beta.kubeConfig
      .makeApiClient(BatchV1Api)
      .deleteNamespacedJob({ name: ref.name, namespace: NAMESPACE, propagationPolicy: "Background" });
    await waitUntilReady(
      "Secret collected with its Job",
      async () => ((await secretOf(ref.name)) ? undefined : true),
      { timeoutMs: 30_000 },
    );
    await betaClient.cleanupRound(ref);
  });
});

describe("the ServiceAccount kubeconfig from onboard", () => {
  test("can create a Job in its namespace but cannot list Secrets elsewhere or create a ClusterRole (real authorizer)", async () => {
    const sa = new KubeConfig();
    sa.loadFromString(alphaSa);
    const batch = sa.makeApiClient(BatchV1Api);
    const created = await batch.createNamespacedJob({
      namespace: NAMESPACE,
      body: {
        metadata: { name: "sa-made" },
        spec: {
          template: {
            spec: {
              restartPolicy: "Never",
              securityContext: {
                runAsNonRoot: true,
                runAsUser: 1000,
                seccompProfile: { type: "RuntimeDefault" },
              },
              containers: [
                {
                  name: "x",
                  image: "x",
                  securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
                },
              ],
            },
          },
        },
      },
    });
    expect(created.metadata?.uid).toBeTruthy();
    const core = sa.makeApiClient(CoreV1Api);
    await expect(core.listNamespacedSecret({ namespace: "kube-system" })).rejects.toMatchObject({
      code: 403,
    });
    const rbac = sa.makeApiClient(RbacAuthorizationV1Api);
    await expect(
      rbac.createClusterRole({
        body: {
          metadata: { name: "escalate" },
          rules: [{ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }],
        },
      }),
    ).rejects.toMatchObject({ code: 403 });
    // It writes its rounds' Secrets without reading any.
    await expect(core.listNamespacedSecret({ namespace: NAMESPACE })).rejects.toMatchObject({ code: 403 });
  });

  test("daotrain cluster check proves every expected permission, onboard again changes nothing, and node capacity shared can be withdrawn", async () => {
    const checks = await checkAccess(alphaSa);
    expect(checks.filter((c) => !c.ok)).toEqual([]);
    expect(checks.find((c) => c.description === "create ClusterRoles")?.actual).toBe("forbidden");
    const nodeRead = (c: { description: string }) => c.description.startsWith("read Nodes");
    expect(checks.find(nodeRead)?.actual).toBe("forbidden");
    expect((await checkAccess(betaSa)).find(nodeRead)?.actual).toBe("allowed");
    const again = await onboardContributor(alpha.kubeconfig, { gpus: 6, namespace: NAMESPACE });
    expect(again.applied).toHaveLength(12);

    const shared = await onboardContributor(alpha.kubeconfig, {
      gpus: 6,
      namespace: NAMESPACE,
      shareNodeCapacity: true,
    });
    expect(shared.applied).toContain(`ClusterRole/daotrain-node-reader-${NAMESPACE}`);
    expect((await checkAccess(alphaSa)).find(nodeRead)?.actual).toBe("allowed");
    await onboardContributor(alpha.kubeconfig, { gpus: 6, namespace: NAMESPACE });
    expect((await checkAccess(alphaSa)).find(nodeRead)?.actual).toBe("forbidden");
    const rbac = alpha.kubeConfig.makeApiClient(RbacAuthorizationV1Api);
    const roles = await rbac.listNamespacedRole({ namespace: NAMESPACE });
    expect(roles.items.map((r) => r.metadata?.name)).toEqual(["daotrain-orchestrator"]);
  });
});

describe("the daotrain cluster verbs", () => {
  const cli = fileURLToPath(new URL("../../cli/main.ts", import.meta.url));
  const daotrain = async (...args: string[]) =>
    await promisify(execFile)(process.execPath, [cli, ...args]).then(
      ({ stdout }) => ({ code: 0, stdout, stderr: "" }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );

  test("onboard writes a working ServiceAccount kubeconfig and check passes on it but fails on an admin's", async () => {
    const out = join(scratch, "cli-sa.kubeconfig");
    const onboard = await daotrain(
      "cluster",
      "onboard",
      "--kubeconfig",
      beta.kubeconfigPath,
      "--gpus",
      "3",
      "--namespace",
      "cli-ns",
      "--out",
      out,
      "--json",
    );
    expect(onboard.code).toBe(0);
    expect(JSON.parse(onboard.stdout)).toMatchObject({ namespace: "cli-ns", gpus: 3, kubeconfig: out });
    const token = /token: (.+)/.exec(await readFile(out, "utf8"))?.[1];
    expect(token?.length).toBeGreaterThan(100);
    expect(onboard.stdout).not.toContain(token);

    const check = await daotrain("cluster", "check", "--kubeconfig", out, "--json");
    expect(check.code).toBe(0);
    expect((JSON.parse(check.stdout) as { ok: boolean }[]).every((c) => c.ok)).toBe(true);
    const client = new KubernetesCluster({ name: "beta", kubeconfig: await readFile(out, "utf8") });
    expect((await client.capacity()).quota).toEqual({ name: "daotrain-gpus", hard: 3, used: 0 });

    // An admin kubeconfig can do what the orchestrator must not: check says so and exits 1.
    const admin = await daotrain(
      "cluster",
      "check",
      "--kubeconfig",
      beta.kubeconfigPath,
      "--namespace",
      "cli-ns",
    );
    expect(admin.code).toBe(1);
    expect(admin.stderr).toContain("differ from the contributor bundle");
    expect(admin.stdout).toMatch(/FAIL forbidden +create ClusterRoles \(is allowed\)/);
  });

  test("a wrong command line exits 2 naming the argument", async () => {
    const wrong = await daotrain("cluster", "onboard", "--kubeconfig", beta.kubeconfigPath, "--gpus", "many");
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain("--gpus");
  });
});
