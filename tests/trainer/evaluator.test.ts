import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CheckpointManifest, readCheckpoint, writeCheckpoint } from "../../checkpoints/index.ts";
import { type DatasetManifest, packDataset } from "../../datasets/index.ts";
import {
  outerStep,
  type ReplicaInput,
  replicaBounds,
  roundManifests,
  type ScoringRequest,
} from "../../diloco/index.ts";
import {
  initialCheckpoint,
  modelValues,
  runSpecMetadata,
  scoringSeedHex,
  toTensors,
} from "../../model/index.ts";
import { parseRunSpec, type RunSpec, runIdOf } from "../../spec/runSpec.ts";
import { SeededRandom } from "../../spec/seededRandom.ts";
import { evaluatorEnvVars, parseScoresFile } from "../../spec/trainerContract.ts";
import { TEST_IMAGE } from "../orchestration/fixtures.ts";

// The evaluation pod's program (`node trainer/evaluate.ts`) against the worker's own scoring: the
// same bits from another process, and the refusals of what does not match its root.

const repo = new URL("../../", import.meta.url).pathname;
const fileUri = (path: string) => `file://${path}`;

let dir: string;
let dataset: DatasetManifest;
let spec: RunSpec;
let global0: CheckpointManifest;
let replicas: ReplicaInput[];
let seed: number[];
const roots: string[] = [];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function runEvaluator(env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(repo, "trainer/evaluate.ts")],
      { env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env }, timeout: 120_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function contract(replica: number, overrides: Record<string, string> = {}) {
  return {
    ...evaluatorEnvVars({
      DAOTRAIN_RUN_ID: runIdOf(spec),
      DAOTRAIN_ROUND: 0,
      DAOTRAIN_REPLICA: replica,
      DAOTRAIN_INIT_URI: fileUri(join(dir, "global-0")),
      DAOTRAIN_INIT_ROOT: global0.root,
      DAOTRAIN_DATASET_URI: fileUri(join(dir, "dataset")),
      DAOTRAIN_DATASET_ROOT: dataset.root,
      DAOTRAIN_EVALUATE_URI: fileUri(join(dir, `replica-${replica}`)),
      DAOTRAIN_EVALUATE_ROOT: roots[replica] as `0x${string}`,
      DAOTRAIN_SCORING_SEED: scoringSeedHex(seed),
      DAOTRAIN_SCORES_URI: fileUri(join(dir, "scores", `${replica}.json`)),
    }),
    ...overrides,
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "daotrain-evaluator-"));
  dataset = await packDataset(join(repo, "datasets/corpus"), join(dir, "dataset"), { shardTokens: 16_384 });
  spec = parseRunSpec({
    name: "evaluated round",
    model: {
      architecture: "transformer-lm",
      vocabSize: 256,
      contextLength: 32,
      dModel: 32,
      layers: 1,
      heads: 2,
    },
    dataset: dataset.root,
    rounds: 1,
    innerSteps: 5,
    replicasPerRound: 2,
    minReplicas: 1,
    gpusPerReplica: 0,
    gpuHourBudget: 1,
    rewardPerGpuHour: "1000",
    outer: {},
    inner: { optimizer: "adamw", lr: 3e-3, batch: 4 },
    validation: { batches: 2, tolerance: 0.5 },
    seed: 3,
    image: TEST_IMAGE,
  });
  const init = initialCheckpoint(spec);
  global0 = await writeCheckpoint(join(dir, "global-0"), init.tensors, init.fields);
  const theta = modelValues(init.tensors, spec);
  // Two outputs: θ moved by a small seeded step each (what they are scored on needs no training).
  for (const replica of [0, 1]) {
    const random = new SeededRandom(replica + 1);
    const moved = Object.fromEntries(
      Object.entries(theta).map(([name, t]) => [name, t.map((x) => x + 1e-3 * random.normal())]),
    );
    const manifest = await writeCheckpoint(join(dir, `replica-${replica}`), toTensors(moved, spec.model), {
      runId: runIdOf(spec),
      round: 0,
      parentRoot: global0.root,
      metrics: { loss: null, valLoss: null, tokens: 0, steps: 5 },
      metadata: runSpecMetadata(spec),
    });
    roots.push(manifest.root);
  }
  replicas = [0, 1].map((i) => ({ id: String(i), index: i, dir: join(dir, `replica-${i}`) }));
  seed = (await roundManifests({ manifest: global0, root: global0.root }, replicas, replicaBounds(spec)))
    .seed;
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("the evaluator (node trainer/evaluate.ts)", () => {
  it("writes the very scores the worker computes, and an outer step taking them gives the worker's root and verdicts", async () => {
    const runs = await Promise.all([0, 1].map((i) => runEvaluator(contract(i))));
    for (const run of runs) expect(run.code, run.stderr).toBe(0);
    const files = await Promise.all(
      [0, 1].map(async (i) =>
        parseScoresFile(await readFile(join(dir, "scores", `${i}.json`), "utf8"), `scores ${i}`),
      ),
    );
    expect(files.map((f) => [f.replica, f.root, f.seed])).toEqual([
      [0, roots[0], scoringSeedHex(seed)],
      [1, roots[1], scoringSeedHex(seed)],
    ]);

    const step = (
      scores?: (
        request: ScoringRequest,
      ) => ReturnType<NonNullable<Parameters<typeof outerStep>[0]["scores"]>>,
    ) =>
      outerStep({
        global: join(dir, "global-0"),
        globalRoot: global0.root,
        replicas,
        spec,
        dataset: async () => join(dir, "dataset"),
        ...(scores ? { scores } : {}),
      });
    const worker = await step();
    const evaluated = await step(async (request) => {
      expect(request.seed).toEqual(seed);
      return { scores: files[request.index]!.scores, evaluatedBy: ["pod"] };
    });
    for (const [i, evidence] of worker.evidence.replicas.entries()) {
      if (!("scores" in evidence)) throw new Error(`replica ${i} was not scored`);
      expect(files[i]!.scores).toEqual(evidence.scores);
      expect(Object.is(files[i]!.scores.heldOutLoss, evidence.scores.heldOutLoss)).toBe(true);
    }
    expect(evaluated.verdicts).toEqual(worker.verdicts);
    expect(evaluated.evidence.replicas.map((e) => ("evaluatedBy" in e ? e.evaluatedBy : undefined))).toEqual([
      ["pod"],
      ["pod"],
    ]);
    const [a, b] = await Promise.all([
      worker.write(join(dir, "next-worker")),
      evaluated.write(join(dir, "next-evaluated")),
    ]);
    expect(b.root).toBe(a.root);
  });

  it("refuses an output whose bytes are not the root it was given (exit 3) and a malformed seed (exit 2), naming the variable, and writes no scores", async () => {
    const wrongRoot = await runEvaluator(
      contract(0, {
        DAOTRAIN_EVALUATE_ROOT: roots[1]!,
        DAOTRAIN_SCORES_URI: fileUri(join(dir, "wrong.json")),
      }),
    );
    expect(wrongRoot.code).toBe(3);
    expect(wrongRoot.stderr).toMatch(/evaluator: failed: .*root/);
    const badSeed = await runEvaluator(contract(0, { DAOTRAIN_SCORING_SEED: "0x1234" }));
    expect(badSeed.code).toBe(2);
    expect(badSeed.stderr).toMatch(/evaluator: failed: .*DAOTRAIN_SCORING_SEED/);
    await expect(readFile(join(dir, "wrong.json"))).rejects.toThrow(/ENOENT/);
    // The scored replica's checkpoint is still what it was (the evaluator only reads it).
    expect((await readCheckpoint(join(dir, "replica-0"))).manifest.root).toBe(roots[0]);
  });
});
