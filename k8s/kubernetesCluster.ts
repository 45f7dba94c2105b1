import { setTimeout as sleep } from "node:timers/promises";
import {
  ADD,
  ApiException,
  BatchV1Api,
  CoreV1Api,
  createConfiguration,
  DELETE,
  ERROR,
  type HttpLibrary,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  ListWatch,
  PatchStrategy,
  type RequestContext,
  type ResponseContext,
  ServerConfiguration,
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
  type EvaluationJobSpecInput,
  type GpuQuota,
  isTerminal,
  parseEvaluationJobSpec,
  parseRoundJobSpec,
  QuotaExceededError,
  type RoundJobSpecInput,
  RoundNotFoundError,
  type RoundRef,
  type RoundStatus,
  type WatchOptions,
} from "./cluster.ts";
import { PRIORITY_QUOTA } from "./contributor/bundle.ts";
import { buildEvaluationJob } from "./evaluationJob.ts";
import { type ContributorKubeconfig, parseContributorKubeconfig, toKubeConfig } from "./kubeconfig.ts";
import { PooledKubeConfig } from "./pooledKubeConfig.ts";
import { completionIndex, disruption, jobReplicas, replicaStates } from "./replicaState.ts";
import {
  buildRoundJob,
  GPU_PRODUCT_LABEL,
  GPU_RESOURCE,
  storeSecretName,
  TRAINER_CONTAINER,
} from "./roundJob.ts";
import { retryingThrottled } from "./throttling.ts";

const QUOTA_RESOURCE = `requests.${GPU_RESOURCE}`;
/** The field manager of what the orchestrator applies (server-side apply). */
const FIELD_MANAGER = "daotrain";
const JOB_NAME_LABEL = "batch.kubernetes.io/job-name";

export interface KubernetesClusterOptions {
  /** The cluster's registered name (what RoundRef.cluster says). */
  name: string;
  /**
   * The contributor's ServiceAccount kubeconfig: its YAML or its parsed values, both held to
   * `k8s/kubeconfig.ts` (inline credentials only), or a KubeConfig the caller built and trusts.
   */
  kubeconfig: string | ContributorKubeconfig | KubeConfig;
  /** The contributor namespace; defaults to the kubeconfig context's namespace. */
  namespace?: string;
  /** How often a watch re-checks that running pods' nodes still exist. */
  nodeCheckIntervalMs?: number;
  /** Every API request that has not answered after this long fails (a silent apiserver holds none). */
  requestTimeoutMs?: number;
  /**
   * A watch on a cluster that has answered no request for this long gives up with
   * `ClusterUnreachableError`; unset, it waits for the cluster however long it takes.
   */
  silenceMs?: number;
  /** The contributor's Kueue LocalQueue, where it runs Kueue: Jobs are queued there. */
  queue?: string | undefined;
}

/** The default bound on one API request: an apiserver that answers at all does so in far less. */
export const REQUEST_TIMEOUT_MS = 10_000;

export class ClusterApiError extends Error {
  override readonly name = "ClusterApiError";
}

/** The cluster answered no request for longer than the watch was told to wait. */
export class ClusterUnreachableError extends Error {
  override readonly name = "ClusterUnreachableError";
  constructor(cluster: string, silentMs: number, lastError: unknown) {
    const last = lastError instanceof Error ? lastError.message : String(lastError);
    super(
      `cluster ${cluster} answered no request for ${Math.round(silentMs / 1000)} s (last error: ${last})`,
    );
  }
}

/** The cluster's configuration, its requests sharing one connection pool (`PooledKubeConfig`). */
function loadKubeConfig(kubeconfig: KubernetesClusterOptions["kubeconfig"]): KubeConfig {
  if (kubeconfig instanceof KubeConfig) return PooledKubeConfig.from(kubeconfig);
  return PooledKubeConfig.from(
    toKubeConfig(typeof kubeconfig === "string" ? parseContributorKubeconfig(kubeconfig) : kubeconfig),
  );
}

/**
 * A client of `kubeConfig`'s cluster whose every request is aborted after `timeoutMs`, and sent
 * again when the apiserver sheds it (throttling.ts) within that time; `http` is what sends each
 * try (client-node's own fetch library unless a caller looks at the tries).
 */
