/**
 * The outer step's peak memory and wall time over 4, 16 and 32 replicas of a 25.4M-parameter
 * model (97 MiB in F32), each measurement in a process of its own, beside the outer step as it was
 * before it streamed (commit BASELINE_COMMIT, extracted with `git archive` and run on the same
 * inputs). Prints whether both give the same root (they must, when they accept the same replicas),
 * and what the deterministic evaluator costs beside tfjs-wasm on this model.
 *
 *   node bench/outerStep.ts [--replicas 4,16,32] [--work DIR] [--skip-baseline]
 *
 * Replicas are trained for real (one AdamW step each on its own shards, tfjs-wasm) and kept under
 * the work directory (default .daotrain/bench/outer-step), so a second run starts at once.
 */
import { execFile } from "node:child_process";
import { mkdir, readFile, rm, stat, symlink } from "node:fs/promises";
import { freemem, loadavg, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs, promisify } from "node:util";
import type { CheckpointManifest } from "../checkpoints/index.ts";
import { openDataset } from "../datasets/index.ts";
import { outerStep } from "../diloco/index.ts";
import { selectBackend } from "../model/backend.ts";
import { validationBatches } from "../model/batches.ts";
import { deterministicLoss } from "../model/deterministicLoss.ts";
import { lossOfValues, modelValues } from "../model/evaluate.ts";
import { initialCheckpoint } from "../model/parameters.ts";
import type { RunSpec } from "../spec/runSpec.ts";
import { exists, prepare, repo } from "./benchRound.ts";
import { printTable } from "./table.ts";

/** The last commit whose outer step held every replica whole (main before the streaming outer step). */
const BASELINE_COMMIT = "8fbbda1";
const MiB = 2 ** 20;

const exec = promisify(execFile);

interface Measurement {
  readonly seconds: number;
  readonly peakRssBytes: number;
  readonly root: string;
  readonly accepted: number;
}

/** In a child: one outer step (baseline or streaming) over the first `k` replicas. */
async function child(impl: string, k: number, work: string): Promise<Measurement> {
  const spec = JSON.parse(await readFile(join(work, "spec.json"), "utf8")) as RunSpec;
  const replicas = Array.from({ length: k }, (_, i) => ({
    id: String(i),
    index: i,
    dir: join(work, `replica-${i}`),
  }));
  const out = join(work, `out-${impl}-${k}-${process.pid}`);
  const started = performance.now();
  let manifest: CheckpointManifest;
  let accepted: number;
  if (impl === "baseline") {
    const old = await import(join(work, "baseline", "diloco", "index.ts"));
    const result = await old.outerStep({
      global: join(work, "global"),
      replicas,
      spec,
      datasetDir: join(work, "dataset"),
    });
    accepted = result.accepted.length;
    manifest = await result.write(out);
  } else {
    const result = await outerStep({
      global: join(work, "global"),
      replicas,
      spec,
      dataset: async () => join(work, "dataset"),
    });
    accepted = result.accepted.length;
    manifest = await result.write(out);
  }
  const seconds = (performance.now() - started) / 1000;
  await rm(out, { recursive: true, force: true });
  return { seconds, peakRssBytes: process.resourceUsage().maxRSS * 1024, root: manifest.root, accepted };
}

/** main's outer step as it was at BASELINE_COMMIT, runnable beside this one. */
async function extractBaseline(work: string): Promise<void> {
  const dir = join(work, "baseline");
  if (await exists(join(dir, "diloco", "index.ts"))) return;
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await exec("sh", ["-c", `git -C "${repo}" archive ${BASELINE_COMMIT} | tar -x -C "${dir}"`]);
  await symlink(join(repo, "node_modules"), join(dir, "node_modules"));
}

/** What the deterministic evaluator costs beside tfjs-wasm on the bench model and batches. */
async function evaluatorCost(work: string, spec: RunSpec) {
  const values = modelValues(initialCheckpoint(spec).tensors, spec);
  const opened = await openDataset(join(work, "dataset"), spec.dataset);
  const batches = validationBatches(await opened.readValidation(), spec.model.contextLength, 8, 1);
  await selectBackend("wasm");
  await lossOfValues(values, spec, batches);
  let started = performance.now();
  const wasm = await lossOfValues(values, spec, batches);
  const wasmSeconds = (performance.now() - started) / 1000;
  started = performance.now();
  const exact = await deterministicLoss(values, spec.model, batches);
  const exactSeconds = (performance.now() - started) / 1000;
  return { wasm, wasmSeconds, exact, exactSeconds, tokens: 8 * spec.model.contextLength };
}

