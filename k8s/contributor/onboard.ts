import { setTimeout as sleep } from "node:timers/promises";
import {
  ApiException,
  AuthorizationV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  RbacAuthorizationV1Api,
  SchedulingV1Api,
  type V1ResourceAttributes,
} from "@kubernetes/client-node";
import { stringify } from "yaml";
import {
  type BundleOptions,
  contributorBundle,
  GPU_QUOTA,
  nodeReaderName,
  parseBundleOptions,
  SERVICE_ACCOUNT,
  TOKEN_SECRET,
} from "./bundle.ts";

const FIELD_MANAGER = "daotrain";

export class OnboardError extends Error {
  override readonly name = "OnboardError";
}

export interface OnboardResult {
  namespace: string;
  gpus: number;
  /** "Kind/name" of each object applied, in order. */
  applied: string[];
  /** A kubeconfig for the orchestrator's ServiceAccount (bearer token), namespace in its context. */
  serviceAccountKubeconfig: string;
}

export function loadKubeConfig(yamlText: string): KubeConfig {
  const config = new KubeConfig();
  config.loadFromString(yamlText);
  if (!config.getCurrentCluster())
    throw new OnboardError("kubeconfig has no current cluster; set current-context");
  return config;
}

/** Polls `probe` until it yields a value; fails naming `what` after `timeoutMs`. */
async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await sleep(200);
  }
  throw new OnboardError(
    `${what} did not happen within ${timeoutMs / 1000} s; is kube-controller-manager running?`,
  );
}

/** The owner's own PriorityClass must exist: a quota naming a missing one would admit no pod. */
async function requirePriorityClass(admin: KubeConfig, name: string): Promise<void> {
  try {
    await admin.makeApiClient(SchedulingV1Api).readPriorityClass({ name });
  } catch (error) {
    if (error instanceof ApiException && error.code === 404)
      throw new OnboardError(
        `PriorityClass "${name}" does not exist; create it (below your own workloads' priority) or leave out --priority-class for daotrain-low`,
      );
    throw error;
  }
}

/**
 * Applies the contributor bundle with server-side apply (running it again changes nothing but
 * what changed, e.g. the GPU count) and returns a kubeconfig for the orchestrator's account.
 */
export async function onboardContributor(adminKubeconfig: string, input: unknown): Promise<OnboardResult> {
  const options: BundleOptions = parseBundleOptions(input);
  const admin = loadKubeConfig(adminKubeconfig);
  if (options.priorityClass) await requirePriorityClass(admin, options.priorityClass);
  const objects = KubernetesObjectApi.makeApiClient(admin);
  const applied: string[] = [];
  for (const object of contributorBundle(options)) {
    await objects.patch(object, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
    applied.push(`${object.kind}/${object.metadata?.name}`);
  }
  const { namespace } = options;
  if (!options.shareNodeCapacity) await withdrawNodeCapacity(admin, namespace);
  const core = admin.makeApiClient(CoreV1Api);
  const token = await waitFor(
    `the token controller filling Secret ${namespace}/${TOKEN_SECRET}`,
    async () => {
      const secret = await core.readNamespacedSecret({ name: TOKEN_SECRET, namespace });
      const value = secret.data?.token;
      return value ? Buffer.from(value, "base64").toString("utf8") : undefined;
    },
  );
  // Quota admission refuses GPU pods until the quota controller has computed the quota's usage.
  await waitFor(`ResourceQuota ${namespace}/${GPU_QUOTA} status`, async () => {
    const quota = await core.readNamespacedResourceQuota({ name: GPU_QUOTA, namespace });
    return quota.status?.hard?.["requests.nvidia.com/gpu"] === String(options.gpus) ? true : undefined;
  });
  return {
    namespace,
    gpus: options.gpus,
    applied,
    serviceAccountKubeconfig: serviceAccountKubeconfig(admin, namespace, token),
  };
}

/** A contributor who shared node capacity before and no longer does: the grant goes. */
async function withdrawNodeCapacity(admin: KubeConfig, namespace: string): Promise<void> {
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  const name = nodeReaderName(namespace);
  const absent = (error: unknown) => {
    if ((error as { code?: number }).code !== 404) throw error;
  };
  await rbac.deleteClusterRoleBinding({ name }).catch(absent);
  await rbac.deleteClusterRole({ name }).catch(absent);
}

function serviceAccountKubeconfig(admin: KubeConfig, namespace: string, token: string): string {
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new OnboardError("admin kubeconfig has no current cluster");
  const name = `${cluster.name}-${namespace}`;
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: cluster.name,
        cluster: {
          server: cluster.server,
          ...(cluster.caData ? { "certificate-authority-data": cluster.caData } : {}),
          ...(cluster.skipTLSVerify ? { "insecure-skip-tls-verify": true } : {}),
        },
      },
    ],
    users: [{ name: `${namespace}-${SERVICE_ACCOUNT}`, user: { token } }],
    contexts: [
      { name, context: { cluster: cluster.name, user: `${namespace}-${SERVICE_ACCOUNT}`, namespace } },
    ],
    "current-context": name,
  });
}

