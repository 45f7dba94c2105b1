import type { V1EnvFromSource, V1EnvVar, V1Job, V1Secret, V1Service } from "@kubernetes/client-node";
import { trainerEnvVars } from "../spec/trainerContract.ts";
import { type RoundJobSpec, roundName } from "./cluster.ts";

/** Labels and annotations by which the client finds and reads back a round's objects. */
export const ROUND_LABEL = "daotrain.io/round-name";
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const RUN_ID_ANNOTATION = "daotrain.io/run-id";
/** The global replica index of each completion index, comma-separated, in index order. */
export const REPLICAS_ANNOTATION = "daotrain.io/replicas";
export const GPU_RESOURCE = "nvidia.com/gpu";
export const GPU_PRODUCT_LABEL = "nvidia.com/gpu.product";
/** The label by which Kueue puts a Job in a LocalQueue (it then unsuspends it when admitted). */
export const QUEUE_LABEL = "kueue.x-k8s.io/queue-name";
export const TRAINER_CONTAINER = "trainer";
/** The port the headless Service names for rendezvous (torchrun's default master port). */
export const RENDEZVOUS_PORT = 29500;
/** Non-root identity of the trainer container (the distroless "nonroot" user). */
const TRAINER_UID = 65532;

/**
 * Indexed Jobs share one pod template, but the trainer contract gives each replica literal values
 * (DAOTRAIN_REPLICA, DAOTRAIN_SHARDS, DAOTRAIN_OUTPUT_URI). The template carries each varying value
 * as `<KEY>__<index>` and this POSIX sh prologue exports the one of the pod's completion index,
 * then execs the trainer, so the trainer sees exactly the contract. Values are never re-parsed by
 * the shell: `eval` only sees variable names.
 */
export const PER_INDEX_KEYS_VAR = "DAOTRAIN_PER_INDEX_KEYS";
const PER_INDEX_PROLOGUE =
  `for key in $${PER_INDEX_KEYS_VAR}; do eval "export $key=\\"\\\${\${key}__$JOB_COMPLETION_INDEX}\\""; done; ` +
  'exec "$@"';

export interface BuiltRound {
  name: string;
  job: V1Job;
  service: V1Service;
  /** The run store's env for the trainer (`spec.storeEnv`); absent when there is none. */
  storeSecret: V1Secret | undefined;
}

/** The deterministic name of the Secret holding a round's `storeEnv`. */
export function storeSecretName(round: string): string {
  return `${round}-store`;
}

/** The labels of a Job named `name` of round `round` and of everything it owns. */
export function jobLabels(name: string, round: number): Record<string, string> {
  return {
    [ROUND_LABEL]: name,
    [MANAGED_BY_LABEL]: "daotrain",
    "daotrain.io/round": String(round),
  };
}

/**
 * The Secret whose keys become the pods' run-store env (through `envFrom`), so that the values
 * are readable only by who may read Secrets, not by everyone who may read Jobs. Pure; undefined
 * when there is no `storeEnv`.
 */
export function buildStoreSecret(
  name: string,
  labels: Record<string, string>,
  storeEnv: Record<string, string>,
  namespace: string,
): V1Secret | undefined {
  if (Object.keys(storeEnv).length === 0) return undefined;
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "Opaque",
    metadata: { name: storeSecretName(name), namespace, labels },
    stringData: { ...storeEnv },
  };
}

/** The trainer contract's env of each replica, in the spec's replica order. */
export function replicaEnvs(spec: RoundJobSpec): Record<string, string>[] {
  return spec.replicas.map((replica) =>
    trainerEnvVars({
      DAOTRAIN_RUN_ID: spec.runId,
      DAOTRAIN_ROUND: spec.round,
      DAOTRAIN_REPLICA: replica.replica,
      DAOTRAIN_REPLICAS: spec.totalReplicas,
      DAOTRAIN_INIT_URI: spec.initUri,
      DAOTRAIN_INIT_ROOT: spec.initRoot,
      DAOTRAIN_DATASET_URI: spec.datasetUri,
      DAOTRAIN_DATASET_ROOT: spec.datasetRoot,
      DAOTRAIN_SHARDS: replica.shards.join(","),
      DAOTRAIN_INNER_STEPS: spec.innerSteps,
      DAOTRAIN_SEED: spec.seed,
      DAOTRAIN_OUTPUT_URI: replica.outputUri,
    }),
  );
}

/** Shared values as plain env; values that differ between replicas as `<KEY>__<index>`. */
function templateEnv(envs: Record<string, string>[]): V1EnvVar[] {
  const first = envs[0] ?? {};
  const keys = Object.keys(first);
  const varying = keys.filter((key) => envs.some((env) => env[key] !== first[key]));
  const shared: V1EnvVar[] = keys
    .filter((key) => !varying.includes(key))
    .map((key) => ({ name: key, value: first[key] }));
  const perIndex: V1EnvVar[] = varying.flatMap((key) =>
    envs.map((env, index) => ({ name: `${key}__${index}`, value: env[key] })),
  );
  return [...shared, ...perIndex, { name: PER_INDEX_KEYS_VAR, value: varying.join(" ") }];
}

/** Kubernetes expands `$(VAR)` in command and args; a trainer argument must reach it verbatim. */
function escapeExpansion(arg: string): string {
  return arg.replaceAll("$(", () => "$$(");
}

