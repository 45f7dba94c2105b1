// Compute utilisation of a 1B-parameter run at 10-minute rounds with 64 replicas, modelled from
// measured figures, with and without int8 pseudo-gradients, beside INTELLECT-1's 83 %.
//
//   node bench/utilisation.ts [--mib 256] [--overhead-s …] [--worker-fixed-s …] [--worker-per-replica-s …]
//                             [--eval-per-output-s …] [--outer-fixed-s …] [--outer-per-replica-s …]
//
// It measures the transfer rate itself (daotrain's S3 store against versitygw on this machine,
// `--mib` up and down, best of 3); the per-round orchestration overhead, the worker's outer step
// and the evaluation pods' time come from the benches that measure them (bench/fleet.ts,
// bench/roundScoring.ts) as flags whose defaults are their last figures, and
// every assumption is printed. A daotrain round is sequential: replicas train, upload, evaluation
// pods fetch and score the outputs (each pod one output, all at once) while the worker fetches
// every output, then the worker runs the outer step (reading, verifying, measuring and averaging
// every output, scoring only what the re-check rule draws), publishes the new global, and the
// replicas fetch it; GPUs compute only in the first phase. A last line gives the same round with
// the worker scoring every output itself (no evaluating clusters).
// Needs `bootstrap/bootstrap.sh --only versitygw` and `source scripts/env.sh`.
import { randomFillSync } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { openStore } from "../storage/index.ts";
import { startS3Server } from "../tests/harness/s3.ts";
import { printTable } from "./table.ts";

const { values } = parseArgs({
  options: {
    mib: { type: "string", default: "256" },
    // bench/fleet.ts at 16 clusters × 4 pods (64 replicas) on this machine (bench/README.md): a
    // round's time beyond the trainers' own, the control planes' work included.
    "overhead-s": { type: "string", default: "3.45" },
    // bench/roundScoring.ts (bench/README.md), evaluation pods scoring: the worker's CPU for the
    // outer step is 7.7 s at 4 replicas and 16.8 s at 32 of a 25.4M-parameter model.
    "worker-fixed-s": { type: "string", default: "6.4" },
    "worker-per-replica-s": { type: "string", default: "0.325" },
    // The same bench: an evaluation pod's run (`node trainer/evaluate.ts`, one output) on this CPU.
    "eval-per-output-s": { type: "string", default: "2.8" },
    // The same bench, the worker scoring every output itself: 15.6 s of CPU at 4 replicas and
    // 97.7 s at 32.
    "outer-fixed-s": { type: "string", default: "3.9" },
    "outer-per-replica-s": { type: "string", default: "2.93" },
    "outer-measured-params": { type: "string", default: "25.4e6" },
    params: { type: "string", default: "1e9" },
    replicas: { type: "string", default: "64" },
    "round-minutes": { type: "string", default: "10" },
    // bench/compression.ts (bench/README.md): an int8 upload is 25.56 % of the float32 one.
    "int8-share": { type: "string", default: "0.2556" },
  },
});
const MiB = 1024 * 1024;
const num = (name: keyof typeof values) => Number(values[name]);

/** Upload and download rates (MiB/s) of daotrain's S3 store on this machine, best of 3 each. */
async function transferRates(): Promise<{ up: number; down: number }> {
  const server = await startS3Server();
  const work = await mkdtemp(join(tmpdir(), "daotrain-bench-util-"));
  try {
    await server.createBucket("util");
    const bytes = num("mib") * MiB;
    const file = join(work, "object");
    const data = Buffer.allocUnsafe(bytes);
    randomFillSync(data);
    await writeFile(file, data);
    const store = openStore("s3://util/bench", { s3: server.storeOptions });
    const best = async (what: (i: number) => Promise<unknown>) => {
      let fastest = Number.POSITIVE_INFINITY;
      for (let i = 0; i < 3; i++) {
        const started = performance.now();
        await what(i);
        fastest = Math.min(fastest, (performance.now() - started) / 1000);
      }
      return bytes / MiB / fastest;
    };
    const up = await best((i) => store.putFile(`object-${i}`, file));
    const down = await best(async (i) => {
      const target = join(work, `copy-${i}`);
      await store.downloadToFile("object-0", target);
      await rm(target);
    });
    return { up, down };
  } finally {
    await server.stop();
    await rm(work, { recursive: true, force: true });
  }
}

interface Round {
  compute: number;
  replicaUpload: number;
  /** The worker fetching every output, or the evaluation pods fetching and scoring theirs: the longer. */
  fetchAndScore: number;
  outerStep: number;
  globalUpload: number;
  globalFetch: number;
  orchestration: number;
}

const total = (r: Round) => Object.values(r).reduce((a, b) => a + b, 0);

/**
 * One round's phases in seconds. `scoredBy: "pods"`: evaluation pods, each on a link of its own,
 * fetch θ and one output and score it while the worker fetches every output; the worker's outer
 * step is what roundScoring measured. `"worker"`: the worker scores every output itself.
 */