/**
 * One thing the orchestrator should, or must not, be able to do with the contributor's kubeconfig;
 * "either" is the contributor's choice (sharing node capacity), reported but never a failure.
 */
export interface AccessExpectation {
  description: string;
  attributes: V1ResourceAttributes;
  expected: "allowed" | "forbidden" | "either";
}

export interface AccessCheck extends AccessExpectation {
  actual: "allowed" | "forbidden";
  ok: boolean;
  reason?: string;
}

export function accessExpectations(namespace: string): AccessExpectation[] {
  const allowed = (description: string, attributes: V1ResourceAttributes): AccessExpectation => ({
    description,
    attributes: { namespace, ...attributes },
    expected: "allowed",
  });
  const forbidden = (description: string, attributes: V1ResourceAttributes): AccessExpectation => ({
    description,
    attributes,
    expected: "forbidden",
  });
  return [
    allowed("create Jobs in its namespace", { group: "batch", resource: "jobs", verb: "create" }),
    allowed("delete Jobs in its namespace", { group: "batch", resource: "jobs", verb: "delete" }),
    allowed("watch Pods in its namespace", { resource: "pods", verb: "watch" }),
    allowed("read Pod logs in its namespace", { resource: "pods", subresource: "log", verb: "get" }),
    allowed("create Services in its namespace", { resource: "services", verb: "create" }),
    allowed("create Secrets in its namespace", { resource: "secrets", verb: "create" }),
    allowed("read its ResourceQuota", { resource: "resourcequotas", verb: "list" }),
    {
      description: "read Nodes (node capacity, if the contributor shares it)",
      attributes: { resource: "nodes", verb: "list" },
      expected: "either",
    },
    forbidden("list Secrets in kube-system", { namespace: "kube-system", resource: "secrets", verb: "list" }),
    forbidden("create Jobs in another namespace", {
      namespace: "default",
      group: "batch",
      resource: "jobs",
      verb: "create",
    }),
    forbidden("create ClusterRoles", {
      group: "rbac.authorization.k8s.io",
      resource: "clusterroles",
      verb: "create",
    }),
    forbidden("bind Roles in its namespace", {
      namespace,
      group: "rbac.authorization.k8s.io",
      resource: "rolebindings",
      verb: "create",
    }),
    forbidden("change its ResourceQuota", { namespace, resource: "resourcequotas", verb: "update" }),
    forbidden("exec into Pods", { namespace, resource: "pods", subresource: "exec", verb: "create" }),
    forbidden("create Namespaces", { resource: "namespaces", verb: "create" }),
    forbidden("delete Nodes", { resource: "nodes", verb: "delete" }),
  ];
}

/** Asks the apiserver's own authorizer (SelfSubjectAccessReview) about each expectation. */
export async function checkAccess(kubeconfig: string, namespace?: string): Promise<AccessCheck[]> {
  const config = loadKubeConfig(kubeconfig);
  const ns = namespace ?? config.getContextObject(config.getCurrentContext())?.namespace;
  if (!ns) throw new OnboardError("the kubeconfig's context names no namespace; pass --namespace");
  const authz = config.makeApiClient(AuthorizationV1Api);
  return await Promise.all(
    accessExpectations(ns).map(async (expectation): Promise<AccessCheck> => {
      const review = await authz.createSelfSubjectAccessReview({
        body: { spec: { resourceAttributes: expectation.attributes } },
      });
      const actual = review.status?.allowed ? "allowed" : "forbidden";
      const reason = review.status?.reason || review.status?.evaluationError;
      const ok = expectation.expected === "either" || actual === expectation.expected;
      return { ...expectation, actual, ok, ...(reason ? { reason } : {}) };
    }),
  );
}
