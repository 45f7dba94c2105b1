/**
 * Compressed pseudo-gradients (`outer.compression: int8`) against float32 parameters, on the
 * demo's run (examples/demo-run.yaml: its model, rounds, replicas, inner steps and seed, on the
 * shipped corpus packed as the demo packs it). Both runs go through real trainer processes
 * (`node trainer/main.ts`, the trainer contract's environment, file:// store) and the real outer
 * step, round after round; the only difference is the option. Prints, uncompressed beside int8:
 * the bytes each replica uploads per round, the held-out loss after each round (the outer step's
 * deterministic evaluator), and for the block size, the round-trip error of the first round's
 * float32 pseudo-gradients quantised with other block sizes and scale types.
 *
 * A third run is a control for the loss: float32 uploads whose Δ the bench moves, coordinate by
 * coordinate, by exactly as much as int8 would (|Δ̂ − Δ|) but in a seeded random direction. If its
 * loss strays from the baseline as far as int8's, the gap is the run's sensitivity to any error of
 * that size (the trainers' next rounds start from a slightly different θ), not a bias of int8.
 *
 *   node bench/compression.ts [--rounds N] [--parallel 2] [--work DIR]
 */
import { mkdir, readFile, rm, stat } from "node:fs/promises";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { parse as parseYaml } from "yaml";
import { type CheckpointManifest, readCheckpoint, writeCheckpoint } from "../checkpoints/index.ts";
import {
  dequantiseInt8Into,
  INT8_BLOCK,
  pseudoGradientInto,
  quantiseInt8Into,
} from "../checkpoints/pseudoGradient.ts";
import { f16ToF32, f32ToF16 } from "../checkpoints/tensor.ts";
import { assignShards, type DatasetManifest, packDataset } from "../datasets/index.ts";
import { outerStep } from "../diloco/index.ts";
import {
  initialCheckpoint,
  modelValues,
  parameterShapes,
  runSpecMetadata,
  toTensors,
} from "../model/index.ts";
import { type Compression, parseRunSpec, type RunSpec, runIdOf } from "../spec/runSpec.ts";
import { SeededRandom } from "../spec/seededRandom.ts";
import { trainerEnvVars } from "../spec/trainerContract.ts";
import { runTrainer } from "../tests/trainer/trainedRound.ts";
import { printTable } from "./table.ts";

const repo = resolve(new URL("..", import.meta.url).pathname);
/** As `daotrain demo` packs the corpus (cli/commands/demo.ts). */
const SHARD_TOKENS = 16_384;

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string" },
    parallel: { type: "string", default: "2" },
    work: { type: "string", default: join(repo, ".daotrain/bench/compression") },
  },
});

interface Round {
  readonly round: number;
  /** Shards and manifest of each replica's output, in replica order. */
  readonly uploadBytes: readonly number[];
  readonly accepted: number;
  readonly valLoss: number;
}

interface RunResult {
  readonly initialValLoss: number;
  readonly rounds: readonly Round[];
}

async function demoSpec(dataset: `0x${string}`, compression: Compression): Promise<RunSpec> {
  const base = parseYaml(await readFile(join(repo, "examples/demo-run.yaml"), "utf8")) as Record<
    string,
    Record<string, unknown>
  >;
  return parseRunSpec({
    ...base,
    ...(args.rounds ? { rounds: Number(args.rounds) } : {}),
    dataset,
    outer: { ...base.outer, compression },
  });
}

