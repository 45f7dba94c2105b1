// DiLoCo against its paper, on the shipped corpus with the demo's model, at equal inner steps T
// (rounds × innerSteps) per replica:
//   - one replica: T AdamW steps at the spec's batch b, on all training shards;
//   - synchronous data parallel: k replicas averaged every step, i.e. T steps at batch k·b, each
//     step made of the batches the k DiLoCo replicas draw at that step;
//   - DiLoCo: k replicas × H inner steps per round, the real trainer (`trainer/run.ts`, in this
//     process) and the real outer step (`diloco/outerStep`), exactly as a run does.
// It prints each arm's final held-out loss (the whole validation split) and the share of the gap
// between the first two that DiLoCo closes; then, round by round, the run's own metric (the new
// global's loss on the spec's `validation.batches`) for each outer setting asked for, whether it
// falls every round, and how far the worst honest replica's held-out loss stood from θ's (what a
// progress rule would judge it on).
//
//   node bench/diloco.ts [--reduced] [--seeds 2026,1,2] [--rounds 3] [--inner-steps 90]
//                        [--compare-h 90,30] [--outer 0.7:0.9,1:0] [--skip-arms]
//
// `--outer lr:momentum[:plain]` (plain = no Nesterov) lists the DiLoCo settings of part 2; the
// spec's own comes first. `--compare-h` adds DiLoCo arms to part 1 with other H at the same T.
// `--rounds` and `--inner-steps` change the spec's; everything else is the demo's run
// (`localstack/demoRun.ts`), and every figure is a mean over `--seeds`.
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import { readCheckpoint, writeCheckpoint } from "../checkpoints/index.ts";
import { assignShards, type Dataset, openDataset, packDataset } from "../datasets/index.ts";
import { outerStep } from "../diloco/index.ts";
import { DEMO_CORPUS, DEMO_SHARD_TOKENS, demoRunSpec } from "../localstack/demoRun.ts";
import {
  type Batch,
  initialCheckpoint,
  lossOfValues,
  modelValues,
  paramsToTensors,
  selectBackend,
  TrainingBatches,
  tensorsToValues,
  validationBatches,
} from "../model/index.ts";
import { type RunSpec, runIdOf } from "../spec/runSpec.ts";
import { trainerEnvVars } from "../spec/trainerContract.ts";
import { runTrainer } from "../trainer/run.ts";
import { type BatchSource, innerLoop } from "../trainer/train.ts";
import { printTable } from "./table.ts";

const { values: args } = parseArgs({
  options: {
    reduced: { type: "boolean", default: false },
    rounds: { type: "string" },
    "inner-steps": { type: "string" },
    "compare-h": { type: "string" },
    seeds: { type: "string" },
    outer: { type: "string", default: "" },
    "skip-arms": { type: "boolean", default: false },
  },
});

interface OuterSetting {
  lr: number;
  momentum: number;
  nesterov: boolean;
}

function parseOuter(text: string): OuterSetting {
  const [lr, momentum, plain] = text.split(":");
  const setting = { lr: Number(lr), momentum: Number(momentum ?? 0), nesterov: plain !== "plain" };
  if (!(setting.lr > 0) || !(setting.momentum >= 0 && setting.momentum < 1) || (plain && plain !== "plain"))
    throw new Error(`--outer ${text}: expected lr:momentum or lr:momentum:plain, e.g. 0.7:0.9`);
  return setting;
}

const describeOuter = (o: OuterSetting) =>
  `lr ${o.lr}, μ ${o.momentum}${o.momentum > 0 ? (o.nesterov ? " Nesterov" : " plain") : ""}`;
const fixed = (x: number) => x.toFixed(4);

/** The k replicas' training batches of one round, as the trainer draws them (seed, round, replica). */
function replicaBatches(shards: Uint16Array[][], spec: RunSpec, round: number) {
  return shards.map(
    (own, replica) =>
      new TrainingBatches(own, spec.model.contextLength, spec.inner.batch, spec.seed, round, replica),
  );
}

/** One batch of k·b rows: the k replicas' batches of this step side by side. */
function concatenated(sources: readonly BatchSource[]): BatchSource {
  return {
    next(): Batch {
      const parts = sources.map((s) => s.next());
      const join = (pick: (b: Batch) => Int32Array) => {
        const out = new Int32Array(parts.reduce((n, p) => n + pick(p).length, 0));
        let at = 0;
        for (const p of parts) {
          out.set(pick(p), at);
          at += pick(p).length;
        }
        return out;
      };
      return {
        inputs: join((b) => b.inputs),
        targets: join((b) => b.targets),
        size: parts.reduce((n, p) => n + p.size, 0),
      };
    },
  };
}

