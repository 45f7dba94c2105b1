import { execFile } from "node:child_process";
import { cp, mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CheckpointManifest, readCheckpoint, writeCheckpoint } from "../../checkpoints/index.ts";
import { assignShards, type DatasetManifest, packDataset } from "../../datasets/index.ts";
import { MOMENTUM_PREFIX, outerStep } from "../../diloco/index.ts";
import {
  evaluateLoss,
  initialCheckpoint,
  modelValues,
  runSpecMetadata,
  toTensors,
} from "../../model/index.ts";
import { parseRunSpec, type RunSpec, runIdOf } from "../../spec/runSpec.ts";
import { trainerEnvVars } from "../../spec/trainerContract.ts";
import { TEST_IMAGE } from "../orchestration/fixtures.ts";

const repo = new URL("../../", import.meta.url).pathname;
const corpus = join(repo, "datasets/corpus");

interface TrainerRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node trainer/main.ts` as an orchestrator would, with the trainer contract's environment. */
function runTrainer(env: Record<string, string>): Promise<TrainerRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(repo, "trainer/main.ts")],
      { env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env }, timeout: 120_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const fileUri = (path: string) => `file://${path}`;

let dir: string;
let dataset: DatasetManifest;
let spec: RunSpec;
let global0: CheckpointManifest;
let started: number;
const replicaDirs = { r0: "", r1: "" };
const runs: Record<string, TrainerRun> = {};

