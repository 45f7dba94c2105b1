import { writeFile } from "node:fs/promises";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client, type WorkflowHandle } from "@temporalio/client";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { onboardContributor } from "../../k8s/contributor/onboard.ts";
import type { RunSpec } from "../../spec/runSpec.ts";
import { runWorkflowId } from "../../spec/workflowIds.ts";
import { TASK_QUEUE } from "../../workflows/signals.ts";
import type { RunOptions } from "../../workflows/trainingRun.ts";
import type { Hex, RunStatus } from "../../workflows/types.ts";
import { collectPayloads } from "../harness/history.ts";
import { startCluster, type TestCluster } from "../harness/kubernetes.ts";
import { type PodRunner, type PodRunnerOptions, startPodRunner } from "../harness/podRunner.ts";
import type { ClusterEntryFile, OrchestrationStack } from "../orchestration/stack.ts";

// What several attacks share: a contributed Kubernetes cluster the test is admin of (so it can
// make the cluster lie or fall silent), a TCP front that can go silent, runs started with the
// deadlines an attack needs, and a workflow's history read back both as stored and decoded.

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

/** Short deadlines, as tests/orchestration/stack.ts uses, so an attack costs seconds. */
export const attackRunOptions: Partial<RunOptions> = {
  replicaDeadlineSeconds: 180,
  heartbeatSeconds: 5,
  noCapacityRetrySeconds: 1,
  clusterSilenceSeconds: 15,
};

export interface ContributedCluster {
  cluster: TestCluster;
  runner: PodRunner;
  /** The orchestrator's ServiceAccount kubeconfig as onboarding wrote it. */
  kubeconfig: string;
  /** Where the worker's clusters file points. */
  kubeconfigPath: string;
  /** Its entry in the worker's clusters file. */
  entry: ClusterEntryFile;
  stop(): Promise<void>;
}

/**
 * A contributor's cluster: a real control plane with one KWOK GPU node, onboarded with the
 * contributor bundle, a pod runner playing its kubelet (running the trainers here, reporting as
 * `report` says), and the orchestrator's kubeconfig written into the stack's directory, its server
 * replaced by `server` when the test puts something in front of the apiserver.
 */
export async function contributedCluster(
  stack: OrchestrationStack,
  name: string,
  options: {
    gpus: number;
    report?: PodRunnerOptions["report"];
    server?: (apiserver: URL) => Promise<string>;
  },
): Promise<ContributedCluster> {
  const cluster = await startCluster({
    name,
    nodes: [{ name: `${name}-gpu-1`, gpus: options.gpus, gpuProduct: "NVIDIA-TEST" }],
    podRunner: true,
  });
  try {
    const onboarded = await onboardContributor(cluster.kubeconfig, { gpus: options.gpus });
    let kubeconfig = onboarded.serviceAccountKubeconfig;
    if (options.server) {
      const parsed = parseYaml(kubeconfig);
      parsed.clusters[0].cluster.server = await options.server(new URL(cluster.server));
      kubeconfig = toYaml(parsed);
    }
    const kubeconfigPath = join(stack.dir, `${name}.kubeconfig`);
    await writeFile(kubeconfigPath, kubeconfig, { mode: 0o600 });
    const runner = await startPodRunner({
      kubeConfig: cluster.kubeConfig,
      cwd: repoRoot,
      ...(options.report ? { report: options.report } : {}),
    });
    return {
      cluster,
      runner,
      kubeconfig,
      kubeconfigPath,
      entry: { name, kubernetes: { kubeconfig: kubeconfigPath } },
      async stop() {
        await runner.stop();
        await cluster.stop();
      },
    };
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

/** A TCP front of a service that can fall silent: connections stay open, nothing answers. */
export interface SilentFront {
  port: number;
  /** From now on: bytes already in flight are dropped, new connections are held unanswered. */
  fallSilent(): void;
  stop(): Promise<void>;
}

export async function startSilentFront(target: { host: string; port: number }): Promise<SilentFront> {
  const held = new Set<Socket>();
  const relays = new Set<{ client: Socket; upstream: Socket }>();
  let silent = false;
  const server: Server = createServer((client) => {
    held.add(client);
    client.on("error", () => {});
    client.once("close", () => held.delete(client));
    if (silent) return;
    const upstream = createConnection(target);
    const relay = { client, upstream };
    relays.add(relay);
    upstream.on("error", () => client.destroy());
    upstream.once("close", () => relays.delete(relay));
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    fallSilent() {
      silent = true;
      for (const { client, upstream } of relays) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        upstream.destroy();
      }
    },
    async stop() {
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Passes the DAO vote for `spec` and starts its run as the governance watcher would, with the deadlines the attack needs. */
export async function startRun(
  stack: OrchestrationStack,
  spec: RunSpec,
  options: Partial<RunOptions> = attackRunOptions,
): Promise<{ runId: Hex; handle: WorkflowHandle }> {
  const runId = await stack.approveRun(spec);
  const handle = await stack.client.workflow.start("trainingRun", {
    taskQueue: TASK_QUEUE,
    workflowId: runWorkflowId(runId),
    args: [{ runId, spec, options }],
  });
  return { runId, handle };
}

/** `startRun`, then the run's final status. */
export async function runToEnd(
  stack: OrchestrationStack,
  spec: RunSpec,
  options: Partial<RunOptions> = attackRunOptions,
): Promise<{ runId: Hex; status: RunStatus }> {
  const { runId, handle } = await startRun(stack, spec, options);
  return { runId, status: (await handle.result()) as RunStatus };
}

/** How many activities of `type` a workflow has completed so far. */
export async function completedActivities(handle: WorkflowHandle, type: string): Promise<number> {
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = new Set(
    events
      .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === type)
      .map((e) => String(e.eventId)),
  );
  return events.filter((e) => scheduled.has(String(e.activityTaskCompletedEventAttributes?.scheduledEventId)))
    .length;
}

/**
 * A workflow's history fetched with the codec off (as the server stores it), and every payload in
 * it decoded with the codec: what an attacker with the history, and then with the key, would read.
 */
export async function historyText(
  stack: OrchestrationStack,
  workflowId: string,
): Promise<{ stored: string; decoded: string }> {
  const raw = new Client({ connection: stack.client.connection, namespace: stack.temporal.namespace });
  const history = await raw.workflow.getHandle(workflowId).fetchHistory();
  const payloads = collectPayloads(history);
  const decoded = await stack.codec.decode(payloads);
  return {
    stored: JSON.stringify(history),
    decoded: decoded.map((p) => Buffer.from(p.data ?? []).toString("utf8")).join("\n"),
  };
}
