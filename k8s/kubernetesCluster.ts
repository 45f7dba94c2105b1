import { setTimeout as sleep } from "node:timers/promises";
import {
  ADD,
  ApiException,
  BatchV1Api,
  CoreV1Api,
  DELETE,
  ERROR,
  type KubeConfig,
  type KubernetesObject,
  ListWatch,
  UPDATE,
  type V1Job,
  type V1Node,
  type V1OwnerReference,
  type V1Pod,
  type V1Secret,
  Watch,
} from "@kubernetes/client-node";
import {
  type ClusterCapacity,
  type ComputeCluster,
  type GpuQuota,
  isTerminal,
  parseRoundJobSpec,
  QuotaExceededError,
  type RoundJobSpecInput,
  RoundNotFoundError,
  type RoundRef,
  type RoundStatus,
  type WatchOptions,
} from "./cluster.ts";
import { PooledKubeConfig } from "./pooledKubeConfig.ts";
import { completionIndex, jobReplicas, replicaStates } from "./replicaState.ts";
import {
  buildRoundJob,
  GPU_PRODUCT_LABEL,
  GPU_RESOURCE,
  storeSecretName,
  TRAINER_CONTAINER,
} from "./roundJob.ts";

const QUOTA_RESOURCE = `requests.${GPU_RESOURCE}`;
const JOB_NAME_LABEL = "batch.kubernetes.io/job-name";

export interface KubernetesClusterOptions {
  /** The cluster's registered name (what RoundRef.cluster says). */
  name: string;
  /** The contributor's ServiceAccount kubeconfig (YAML), or a loaded KubeConfig. */
  kubeconfig: string | KubeConfig;
  /** The contributor namespace; defaults to the kubeconfig context's namespace. */
  namespace?: string;
  /** How often a watch re-checks that running pods' nodes still exist. */
  nodeCheckIntervalMs?: number;
}

export class ClusterApiError extends Error {
  override readonly name = "ClusterApiError";
}

function statusCode(error: unknown): number | undefined {
  if (error instanceof ApiException) return error.code;
  const code = (error as { statusCode?: unknown; code?: unknown } | undefined)?.statusCode;
  return typeof code === "number" ? code : undefined;
}

async function ignoreNotFound<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (error) {
    if (statusCode(error) === 404) return undefined;
    throw error;
  }
}

async function ignoreConflict<T>(call: Promise<T>): Promise<void> {
  try {
    await call;
  } catch (error) {
    if (statusCode(error) !== 409) throw error;
  }
}

function quantity(value: string | undefined): number {
  if (!value) return 0;
  const n = Number(value);
  if (Number.isNaN(n)) throw new ClusterApiError(`unexpected GPU quantity "${value}"`);
  return n;
}

function podGpus(pod: V1Pod): number {
  return (pod.spec?.containers ?? []).reduce(
    (sum, c) => sum + quantity(c.resources?.requests?.[GPU_RESOURCE] ?? c.resources?.limits?.[GPU_RESOURCE]),
    0,
  );
}

/** The Secret holds exactly `data` (the apiserver folds stringData into base64 `data`). */
function sameData(secret: V1Secret, data: Record<string, string>): boolean {
  const current = secret.data ?? {};
  const keys = Object.keys(data);
  return (
    Object.keys(current).length === keys.length &&
    keys.every((key) => current[key] === Buffer.from(data[key] ?? "", "utf8").toString("base64"))
  );
}

function sameOwners(current: readonly V1OwnerReference[], desired: readonly V1OwnerReference[]): boolean {
  return current.length === desired.length && current.every((ref, i) => ref.uid === desired[i]?.uid);
}

/** A node a GPU Job could land on: Ready, not cordoned, no NoSchedule taint but the GPU one. */
function schedulable(node: V1Node): boolean {
  const ready = node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
  const blocking = (node.spec?.taints ?? []).some(
    (t) => (t.effect === "NoSchedule" || t.effect === "NoExecute") && t.key !== GPU_RESOURCE,
  );
  return ready && !node.spec?.unschedulable && !blocking;
}