export function apiClient<T>(
  kubeConfig: KubeConfig,
  Api: new (configuration: ReturnType<typeof createConfiguration>) => T,
  timeoutMs: number,
  http?: HttpLibrary,
): T {
  const server = kubeConfig.getCurrentCluster()?.server;
  if (!server) throw new ClusterApiError("the kubeconfig has no current cluster");
  return new Api(
    createConfiguration({
      baseServer: new ServerConfiguration(server, {}),
      authMethods: { default: kubeConfig },
      httpApi: retryingThrottled(http),
      promiseMiddleware: [
        {
          pre: async (request: RequestContext) => {
            request.setSignal(AbortSignal.timeout(timeoutMs));
            return request;
          },
          post: async (response: ResponseContext) => response,
        },
      ],
    }),
  );
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
  private readonly objects: KubernetesObjectApi;
  private readonly nodeCheckIntervalMs: number;
  private readonly requestTimeoutMs: number;
  private readonly silenceMs: number;
  private readonly queue: string | undefined;

  constructor(options: KubernetesClusterOptions) {
    this.name = options.name;
    this.kubeConfig = loadKubeConfig(options.kubeconfig);
    const contextNamespace = this.kubeConfig.getContextObject(this.kubeConfig.getCurrentContext())?.namespace;
    this.namespace = options.namespace ?? contextNamespace ?? "default";
    this.requestTimeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
    this.silenceMs = options.silenceMs ?? Number.POSITIVE_INFINITY;
    this.core = apiClient(this.kubeConfig, CoreV1Api, this.requestTimeoutMs);
    this.batch = apiClient(this.kubeConfig, BatchV1Api, this.requestTimeoutMs);
    this.objects = apiClient(this.kubeConfig, KubernetesObjectApi, this.requestTimeoutMs);
    this.nodeCheckIntervalMs = options.nodeCheckIntervalMs ?? 2_000;
    this.queue = options.queue;
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

  /**
   * The PriorityClass the contributor's bundle admits pods at (its `daotrain-priority` quota
   * refuses every other), or undefined where the bundle predates it.
   */
  private async requiredPriorityClass(): Promise<string | undefined> {
    const quota = await ignoreNotFound(
      this.core.readNamespacedResourceQuota({ name: PRIORITY_QUOTA, namespace: this.namespace }),
    );
    const only = quota?.spec?.scopeSelector?.matchExpressions?.find(
      (e) => e.scopeName === "PriorityClass" && e.operator === "NotIn",
    );
    return only?.values?.length === 1 ? only.values[0] : undefined;
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
    const spec = parseRoundJobSpec({ ...input, ...(await this.placementTerms()) });
    const { name, job, service, storeSecret } = buildRoundJob(spec, this.namespace);
    const owner = await this.createJob(name, job, storeSecret, spec.gpusPerReplica * spec.replicas.length);
    service.metadata = { ...service.metadata, ownerReferences: [owner] };
    await ignoreConflict(this.core.createNamespacedService({ namespace: this.namespace, body: service }));
    return { cluster: this.name, name };
  }

  /**
   * Starts the Job scoring other contributors' outputs of a round here (k8s/evaluationJob.ts), or
   * finds it started; its pods hold no GPU. Watched, read and cancelled by the RoundRef returned,
   * as a round's Job is.
   */
  async launchEvaluation(input: EvaluationJobSpecInput): Promise<RoundRef> {
    const spec = parseEvaluationJobSpec({ ...input, ...(await this.placementTerms()) });
    const { name, job, storeSecret } = buildEvaluationJob(spec, this.namespace);
    await this.createJob(name, job, storeSecret, 0);
    return { cluster: this.name, name };
  }

  /** What the contributor's namespace requires of every pod daotrain places there. */
  private async placementTerms(): Promise<{ priorityClassName?: string; queue?: string }> {
    const priorityClassName = await this.requiredPriorityClass();
    return {
      ...(priorityClassName ? { priorityClassName } : {}),
      ...(this.queue ? { queue: this.queue } : {}),
    };
  }

  /**
   * Creates the Job (its store Secret first), or finds it created; refused when its GPUs exceed
   * the quota's headroom. Returns the owner reference its Secret and Service are then given.
   */
  private async createJob(
    name: string,
    job: V1Job,
    storeSecret: V1Secret | undefined,
    requestedGpus: number,
  ): Promise<V1OwnerReference> {
    let existing = await ignoreNotFound(this.batch.readNamespacedJob({ name, namespace: this.namespace }));
    if (!existing) {
      const quota = requestedGpus > 0 ? await this.gpuQuota() : undefined;
      if (quota && requestedGpus > quota.hard - quota.used)
        throw new QuotaExceededError(quota.name, requestedGpus, Math.max(0, quota.hard - quota.used));
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
    return owner;
  }

  /**
   * Server-side applies the store Secret: created, or brought to `desired`'s data (rotated keys) and
   * to `owner` (none before the Job exists: an owner left from an earlier Job of the same name must
   * not let the garbage collector take it away under the new one). An apply needs no read, so the
   * orchestrator's Role may write its Secrets without being able to read any Secret.
   */
  private async applySecret(desired: V1Secret, owner: V1OwnerReference | undefined): Promise<void> {
    const { stringData, ...secret } = desired;
    const encoded = Object.entries(stringData ?? {}).map(
      ([key, value]) => [key, Buffer.from(value, "utf8").toString("base64")] as const,
    );
    const body: V1Secret = {
      ...secret,
      data: { ...secret.data, ...Object.fromEntries(encoded) },
      metadata: { ...secret.metadata, namespace: this.namespace, ownerReferences: owner ? [owner] : [] },
    };
    await this.objects.patch(body, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
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
   * replicas train, not a Job read per pod event and per poll. Nodes are polled every
   * `nodeCheckIntervalMs` while pods run, and only where the kubeconfig may read them. A cluster
   * quiet for a quarter of `silenceMs` is asked for the Job once; once no request has been
   * answered for `silenceMs`, it is given up (`ClusterUnreachableError`). Informers start in the
   * background, so a watch that hangs never delays those reads.
   */
  async *watchRound(
    ref: RoundRef,
    options: WatchOptions = {},
  ): AsyncGenerator<RoundStatus, RoundStatus | undefined> {
    const { signal } = options;
    const namespace = this.namespace;
    let lastAnswerAt = Date.now();
    let changed = true;
    let jobsListed = false;
    let jobDeleted = false;
    let wake: () => void = () => {};
    const notify = () => {
      lastAnswerAt = Date.now();
      changed = true;
      wake();
    };
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
      async () => {
        const list = await this.batch.listNamespacedJob({ namespace, fieldSelector: jobSelector });
        // After the informer has taken the list in: then a Job missing from it is no Job at all.
        setImmediate(() => {
          jobsListed = true;
          notify();
        });
        return list;
      },
      false,
      undefined,
      jobSelector,
    );
    /** Pods gone from the round, kept for why they went: preempted, evicted, or started and removed. */
    const departed = new Map<string, V1Pod>();
    const restarts: NodeJS.Timeout[] = [];
    let finished = false;
    const follow = <T extends KubernetesObject>(informer: ListWatch<T>) => {
      informer.on(ADD, notify);
      informer.on(UPDATE, notify);
      informer.on(DELETE, notify);
      // An informer stops at an error (the apiserver restarting, a cut connection); it resumes
      // from the version it had, after a pause that keeps a dead apiserver from a hot loop.
      const start = () => {
        if (!finished) informer.start().catch(restart);
      };
      const restart = () => {
        if (!finished) restarts.push(setTimeout(start, 500));
      };
      informer.on(ERROR, restart);
      return start;
    };
    const startPods = follow(pods);
    const startJobs = follow(jobs);
    pods.on(DELETE, (pod) => {
      // A preempted or evicted pod goes away (so does a started one whose Job Kueue suspends); why
      // it went must outlive it.
      if (disruption(pod) || pod.status?.startTime) departed.set(pod.metadata?.uid ?? "", pod);
    });
    jobs.on(DELETE, () => {
      jobDeleted = true;
    });
    const onAbort = () => wake();
    signal?.addEventListener("abort", onAbort);
    let current: RoundStatus | undefined;
    let last: string | undefined;
    let nodesReadable = true;
    const nodesToCheck = () => nodesReadable && current?.replicas.some((r) => r.state === "running");
    const probeAfterMs = Number.isFinite(this.silenceMs) ? this.silenceMs / 4 : Number.POSITIVE_INFINITY;
    try {
      startPods();
      startJobs();
      while (!signal?.aborted) {
        try {
          if (jobDeleted) throw new RoundNotFoundError(ref);
          const job = jobs.get(ref.name, namespace);
          if (jobsListed && !job) throw new RoundNotFoundError(ref);
          // Until the informer has the Job there is nothing to read: wait for its event, not in a
          // loop of resolved promises that would starve the very I/O it waits for.
          if (!job) changed = false;
          if (Date.now() - lastAnswerAt >= probeAfterMs) {
            // Informers say nothing of a cluster that went quiet: is it still there?
            await this.readJob(ref);
            lastAnswerAt = Date.now();
          }
          if (job && (changed || nodesToCheck())) {
            changed = false;
            const seen = await this.status(
              ref,
              job,
              [...departed.values(), ...pods.list(namespace)],
              nodesReadable,
            );
            lastAnswerAt = Date.now();
            current = seen.status;
            nodesReadable = seen.nodesReadable;
            const key = JSON.stringify(current.replicas);
            if (key !== last) {
              last = key;
              yield current;
            }
            if (current.done) return current;
          }
        } catch (error) {
          if (error instanceof RoundNotFoundError) throw error;
          const silent = Date.now() - lastAnswerAt;
          if (silent > this.silenceMs) throw new ClusterUnreachableError(this.name, silent, error);
          // The apiserver is unreachable (restart, cut connection): try again shortly.
          changed = true;
          await sleep(500, undefined, { signal }).catch(() => {});
          continue;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          if (changed || signal?.aborted || jobDeleted) resolve();
          else {
            const untilProbe = probeAfterMs - (Date.now() - lastAnswerAt);
            const pause = Math.min(nodesToCheck() ? this.nodeCheckIntervalMs : untilProbe, untilProbe);
            if (Number.isFinite(pause)) setTimeout(resolve, Math.max(0, pause)).unref();
          }
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