interface Workspace {
  dir: string;
  datasetDir: string;
  dataset: Dataset;
  /** Training shards of each replica, as `assignShards` gives them. */
  shards: Uint16Array[][];
  /** Every window of the validation split: the arms' final score. */
  heldOut: Batch[];
}

async function workspace(base: RunSpec): Promise<Workspace> {
  const dir = await mkdtemp(join(tmpdir(), "daotrain-bench-diloco-"));
  const datasetDir = join(dir, "dataset");
  const manifest = await packDataset(DEMO_CORPUS, datasetDir, { shardTokens: DEMO_SHARD_TOKENS });
  const dataset = await openDataset(datasetDir, manifest.root as `0x${string}`);
  const shards = await Promise.all(
    Array.from({ length: base.replicasPerRound }, (_, replica) =>
      Promise.all(assignShards(manifest, replica, base.replicasPerRound).map((i) => dataset.readShard(i))),
    ),
  );
  const validation = await dataset.readValidation();
  const windows = Math.floor((validation.length - 1) / base.model.contextLength);
  const heldOut = validationBatches(
    validation,
    base.model.contextLength,
    base.inner.batch,
    Math.floor(windows / base.inner.batch),
  );
  return { dir, datasetDir, dataset, shards, heldOut };
}

/** `steps` AdamW steps (one optimizer state throughout) from θ₀; the trained values. */
async function trainedFromStart(spec: RunSpec, batches: BatchSource, steps: number, batch: number) {
  const wide: RunSpec = { ...spec, inner: { ...spec.inner, batch } };
  const params = paramsToTensors(modelValues(initialCheckpoint(spec).tensors, spec), spec.model);
  try {
    innerLoop(params, wide, batches, steps);
    return await tensorsToValues(params);
  } finally {
    tf.dispose(Object.values(params));
  }
}

interface DilocoRound {
  round: number;
  /** The run's metric: the new global's loss on the spec's validation batches. */
  valLoss: number;
  /** θ's loss on the same batches, before the round. */
  globalLoss: number;
  /** Highest (replica − θ) held-out loss among the replicas: > 0 means one did not improve on θ. */
  worstReplicaDelta: number;
  rejected: string[];
}

interface DilocoRun {
  rounds: DilocoRound[];
  /** The final global's loss on the whole validation split. */
  finalHeldOut: number;
  seconds: number;
}

