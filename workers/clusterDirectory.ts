import { open, readFile, rename, writeFile } from "node:fs/promises";
import { isAbsolute } from "node:path";
import { ApplicationFailure } from "@temporalio/common";
import { keccak256, toBytes } from "viem";
import { parseDocument, parse as parseYaml } from "yaml";
import { z } from "zod";
import { type ComputeCluster, StoreEnv } from "../k8s/cluster.ts";
import {
  type ContributorKubeconfig,
  MAX_KUBECONFIG_BYTES,
  parseContributorKubeconfig,
} from "../k8s/kubeconfig.ts";
import { KubernetesCluster } from "../k8s/kubernetesCluster.ts";
import { LocalCluster } from "../k8s/local/localCluster.ts";
import { InvalidInputError, parseWith } from "../spec/errors.ts";
import { Bytes32 } from "../spec/runSpec.ts";
import type { Hex } from "../workflows/types.ts";

const absolutePath = z.string().refine(isAbsolute, { message: "must be an absolute path" });
const clusterName = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/, "must be a DNS label of at most 32 characters");

const LocalExecutor = z
  .object({
    workDir: absolutePath,
    gpus: z.number().int().min(0),
    gpuProduct: z.string().min(1).optional(),
    env: z.record(z.string(), z.string()).optional(),
  })
  .strict();

/** A LocalQueue's name, as Kueue reads it from the `kueue.x-k8s.io/queue-name` label. */
const LocalQueueName = z
  .string()
  .regex(
    /^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/,
    "must be a LocalQueue name (a label value: a-z, 0-9, '-', '.')",
  );

const ClusterEntry = z
  .object({
    name: clusterName,
    /** The on-chain id; by default keccak256 of the name (what `registerCluster` is given). */
    id: Bytes32.optional(),
    local: LocalExecutor.optional(),
    kubernetes: z
      .object({
        kubeconfig: absolutePath,
        namespace: z.string().min(1).optional(),
        /** The contributor's Kueue LocalQueue for daotrain's Jobs, where it runs Kueue. */
        queue: LocalQueueName.optional(),
        /**
         * The contributor also runs evaluation pods (CPU only, no GPU) scoring other contributors'
         * outputs (workflows/evaluation.ts); its storeEnv must then be keys `daotrain store grant`
         * minted, which may read the round's outputs.
         */
        evaluates: z.boolean().optional(),
      })
      .strict()
      .optional(),
    /**
     * The keys this contributor's trainers reach the run store with: keys that may write only
     * under `runs/<run>/rounds/<r>/clusters/<name>/` (`daotrain store grant` mints them) keep one
     * contributor from touching another's replicas. Required for a Kubernetes cluster when the run
     * store is a bucket: the worker's own keys never go to a contributor. Never sent through Temporal.
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

/**
 * How the worker reaches a cluster. It stays in the worker: workflows name a cluster and each
 * activity resolves the name here again, so no kubeconfig or key ever travels through Temporal.
 */
export type ClusterAccess =
  | ({ kind: "local" } & z.infer<typeof LocalExecutor>)
  | {
      kind: "kubernetes";
      kubeconfig: ContributorKubeconfig;
      namespace?: string;
      /** The contributor's Kueue LocalQueue: Jobs go there, suspended, for Kueue to admit. */
      queue?: string;
      /** It runs evaluation Jobs too. */
      evaluates?: true;
    }
  /** A kubeconfig the worker will not use (unreadable, or asking it to run, open or trust something). */
  | { kind: "refused"; reason: string };

export interface ConfiguredCluster {
  id: Hex;
  name: string;
  access: ClusterAccess;
  storeEnv?: StoreEnv;
}

/** A round names a cluster that this worker cannot use (no longer in the clusters file, or refused). */
export function clusterNotConfigured(name: string, why: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`cluster ${name}: ${why}`, "ClusterNotConfiguredError");
}

export function clusterIdOf(name: string): Hex {
  return keccak256(toBytes(name));
}

async function readClustersFile(path: string): Promise<z.infer<typeof ClustersFile>> {
  return parseWith(ClustersFile, parseYaml(await readFile(path, "utf8")), `clusters file ${path}`);
}

/**
 * Gives a cluster's trainers these run-store keys (or, with `undefined`, takes them away) in the
 * clusters file, leaving the rest of the file as it was written; the worker reads it at each launch.
 */
export async function writeStoreEnv(
  path: string,
  name: string,
  storeEnv: StoreEnv | undefined,
): Promise<void> {
  const document = parseDocument(await readFile(path, "utf8"));
  const file = parseWith(ClustersFile, document.toJS(), `clusters file ${path}`);
  const index = file.clusters.findIndex((entry) => entry.name === name);
  if (index < 0)
    throw new InvalidInputError(`clusters file ${path}`, [`clusters: names no cluster "${name}"`]);
  if (storeEnv) document.setIn(["clusters", index, "storeEnv"], storeEnv);
  else document.deleteIn(["clusters", index, "storeEnv"]);
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, document.toString(), { mode: 0o600 });
  await rename(temporary, path);
}

