// A fleet of contributed clusters for the scale bench (bench/fleet.ts): `planes` real Kubernetes
// control planes (etcd, kube-apiserver, controller-manager, scheduler, KWOK), each hosting several
// contributed clusters, one namespace each. A namespace is what a contributor's cluster is to
// daotrain: its own onboarded bundle (ServiceAccount, Role, GPU ResourceQuota, LimitRange,
// NetworkPolicy), reached only through its own ServiceAccount kubeconfig, which sees nothing of
// the other namespaces and no nodes; KWOK nodes with `pods` GPUs each, one per cluster, give the
// pods somewhere to run. What the worker does per cluster is therefore what it would do against
// separate apiservers; what the shared control planes do (controllers, scheduler, KWOK) is the
// contributors' side, measured apart.

import { mkdir, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import { onboardContributor } from "../k8s/contributor/onboard.ts";
import { startCluster, type TestCluster } from "../tests/harness/kubernetes.ts";

export interface FleetOptions {
  clusters: number;
  /** Replicas (pods, one GPU each) per cluster: its quota and its node's GPUs. */
  pods: number;
  planes: number;
  /** How long KWOK keeps a pod running before it succeeds: the simulated trainer's time. */
  podRunSeconds: number;
  dir: string;
}

export interface FleetCluster {
  name: string;
  kubeconfigPath: string;
  plane: number;
}

export interface Fleet {
  planes: TestCluster[];
  clusters: FleetCluster[];
  /** `apiserver_request_total` of every plane, summed, by `verb resource scope code`. */
  requestCounts(): Promise<Map<string, number>>;
  stop(): Promise<void>;
}

/** Runs `task` over `items` with at most `limit` at once. */
async function inBatches<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await task(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

async function metricsText(kubeConfig: KubeConfig, server: string): Promise<string> {
  const options: Parameters<typeof request>[1] = { timeout: 30_000 };
  await kubeConfig.applyToHTTPSOptions(options);
  return await new Promise((resolve, reject) => {
    const req = request(`${server}/metrics`, options, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => resolve(body));
    });
    req.on("timeout", () => req.destroy(new Error("GET /metrics timed out")));
    req.on("error", reject);
    req.end();
  });
}

/** Sums `apiserver_request_total` samples by verb, resource, scope and code. */
export function parseRequestTotals(text: string, into = new Map<string, number>()): Map<string, number> {
  for (const line of text.split("\n")) {
    if (!line.startsWith("apiserver_request_total{")) continue;
    const labels = Object.fromEntries(
      [...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!] as [string, string]),
    );
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    const resource = labels.subresource ? `${labels.resource}/${labels.subresource}` : labels.resource;
    const key = `${labels.verb} ${resource} ${labels.scope} ${labels.code}`;
    into.set(key, (into.get(key) ?? 0) + value);
  }
  return into;
}

export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const perPlane = Math.ceil(options.clusters / options.planes);
  const planes: TestCluster[] = [];
  try {
    // One at a time: a loaded machine starts one control plane well and four at once badly.
    for (let p = 0; p < options.planes; p++) {
      const hosted = Math.min(perPlane, options.clusters - p * perPlane);
      planes.push(
        await startCluster({
          name: `plane${p}`,
          nodes: Array.from({ length: Math.max(1, hosted) }, (_, n) => ({
            name: `p${p}-gpu${n}`,
            gpus: options.pods,
            gpuProduct: "NVIDIA-H100-80GB-HBM3",
          })),
          podRunSeconds: options.podRunSeconds,
        }),
      );
    }
    await mkdir(options.dir, { recursive: true });
    const names = Array.from({ length: options.clusters }, (_, i) => i);
    const clusters = await inBatches(names, 8, async (i): Promise<FleetCluster> => {
      const name = `c${i}`;
      const plane = Math.floor(i / perPlane);
      const onboarded = await onboardContributor(planes[plane]!.kubeconfig, {
        gpus: options.pods,
        namespace: name,
      });
      const kubeconfigPath = join(options.dir, `${name}.kubeconfig`);
      await writeFile(kubeconfigPath, onboarded.serviceAccountKubeconfig, { mode: 0o600 });
      return { name, kubeconfigPath, plane };
    });
    return {
      planes,
      clusters,
      async requestCounts() {
        const totals = new Map<string, number>();
        for (const plane of planes)
          parseRequestTotals(await metricsText(plane.kubeConfig, plane.server), totals);
        return totals;
      },
      async stop() {
        await Promise.allSettled(planes.map((plane) => plane.stop()));
      },
    };
  } catch (error) {
    await Promise.allSettled(planes.map((plane) => plane.stop()));
    throw error;
  }
}
