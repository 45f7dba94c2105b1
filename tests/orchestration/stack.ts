import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Client, Connection } from "@temporalio/client";
import { bundleWorkflowCode } from "@temporalio/worker";
import type { Hex } from "viem";
import { stringify as toYaml } from "yaml";
import { packDataset } from "../../datasets/index.ts";
import { admitClusterProposal, approveDatasetProposal } from "../../governance/proposals.ts";
import { registerCluster } from "../../governance/writes.ts";
import { approveRun } from "../../localstack/story.ts";
import { RunStore } from "../../rounds/runStore.ts";
import type { RunSpec, RunSpecInput } from "../../spec/runSpec.ts";
import { openStore, putDirectory } from "../../storage/index.ts";
import { clusterIdOf } from "../../workers/clusterDirectory.ts";
import { AesGcmCodec, encryptedDataConverter } from "../../workers/codec.ts";
import { parseWorkerEnv, s3StoreOptions, type WorkerEnv } from "../../workers/config.ts";
import { type RunningWorker, startWorker, workflowBundleOptions } from "../../workers/main.ts";
import { GOVERNANCE_WATCH_ID, TASK_QUEUE } from "../../workflows/signals.ts";
import type { RunOptions } from "../../workflows/trainingRun.ts";
import { type DaoFixture, startDaoFixture } from "../governance/fixture.ts";
import { type ManagedProcess, startProcess, waitUntilReady } from "../harness/process.ts";
import type { S3Server } from "../harness/s3.ts";
import { startTemporal, type TemporalDevServer } from "../harness/temporal.ts";
import { tinySpec } from "./fixtures.ts";

/** Short deadlines so that a lost worker or replica costs seconds in a test, not minutes. */
const testRunOptions: Partial<RunOptions> = {
  replicaDeadlineSeconds: 120,
  heartbeatSeconds: 5,
  noCapacityRetrySeconds: 1,
};

export interface ClusterSetup {
  name: string;
  gpus: number;
  /** Which of the fixture's token-less accounts owns it. */
  ownerIndex: number;
}

export interface ClusterEntryFile {
  name: string;
  local?: { workDir: string; gpus: number; env?: Record<string, string> };
  kubernetes?: { kubeconfig: string; namespace?: string; evaluates?: boolean };
  storeEnv?: Record<string, string>;
}

/**
 * Everything a run needs, once per test file: anvil with the DAO deployed (three members, the
 * operator), a Temporal dev server, an approved dataset packed from the project's corpus, the
 * contributed clusters registered by their owners and admitted by vote, and a worker environment.
 */
export interface OrchestrationStack {
  dao: DaoFixture;
  temporal: TemporalDevServer;
  client: Client;
  codec: AesGcmCodec;
  /** The secrets the worker holds, for tests that look for them where they must not be. */
  codecKey: string;
  operatorKey: Hex;
  dir: string;
  datasetRoot: Hex;
  env: WorkerEnv;
  /** The worker's run store, to read back what it stored. */
  runStore: RunStore;
  /** The env as strings, for a worker child process. */
  processEnv: Record<string, string>;
  owners: Record<string, Hex>;
  /** Rewrites the clusters file the worker reads (e.g. to point at Kubernetes clusters). */
  writeClusters(entries: ClusterEntryFile[]): Promise<void>;
  /** A spec on the approved dataset, unique per call (its name carries a random suffix). */
  spec(overrides?: Partial<RunSpecInput>): RunSpec;
  /** Passes the DAO vote that approves and funds the run; returns its id. */
  approveRun(spec: RunSpec): Promise<Hex>;
  /** The local-executor entry of a cluster set up here, with extra trainer env. */
  localCluster(name: string, env?: Record<string, string>): ClusterEntryFile;
  /** Starts the governance watcher from the deployment's first block (or from `fromBlock`). */
  startWatcher(fromBlock?: number): Promise<void>;
  /** Runs the worker as its own process (`node workers/main.ts`), which a test may kill. */
  startWorkerProcess(overrides?: Record<string, string>): Promise<ManagedProcess>;
  stop(): Promise<void>;
}

