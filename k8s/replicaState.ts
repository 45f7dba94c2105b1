import type { V1Job, V1Pod } from "@kubernetes/client-node";
import type { ReplicaState } from "./cluster.ts";
import { REPLICAS_ANNOTATION, TRAINER_CONTAINER } from "./roundJob.ts";

const COMPLETION_INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index";

/** Parses a Job's `completedIndexes` / `failedIndexes` ("0,2-4") into a set. */
export function parseIndexSet(text: string | undefined): Set<number> {
  const set = new Set<number>();
  for (const part of (text ?? "").split(",").filter(Boolean)) {
    const [from, to] = part.split("-").map(Number);
    if (from === undefined || Number.isNaN(from)) continue;
    for (let i = from; i <= (to ?? from); i++) set.add(i);
  }
  return set;
}

/** The global replica index of each completion index, as the Job recorded it at launch. */
export function jobReplicas(job: V1Job): number[] {
  return (job.metadata?.annotations?.[REPLICAS_ANNOTATION] ?? "").split(",").filter(Boolean).map(Number);
}

export function completionIndex(pod: V1Pod): number | undefined {
  const value = pod.metadata?.annotations?.[COMPLETION_INDEX_ANNOTATION];
  return value === undefined ? undefined : Number(value);
}

function jobFailure(job: V1Job): string | undefined {
  const failed = job.status?.conditions?.find((c) => c.type === "Failed" && c.status === "True");
  return failed ? `Job failed: ${failed.reason ?? "unknown"}: ${failed.message ?? ""}`.trim() : undefined;
}

/** The scheduler's reason on a pod it evicts for a higher-priority one. */
const PREEMPTED = "PreemptionByScheduler";

/** A pod the cluster took away (node gone, evicted, preempted) rather than one whose trainer failed. */
export function disruption(pod: V1Pod): { reason: string; preempted: boolean } | undefined {
  const condition = pod.status?.conditions?.find((c) => c.type === "DisruptionTarget" && c.status === "True");
  if (condition)
    return {
      reason: `${condition.reason ?? "DisruptionTarget"}: ${condition.message ?? "pod was disrupted"}`,
      preempted: condition.reason === PREEMPTED,
    };
  if (pod.status?.reason === "NodeLost" || pod.status?.reason === "Evicted")
    return { reason: `${pod.status.reason}: ${pod.status.message ?? ""}`.trim(), preempted: false };
  return undefined;
}

function containerFailure(pod: V1Pod): { reason: string; exitCode?: number } {
  const status = pod.status?.containerStatuses?.find((c) => c.name === TRAINER_CONTAINER);
  const terminated = status?.state?.terminated ?? status?.lastState?.terminated;
  if (terminated) {
    const detail = terminated.message ? `: ${terminated.message}` : "";
    return {
      reason: `trainer exited with code ${terminated.exitCode} (${terminated.reason ?? "Error"})${detail}`,
      exitCode: terminated.exitCode,
    };
  }
  return { reason: `${pod.status?.reason ?? "PodFailed"}: ${pod.status?.message ?? "pod failed"}` };
}

/** The trainer container's start and finish as the kubelet recorded them. */
function runTimes(pod: V1Pod): { startedAtMs: number; finishedAtMs: number } | undefined {
  const terminated = pod.status?.containerStatuses?.find((c) => c.name === TRAINER_CONTAINER)?.state
    ?.terminated;
  if (!terminated?.startedAt || !terminated.finishedAt) return undefined;
  return {
    startedAtMs: new Date(terminated.startedAt).getTime(),
    finishedAtMs: new Date(terminated.finishedAt).getTime(),
  };
}

/** Waiting reasons that only say the container is on its way. */
const ROUTINE_WAITING = new Set(["ContainerCreating", "PodInitializing"]);