/** What an Indexed Job of daotrain's is made of: one pod per entry of `envs`, all alike but their env. */
export interface IndexedJobParts {
  name: string;
  labels: Record<string, string>;
  /** The global replica index each completion index stands for (REPLICAS_ANNOTATION). */
  replicas: readonly number[];
  /** Each pod's contract env, in completion-index order. */
  envs: Record<string, string>[];
  /** Where this Job's pods land: GPUs per pod (none: no GPU request), and the product asked for. */
  gpus: number;
  gpuProduct?: string | undefined;
  /** Whether the pods share a headless Service for rendezvous (the trainers' `subdomain`). */
  rendezvous: boolean;
  spec: Pick<
    RoundJobSpec,
    | "runId"
    | "image"
    | "command"
    | "cpu"
    | "memory"
    | "ephemeralStorage"
    | "queue"
    | "priorityClassName"
    | "backoffLimitPerIndex"
    | "activeDeadlineSeconds"
    | "ttlSecondsAfterFinished"
  >;
  /** The Secret the pods take their run-store env from (`envFrom`), when there is one. */
  storeSecret: V1Secret | undefined;
}

/**
 * An Indexed Job of daotrain's: one locked-down pod per index (non-root, no privilege escalation,
 * read-only root, RuntimeDefault seccomp, no ServiceAccount token), the spec's cpu, memory,
 * ephemeral storage and GPUs as requests = limits, `/tmp` an emptyDir capped at the ephemeral
 * storage, the GPU taint tolerated, deadline, per-index backoff and TTL. Pure.
 */
export function indexedJob(parts: IndexedJobParts, namespace: string): V1Job {
  const { name, labels, spec, storeSecret } = parts;
  // Not optional: kubelet holds a pod whose Secret is missing (CreateContainerConfigError).
  const envFrom: V1EnvFromSource[] = storeSecret ? [{ secretRef: { name: storeSecretName(name) } }] : [];
  const gpus: Record<string, string> = parts.gpus > 0 ? { [GPU_RESOURCE]: String(parts.gpus) } : {};
  const resources = {
    cpu: spec.cpu,
    memory: spec.memory,
    "ephemeral-storage": spec.ephemeralStorage,
    ...gpus,
  };
  const count = parts.envs.length;
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name,
      namespace,
      labels: spec.queue ? { ...labels, [QUEUE_LABEL]: spec.queue } : labels,
      annotations: {
        [RUN_ID_ANNOTATION]: spec.runId,
        [REPLICAS_ANNOTATION]: parts.replicas.join(","),
      },
    },
    spec: {
      // Queued Jobs start suspended: Kueue admits them when the contributor's quota allows.
      ...(spec.queue ? { suspend: true } : {}),
      completionMode: "Indexed",
      completions: count,
      parallelism: count,
      backoffLimitPerIndex: spec.backoffLimitPerIndex,
      activeDeadlineSeconds: spec.activeDeadlineSeconds,
      ttlSecondsAfterFinished: spec.ttlSecondsAfterFinished,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: "Never",
          ...(parts.rendezvous ? { subdomain: name } : {}),
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: TRAINER_UID,
            runAsGroup: TRAINER_UID,
            fsGroup: TRAINER_UID,
            seccompProfile: { type: "RuntimeDefault" },
          },
          tolerations: [{ key: GPU_RESOURCE, operator: "Exists", effect: "NoSchedule" }],
          ...(parts.gpuProduct ? { nodeSelector: { [GPU_PRODUCT_LABEL]: parts.gpuProduct } } : {}),
          ...(spec.priorityClassName ? { priorityClassName: spec.priorityClassName } : {}),
          containers: [
            {
              name: TRAINER_CONTAINER,
              image: spec.image,
              command: [
                "/bin/sh",
                "-c",
                PER_INDEX_PROLOGUE,
                "daotrain-replica",
                ...spec.command.map(escapeExpansion),
              ],
              ...(envFrom.length > 0 ? { envFrom } : {}),
              env: templateEnv(parts.envs),
              resources: { requests: resources, limits: resources },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                capabilities: { drop: ["ALL"] },
                seccompProfile: { type: "RuntimeDefault" },
              },
              volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
            },
          ],
          // The staged inputs and the output live here: bounded, so a pod cannot fill the node.
          volumes: [{ name: "tmp", emptyDir: { sizeLimit: spec.ephemeralStorage } }],
        },
      },
    },
  };
}

/**
 * The Indexed Job (one pod per replica) and the headless Service for one round on one cluster.
 * Pure: the same spec always gives the same objects, which is what makes launch idempotent.
 */
export function buildRoundJob(spec: RoundJobSpec, namespace: string): BuiltRound {
  const name = roundName(spec);
  const labels = jobLabels(name, spec.round);
  const storeSecret = buildStoreSecret(name, labels, spec.storeEnv, namespace);
  const job = indexedJob(
    {
      name,
      labels,
      replicas: spec.replicas.map((r) => r.replica),
      envs: replicaEnvs(spec),
      gpus: spec.gpusPerReplica,
      gpuProduct: spec.gpuProduct,
      rendezvous: true,
      spec,
      storeSecret,
    },
    namespace,
  );
  const service: V1Service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace, labels },
    spec: {
      clusterIP: "None",
      publishNotReadyAddresses: true,
      selector: { [ROUND_LABEL]: name },
      ports: [{ name: "rendezvous", port: RENDEZVOUS_PORT }],
    },
  };
  return { name, job, service, storeSecret };
}
