import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Connection } from "@temporalio/client";
import { freePort, type ManagedProcess, requireTool, startProcess, waitUntilReady } from "./process.ts";

export interface TemporalDevServer {
  /** host:port of the frontend gRPC service, for Connection / NativeConnection. */
  address: string;
  namespace: string;
  /** The web UI, when started with `ui: true`. */
  uiUrl: string | undefined;
  process: ManagedProcess;
  stop(): Promise<void>;
}

export interface StartTemporalOptions {
  ui?: boolean;
  namespace?: string;
  /** Keep history in this SQLite file instead of memory (survives a restart of the server). */
  dbFile?: string;
}

/** Starts `temporal server start-dev` on free loopback ports and waits for its frontend. */
export async function startTemporal(options: StartTemporalOptions = {}): Promise<TemporalDevServer> {
  const binary = process.env.TEMPORAL_CLI_PATH ?? (await requireTool("temporal"));
  const port = await freePort();
  const namespace = options.namespace ?? "default";
  const workDir = await mkdtemp(join(tmpdir(), "daotrain-temporal-"));
  const args = [
    "server",
    "start-dev",
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--namespace",
    namespace,
    "--log-level",
    "warn",
    "--db-filename",
    options.dbFile ?? join(workDir, "temporal.db"),
  ];
  let uiUrl: string | undefined;
  if (options.ui) {
    const uiPort = await freePort();
    args.push("--ui-port", String(uiPort));
    uiUrl = `http://127.0.0.1:${uiPort}`;
  } else {
    args.push("--headless");
  }
  const child = startProcess({ name: "temporal", command: binary, args, cwd: workDir });
  const address = `127.0.0.1:${port}`;
  await waitUntilReady(
    "temporal dev server",
    async () => {
      const connection = await Connection.connect({ address, connectTimeout: 1_000 });
      try {
        await connection.workflowService.describeNamespace({ namespace });
        return true;
      } finally {
        await connection.close();
      }
    },
    { timeoutMs: 60_000, intervalMs: 500, process: child },
  );
  return {
    address,
    namespace,
    uiUrl,
    process: child,
    async stop() {
      await child.stop();
      await rm(workDir, { recursive: true, force: true });
    },
  };
}