export interface StackOptions {
  /**
   * Keep the dataset and the run store in this S3 server's buckets (`datasets`, `runs`), as a
   * deployment whose trainers run on remote clusters does; by default both are local directories.
   */
  bucketsOn?: S3Server;
}

export async function startOrchestrationStack(
  clusters: ClusterSetup[],
  options: StackOptions = {},
): Promise<OrchestrationStack> {
  const s3 = options.bucketsOn;
  const dir = await mkdtemp(join(tmpdir(), "daotrain-orch-"));
  const [dao, temporal] = await Promise.all([startDaoFixture(), startTemporal()]);
  const codecKey = randomBytes(32).toString("base64");
  const codec = new AesGcmCodec(Buffer.from(codecKey, "base64"));
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({
    connection,
    namespace: temporal.namespace,
    dataConverter: encryptedDataConverter(codec),
  });
  const { contracts } = dao.deployment;

  const datasetDir = join(dir, "dataset");
  const corpus = fileURLToPath(new URL("../../datasets/corpus/fables.txt", import.meta.url));
  const dataset = await packDataset(corpus, datasetDir, { shardTokens: 8192 });
  const datasetRoot = dataset.root as Hex;
  let datasetUri = pathToFileURL(datasetDir).href;
  if (s3) {
    await Promise.all([s3.createBucket("datasets"), s3.createBucket("runs")]);
    datasetUri = "s3://datasets/fables";
    await putDirectory(openStore(datasetUri, { s3: s3.storeOptions }), datasetDir, "");
  }
  await dao.pass(
    approveDatasetProposal(contracts, {
      root: datasetRoot,
      uri: datasetUri,
      license: "CC0-1.0",
    }),
  );

  const owners: Record<string, Hex> = {};
  for (const cluster of clusters) {
    const owner = dao.others[cluster.ownerIndex];
    if (!owner?.wallet) throw new Error(`no account ${cluster.ownerIndex} for cluster ${cluster.name}`);
    owners[cluster.name] = owner.wallet.account.address;
    await registerCluster(owner, {
      clusterId: clusterIdOf(cluster.name),
      gpuCapacity: cluster.gpus,
      gpuProduct: "NVIDIA-TEST",
      metadata: `test cluster ${cluster.name}`,
    });
    await dao.pass(
      admitClusterProposal(contracts, {
        clusterId: clusterIdOf(cluster.name),
        owner: owner.wallet.account.address,
        gpuCapacity: cluster.gpus,
      }),
    );
  }

  const clustersFile = join(dir, "clusters.yaml");
  const writeClusters = async (entries: ClusterEntryFile[]) => {
    await writeFile(clustersFile, toYaml({ clusters: entries }));
  };
  const gpusOf = new Map(clusters.map((c) => [c.name, c.gpus]));
  const localCluster = (name: string, env?: Record<string, string>): ClusterEntryFile => ({
    name,
    local: { workDir: join(dir, "executors", name), gpus: gpusOf.get(name) ?? 0, ...(env ? { env } : {}) },
  });
  await writeClusters(clusters.map((c) => localCluster(c.name)));
  const deploymentFile = join(dir, "deployment.json");
  await writeFile(deploymentFile, JSON.stringify(dao.deployment));
  await mkdir(join(dir, "store"), { recursive: true });
  const bundlePath = join(dir, "workflows.bundle.js");
  const { code } = await bundleWorkflowCode({ ...workflowBundleOptions, logger: quietLogger });
  await writeFile(bundlePath, code);

  const operatorKey = dao.anvil.accounts[4]?.privateKey;
  if (!operatorKey) throw new Error("anvil has no operator account");
  const processEnv: Record<string, string> = {
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: temporal.namespace,
    DAOTRAIN_CODEC_KEY: codecKey,
    DAOTRAIN_DEPLOYMENT: deploymentFile,
    DAOTRAIN_OPERATOR_KEY: operatorKey,
    DAOTRAIN_STORE_URI: s3 ? "s3://runs/store" : pathToFileURL(join(dir, "store")).href,
    ...(s3
      ? {
          AWS_ENDPOINT_URL_S3: s3.endpoint,
          AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
        }
      : {}),
    DAOTRAIN_WORK_DIR: join(dir, "worker"),
    DAOTRAIN_PUBLIC_STORE_URI: pathToFileURL(join(dir, "public")).href,
    DAOTRAIN_CLUSTERS: clustersFile,
    DAOTRAIN_WORKFLOW_BUNDLE: bundlePath,
    DAOTRAIN_METRICS_PORT: "0",
    // Tests start the governance watcher themselves, with short deadlines for the runs it starts.
    DAOTRAIN_START_WATCHERS: "false",
  };
  const env = parseWorkerEnv(processEnv);

  return {
    dao,
    temporal,
    client,
    codec,
    codecKey,
    operatorKey,
    dir,
    datasetRoot,
    env,
    runStore: new RunStore(env.DAOTRAIN_STORE_URI, join(dir, "test-staged"), { s3: s3StoreOptions(env) }),
    processEnv,
    owners,
    writeClusters,
    spec: (overrides = {}) =>
      tinySpec({ dataset: datasetRoot, name: `run-${randomBytes(4).toString("hex")}`, ...overrides }),
    async approveRun(spec) {
      return (await approveRun(dao, spec)).runId;
    },
    localCluster,
    async startWorkerProcess(overrides = {}) {
      const worker = startProcess({
        name: "worker",
        command: process.execPath,
        args: [fileURLToPath(new URL("../../workers/main.ts", import.meta.url))],
        cwd: fileURLToPath(new URL("../..", import.meta.url)),
        env: { ...process.env, ...processEnv, ...overrides },
        logFile: join(dir, "worker.log"),
      });
      await waitUntilReady(
        "worker",
        async () => (worker.recentOutput().includes("polling task queue") ? true : undefined),
        {
          timeoutMs: 60_000,
          process: worker,
        },
      );
      return worker;
    },
    async startWatcher(fromBlock = dao.deployment.startBlock) {
      await client.workflow.start("governanceWatch", {
        taskQueue: TASK_QUEUE,
        workflowId: GOVERNANCE_WATCH_ID,
        args: [{ fromBlock, pollSeconds: 1, runOptions: testRunOptions }],
      });
    },
    async stop() {
      await connection.close();
      await Promise.allSettled([dao.stop(), temporal.stop()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The two contributed clusters the end-to-end files run on. */
export const TWO_CLUSTERS: readonly ClusterSetup[] = [
  { name: "alpha", gpus: 4, ownerIndex: 0 },
  { name: "beta", gpus: 4, ownerIndex: 1 },
];

/** A stack whose worker runs in this process and whose governance watcher follows the chain. */
export interface WatchedStack extends OrchestrationStack {
  worker: RunningWorker;
  /** Stops the worker and starts another with the stack's environment changed by `env`. */
  restartWorker(env?: Partial<WorkerEnv>): Promise<RunningWorker>;
}

export async function startWatchedStack(
  clusters: readonly ClusterSetup[] = TWO_CLUSTERS,
  options: StackOptions = {},
): Promise<WatchedStack> {
  const stack = await startOrchestrationStack([...clusters], options);
  const watched: WatchedStack = {
    ...stack,
    worker: await startWorker(stack.env),
    async restartWorker(env = {}) {
      await watched.worker.stop();
      watched.worker = await startWorker({ ...stack.env, ...env });
      return watched.worker;
    },
    async stop() {
      await watched.worker.stop();
      await stack.stop();
    },
  };
  await stack.startWatcher();
  return watched;
}

const quietLogger = {
  log() {},
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
};
