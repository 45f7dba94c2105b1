import { cp, open, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CheckpointManifest,
  floatTensor,
  hashCheckpoint,
  readCheckpoint,
  toFloat32,
  writeCheckpoint,
} from "../../checkpoints/index.ts";
import { MOMENTUM_PREFIX, type ReplicaInput } from "../../diloco/index.ts";
import { evaluateLoss, modelValues, runSpecMetadata, toTensors } from "../../model/index.ts";
import type { RunSpec } from "../../spec/runSpec.ts";
import { type OuterStepRequest, rederive, rederiveElsewhere } from "./rederiveRound.ts";
import {
  around,
  freeRiders,
  reasonsOf,
  refusedAs,
  runTrainer,
  stepPerCoordinate,
  type TrainedRound,
  type TrainerRun,
  trainedRound,
} from "./trainedRound.ts";

let round: TrainedRound;
let dir: string;
let spec: RunSpec;
let global0: CheckpointManifest;
const replicaDirs = { r0: "", r1: "" };
const runs: Record<string, TrainerRun> = {};

beforeAll(async () => {
  round = await trainedRound();
  ({ dir, spec, global0 } = round);
  [replicaDirs.r0, replicaDirs.r1] = round.replicaDirs;
  [runs.r0, runs.r1] = round.runs;
});
afterAll(async () => {
  await round?.remove();
});

const step = (...args: Parameters<TrainedRound["step"]>) => round.step(...args);
const writeReplica = (...args: Parameters<TrainedRound["writeReplica"]>) => round.writeReplica(...args);
const valuesOf = (checkpointDir: string) => round.valuesOf(checkpointDir);
const contract = (...args: Parameters<TrainedRound["contract"]>) => round.contract(...args);

