/**
 * The worker's own cost of scoring a round (issue 18.1, the time half): CPU seconds of the worker's
 * process and its peak RSS for the outer step over 4 and 32 replicas of a 25.4M-parameter model,
 * scoring every replica itself ("worker") beside reading the scores evaluation pods wrote and
 * re-checking what the rule draws ("evaluated": workers/activities/aggregation.ts
 * `evaluatedScores`, the plan and the draw of workflows/planning.ts), each in a process of its own,
 * in the same run. Prints whether both give the same root (they must), and what the evaluators
 * took (wall seconds of each `node trainer/evaluate.ts`, the program an evaluation pod runs, run
 * here one after another in place of the pods).
 *
 *   node bench/roundScoring.ts [--replicas 4,32] [--evaluators 1] [--work DIR] [--small]
 *
 * `--evaluators N`: evaluating clusters of N owners (1: one evaluator per output and one re-check a
 * round; 2 or more: two evaluators per output, no re-check while they agree). `--small`: a d128 × 2
 * model, to try the bench quickly; the figures that count are the 25.4M model's.
 */
import { execFile } from "node:child_process";
import { copyFile, mkdir, readFile, rm, stat } from "node:fs/promises";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs, promisify } from "node:util";
import { readCheckpointManifest } from "../checkpoints/index.ts";
import { outerStep, replicaBounds, roundManifests } from "../diloco/index.ts";
import { scoringSeedHex } from "../model/replicaScores.ts";
import { RunStore } from "../rounds/runStore.ts";
import { type RunSpec, runIdOf } from "../spec/runSpec.ts";
import { evaluatorEnvVars } from "../spec/trainerContract.ts";
import { evaluatedScores } from "../workers/activities/aggregation.ts";
import { drawRechecks, planEvaluations } from "../workflows/planning.ts";
import type { ClusterCandidate, Hex, RoundEvaluations } from "../workflows/types.ts";
import { BENCH_MODEL, type BenchModel, exists, prepare, repo } from "./benchRound.ts";
import { printTable } from "./table.ts";

const MiB = 2 ** 20;
const exec = promisify(execFile);
const SMALL: BenchModel = { dModel: 128, layers: 2 };

interface Measurement {
  readonly cpuSeconds: number;
  readonly wallSeconds: number;
  readonly peakRssBytes: number;
  readonly root: string;
  readonly accepted: number;
  /** Outputs whose scores the worker computed itself. */
  readonly computed: number;
}

const hexId = (n: number) => `0x${n.toString(16).padStart(64, "0")}` as Hex;

/** The round's evaluating clusters and the replicas' authors, as surveyClusters would list them. */
function candidates(k: number, evaluators: number): ClusterCandidate[] {
  const cluster = (name: string, n: number, evaluates: boolean): ClusterCandidate => ({
    id: hexId(n),
    name,
    owner: `0x${n.toString(16).padStart(40, "0")}` as Hex,
    health: { healthy: true, freeGpus: 1 },
    ...(evaluates ? { evaluates: true as const } : {}),
  });
  return [
    ...Array.from({ length: evaluators }, (_, e) => cluster(`evaluator-${e}`, 1000 + e, true)),
    ...Array.from({ length: k }, (_, i) => cluster(`author-${i}`, i + 1, false)),
  ];
}

const replicasOf = (work: string, k: number) =>
  Array.from({ length: k }, (_, i) => ({ id: String(i), index: i, dir: join(work, `replica-${i}`) }));

/**
 * The store the evaluators write to and the worker reads from, one per round size (the seed, and
 * so the scores, depend on which replicas the round has).
 */
const scoresDir = (work: string, k: number) => join(work, `scores-of-${k}`);
const storeOf = (work: string, k: number) =>
  new RunStore(pathToFileURL(scoresDir(work, k)).href, join(work, "staged"));

