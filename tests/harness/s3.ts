import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CreateBucketCommand, ListBucketsCommand, S3Client } from "@aws-sdk/client-s3";
import type { S3StoreOptions } from "../../storage/index.ts";
import { freePort, type ManagedProcess, requireTool, startProcess, waitUntilReady } from "./process.ts";

/** A real S3-compatible server (versitygw over a temp directory) on a free loopback port. */
export interface S3Server {
  endpoint: string;
  /**
   * With `iam: true`: versitygw's IAM service, speaking the AWS IAM API (users, access keys, inline
   * policies) with the root keys; the gateway enforces each user's policy.
   */
  iamEndpoint: string | undefined;
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

export interface S3ServerOptions {
  /** Also run versitygw's IAM service, so that tests can give users keys of their own and policies. */
  iam?: boolean;
}

const rootArgs = (credentials: S3Server["credentials"], port: number) => [
  "--access",
  credentials.accessKeyId,
  "--secret",
  credentials.secretAccessKey,
  "--port",
  `127.0.0.1:${port}`,
  "--quiet",
];

/** versitygw's IAM service over a directory, its private endpoint (for the gateway) a unix socket. */
async function launchIam(binary: string, dir: string, credentials: S3Server["credentials"]) {
  const port = await freePort();
  const socket = join(dir, "iam.sock");
  const data = join(dir, "users");
  await mkdir(data);
  const child = startProcess({
    name: "versitygw-iam",
    command: binary,
    args: [
      ...rootArgs(credentials, port),
      "--health",
      "/healthz",
      "iam",
      "--dir",
      data,
      "--private-ports",
      socket,
    ],
  });
  const endpoint = `http://127.0.0.1:${port}`;
  await waitUntilReady(
    "versitygw IAM",
    async () => ((await fetch(`${endpoint}/healthz`)).ok ? true : undefined),
    {
      timeoutMs: 30_000,
      process: child,
    },
  ).catch(async (error: unknown) => {
    await child.stop();
    throw error;
  });
  return { child, endpoint, socket };
}

async function launch(
  binary: string,
  port: number,
  dataDir: string,
  credentials: S3Server["credentials"],
  iamSocket: string | undefined,
) {
  const child = startProcess({
    name: "versitygw",
    command: binary,
    args: [
      ...rootArgs(credentials, port),
      ...(iamSocket ? ["--iam-standalone-endpoint", iamSocket] : []),
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

export async function startS3Server(options: S3ServerOptions = {}): Promise<S3Server> {
  const binary = await requireTool("versitygw");
  const port = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), "daotrain-s3-"));
  const iamDir = options.iam ? await mkdtemp(join(tmpdir(), "daotrain-s3-iam-")) : undefined;
  const credentials = { accessKeyId: "daotrain-test", secretAccessKey: randomBytes(16).toString("hex") };
  let iam: Awaited<ReturnType<typeof launchIam>> | undefined;
  let running: Awaited<ReturnType<typeof launch>>;
  const removeDirs = () =>
    Promise.all(
      [dataDir, iamDir].map((dir) => (dir ? rm(dir, { recursive: true, force: true }) : undefined)),
    );
  try {
    iam = iamDir ? await launchIam(binary, iamDir, credentials) : undefined;
    running = await launch(binary, port, dataDir, credentials, iam?.socket);
  } catch (error) {
    await iam?.child.stop();
    await removeDirs();
    throw error;
  }
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    iamEndpoint: iam?.endpoint,
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
      running = await launch(binary, port, dataDir, credentials, iam?.socket);
    },
    async stop() {
      running.client.destroy();
      await running.child.stop();
      await iam?.child.stop();
      await removeDirs();
    },
  };
}
