// Orchestration at scale: one worker driving clusters × pods on real Kubernetes control planes.
//
//   node bench/fleet.ts [--scale 1x4,20x32,100x64] [--planes 4] [--rounds 3] [--train-seconds 20]
//
// The clusters are namespaces of `--planes` KWOK control planes (bench/kwokFleet.ts says how one
// stands for a contributor's cluster), onboarded with the contributor bundle and reached with
// their own ServiceAccount kubeconfigs, registered and admitted on the local chain. The worker is
// daotrain's own (`startWorker`: real survey, launch, watch, cleanup, commit and ledger
// activities, Temporal dev server, anvil with the DAO) but for the outer step, which is replaced
// by one that accepts every replica: the pods are KWOK's and write no checkpoint (the outer
// step's cost is bench/outerStep's). KWOK runs each pod for `--train-seconds`, so everything a
// round takes beyond that is orchestration: the worker's requests, the watches' latency, the
// chain, and the control planes creating, scheduling and finishing the pods (which on real
// contributed clusters run in parallel on 100 machines; here on this one).
// Per shape it prints the round's overhead beside the smallest shape's, the worker's peak RSS,
// the apiservers' own `apiserver_request_total` per round (less their idle rate), and what a
// round leaves in Temporal (history events and bytes, the largest event, against Temporal's
// 2 MiB payload and 50 MiB history limits). Needs `source scripts/env.sh`.
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import proto from "@temporalio/proto";
import { DefaultLogger, Runtime } from "@temporalio/worker";
import { keccak256, toHex } from "viem";
import { packDataset } from "../datasets/index.ts";
import { admitClusterProposal, approveDatasetProposal } from "../governance/proposals.ts";
import { registerCluster } from "../governance/writes.ts";
import { DEMO_CORPUS } from "../localstack/demoRun.ts";
import { runWorkflowId } from "../spec/workflowIds.ts";
import { realSizeAcceptedVerdict } from "../tests/orchestration/fixtures.ts";
import { startOrchestrationStack } from "../tests/orchestration/stack.ts";
import { briefVerdicts } from "../workers/activities/aggregation.ts";
import { clusterIdOf } from "../workers/clusterDirectory.ts";
import { startWorker } from "../workers/main.ts";
import type { AggregationActivities } from "../workflows/activities.ts";
import { TASK_QUEUE } from "../workflows/signals.ts";
import type { RunStatus } from "../workflows/types.ts";
import { type Fleet, startFleet } from "./kwokFleet.ts";
import { printTable } from "./table.ts";

const { values } = parseArgs({
  options: {
    scale: { type: "string", default: "1x4,20x32,100x64" },
    planes: { type: "string", default: "4" },
    rounds: { type: "string", default: "3" },
    "train-seconds": { type: "string", default: "20" },
  },
});
const shapes = values.scale.split(",").map((s) => s.split("x").map(Number) as [number, number]);
const rounds = Number(values.rounds);
const trainSeconds = Number(values["train-seconds"]);
const maxClusters = Math.max(...shapes.map(([c]) => c));
const maxPods = Math.max(...shapes.map(([, p]) => p));
const planes = Math.min(Number(values.planes), maxClusters);
/** The replicas' deadline: room for the pods' run time and a slow round's launch and watch. */
const replicaDeadlineSeconds = trainSeconds + 600;
const MiB = 1024 * 1024;
// The bench prints tables; the SDK's INFO lines would bury them.
Runtime.install({ logger: new DefaultLogger("WARN") });

/**
 * The outer step's stand-in: every output accepted with a verdict of the real one's size
 * (`realSizeAcceptedVerdict`), brought back as the real activity brings it (`briefVerdicts`), a
 * root per round, the parent's URI again.
 */
const acceptEverything: AggregationActivities["aggregateRound"] = async ({
  runId,
  round,
  spec,
  parent,
  outputs,
}) => ({
  verdicts: briefVerdicts(
    outputs.map((o) => realSizeAcceptedVerdict(o.replica)),
    spec.replicasPerRound,
  ),
  checkpoint: {
    uri: parent.uri,
    root: keccak256(toHex(`${runId}/${round}`)),
    metrics: { loss: 1, valLoss: 1, tokens: 0, steps: spec.innerSteps },
    record: { uri: `${parent.uri}/record.json`, hash: keccak256(toHex(`${runId}/${round}/record`)) },
  },
});

/** CPU seconds of this process's children by command name (the control planes', Temporal's, anvil's). */
function childrenCpu(): Map<string, number> {
  const byName = new Map<string, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // gone meanwhile
    }
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[1]) !== process.pid) continue;
    byName.set(name, (byName.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) / 100);
  }
  return byName;
}
const CONTROL_PLANE = ["kube-apiserver", "etcd", "kube-controller", "kube-scheduler", "kwok"];
const cpuOf = (names: string[], cpu: Map<string, number>) =>
  [...cpu].filter(([name]) => names.some((n) => name.startsWith(n))).reduce((sum, [, s]) => sum + s, 0);
const ownCpu = () => {
  const used = process.cpuUsage();
  return (used.user + used.system) / 1e6;
};