function contract(replica: number, output: string, overrides: Record<string, string> = {}) {
  return {
    ...trainerEnvVars({
      DAOTRAIN_RUN_ID: runIdOf(spec),
      DAOTRAIN_ROUND: 0,
      DAOTRAIN_REPLICA: replica,
      DAOTRAIN_REPLICAS: 2,
      DAOTRAIN_INIT_URI: fileUri(join(dir, "global-0")),
      DAOTRAIN_INIT_ROOT: global0.root,
      DAOTRAIN_DATASET_URI: fileUri(join(dir, "dataset")),
      DAOTRAIN_DATASET_ROOT: dataset.root,
      DAOTRAIN_SHARDS: assignShards(dataset, replica, 2).join(","),
      DAOTRAIN_INNER_STEPS: spec.innerSteps,
      DAOTRAIN_SEED: 11,
      DAOTRAIN_OUTPUT_URI: fileUri(output),
    }),
    ...overrides,
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "daotrain-diloco-"));
  started = performance.now();
  dataset = await packDataset(corpus, join(dir, "dataset"), { shardTokens: 16_384 });
  spec = parseRunSpec({
    name: "two replicas, one round",
    model: {
      architecture: "transformer-lm",
      vocabSize: 256,
      contextLength: 64,
      dModel: 64,
      layers: 2,
      heads: 4,
    },
    dataset: dataset.root,
    rounds: 3,
    innerSteps: 50,
    replicasPerRound: 2,
    minReplicas: 2,
    gpusPerReplica: 0,
    gpuHourBudget: 1,
    rewardPerGpuHour: "1000",
    outer: {},
    inner: { optimizer: "adamw", lr: 3e-3, batch: 8 },
    validation: { batches: 4, tolerance: 0 },
    seed: 7,
    image: TEST_IMAGE,
  });
  const init = initialCheckpoint(spec);
  global0 = await writeCheckpoint(join(dir, "global-0"), init.tensors, init.fields);
  replicaDirs.r0 = join(dir, "replica-0");
  replicaDirs.r1 = join(dir, "replica-1");
  const [a, b] = await Promise.all([
    runTrainer(contract(0, replicaDirs.r0)),
    runTrainer(contract(1, replicaDirs.r1)),
  ]);
  runs.r0 = a!;
  runs.r1 = b!;
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("a DiLoCo round on the CPU", () => {
  it("trains two replicas from one global checkpoint on different shards, and the outer step lowers the held-out loss, in under a minute", async () => {
    for (const run of Object.values(runs)) {
      expect(run.stderr, run.stderr).toMatch(/trainer: backend (tfjs-node|wasm|cpu)/);
      expect(run.code, run.stderr).toBe(0);
    }
    const outputs = [runs.r0!, runs.r1!].map((r) => JSON.parse(r.stdout).manifest as CheckpointManifest);
    expect(outputs.map((m) => m.parentRoot)).toEqual([global0.root, global0.root]);
    expect(outputs.map((m) => m.metrics.steps)).toEqual([50, 50]);
    expect(outputs[0]!.root).not.toBe(outputs[1]!.root);

    const result = await outerStep({
      global: join(dir, "global-0"),
      globalRoot: global0.root,
      replicas: [
        { id: "r0", dir: replicaDirs.r0, root: outputs[0]!.root },
        { id: "r1", dir: replicaDirs.r1 },
      ],
      spec,
      datasetDir: join(dir, "dataset"),
    });
    expect(result.rejected).toEqual([]);
    expect(result.accepted).toEqual(["r0", "r1"]);
    const global1 = await result.write(join(dir, "global-1"));
    expect(global1).toMatchObject({ round: 1, parentRoot: global0.root, runId: global0.runId });

    const before = await evaluateLoss(join(dir, "global-0"), join(dir, "dataset"), spec.validation.batches);
    const after = await evaluateLoss(join(dir, "global-1"), join(dir, "dataset"), spec.validation.batches);
    const seconds = (performance.now() - started) / 1000;
    console.info(
      `held-out loss ${before.toFixed(3)} → ${after.toFixed(3)}; pack + 2×50 steps + outer step + evaluation in ${seconds.toFixed(1)} s`,
    );
    expect(after).toBeLessThan(before);
    expect(global1.metrics.valLoss).toBeCloseTo(after, 4);
    expect(seconds).toBeLessThan(60);

    const stored = await readCheckpoint(join(dir, "global-1"), { expectedRoot: global1.root });
    expect(Object.keys(stored.tensors).filter((n) => n.startsWith(MOMENTUM_PREFIX))).toHaveLength(
      Object.keys(modelValues(stored.tensors, spec)).length,
    );
  });

  it("rejects a replica with NaNs, one with a 100× pseudo-gradient and a tampered one, each with its reason", async () => {
    const good = await readCheckpoint(replicaDirs.r0);
    const theta = modelValues((await readCheckpoint(join(dir, "global-0"))).tensors, spec);
    const trained = modelValues(good.tensors, spec);
    const fields = {
      runId: good.manifest.runId,
      round: 0,
      parentRoot: global0.root,
      metrics: good.manifest.metrics,
      metadata: runSpecMetadata(spec),
    };

    const withNaN = Object.fromEntries(Object.entries(trained).map(([n, v]) => [n, Float32Array.from(v)]));
    withNaN["h.1.mlp.c_fc.weight"]![17] = Number.NaN;
    await writeCheckpoint(join(dir, "nan"), toTensors(withNaN, spec.model), fields);

    const scaled = Object.fromEntries(
      Object.entries(theta).map(([n, t]) => [n, t.map((x, i) => x - 100 * (x - trained[n]![i]!))]),
    );
    await writeCheckpoint(join(dir, "scaled"), toTensors(scaled, spec.model), fields);

    await cp(replicaDirs.r1, join(dir, "tampered"), { recursive: true });
    const handle = await open(join(dir, "tampered", "model.safetensors"), "r+");
    await handle.write(Buffer.of(0x7f), 0, 1, 4000);
    await handle.close();

    const result = await outerStep({
      global: join(dir, "global-0"),
      replicas: [
        { id: "r0", dir: replicaDirs.r0 },
        { id: "nan", dir: join(dir, "nan") },
        { id: "scaled", dir: join(dir, "scaled") },
        { id: "tampered", dir: join(dir, "tampered") },
        { id: "r1", dir: replicaDirs.r1 },
      ],
      spec,
      datasetDir: join(dir, "dataset"),
    });
    expect(result.accepted).toEqual(["r0", "r1"]);
    const reasons = Object.fromEntries(result.rejected.map((r) => [r.id, r]));
    expect(reasons.nan).toMatchObject({
      reason: "non-finite",
      message: expect.stringContaining("h.1.mlp.c_fc.weight[17] = NaN"),
    });
    expect(reasons.scaled).toMatchObject({
      reason: "norm-outlier",
      message: expect.stringMatching(/more than 50 AdamW steps at lr 0.003 can/),
    });
    expect(reasons.tampered).toMatchObject({
      reason: "hash-mismatch",
      message: expect.stringMatching(/model.safetensors: sha256 [0-9a-f]{64} does not match the manifest's/),
    });
    expect(result.rejected).toHaveLength(3);
  });

  it("refuses to train on a dataset whose root is not the one it was given, with a one-line reason", async () => {
    const run = await runTrainer(
      contract(0, join(dir, "refused"), { DAOTRAIN_DATASET_ROOT: `0x${"ee".repeat(32)}` }),
    );
    expect(run.code).toBe(3);
    expect(run.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(/^trainer: failed: dataset .* has root 0x[0-9a-f]{64}, expected 0xeeee/),
    ]);
  });

  it("refuses an environment that breaks the trainer contract, naming the variable", async () => {
    const run = await runTrainer(
      contract(0, join(dir, "refused"), { DAOTRAIN_SHARDS: "1;2", DAOTRAIN_INIT_URI: "s3://bucket/x" }),
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /^trainer: failed: invalid trainer environment: DAOTRAIN_SHARDS: must be comma-separated shard indices\n$/,
    );
  });
});
