import type {
  KubernetesObject,
  V1ClusterRole,
  V1ClusterRoleBinding,
  V1LimitRange,
  V1Namespace,
  V1NetworkPolicy,
  V1PriorityClass,
  V1ResourceQuota,
  V1Role,
  V1RoleBinding,
  V1Secret,
  V1ServiceAccount,
} from "@kubernetes/client-node";
import { z } from "zod";
import { parseWith } from "../../spec/errors.ts";
import { MANAGED_BY_LABEL } from "../roundJob.ts";

/**
 * The contributor bundle: everything a cluster owner grants daotrain, and nothing more. The
 * orchestrator's ServiceAccount may run Jobs and read their pods and logs in one namespace, capped
 * by a ResourceQuota on `requests.nvidia.com/gpu` (the donation), and nothing cluster-wide. A
 * contributor may choose to share node capacity (read Nodes: names, labels, allocatable GPUs),
 * so that rounds are placed only where GPUs are free now, not just within the quota.
 */
export const BundleOptions = z
  .object({
    namespace: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "must be a DNS label (lowercase letters, digits, '-')")
      .default("daotrain"),
    gpus: z.number().int().min(0).max(100_000),
    /** TCP ports trainers may reach outside the cluster (object store, dataset mirrors). */
    egressPorts: z.array(z.number().int().min(1).max(65_535)).default([443]),
    /** Grant the one cluster-scoped read, of Nodes; without it capacity is the quota's headroom. */
    shareNodeCapacity: z.boolean().default(false),
    /**
     * The PriorityClass daotrain's pods must run at: one of the owner's (which onboarding checks
     * exists), or by default `daotrain-low`, which the bundle creates below every default priority
     * and unable to preempt. Either way the owner's own higher-priority pods preempt daotrain's.
     */
    priorityClass: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, "must be a PriorityClass name (a DNS subdomain)")
      .refine(
        (name) => !name.startsWith("system-"),
        "must not be a system- class, which only kube-system may use",
      )
      .optional(),
  })
  .strict();
export type BundleOptions = z.infer<typeof BundleOptions>;

export const SERVICE_ACCOUNT = "daotrain-orchestrator";
/** The long-lived token the orchestrator's kubeconfig carries; deleting it revokes access. */
export const TOKEN_SECRET = "daotrain-orchestrator-token";
export const GPU_QUOTA = "daotrain-gpus";
/** The PriorityClass the bundle creates when the owner names none of theirs. */
export const DEFAULT_PRIORITY_CLASS = "daotrain-low";
/** Below every pod that names no class (priority 0), so any of the owner's preempts daotrain's. */
const DEFAULT_PRIORITY_VALUE = -1000;
/**
 * The ResourceQuota that admits no pod in the namespace unless it runs at the bundle's
 * PriorityClass: the cluster enforces the owner's first call, whatever a Job asks. The
 * orchestrator reads the class from it (`KubernetesCluster.launchRound`).
 */
export const PRIORITY_QUOTA = "daotrain-priority";
const ROLE = "daotrain-orchestrator";
const NODE_READER = "daotrain-node-reader";

/** The ClusterRole and its binding that share node capacity, one pair per contributor namespace. */
export function nodeReaderName(namespace: string): string {
  return `${NODE_READER}-${namespace}`;
}

const labels = { [MANAGED_BY_LABEL]: "daotrain" };

export function parseBundleOptions(input: unknown): BundleOptions {
  return parseWith(BundleOptions, input, "contributor bundle options");
}

