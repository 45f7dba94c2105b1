import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { readCheckpointManifest, writeCheckpoint } from "../checkpoints/index.ts";
import { assignShards, openDataset, packDataset } from "../datasets/index.ts";
import { selectBackend } from "../model/backend.ts";
import { TrainingBatches } from "../model/batches.ts";
import { modelValues } from "../model/evaluate.ts";
import { paramsToTensors, tensorsToValues } from "../model/forward.ts";
import { initialCheckpoint, runSpecMetadata, toTensors } from "../model/parameters.ts";
import { type RunSpec, runIdOf } from "../spec/runSpec.ts";
import { tinySpec } from "../tests/orchestration/fixtures.ts";
import { innerLoop } from "../trainer/train.ts";

// A round's inputs for the outer-step benches (outerStep.ts, roundScoring.ts): θ of a 25.4M
// parameter model, the project's corpus as a dataset, and replicas trained one real AdamW step
// each, kept in a work directory so a second run starts at once.

export const repo = resolve(new URL("..", import.meta.url).pathname);

/** The model's width and depth: d512 × 8 layers is 25.4M parameters (the default). */
export interface BenchModel {
  dModel: number;
  layers: number;
}
export const BENCH_MODEL: BenchModel = { dModel: 512, layers: 8 };

/** One AdamW step at a small lr, scored on 64 tokens. */
export function benchSpec(dataset: `0x${string}`, replicas: number, size: BenchModel = BENCH_MODEL): RunSpec {
  return tinySpec({
    name: "bench outer step",
    model: {
      architecture: "transformer-lm",
      vocabSize: 256,
      contextLength: 64,
      ...size,
      heads: 8,
    },
    dataset,
    rounds: 1,
    innerSteps: 1,
    replicasPerRound: replicas,
    minReplicas: 1,
    inner: { optimizer: "adamw", lr: 1e-4, batch: 1 },
    seed: 5,
  });
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** The dataset, θ and `count` replicas trained one AdamW step each, unless already there. */
export async function prepare(work: string, count: number, size: BenchModel = BENCH_MODEL): Promise<RunSpec> {
  await mkdir(work, { recursive: true });
  const datasetDir = join(work, "dataset");
  // 4096-token shards: 57 training shards, enough for 32 replicas to have their own.
  const dataset = (await exists(datasetDir))
    ? (await openDataset(datasetDir)).manifest
    : await packDataset(join(repo, "datasets/corpus"), datasetDir, { shardTokens: 4096 });
  const spec = benchSpec(dataset.root as `0x${string}`, count, size);
  const previous = await readFile(join(work, "spec.json"), "utf8").catch(() => "");
  if (previous !== JSON.stringify(spec)) {
    // Replicas of another spec belong to another run: start again.
    for (const entry of await readdir(work))
      if (entry === "global" || entry.startsWith("replica-"))
        await rm(join(work, entry), { recursive: true });
    await writeFile(join(work, "spec.json"), JSON.stringify(spec));
  }
  const init = initialCheckpoint(spec);
  if (!(await exists(join(work, "global", "manifest.json"))))
    await writeCheckpoint(join(work, "global"), init.tensors, init.fields);
  const global = await readCheckpointManifest(join(work, "global"));
  await selectBackend("wasm");
  const opened = await openDataset(datasetDir, spec.dataset);
  for (let i = 0; i < count; i++) {
    const dir = join(work, `replica-${i}`);
    if (await exists(join(dir, "manifest.json"))) continue;
    process.stderr.write(
      `training replica ${i + 1}/${count} (one AdamW step of a d${size.dModel} × ${size.layers} model)\n`,
    );
    const shards = await Promise.all(assignShards(opened.manifest, i, count).map((s) => opened.readShard(s)));
    const params = paramsToTensors(modelValues(init.tensors, spec), spec.model);
    innerLoop(
      params,
      spec,
      new TrainingBatches(shards, spec.model.contextLength, spec.inner.batch, 5, 0, i),
      1,
    );
    const values = await tensorsToValues(params);
    tf.dispose(Object.values(params));
    await writeCheckpoint(dir, toTensors(values, spec.model), {
      runId: runIdOf(spec),
      round: 0,
      parentRoot: global.root,
      metrics: { loss: null, valLoss: null, tokens: spec.model.contextLength, steps: 1 },
      metadata: runSpecMetadata(spec),
    });
  }
  return spec;
}