async function measure(impl: string, k: number, work: string): Promise<Measurement | string> {
  try {
    const { stdout } = await exec(
      process.execPath,
      [new URL(import.meta.url).pathname, "--child", impl, "--replicas", String(k), "--work", work],
      { maxBuffer: 1 << 20 },
    );
    return JSON.parse(stdout.trim().split("\n").at(-1)!) as Measurement;
  } catch (error) {
    return (error as Error).message.split("\n")[0]!.slice(0, 120);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: "string" },
      replicas: { type: "string", default: "4,16,32" },
      work: { type: "string", default: join(repo, ".daotrain", "bench", "outer-step") },
      "skip-baseline": { type: "boolean", default: false },
    },
    strict: true,
  });
  const work = resolve(values.work);
  if (values.child) {
    process.stdout.write(`${JSON.stringify(await child(values.child, Number(values.replicas), work))}\n`);
    return;
  }
  const sizes = values.replicas.split(",").map(Number);
  const spec = await prepare(work, Math.max(...sizes));
  if (!values["skip-baseline"]) await extractBaseline(work);
  const modelBytes = (await stat(join(work, "replica-0", "model.safetensors"))).size;
  const rows: string[][] = [];
  const results = new Map<string, Measurement | string>();
  for (const k of sizes) {
    for (const impl of values["skip-baseline"] ? ["streaming"] : ["baseline", "streaming"]) {
      // The baseline holds ≈ 2 model copies per replica: leave it out where the machine cannot hold it.
      const need = 2.5 * k * modelBytes;
      const result =
        impl === "baseline" && need > 0.8 * freemem()
          ? `skipped: needs ≈ ${(need / 2 ** 30).toFixed(1)} GiB, ${(freemem() / 2 ** 30).toFixed(1)} GiB free`
          : await measure(impl, k, work);
      results.set(`${impl}/${k}`, result);
      process.stderr.write(
        `${impl} × ${k}: ${typeof result === "string" ? result : `${result.seconds.toFixed(1)} s, ${(result.peakRssBytes / MiB).toFixed(0)} MiB`}\n`,
      );
    }
    const base = results.get(`baseline/${k}`);
    const streaming = results.get(`streaming/${k}`);
    const cell = (m: Measurement | string | undefined, f: (m: Measurement) => string) =>
      m === undefined ? "—" : typeof m === "string" ? m : f(m);
    rows.push([
      String(k),
      cell(base, (m) => `${m.seconds.toFixed(1)} s, ${(m.peakRssBytes / MiB).toFixed(0)} MiB`),
      cell(
        streaming,
        (m) => `${m.seconds.toFixed(1)} s, ${(m.peakRssBytes / MiB).toFixed(0)} MiB (${m.accepted} accepted)`,
      ),
      typeof base === "object" && typeof streaming === "object"
        ? `${(streaming.peakRssBytes / base.peakRssBytes).toFixed(2)}× RSS, ${(streaming.seconds / base.seconds).toFixed(2)}× time`
        : "",
      typeof base === "object" && typeof streaming === "object"
        ? base.root === streaming.root
          ? "yes"
          : "no"
        : "",
    ]);
  }
  console.log(
    `outer step over a 25.4M-parameter model (${(modelBytes / MiB).toFixed(0)} MiB a replica), one process per cell; ` +
      `load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(" ")}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB memory`,
  );
  printTable(
    [
      "replicas",
      `baseline (${BASELINE_COMMIT}): wall, peak RSS`,
      "streaming: wall, peak RSS",
      "ratio",
      "same root",
    ],
    rows,
  );
  const growth = (impl: string) => {
    const [a, b] = [results.get(`${impl}/${sizes[0]}`), results.get(`${impl}/${sizes.at(-1)}`)];
    return typeof a === "object" && typeof b === "object"
      ? (b.peakRssBytes - a.peakRssBytes) / MiB
      : undefined;
  };
  const [g0, g1] = [growth("baseline"), growth("streaming")];
  console.log(
    `peak RSS growth from ${sizes[0]} to ${sizes.at(-1)} replicas: streaming ${g1?.toFixed(0) ?? "?"} MiB, ` +
      `baseline ${g0?.toFixed(0) ?? "?"} MiB; goal: less than one model (${(modelBytes / MiB).toFixed(0)} MiB)`,
  );
  const cost = await evaluatorCost(work, spec);
  console.log(
    `held-out loss of θ on ${cost.tokens} tokens: deterministic ${cost.exact.toFixed(6)} in ${cost.exactSeconds.toFixed(2)} s, ` +
      `tfjs-wasm ${cost.wasm.toFixed(6)} in ${cost.wasmSeconds.toFixed(2)} s: ${(cost.exactSeconds / cost.wasmSeconds).toFixed(1)}× the time, ` +
      `${Math.abs(cost.exact - cost.wasm).toExponential(1)} nats apart`,
  );
}

await main();