/** Runs `tasks` with at most `limit` at once, keeping their order. */
async function inBatches<T>(tasks: readonly (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = [];
  for (let i = 0; i < tasks.length; i += limit) {
    results.push(...(await Promise.all(tasks.slice(i, i + limit).map((t) => t()))));
  }
  return results;
}

async function uploadBytes(dir: string, manifest: CheckpointManifest): Promise<number> {
  return manifest.shards.reduce((n, s) => n + s.bytes, (await stat(join(dir, "manifest.json"))).size);
}

/** Δ quantised with `block` values per scale and dequantised again, as the outer step reads it. */
function roundTrip(delta: Float32Array, block = INT8_BLOCK, scaleType: "F32" | "F16" = "F32"): Float32Array {
  const values = new Int8Array(delta.length);
  const scales = new Float32Array(Math.ceil(delta.length / block));
  quantiseInt8Into(values, scales, delta, block);
  if (scaleType === "F16") for (let b = 0; b < scales.length; b++) scales[b] = f16ToF32(f32ToF16(scales[b]!));
  const back = new Float32Array(delta.length);
  dequantiseInt8Into(back, values, scales, 0, block);
  return back;
}

/** Each parameter's Δ = θ − θₖ of the replica checkpoint in `dir` (float32 parameters). */
async function pseudoGradients(theta: Record<string, Float32Array>, dir: string, spec: RunSpec) {
  const trained = modelValues((await readCheckpoint(dir)).tensors, spec);
  return parameterShapes(spec.model).map(([name]) => {
    const delta = new Float32Array(theta[name]!.length);
    pseudoGradientInto(delta, theta[name]!, trained[name]!);
    return [name, delta] as const;
  });
}

/**
 * The control's upload: the float32 replica in `dir` rewritten to `out` with each coordinate's Δ
 * moved by int8's error there, |Δ̂ − Δ|, in a direction drawn from `seed`; lineage kept.
 */
async function withInt8SizedError(global: string, dir: string, out: string, spec: RunSpec, seed: number) {
  const theta = modelValues((await readCheckpoint(global)).tensors, spec);
  const { manifest } = await readCheckpoint(dir);
  const random = new SeededRandom(seed);
  const moved: Record<string, Float32Array> = {};
  for (const [name, delta] of await pseudoGradients(theta, dir, spec)) {
    const back = roundTrip(delta);
    moved[name] = theta[name]!.map((t, i) => {
      const error = Math.abs(back[i]! - delta[i]!) * (random.int(2) === 0 ? 1 : -1);
      return t - (delta[i]! + error);
    });
  }
  await writeCheckpoint(out, toTensors(moved, spec.model), {
    runId: manifest.runId,
    round: manifest.round,
    parentRoot: manifest.parentRoot,
    metrics: manifest.metrics,
    metadata: runSpecMetadata(spec),
  });
}

/**
 * The whole run: every round's replicas as trainer processes, then the outer step (on the
 * replicas' outputs, or under `control` on those outputs with an int8-sized error added).
 */
async function train(
  dataset: DatasetManifest,
  datasetDir: string,
  spec: RunSpec,
  work: string,
  control = false,
): Promise<RunResult> {
  await rm(work, { recursive: true, force: true });
  const init = initialCheckpoint(spec);
  let global = join(work, "global-0");
  let globalManifest = await writeCheckpoint(global, init.tensors, init.fields);
  let initialValLoss = Number.NaN;
  const rounds: Round[] = [];
  for (let round = 0; round < spec.rounds; round++) {
    const outputs = Array.from({ length: spec.replicasPerRound }, (_, r) =>
      join(work, `round-${round}`, `replica-${r}`),
    );
    const runs = await inBatches(
      outputs.map(
        (output, replica) => () =>
          runTrainer(
            trainerEnvVars({
              DAOTRAIN_RUN_ID: runIdOf(spec),
              DAOTRAIN_ROUND: round,
              DAOTRAIN_REPLICA: replica,
              DAOTRAIN_REPLICAS: spec.replicasPerRound,
              DAOTRAIN_INIT_URI: `file://${global}`,
              DAOTRAIN_INIT_ROOT: globalManifest.root,
              DAOTRAIN_DATASET_URI: `file://${datasetDir}`,
              DAOTRAIN_DATASET_ROOT: dataset.root,
              DAOTRAIN_SHARDS: assignShards(dataset, replica, spec.replicasPerRound).join(","),
              DAOTRAIN_INNER_STEPS: spec.innerSteps,
              DAOTRAIN_SEED: spec.seed,
              DAOTRAIN_OUTPUT_URI: `file://${output}`,
            }),
            0,
          ),
      ),
      Number(args.parallel),
    );
    const manifests = runs.map((run, r) => {
      if (run.code !== 0) throw new Error(`round ${round} replica ${r}: ${run.stderr}`);
      return JSON.parse(run.stdout).manifest as CheckpointManifest;
    });
    const judged = control ? outputs.map((dir) => `${dir}-control`) : outputs;
    if (control) {
      for (const [r, dir] of outputs.entries()) {
        await withInt8SizedError(global, dir, judged[r]!, spec, 1000 * round + r);
      }
    }
    const step = await outerStep({
      global,
      globalRoot: globalManifest.root,
      replicas: judged.map((dir, index) => ({ id: String(index), index, dir })),
      spec,
      dataset: async () => datasetDir,
    });
    if (round === 0) initialValLoss = step.valLoss.global;
    global = join(work, `global-${round + 1}`);
    globalManifest = await step.write(global);
    const uploads = await Promise.all(outputs.map((dir, r) => uploadBytes(dir, manifests[r]!)));
    rounds.push({
      round: round + 1,
      uploadBytes: uploads,
      accepted: step.accepted.length,
      valLoss: step.valLoss.next!,
    });
    console.error(
      `[bench] ${control ? "control" : (spec.outer.compression ?? "none")} round ${round + 1}: ${step.accepted.length}/${outputs.length} accepted, held-out loss ${step.valLoss.next!.toFixed(4)}`,
    );
  }
  return { initialValLoss, rounds };
}

/**
 * The first round's float32 pseudo-gradients (Δ = θ₀ − θₖ, exact), quantised per parameter with
 * each block size and scale type: ‖Δ̂ − Δ‖ / ‖Δ‖ over all replicas, the share of coordinates whose
 * Δ ≠ 0 came back 0, and the upload as a share of float32's (tensor bytes only).
 */
async function blockSizes(work: string, spec: RunSpec) {
  const theta = modelValues((await readCheckpoint(join(work, "global-0"))).tensors, spec);
  const deltas: Float32Array[] = [];
  for (let r = 0; r < spec.replicasPerRound; r++) {
    const replica = join(work, "round-0", `replica-${r}`);
    for (const [, delta] of await pseudoGradients(theta, replica, spec)) deltas.push(delta);
  }
  const rows: string[][] = [];
  for (const block of [32, 64, 128, 256, 1024]) {
    for (const scaleType of ["F32", "F16"] as const) {
      let error = 0;
      let norm = 0;
      let lost = 0;
      let nonZero = 0;
      let elements = 0;
      let scaleCount = 0;
      for (const delta of deltas) {
        const back = roundTrip(delta, block, scaleType);
        for (let i = 0; i < delta.length; i++) {
          error += (back[i]! - delta[i]!) ** 2;
          norm += delta[i]! ** 2;
          if (delta[i] !== 0) {
            nonZero++;
            if (back[i] === 0) lost++;
          }
        }
        elements += delta.length;
        scaleCount += Math.ceil(delta.length / block);
      }
      const bytes = elements + scaleCount * (scaleType === "F32" ? 4 : 2);
      rows.push([
        `${block}${block === INT8_BLOCK && scaleType === "F32" ? " (chosen)" : ""}`,
        scaleType,
        `${(100 * Math.sqrt(error / norm)).toFixed(3)} %`,
        `${((100 * lost) / nonZero).toFixed(3)} %`,
        `${((100 * bytes) / (4 * elements)).toFixed(2)} %`,
      ]);
    }
  }
  return rows;
}

const work = resolve(args.work);
await mkdir(work, { recursive: true });
const datasetDir = join(work, "dataset");
await rm(datasetDir, { recursive: true, force: true });
const dataset = await packDataset(join(repo, "datasets/corpus/fables.txt"), datasetDir, {
  shardTokens: SHARD_TOKENS,
});
const load = loadavg()[0]!;
const spec = await demoSpec(dataset.root, "none");
const int8Spec = await demoSpec(dataset.root, "int8");
const control = await train(dataset, datasetDir, spec, join(work, "control"), true);
const none = await train(dataset, datasetDir, spec, join(work, "none"));
const int8 = await train(dataset, datasetDir, int8Spec, join(work, "int8"));

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const versus = (x: number, baseline: number) => `${(100 * (x / baseline - 1)).toFixed(2)} %`;
const params = parameterShapes(spec.model).reduce((n, [, s]) => n + s.reduce((a, b) => a * b, 1), 0);
console.log(
  `\n## Compressed pseudo-gradients on the demo's run: ${spec.rounds} rounds × ${spec.replicasPerRound} replicas × ${spec.innerSteps} inner steps, ${params.toLocaleString("en")} parameters, seed ${spec.seed} (load average ${load.toFixed(1)})\n`,
);
const uploadNone = mean(none.rounds.flatMap((r) => r.uploadBytes));
const uploadInt8 = mean(int8.rounds.flatMap((r) => r.uploadBytes));
const rows = [
  [
    "upload per replica per round (shards + manifest)",
    `${Math.round(uploadNone).toLocaleString("en")} B`,
    `${Math.round(uploadInt8).toLocaleString("en")} B`,
    `${((100 * uploadInt8) / uploadNone).toFixed(2)} % (goal ≤ 26 %)`,
    "",
    "",
  ],
  ["held-out loss of θ₀", none.initialValLoss.toFixed(4), int8.initialValLoss.toFixed(4), "", "", ""],
  ...none.rounds.map((r, i) => {
    const c = int8.rounds[i]!;
    const k = control.rounds[i]!;
    const goal = i === none.rounds.length - 1 ? " (goal within ±1 %)" : "";
    return [
      `held-out loss after round ${r.round} (accepted ${r.accepted} / ${c.accepted} / ${k.accepted})`,
      r.valLoss.toFixed(4),
      c.valLoss.toFixed(4),
      `${versus(c.valLoss, r.valLoss)}${goal}`,
      k.valLoss.toFixed(4),
      versus(k.valLoss, r.valLoss),
    ];
  }),
];
printTable(
  [
    "figure",
    "float32 parameters (baseline)",
    "int8 pseudo-gradient",
    "int8 vs baseline",
    "control: float32, int8-sized error",
    "control vs baseline",
  ],
  rows,
);
console.log(
  `\n### Block size: round 1's float32 pseudo-gradients (${spec.replicasPerRound} replicas) quantised per parameter\n`,
);
printTable(
  ["values per scale", "scale", "‖Δ̂ − Δ‖ / ‖Δ‖", "Δ ≠ 0 lost to 0", "bytes vs float32 (tensors only)"],
  await blockSizes(join(work, "none"), spec),
);
