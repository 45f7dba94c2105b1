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
  V1ServiceAccount,
  V1ValidatingAdmissionPolicy,
  V1ValidatingAdmissionPolicyBinding,
} from "@kubernetes/client-node";
import { z } from "zod";
import { MANAGED_BY_LABEL } from "../roundJob.ts";

/**
 * The contributor bundle: everything a cluster owner grants daotrain, and nothing more. The
 * orchestrator's ServiceAccount may run Jobs and read their pods and logs in one namespace, capped
 * by a ResourceQuota on `requests.nvidia.com/gpu` (the donation), and nothing cluster-wide. It may
 * write Secrets and Services (a round's store keys, its rendezvous Service) but read no Secret, and
 * an admission policy lets it create, change or delete only Secrets and Services labelled as
 * daotrain's (Opaque Secrets only), so it cannot touch what the contributor keeps there. Its
 * credentials are bound, expiring tokens (`onboard.ts`), never a long-lived token Secret. A
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
/**
 * The long-lived token Secret earlier bundles made; onboarding deletes it where it is left, which
 * revokes the token it held.
 */
export const LEGACY_TOKEN_SECRET = "daotrain-orchestrator-token";
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
const WRITES_POLICY = "daotrain-orchestrator-writes";

/** The ClusterRole and its binding that share node capacity, one pair per contributor namespace. */
export function nodeReaderName(namespace: string): string {
  return `${NODE_READER}-${namespace}`;
}

/** The admission policy (and its binding) that bounds the orchestrator's writes in one namespace. */
export function writesPolicyName(namespace: string): string {
  return `${WRITES_POLICY}-${namespace}`;
}

const labels = { [MANAGED_BY_LABEL]: "daotrain" };

/** The bundle's objects in apply order (namespace first). */
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
      // A round's rendezvous Service, created and deleted with the round.
      { apiGroups: [""], resources: ["services"], verbs: ["create", "delete"] },
      // A round's store-key Secret, server-side applied (create + patch) and deleted; never read.
      // The admission policy below limits these writes to daotrain's own Opaque Secrets.
      { apiGroups: [""], resources: ["secrets"], verbs: ["create", "patch", "delete"] },
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
    role,
    binding,
    ...nodeCapacity,
    ...orchestratorWritesPolicy(namespace),
    ...ownClass,
    quota,
    priorityOnly,
    limits,
    denyAll,
    trainer,
  ];
}

/**
 * RBAC cannot say "only the objects daotrain created" (`resourceNames` cannot name objects made
 * later), so admission does: every create, change or delete of a Secret or Service by the
 * orchestrator's ServiceAccount in its namespace must be of an object labelled
 * `app.kubernetes.io/managed-by: daotrain`, before and after, and a Secret must be Opaque (not a
 * token Secret that would mint credentials for another account). ValidatingAdmissionPolicy is GA
 * since Kubernetes 1.30 and evaluated by the apiserver itself, so it cannot be skipped.
 */
function orchestratorWritesPolicy(
  namespace: string,
): [V1ValidatingAdmissionPolicy, V1ValidatingAdmissionPolicyBinding] {
  const name = writesPolicyName(namespace);
  const label = `'${MANAGED_BY_LABEL}'`;
  const ours = (o: string) =>
    `has(${o}.metadata.labels) && ${label} in ${o}.metadata.labels && ${o}.metadata.labels[${label}] == 'daotrain'`;
  const policy: V1ValidatingAdmissionPolicy = {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingAdmissionPolicy",
    metadata: { name, labels },
    spec: {
      failurePolicy: "Fail",
      matchConstraints: {
        resourceRules: [
          {
            apiGroups: [""],
            apiVersions: ["v1"],
            operations: ["CREATE", "UPDATE", "DELETE"],
            resources: ["secrets", "services"],
          },
        ],
      },
      matchConditions: [
        {
          name: "the-orchestrator",
          expression: `request.userInfo.username == 'system:serviceaccount:${namespace}:${SERVICE_ACCOUNT}'`,
        },
      ],
      validations: [
        {
          expression: `request.operation == 'DELETE' || (${ours("object")})`,
          message: `the daotrain orchestrator may only write objects labelled ${MANAGED_BY_LABEL}=daotrain`,
        },
        {
          expression: `request.operation == 'CREATE' || (${ours("oldObject")})`,
          message: "the daotrain orchestrator may only change or delete the objects it created",
        },
        {
          expression:
            "request.resource.resource != 'secrets' || request.operation == 'DELETE' || (has(object.type) && object.type == 'Opaque')",
          message: "the daotrain orchestrator may only write Opaque Secrets",
        },
      ],
    },
  };
  const binding: V1ValidatingAdmissionPolicyBinding = {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingAdmissionPolicyBinding",
    metadata: { name, labels },
    spec: {
      policyName: name,
      validationActions: ["Deny"],
      matchResources: {
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } },
      },
    },
  };
  return [policy, binding];
}
