import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { replicaBounds } from "../../diloco/index.ts";
import { computeCredits } from "../../governance/reads.ts";
import { runWorkflowId } from "../../spec/workflowIds.ts";
import type { RunStatus } from "../../workflows/types.ts";
import type { ManagedProcess } from "../harness/process.ts";
import { type S3Server, startS3Server } from "../harness/s3.ts";
import { type OrchestrationStack, startOrchestrationStack } from "../orchestration/stack.ts";
import { workflowResult } from "../orchestration/story.ts";
import { type CountingProxy, startCountingProxy } from "./countingProxy.ts";

// What a contributor can put in the run store's bucket instead of its replica's output, through
// the real worker (its own process), Temporal, the DAO on anvil and a real S3 server (versitygw):
// nothing at all, a truncated shard, a wrong root, an invalid manifest (12.5); a manifest claiming
// a 10 GiB shard over a 64 MiB object, one listing 100,000 shards, a shard with a 100 MB header,
// shards too small for the model (12.4). The worker reaches the bucket through a proxy that counts
// what it fetches; the trainers reach it directly. Attacks: tests/adversarial/hostileTrainer.ts.

let s3: S3Server;
let stack: OrchestrationStack;
let proxy: CountingProxy;
let worker: ManagedProcess;
const MiB = 2 ** 20;

beforeAll(async () => {
  s3 = await startS3Server();
  stack = await startOrchestrationStack([{ name: "alpha", gpus: 11, ownerIndex: 0 }], { bucketsOn: s3 });
  proxy = await startCountingProxy(s3.endpoint);
  worker = await stack.startWorkerProcess({
    AWS_ENDPOINT_URL_S3: proxy.url,
    DAOTRAIN_TRAINER_COMMAND: JSON.stringify(["node", "tests/adversarial/hostileTrainer.ts"]),
  });
  await stack.startWatcher();
});

afterAll(async () => {
  await worker?.stop();
  await proxy?.stop();
  await stack?.stop();
  await s3?.stop();
});

const faults: Record<number, string> = {
  3: "missing",
  4: "truncated",
  5: "wrong-root",
  6: "invalid-manifest",
  7: "huge-shard",
  8: "many-shards",
  9: "big-header",
  10: "too-small",
};

/** The process's peak resident memory so far (VmHWM), in bytes. */
async function peakRss(pid: number): Promise<number> {
  const line = (await readFile(`/proc/${pid}/status`, "utf8"))
    .split("\n")
    .find((l) => l.startsWith("VmHWM:"));
  return Number(line?.match(/\d+/)?.[0]) * 1024;
}

async function bytesUnder(dir: string): Promise<number> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  const sizes = await Promise.all(
    entries
      .filter((e) => e.isFile())
      .map((e) =>
        stat(join(e.parentPath, e.name)).then(
          (s) => s.size,
          () => 0,
        ),
      ),
  );
  return sizes.reduce((a, b) => a + b, 0);
}

/** One run of a round of 11 replicas with these faults: its status and what it cost the worker. */
async function round(faultsByReplica: Record<number, string>) {
  await stack.writeClusters([
    {
      ...stack.localCluster("alpha", { DAOTRAIN_TEST_FAULTS: JSON.stringify(faultsByReplica) }),
      storeEnv: {
        AWS_ENDPOINT_URL_S3: s3.endpoint,
        AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
      },
    },
  ]);
  const spec = stack.spec({ rounds: 1, replicasPerRound: 11, minReplicas: 2 });
  const fetchedBefore = proxy.fetched();
  let diskPeak = 0;
  const sampler = setInterval(async () => {
    diskPeak = Math.max(diskPeak, await bytesUnder(stack.env.DAOTRAIN_WORK_DIR));
  }, 100);
  try {
    const runId = await stack.approveRun(spec);
    const status = await workflowResult<RunStatus>(stack.client, runWorkflowId(runId), 400_000);
    return {
      spec,
      runId,
      status,
      fetched: proxy.fetched() - fetchedBefore,
      diskPeak,
      peakRss: await peakRss(worker.pid),
    };
  } finally {
    clearInterval(sampler);
  }
}

describe("replica outputs in a bucket", () => {
  test("missing, truncated, wrong-rooted, invalid and oversized outputs are each rejected with their reason, having cost the worker no more than an honest round; the round goes on with the others", async () => {
    const honest = await round({});
    expect(honest.status.recent[0]!.replicas.every((r) => r.phase === "accepted")).toBe(true);
    const { spec, runId, status, fetched, diskPeak, peakRss: rss } = await round(faults);

    expect(status).toMatchObject({ state: "completed", committedRounds: 1 });
    const rows = status.recent[0]!.replicas;
    for (const r of rows)
      console.info(`replica ${r.replica} (${faults[r.replica] ?? "honest"}): ${r.phase} ${r.reason ?? ""}`);
    expect(Object.fromEntries(rows.map((r) => [r.replica, r.rejection ?? r.phase]))).toEqual({
      0: "accepted",
      1: "accepted",
      2: "accepted",
      3: "unreadable",
      4: "hash-mismatch",
      5: "hash-mismatch",
      6: "unreadable",
      7: "oversized",
      8: "oversized",
      9: "oversized",
      10: "shape",
    });
    const reasonOf = (i: number) => rows.find((r) => r.replica === i)?.reason ?? "";
    expect(reasonOf(3)).toMatch(/no object at .*manifest.json.*the replica delivered nothing/);
    expect(reasonOf(7)).toMatch(/claims 10737418240 bytes/);
    expect(reasonOf(8)).toMatch(/is 13\d{6} bytes, more than the \d+ allowed for a manifest/);
    expect(reasonOf(9)).toMatch(/claims 100000008 bytes/);

    // Paid: the three honest replicas, nothing else.
    const accepted = rows.filter((r) => r.phase === "accepted");
    const credits = await computeCredits(stack.dao.operator, runId);
    expect(credits.reduce((n, c) => n + BigInt(c.gpuSeconds), 0n)).toBe(
      BigInt(accepted.reduce((n, r) => n + (r.gpuSeconds ?? 0), 0)),
    );

    // What the attacks cost the worker, beside an honest round of as many replicas: the bucket
    // held a 64 MiB, a 13 MB and a 100 MB trap; the worker fetched only the honest replicas, small
    // manifests, θ and the scoring shards, and its memory and disk did not grow past the honest round's.
    const bounds = replicaBounds(spec);
    console.info(
      `worker fetched ${(fetched / MiB).toFixed(2)} MiB (honest round: ${(honest.fetched / MiB).toFixed(2)} MiB), ` +
        `staged at most ${(diskPeak / MiB).toFixed(2)} MiB on disk (honest: ${(honest.diskPeak / MiB).toFixed(2)} MiB), ` +
        `peak RSS ${(rss / MiB).toFixed(1)} MiB (after the honest round: ${(honest.peakRss / MiB).toFixed(1)} MiB); ` +
        `a replica's tensors take at most ${(bounds.maxDataBytes / 1024).toFixed(0)} KiB`,
    );
    expect(fetched).toBeLessThan(honest.fetched);
    expect(diskPeak).toBeLessThanOrEqual(honest.diskPeak + MiB);
    // Peak RSS is a high-water mark that garbage collection moves by tens of MiB between rounds;
    // holding the smallest trap (the 64 MiB object, or the 13 MB manifest parsed into 100,000
    // entries) would move it by more than half that.
    expect(rss - honest.peakRss).toBeLessThan(32 * MiB);
  });
});