/** Who scores what, and what the rule re-checks (a fixed draw, so every run measures the same). */
async function evaluations(
  work: string,
  spec: RunSpec,
  k: number,
  evaluators: number,
): Promise<RoundEvaluations> {
  const global = await readCheckpointManifest(join(work, "global"));
  const { seed, readable } = await roundManifests(
    { manifest: global, root: global.root },
    replicasOf(work, k),
    replicaBounds(spec),
  );
  const plan = planEvaluations(
    readable.map((r) => ({ replica: r.replica.index, clusterId: hexId(r.replica.index + 1) })),
    candidates(k, evaluators),
  );
  if (!plan) throw new Error("no evaluation plan");
  const recheck = drawRechecks(plan, () => 0.5);
  return {
    attempt: 1,
    seed: scoringSeedHex(seed),
    outputs: readable.map((r) => ({
      replica: r.replica.index,
      root: r.manifest.root as Hex,
      evaluators: (plan.evaluators.get(r.replica.index) ?? []).map((c) => ({
        clusterId: c.id,
        clusterName: c.name,
      })),
      recheck: recheck.has(r.replica.index),
    })),
  };
}

/** In a child (the worker's process): one outer step over the first `k` replicas. */
async function child(mode: string, k: number, evaluators: number, work: string): Promise<Measurement> {
  const spec = JSON.parse(await readFile(join(work, "spec.json"), "utf8")) as RunSpec;
  const runId = runIdOf(spec);
  const planned = mode === "evaluated" ? await evaluations(work, spec, k, evaluators) : undefined;
  const cpu = process.cpuUsage();
  const started = performance.now();
  let computed = 0;
  const scores = planned
    ? evaluatedScores({ runStore: storeOf(work, k), runId, round: 1, evaluations: planned, liars: new Set() })
    : undefined;
  const result = await outerStep({
    global: join(work, "global"),
    replicas: replicasOf(work, k),
    spec,
    dataset: async () => join(work, "dataset"),
    scores: async (request, compute) => {
      const counted = () => {
        computed += 1;
        return compute();
      };
      return scores ? scores(request, counted) : { scores: await counted() };
    },
  });
  const out = join(work, `out-${mode}-${k}-${process.pid}`);
  const manifest = await result.write(out);
  const used = process.cpuUsage(cpu);
  const wallSeconds = (performance.now() - started) / 1000;
  await rm(out, { recursive: true, force: true });
  return {
    cpuSeconds: (used.user + used.system) / 1e6,
    wallSeconds,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    root: manifest.root,
    accepted: result.accepted.length,
    computed,
  };
}

/**
 * What the evaluation pods write: `node trainer/evaluate.ts` per output, with the evaluator
 * contract's env, here one after another. Two evaluators of one output compute the same bits, so
 * the second one's file is a copy. Returns each run's wall seconds.
 */
async function runEvaluators(work: string, spec: RunSpec, k: number, evaluators: number): Promise<number[]> {
  const plan = await evaluations(work, spec, k, evaluators);
  const store = storeOf(work, k);
  const runId = runIdOf(spec);
  const seconds: number[] = [];
  for (const output of plan.outputs) {
    const [first, ...others] = output.evaluators;
    if (!first) continue;
    const path = (clusterName: string) =>
      join(scoresDir(work, k), store.scoresKey(runId, 1, clusterName, output.replica, plan.attempt));
    const scoresPath = path(first.clusterName);
    if (!(await exists(scoresPath))) {
      const env = evaluatorEnvVars({
        DAOTRAIN_RUN_ID: runId,
        DAOTRAIN_ROUND: 0,
        DAOTRAIN_REPLICA: output.replica,
        DAOTRAIN_INIT_URI: pathToFileURL(join(work, "global")).href,
        DAOTRAIN_INIT_ROOT: (await readCheckpointManifest(join(work, "global"))).root,
        DAOTRAIN_DATASET_URI: pathToFileURL(join(work, "dataset")).href,
        DAOTRAIN_DATASET_ROOT: spec.dataset,
        DAOTRAIN_EVALUATE_URI: pathToFileURL(join(work, `replica-${output.replica}`)).href,
        DAOTRAIN_EVALUATE_ROOT: output.root,
        DAOTRAIN_SCORING_SEED: plan.seed,
        DAOTRAIN_SCORES_URI: pathToFileURL(scoresPath).href,
      });
      const started = performance.now();
      await exec(process.execPath, [join(repo, "trainer/evaluate.ts")], {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: join(work, "tmp"), ...env },
        maxBuffer: 1 << 20,
      });
      seconds.push((performance.now() - started) / 1000);
      process.stderr.write(
        `evaluator of replica ${output.replica} (${k} replicas): ${seconds.at(-1)!.toFixed(1)} s\n`,
      );
    }
    for (const other of others) {
      await mkdir(resolve(path(other.clusterName), ".."), { recursive: true });
      await copyFile(scoresPath, path(other.clusterName));
    }
  }
  return seconds;
}