function pendingReason(pod: V1Pod): string | undefined {
  const scheduled = pod.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False");
  if (scheduled) return `${scheduled.reason ?? "Unschedulable"}: ${scheduled.message ?? ""}`.trim();
  // Kubelet's reason for holding the container, e.g. CreateContainerConfigError: secret "…" not found.
  const waiting = pod.status?.containerStatuses?.find((c) => c.name === TRAINER_CONTAINER)?.state?.waiting;
  if (waiting?.reason && !ROUTINE_WAITING.has(waiting.reason))
    return `${waiting.reason}: ${waiting.message ?? ""}`.replace(/: $/, "");
  return pod.spec?.nodeName ? `starting on ${pod.spec.nodeName}` : undefined;
}

/**
 * Each replica's state from the Job and its pods. `nodeExists` answers whether a pod's node is
 * still there (undefined when the caller may not read nodes); a running pod on a vanished node is
 * lost at once, before the pod garbage collector notices.
 */
export function replicaStates(
  job: V1Job,
  pods: readonly V1Pod[],
  nodeExists: (node: string) => boolean | undefined = () => undefined,
): ReplicaState[] {
  const replicas = jobReplicas(job);
  const completed = parseIndexSet(job.status?.completedIndexes);
  const failedIndexes = parseIndexSet(job.status?.failedIndexes);
  const jobFailed = jobFailure(job);
  return replicas.map((replica, index): ReplicaState => {
    const mine = pods.filter((pod) => completionIndex(pod) === index).sort((a, b) => time(a) - time(b));
    const succeeded = mine.find((pod) => pod.status?.phase === "Succeeded");
    if (completed.has(index) || succeeded) {
      const ran = succeeded ? runTimes(succeeded) : undefined;
      return ran ? { replica, state: "succeeded", ran } : { replica, state: "succeeded" };
    }
    const pod = mine.at(-1);
    const indexFailed = failedIndexes.has(index) || jobFailed !== undefined;
    if (!pod) {
      if (indexFailed)
        return { replica, state: "failed", reason: jobFailed ?? "replica failed and its pod is gone" };
      if (job.spec?.suspend)
        return {
          replica,
          state: "pending",
          reason: "queued: waiting for the contributor's Kueue to admit the Job",
        };
      return { replica, state: "pending", reason: "waiting for the Job controller to create the pod" };
    }
    // Kueue suspends an admitted Job to give its quota back (preemption): the pods go.
    if (job.spec?.suspend)
      return {
        replica,
        state: "lost",
        reason: "Suspended: the contributor's queue took the Job's quota back (preempted by Kueue)",
        preempted: true,
      };
    const lostBecause = disruption(pod);
    const node = pod.spec?.nodeName;
    if (lostBecause)
      return lostBecause.preempted
        ? { replica, state: "lost", reason: lostBecause.reason, preempted: true }
        : { replica, state: "lost", reason: lostBecause.reason };
    if (node && pod.status?.phase !== "Failed" && nodeExists(node) === false)
      return { replica, state: "lost", reason: `NodeLost: node ${node} no longer exists` };
    if (pod.status?.phase === "Failed" || pod.metadata?.deletionTimestamp) {
      if (!indexFailed && pod.status?.phase !== "Failed")
        return { replica, state: "pending", reason: "pod is terminating" };
      const failure = containerFailure(pod);
      if (indexFailed) return { replica, state: "failed", ...failure };
      return { replica, state: "pending", reason: `retrying after: ${failure.reason}` };
    }
    if (jobFailed) return { replica, state: "failed", reason: jobFailed };
    if (pod.status?.phase === "Running")
      return node ? { replica, state: "running", node } : { replica, state: "running" };
    const reason = pendingReason(pod);
    return reason ? { replica, state: "pending", reason } : { replica, state: "pending" };
  });
}

function time(pod: V1Pod): number {
  const created = pod.metadata?.creationTimestamp;
  return created ? new Date(created).getTime() : 0;
}