/** The bundle's objects in apply order (namespace first, the token Secret after its account). */
export function contributorBundle(options: BundleOptions): KubernetesObject[] {
  const { namespace } = options;
  const meta = (name: string) => ({ name, namespace, labels });
  const ns: V1Namespace = {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: namespace,
      labels: {
        ...labels,
        // Pod Security Admission: the namespace only admits pods as locked down as the trainer's.
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
      },
    },
  };
  const account: V1ServiceAccount = {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: meta(SERVICE_ACCOUNT),
    automountServiceAccountToken: false,
  };
  const token: V1Secret = {
    apiVersion: "v1",
    kind: "Secret",
    type: "kubernetes.io/service-account-token",
    metadata: {
      ...meta(TOKEN_SECRET),
      annotations: { "kubernetes.io/service-account.name": SERVICE_ACCOUNT },
    },
  };
  const rw = ["get", "list", "watch", "create", "update", "patch", "delete"];
  const read = ["get", "list", "watch"];
  const role: V1Role = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: meta(ROLE),
    rules: [
      { apiGroups: ["batch"], resources: ["jobs"], verbs: rw },
      { apiGroups: [""], resources: ["pods"], verbs: read },
      { apiGroups: [""], resources: ["pods/log"], verbs: ["get"] },
      // Secrets and ConfigMaps: the namespace is daotrain's own, so "those it creates" are all there are.
      { apiGroups: [""], resources: ["services", "configmaps", "secrets"], verbs: rw },
      { apiGroups: [""], resources: ["resourcequotas", "limitranges", "events"], verbs: read },
    ],
  };
  const binding: V1RoleBinding = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: meta(ROLE),
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: ROLE },
    subjects: [{ kind: "ServiceAccount", name: SERVICE_ACCOUNT, namespace }],
  };
  const nodeReader: V1ClusterRole = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: { name: nodeReaderName(namespace), labels },
    rules: [{ apiGroups: [""], resources: ["nodes"], verbs: read }],
  };
  const nodeReaderBinding: V1ClusterRoleBinding = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name: nodeReaderName(namespace), labels },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: nodeReaderName(namespace) },
    subjects: [{ kind: "ServiceAccount", name: SERVICE_ACCOUNT, namespace }],
  };
  const quota: V1ResourceQuota = {
    apiVersion: "v1",
    kind: "ResourceQuota",
    metadata: meta(GPU_QUOTA),
    spec: { hard: { "requests.nvidia.com/gpu": String(options.gpus) } },
  };
  const limits: V1LimitRange = {
    apiVersion: "v1",
    kind: "LimitRange",
    metadata: meta("daotrain-defaults"),
    spec: {
      limits: [
        {
          type: "Container",
          defaultRequest: { cpu: "500m", memory: "1Gi" },
          _default: { cpu: "2", memory: "4Gi" },
        },
      ],
    },
  };
  const denyAll: V1NetworkPolicy = {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: meta("default-deny"),
    spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
  };
  const trainer: V1NetworkPolicy = {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: meta("daotrain-trainer"),
    spec: {
      podSelector: { matchLabels: labels },
      policyTypes: ["Ingress", "Egress"],
      // Replicas of one round rendezvous with each other and with nothing else.
      ingress: [{ _from: [{ podSelector: { matchLabels: labels } }] }],
      egress: [
        { to: [{ podSelector: { matchLabels: labels } }] },
        {
          ports: [
            { protocol: "UDP", port: 53 },
            { protocol: "TCP", port: 53 },
          ],
        },
        { ports: options.egressPorts.map((port) => ({ protocol: "TCP", port })) },
      ],
    },
  };
  const priorityClass = options.priorityClass ?? DEFAULT_PRIORITY_CLASS;
  const lowPriority: V1PriorityClass = {
    apiVersion: "scheduling.k8s.io/v1",
    kind: "PriorityClass",
    metadata: { name: DEFAULT_PRIORITY_CLASS, labels },
    value: DEFAULT_PRIORITY_VALUE,
    preemptionPolicy: "Never",
    globalDefault: false,
    description: "daotrain's contributed-GPU pods: any pod of the owner preempts them, they preempt none",
  };
  const priorityOnly: V1ResourceQuota = {
    apiVersion: "v1",
    kind: "ResourceQuota",
    metadata: meta(PRIORITY_QUOTA),
    spec: {
      hard: { pods: "0" },
      scopeSelector: {
        matchExpressions: [{ scopeName: "PriorityClass", operator: "NotIn", values: [priorityClass] }],
      },
    },
  };
  const nodeCapacity = options.shareNodeCapacity ? [nodeReader, nodeReaderBinding] : [];
  const ownClass = options.priorityClass === undefined ? [lowPriority] : [];
  return [
    ns,
    account,
    token,
    role,
    binding,
    ...nodeCapacity,
    ...ownClass,
    quota,
    priorityOnly,
    limits,
    denyAll,
    trainer,
  ];
}