function round(
  bytesPerReplica: number,
  globalBytes: number,
  rates: { up: number; down: number },
  scoredBy: "pods" | "worker",
): Round {
  const replicas = num("replicas");
  // Every measured time is linear in parameters: scaled from the bench model's to this one's.
  const scale = num("params") / num("outer-measured-params");
  const workerFetch = (replicas * bytesPerReplica) / MiB / rates.down;
  const podScoring = (bytesPerReplica + globalBytes) / MiB / rates.down + scale * num("eval-per-output-s");
  return {
    compute: num("round-minutes") * 60,
    // Every replica uploads on a link of its own, at the measured rate.
    replicaUpload: bytesPerReplica / MiB / rates.up,
    fetchAndScore: scoredBy === "pods" ? Math.max(workerFetch, podScoring) : workerFetch,
    outerStep:
      scale *
      (scoredBy === "pods"
        ? num("worker-fixed-s") + replicas * num("worker-per-replica-s")
        : num("outer-fixed-s") + replicas * num("outer-per-replica-s")),
    globalUpload: globalBytes / MiB / rates.up,
    globalFetch: globalBytes / MiB / rates.down,
    orchestration: num("overhead-s"),
  };
}

const rates = await transferRates();
const fp32Bytes = num("params") * 4;
const int8Bytes = fp32Bytes * num("int8-share");
// The new global stays fp32 (parameters and momentum are not compressed); only what replicas send is.
const fp32 = round(fp32Bytes, fp32Bytes, rates, "pods");
const int8 = round(int8Bytes, fp32Bytes, rates, "pods");
const utilisation = (r: Round) => r.compute / total(r);
const percent = (r: Round) => `${(100 * utilisation(r)).toFixed(1)} %`;
const seconds = (s: number) => (s >= 3600 ? `${(s / 3600).toFixed(1)} h` : `${s.toFixed(0)} s`);

console.log("Assumptions:");
for (const line of [
  `model ${num("params") / 1e9}B parameters, fp32 ${(fp32Bytes / 1024 ** 3).toFixed(1)} GiB; int8 pseudo-gradients = ${(num("int8-share") * 100).toFixed(2)} % of fp32 bytes (bench/compression.ts)`,
  `${num("replicas")} replicas, ${num("round-minutes")}-minute rounds of inner steps (the GPUs' compute), nothing overlapped with it`,
  `transfer: daotrain's S3 store measured now on this machine (versitygw on loopback): up ${rates.up.toFixed(0)} MiB/s, down ${rates.down.toFixed(0)} MiB/s per client; every replica and evaluation pod has a link of its own at that rate, the worker one`,
  `orchestration overhead ${num("overhead-s")} s a round (bench/fleet.ts on this one machine, the control planes' own work included)`,
  `scoring: evaluation pods, one output each, all at once, ${num("eval-per-output-s")} s an output at ${num("outer-measured-params") / 1e6}M parameters (bench/roundScoring.ts: the deterministic evaluator on a pod's CPU), after fetching θ and the output`,
  `the worker's outer step: ${num("worker-fixed-s")} s + ${num("worker-per-replica-s")} s of CPU a replica at ${num("outer-measured-params") / 1e6}M parameters (bench/roundScoring.ts: read, verify, measure and average every output, re-check what the rule draws)`,
  `every measured time scaled linearly in parameters to ${num("params") / 1e9}B`,
  "INTELLECT-1: 83 % compute utilisation (DiLoCo, 100 inner steps, int8 all-reduce, overlapped)",
])
  console.log(`  - ${line}`);
console.log();
printTable(
  ["phase of a round", "fp32", "int8"],
  [
    ["replicas train (compute)", seconds(fp32.compute), seconds(int8.compute)],
    ["replicas upload their output", seconds(fp32.replicaUpload), seconds(int8.replicaUpload)],
    [
      "evaluation pods fetch and score; the worker fetches every output",
      seconds(fp32.fetchAndScore),
      seconds(int8.fetchAndScore),
    ],
    ["the worker's outer step", seconds(fp32.outerStep), seconds(int8.outerStep)],
    ["the worker publishes the new global", seconds(fp32.globalUpload), seconds(int8.globalUpload)],
    ["replicas fetch the new global", seconds(fp32.globalFetch), seconds(int8.globalFetch)],
    ["orchestration", seconds(fp32.orchestration), seconds(int8.orchestration)],
    ["round", seconds(total(fp32)), seconds(total(int8))],
    ["compute utilisation", percent(fp32), percent(int8)],
  ],
);
const workerScored = {
  fp32: round(fp32Bytes, fp32Bytes, rates, "worker"),
  int8: round(int8Bytes, fp32Bytes, rates, "worker"),
};
console.log(
  `\nwith the worker scoring every output itself (${num("outer-fixed-s")} s + ${num("outer-per-replica-s")} s a replica, bench/roundScoring.ts): ` +
    `${percent(workerScored.fp32)} fp32, ${percent(workerScored.int8)} int8 (rounds of ${seconds(total(workerScored.fp32))} and ${seconds(total(workerScored.int8))})`,
);
console.log(
  `compute utilisation, 1B parameters, 10-minute rounds, 64 replicas, evaluation pods scoring: ${percent(fp32)} fp32, ` +
    `${percent(int8)} int8 (INTELLECT-1: 83 %)`,
);