/** The contributed cluster, reached with the contributor's ServiceAccount kubeconfig. */
export class KubernetesCluster implements ComputeCluster {
  readonly name: string;
  readonly namespace: string;
  readonly kubeConfig: KubeConfig;
  private readonly core: CoreV1Api;
  private readonly batch: BatchV1Api;
  private readonly nodeCheckIntervalMs: number;

  constructor(options: KubernetesClusterOptions) {
    this.name = options.name;
    if (typeof options.kubeconfig === "string") {
      this.kubeConfig = new PooledKubeConfig();
      this.kubeConfig.loadFromString(options.kubeconfig);
    } else {
      this.kubeConfig = PooledKubeConfig.from(options.kubeconfig);
    }
    const contextNamespace = this.kubeConfig.getContextObject(this.kubeConfig.getCurrentContext())?.namespace;
    this.namespace = options.namespace ?? contextNamespace ?? "default";
    this.core = this.kubeConfig.makeApiClient(CoreV1Api);
    this.batch = this.kubeConfig.makeApiClient(BatchV1Api);
    this.nodeCheckIntervalMs = options.nodeCheckIntervalMs ?? 2_000;
  }

  async capacity(): Promise<ClusterCapacity> {
    const [nodes, pods, quota] = await Promise.all([
      this.core.listNode().catch((error: unknown) => {
        // The contributor does not share node capacity: the quota's headroom is all there is to go by.
        if (statusCode(error) === 403) return undefined;
        throw error;
      }),
      this.activePods(),
      this.gpuQuota(),
    ]);
    if (!nodes)
      return { freeGpus: quota ? Math.max(0, quota.hard - quota.used) : 0, freeGpusByProduct: {}, quota };
    const usedByNode = new Map<string, number>();
    for (const pod of pods) {
      const node = pod.spec?.nodeName;
      if (node) usedByNode.set(node, (usedByNode.get(node) ?? 0) + podGpus(pod));
    }
    const freeGpusByProduct: Record<string, number> = {};
    let free = 0;
    for (const node of nodes.items.filter(schedulable)) {
      const allocatable = quantity(node.status?.allocatable?.[GPU_RESOURCE]);
      const nodeFree = Math.max(0, allocatable - (usedByNode.get(node.metadata?.name ?? "") ?? 0));
      if (allocatable === 0) continue;
      const product = node.metadata?.labels?.[GPU_PRODUCT_LABEL] ?? "unknown";
      freeGpusByProduct[product] = (freeGpusByProduct[product] ?? 0) + nodeFree;
      free += nodeFree;
    }
    const freeGpus = quota ? Math.min(free, Math.max(0, quota.hard - quota.used)) : free;
    return { freeGpus, freeGpusByProduct, quota };
  }

  /**
   * Non-terminal pods whose GPU requests hold node capacity: cluster-wide when the kubeconfig may
   * list them (an admin), else the contributor namespace (the ServiceAccount sees only its own).
   */
  private async activePods(): Promise<V1Pod[]> {
    const fieldSelector = "status.phase!=Succeeded,status.phase!=Failed";
    try {
      return (await this.core.listPodForAllNamespaces({ fieldSelector })).items;
    } catch (error) {
      if (statusCode(error) !== 403) throw error;
      return (await this.core.listNamespacedPod({ namespace: this.namespace, fieldSelector })).items;
    }
  }

