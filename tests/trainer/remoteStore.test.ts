import { execFile } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CheckpointManifest, verifyCheckpoint, writeCheckpoint } from "../../checkpoints/index.ts";
import { assignShards, type DatasetManifest, packDataset } from "../../datasets/index.ts";
import { initialCheckpoint } from "../../model/index.ts";
import { type RunSpec, runIdOf } from "../../spec/runSpec.ts";
import { trainerEnvVars } from "../../spec/trainerContract.ts";
import { openStore, putDirectory, stageDirectory } from "../../storage/index.ts";
import { type S3Server, startS3Server } from "../harness/s3.ts";
import { tinySpec } from "../orchestration/fixtures.ts";

// A trainer on a contributor's cluster cannot see the orchestrator's disk: it reads its inputs
// from the run store's bucket and delivers its checkpoint there, with only the AWS variables.

const repo = new URL("../../", import.meta.url).pathname;

let server: S3Server;
let dir: string;
let dataset: DatasetManifest;
let spec: RunSpec;
let init: CheckpointManifest;

function trainer(env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(repo, "trainer/main.ts")],
      {
        env: { PATH: process.env.PATH ?? "", HOME: dir, TMPDIR: join(dir, "pod-tmp"), ...env },
        timeout: 120_000,
      },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function contract(output: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    ...trainerEnvVars({
      DAOTRAIN_RUN_ID: runIdOf(spec),
      DAOTRAIN_ROUND: 0,
      DAOTRAIN_REPLICA: 0,
      DAOTRAIN_REPLICAS: 2,
      DAOTRAIN_INIT_URI: "s3://runs/store/init",
      DAOTRAIN_INIT_ROOT: init.root,
      DAOTRAIN_DATASET_URI: "s3://datasets/fables",
      DAOTRAIN_DATASET_ROOT: dataset.root,
      DAOTRAIN_SHARDS: assignShards(dataset, 0, 2).join(","),
      DAOTRAIN_INNER_STEPS: spec.innerSteps,
      DAOTRAIN_SEED: 3,
      DAOTRAIN_OUTPUT_URI: output,
    }),
    AWS_ENDPOINT_URL_S3: server.endpoint,
    AWS_ACCESS_KEY_ID: server.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
    ...overrides,
  };
}

beforeAll(async () => {
  server = await startS3Server();
  await Promise.all([server.createBucket("runs"), server.createBucket("datasets")]);
  dir = await mkdtemp(join(tmpdir(), "daotrain-trainer-s3-"));
  dataset = await packDataset(join(repo, "datasets/corpus"), join(dir, "dataset"), { shardTokens: 8192 });
  spec = tinySpec({ dataset: dataset.root, innerSteps: 5 });
  const { tensors, fields } = initialCheckpoint(spec);
  init = await writeCheckpoint(join(dir, "init"), tensors, fields);
  const s3 = { s3: server.storeOptions };
  await putDirectory(openStore("s3://datasets/fables", s3), join(dir, "dataset"), "");
  await putDirectory(openStore("s3://runs/store/init", s3), join(dir, "init"), "");
});

afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("a trainer whose run store is a bucket", () => {
  it("stages and verifies its inputs from the bucket, delivers its checkpoint there, leaves nothing in its temporary directory, and a retried replica finds it delivered", async () => {
    const output = "s3://runs/store/rounds/1/replicas/0-a0";
    const first = await trainer(contract(output));
    expect(first.code, first.stderr).toBe(0);
    const manifest = JSON.parse(first.stdout).manifest as CheckpointManifest;
    expect(manifest.parentRoot).toBe(init.root);

    const fetched = await stageDirectory({
      uri: output,
      root: manifest.root,
      cacheDir: join(dir, "check"),
      store: { s3: server.storeOptions },
    });
    expect((await verifyCheckpoint(fetched, manifest.root)).problems).toEqual([]);

    // What it staged goes with it: nothing of the replica is left in its temporary directory.
    expect(await readdir(join(dir, "pod-tmp"))).toEqual([]);

    const retried = await trainer(contract(output));
    expect(retried.code, retried.stderr).toBe(0);
    expect(retried.stderr).toMatch(/already holds this replica's checkpoint/);
    expect(JSON.parse(retried.stdout).manifest.root).toBe(manifest.root);
  });

  it("refuses, with exit 3, an initial checkpoint in the bucket that is not the root it was given", async () => {
    const wrongRoot = `0x${"ab".repeat(32)}`;
    const run = await trainer(
      contract("s3://runs/store/rounds/1/replicas/1-a0", { DAOTRAIN_INIT_ROOT: wrongRoot }),
    );
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(
      /trainer: failed: DAOTRAIN_INIT_URI s3:\/\/runs\/store\/init: .*expected 0xabab/,
    );
  });
});
