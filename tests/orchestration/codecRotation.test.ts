import { randomBytes } from "node:crypto";
import { Client, WorkflowFailedError } from "@temporalio/client";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { runIdOf } from "../../spec/runSpec.ts";
import { runWorkflowId } from "../../spec/workflowIds.ts";
import { AesGcmCodec, CodecKeyError } from "../../workers/codec.ts";
import { statusQuery } from "../../workflows/signals.ts";
import { collectPayloads } from "../harness/history.ts";
import { tinySpec } from "./fixtures.ts";
import { waitFor } from "./polling.ts";
import type { SimulatedCluster } from "./simulatedActivities.ts";
import { type SimulatedTemporal, startSimulatedTemporal } from "./simulatedWorkers.ts";

// The payload codec on a real Temporal server: failure messages sealed like every payload, and
// a key rotated while a run is in flight (the worker restarted with the new key first and the
// old one still listed), the run completing across both.

let simulated: SimulatedTemporal;
const oldKey = randomBytes(32);
const newKey = randomBytes(32);
const fastOptions = { replicaDeadlineSeconds: 30, heartbeatSeconds: 10, noCapacityRetrySeconds: 1 };

beforeAll(async () => {
  simulated = await startSimulatedTemporal(new AesGcmCodec([newKey]));
});

afterAll(async () => {
  await simulated?.stop();
});

describe("payload codec", () => {
  test("a key rotated mid-run: the worker restarted with the new key first and the old one listed finishes the run, and history holds payloads sealed by both", async () => {
    const clusters: SimulatedCluster[] = [
      { name: "alpha", freeGpus: 8, healthy: true, behaviour: "train", trainMs: 1_500 },
    ];
    const before = new AesGcmCodec([oldKey]);
    const after = new AesGcmCodec([newKey, oldKey]);
    const spec = tinySpec({ name: `rotation-${randomBytes(4).toString("hex")}`, rounds: 3 });
    const runId = runIdOf(spec);

    const first = await simulated.simulate(clusters, { codec: before });
    const { sim, taskQueue } = first;
    const handle = await simulated.clientWith(before).workflow.start("trainingRun", {
      taskQueue,
      workflowId: runWorkflowId(runId),
      args: [{ runId, spec, options: fastOptions }],
    });
    await waitFor(async () => (await handle.query(statusQuery)).current?.round === 2);
    await first.stop();

    await simulated.simulate(clusters, { codec: after, sim, taskQueue });
    const rotated = simulated.clientWith(after).workflow.getHandle(handle.workflowId);
    expect(await rotated.result()).toMatchObject({ state: "completed", committedRounds: 3 });

    const raw = new Client({ connection: simulated.connection, namespace: simulated.temporal.namespace });
    const payloads = collectPayloads(await raw.workflow.getHandle(handle.workflowId).fetchHistory());
    const keyIds = new Set(
      payloads.map((p) => Buffer.from(p.metadata?.["encryption-key-id"] ?? []).toString()),
    );
    expect(keyIds).toEqual(new Set([before.keyId, after.keyId]));
    // A process that dropped the old key too early cannot read what it sealed, and says which key.
    const newOnly = new AesGcmCodec([newKey]);
    await expect(newOnly.decode(payloads)).rejects.toThrow(CodecKeyError);
    await expect(newOnly.decode(payloads)).rejects.toThrow(before.keyId);
  });

  test("a failure's message and stack trace are sealed in history, and read back with the key", async () => {
    const spec = tinySpec({ name: `sealed-${randomBytes(4).toString("hex")}`, rounds: 1, minReplicas: 2 });
    const runId = runIdOf(spec);
    const { taskQueue } = await simulated.simulate([
      { name: "broken", freeGpus: 8, healthy: true, behaviour: "fail", trainMs: 10 },
    ]);
    const handle = await simulated.client.workflow.start("trainingRun", {
      taskQueue,
      workflowId: runWorkflowId(runId),
      args: [{ runId, spec, options: { ...fastOptions, maxAttemptsPerRound: 1 } }],
    });
    const failure = (await handle.result().catch((e: unknown) => e)) as WorkflowFailedError;
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect(failure.cause?.message).toMatch(/fewer than 2 accepted replicas/);
    const raw = new Client({ connection: simulated.connection, namespace: simulated.temporal.namespace });
    const history = await raw.workflow.getHandle(runWorkflowId(runId)).fetchHistory();
    const text = JSON.stringify(history);
    for (const clear of ["fewer than 2 accepted replicas", "exit code 1", "trainingRun.ts"])
      expect(text.includes(clear), clear).toBe(false);
    expect(text).toContain("Encoded failure");
  });
});