/** A contributor's kubeconfig file, read no further than the largest one accepted. */
async function readKubeconfig(path: string): Promise<ContributorKubeconfig> {
  const file = await open(path, "r");
  try {
    const buffer = Buffer.alloc(MAX_KUBECONFIG_BYTES + 1);
    const { bytesRead } = await file.read(buffer, 0, buffer.length, 0);
    if (bytesRead > MAX_KUBECONFIG_BYTES)
      throw new InvalidInputError(`kubeconfig ${path}`, [
        `(root): larger than ${MAX_KUBECONFIG_BYTES} bytes`,
      ]);
    return parseContributorKubeconfig(buffer.subarray(0, bytesRead).toString("utf8"), `kubeconfig ${path}`);
  } finally {
    await file.close();
  }
}

async function accessOf(entry: ClusterEntry): Promise<ClusterAccess> {
  if (entry.local) return { kind: "local", ...entry.local };
  const { kubeconfig: path, namespace, queue, evaluates } = entry.kubernetes!;
  try {
    const kubeconfig = await readKubeconfig(path);
    return {
      kind: "kubernetes",
      kubeconfig,
      ...(namespace ? { namespace } : {}),
      ...(queue ? { queue } : {}),
      ...(evaluates ? { evaluates: true as const } : {}),
    };
  } catch (error) {
    if (!(error instanceof InvalidInputError) && (error as NodeJS.ErrnoException).code === undefined)
      throw error;
    return { kind: "refused", reason: (error as Error).message };
  }
}

/**
 * Reads the clusters file. A malformed file is refused whole; a contributor's kubeconfig that is
 * unreadable or asks for what the worker never does (see `k8s/kubeconfig.ts`) refuses that one
 * cluster only, naming the field, so that one stranger cannot stop every run.
 */
export async function readClusters(path: string): Promise<ConfiguredCluster[]> {
  const file = await readClustersFile(path);
  return await Promise.all(
    file.clusters.map(
      async (entry): Promise<ConfiguredCluster> => ({
        id: entry.id ?? clusterIdOf(entry.name),
        name: entry.name,
        access: await accessOf(entry),
        ...(entry.storeEnv ? { storeEnv: entry.storeEnv } : {}),
      }),
    ),
  );
}

/** The cluster a round named, as the clusters file says now; a non-retryable failure when unusable. */
export async function resolveCluster(path: string, name: string): Promise<ConfiguredCluster> {
  const cluster = (await readClusters(path)).find((c) => c.name === name);
  if (!cluster) throw clusterNotConfigured(name, `not in the clusters file ${path} any more`);
  if (cluster.access.kind === "refused") throw clusterNotConfigured(name, cluster.access.reason);
  return cluster;
}

export interface ClusterClientOptions {
  /** Working directory of local trainer processes. */
  cwd: string;
  /** Extra env for local trainer processes. */
  env?: Record<string, string>;
  /** A Kubernetes cluster that answers no status read for this long is unreachable (see KubernetesCluster). */
  silenceMs?: number;
}

/**
 * Kubernetes clients by the access they were made from, so that every activity for a cluster
 * shares its connections and its ServiceAccount's answers; a rotated kubeconfig is new access.
 */
const kubernetesClients = new Map<string, KubernetesCluster>();
/** More clusters than a worker drives; past it the oldest client goes (its connections with it). */
const MAX_KUBERNETES_CLIENTS = 1024;

function kubernetesClient(
  name: string,
  access: Extract<ClusterAccess, { kind: "kubernetes" }>,
  silenceMs: number | undefined,
): KubernetesCluster {
  const key = JSON.stringify([name, access.namespace, access.queue, access.kubeconfig, silenceMs]);
  let client = kubernetesClients.get(key);
  if (!client) {
    client = new KubernetesCluster({
      name,
      kubeconfig: access.kubeconfig,
      ...(access.namespace ? { namespace: access.namespace } : {}),
      ...(access.queue ? { queue: access.queue } : {}),
      ...(silenceMs !== undefined ? { silenceMs } : {}),
    });
    kubernetesClients.set(key, client);
    if (kubernetesClients.size > MAX_KUBERNETES_CLIENTS)
      kubernetesClients.delete(kubernetesClients.keys().next().value!);
  }
  return client;
}

/** The k8s/ client for a cluster the worker may use. */
export function clusterClient(cluster: ConfiguredCluster, options: ClusterClientOptions): ComputeCluster {
  const { access } = cluster;
  switch (access.kind) {
    case "local":
      return new LocalCluster({
        name: cluster.name,
        workDir: access.workDir,
        gpus: access.gpus,
        gpuProduct: access.gpuProduct,
        cwd: options.cwd,
        env: { ...options.env, ...access.env },
      });
    case "kubernetes":
      return kubernetesClient(cluster.name, access, options.silenceMs);
    case "refused":
      throw clusterNotConfigured(cluster.name, access.reason);
  }
}