  /** The tightest ResourceQuota on `requests.nvidia.com/gpu` in the namespace. */
  private async gpuQuota(): Promise<GpuQuota | undefined> {
    const quotas = await this.core.listNamespacedResourceQuota({ namespace: this.namespace });
    let tightest: GpuQuota | undefined;
    for (const q of quotas.items) {
      const hardText = q.status?.hard?.[QUOTA_RESOURCE] ?? q.spec?.hard?.[QUOTA_RESOURCE];
      if (hardText === undefined) continue;
      const quota = {
        name: q.metadata?.name ?? "",
        hard: quantity(hardText),
        used: quantity(q.status?.used?.[QUOTA_RESOURCE]),
      };
      if (!tightest || quota.hard - quota.used < tightest.hard - tightest.used) tightest = quota;
    }
    return tightest;
  }

  /**
   * The store Secret goes in before the Job, so no pod ever waits for it; once the Job exists the
   * Secret (like the Service) is owned by it, so deleting the Job (or its TTL) removes both.
   */
  async launchRound(input: RoundJobSpecInput): Promise<RoundRef> {
    const spec = parseRoundJobSpec(input);
    const { name, job, service, storeSecret } = buildRoundJob(spec, this.namespace);
    const ref = { cluster: this.name, name };
    let existing = await ignoreNotFound(this.batch.readNamespacedJob({ name, namespace: this.namespace }));
    if (!existing) {
      const requested = spec.gpusPerReplica * spec.replicas.length;
      const quota = await this.gpuQuota();
      if (quota && requested > quota.hard - quota.used)
        throw new QuotaExceededError(quota.name, requested, Math.max(0, quota.hard - quota.used));
      if (storeSecret) await this.applySecret(storeSecret, undefined);
      try {
        existing = await this.batch.createNamespacedJob({ namespace: this.namespace, body: job });
      } catch (error) {
        if (statusCode(error) !== 409) throw error;
        existing = await this.batch.readNamespacedJob({ name, namespace: this.namespace });
      }
    }
    const owner: V1OwnerReference = {
      apiVersion: "batch/v1",
      kind: "Job",
      name,
      uid: existing.metadata?.uid ?? "",
      controller: true,
    };
    if (storeSecret) await this.applySecret(storeSecret, owner);
    service.metadata = { ...service.metadata, ownerReferences: [owner] };
    await ignoreConflict(this.core.createNamespacedService({ namespace: this.namespace, body: service }));
    return ref;
  }

  /**
   * Creates the Secret, or brings an existing one to `desired`'s data (rotated credentials) and to
   * `owner` (none before the Job exists: an owner left from an earlier Job of the same name must
   * not let the garbage collector take it away under the new one).
   */
  private async applySecret(desired: V1Secret, owner: V1OwnerReference | undefined): Promise<void> {
    const namespace = this.namespace;
    const name = desired.metadata?.name ?? "";
    const ownerReferences = owner ? [owner] : [];
    for (let attempt = 0; ; attempt++) {
      const current = await ignoreNotFound(this.core.readNamespacedSecret({ name, namespace }));
      try {
        if (!current) {
          const body = { ...desired, metadata: { ...desired.metadata, ownerReferences } };
          await this.core.createNamespacedSecret({ namespace, body });
        } else if (
          !sameData(current, desired.stringData ?? {}) ||
          !sameOwners(current.metadata?.ownerReferences ?? [], ownerReferences)
        ) {
          const metadata = {
            ...desired.metadata,
            ownerReferences,
            resourceVersion: current.metadata?.resourceVersion,
          };
          await this.core.replaceNamespacedSecret({ name, namespace, body: { ...desired, metadata } });
        }
        return;
      } catch (error) {
        // Created, changed or deleted by someone else meanwhile: read it again.
        const code = statusCode(error);
        if ((code !== 409 && code !== 404) || attempt >= 5) throw error;
      }
    }
  }

  private async readJob(ref: RoundRef): Promise<V1Job> {
    const job = await ignoreNotFound(
      this.batch.readNamespacedJob({ name: ref.name, namespace: this.namespace }),
    );
    if (!job) throw new RoundNotFoundError(ref);
    return job;
  }

