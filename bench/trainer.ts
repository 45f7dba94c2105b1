/**
 * Trainer throughput (tokens/s of AdamW inner steps) on every TensorFlow.js backend that loads
 * here, each in its own process, beside the pure-JS cpu backend as the baseline. Two model
 * sizes: the test default and a larger one.
 *
 *   node bench/trainer.ts [--seconds 8]
 */
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { parseArgs, promisify } from "node:util";
import { byteTokenizer } from "../datasets/tokenizer.ts";
import { BACKENDS, type BackendName, selectBackend } from "../model/backend.ts";
import { TrainingBatches } from "../model/batches.ts";
import { paramsToTensors } from "../model/forward.ts";
import { initialParameters } from "../model/parameters.ts";
import { parseRunSpec, type RunSpec } from "../spec/runSpec.ts";
import { innerLoop } from "../trainer/train.ts";
import { printTable } from "./table.ts";

const sizes = {
  "d64 L2 T64 B8 (tests)": { dModel: 64, layers: 2, heads: 4, contextLength: 64, batch: 8 },
  "d128 L4 T128 B8": { dModel: 128, layers: 4, heads: 4, contextLength: 128, batch: 8 },
} as const;
type SizeName = keyof typeof sizes;

function specFor(size: SizeName): RunSpec {
  const s = sizes[size];
  return parseRunSpec({
    name: `bench ${size}`,
    model: {
      architecture: "transformer-lm",
      vocabSize: 256,
      contextLength: s.contextLength,
      dModel: s.dModel,
      layers: s.layers,
      heads: s.heads,
    },
    dataset: `0x${"00".repeat(32)}`,
    rounds: 1,
    innerSteps: 1,
    replicasPerRound: 1,
    minReplicas: 1,
    gpusPerReplica: 0,
    gpuHourBudget: 1,
    rewardPerGpuHour: "1",
    outer: {},
    inner: { optimizer: "adamw", lr: 1e-3, batch: s.batch },
    validation: { batches: 1, tolerance: 0 },
    seed: 1,
    image: `bench/trainer@sha256:${"0".repeat(64)}`,
  });
}

interface Measurement {
  readonly backend: BackendName;
  readonly size: SizeName;
  readonly tokensPerSecond?: number;
  readonly msPerStep?: number;
  /** Tokens per CPU-second of the process: what one core does, whatever else the machine runs. */
  readonly tokensPerCpuSecond?: number;
  readonly steps?: number;
  readonly error?: string;
}

/** In a child: force one backend, run steps for about `seconds`, report tokens/s. */
async function child(backend: BackendName, size: SizeName, seconds: number): Promise<Measurement> {
  try {
    await selectBackend(backend);
  } catch (error) {
    return {
      backend,
      size,
      error: (error as Error).message.replace(/^no TensorFlow.js backend could start: [\w-]+: /, ""),
    };
  }
  const spec = specFor(size);
  const text = await readFile(new URL("../datasets/corpus/fables.txt", import.meta.url));
  const batches = new TrainingBatches(
    [byteTokenizer.encode(text)],
    spec.model.contextLength,
    spec.inner.batch,
    1,
  );
  const params = paramsToTensors(initialParameters(spec.model, 1), spec.model);
  innerLoop(params, spec, batches, 1);
  let steps = 1;
  let cpu = process.cpuUsage();
  let result = innerLoop(params, spec, batches, steps);
  while (result.seconds < seconds && steps < 4096) {
    steps = Math.min(4096, Math.ceil((steps * seconds * 1.1) / Math.max(result.seconds, 0.01)));
    cpu = process.cpuUsage();
    result = innerLoop(params, spec, batches, steps);
  }
  const used = process.cpuUsage(cpu);
  return {
    backend,
    size,
    steps,
    tokensPerSecond: result.tokens / result.seconds,
    tokensPerCpuSecond: result.tokens / ((used.user + used.system) / 1e6),
    msPerStep: (1000 * result.seconds) / steps,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: "string" },
      size: { type: "string" },
      seconds: { type: "string", default: "8" },
    },
    strict: true,
  });
  if (values.child) {
    const m = await child(values.child as BackendName, values.size as SizeName, Number(values.seconds));
    process.stdout.write(`${JSON.stringify(m)}\n`);
    return;
  }
  const results: Measurement[] = [];
  for (const size of Object.keys(sizes) as SizeName[]) {
    for (const backend of BACKENDS) {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [new URL(import.meta.url).pathname, "--child", backend, "--size", size, "--seconds", values.seconds],
        { maxBuffer: 1 << 20 },
      );
      const m = JSON.parse(stdout.trim().split("\n").at(-1)!) as Measurement;
      results.push(m);
      process.stderr.write(`${size} ${backend}: ${m.error ?? `${m.tokensPerSecond?.toFixed(0)} tokens/s`}\n`);
    }
  }
  const rows = results.map((m) => {
    const baseline = results.find((r) => r.size === m.size && r.backend === "cpu")?.tokensPerSecond;
    if (m.tokensPerSecond === undefined) return [m.size, m.backend, "unavailable", "", "", "", m.error ?? ""];
    return [
      m.size,
      m.backend,
      `${m.tokensPerSecond.toFixed(0)} tokens/s`,
      `${m.tokensPerCpuSecond!.toFixed(0)} tokens/CPU-s`,
      `${m.msPerStep!.toFixed(1)} ms/step (${m.steps} steps)`,
      baseline ? `${baseline.toFixed(0)} tokens/s` : "",
      baseline ? `${(m.tokensPerSecond / baseline).toFixed(1)}×` : "",
    ];
  });
  const header = [
    "model",
    "backend",
    "wall clock",
    "per CPU-second",
    "step",
    "baseline: cpu (pure JS), wall",
    "ratio",
  ];
  console.log(
    `one process per backend, AdamW inner steps, byte-level vocabulary 256; load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}`,
  );
  printTable(header, rows);
}

await main();
