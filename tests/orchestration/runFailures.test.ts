import { randomBytes } from "node:crypto";
import { WorkflowFailedError } from "@temporalio/client";
import { ApplicationFailure } from "@temporalio/common";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { runIdOf } from "../../spec/runSpec.ts";
import { runWorkflowId } from "../../spec/workflowIds.ts";
import { AesGcmCodec } from "../../workers/codec.ts";
import { resumeSignal, statusQuery } from "../../workflows/signals.ts";
import type { RunOptions } from "../../workflows/trainingRun.ts";
import type { RunStatus } from "../../workflows/types.ts";
import { tinySpec } from "./fixtures.ts";
import { waitFor } from "./polling.ts";
import type { Simulation } from "./simulatedActivities.ts";
import { type SimulatedTemporal, startSimulatedTemporal } from "./simulatedWorkers.ts";

// What a run does when a step fails for good, on a real Temporal server and Worker over
// simulated activities that fail the way the real ones do (a contract's named revert is a
// non-retryable failure typed by its name: tests/orchestration/operatorCalls.test.ts).

const options: Partial<RunOptions> = {
  replicaDeadlineSeconds: 30,
  heartbeatSeconds: 10,
  noCapacityRetrySeconds: 1,
  pausedChainCheckSeconds: 1,
};

let simulated: SimulatedTemporal;

beforeAll(async () => {
  simulated = await startSimulatedTemporal(new AesGcmCodec(randomBytes(32)));
});

afterAll(async () => {
  await simulated?.stop();
});

async function startRun(configure: (sim: Simulation, runId: string) => void = () => {}) {
  const { sim, taskQueue } = await simulated.simulate([
    { name: "alpha", freeGpus: 8, healthy: true, behaviour: "train", trainMs: 20 },
  ]);
  const spec = tinySpec({ name: `failures-${randomBytes(4).toString("hex")}`, rounds: 1 });
  const runId = runIdOf(spec);
  configure(sim, runId);
  const handle = await simulated.client.workflow.start("trainingRun", {
    taskQueue,
    workflowId: runWorkflowId(runId),
    args: [{ runId, spec, options }],
  });
  return { sim, runId, handle };
}

/** What the real chain activities raise for a contract's named revert. */
const revert = (name: string, args = "") =>
  ApplicationFailure.nonRetryable(`commitRound reverted with ${name}(${args}): a hint`, name);

const waitForState = (handle: { query: (q: typeof statusQuery) => Promise<RunStatus> }, state: string) =>
  waitFor(async () => {
    const status = await handle.query(statusQuery);
    return status.state === state ? status : undefined;
  }, 30_000);

describe("a step that fails for good", () => {
  test("a revert no retry can fix (GpuBudgetExceeded) closes the run as failed, naming the revert, without retrying it", async () => {
    const { sim, runId, handle } = await startRun((s) => {
      s.failures.commitRound = [revert("GpuBudgetExceeded", "0x…, 9000, 10")];
    });
    const failure = (await handle.result().catch((e: unknown) => e)) as WorkflowFailedError;
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const reason = String(failure.cause?.message);
    expect(reason).toMatch(/^round 1: commitRound: commitRound reverted with GpuBudgetExceeded\(/);
    expect((failure.cause as ApplicationFailure).type).toBe("GpuBudgetExceeded");
    expect(sim.closed.get(runId)).toEqual({ as: "failed", reason });
    expect(sim.failures.commitRound).toEqual([]);
    expect((await handle.query(statusQuery)).state).toBe("failed");
  });

  test("the operator's permission revoked (DaoUnauthorized) pauses the run with what to do; resumed, it plays the round again and completes", async () => {
    const { sim, runId, handle } = await startRun((s) => {
      s.failures.commitRound = [revert("DaoUnauthorized", "0xdao, 0xwhere, 0xwho, 0xid")];
    });
    const paused = await waitForState(handle, "paused");
    expect(paused.reason).toMatch(/^round 1: commitRound: .*DaoUnauthorized.*grants it again/);
    expect(sim.commits.size).toBe(0);
    expect(sim.closed.has(runId)).toBe(false);
    await handle.signal(resumeSignal);
    expect(await handle.result()).toMatchObject({ state: "completed", committedRounds: 1 });
    expect(sim.closed.get(runId)).toEqual({ as: "completed" });
  });

  test("a run the DAO closed meanwhile (RunNotApproved) ends as the chain says, without closing it again", async () => {
    const { sim, runId, handle } = await startRun((s, id) => {
      s.failures.commitRound = [revert("RunNotApproved", id)];
      s.closed.set(id, { as: "cancelled", reason: "dao: cancelled by vote" });
    });
    expect(await handle.result()).toMatchObject({ state: "cancelled" });
    expect(sim.closed.get(runId)).toEqual({ as: "cancelled", reason: "dao: cancelled by vote" });
  });

  test("a paused run notices on the chain that the DAO cancelled it, even without the cancel signal", async () => {
    const { sim, runId, handle } = await startRun((s) => {
      s.failures.commitRound = [revert("ClusterNotAdmitted", "0xcluster")];
    });
    await waitForState(handle, "paused");
    sim.closed.set(runId, { as: "cancelled", reason: "dao: cancelled by vote" });
    expect(await handle.result()).toMatchObject({
      state: "cancelled",
      reason: "the run was closed on-chain while paused",
    });
  });
});