  private async listPods(ref: RoundRef) {
    return await this.core.listNamespacedPod({
      namespace: this.namespace,
      labelSelector: `${JOB_NAME_LABEL}=${ref.name}`,
    });
  }

  /**
   * Which of the nodes still exist (undefined answers when nodes may not be read), and whether
   * they may be: a kubeconfig refused once is not asked again for the rest of a watch.
   */
  private async nodePresence(
    names: Iterable<string>,
  ): Promise<{ exists: (node: string) => boolean | undefined; readable: boolean }> {
    const present = new Map<string, boolean>();
    for (const node of new Set(names)) {
      try {
        await this.core.readNode({ name: node });
        present.set(node, true);
      } catch (error) {
        const code = statusCode(error);
        if (code === 403) return { exists: () => undefined, readable: false };
        if (code !== 404) throw error;
        present.set(node, false);
      }
    }
    return { exists: (node) => present.get(node), readable: true };
  }

  private async status(
    ref: RoundRef,
    job: V1Job,
    pods: readonly V1Pod[],
    readNodes = true,
  ): Promise<{ status: RoundStatus; nodesReadable: boolean }> {
    const running = pods.filter((p) => p.status?.phase === "Running" && p.spec?.nodeName);
    const nodes = readNodes
      ? await this.nodePresence(running.map((p) => p.spec?.nodeName ?? ""))
      : { exists: () => undefined, readable: false };
    const replicas = replicaStates(job, pods, nodes.exists);
    return { status: { ref, replicas, done: replicas.every(isTerminal) }, nodesReadable: nodes.readable };
  }

  async roundStatus(ref: RoundRef): Promise<RoundStatus> {
    const job = await this.readJob(ref);
    return (await this.status(ref, job, (await this.listPods(ref)).items)).status;
  }

