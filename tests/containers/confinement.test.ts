import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { ReplicaState, RoundStatus } from "../../k8s/cluster.ts";
import { onboardContributor } from "../../k8s/contributor/onboard.ts";
import { KubernetesCluster } from "../../k8s/kubernetesCluster.ts";
import { type ContainerNode, kubeletNodeUnsupported, startContainerNode } from "../harness/kubeletNode.ts";
import { startCluster, type TestCluster } from "../harness/kubernetes.ts";
import { hex, probeRound } from "../kubernetes/fixtures.ts";

// What a contributor's cluster does to daotrain's pods, shown on a real kubelet: one round's Job
// (built by k8s/roundJob.ts, launched through the contributor's ServiceAccount) whose replica 0
// reports what its container may see and do, replica 1 outgrows its memory limit and replica 2
// its ephemeral storage. The last two must end as dropouts of their own replicas only.

const unsupported = await kubeletNodeUnsupported();
if (unsupported) console.warn(`tests/containers/confinement.test.ts skipped: ${unsupported}`);

/** Replica 0's report; 1 and 2 each exceed one limit and would otherwise never stop. */
const PROBE = `
const fs = require("node:fs");
const replica = process.env.DAOTRAIN_REPLICA;
if (replica === "1") { const held = []; for (;;) held.push(Buffer.alloc(32 << 20, 1)); }
if (replica === "2") {
  const chunk = Buffer.alloc(16 << 20, 1);
  for (let i = 0; i < 32; i++) fs.appendFileSync("/tmp/fill", chunk);
  setInterval(() => {}, 1000);
} else {
  const tryWrite = (path) => { try { fs.writeFileSync(path, "x"); return "written"; } catch (e) { return e.code; } };
  const status = fs.readFileSync("/proc/self/status", "utf8");
  const cgroup = (file) => { try { return Number(fs.readFileSync("/sys/fs/cgroup/" + file, "utf8")); } catch { return null; } };
  console.log(JSON.stringify({
    uid: process.getuid(), gid: process.getgid(),
    capEff: /CapEff:\\s*(\\w+)/.exec(status)[1], noNewPrivs: /NoNewPrivs:\\s*(\\d)/.exec(status)[1],
    rootfs: tryWrite("/opt/daotrain/planted.ts"), etc: tryWrite("/etc/passwd"), tmp: tryWrite("/tmp/scratch"),
    cpuQuota: cgroup("cpu/cpu.cfs_quota_us") / cgroup("cpu/cpu.cfs_period_us"),
    memoryLimit: cgroup("memory/memory.limit_in_bytes"),
    env: process.env,
  }));
}`;

const storeEnv = {
  AWS_ENDPOINT_URL_S3: "http://store.invalid:9000",
  AWS_ACCESS_KEY_ID: "round-key-id",
  AWS_SECRET_ACCESS_KEY: "round-secret-value",
};

let cluster: TestCluster;
let containers: ContainerNode;
let contributor: KubernetesCluster;
let final: RoundStatus;
let report: { uid: number; gid: number; capEff: string; env: Record<string, string>; [key: string]: unknown };

beforeAll(async () => {
  if (unsupported) return;
  cluster = await startCluster({ name: "confined", nodes: [] });
  containers = await startContainerNode({ cluster, name: "node-1", gpus: 0, gpuProduct: "NVIDIA-TEST" });
  const onboarded = await onboardContributor(cluster.kubeconfig, { gpus: 1, namespace: "daotrain" });
  contributor = new KubernetesCluster({ name: "confined", kubeconfig: onboarded.serviceAccountKubeconfig });
  const ref = await contributor.launchRound(
    probeRound(["node", "-e", PROBE], [0, 1, 2], {
      runId: hex("c"),
      image: containers.trainerImage,
      gpusPerReplica: 0,
      memory: "256Mi",
      ephemeralStorage: "256Mi",
      activeDeadlineSeconds: 240,
      storeEnv,
    }),
  );
  for await (const status of contributor.watchRound(ref)) final = status;
  final = await contributor.roundStatus(ref);
  const logs = await contributor.logs(ref, 0);
  report = JSON.parse(logs.trim().split("\n").at(-1) ?? "{}");
});

afterAll(async () => {
  await containers?.stop();
  await cluster?.stop();
});

const state = (replica: number): ReplicaState | undefined =>
  final.replicas.find((r) => r.replica === replica);

describe.skipIf(unsupported !== undefined)("a replica's pod on a real kubelet", () => {
  test("runs as 65532 with no capabilities, no privilege escalation and a read-only root filesystem; only /tmp is writable", () => {
    expect(state(0)?.state).toBe("succeeded");
    expect(report).toMatchObject({
      uid: 65532,
      gid: 65532,
      capEff: "0000000000000000",
      noNewPrivs: "1",
      rootfs: "EROFS",
      etc: "EROFS",
      tmp: "written",
    });
  });

  test("sees its round Secret's keys and the trainer contract, and none of the worker's environment", () => {
    expect(report.env).toMatchObject(storeEnv);
    expect(report.env.DAOTRAIN_REPLICA).toBe("0");
    // The contract (with torchrun's rendezvous names), the Job's index, the round Secret, the image's
    // and the runtime's own (PATH, HOME, HOSTNAME, the prologue shell's PWD), the API's address.
    const podOwn =
      /^(DAOTRAIN_|(MASTER_ADDR|MASTER_PORT|WORLD_SIZE|RANK|JOB_COMPLETION_INDEX)$|KUBERNETES_|AWS_|(PATH|HOME|HOSTNAME|PWD|NODE_ENV)$)/;
    expect(Object.keys(report.env).filter((name) => !podOwn.test(name))).toEqual([]);
    // Nothing of the process that launched it (the worker's keys, its PATH) reaches the pod.
    for (const [name, value] of Object.entries(process.env)) {
      if (value && value.length > 8 && report.env[name] !== undefined)
        expect(report.env[name]).not.toBe(value);
    }
  });

  test("is held to its CPU and memory limits by its cgroups (v1 controllers on this machine)", () => {
    expect(report).toMatchObject({ cpuQuota: 1, memoryLimit: 256 * 2 ** 20 });
  });

  test("one that outgrows its memory limit is killed, a failed replica of its own", () => {
    expect(state(1)).toMatchObject({ state: "failed", reason: expect.stringMatching(/OOMKilled/) });
  });

  test("one that fills more than its ephemeral storage is evicted, a lost replica of its own, and the others end as they would", () => {
    expect(state(2)).toMatchObject({
      state: "lost",
      reason: expect.stringMatching(/Evicted|ephemeral|emptyDir/i),
    });
    expect(state(0)?.state).toBe("succeeded");
    expect(final.done).toBe(true);
  });
});
