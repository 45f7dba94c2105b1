import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { NativeConnection, Worker } from "@temporalio/worker";
import { connect } from "../governance/chain.ts";
import { readDeployment } from "../governance/deployment.ts";
import { openStore } from "../storage/index.ts";
import type { Activities } from "../workflows/activities.ts";
import { TASK_QUEUE } from "../workflows/signals.ts";
import { createActivities } from "./activities/index.ts";
import { openClient } from "./client.ts";
import { clusterStoreEnv, readClusters } from "./clusterDirectory.ts";
import { AesGcmCodec, encryptedDataConverter } from "./codec.ts";
import { parseWorkerEnv, s3StoreOptions, trainerStoreEnv, type WorkerEnv } from "./config.ts";
import { type MetricsServer, metrics, startMetricsServer } from "./metrics.ts";
import { RunStore } from "./runStore.ts";
import { ensureWatchers } from "./watchers.ts";

export const workflowsPath = fileURLToPath(new URL("../workflows/index.ts", import.meta.url));
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
  const codec = new AesGcmCodec(Buffer.from(env.DAOTRAIN_CODEC_KEY, "base64"));
  const chain = await connect({
    deploymentFile: env.DAOTRAIN_DEPLOYMENT,
    rpcUrl: env.DAOTRAIN_RPC_URL,
    privateKey: env.DAOTRAIN_OPERATOR_KEY,
  });
  const activities = createActivities({
    chain,
    runStore: new RunStore(env.DAOTRAIN_STORE_URI, env.DAOTRAIN_WORK_DIR, { s3: s3StoreOptions(env) }),
    publicStore: openStore(env.DAOTRAIN_PUBLIC_STORE_URI, { s3: s3StoreOptions(env) }),
    storeEnv: trainerStoreEnv(env),
    configuredClusters: () => readClusters(env.DAOTRAIN_CLUSTERS),
    clusterStoreEnv: (name) => clusterStoreEnv(env.DAOTRAIN_CLUSTERS, name),
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
  process.stderr.write(
    `daotrain worker: polling task queue ${TASK_QUEUE}, metrics on ${running.metricsServer.url}\n`,
  );
  await running.done;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1])
  await runWorkerProcess(parseWorkerEnv());
