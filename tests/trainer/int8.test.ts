import { cp, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CheckpointManifest,
  floatTensor,
  readCheckpoint,
  type Tensor,
  toFloat32,
} from "../../checkpoints/index.ts";
import { INT8_BLOCK, INT8_SCALES_TENSOR, INT8_VALUES_TENSOR } from "../../checkpoints/pseudoGradient.ts";
import type { ReplicaInput } from "../../diloco/index.ts";
import { type OuterStepRequest, rederive, rederiveElsewhere } from "./rederiveRound.ts";
import {
  around,
  freeRiders,
  reasonsOf,
  refusedAs,
  stepPerCoordinate,
  type TrainedRound,
  trainedRound,
} from "./trainedRound.ts";

// A round of a run with `outer.compression: int8`: real trainer processes upload int8
// pseudo-gradients with a float32 scale per block, and the outer step judges and averages the
// dequantised Δ by every rule it applies to float32 parameters.

let round: TrainedRound;
let honest: ReplicaInput[];

beforeAll(async () => {
  round = await trainedRound({ name: "two int8 replicas, one round", outer: { compression: "int8" } });
  honest = [
    { id: "r0", index: 0, dir: round.replicaDirs[0] },
    { id: "r1", index: 1, dir: round.replicaDirs[1] },
  ];
});
afterAll(async () => {
  await round?.remove();
});

/** What a checkpoint directory puts in a store: its shards and its manifest. */
async function uploadBytes(dir: string): Promise<number> {
  const manifest = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")) as CheckpointManifest;
  return manifest.shards.reduce((n, s) => n + s.bytes, (await stat(join(dir, "manifest.json"))).size);
}

/** An edit of a replica's tensors: its scales, as float32, replaced by `change`'s tensor. */
function withScales(change: (scales: Float32Array) => Tensor) {
  return (tensors: Record<string, Tensor>) => ({
    ...tensors,
    [INT8_SCALES_TENSOR]: change(Float32Array.from(toFloat32(tensors[INT8_SCALES_TENSOR]!))),
  });
}

