import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Client, Connection } from "@temporalio/client";
import { DefaultLogger, Runtime } from "@temporalio/worker";
import { stringify as toYaml } from "yaml";
import { type ConsoleServer, startConsoleServer } from "../console/server/server.ts";
import { connect } from "../governance/chain.ts";
import type { ClusterEntry } from "../workers/clusterDirectory.ts";
import { AesGcmCodec, encryptedDataConverter } from "../workers/codec.ts";
import { parseWorkerEnv } from "../workers/config.ts";
import { type RunningWorker, startWorker } from "../workers/main.ts";
import { GOVERNANCE_WATCH_ID, TASK_QUEUE } from "../workflows/signals.ts";
import type { RunOptions } from "../workflows/trainingRun.ts";
import { type Anvil, startAnvil } from "./anvil.ts";
import { deployDao, type LocalDao } from "./dao.ts";
import { startTemporal, type TemporalDevServer } from "./temporal.ts";

export interface LocalStackOptions {
  /** Everything the stack writes lives here: deployment, stores, executors' outputs, env file. */
  workDir: string;
  /** Serve Temporal's web UI (the demo does; tests don't need it). */
  ui?: boolean;
  /** Serve the members' console (`daotrain console`) against this stack. */
  console?: boolean;
  /** Port of the worker's /metrics; 0 picks a free one. */
  metricsPort?: number;
  /** Options for every run the governance watcher starts (deadlines, heartbeats). */
  runOptions?: Partial<RunOptions>;
  /** One line per step, for a person watching. */
  log?: (line: string) => void;
}

/**
 * Replicas on this machine finish in minutes: a 15-minute deadline (not the 6 hours a real
 * cluster gets) keeps one round's worst case (replicas × GPUs × deadline) within the demo's budget.
 */
const LOCAL_RUN_OPTIONS: Partial<RunOptions> = { replicaDeadlineSeconds: 900 };

/**
 * The embedded defaults on one machine, running: anvil with the DAO deployed, Temporal's dev
 * server, a daotrain worker polling it (local executor and/or Kubernetes clusters from the
 * clusters file), and the governance watcher that turns DAO decisions into workflows.
 */
export interface LocalStack {
  workDir: string;
  anvil: Anvil;
  temporal: TemporalDevServer;
  dao: LocalDao;
  client: Client;
  worker: RunningWorker;
  /** The members' console, when asked for. */
  console: ConsoleServer | undefined;
  /** The environment a worker or CLI verb needs to join this stack (secrets included). */
  env: Record<string, string>;
  /** `export NAME=value` lines of `env`, also written to `<workDir>/env.sh`. */
  envFile: string;
  /** Where the release workflow publishes checkpoints. */
  publicStoreUri: string;
  /** Replaces the clusters the worker may launch on. */
  setClusters(entries: ClusterEntry[]): Promise<void>;
  /** Stops `stop` with the stack (before what the stack itself started). */
  adopt(stop: () => Promise<unknown>): void;
  stop(): Promise<void>;
}

/**
 * Sends the Temporal SDK's log (every retried activity, every worker state change) to a file, so
 * that a person watching the demo reads the story, not the machinery. The runtime is installed
 * once per process; where something already installed it, its choice stands.
 */
