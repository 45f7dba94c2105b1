import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { NativeConnection, Worker } from "@temporalio/worker";
import { connect } from "../governance/chain.ts";
import { readDeployment } from "../governance/deployment.ts";
import { siblingModule } from "../spec/sourceModule.ts";
import { openStore } from "../storage/index.ts";
import type { Activities } from "../workflows/activities.ts";
import { TASK_QUEUE } from "../workflows/signals.ts";
import { createActivities } from "./activities/index.ts";
import { openClient } from "./client.ts";
import { readClusters } from "./clusterDirectory.ts";
import { AesGcmCodec, encryptedDataConverter, failureConverterPath } from "./codec.ts";
import {
  confirmationsFor,
  operatorKeyOf,
  parseWorkerEnv,
  s3StoreOptions,
  trainerStoreEnv,
  type WorkerEnv,
} from "./config.ts";
import { type MetricsServer, metrics, startMetricsServer } from "./metrics.ts";
import { RunStore } from "./runStore.ts";
import { activityTransactionJournal, JOURNAL_HEARTBEAT_THROTTLE } from "./transactionJournal.ts";
import { ensureWatchers } from "./watchers.ts";

export const workflowsPath = fileURLToPath(siblingModule("../workflows/index", import.meta.url));
/** What `bundleWorkflowCode` needs to build the bundle a worker runs (DAOTRAIN_WORKFLOW_BUNDLE). */
export const workflowBundleOptions = { workflowsPath, failureConverterPath };
const projectRoot = fileURLToPath(new URL("..", import.meta.url));

export interface RunningWorker {
  worker: Worker;
  metricsServer: MetricsServer;
  /** Resolves when the worker has stopped (after `stop()` or a shutdown signal). */
  done: Promise<void>;
  /** Lets activities in flight finish (up to the grace time), then closes everything. */
  stop(): Promise<void>;
}

export interface StartWorkerOptions {
  /** Activities put in place of the real ones (a bench's stand-in for a part it does not measure). */
  replaceActivities?: Partial<Activities>;
}

/** Builds the worker from its environment and starts polling the daotrain task queue. */
export async function startWorker(env: WorkerEnv, options: StartWorkerOptions = {}): Promise<RunningWorker> {
  const codec = AesGcmCodec.fromSettings(env);
  const chain = await connect({
    deploymentFile: env.DAOTRAIN_DEPLOYMENT,
    rpcUrl: env.DAOTRAIN_RPC_URL,
    privateKey: await operatorKeyOf(env),
    transactions: {
      replaceAfterMs: env.DAOTRAIN_TX_REPLACE_AFTER_SECONDS * 1000,
      journal: activityTransactionJournal,
    },
  });
  const activities = createActivities({
    chain,
    confirmations: confirmationsFor(env, chain.chain.id),
    specReading: { s3: s3StoreOptions(env), allowFile: env.DAOTRAIN_ALLOW_FILE_SPECS },
    runStore: new RunStore(env.DAOTRAIN_STORE_URI, env.DAOTRAIN_WORK_DIR, { s3: s3StoreOptions(env) }),
    publicStore: openStore(env.DAOTRAIN_PUBLIC_STORE_URI, { s3: s3StoreOptions(env) }),
    storeEnv: trainerStoreEnv(env),
    configuredClusters: () => readClusters(env.DAOTRAIN_CLUSTERS),
    trainerCommand: env.DAOTRAIN_TRAINER_COMMAND,
    cwd: projectRoot,
    metrics,
  });
  const connection = await NativeConnection.connect(env.temporal.connection);
  const worker = await Worker.create({
    connection,
    namespace: env.temporal.namespace,
    taskQueue: TASK_QUEUE,
    ...(env.DAOTRAIN_WORKFLOW_BUNDLE
      ? { workflowBundle: { code: await readFile(env.DAOTRAIN_WORKFLOW_BUNDLE, "utf8") } }
      : { workflowsPath }),
    activities: { ...activities, ...options.replaceActivities },
    dataConverter: encryptedDataConverter(codec),
    defaultHeartbeatThrottleInterval: JOURNAL_HEARTBEAT_THROTTLE,
    shutdownGraceTime: "10 seconds",
  });
  const metricsServer = await startMetricsServer(env.DAOTRAIN_METRICS_PORT, env.DAOTRAIN_METRICS_HOST);
  const done = worker.run().finally(async () => {
    await metricsServer.close();
    await connection.close();
  });
  return {
    worker,
    metricsServer,
    done,
    async stop() {
      if (worker.getState() === "RUNNING") worker.shutdown();
      await done;
    },
  };
}

/** The worker as a process: runs until SIGINT or SIGTERM, then drains activities and exits. */
export async function runWorkerProcess(env: WorkerEnv): Promise<void> {
  const running = await startWorker(env);
  if (env.DAOTRAIN_START_WATCHERS) {
    const { client, close } = await openClient(env);
    try {
      const deployment = await readDeployment(env.DAOTRAIN_DEPLOYMENT);
      await ensureWatchers(client, {
        fromBlock: deployment.startBlock,
        pollSeconds: 5,
        healthIntervalSeconds: 30,
      });
    } finally {
      await close();
    }
  }
  const stop = (signal: NodeJS.Signals) => {
    process.stderr.write(`daotrain worker: ${signal}, finishing activities in flight\n`);
    void running.stop();
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  for (const cluster of await readClusters(env.DAOTRAIN_CLUSTERS)) {
    if (cluster.access.kind === "refused")
      process.stderr.write(`daotrain worker: cluster ${cluster.name} refused: ${cluster.access.reason}\n`);
  }
  process.stderr.write(
    `daotrain worker: polling task queue ${TASK_QUEUE}, metrics on ${running.metricsServer.url}\n`,
  );
  await running.done;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1])
  await runWorkerProcess(parseWorkerEnv());
