import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type CheckpointManifest,
  readCheckpoint,
  type Tensor,
  writeCheckpoint,
} from "../../checkpoints/index.ts";
import { dequantiseInt8, INT8_SCALES_TENSOR, INT8_VALUES_TENSOR } from "../../checkpoints/pseudoGradient.ts";
import { assignShards, type DatasetManifest, packDataset } from "../../datasets/index.ts";
import { outerStep, type RejectionReason, type ReplicaInput, type Verdict } from "../../diloco/index.ts";
import { initialCheckpoint, modelValues, parameterShapes, runSpecMetadata } from "../../model/index.ts";
import { parseRunSpec, type RunSpec, type RunSpecInput, runIdOf } from "../../spec/runSpec.ts";
import { SeededRandom } from "../../spec/seededRandom.ts";
import { trainerEnvVars } from "../../spec/trainerContract.ts";
import { replicaOutputTensors } from "../../trainer/output.ts";
import { TEST_IMAGE } from "../orchestration/fixtures.ts";

const repo = new URL("../../", import.meta.url).pathname;
const corpus = join(repo, "datasets/corpus");

export interface TrainerRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node trainer/main.ts` as an orchestrator would, with the trainer contract's environment,
 * killing it after `timeoutMs` (0: never).
 */
export function runTrainer(env: Record<string, string>, timeoutMs = 120_000): Promise<TrainerRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(repo, "trainer/main.ts")],
      { env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env }, timeout: timeoutMs },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

export type Values = Record<string, Float32Array>;

/**
 * One DiLoCo round on the CPU: the shipped corpus packed, round 0 written, and two real trainer
 * processes trained from it on their own shards (replica-0, replica-1), with what a test needs to
 * judge them and to write what a stranger could deliver instead.
 */
export interface TrainedRound {
  readonly dir: string;
  readonly dataset: DatasetManifest;
  readonly spec: RunSpec;
  readonly global0: CheckpointManifest;
  readonly replicaDirs: readonly [string, string];
  readonly runs: readonly [TrainerRun, TrainerRun];
  /** performance.now() when the fixture started packing the dataset. */
  readonly startedAt: number;
  /** The trainer contract's environment for `replica` writing to `output`. */
  contract(replica: number, output: string, overrides?: Record<string, string>): Record<string, string>;
  /** The outer step on this round, reading the local dataset. */
  step(
    replicas: ReplicaInput[],
    extra?: { globalRoot?: CheckpointManifest["root"] },
  ): ReturnType<typeof outerStep>;
  /** θₖ of a checkpoint, in either form (an int8 one as θ − Δ). */
  valuesOf(checkpointDir: string): Promise<Values>;
  /**
   * A replica checkpoint standing for θₖ = `values`, in the spec's form (or as `edit` changes its
   * tensors), with the round's lineage.
   */
  writeReplica(
    name: string,
    values: Values,
    edit?: (tensors: Record<string, Tensor>) => Record<string, Tensor>,
  ): Promise<string>;
  remove(): Promise<void>;
}

export async function trainedRound(overrides: Partial<RunSpecInput> = {}): Promise<TrainedRound> {
  const dir = await mkdtemp(join(tmpdir(), "daotrain-diloco-"));
  const started = performance.now();
  const dataset = await packDataset(corpus, join(dir, "dataset"), { shardTokens: 16_384 });
  const spec = parseRunSpec({
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
    ...overrides,
  });
  const init = initialCheckpoint(spec);
  const global0Dir = join(dir, "global-0");
  const global0 = await writeCheckpoint(global0Dir, init.tensors, init.fields);
  const contract = (replica: number, output: string, extra: Record<string, string> = {}) => ({
    ...trainerEnvVars({
      DAOTRAIN_RUN_ID: runIdOf(spec),
      DAOTRAIN_ROUND: 0,
      DAOTRAIN_REPLICA: replica,
      DAOTRAIN_REPLICAS: 2,
      DAOTRAIN_INIT_URI: `file://${global0Dir}`,
      DAOTRAIN_INIT_ROOT: global0.root,
      DAOTRAIN_DATASET_URI: `file://${join(dir, "dataset")}`,
      DAOTRAIN_DATASET_ROOT: dataset.root,
      DAOTRAIN_SHARDS: assignShards(dataset, replica, 2).join(","),
      DAOTRAIN_INNER_STEPS: spec.innerSteps,
      DAOTRAIN_SEED: 11,
      DAOTRAIN_OUTPUT_URI: `file://${output}`,
    }),
    ...extra,
  });
  const replicaDirs = [join(dir, "replica-0"), join(dir, "replica-1")] as const;
  const runs = (await Promise.all(replicaDirs.map((out, i) => runTrainer(contract(i, out))))) as [
    TrainerRun,
    TrainerRun,
  ];
  const theta = modelValues((await readCheckpoint(global0Dir)).tensors, spec);

  return {
    dir,
    dataset,
    spec,
    global0,
    replicaDirs,
    runs,
    startedAt: started,
    contract,
    step: (replicas, extra = {}) =>
      outerStep({ global: global0Dir, ...extra, replicas, spec, dataset: async () => join(dir, "dataset") }),
    async valuesOf(checkpointDir) {
      const { tensors } = await readCheckpoint(checkpointDir);
      if (!(INT8_VALUES_TENSOR in tensors)) return modelValues(tensors, spec);
      return thetaMinusDeltas(theta, tensors, spec);
    },
    async writeReplica(name, values, edit = (tensors) => tensors) {
      await writeCheckpoint(join(dir, name), edit(replicaOutputTensors(theta, values, spec)), {
        runId: global0.runId,
        round: 0,
        parentRoot: global0.root,
        metrics: { loss: 1, valLoss: 1, tokens: 0, steps: spec.innerSteps },
        metadata: runSpecMetadata(spec),
      });
      return join(dir, name);
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

function thetaMinusDeltas(theta: Values, tensors: Readonly<Record<string, Tensor>>, spec: RunSpec): Values {
  const names = parameterShapes(spec.model).map(([name]) => name);
  const deltas = [
    ...dequantiseInt8(
      tensors[INT8_VALUES_TENSOR]!,
      tensors[INT8_SCALES_TENSOR]!,
      names.map((n) => theta[n]!.length),
    ),
  ];
  return Object.fromEntries(names.map((n, i) => [n, theta[n]!.map((t, c) => t - deltas[i]![c]!)]));
}

export function reasonsOf(result: { verdicts: readonly Verdict[] }) {
  return Object.fromEntries(result.verdicts.map((v) => [v.id, v.accepted ? "accepted" : v.reason]));
}

/** θ + scale·(θₖ − θ) + noise·N(0, 1) per coordinate. */
export function around(theta: Values, trained: Values, scale: number, noise = 0, seed = 1): Values {
  const random = new SeededRandom(seed);
  return Object.fromEntries(
    Object.entries(theta).map(([n, t]) => [
      n,
      t.map((x, i) => x + scale * (trained[n]![i]! - x) + noise * random.normal()),
    ]),
  );
}

/** ‖θₖ − θ‖ / √parameters: the size of an honest replica's step per coordinate. */
export function stepPerCoordinate(theta: Values, trained: Values): number {
  let squares = 0;
  let parameters = 0;
  for (const [n, t] of Object.entries(theta)) {
    parameters += t.length;
    for (let i = 0; i < t.length; i++) squares += (trained[n]![i]! - t[i]!) ** 2;
  }
  return Math.sqrt(squares / parameters);
}

/**
 * What a free rider delivers instead of training, written in the round's form: θ returned
 * unchanged, θ plus tiny noise, and noise of an honest step's size. The outer step must refuse
 * every one as `no-progress`.
 */
export async function freeRiders(
  round: TrainedRound,
  theta: Values,
  honestStep: number,
): Promise<ReplicaInput[]> {
  const riders: [string, Values][] = [
    ["unchanged", theta],
    ["tiny-noise", around(theta, theta, 0, 1e-6)],
    ["noise", around(theta, theta, 0, honestStep, 2)],
  ];
  const inputs: ReplicaInput[] = [];
  for (const [id, values] of riders) inputs.push({ id, index: 0, dir: await round.writeReplica(id, values) });
  return inputs;
}

/** The verdicts `reasonsOf` gives when every one of `replicas` is refused for `reason`. */
export function refusedAs(replicas: readonly ReplicaInput[], reason: RejectionReason) {
  return Object.fromEntries(replicas.map((r) => [r.id, reason]));
}