function logWorkerTo(file: string): void {
  const out = createWriteStream(file, { flags: "a" });
  try {
    Runtime.install({
      logger: new DefaultLogger("INFO", (entry) => {
        out.write(
          `${new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString()} ${entry.level} ${entry.message} ${JSON.stringify(entry.meta ?? {})}\n`,
        );
      }),
    });
  } catch {
    out.end();
  }
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const log = options.log ?? (() => {});
  const { workDir } = options;
  await mkdir(join(workDir, "store"), { recursive: true });
  const stoppers: Array<() => Promise<unknown>> = [];
  const stopAll = async () => {
    for (const stop of stoppers.reverse()) await stop().catch(() => {});
  };
  try {
    log("starting anvil and the Temporal dev server");
    const [anvil, temporal] = await Promise.all([
      startAnvil({ accounts: 12 }),
      startTemporal({ ui: options.ui ?? false }),
    ]);
    stoppers.push(
      () => anvil.stop(),
      () => temporal.stop(),
    );
    log(`chain ${anvil.rpcUrl} (id ${anvil.chainId}), Temporal ${temporal.address}`);

    log("deploying Aragon OSx, the TokenVoting DAO of three members and daotrain's contracts");
    const deploymentFile = join(workDir, "deployment.json");
    const dao = await deployDao(anvil, deploymentFile);
    log(`DAO ${dao.deployment.dao.address} (${dao.deployment.dao.ensName})`);

    const clustersFile = join(workDir, "clusters.yaml");
    const setClusters = (entries: ClusterEntry[]) => writeFile(clustersFile, toYaml({ clusters: entries }));
    await setClusters([]);

    const codecKey = randomBytes(32).toString("base64");
    const publicStoreUri = pathToFileURL(join(workDir, "public")).href;
    const env: Record<string, string> = {
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_NAMESPACE: temporal.namespace,
      DAOTRAIN_CODEC_KEY: codecKey,
      DAOTRAIN_DEPLOYMENT: deploymentFile,
      DAOTRAIN_RPC_URL: anvil.rpcUrl,
      DAOTRAIN_OPERATOR_KEY: dao.operatorKey,
      DAOTRAIN_STORE_URI: pathToFileURL(join(workDir, "store")).href,
      DAOTRAIN_WORK_DIR: join(workDir, "worker"),
      DAOTRAIN_PUBLIC_STORE_URI: publicStoreUri,
      DAOTRAIN_CLUSTERS: clustersFile,
      DAOTRAIN_METRICS_PORT: String(options.metricsPort ?? 0),
      // One machine: a spec published in the run store (a local directory) is readable here.
      DAOTRAIN_ALLOW_FILE_SPECS: "true",
    };
    const envFile = join(workDir, "env.sh");
    await writeFile(
      envFile,
      `${Object.entries(env)
        .map(([k, v]) => `export ${k}='${v}'`)
        .join("\n")}\n`,
      { mode: 0o600 },
    );

    log(`starting the daotrain worker (its log: ${join(workDir, "worker.log")})`);
    logWorkerTo(join(workDir, "worker.log"));
    const worker = await startWorker(parseWorkerEnv(env));
    stoppers.push(() => worker.stop());

    const connection = await Connection.connect({ address: temporal.address });
    stoppers.push(() => connection.close());
    const client = new Client({
      connection,
      namespace: temporal.namespace,
      dataConverter: encryptedDataConverter(new AesGcmCodec(Buffer.from(codecKey, "base64"))),
    });
    await client.workflow.start("governanceWatch", {
      taskQueue: TASK_QUEUE,
      workflowId: GOVERNANCE_WATCH_ID,
      workflowIdConflictPolicy: "USE_EXISTING",
      args: [
        {
          fromBlock: dao.deployment.startBlock,
          pollSeconds: 1,
          runOptions: { ...LOCAL_RUN_OPTIONS, ...options.runOptions },
        },
      ],
    });
    log("governance watcher following the chain");

    let consoleServer: ConsoleServer | undefined;
    if (options.console) {
      // The console reads with a keyless session and the stack's Temporal client (the codec key
      // stays in this process); browsers reach anvil directly, on loopback.
      consoleServer = await startConsoleServer({
        sources: {
          governance: await connect({ deployment: dao.deployment }),
          temporal: client,
          storeOptions: {},
        },
        browserRpcUrl: anvil.rpcUrl,
        log,
      });
      stoppers.push(() => consoleServer?.stop() ?? Promise.resolve());
      log(`members' console ${consoleServer.url}`);
    }

    return {
      workDir,
      anvil,
      temporal,
      dao,
      client,
      worker,
      console: consoleServer,
      env,
      envFile,
      publicStoreUri,
      setClusters,
      adopt: (stop) => {
        stoppers.push(stop);
      },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
