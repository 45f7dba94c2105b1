import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { openStore } from "../../storage/index.ts";
import { type RunningWorker, startWorker } from "../../workers/main.ts";
import { type S3Server, startS3Server } from "../harness/s3.ts";
import { type OrchestrationStack, startOrchestrationStack } from "./stack.ts";
import { provesTheRunStory } from "./story.ts";

// Trainers on contributors' clusters cannot see the orchestrator's disk: with the dataset and the
// run store in buckets (a real S3 server), a whole run goes through the buckets alone.

let s3: S3Server;
let stack: OrchestrationStack;
let worker: RunningWorker;

beforeAll(async () => {
  s3 = await startS3Server();
  stack = await startOrchestrationStack(
    [
      { name: "alpha", gpus: 4, ownerIndex: 0 },
      { name: "beta", gpus: 4, ownerIndex: 1 },
    ],
    { bucketsOn: s3 },
  );
  worker = await startWorker(stack.env);
  await stack.startWatcher();
});

afterAll(async () => {
  await worker?.stop();
  await stack?.stop();
  await s3?.stop();
});

describe("end to end with the run store in a bucket", () => {
  test("trainers stage the dataset and global checkpoint from the buckets and deliver there; every committed root is that of the checkpoint in the bucket, and the release publishes it", async () => {
    const { runId, status } = await provesTheRunStory(stack, 2);

    const runStore = openStore("s3://runs/store", { s3: s3.storeOptions });
    const keys = (await runStore.list(`runs/${runId}`)).map((o) => o.key);
    expect(keys).toContain(`runs/${runId}/init/manifest.json`);
    for (const round of [1, 2]) {
      expect(keys).toContain(`runs/${runId}/rounds/${round}/global/manifest.json`);
      const accepted = status.recent
        .find((r) => r.round === round)
        ?.replicas.filter((r) => r.phase === "accepted");
      for (const replica of accepted ?? [])
        expect(
          keys.some((k) => k.startsWith(`runs/${runId}/rounds/${round}/replicas/${replica.replica}-a`)),
        ).toBe(true);
    }
    // Nothing of the run went to a local run store: only the worker's staging area holds copies.
    expect(await readdir(join(stack.dir, "store"))).toEqual([]);
  });
});
