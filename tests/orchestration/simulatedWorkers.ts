import { fileURLToPath } from "node:url";
import { Client, Connection } from "@temporalio/client";
import { NativeConnection, Worker } from "@temporalio/worker";
import { type AesGcmCodec, encryptedDataConverter } from "../../workers/codec.ts";
import { startTemporal, type TemporalDevServer } from "../harness/temporal.ts";
import {
  newSimulation,
  type SimulatedCluster,
  type Simulation,
  simulatedActivities,
} from "./simulatedActivities.ts";

const workflowsPath = fileURLToPath(new URL("../../workflows/index.ts", import.meta.url));

/**
 * A real Temporal dev server with real Workers running the real workflows over simulated
 * activities (`simulatedActivities.ts`): the setup of the files that test the workflows' logic.
 */
export interface SimulatedTemporal {
  temporal: TemporalDevServer;
  connection: Connection;
  /** A client sealing payloads with `codec`. */
  client: Client;
  /** A client with another codec (a rotated key, say). */
  clientWith(codec: AesGcmCodec): Client;
  /**
   * A Worker on a task queue of its own over a fresh simulation of `clusters`, so tests do not
   * share clusters; `codec` overrides the server-wide one.
   */
  simulate(
    clusters: SimulatedCluster[],
    options?: { codec?: AesGcmCodec; sim?: Simulation; taskQueue?: string },
  ): Promise<{ sim: Simulation; taskQueue: string; stop(): Promise<void> }>;
  stop(): Promise<void>;
}

export async function startSimulatedTemporal(codec: AesGcmCodec): Promise<SimulatedTemporal> {
  const temporal = await startTemporal();
  const connection = await Connection.connect({ address: temporal.address });
  const workerConnection = await NativeConnection.connect({ address: temporal.address });
  const clientWith = (c: AesGcmCodec) =>
    new Client({ connection, namespace: temporal.namespace, dataConverter: encryptedDataConverter(c) });
  const running = new Map<Worker, Promise<void>>();
  let queues = 0;
  const stopWorker = async (worker: Worker) => {
    if (worker.getState() === "RUNNING") worker.shutdown();
    await running.get(worker);
    running.delete(worker);
  };
  return {
    temporal,
    connection,
    client: clientWith(codec),
    clientWith,
    async simulate(clusters, options = {}) {
      const taskQueue = options.taskQueue ?? `sim-${queues++}-${process.pid}`;
      const sim = options.sim ?? newSimulation(clusters);
      const worker = await Worker.create({
        connection: workerConnection,
        namespace: temporal.namespace,
        taskQueue,
        workflowsPath,
        activities: simulatedActivities(sim),
        dataConverter: encryptedDataConverter(options.codec ?? codec),
      });
      running.set(worker, worker.run());
      return { sim, taskQueue, stop: () => stopWorker(worker) };
    },
    async stop() {
      await Promise.all([...running.keys()].map(stopWorker));
      await connection.close();
      await workerConnection.close();
      await temporal.stop();
    },
  };
}
