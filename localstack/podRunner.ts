import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  makeInformer,
  type V1Container,
  type V1ContainerState,
  type V1ContainerStatus,
  type V1EnvFromSource,
  type V1EnvVar,
  type V1Pod,
  type V1PodStatus,
} from "@kubernetes/client-node";
import { JOB_POD_LABEL, KWOK_LOGS } from "./kubernetes.ts";
import { type ManagedProcess, startProcess } from "./process.ts";

/**
 * KWOK simulates nodes but runs nothing. In a cluster started with `podRunner: true`, KWOK leaves
 * Job pods alone and this runner plays their kubelet: for each Job pod bound to a node it runs the
 * first container's command here, with the pod's env (literal, downward API, and Secret and
 * ConfigMap keys through `envFrom` and `valueFrom`), and writes phase and exit code back through
 * the status subresource. Deleting the pod kills the process.
 */
export interface PodRunner {
  /** Each pod's stdout+stderr lands in `<logDir>/<namespace>_<pod>.log`. */
  logDir: string;
  /** Pods started so far, by "namespace/name". */
  started(): string[];
  stop(): Promise<void>;
}

export interface PodRunnerOptions {
  kubeConfig: KubeConfig;
  /** Working directory of the processes; a fresh temp dir by default. */
  cwd?: string;
  /** Added to every pod's env (PATH and HOME are passed through already). */
  env?: Record<string, string>;
  /**
   * What this kubelet reports once a pod's process has exited: by default the truth. A test that
   * plays a dishonest contributor (who controls its cluster, kubelet and apiserver included) can
   * hold the report back, the pod Running meanwhile, and forge the container's times.
   */
  report?: (ran: ContainerRun) => Promise<ContainerRun>;
}

/** When a pod's container ran, as its kubelet reports it. */
export interface ContainerRun {
  pod: string;
  startedAt: Date;
  finishedAt: Date;
}

type Fields = { [key: string]: string | undefined };

/** Resolves the downward-API references Job pods use (completion index, pod name, ...). */
function fieldValue(pod: V1Pod, path: string): string | undefined {
  const annotation = /^metadata\.annotations\['(.+)'\]$/.exec(path);
  if (annotation?.[1]) return pod.metadata?.annotations?.[annotation[1]];
  const label = /^metadata\.labels\['(.+)'\]$/.exec(path);
  if (label?.[1]) return pod.metadata?.labels?.[label[1]];
  const fields: Fields = {
    "metadata.name": pod.metadata?.name,
    "metadata.namespace": pod.metadata?.namespace,
    "metadata.uid": pod.metadata?.uid,
    "spec.nodeName": pod.spec?.nodeName,
    "spec.serviceAccountName": pod.spec?.serviceAccountName,
    "status.podIP": "127.0.0.1",
    "status.hostIP": "127.0.0.1",
  };
  return fields[path];
}

/** Kubernetes' `$(VAR)` expansion: defined names are replaced, `$$` escapes, the rest stays. */
export function expandKubernetesVars(text: string, env: Fields): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => {
    if (match === "$$") return "$";
    const value = name === undefined ? undefined : env[name];
    return value ?? match;
  });
}

/**
 * A Secret, ConfigMap or key the container's env needs is not there (yet). Kubelet keeps such a
 * pod Pending with this message (reason CreateContainerConfigError) and tries again.
 */
export class MissingEnvSourceError extends Error {
  override readonly name = "MissingEnvSourceError";
}

/** The string data of the Secrets and ConfigMaps a pod's env names, read when asked. */
export interface EnvSources {
  secret(name: string): Promise<Record<string, string> | undefined>;
  configMap(name: string): Promise<Record<string, string> | undefined>;
}

/** The keys kubelet takes from `envFrom` (it skips, with an event, any that are not env names). */
const ENV_FROM_KEY = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

async function envFromSource(source: V1EnvFromSource, sources: EnvSources): Promise<Fields> {
  const ref = source.secretRef ?? source.configMapRef;
  if (!ref) return {};
  const kind = source.secretRef ? "secret" : "configmap";
  const name = ref.name ?? "";
  const data = await (source.secretRef ? sources.secret(name) : sources.configMap(name));
  if (!data) {
    if (ref.optional) return {};
    throw new MissingEnvSourceError(`${kind} "${name}" not found`);
  }
  const prefix = source.prefix ?? "";
  return Object.fromEntries(
    Object.entries(data)
      .map(([key, value]) => [`${prefix}${key}`, value] as const)
      .filter(([key]) => ENV_FROM_KEY.test(key)),
  );
}

