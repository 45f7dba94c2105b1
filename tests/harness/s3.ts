import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CreateBucketCommand, ListBucketsCommand, S3Client } from "@aws-sdk/client-s3";
import type { S3StoreOptions } from "../../storage/index.ts";
import { freePort, type ManagedProcess, requireTool, startProcess, waitUntilReady } from "./process.ts";

/** A real S3-compatible server (versitygw over a temp directory) on a free loopback port. */
export interface S3Server {
  endpoint: string;
  /** The directory the server stores objects in: `<dataDir>/<bucket>/<key>`. */
  dataDir: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Options for `openStore`/`S3Store` that reach this server. */
  storeOptions: S3StoreOptions;
  readonly process: ManagedProcess;
  createBucket(name: string): Promise<void>;
  /** Kills the server and starts it again on the same port and data after `downMs`. */
  restart(downMs?: number): Promise<void>;
  /** Stops the server and deletes its data. */
  stop(): Promise<void>;
}

async function launch(binary: string, port: number, dataDir: string, credentials: S3Server["credentials"]) {
  const child = startProcess({
    name: "versitygw",
    command: binary,
    args: [
      "--access",
      credentials.accessKeyId,
      "--secret",
      credentials.secretAccessKey,
      "--port",
      `127.0.0.1:${port}`,
      "--quiet",
      "posix",
      dataDir,
    ],
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    endpoint,
    region: "us-east-1",
    credentials,
    forcePathStyle: true,
    maxAttempts: 1,
  });
  try {
    await waitUntilReady(
      "versitygw",
      async () => ((await client.send(new ListBucketsCommand({}))) ? true : undefined),
      {
        timeoutMs: 30_000,
        process: child,
      },
    );
  } catch (error) {
    client.destroy();
    await child.stop();
    throw error;
  }
  return { child, client };
}

export async function startS3Server(): Promise<S3Server> {
  const binary = await requireTool("versitygw");
  const port = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), "daotrain-s3-"));
  const credentials = { accessKeyId: "daotrain-test", secretAccessKey: randomBytes(16).toString("hex") };
  let running: Awaited<ReturnType<typeof launch>>;
  try {
    running = await launch(binary, port, dataDir, credentials);
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    dataDir,
    credentials,
    storeOptions: { endpoint, region: "us-east-1", credentials, forcePathStyle: true },
    get process() {
      return running.child;
    },
    async createBucket(name) {
      await running.client.send(new CreateBucketCommand({ Bucket: name }));
    },
    async restart(downMs = 0) {
      running.client.destroy();
      await running.child.stop();
      await sleep(downMs);
      running = await launch(binary, port, dataDir, credentials);
    },
    async stop() {
      running.client.destroy();
      await running.child.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
