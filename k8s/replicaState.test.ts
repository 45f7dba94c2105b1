import type { V1ContainerState, V1ContainerStatus, V1Job, V1Pod } from "@kubernetes/client-node";
import { expect, test } from "vitest";
import { parseIndexSet, replicaStates } from "./replicaState.ts";

// Pure derivation from Job and pod objects as the apiserver returns them; the paths that need a
// real control plane are covered in tests/kubernetes. These cover the ones a test cluster cannot
// produce quickly (pod GC after 40 s, Job deadline, retries).

function job(status: V1Job["status"] = {}, replicas = "4,5"): V1Job {
  return { metadata: { annotations: { "daotrain.io/replicas": replicas } }, status };
}

function pod(index: number, status: V1Pod["status"], created = "2026-01-01T00:00:00Z", node = "n1"): V1Pod {
  return {
    metadata: {
      annotations: { "batch.kubernetes.io/job-completion-index": String(index) },
      creationTimestamp: new Date(created),
    },
    spec: { nodeName: node, containers: [] },
    status,
  };
}

/** The trainer container's status in a given state, as kubelet reports it. */
function trainer(state: V1ContainerState): V1ContainerStatus {
  return { name: "trainer", image: "", imageID: "", ready: false, restartCount: 0, state };
}

test("parseIndexSet reads the Job's compressed index lists", () => {
  expect([...parseIndexSet("0,2-4,7")]).toEqual([0, 2, 3, 4, 7]);
  expect([...parseIndexSet(undefined)]).toEqual([]);
});

test("a pod the pod garbage collector took away is lost, with the condition's reason", () => {
  const gone = pod(0, {
    phase: "Failed",
    conditions: [
      {
        type: "DisruptionTarget",
        status: "True",
        reason: "DeletionByPodGC",
        message: "PodGC: node no longer exists",
      },
    ],
  });
  const states = replicaStates(job({ failedIndexes: "0" }), [gone, pod(1, { phase: "Running" })]);
  expect(states).toEqual([
    { replica: 4, state: "lost", reason: "DeletionByPodGC: PodGC: node no longer exists" },
    { replica: 5, state: "running", node: "n1" },
  ]);
});

test("a failed pod whose index still has retries is pending, and the newest pod of an index decides", () => {
  const failed = pod(0, {
    phase: "Failed",
    containerStatuses: [trainer({ terminated: { exitCode: 1, reason: "Error" } })],
  });
  expect(replicaStates(job(), [failed])[0]).toEqual({
    replica: 4,
    state: "pending",
    reason: "retrying after: trainer exited with code 1 (Error)",
  });
  const retry = pod(0, { phase: "Running" }, "2026-01-01T00:01:00Z", "n2");
  expect(replicaStates(job(), [failed, retry])[0]).toEqual({ replica: 4, state: "running", node: "n2" });
});

test("replicas still running when the Job hits its deadline are failed with the Job's reason", () => {
  const deadline = job({
    completedIndexes: "1",
    conditions: [
      {
        type: "Failed",
        status: "True",
        reason: "DeadlineExceeded",
        message: "Job was active longer than specified deadline",
      },
    ],
  });
  expect(replicaStates(deadline, [pod(1, { phase: "Succeeded" })])).toEqual([
    {
      replica: 4,
      state: "failed",
      reason: "Job failed: DeadlineExceeded: Job was active longer than specified deadline",
    },
    { replica: 5, state: "succeeded" },
  ]);
});

test("an unschedulable pod is pending with the scheduler's message; a running pod on a vanished node is lost", () => {
  const unschedulable = pod(
    0,
    {
      phase: "Pending",
      conditions: [
        {
          type: "PodScheduled",
          status: "False",
          reason: "Unschedulable",
          message: "0/2 nodes: Insufficient nvidia.com/gpu",
        },
      ],
    },
    undefined,
    "",
  );
  const orphan = pod(1, { phase: "Running" }, undefined, "gone-node");
  expect(replicaStates(job(), [unschedulable, orphan], (node) => node !== "gone-node")).toEqual([
    { replica: 4, state: "pending", reason: "Unschedulable: 0/2 nodes: Insufficient nvidia.com/gpu" },
    { replica: 5, state: "lost", reason: "NodeLost: node gone-node no longer exists" },
  ]);
});

test("a succeeded replica carries when its trainer ran, as the kubelet recorded it", () => {
  const done = pod(0, {
    phase: "Succeeded",
    containerStatuses: [
      {
        name: "trainer",
        image: "",
        imageID: "",
        ready: false,
        restartCount: 0,
        state: {
          terminated: {
            exitCode: 0,
            reason: "Completed",
            startedAt: new Date("2026-01-01T00:00:10Z"),
            finishedAt: new Date("2026-01-01T00:01:40Z"),
          },
        },
      },
    ],
  });
  const [state] = replicaStates(job({ completedIndexes: "0" }, "4"), [done]);
  expect(state).toEqual({
    replica: 4,
    state: "succeeded",
    ran: {
      startedAtMs: Date.parse("2026-01-01T00:00:10Z"),
      finishedAtMs: Date.parse("2026-01-01T00:01:40Z"),
    },
  });
});

test("a pod kubelet holds back (its Secret missing, its image not pulled) is pending with kubelet's reason", () => {
  const waiting = (reason: string, message?: string) =>
    pod(0, {
      phase: "Pending",
      containerStatuses: [trainer({ waiting: { reason, ...(message ? { message } : {}) } })],
    });
  const [held] = replicaStates(job(), [waiting("CreateContainerConfigError", 'secret "x-store" not found')]);
  expect(held).toEqual({
    replica: 4,
    state: "pending",
    reason: 'CreateContainerConfigError: secret "x-store" not found',
  });
  expect(replicaStates(job(), [waiting("ImagePullBackOff")])[0]).toMatchObject({
    reason: "ImagePullBackOff",
  });
  expect(replicaStates(job(), [waiting("ContainerCreating")])[0]).toMatchObject({ reason: "starting on n1" });
});

test("a pod the scheduler preempts for the owner's is a preempted dropout; others disrupted are only lost", () => {
  const preempted = pod(0, {
    phase: "Failed",
    conditions: [
      {
        type: "DisruptionTarget",
        status: "True",
        reason: "PreemptionByScheduler",
        message: "Preempted by pod 1",
      },
    ],
  });
  expect(replicaStates(job({ failedIndexes: "0" }), [preempted])[0]).toEqual({
    replica: 4,
    state: "lost",
    reason: "PreemptionByScheduler: Preempted by pod 1",
    preempted: true,
  });
});

test("a Job the contributor's Kueue holds suspended is queued; one it suspends after its pods ran was preempted", () => {
  const queued: V1Job = { ...job(), spec: { suspend: true, template: {} } };
  expect(replicaStates(queued, [])[0]).toMatchObject({
    state: "pending",
    reason: expect.stringMatching(/^queued/),
  });
  expect(replicaStates(queued, [pod(0, { phase: "Running" })])[0]).toMatchObject({
    state: "lost",
    preempted: true,
    reason: expect.stringMatching(/preempted by Kueue/),
  });
});