/**
 * The size of every event of a run's history (all its executions), read a few events a page: a
 * round of 6,400 replicas leaves more than gRPC's 4 MiB message in one page of the default size.
 */
async function historyEventSizes(workflowId: string, firstRunId: string): Promise<number[]> {
  const service = stack.client.workflowService;
  const sizes: number[] = [];
  let runId: string | undefined = firstRunId;
  while (runId) {
    let nextPageToken: Uint8Array | undefined;
    let continuedAs: string | undefined;
    do {
      const page = await service.getWorkflowExecutionHistory({
        namespace: stack.temporal.namespace,
        execution: { workflowId, runId },
        maximumPageSize: 25,
        nextPageToken,
      });
      for (const event of page.history?.events ?? []) {
        sizes.push(proto.temporal.api.history.v1.HistoryEvent.encode(event).finish().length);
        continuedAs ??= event.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
      }
      nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
    } while (nextPageToken);
    runId = continuedAs;
  }
  return sizes;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sumOf = (counts: Map<string, number>) => [...counts.values()].reduce((a, b) => a + b, 0);
const minus = (after: Map<string, number>, before: Map<string, number>) =>
  new Map([...after].map(([key, n]) => [key, n - (before.get(key) ?? 0)] as [string, number]));

interface Point {
  clusters: number;
  pods: number;
  roundsMs: number[];
  phases: RunStatus["recent"][number]["phaseMs"];
  peakRssMiB: number;
  /** CPU seconds per round: the worker (this process), the control planes, Temporal's server. */
  cpu: { worker: number; planes: number; temporal: number };
  requestsPerRound: number;
  byKind: Map<string, number>;
  historyEvents: number;
  historyBytes: number;
  largestEventBytes: number;
  resultBytes: number;
}

const dir = await mkdtemp(join(tmpdir(), "daotrain-bench-fleet-"));
const started = performance.now();
let fleet: Fleet | undefined;
const stack = await startOrchestrationStack([]);
try {
  fleet = await startFleet({
    clusters: maxClusters,
    pods: maxPods,
    planes,
    podRunSeconds: trainSeconds,
    dir: join(dir, "kubeconfigs"),
  });
  const { dao } = stack;
  const { contracts } = dao.deployment;
  // A dataset with a training shard for every replica of the largest round.
  const datasetDir = join(dir, "dataset");
  const dataset = await packDataset(DEMO_CORPUS, datasetDir, { shardTokens: 32 });
  await dao.pass(
    approveDatasetProposal(contracts, {
      root: dataset.root as `0x${string}`,
      uri: pathToFileURL(datasetDir).href,
      license: "public domain",
    }),
  );
  const ownerOf = (i: number) => dao.others[i % dao.others.length]!;
  for (const [i, cluster] of fleet.clusters.entries()) {
    await registerCluster(ownerOf(i), {
      clusterId: clusterIdOf(cluster.name),
      gpuCapacity: maxPods,
      gpuProduct: "NVIDIA-H100-80GB-HBM3",
      metadata: `bench cluster ${cluster.name}`,
    });
  }
  // One vote admits them all (a DAO executes up to 256 actions per proposal).
  for (let from = 0; from < fleet.clusters.length; from += 200) {
    const batch = fleet.clusters.slice(from, from + 200);
    await dao.pass({
      title: `Admit ${batch.length} bench clusters`,
      summary: "bench/fleet.ts",
      actions: batch.flatMap(
        (c, i) =>
          admitClusterProposal(contracts, {
            clusterId: clusterIdOf(c.name),
            owner: ownerOf(from + i).wallet!.account.address,
            gpuCapacity: maxPods,
          }).actions,
      ),
    });
  }
  const setupSeconds = (performance.now() - started) / 1000;

  // The control planes' own traffic (leases, node heartbeats, controllers) while nothing runs.
  const idleFrom = await fleet.requestCounts();
  const idleStarted = performance.now();
  await new Promise((resolve) => setTimeout(resolve, 15_000));
  const idleRate =
    sumOf(minus(await fleet.requestCounts(), idleFrom)) / ((performance.now() - idleStarted) / 1000);

  const points: Point[] = [];
  for (const [clusters, pods] of shapes) {
    await stack.writeClusters(
      fleet.clusters
        .slice(0, clusters)
        .map((c) => ({ name: c.name, kubernetes: { kubeconfig: c.kubeconfigPath } })),
    );
    const worker = await startWorker(stack.env, { replaceActivities: { aggregateRound: acceptEverything } });
    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }, 200);
    try {
      const spec = stack.spec({
        dataset: dataset.root as `0x${string}`,
        rounds,
        replicasPerRound: clusters * pods,
        minReplicas: 1,
        roundDeadlineSeconds: replicaDeadlineSeconds,
        // A run starts only if every round could cost replicas × deadline; a token unit an hour
        // keeps the escrow small.
        gpuHourBudget: Math.ceil((clusters * pods * (rounds + 1) * replicaDeadlineSeconds) / 3600),
        rewardPerGpuHour: "1",
      });
      const runId = await stack.approveRun(spec);
      const before = await fleet.requestCounts();
      const cpuBefore = { own: ownCpu(), children: childrenCpu() };
      const runStarted = performance.now();
      const handle = await stack.client.workflow.start("trainingRun", {
        taskQueue: TASK_QUEUE,
        workflowId: runWorkflowId(runId),
        args: [{ runId, spec, options: { heartbeatSeconds: 60, replicaDeadlineSeconds } }],
      });
      const status = (await handle.result()) as RunStatus;
      const runSeconds = (performance.now() - runStarted) / 1000;
      const cpuAfter = { own: ownCpu(), children: childrenCpu() };
      const requests = minus(await fleet.requestCounts(), before);
      const childCpu = (names: string[]) =>
        (cpuOf(names, cpuAfter.children) - cpuOf(names, cpuBefore.children)) / rounds;
      const eventSizes = await historyEventSizes(handle.workflowId, handle.firstExecutionRunId);
      const description = await handle.describe();
      const roundsMs = status.recent.map((r) => r.phaseMs.total);
      points.push({
        clusters,
        pods,
        roundsMs,
        phases: status.recent[status.recent.length - 1]!.phaseMs,
        peakRssMiB: peakRss / MiB,
        cpu: {
          worker: (cpuAfter.own - cpuBefore.own) / rounds,
          planes: childCpu(CONTROL_PLANE),
          temporal: childCpu(["temporal"]),
        },
        requestsPerRound: (sumOf(requests) - idleRate * runSeconds) / rounds,
        byKind: requests,
        historyEvents: description.historyLength ?? eventSizes.length,
        historyBytes: description.historySize ?? eventSizes.reduce((a, b) => a + b, 0),
        largestEventBytes: Math.max(...eventSizes),
        resultBytes: JSON.stringify(status).length,
      });
      process.stderr.write(
        `${clusters} × ${pods}: rounds ${roundsMs.join(", ")} ms, worker peak RSS ${(peakRss / MiB).toFixed(0)} MiB\n`,
      );
    } finally {
      clearInterval(sampler);
      await worker.stop();
    }
  }

  const [load1] = loadavg();
  console.log(
    `Orchestration at scale: ${planes} KWOK control planes, ${rounds} rounds per shape, replicas run ${trainSeconds} s; ` +
      `${cpus().length} cores, load ${load1!.toFixed(1)}; set-up ${setupSeconds.toFixed(0)} s; ` +
      `control planes idle: ${idleRate.toFixed(0)} requests/s\n`,
  );
  const baseline = points[0]!;
  const overhead = (p: Point) => median(p.roundsMs) - trainSeconds * 1000;
  printTable(
    [
      "clusters × pods",
      "round (median)",
      "overhead",
      `baseline (${baseline.clusters} × ${baseline.pods})`,
      "ratio",
      "launch / watch / aggregate / commit",
      "CPU s/round: worker / control planes / Temporal",
      "worker peak RSS",
      "apiserver requests/round",
    ],
    points.map((p) => [
      `${p.clusters} × ${p.pods} = ${p.clusters * p.pods}`,
      `${(median(p.roundsMs) / 1000).toFixed(1)} s`,
      `${(overhead(p) / 1000).toFixed(2)} s`,
      `${(overhead(baseline) / 1000).toFixed(2)} s`,
      `${(overhead(p) / overhead(baseline)).toFixed(1)}×`,
      [p.phases.launch, p.phases.train - trainSeconds * 1000, p.phases.aggregate, p.phases.commit]
        .map((ms) => (ms / 1000).toFixed(1))
        .join(" / "),
      [p.cpu.worker, p.cpu.planes, p.cpu.temporal].map((x) => x.toFixed(1)).join(" / "),
      `${p.peakRssMiB.toFixed(0)} MiB`,
      p.requestsPerRound.toFixed(0),
    ]),
  );
  console.log(
    "\nTemporal: what a run of these rounds leaves (limits: 2 MiB a payload, 50 MiB and 51,200 events a history)",
  );
  printTable(
    ["clusters × pods", "history events/round", "history bytes/round", "largest event", "run result"],
    points.map((p) => [
      `${p.clusters} × ${p.pods}`,
      (p.historyEvents / rounds).toFixed(0),
      `${(p.historyBytes / rounds / MiB).toFixed(2)} MiB`,
      `${(p.largestEventBytes / 1024).toFixed(0)} KiB`,
      `${(p.resultBytes / 1024).toFixed(0)} KiB`,
    ]),
  );
  const largest = points[points.length - 1]!;
  console.log(
    `\napiserver requests of the ${largest.clusters} × ${largest.pods} run, by verb, resource, scope and code (top 20)`,
  );
  printTable(
    ["verb resource scope code", "requests", "per round"],
    [...largest.byKind]
      .filter(([, n]) => n > 0)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 20)
      .map(([key, n]) => [key, String(n), (n / rounds).toFixed(0)]),
  );
  console.log(
    `\nround times (ms) per shape: ${points.map((p) => `${p.clusters}×${p.pods}: ${p.roundsMs.join(", ")}`).join("; ")}`,
  );
} finally {
  await fleet?.stop();
  await stack.stop();
  await rm(dir, { recursive: true, force: true });
}
