/**
 * One replica's training in a container under a real kubelet (tests/harness/kubeletNode.ts: the
 * trainer image pulled by digest, cgroup limits, its own network namespace, the store reached
 * through the pod bridge) against the same replica as a host process, the baseline, alternating
 * in the same run. Both read the same inputs from the same S3 server and write a checkpoint there.
 *
 *   node bench/container.ts [--runs 3] [--steps 40]
 *
 * Columns: the trainer's own inner-loop time (`wallSeconds` in its manifest) and the whole
 * replica (host: spawn to exit; container: the kubelet's start to finish, whole seconds), medians.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { writeCheckpoint } from "../checkpoints/index.ts";
import { assignShards, packDataset } from "../datasets/index.ts";
import { parseRoundJobSpec, type RoundRef } from "../k8s/cluster.ts";
import { KubernetesCluster } from "../k8s/kubernetesCluster.ts";
import { initialCheckpoint } from "../model/index.ts";
import { runIdOf } from "../spec/runSpec.ts";
import { trainerEnvVars } from "../spec/trainerContract.ts";
import { openStore, putDirectory } from "../storage/index.ts";
import { kubeletNodeUnsupported, startContainerNode } from "../tests/harness/kubeletNode.ts";
import { startCluster } from "../tests/harness/kubernetes.ts";
import { startS3Server } from "../tests/harness/s3.ts";
import { tinySpec } from "../tests/orchestration/fixtures.ts";
import { printTable } from "./table.ts";

const { values } = parseArgs({
  options: { runs: { type: "string", default: "3" }, steps: { type: "string", default: "40" } },
});
const runs = Number(values.runs);
const repo = new URL("../", import.meta.url).pathname;

const unsupported = await kubeletNodeUnsupported();
if (unsupported) {
  console.log(`bench/container.ts: no container to measure here: ${unsupported}`);
  process.exit(0);
}

interface Sample {
  trainSeconds: number;
  replicaSeconds: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const trainSecondsOf = (stdout: string) =>
  Number(JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}").manifest?.metrics?.wallSeconds);

const dir = await mkdtemp(join(tmpdir(), "daotrain-bench-container-"));
const s3 = await startS3Server();
const cluster = await startCluster({ name: "bench", nodes: [] });
const containers = await startContainerNode({
  cluster,
  name: "bench-node",
  gpus: 0,
  gpuProduct: "NVIDIA-TEST",
});
try {
  await Promise.all([s3.createBucket("runs"), s3.createBucket("datasets")]);
  const dataset = await packDataset(join(repo, "datasets/corpus"), join(dir, "dataset"), {
    shardTokens: 8192,
  });
  const spec = tinySpec({ dataset: dataset.root, innerSteps: Number(values.steps) });
  const { tensors, fields } = initialCheckpoint(spec);
  const init = await writeCheckpoint(join(dir, "init"), tensors, fields);
  const store = { s3: s3.storeOptions };
  await putDirectory(openStore("s3://datasets/fables", store), join(dir, "dataset"), "");
  await putDirectory(openStore("s3://runs/bench/init", store), join(dir, "init"), "");
  const keys = {
    AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
  };
  const podEndpoint = `http://${containers.node.hostAddress}:${await containers.node.expose(Number(new URL(s3.endpoint).port))}`;
  const common = {
    DAOTRAIN_RUN_ID: runIdOf(spec),
    DAOTRAIN_ROUND: 0,
    DAOTRAIN_REPLICA: 0,
    DAOTRAIN_REPLICAS: 2,
    DAOTRAIN_INIT_URI: "s3://runs/bench/init",
    DAOTRAIN_INIT_ROOT: init.root,
    DAOTRAIN_DATASET_URI: "s3://datasets/fables",
    DAOTRAIN_DATASET_ROOT: dataset.root,
    DAOTRAIN_SHARDS: assignShards(dataset, 0, 2).join(","),
    DAOTRAIN_INNER_STEPS: spec.innerSteps,
    DAOTRAIN_SEED: spec.seed,
  } as const;

  const hostRun = async (i: number): Promise<Sample> => {
    const started = Date.now();
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        [join(repo, "trainer/main.ts")],
        {
          cwd: repo,
          env: {
            PATH: process.env.PATH,
            TMPDIR: dir,
            ...trainerEnvVars({ ...common, DAOTRAIN_OUTPUT_URI: `s3://runs/bench/host-${i}` }),
            AWS_ENDPOINT_URL_S3: s3.endpoint,
            ...keys,
          },
        },
        (error, out, err) => (error ? reject(new Error(`host trainer failed: ${err}`)) : resolve(out)),
      ),
    );
    return { trainSeconds: trainSecondsOf(stdout), replicaSeconds: (Date.now() - started) / 1000 };
  };

  const contributor = new KubernetesCluster({
    name: "bench",
    kubeconfig: cluster.kubeconfig,
    namespace: "default",
  });
  const containerRun = async (i: number): Promise<Sample> => {
    const ref: RoundRef = await contributor.launchRound(
      parseRoundJobSpec({
        runId: common.DAOTRAIN_RUN_ID,
        round: 0,
        attempt: i,
        image: containers.trainerImage,
        command: ["node", "trainer/main.ts"],
        replicas: [
          { replica: 0, shards: assignShards(dataset, 0, 2), outputUri: `s3://runs/bench/pod-${i}` },
        ],
        totalReplicas: 2,
        gpusPerReplica: 0,
        initUri: common.DAOTRAIN_INIT_URI,
        initRoot: common.DAOTRAIN_INIT_ROOT,
        datasetUri: common.DAOTRAIN_DATASET_URI,
        datasetRoot: common.DAOTRAIN_DATASET_ROOT,
        innerSteps: spec.innerSteps,
        seed: spec.seed,
        storeEnv: { AWS_ENDPOINT_URL_S3: podEndpoint, ...keys },
      }),
    );
    for await (const _ of contributor.watchRound(ref)) {
      // Only the end matters.
    }
    const [replica] = (await contributor.roundStatus(ref)).replicas;
    if (replica?.state !== "succeeded" || !replica.ran)
      throw new Error(`the pod did not train: ${JSON.stringify(replica)}\n${await contributor.logs(ref, 0)}`);
    const trainSeconds = trainSecondsOf(await contributor.logs(ref, 0));
    await contributor.cleanupRound(ref);
    return { trainSeconds, replicaSeconds: (replica.ran.finishedAtMs - replica.ran.startedAtMs) / 1000 };
  };

  // One unmeasured container run pulls the image and warms the node.
  await containerRun(0);
  const host: Sample[] = [];
  const pod: Sample[] = [];
  for (let i = 1; i <= runs; i++) {
    host.push(await hostRun(i));
    pod.push(await containerRun(i));
  }
  const row = (what: string, pick: (s: Sample) => number) => {
    const [h, c] = [median(host.map(pick)), median(pod.map(pick))];
    return [what, `${c.toFixed(2)} s`, `${h.toFixed(2)} s`, `${(c / h).toFixed(2)}×`];
  };
  console.log(`${runs} runs each, ${spec.innerSteps} inner steps of the tests' tiny model, medians`);
  printTable(
    ["figure", "container (kubelet)", "host process (baseline)", "ratio"],
    [
      row("inner loop (trainer's wallSeconds)", (s) => s.trainSeconds),
      row("whole replica", (s) => s.replicaSeconds),
    ],
  );
} finally {
  await containers.stop();
  await cluster.stop();
  await s3.stop();
  await rm(dir, { recursive: true, force: true });
}