/** A DiLoCo run as a daotrain run trains it: the trainer per replica, then the outer step, per round. */
async function dilocoRun(ws: Workspace, spec: RunSpec, label: string): Promise<DilocoRun> {
  const dir = join(ws.dir, `diloco-${label}`);
  await mkdir(dir);
  const started = performance.now();
  const init = initialCheckpoint(spec);
  let global = join(dir, "global-0");
  let globalManifest = await writeCheckpoint(global, init.tensors, init.fields);
  const rounds: DilocoRound[] = [];
  const quiet = () => {};
  for (let round = 1; round <= spec.rounds; round++) {
    const replicas = [];
    for (let replica = 0; replica < spec.replicasPerRound; replica++) {
      const output = join(dir, `round-${round}`, `replica-${replica}`);
      const trained = await runTrainer(
        trainerEnvVars({
          DAOTRAIN_RUN_ID: runIdOf(spec),
          DAOTRAIN_ROUND: round - 1,
          DAOTRAIN_REPLICA: replica,
          DAOTRAIN_REPLICAS: spec.replicasPerRound,
          DAOTRAIN_INIT_URI: pathToFileURL(global).href,
          DAOTRAIN_INIT_ROOT: globalManifest.root,
          DAOTRAIN_DATASET_URI: pathToFileURL(ws.datasetDir).href,
          DAOTRAIN_DATASET_ROOT: spec.dataset,
          DAOTRAIN_SHARDS: assignShards(ws.dataset.manifest, replica, spec.replicasPerRound).join(","),
          DAOTRAIN_INNER_STEPS: spec.innerSteps,
          DAOTRAIN_SEED: spec.seed,
          DAOTRAIN_OUTPUT_URI: pathToFileURL(output).href,
        }),
        quiet,
      );
      replicas.push({
        id: `r${replica}`,
        index: replica,
        dir: output,
        root: trained.manifest.root as `0x${string}`,
      });
    }
    const step = await outerStep({
      global,
      globalRoot: globalManifest.root as `0x${string}`,
      replicas,
      spec,
      dataset: async () => ws.datasetDir,
    });
    global = join(dir, `global-${round}`);
    globalManifest = await step.write(global);
    const replicaLosses = Object.values(step.valLoss.replicas);
    rounds.push({
      round,
      valLoss: step.valLoss.next ?? Number.NaN,
      globalLoss: step.valLoss.global,
      worstReplicaDelta: Math.max(...replicaLosses) - step.valLoss.global,
      rejected: step.rejected.map((r) => `${r.id}: ${r.reason} (${r.message})`),
    });
  }
  const final = await readCheckpoint(global);
  return {
    rounds,
    finalHeldOut: await lossOfValues(modelValues(final.tensors, spec), spec, ws.heldOut),
    seconds: (performance.now() - started) / 1000,
  };
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const spread = (xs: readonly number[]) => `${fixed(Math.min(...xs))}–${fixed(Math.max(...xs))}`;

/** Final held-out losses of the two baselines, per seed. */
async function baselines(ws: Workspace, spec: RunSpec) {
  const steps = spec.rounds * spec.innerSteps;
  const single = await trainedFromStart(
    spec,
    new TrainingBatches(ws.shards.flat(), spec.model.contextLength, spec.inner.batch, spec.seed, 0, 0),
    steps,
    spec.inner.batch,
  );
  let round = 0;
  let taken = 0;
  let current = concatenated(replicaBatches(ws.shards, spec, round));
  // Round by round, the batches the DiLoCo replicas draw: the same tokens, averaged every step.
  const synchronous: BatchSource = {
    next() {
      if (taken === spec.innerSteps) {
        round += 1;
        taken = 0;
        current = concatenated(replicaBatches(ws.shards, spec, round));
      }
      taken += 1;
      return current.next();
    },
  };
  const sync = await trainedFromStart(spec, synchronous, steps, spec.inner.batch * spec.replicasPerRound);
  return {
    single: await lossOfValues(single, spec, ws.heldOut),
    synchronous: await lossOfValues(sync, spec, ws.heldOut),
  };
}

async function main(): Promise<void> {
  const backend = await selectBackend();
  const placeholder = `0x${"00".repeat(32)}` as const;
  const base = await demoRunSpec({
    reduced: args.reduced,
    rounds: args.rounds ? Number(args.rounds) : undefined,
    dataset: placeholder,
    overrides: args["inner-steps"] ? { innerSteps: Number(args["inner-steps"]) } : {},
  });
  const ws = await workspace(base);
  try {
    const spec = { ...base, dataset: ws.dataset.manifest.root as `0x${string}` };
    const k = spec.replicasPerRound;
    const steps = spec.rounds * spec.innerSteps;
    const seeds = args.seeds ? args.seeds.split(",").map(Number) : [spec.seed];
    const innerSteps = [
      spec.innerSteps,
      ...(args["compare-h"] ? args["compare-h"].split(",").map(Number) : []).filter(
        (h) => h !== spec.innerSteps,
      ),
    ];
    for (const h of innerSteps)
      if (steps % h !== 0) throw new Error(`--compare-h ${h} does not divide T = ${steps}`);
    const settings = [spec.outer, ...(args.outer ? args.outer.split(",").map(parseOuter) : [])];
    const [load1] = loadavg();
    console.log(
      `DiLoCo bench: the ${args.reduced ? "reduced " : ""}demo model (d${spec.model.dModel} L${spec.model.layers} T${spec.model.contextLength}), ` +
        `${k} replicas, ${spec.rounds} rounds × H = ${spec.innerSteps} inner steps (T = ${steps}), batch ${spec.inner.batch}, ` +
        `inner lr ${spec.inner.lr}; seeds ${seeds.join(", ")}; backend ${backend.name}; ${cpus().length} cores, load ${load1!.toFixed(1)}\n` +
        `held-out score: all ${ws.heldOut.length} batches of the validation split, mean over the seeds\n`,
    );

    const started = performance.now();
    const single: number[] = [];
    const synchronous: number[] = [];
    const byH = new Map<number, DilocoRun[]>(innerSteps.map((h) => [h, []]));
    const bySetting = new Map<OuterSetting, DilocoRun[]>(settings.map((o) => [o, []]));
    let label = 0;
    for (const seed of seeds) {
      const seeded = { ...spec, seed };
      if (!args["skip-arms"]) {
        const arms = await baselines(ws, seeded);
        single.push(arms.single);
        synchronous.push(arms.synchronous);
        for (const h of innerSteps) {
          const run = await dilocoRun(ws, { ...seeded, innerSteps: h, rounds: steps / h }, String(label++));
          byH.get(h)!.push(run);
          if (h === spec.innerSteps) bySetting.get(spec.outer)!.push(run);
        }
      }
      for (const o of settings) {
        if (bySetting.get(o)!.length > seeds.indexOf(seed)) continue;
        bySetting
          .get(o)!
          .push(await dilocoRun(ws, { ...seeded, outer: { ...spec.outer, ...o } }, String(label++)));
      }
    }

    if (!args["skip-arms"]) {
      const baseline = mean(single);
      const gap = baseline - mean(synchronous);
      console.log(`Part 1 — at equal inner steps (T = ${steps} per replica); baseline: one replica`);
      printTable(
        [
          "arm",
          "replicas × batch",
          "steps each",
          "final held-out loss",
          "per seed",
          "vs one replica",
          "share of the gap closed",
        ],
        [
          [
            "one replica",
            `1 × ${spec.inner.batch}`,
            String(steps),
            fixed(baseline),
            spread(single),
            "0.0000",
            "0 %",
          ],
          [
            "synchronous data parallel (averaged every step)",
            `${k} × ${spec.inner.batch}`,
            String(steps),
            fixed(mean(synchronous)),
            spread(synchronous),
            fixed(mean(synchronous) - baseline),
            "100 %",
          ],
          ...innerSteps.map((h) => {
            const finals = byH.get(h)!.map((r) => r.finalHeldOut);
            return [
              `DiLoCo (H = ${h}, ${describeOuter(spec.outer)})`,
              `${k} × ${spec.inner.batch}`,
              `${steps / h} × ${h}`,
              fixed(mean(finals)),
              spread(finals),
              fixed(mean(finals) - baseline),
              `${((100 * (baseline - mean(finals))) / gap).toFixed(0)} %`,
            ];
          }),
        ],
      );
      console.log(
        "\n(goal: DiLoCo closes ≥ 70 % of the gap between one replica and synchronous data parallel)\n",
      );
    }

    console.log(
      `Part 2 — the run's own metric round by round (the new global's loss on its ${spec.validation.batches} validation batches, mean over the seeds); baseline: round 0`,
    );
    printTable(
      [
        "outer optimizer",
        "round 0",
        ...Array.from({ length: spec.rounds }, (_, r) => `round ${r + 1}`),
        "falls every round",
        "worst replica − θ",
        "rejected",
        "final held-out (all)",
      ],
      settings.map((o, i) => {
        const runs = bySetting.get(o)!;
        const perRound = Array.from({ length: spec.rounds + 1 }, (_, r) =>
          mean(runs.map((run) => (r === 0 ? run.rounds[0]!.globalLoss : run.rounds[r - 1]!.valLoss))),
        );
        const falling = runs.filter((run) => run.rounds.every((r) => r.valLoss < r.globalLoss)).length;
        return [
          `${describeOuter(o)}${i === 0 ? " (spec)" : ""}`,
          ...perRound.map(fixed),
          `${falling} of ${runs.length} seeds`,
          fixed(Math.max(...runs.flatMap((run) => run.rounds.map((r) => r.worstReplicaDelta)))),
          String(runs.reduce((n, run) => n + run.rounds.reduce((m, r) => m + r.rejected.length, 0), 0)),
          fixed(mean(runs.map((run) => run.finalHeldOut))),
        ];
      }),
    );
    const rejections = settings.flatMap((o) =>
      bySetting
        .get(o)!
        .flatMap((run, seed) =>
          run.rounds.flatMap((r) =>
            r.rejected.map((why) => `  ${describeOuter(o)}, seed ${seeds[seed]}, round ${r.round}: ${why}`),
          ),
        ),
    );
    if (rejections.length > 0)
      console.log(`\nhonest replicas rejected by the outer step:\n${rejections.join("\n")}`);
    console.log(`\n${((performance.now() - started) / 1000).toFixed(0)} s in all`);
  } finally {
    await rm(ws.dir, { recursive: true, force: true });
  }
}

await main();
