import { fileURLToPath } from "node:url";
import { Client, Connection } from "@temporalio/client";
import { NativeConnection, Worker } from "@temporalio/worker";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startTemporal, type TemporalDevServer } from "../harness/temporal.ts";
import * as activities from "./greetingActivities.ts";

let temporal: TemporalDevServer;
beforeAll(async () => {
  temporal = await startTemporal();
});
afterAll(async () => {
  await temporal?.stop();
});

test("a workflow runs to completion on the Temporal dev server through a real worker", async () => {
  const taskQueue = `smoke-${process.pid}`;
  const workerConnection = await NativeConnection.connect({ address: temporal.address });
  const worker = await Worker.create({
    connection: workerConnection,
    namespace: temporal.namespace,
    taskQueue,
    workflowsPath: fileURLToPath(new URL("./greetingWorkflow.ts", import.meta.url)),
    activities,
  });
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection, namespace: temporal.namespace });
  try {
    const result = await worker.runUntil(
      client.workflow.execute("greetingWorkflow", {
        taskQueue,
        workflowId: `greeting-${Date.now()}`,
        args: ["daotrain"],
      }),
    );
    expect(result).toBe("hello daotrain from activity attempt 1");
  } finally {
    await connection.close();
    await workerConnection.close();
  }
});