async function measure(
  mode: string,
  k: number,
  evaluators: number,
  work: string,
): Promise<Measurement | string> {
  try {
    const args = [
      "--child",
      mode,
      "--replicas",
      String(k),
      "--evaluators",
      String(evaluators),
      "--work",
      work,
    ];
    const { stdout } = await exec(process.execPath, [new URL(import.meta.url).pathname, ...args], {
      maxBuffer: 1 << 20,
    });
    return JSON.parse(stdout.trim().split("\n").at(-1)!) as Measurement;
  } catch (error) {
    return (error as Error).message.split("\n")[0]!.slice(0, 160);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: "string" },
      replicas: { type: "string", default: "4,32" },
      evaluators: { type: "string", default: "1" },
      work: { type: "string" },
      small: { type: "boolean", default: false },
    },
    strict: true,
  });
  const size = values.small ? SMALL : BENCH_MODEL;
  const work = resolve(
    values.work ?? join(repo, ".daotrain", "bench", values.small ? "round-scoring-small" : "outer-step"),
  );
  const evaluators = Number(values.evaluators);
  if (values.child) {
    const result = await child(values.child, Number(values.replicas), evaluators, work);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const sizes = values.replicas.split(",").map(Number);
  const spec = await prepare(work, Math.max(...sizes), size);
  await mkdir(join(work, "tmp"), { recursive: true });
  const modelBytes = (await stat(join(work, "replica-0", "model.safetensors"))).size;
  const rows: string[][] = [];
  const results = new Map<string, Measurement | string>();
  for (const k of sizes) {
    const evaluatorSeconds = await runEvaluators(work, spec, k, evaluators);
    for (const mode of ["worker", "evaluated"]) {
      const result = await measure(mode, k, evaluators, work);
      results.set(`${mode}/${k}`, result);
      process.stderr.write(
        `${mode} × ${k}: ${typeof result === "string" ? result : JSON.stringify(result)}\n`,
      );
    }
    const [own, evaluated] = [results.get(`worker/${k}`), results.get(`evaluated/${k}`)];
    const cell = (m: Measurement | string | undefined) =>
      m === undefined
        ? "—"
        : typeof m === "string"
          ? m
          : `${m.cpuSeconds.toFixed(1)} s CPU (${m.wallSeconds.toFixed(1)} s wall), ${(m.peakRssBytes / MiB).toFixed(0)} MiB, ${m.computed} scored here`;
    rows.push([
      String(k),
      cell(own),
      cell(evaluated),
      typeof own === "object" && typeof evaluated === "object"
        ? `${(evaluated.cpuSeconds / own.cpuSeconds).toFixed(2)}×`
        : "",
      typeof own === "object" && typeof evaluated === "object"
        ? own.root === evaluated.root
          ? "yes"
          : "no"
        : "",
      evaluatorSeconds.length > 0
        ? `${evaluatorSeconds.length} × ${(evaluatorSeconds.reduce((a, b) => a + b, 0) / evaluatorSeconds.length).toFixed(1)} s`
        : "cached",
    ]);
  }
  console.log(
    `scoring a round of a ${(modelBytes / MiB).toFixed(0)} MiB model (d${size.dModel} × ${size.layers}), ${evaluators} evaluating owner(s); ` +
      `one process per cell; load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(" ")}`,
  );
  printTable(
    [
      "replicas",
      "worker scores all: CPU, peak RSS",
      "evaluation Jobs + rule: CPU, peak RSS",
      "CPU ratio",
      "same root",
      "evaluator runs (wall each)",
    ],
    rows,
  );
  const cpuOf = (mode: string, k: number | undefined) => {
    const m = results.get(`${mode}/${k}`);
    return typeof m === "object" ? m.cpuSeconds : undefined;
  };
  const [a, b] = [cpuOf("evaluated", sizes[0]), cpuOf("evaluated", sizes.at(-1))];
  console.log(
    `worker CPU with evaluation Jobs from ${sizes[0]} to ${sizes.at(-1)} replicas: ` +
      (a && b ? `${(((b - a) / a) * 100).toFixed(0)} % growth` : "?") +
      "; goal: less than 10 %",
  );
}

await main();
