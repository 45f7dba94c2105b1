import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import {
  ApiException,
  AuthorizationV1Api,
  type Cluster,
  CoreV1Api,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
  RbacAuthorizationV1Api,
  SchedulingV1Api,
  type V1ResourceAttributes,
} from "@kubernetes/client-node";
import { stringify } from "yaml";
import { z } from "zod";
import { parseWith } from "../../spec/errors.ts";
import { parseContributorKubeconfig, toKubeConfig } from "../kubeconfig.ts";
import {
  BundleOptions,
  contributorBundle,
  GPU_QUOTA,
  LEGACY_TOKEN_SECRET,
  nodeReaderName,
  SERVICE_ACCOUNT,
} from "./bundle.ts";

const FIELD_MANAGER = "daotrain";

export class OnboardError extends Error {
  override readonly name = "OnboardError";
}

/**
 * How long the orchestrator's token lives by default: 30 days. A stolen kubeconfig is good for no
 * longer (and `daotrain cluster token --rotate` ends every earlier token at once); a contributor
 * renews it before then with `daotrain cluster token`.
 */
export const DEFAULT_TOKEN_HOURS = 30 * 24;

const TokenHours = z
  .number()
  .int()
  .min(1, "must be at least 1 hour")
  .max(365 * 24, "must be at most a year (8760 hours)")
  .default(DEFAULT_TOKEN_HOURS);

const TokenOptions = z
  .object({
    namespace: BundleOptions.shape.namespace,
    tokenHours: TokenHours,
    /** Recreate the ServiceAccount first: every token issued before stops working at once. */
    rotate: z.boolean().default(false),
  })
  .strict();
type TokenOptions = z.infer<typeof TokenOptions>;

const OnboardOptions = BundleOptions.extend({ tokenHours: TokenHours }).strict();

export interface OrchestratorKubeconfig {
  /** A kubeconfig for the orchestrator's ServiceAccount: a bound token, the CA inline, the namespace. */
  serviceAccountKubeconfig: string;
  /** When its token stops working (ISO 8601); renew it before then with `daotrain cluster token`. */
  tokenExpiresAt: string;
}

export interface OnboardResult extends OrchestratorKubeconfig {
  namespace: string;
  gpus: number;
  /** "Kind/name" of each object applied, in order. */
  applied: string[];
}

/**
 * A kubeconfig the contributor runs daotrain's verbs with on their own machine (an admin's may
 * use `exec` or files: it is theirs); the orchestrator's is held to `k8s/kubeconfig.ts`.
 */
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

/** Server-side applies one object as daotrain's field manager. */
async function apply(objects: KubernetesObjectApi, object: KubernetesObject): Promise<void> {
  await objects.patch(object, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
}

/** Runs a delete that answers 404 when there is nothing to delete. */
async function deleteIfPresent(remove: () => Promise<unknown>): Promise<void> {
  await remove().catch((error: unknown) => {
    if ((error as { code?: number }).code !== 404) throw error;
  });
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
 * what changed, e.g. the GPU count), removes what earlier bundles granted and this one does not
 * (shared node capacity when withdrawn; the long-lived token Secret, which revokes its token), and
 * returns a kubeconfig for the orchestrator's account with a bound token good for `tokenHours`.
 */
export async function onboardContributor(adminKubeconfig: string, input: unknown): Promise<OnboardResult> {
  const { tokenHours, ...options } = parseWith(OnboardOptions, input, "contributor bundle options");
  const admin = loadKubeConfig(adminKubeconfig);
  if (options.priorityClass) await requirePriorityClass(admin, options.priorityClass);
  const objects = KubernetesObjectApi.makeApiClient(admin);
  const applied: string[] = [];
  for (const object of contributorBundle(options)) {
    await apply(objects, object);
    applied.push(`${object.kind}/${object.metadata?.name}`);
  }
  const { namespace } = options;
  if (!options.shareNodeCapacity) await withdrawNodeCapacity(admin, namespace);
  const core = admin.makeApiClient(CoreV1Api);
  await deleteIfPresent(() => core.deleteNamespacedSecret({ name: LEGACY_TOKEN_SECRET, namespace }));
  // Quota admission refuses GPU pods until the quota controller has computed the quota's usage.
  await waitFor(`ResourceQuota ${namespace}/${GPU_QUOTA} status`, async () => {
    const quota = await core.readNamespacedResourceQuota({ name: GPU_QUOTA, namespace });
    return quota.status?.hard?.["requests.nvidia.com/gpu"] === String(options.gpus) ? true : undefined;
  });
  const minted = await mintToken(admin, { namespace, tokenHours, rotate: false });
  return { namespace, gpus: options.gpus, applied, ...minted };
}

/**
 * A fresh kubeconfig for the orchestrator's ServiceAccount of an onboarded namespace (`daotrain
 * cluster token`): renews the token before it expires, or with `rotate` revokes every earlier one.
 */
export async function renewOrchestratorToken(
  adminKubeconfig: string,
  input: unknown,
): Promise<OrchestratorKubeconfig> {
  const options = parseWith(TokenOptions, input, "token options");
  return await mintToken(loadKubeConfig(adminKubeconfig), options);
}

/** A bound token of the orchestrator's ServiceAccount (TokenRequest), in a kubeconfig. */
async function mintToken(admin: KubeConfig, options: TokenOptions): Promise<OrchestratorKubeconfig> {
  const { namespace } = options;
  const core = admin.makeApiClient(CoreV1Api);
  if (options.rotate) await recreateServiceAccount(admin, namespace);
  const request = await core.createNamespacedServiceAccountToken({
    name: SERVICE_ACCOUNT,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: options.tokenHours * 3600 } },
  });
  const token = request.status?.token;
  const expires = request.status?.expirationTimestamp;
  if (!token || !expires)
    throw new OnboardError(`the apiserver issued no token for ${namespace}/${SERVICE_ACCOUNT}`);
  return {
    serviceAccountKubeconfig: await serviceAccountKubeconfig(admin, namespace, token),
    tokenExpiresAt: new Date(expires).toISOString(),
  };
}