/** One `env[].valueFrom` of a Secret's or ConfigMap's key; undefined when optional and absent. */
async function keyRefValue(
  variable: V1EnvVar,
  namespace: string,
  sources: EnvSources,
): Promise<string | undefined> {
  const ref = variable.valueFrom?.secretKeyRef ?? variable.valueFrom?.configMapKeyRef;
  if (!ref) return undefined;
  const isSecret = variable.valueFrom?.secretKeyRef !== undefined;
  const name = ref.name ?? "";
  const data = await (isSecret ? sources.secret(name) : sources.configMap(name));
  const value = data?.[ref.key];
  if (value !== undefined || ref.optional) return value;
  if (!data) throw new MissingEnvSourceError(`${isSecret ? "secret" : "configmap"} "${name}" not found`);
  throw new MissingEnvSourceError(
    `couldn't find key ${ref.key} in ${isSecret ? "Secret" : "ConfigMap"} ${namespace}/${name}`,
  );
}

/**
 * The container's env as kubelet makes it: `envFrom` sources in order, then `env` in order (later
 * names win), each `value` expanded against what is defined so far.
 */
export async function containerEnv(
  pod: V1Pod,
  container: V1Container,
  sources: EnvSources,
): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) Object.assign(env, await envFromSource(source, sources));
  const namespace = pod.metadata?.namespace ?? "default";
  for (const variable of container.env ?? []) {
    const field = variable.valueFrom?.fieldRef?.fieldPath;
    const value = field
      ? fieldValue(pod, field)
      : variable.valueFrom
        ? await keyRefValue(variable, namespace, sources)
        : expandKubernetesVars(variable.value ?? "", env);
    if (value !== undefined) env[variable.name] = value;
  }
  return env;
}

/** Secrets and ConfigMaps of one namespace read through the API, each once per env resolution. */
function apiEnvSources(core: CoreV1Api, namespace: string): EnvSources {
  const cache = new Map<string, Promise<Record<string, string> | undefined>>();
  const once = (key: string, read: () => Promise<Record<string, string> | undefined>) => {
    if (!cache.has(key)) cache.set(key, read());
    return cache.get(key) as Promise<Record<string, string> | undefined>;
  };
  const orUndefined = async <T>(call: Promise<T>): Promise<T | undefined> =>
    await call.catch((error: unknown) => {
      if (statusCode(error) === 404) return undefined;
      throw error;
    });
  return {
    secret: (name) =>
      once(`secret/${name}`, async () => {
        const secret = await orUndefined(core.readNamespacedSecret({ name, namespace }));
        if (!secret) return undefined;
        // The apiserver folds `stringData` into `data`, which is base64.
        return Object.fromEntries(
          Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]),
        );
      }),
    configMap: (name) =>
      once(`configmap/${name}`, async () => {
        const configMap = await orUndefined(core.readNamespacedConfigMap({ name, namespace }));
        return configMap ? { ...configMap.data } : undefined;
      }),
  };
}

/**
 * The container runtime's log format ("<time> <stream> F <line>"), which KWOK serves. Written once
 * the process has exited, so logs of a pod read through the apiserver are complete but not live.
 */
async function writeCriLog(rawLog: string, criLog: string, at: Date): Promise<void> {
  const raw = await readFile(rawLog, "utf8").catch(() => "");
  const lines = raw.split("\n");
  if (lines.at(-1) === "") lines.pop();
  await writeFile(criLog, lines.map((line) => `${at.toISOString()} stdout F ${line}\n`).join(""));
}

/** The container's status as kubelet reports it; running means started and ready. */
function containerStatus(container: V1Container, state: V1ContainerState): V1ContainerStatus {
  const running = state.running !== undefined;
  return {
    name: container.name,
    image: container.image ?? "",
    imageID: "",
    ready: running,
    restartCount: 0,
    started: running,
    state,
  };
}

function statusCode(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}