describe("an int8 round on the CPU", () => {
  it("has each trainer upload its pseudo-gradient in int8 with a scale per 256 values, at most 26 % of float32's bytes, and the outer step accepts both and lowers the held-out loss", async () => {
    for (const run of round.runs) expect(run.code, run.stderr).toBe(0);
    for (const dir of round.replicaDirs) {
      const { tensors } = await readCheckpoint(dir);
      expect(Object.keys(tensors).sort()).toEqual([INT8_VALUES_TENSOR, INT8_SCALES_TENSOR]);
      expect(tensors[INT8_VALUES_TENSOR]!.dtype).toBe("I8");
      expect(tensors[INT8_SCALES_TENSOR]!.dtype).toBe("F32");
    }
    // Round 0 holds the same model's parameters in float32 with the same run spec inside: what
    // an uncompressed replica uploads.
    const float32 = await uploadBytes(join(round.dir, "global-0"));
    const int8 = await uploadBytes(round.replicaDirs[0]);
    console.info(
      `upload per replica: int8 ${int8} bytes, float32 ${float32} bytes (${((100 * int8) / float32).toFixed(2)} %), block ${INT8_BLOCK}`,
    );
    expect(int8 / float32).toBeLessThanOrEqual(0.26);

    const result = await round.step(honest, { globalRoot: round.global0.root });
    expect(reasonsOf(result)).toEqual({ r0: "accepted", r1: "accepted" });
    await result.write(join(round.dir, "global-1"));
    console.info(`held-out loss ${result.valLoss.global.toFixed(3)} → ${result.valLoss.next!.toFixed(3)}`);
    expect(result.valLoss.next!).toBeLessThan(result.valLoss.global);
  });

  it("gives the same root, verdicts and evidence when a second process on one core, with another backend and aggregation runs that end inside blocks, redoes the round", async () => {
    const theta = await round.valuesOf(join(round.dir, "global-0"));
    const request: OuterStepRequest = {
      global: join(round.dir, "global-0"),
      replicas: [
        ...honest,
        { id: "unchanged", index: 0, dir: await round.writeReplica("rederive-unchanged", theta) },
      ],
      spec: round.spec,
      datasetDir: join(round.dir, "dataset"),
      out: join(round.dir, "rederived-here"),
    };
    const here = await rederive(request);
    // 4,000 bytes over 2 accepted replicas: runs of 500 coordinates, so most end mid-block.
    const { backend, ...theirs } = await rederiveElsewhere({
      ...request,
      out: join(round.dir, "rederived-there"),
      aggregationBufferBytes: 4000,
    });
    expect(backend).toBe("cpu");
    expect(theirs).toEqual(here);
    expect(here.verdicts.map((v) => v.accepted)).toEqual([true, true, false]);
  });

  it("rejects compressed free riders — θ unchanged, tiny noise, noise of an honest step's size — and every copy: same bytes, half its Δ, its Δ with noise", async () => {
    const theta = await round.valuesOf(join(round.dir, "global-0"));
    const r1 = await round.valuesOf(round.replicaDirs[1]);
    const honestStep = stepPerCoordinate(theta, r1);
    const write = (name: string, values: Record<string, Float32Array>) =>
      round.writeReplica(name, values).then((dir) => ({ id: name, index: 0, dir }));
    const riders = await freeRiders(round, theta, honestStep);
    const idle = await round.step([...honest, ...riders]);
    expect(reasonsOf(idle)).toEqual({ r0: "accepted", r1: "accepted", ...refusedAs(riders, "no-progress") });

    await cp(round.replicaDirs[1], join(round.dir, "copy"), { recursive: true });
    const copies = await round.step([
      ...honest,
      { id: "copy", index: 0, dir: join(round.dir, "copy") },
      await write("half-copy", around(theta, r1, 0.5)),
      await write("near-copy", around(theta, r1, 1, honestStep / 20, 3)),
    ]);
    expect(reasonsOf(copies)).toEqual({
      r0: "accepted",
      r1: "duplicate",
      copy: "duplicate",
      "half-copy": "duplicate",
      "near-copy": "duplicate",
    });
  });

  it("refuses what an int8 run does not take, each with its reason: float32 parameters, a 10 GiB shard, F16 scales, a NaN scale, 100× scales", async () => {
    const theta = await round.valuesOf(join(round.dir, "global-0"));
    const r0 = await round.valuesOf(round.replicaDirs[0]);
    const float32 = join(round.dir, "float32");
    await cp(join(round.dir, "global-0"), float32, { recursive: true });
    const huge = join(round.dir, "huge-shard");
    await cp(round.replicaDirs[0], huge, { recursive: true });
    const manifest = JSON.parse(await readFile(join(huge, "manifest.json"), "utf8")) as CheckpointManifest;
    await writeFile(
      join(huge, "manifest.json"),
      JSON.stringify({ ...manifest, shards: [{ ...manifest.shards[0]!, bytes: 10 * 2 ** 30 }] }),
    );
    // Round 0 is of this run but a global checkpoint, so its lineage is another round's: give it
    // this round's, as a replica delivering float32 parameters would.
    const float32Manifest = JSON.parse(
      await readFile(join(float32, "manifest.json"), "utf8"),
    ) as CheckpointManifest;
    await writeFile(
      join(float32, "manifest.json"),
      JSON.stringify({ ...float32Manifest, parentRoot: round.global0.root }),
    );
    const blockOfWte = 3;
    const result = await round.step([
      honest[0]!,
      { id: "float32", index: 1, dir: float32 },
      { id: "huge-shard", index: 1, dir: huge },
      {
        id: "f16-scales",
        index: 1,
        dir: await round.writeReplica(
          "f16-scales",
          r0,
          withScales((s) => floatTensor([s.length], s, "F16")),
        ),
      },
      {
        id: "nan-scale",
        index: 1,
        dir: await round.writeReplica(
          "nan-scale",
          r0,
          withScales((s) => floatTensor([s.length], s.fill(Number.NaN, blockOfWte, blockOfWte + 1))),
        ),
      },
      { id: "scaled", index: 1, dir: await round.writeReplica("scaled", around(theta, r0, 100)) },
    ]);
    const byId = Object.fromEntries(result.rejected.map((r) => [r.id, r]));
    expect(byId.float32).toMatchObject({
      reason: "oversized",
      message: expect.stringMatching(/claims \d+ bytes; one shard of this model takes at most/),
    });
    expect(byId["huge-shard"]).toMatchObject({
      reason: "oversized",
      message: expect.stringMatching(/claims 10737418240 bytes/),
    });
    expect(byId["f16-scales"]).toMatchObject({
      reason: "shape",
      message: "tensor pseudo_gradient.scale is F16, not F32",
    });
    expect(byId["nan-scale"]).toMatchObject({
      reason: "non-finite",
      message: `non-finite pseudo-gradient wte[${blockOfWte * INT8_BLOCK}] = NaN`,
    });
    expect(byId.scaled).toMatchObject({
      reason: "norm-outlier",
      message: expect.stringMatching(/more than 50 AdamW steps at lr 0.003 can/),
    });
    expect(result.accepted).toEqual(["r0"]);
  });
});
