import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { Client, Connection, WorkflowFailedError } from "@temporalio/client";
import type { Payload } from "@temporalio/common";
import { NativeConnection, Worker } from "@temporalio/worker";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { runIdOf } from "../../spec/runSpec.ts";
import { runWorkflowId } from "../../spec/workflowIds.ts";
import { AesGcmCodec, CodecKeyError, encryptedDataConverter } from "../../workers/codec.ts";
import { statusQuery } from "../../workflows/signals.ts";
import { startTemporal, type TemporalDevServer } from "../harness/temporal.ts";
import { tinySpec } from "./fixtures.ts";
import { newSimulation, type SimulatedCluster, simulatedActivities } from "./simulatedActivities.ts";

// The payload codec on a real Temporal server: failure messages sealed like every payload, and
// a key rotated while a run is in flight (the worker restarted with the new key first and the
// old one still listed), the run completing across both.

let temporal: TemporalDevServer;
let connection: Connection;
let workerConnection: NativeConnection;
const oldKey = randomBytes(32);
const newKey = randomBytes(32);
const workflowsPath = fileURLToPath(new URL("../../workflows/index.ts", import.meta.url));
const fastOptions = { replicaDeadlineSeconds: 30, heartbeatSeconds: 10, noCapacityRetrySeconds: 1 };

beforeAll(async () => {
  temporal = await startTemporal();
  connection = await Connection.connect({ address: temporal.address });
  workerConnection = await NativeConnection.connect({ address: temporal.address });
});

afterAll(async () => {
  await connection?.close();
  await workerConnection?.close();
  await temporal?.stop();
});

const clientWith = (codec: AesGcmCodec) =>
  new Client({ connection, namespace: temporal.namespace, dataConverter: encryptedDataConverter(codec) });

async function startWorker(taskQueue: string, codec: AesGcmCodec, clusters: SimulatedCluster[]) {
  const worker = await Worker.create({
    connection: workerConnection,
    namespace: temporal.namespace,
    taskQueue,
    workflowsPath,
    activities: simulatedActivities(newSimulation(clusters)),
    dataConverter: encryptedDataConverter(codec),
  });
  return { worker, running: worker.run() };
}

describe("payload codec", () => {
  test("a key rotated mid-run: the worker restarted with the new key first and the old one listed finishes the run, and history holds payloads sealed by both", async () => {
    const taskQueue = `rotation-${process.pid}`;
    const clusters: SimulatedCluster[] = [
      { name: "alpha", freeGpus: 8, healthy: true, behaviour: "train", trainMs: 1_500 },
    ];
    const before = new AesGcmCodec([oldKey]);
    const after = new AesGcmCodec([newKey, oldKey]);
    const spec = tinySpec({ name: `rotation-${randomBytes(4).toString("hex")}`, rounds: 3 });
    const runId = runIdOf(spec);

    const first = await startWorker(taskQueue, before, clusters);
    const handle = await clientWith(before).workflow.start("trainingRun", {
      taskQueue,
      workflowId: runWorkflowId(runId),
      args: [{ runId, spec, options: fastOptions }],
    });
    await waitFor(async () => (await handle.query(statusQuery)).current?.round === 2);
    first.worker.shutdown();
    await first.running;

    const second = await startWorker(taskQueue, after, clusters);
    try {
      const rotated = clientWith(after).workflow.getHandle(handle.workflowId);
      expect(await rotated.result()).toMatchObject({ state: "completed", committedRounds: 3 });
    } finally {
      second.worker.shutdown();
      await second.running;
    }

    const raw = new Client({ connection, namespace: temporal.namespace });
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
    const taskQueue = `sealed-failure-${process.pid}`;
    const codec = new AesGcmCodec([newKey]);
    const spec = tinySpec({ name: `sealed-${randomBytes(4).toString("hex")}`, rounds: 1, minReplicas: 2 });
    const runId = runIdOf(spec);
    const { worker, running } = await startWorker(taskQueue, codec, [
      { name: "broken", freeGpus: 8, healthy: true, behaviour: "fail", trainMs: 10 },
    ]);
    try {
      const handle = await clientWith(codec).workflow.start("trainingRun", {
        taskQueue,
        workflowId: runWorkflowId(runId),
        args: [{ runId, spec, options: { ...fastOptions, maxAttemptsPerRound: 1 } }],
      });
      const failure = (await handle.result().catch((e: unknown) => e)) as WorkflowFailedError;
      expect(failure).toBeInstanceOf(WorkflowFailedError);
      expect(failure.cause?.message).toMatch(/fewer than 2 accepted replicas/);
    } finally {
      worker.shutdown();
      await running;
    }
    const raw = new Client({ connection, namespace: temporal.namespace });
    const history = await raw.workflow.getHandle(runWorkflowId(runId)).fetchHistory();
    const text = JSON.stringify(history);
    for (const clear of ["fewer than 2 accepted replicas", "exit code 1", "trainingRun.ts"])
      expect(text.includes(clear), clear).toBe(false);
    expect(text).toContain("Encoded failure");
  });
});

/** Every payload anywhere in a history (inputs, results, signals, heartbeats, failures). */
function collectPayloads(node: unknown, found: Payload[] = []): Payload[] {
  if (Array.isArray(node)) for (const item of node) collectPayloads(item, found);
  else if (node && typeof node === "object") {
    const record = node as Record<string, unknown>;
    if (record.metadata && "data" in record) found.push(record as Payload);
    else for (const value of Object.values(record)) collectPayloads(value, found);
  }
  return found;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}