export async function startPodRunner(options: PodRunnerOptions): Promise<PodRunner> {
  const core = options.kubeConfig.makeApiClient(CoreV1Api);
  const custom = options.kubeConfig.makeApiClient(CustomObjectsApi);
  const logDir = await mkdtemp(join(tmpdir(), "daotrain-pods-"));
  const cwd = options.cwd ?? logDir;
  const processes = new Map<string, ManagedProcess>();
  const handled = new Set<string>();
  let stopping = false;

  /** Calls again while the apiserver is unreachable or shutting down (tests restart it), as a kubelet would. */
  const whileUnreachable = async <T>(call: () => Promise<T>): Promise<T> => {
    const deadline = Date.now() + 120_000;
    for (;;) {
      try {
        return await call();
      } catch (error) {
        const code = statusCode(error);
        if ((code !== undefined && code < 500) || stopping || Date.now() > deadline) throw error;
        await sleep(500);
      }
    }
  };

  /** Read-modify-write of the status subresource, again on conflicts; a deleted pod needs none. */
  const writeStatus = async (
    namespace: string,
    name: string,
    change: (status: V1PodStatus) => V1PodStatus,
  ) => {
    for (;;) {
      try {
        await whileUnreachable(async () => {
          const pod = await core.readNamespacedPod({ name, namespace });
          pod.status = change(pod.status ?? {});
          await core.replaceNamespacedPodStatus({ name, namespace, body: pod });
        });
        return;
      } catch (error) {
        const code = statusCode(error);
        if (code === 404 || stopping) return;
        if (code !== 409) throw error;
        await sleep(50);
      }
    }
  };

  /** Deleted, or being deleted; an unreachable apiserver is not an answer. */
  const podGone = async (namespace: string, name: string): Promise<boolean> => {
    try {
      return (await core.readNamespacedPod({ name, namespace })).metadata?.deletionTimestamp !== undefined;
    } catch (error) {
      return statusCode(error) === 404;
    }
  };

  /**
   * The container's env. While a Secret, ConfigMap or key it names is missing the pod stays
   * Pending with CreateContainerConfigError and this tries again, as kubelet does, until it
   * appears; undefined once the pod is deleted.
   */
  const awaitEnv = async (pod: V1Pod, container: V1Container) => {
    const namespace = pod.metadata?.namespace ?? "default";
    const name = pod.metadata?.name ?? "";
    let shown: string | undefined;
    for (;;) {
      try {
        return await containerEnv(pod, container, apiEnvSources(core, namespace));
      } catch (error) {
        if (error instanceof MissingEnvSourceError) {
          if (error.message !== shown) {
            shown = error.message;
            await writeStatus(namespace, name, (status) => ({
              ...status,
              phase: "Pending",
              containerStatuses: [
                containerStatus(container, {
                  waiting: { reason: "CreateContainerConfigError", message: error.message },
                }),
              ],
            }));
          }
        } else {
          // Anything but an unreachable apiserver (tests restart it) is a bug here.
          const code = statusCode(error);
          if (code !== undefined && code < 500) throw error;
        }
      }
      await sleep(500);
      if (stopping || (await podGone(namespace, name))) return undefined;
    }
  };

  const run = async (pod: V1Pod) => {
    const namespace = pod.metadata?.namespace ?? "default";
    const name = pod.metadata?.name ?? "";
    const key = `${namespace}/${name}`;
    const container = pod.spec?.containers[0];
    if (!container) return;
    const env = await awaitEnv(pod, container);
    if (!env) return;
    const argv = [...(container.command ?? []), ...(container.args ?? [])].map((a) =>
      expandKubernetesVars(a, env),
    );
    const startedAt = new Date();
    await writeStatus(namespace, name, (status) => ({
      ...status,
      phase: "Running",
      hostIP: "127.0.0.1",
      podIP: "127.0.0.1",
      podIPs: [{ ip: "127.0.0.1" }],
      startTime: startedAt,
      conditions: ["Initialized", "Ready", "ContainersReady", "PodScheduled"].map((type) => ({
        type,
        status: "True",
        lastTransitionTime: startedAt,
      })),
      containerStatuses: [containerStatus(container, { running: { startedAt } })],
    }));
    const [command, ...args] = argv;
    if (!command) return;
    const rawLog = join(logDir, `${namespace}_${name}.log`);
    const criLog = join(logDir, `${namespace}_${name}.cri.log`);
    await serveLogs(pod, container.name, criLog);
    // The process writes its own log file, so the file is complete the moment it exits.
    const child = startProcess({
      name: key,
      command: "/bin/sh",
      args: ["-c", 'exec "$@" >"$0" 2>&1', rawLog, command, ...args],
      cwd,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...options.env, ...env },
    });
    processes.set(key, child);
    const exitCode = await child.exited;
    processes.delete(key);
    if (stopping) return;
    const code = exitCode ?? 137;
    const ran = { pod: key, startedAt, finishedAt: new Date() };
    const { finishedAt, startedAt: reportedStart } = options.report ? await options.report(ran) : ran;
    await writeCriLog(rawLog, criLog, finishedAt);
    await writeStatus(namespace, name, (status) => ({
      ...status,
      phase: code === 0 ? "Succeeded" : "Failed",
      conditions: (status.conditions ?? []).map((c) =>
        c.type === "Ready" || c.type === "ContainersReady"
          ? { ...c, status: "False", lastTransitionTime: finishedAt }
          : c,
      ),
      containerStatuses: [
        containerStatus(container, {
          terminated: {
            exitCode: code,
            reason: code === 0 ? "Completed" : "Error",
            startedAt: reportedStart,
            finishedAt,
          },
        }),
      ],
    }));
  };

  /** Tells KWOK (which answers the apiserver's log requests) where this pod's log file is. */
  const serveLogs = async (pod: V1Pod, container: string, file: string) => {
    await writeFile(file, "");
    const { namespace = "default", name = "", uid = "" } = pod.metadata ?? {};
    const logs = {
      apiVersion: `${KWOK_LOGS.group}/${KWOK_LOGS.version}`,
      kind: "Logs",
      metadata: { name, namespace, ownerReferences: [{ apiVersion: "v1", kind: "Pod", name, uid }] },
      spec: { logs: [{ containers: [container], logsFile: file, follow: false }] },
    };
    await whileUnreachable(() =>
      custom.createNamespacedCustomObject({ ...KWOK_LOGS, namespace, body: logs }),
    ).catch((error: unknown) => {
      // Created by an earlier call whose answer the restart swallowed.
      if (statusCode(error) !== 409) throw error;
    });
    // KWOK takes the Logs object up asynchronously; until it has, the apiserver answers "no logs
    // found". A kubelet serves a container's logs from its start, so wait for that before starting.
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const served = await core.readNamespacedPodLog({ name, namespace, container }).then(
        () => true,
        () => false,
      );
      if (served) return;
      await sleep(50);
    }
  };

  /** Plays the kubelet's part of deletion: stop the process, then let the pod object go. */
  const remove = async (pod: V1Pod) => {
    const namespace = pod.metadata?.namespace ?? "default";
    const name = pod.metadata?.name ?? "";
    await processes.get(`${namespace}/${name}`)?.stop(2_000);
    try {
      await core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 });
    } catch (error) {
      if (statusCode(error) !== 404) throw error;
    }
  };

  const report = (what: string) => (error: unknown) => {
    if (!stopping)
      process.stderr.write(
        `pod runner: ${what}: ${error instanceof Error ? error.message : String(error)}\n`,
      );
  };

  const onPod = (pod: V1Pod) => {
    const key = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    if (!pod.spec?.nodeName || stopping) return;
    if (pod.metadata?.deletionTimestamp) {
      if (!handled.has(`delete:${key}`)) {
        handled.add(`delete:${key}`);
        void remove(pod).catch(report(`deleting ${key}`));
      }
      return;
    }
    const phase = pod.status?.phase;
    if (handled.has(key) || (phase !== undefined && phase !== "Pending")) return;
    handled.add(key);
    void run(pod).catch(report(`running ${key}`));
  };

  const informer = makeInformer<V1Pod>(
    options.kubeConfig,
    "/api/v1/pods",
    () => core.listPodForAllNamespaces({ labelSelector: JOB_POD_LABEL }),
    JOB_POD_LABEL,
  );
  informer.on("add", onPod);
  informer.on("update", onPod);
  informer.on("delete", (pod) => {
    void processes.get(`${pod.metadata?.namespace}/${pod.metadata?.name}`)?.stop(2_000);
  });
  informer.on("error", () => {
    // The apiserver went away for a moment (tests restart it): start over after a pause.
    if (!stopping) setTimeout(() => void informer.start().catch(report("restarting the pod watch")), 500);
  });
  await informer.start();

  return {
    logDir,
    started: () => [...handled].filter((k) => !k.startsWith("delete:")),
    async stop() {
      stopping = true;
      await informer.stop();
      await Promise.all([...processes.values()].map((p) => p.stop(2_000)));
      await rm(logDir, { recursive: true, force: true });
    },
  };
}
