import { readFile } from "node:fs/promises";
import { isAbsolute } from "node:path";
import { keccak256, toBytes } from "viem";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { type ComputeCluster, StoreEnv } from "../k8s/cluster.ts";
import { KubernetesCluster } from "../k8s/kubernetesCluster.ts";
import { LocalCluster } from "../k8s/local/localCluster.ts";
import { parseWith } from "../spec/errors.ts";
import { Bytes32 } from "../spec/runSpec.ts";
import type { ClusterAccess, Hex } from "../workflows/types.ts";

const absolutePath = z.string().refine(isAbsolute, { message: "must be an absolute path" });
const clusterName = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/, "must be a DNS label of at most 32 characters");

const ClusterEntry = z
  .object({
    name: clusterName,
    /** The on-chain id; by default keccak256 of the name (what `registerCluster` is given). */
    id: Bytes32.optional(),
    local: z
      .object({
        workDir: absolutePath,
        gpus: z.number().int().min(0),
        gpuProduct: z.string().min(1).optional(),
        env: z.record(z.string(), z.string()).optional(),
      })
      .strict()
      .optional(),
    kubernetes: z
      .object({ kubeconfig: absolutePath, namespace: z.string().min(1).optional() })
      .strict()
      .optional(),
    /**
     * The keys this contributor's trainers reach the run store with, instead of the worker's:
     * keys that may write only under `runs/<run>/rounds/<r>/clusters/<name>/` keep one contributor
     * from overwriting another's replicas. Read at each launch; never sent through Temporal.
     */
    storeEnv: StoreEnv.optional(),
  })
  .strict()
  .refine((c) => (c.local === undefined) !== (c.kubernetes === undefined), {
    message: "give exactly one of local or kubernetes",
    path: ["local"],
  });

/** `DAOTRAIN_CLUSTERS`: the clusters this worker can reach. */
export const ClustersFile = z.object({ clusters: z.array(ClusterEntry) }).strict();
export type ClusterEntry = z.infer<typeof ClusterEntry>;

export interface ConfiguredCluster {
  id: Hex;
  name: string;
  access: ClusterAccess;
}

export function clusterIdOf(name: string): Hex {
  return keccak256(toBytes(name));
}

async function readClustersFile(path: string): Promise<z.infer<typeof ClustersFile>> {
  return parseWith(ClustersFile, parseYaml(await readFile(path, "utf8")), `clusters file ${path}`);
}

/** The run-store keys the clusters file gives a cluster's trainers, if it gives any. */
export async function clusterStoreEnv(path: string, name: string): Promise<StoreEnv | undefined> {
  return (await readClustersFile(path)).clusters.find((entry) => entry.name === name)?.storeEnv;
}

/** Reads the clusters file; kubeconfigs are read now so that they travel (encrypted) with a round. */
export async function readClusters(path: string): Promise<ConfiguredCluster[]> {
  const file = await readClustersFile(path);
  return await Promise.all(
    file.clusters.map(async (entry): Promise<ConfiguredCluster> => {
      const id = entry.id ?? clusterIdOf(entry.name);
      if (entry.local) return { id, name: entry.name, access: { kind: "local", ...entry.local } };
      const k8s = entry.kubernetes!;
      const kubeconfig = await readFile(k8s.kubeconfig, "utf8");
      return {
        id,
        name: entry.name,
        access: { kind: "kubernetes", kubeconfig, namespace: k8s.namespace ?? "" },
      };
    }),
  );
}

export interface ClusterClientOptions {
  /** Working directory of local trainer processes. */
  cwd: string;
  /** Extra env for local trainer processes. */
  env?: Record<string, string>;
}

/**
 * Kubernetes clients by the access they were made from, so that every activity for a cluster
 * shares its connections and its ServiceAccount's answers; a rotated kubeconfig is new access.
 */
const kubernetesClients = new Map<string, KubernetesCluster>();
/** More clusters than a worker drives; past it the oldest client goes (its connections with it). */
const MAX_KUBERNETES_CLIENTS = 1024;

function kubernetesClient(name: string, access: Extract<ClusterAccess, { kind: "kubernetes" }>) {
  const key = JSON.stringify([name, access.namespace, access.kubeconfig]);
  let client = kubernetesClients.get(key);
  if (!client) {
    client = new KubernetesCluster({
      name,
      kubeconfig: access.kubeconfig,
      namespace: access.namespace || undefined,
    });
    kubernetesClients.set(key, client);
    if (kubernetesClients.size > MAX_KUBERNETES_CLIENTS)
      kubernetesClients.delete(kubernetesClients.keys().next().value!);
  }
  return client;
}

/** The k8s/ client for a cluster, from the access a round carries. */
export function clusterClient(
  target: { name: string; access: ClusterAccess },
  options: ClusterClientOptions,
): ComputeCluster {
  const { access } = target;
  if (access.kind === "local") {
    return new LocalCluster({
      name: target.name,
      workDir: access.workDir,
      gpus: access.gpus,
      gpuProduct: access.gpuProduct,
      cwd: options.cwd,
      env: { ...options.env, ...access.env },
    });
  }
  return kubernetesClient(target.name, access);
}