describe("a DiLoCo round on the CPU", () => {
  it("trains two replicas from one global checkpoint on different shards, and the outer step lowers the held-out loss", async () => {
    for (const run of Object.values(runs)) {
      expect(run.stderr, run.stderr).toMatch(/trainer: backend (tfjs-node|wasm|cpu)/);
      expect(run.code, run.stderr).toBe(0);
    }
    const outputs = [runs.r0!, runs.r1!].map((r) => JSON.parse(r.stdout).manifest as CheckpointManifest);
    expect(outputs.map((m) => m.parentRoot)).toEqual([global0.root, global0.root]);
    expect(outputs.map((m) => m.metrics.steps)).toEqual([50, 50]);
    expect(outputs[0]!.root).not.toBe(outputs[1]!.root);

    const result = await step(
      [
        { id: "r0", index: 0, dir: replicaDirs.r0, root: outputs[0]!.root },
        { id: "r1", index: 1, dir: replicaDirs.r1 },
      ],
      { globalRoot: global0.root },
    );
    expect(result.rejected).toEqual([]);
    expect(result.accepted).toEqual(["r0", "r1"]);
    const global1 = await result.write(join(dir, "global-1"));
    expect(global1).toMatchObject({ round: 1, parentRoot: global0.root, runId: global0.runId });

    const before = await evaluateLoss(join(dir, "global-0"), join(dir, "dataset"), spec.validation.batches);
    const after = await evaluateLoss(join(dir, "global-1"), join(dir, "dataset"), spec.validation.batches);
    const seconds = (performance.now() - round.startedAt) / 1000;
    console.info(
      `held-out loss ${before.toFixed(3)} → ${after.toFixed(3)}; pack + 2×50 steps + outer step + evaluation in ${seconds.toFixed(1)} s`,
    );
    expect(after).toBeLessThan(before);
    // The worker's deterministic evaluator and TensorFlow.js compute the same model.
    expect(global1.metrics.valLoss).toBeCloseTo(after, 4);
    expect(result.valLoss.global).toBeCloseTo(before, 4);

    const stored = await readCheckpoint(join(dir, "global-1"), { expectedRoot: global1.root });
    expect(Object.keys(stored.tensors).filter((n) => n.startsWith(MOMENTUM_PREFIX))).toHaveLength(
      Object.keys(modelValues(stored.tensors, spec)).length,
    );
  });

  it("puts the worker's own figures in the next checkpoint, never a replica's: tokens the spec allows, the loss it measured", async () => {
    const claimed = await valuesOf(replicaDirs.r1);
    const boastful = join(dir, "boastful");
    const good = await readCheckpoint(replicaDirs.r1);
    await writeCheckpoint(boastful, toTensors(claimed, spec.model), {
      runId: good.manifest.runId,
      round: 0,
      parentRoot: global0.root,
      metrics: { loss: 0.0001, valLoss: 0.0001, tokens: 10 ** 15, steps: 10 ** 9 },
      metadata: runSpecMetadata(spec),
    });
    const result = await step([
      { id: "r0", index: 0, dir: replicaDirs.r0 },
      { id: "r1", index: 1, dir: boastful },
    ]);
    expect(result.accepted).toEqual(["r0", "r1"]);
    const next = await result.write(join(dir, "global-1-boastful"));
    const measured = result.evidence.replicas.map((e) =>
      "scores" in e ? e.scores.ownShardLoss : Number.NaN,
    );
    expect(next.metrics).toMatchObject({
      tokens: 2 * spec.innerSteps * spec.inner.batch * spec.model.contextLength,
      steps: spec.innerSteps,
      loss: (measured[0]! + measured[1]!) / 2,
    });
    expect(next.metrics.loss).toBeGreaterThan(1);
  });

  it("rejects a replica with NaNs, one with a 100× pseudo-gradient and a tampered one, each with its reason", async () => {
    const theta = await valuesOf(join(dir, "global-0"));
    const trained = await valuesOf(replicaDirs.r0);
    const withNaN = Object.fromEntries(Object.entries(trained).map(([n, v]) => [n, Float32Array.from(v)]));
    withNaN["h.1.mlp.c_fc.weight"]![17] = Number.NaN;
    const nan = await writeReplica("nan", withNaN);
    const scaled = await writeReplica("scaled", around(theta, trained, 100));

    await cp(replicaDirs.r1, join(dir, "tampered"), { recursive: true });
    const handle = await open(join(dir, "tampered", "model.safetensors"), "r+");
    await handle.write(Buffer.of(0x7f), 0, 1, 4000);
    await handle.close();

    const result = await step([
      { id: "r0", index: 0, dir: replicaDirs.r0 },
      { id: "nan", index: 0, dir: nan },
      { id: "scaled", index: 0, dir: scaled },
      { id: "tampered", index: 1, dir: join(dir, "tampered") },
      { id: "r1", index: 1, dir: replicaDirs.r1 },
    ]);
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

  it("rejects free riders — θ returned unchanged, θ plus tiny noise, noise of an honest step's size — and every copy: same bytes, same values in other bytes, scaled, or with noise added", async () => {
    const theta = await valuesOf(join(dir, "global-0"));
    const r1 = await valuesOf(replicaDirs.r1);
    const honestStep = stepPerCoordinate(theta, r1);
    const honest: ReplicaInput[] = [
      { id: "r0", index: 0, dir: replicaDirs.r0 },
      { id: "r1", index: 1, dir: replicaDirs.r1 },
    ];
    const riders = await freeRiders(round, theta, honestStep);
    const idle = await step([...honest, ...riders]);
    expect(reasonsOf(idle)).toEqual({ r0: "accepted", r1: "accepted", ...refusedAs(riders, "no-progress") });

    await cp(replicaDirs.r1, join(dir, "copy"), { recursive: true });
    const copies = await step([
      ...honest,
      { id: "copy", index: 0, dir: join(dir, "copy") },
      {
        id: "f16-copy",
        index: 0,
        dir: await writeReplica("f16-copy", r1, (tensors) =>
          Object.fromEntries(
            Object.entries(tensors).map(([n, t]) => [n, floatTensor(t.shape, toFloat32(t), "F16")]),
          ),
        ),
      },
      { id: "half-copy", index: 0, dir: await writeReplica("half-copy", around(theta, r1, 0.5)) },
      {
        id: "near-copy",
        index: 0,
        dir: await writeReplica("near-copy", around(theta, r1, 1, honestStep / 20, 3)),
      },
    ]);
    expect(reasonsOf(copies)).toEqual({
      r0: "accepted",
      // Copied, it is one of a group of copies: none of the group is paid (diloco/README.md).
      r1: "duplicate",
      copy: "duplicate",
      "f16-copy": "duplicate",
      "half-copy": "duplicate",
      "near-copy": "duplicate",
    });
  });

  it("refuses outputs that claim more than the model takes, before reading their shards: a 10 GiB shard, 100,000 shards, a 100 MB header, sizes that cannot hold the model", async () => {
    const claims = async (name: string, edit: (m: CheckpointManifest) => CheckpointManifest | string) => {
      await cp(replicaDirs.r1, join(dir, name), { recursive: true });
      const manifest = JSON.parse(
        await readFile(join(dir, name, "manifest.json"), "utf8"),
      ) as CheckpointManifest;
      const edited = edit(manifest);
      await writeFile(
        join(dir, name, "manifest.json"),
        typeof edited === "string" ? edited : JSON.stringify(edited),
      );
      return { id: name, index: 1, dir: join(dir, name) };
    };
    const shard = (m: CheckpointManifest) => m.shards[0]!;
    const hugeShard = await claims("huge-shard", (m) => ({
      ...m,
      shards: [{ ...shard(m), bytes: 10 * 2 ** 30 }],
    }));
    const manyShards = await claims("many-shards", (m) =>
      JSON.stringify({
        ...m,
        shards: Array.from({ length: 100_000 }, (_, i) => ({
          ...shard(m),
          path: `model-${String(i + 1).padStart(5, "0")}-of-99999.safetensors`,
        })),
      }),
    );
    const tooSmall = await claims("too-small", (m) => ({ ...m, shards: [{ ...shard(m), bytes: 1000 }] }));
    // A shard whose own header length says 100 MB, its manifest consistent with its bytes.
    const header = join(dir, "big-header");
    await cp(replicaDirs.r1, header, { recursive: true });
    const file = await open(join(header, "model.safetensors"), "r+");
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(100_000_000n);
    await file.write(prefix, 0, 8, 0);
    await file.close();
    const rehashed = await hashCheckpoint(header);
    const manifest = JSON.parse(await readFile(join(header, "manifest.json"), "utf8")) as CheckpointManifest;
    await writeFile(
      join(header, "manifest.json"),
      JSON.stringify({
        ...manifest,
        shards: rehashed.shards.map(({ path, bytes, sha256 }) => ({ path, bytes, sha256 })),
        root: rehashed.root,
      }),
    );

    const result = await step([
      { id: "r0", index: 0, dir: replicaDirs.r0 },
      hugeShard,
      manyShards,
      tooSmall,
      { id: "big-header", index: 1, dir: header },
    ]);
    const byId = Object.fromEntries(result.rejected.map((r) => [r.id, r]));
    expect(byId["huge-shard"]).toMatchObject({
      reason: "oversized",
      message: expect.stringMatching(/claims 10737418240 bytes; one shard of this model takes at most/),
    });
    expect(byId["many-shards"]).toMatchObject({
      reason: "oversized",
      message: expect.stringMatching(/longer than the \d+ bytes a manifest may take/),
    });
    expect(byId["too-small"]).toMatchObject({
      reason: "shape",
      message: expect.stringMatching(/fewer than the model's parameters take/),
    });
    expect(byId["big-header"]).toMatchObject({
      reason: "oversized",
      message: expect.stringMatching(/header length 100000000 exceeds the \d+-byte limit/),
    });
    expect(result.accepted).toEqual(["r0"]);
  });

  it("gives the same root, verdicts and evidence when a second process on one core, with another TensorFlow.js backend, redoes the round", async () => {
    const request: OuterStepRequest = {
      global: join(dir, "global-0"),
      replicas: [
        { id: "r0", index: 0, dir: replicaDirs.r0 },
        { id: "r1", index: 1, dir: replicaDirs.r1 },
        { id: "unchanged", index: 0, dir: join(dir, "unchanged") },
      ],
      spec,
      datasetDir: join(dir, "dataset"),
      out: join(dir, "rederived-here"),
    };
    const here = await rederive(request);
    const { backend, ...theirs } = await rederiveElsewhere({
      ...request,
      out: join(dir, "rederived-there"),
      aggregationBufferBytes: 4096,
    });
    expect(backend).toBe("cpu");
    expect(theirs).toEqual(here);
    expect(here.verdicts.map((v) => v.accepted)).toEqual([true, true, false]);
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
