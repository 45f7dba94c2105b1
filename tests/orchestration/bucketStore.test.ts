import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { getCheckpoint } from "../../governance/reads.ts";
import { parseRoundRecord } from "../../rounds/record.ts";
import { runWorkflowId } from "../../spec/workflowIds.ts";
import { openStore } from "../../storage/index.ts";
import type { RunStatus } from "../../workflows/types.ts";
import { type S3Server, startS3Server } from "../harness/s3.ts";
import { startWatchedStack, TWO_CLUSTERS, type WatchedStack } from "./stack.ts";
import { provesTheRunStory, workflowResult } from "./story.ts";

// Trainers on contributors' clusters cannot see the orchestrator's disk: with the dataset and the
// run store in buckets (a real S3 server), a whole run goes through the buckets alone.

let s3: S3Server;
let stack: WatchedStack;

beforeAll(async () => {
  s3 = await startS3Server();
  stack = await startWatchedStack(TWO_CLUSTERS, { bucketsOn: s3 });
});

afterAll(async () => {
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
      const committed = await getCheckpoint(stack.dao.operator, runId, BigInt(round));
      if (!committed.committed) throw new Error(`round ${round} is not committed`);
      // The record the commit names, under its hash; it names each output under its contributor's
      // own prefix (which a bucket policy can give it alone).
      expect(keys).toContain(stack.runStore.recordKey(runId, round, committed.recordHash));
      const record = parseRoundRecord(
        await runStore.getBytes(stack.runStore.recordKey(runId, round, committed.recordHash)),
      );
      const accepted = status.recent
        .find((r) => r.round === round)
        ?.replicas.filter((r) => r.phase === "accepted");
      for (const replica of accepted ?? []) {
        const prefix = `s3://runs/store/runs/${runId}/rounds/${round}/clusters/${replica.cluster}/replicas/${replica.replica}-a`;
        const recorded = record.replicas.find((r) => r.replica === replica.replica);
        expect(recorded?.outputUri.startsWith(prefix)).toBe(true);
      }
    }
    // The release of round 2 ended the retention of both rounds' replica outputs.
    expect(keys.filter((k) => k.includes("/clusters/"))).toEqual([]);
    // Nothing of the run went to a local run store: only the worker's staging area holds copies.
    expect(await readdir(join(stack.dir, "store"))).toEqual([]);
  });

  test("a run with outer.compression: int8 goes the same way: replicas deliver int8 pseudo-gradients to the bucket, far smaller than float32 parameters, and every one is accepted", async () => {
    let shards: { key: string; bytes: number }[] = [];
    const { status } = await provesTheRunStory(
      stack,
      2,
      { outer: { compression: "int8" } },
      async (runId) => {
        const objects = await openStore("s3://runs/store", { s3: s3.storeOptions }).list(
          `runs/${runId}/rounds/1`,
        );
        shards = objects.filter((o) => o.key.endsWith(".safetensors"));
      },
    );
    for (const round of status.recent) {
      expect(round.replicas.map((r) => r.phase)).toEqual(round.replicas.map(() => "accepted"));
    }
    const global = shards.filter((o) => o.key.includes("/global/"));
    const replicas = shards.filter((o) => o.key.includes("/replicas/"));
    expect(global).toHaveLength(1);
    expect(replicas.length).toBeGreaterThanOrEqual(4);
    // The global checkpoint holds θ and its momentum in float32, two model copies; a replica's
    // int8 form a quarter of one (plus its scales and the header, a large share of this tiny model).
    for (const replica of replicas) expect(replica.bytes / global[0]!.bytes).toBeLessThan(1 / 6);
  });

  test("a contributor given store keys of its own reaches the bucket with those alone: keys the store refuses fail its replicas, and the round completes on the other's", async () => {
    const refusedKeys = {
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: "not-the-secret",
    };
    await stack.writeClusters([
      { ...stack.localCluster("alpha"), storeEnv: refusedKeys },
      stack.localCluster("beta"),
    ]);
    try {
      const runId = await stack.approveRun(stack.spec({ rounds: 1, replicasPerRound: 4, minReplicas: 2 }));
      const status = await workflowResult<RunStatus>(stack.client, runWorkflowId(runId));
      expect(status).toMatchObject({ state: "completed", committedRounds: 1 });
      const replicas = status.recent[0]?.replicas ?? [];
      const alpha = replicas.filter((r) => r.cluster === "alpha");
      expect(alpha.length).toBeGreaterThan(0);
      expect(alpha.every((r) => r.phase === "failed")).toBe(true);
      expect(
        replicas.filter((r) => r.cluster === "beta" && r.phase === "accepted").length,
      ).toBeGreaterThanOrEqual(2);
    } finally {
      await stack.writeClusters([stack.localCluster("alpha"), stack.localCluster("beta")]);
    }
  });
});