/** Bound tokens name their account's uid, so an account made anew honours none issued before. */
async function recreateServiceAccount(admin: KubeConfig, namespace: string): Promise<void> {
  const core = admin.makeApiClient(CoreV1Api);
  const account = contributorBundle(parseWith(BundleOptions, { namespace, gpus: 0 }, "bundle options")).find(
    (object) => object.kind === "ServiceAccount",
  );
  if (!account) throw new OnboardError("the contributor bundle has no ServiceAccount");
  await deleteIfPresent(() => core.deleteNamespacedServiceAccount({ name: SERVICE_ACCOUNT, namespace }));
  await waitFor(`ServiceAccount ${namespace}/${SERVICE_ACCOUNT} deleted`, () =>
    core.readNamespacedServiceAccount({ name: SERVICE_ACCOUNT, namespace }).then(
      () => undefined,
      (error: { code?: number }) => (error.code === 404 ? true : undefined),
    ),
  );
  await apply(KubernetesObjectApi.makeApiClient(admin), account);
}

/** A contributor who shared node capacity before and no longer does: the grant goes. */
async function withdrawNodeCapacity(admin: KubeConfig, namespace: string): Promise<void> {
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  const name = nodeReaderName(namespace);
  await deleteIfPresent(() => rbac.deleteClusterRoleBinding({ name }));
  await deleteIfPresent(() => rbac.deleteClusterRole({ name }));
}

/** The apiserver's CA as base64 PEM, copied from the file when the admin kubeconfig names one. */
async function caDataOf(cluster: Cluster): Promise<string | undefined> {
  if (cluster.caData) return cluster.caData;
  if (!cluster.caFile) return undefined;
  try {
    return (await readFile(cluster.caFile)).toString("base64");
  } catch (error) {
    throw new OnboardError(
      `cannot read the admin kubeconfig's certificate-authority ${cluster.caFile}: ${(error as Error).message}`,
    );
  }
}

/**
 * The orchestrator's kubeconfig, exactly what the worker accepts (`k8s/kubeconfig.ts`) and checked
 * with the worker's own parser before it is written: one https server, its CA inline, one token.
 */
async function serviceAccountKubeconfig(
  admin: KubeConfig,
  namespace: string,
  token: string,
): Promise<string> {
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new OnboardError("admin kubeconfig has no current cluster");
  if (cluster.skipTLSVerify)
    throw new OnboardError(
      "the admin kubeconfig skips TLS verification (insecure-skip-tls-verify), and the orchestrator's must verify the apiserver: give the cluster's certificate-authority",
    );
  if (cluster.proxyUrl)
    throw new OnboardError(
      "the admin kubeconfig reaches the apiserver through a proxy (proxy-url); the orchestrator's must reach it directly",
    );
  const caData = await caDataOf(cluster);
  const name = `${cluster.name}-${namespace}`;
  const user = `${namespace}-${SERVICE_ACCOUNT}`;
  const text = stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: cluster.name,
        cluster: {
          server: cluster.server,
          ...(caData ? { "certificate-authority-data": caData } : {}),
          ...(cluster.tlsServerName ? { "tls-server-name": cluster.tlsServerName } : {}),
        },
      },
    ],
    users: [{ name: user, user: { token } }],
    contexts: [{ name, context: { cluster: cluster.name, user, namespace } }],
    "current-context": name,
  });
  try {
    parseContributorKubeconfig(text, "the orchestrator's kubeconfig");
  } catch (error) {
    throw new OnboardError(`${(error as Error).message}; fix the admin kubeconfig's cluster entry`);
  }
  return text;
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
    forbidden("read Secrets in its namespace", { namespace, resource: "secrets", verb: "get" }),
    forbidden("write ConfigMaps in its namespace", { namespace, resource: "configmaps", verb: "create" }),
    forbidden("mint ServiceAccount tokens", {
      namespace,
      resource: "serviceaccounts",
      subresource: "token",
      verb: "create",
    }),
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

/**
 * Asks the apiserver's own authorizer (SelfSubjectAccessReview) about each expectation, with the
 * kubeconfig read as the worker reads it (a kubeconfig the worker would refuse is refused here).
 */
export async function checkAccess(kubeconfig: string, namespace?: string): Promise<AccessCheck[]> {
  const config = toKubeConfig(parseContributorKubeconfig(kubeconfig));
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