  /**
   * Informers (list, then watch from that version; relist on 410) on the Job and on its pods: a
   * pod or Job change is pushed, so a round costs a few requests per cluster however long its
   * replicas train, not a Job read per pod event and per poll. Only nodes are polled, every
   * `nodeCheckIntervalMs` while pods run, and only where the kubeconfig may read them.
   */
  async *watchRound(
    ref: RoundRef,
    options: WatchOptions = {},
  ): AsyncGenerator<RoundStatus, RoundStatus | undefined> {
    const { signal } = options;
    const namespace = this.namespace;
    const watch = new Watch(this.kubeConfig);
    const jobSelector = `metadata.name=${ref.name}`;
    const pods = new ListWatch<V1Pod>(
      `/api/v1/namespaces/${namespace}/pods`,
      watch,
      () => this.listPods(ref),
      false,
      `${JOB_NAME_LABEL}=${ref.name}`,
    );
    const jobs = new ListWatch<V1Job>(
      `/apis/batch/v1/namespaces/${namespace}/jobs`,
      watch,
      () => this.batch.listNamespacedJob({ namespace, fieldSelector: jobSelector }),
      false,
      undefined,
      jobSelector,
    );
    let changed = true;
    let jobDeleted = false;
    let wake: () => void = () => {};
    const notify = () => {
      changed = true;
      wake();
    };
    const restarts: NodeJS.Timeout[] = [];
    let finished = false;
    const follow = <T extends KubernetesObject>(informer: ListWatch<T>) => {
      informer.on(ADD, notify);
      informer.on(UPDATE, notify);
      informer.on(DELETE, notify);
      // An informer stops at an error (the apiserver restarting, a cut connection); it resumes
      // from the version it had, after a pause that keeps a dead apiserver from a hot loop.
      informer.on(ERROR, () => {
        if (!finished) restarts.push(setTimeout(() => finished || void informer.start(), 500));
      });
    };
    follow(pods);
    follow(jobs);
    jobs.on(DELETE, () => {
      jobDeleted = true;
    });
    const onAbort = () => wake();
    signal?.addEventListener("abort", onAbort);
    let current: RoundStatus | undefined;
    let last: string | undefined;
    let nodesReadable = true;
    const nodesToCheck = () => nodesReadable && current?.replicas.some((r) => r.state === "running");
    try {
      await Promise.all([pods.start(), jobs.start()]);
      while (!signal?.aborted) {
        if (jobDeleted) throw new RoundNotFoundError(ref);
        const job = jobs.get(ref.name, namespace);
        if (job && (changed || nodesToCheck())) {
          changed = false;
          try {
            const seen = await this.status(ref, job, pods.list(namespace), nodesReadable);
            current = seen.status;
            nodesReadable = seen.nodesReadable;
          } catch {
            // Nodes could not be read just now (the apiserver restarting): try again shortly.
            changed = true;
            await sleep(500, undefined, { signal }).catch(() => {});
          }
          if (current) {
            const key = JSON.stringify(current.replicas);
            if (key !== last) {
              last = key;
              yield current;
            }
            if (current.done) return current;
          }
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          if (changed || signal?.aborted || jobDeleted) resolve();
          else if (nodesToCheck()) setTimeout(resolve, this.nodeCheckIntervalMs).unref();
        });
      }
      return current;
    } finally {
      finished = true;
      signal?.removeEventListener("abort", onAbort);
      for (const timer of restarts) clearTimeout(timer);
      await Promise.all([pods.stop(), jobs.stop()]);
    }
  }

  async logs(ref: RoundRef, replica: number, options: { tailLines?: number } = {}): Promise<string> {
    const job = await this.readJob(ref);
    const index = jobReplicas(job).indexOf(replica);
    const pods = (await this.listPods(ref)).items
      .filter((p) => completionIndex(p) === index)
      .sort((a, b) =>
        String(a.metadata?.creationTimestamp).localeCompare(String(b.metadata?.creationTimestamp)),
      );
    const pod = pods.at(-1);
    if (index < 0 || !pod?.metadata?.name)
      throw new ClusterApiError(`replica ${replica} of round ${ref.name} has no pod on ${this.name}`);
    return await this.core.readNamespacedPodLog({
      name: pod.metadata.name,
      namespace: this.namespace,
      container: TRAINER_CONTAINER,
      ...(options.tailLines ? { tailLines: options.tailLines } : {}),
    });
  }

  async cancelRound(ref: RoundRef): Promise<void> {
    await this.deleteRound(ref, "Foreground");
    const deadline = Date.now() + 120_000;
    // A small round is gone in a moment; a large one takes a busy cluster tens of seconds, and a
    // hundred clusters checked every 250 ms would be 800 requests a second: the pause doubles to 2 s.
    for (let pause = 250; Date.now() < deadline; pause = Math.min(2_000, pause * 2)) {
      const job = await ignoreNotFound(
        this.batch.readNamespacedJob({ name: ref.name, namespace: this.namespace }),
      );
      const pods = await this.listPods(ref);
      if (!job && pods.items.length === 0) return;
      await sleep(pause);
    }
    throw new ClusterApiError(
      `round ${ref.name} on ${this.name}: Job or pods still present 120 s after cancel`,
    );
  }

  async cleanupRound(ref: RoundRef): Promise<void> {
    await this.deleteRound(ref, "Background");
  }

  private async deleteRound(ref: RoundRef, propagationPolicy: "Foreground" | "Background"): Promise<void> {
    const namespace = this.namespace;
    await ignoreNotFound(this.batch.deleteNamespacedJob({ name: ref.name, namespace, propagationPolicy }));
    await ignoreNotFound(this.core.deleteNamespacedService({ name: ref.name, namespace }));
    // Owned by the Job, but deleted here too: a launch that died before the Job was made left it unowned.
    await ignoreNotFound(this.core.deleteNamespacedSecret({ name: storeSecretName(ref.name), namespace }));
  }
}
