// Orchestration overhead: what daotrain adds to a round beyond the training itself.
//
//   node bench/orchestration.ts [--rounds 3] [--train-ms 2000] [--scale 1x4,5x8,10x16,20x32]
//
// Part 1, on the real stack (anvil with the DAO, Temporal dev server, the worker, two local
// executors running real trainer processes): each phase of a round, and the share of the round
// that is not training. Part 2, how many clusters × pods one worker drives: the real workflows on
// the real Temporal server and Worker, with simulated clusters whose replicas take exactly
// --train-ms, so everything above that is orchestration; the baseline is the smallest shape.
// Needs `source scripts/env.sh` (anvil, temporal on PATH).
import { randomBytes } from "node:crypto";
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { Client, Connection } from "@temporalio/client";
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from "@temporalio/worker";
import { runIdOf } from "../spec/runSpec.ts";
import { runWorkflowId } from "../spec/workflowIds.ts";
import { startTemporal } from "../tests/harness/temporal.ts";
import { tinySpec } from "../tests/orchestration/fixtures.ts";
import { newSimulation, simulatedActivities } from "../tests/orchestration/simulatedActivities.ts";
import { startOrchestrationStack } from "../tests/orchestration/stack.ts";
import { workflowResult } from "../tests/orchestration/story.ts";
import { AesGcmCodec, encryptedDataConverter } from "../workers/codec.ts";
import { startWorker, workflowBundleOptions } from "../workers/main.ts";
import type { RoundSummary, RunStatus } from "../workflows/types.ts";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    "train-ms": { type: "string", default: "2000" },
    scale: { type: "string", default: "1x4,5x8,10x16,20x32" },
  },
});
// The bench prints tables; the SDK's per-worker INFO lines would bury them.
Runtime.install({ logger: new DefaultLogger("WARN") });
const rounds = Number(values.rounds);
const trainMs = Number(values["train-ms"]);
const shapes = values.scale.split(",").map((s) => s.split("x").map(Number) as [number, number]);

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const ms = (x: number) => `${Math.round(x)} ms`;
const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

function table(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ");
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of rows) console.log(line(row));
  console.log();
}

async function realStackRounds(): Promise<RoundSummary[]> {
  const stack = await startOrchestrationStack([
    { name: "alpha", gpus: 4, ownerIndex: 0 },
    { name: "beta", gpus: 4, ownerIndex: 1 },
  ]);
  const worker = await startWorker(stack.env);
  try {
    await stack.startWatcher();
    const runId = await stack.approveRun(stack.spec({ rounds, replicasPerRound: 4, minReplicas: 2 }));
    const status = await workflowResult<RunStatus>(stack.client, runWorkflowId(runId));
    return status.recent;
  } finally {
    await worker.stop();
    await stack.stop();
  }
}

interface ScalePoint {
  clusters: number;
  pods: number;
  roundMs: number;
  overheadMs: number;
  historyEventsPerRound: number;
}

async function scalePoints(): Promise<ScalePoint[]> {
  const temporal = await startTemporal();
  const { code } = await bundleWorkflowCode({ ...workflowBundleOptions, logger: new DefaultLogger("WARN") });
  const codec = new AesGcmCodec(randomBytes(32));
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({
    connection,
    namespace: temporal.namespace,
    dataConverter: encryptedDataConverter(codec),
  });
  const workerConnection = await NativeConnection.connect({ address: temporal.address });
  const points: ScalePoint[] = [];
  try {
    for (const [clusters, pods] of shapes) {
      const taskQueue = `bench-${clusters}x${pods}`;
      const sim = newSimulation(
        Array.from({ length: clusters }, (_, i) => ({
          name: `c${i}`,
          freeGpus: pods,
          healthy: true,
          behaviour: "train" as const,
          trainMs,
        })),
      );
      const worker = await Worker.create({
        connection: workerConnection,
        namespace: temporal.namespace,
        taskQueue,
        workflowBundle: { code },
        activities: simulatedActivities(sim),
        dataConverter: encryptedDataConverter(codec),
      });
      const spec = tinySpec({
        name: `bench-${clusters}x${pods}-${randomBytes(3).toString("hex")}`,
        rounds,
        replicasPerRound: clusters * pods,
        minReplicas: 1,
        gpuHourBudget: 1e6,
      });
      const runId = runIdOf(spec);
      const status = (await worker.runUntil(
        client.workflow.execute("trainingRun", {
          taskQueue,
          workflowId: runWorkflowId(runId),
          args: [{ runId, spec, options: { heartbeatSeconds: 30 } }],
        }),
      )) as RunStatus;
      const description = await client.workflow.getHandle(runWorkflowId(runId)).describe();
      const roundMs = median(status.recent.map((r) => r.phaseMs.total));
      points.push({
        clusters,
        pods,
        roundMs,
        overheadMs: roundMs - trainMs,
        historyEventsPerRound: (description.historyLength ?? 0) / rounds,
      });
    }
  } finally {
    await connection.close();
    await workerConnection.close();
    await temporal.stop();
  }
  return points;
}

console.log(
  `orchestration bench: ${cpus().length} cores, load ${loadavg()[0]?.toFixed(2)}, ${rounds} rounds per run\n`,
);

const summaries = await realStackRounds();
const phase = (name: keyof RoundSummary["phaseMs"]) => median(summaries.map((s) => s.phaseMs[name]));
const total = phase("total");
const training = phase("train");
console.log(
  "Part 1 — one round on the real stack (2 local executors × 2 replicas, real trainers, anvil, Temporal)",
);
table(
  ["phase", "median", "share of round"],
  [
    ["launch (place + create Jobs)", ms(phase("launch")), pct(phase("launch") / total)],
    ["train (replicas running, watched)", ms(training), pct(training / total)],
    ["aggregate (re-hash + outer step)", ms(phase("aggregate")), pct(phase("aggregate") / total)],
    ["commit (root + ledger on-chain)", ms(phase("commit")), pct(phase("commit") / total)],
    ["total round", ms(total), pct(1)],
    ["non-training (total − train)", ms(total - training), pct((total - training) / total)],
  ],
);

const points = await scalePoints();
const baseline = points[0]!;
console.log(
  `Part 2 — one worker driving clusters × pods (simulated replicas take ${trainMs} ms; baseline ${baseline.clusters}×${baseline.pods})`,
);
table(
  ["clusters × pods", "round", "overhead", "baseline overhead", "ratio", "history events/round"],
  points.map((p) => [
    `${p.clusters} × ${p.pods} = ${p.clusters * p.pods}`,
    ms(p.roundMs),
    ms(p.overheadMs),
    ms(baseline.overheadMs),
    `${(p.overheadMs / baseline.overheadMs).toFixed(2)}×`,
    String(Math.round(p.historyEventsPerRound)),
  ]),
);
