import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client, Connection } from "@temporalio/client";
import { NativeConnection, Worker } from "@temporalio/worker";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { InvalidInputError } from "../../spec/errors.ts";
import { temporalTarget } from "../../workers/temporalConnection.ts";
import { startTemporal, type TemporalDevServer } from "../harness/temporal.ts";
import { makeTestCertificates, startTlsProxy, type TestCertificates, type TlsProxy } from "../harness/tls.ts";
import * as activities from "./greetingActivities.ts";

// A deployment's Temporal is a self-hosted cluster behind mutual TLS or Temporal Cloud, not the dev
// server: the worker and the CLI take Temporal's own client settings. The dev server cannot serve
// TLS, so a TLS front with a throwaway CA stands in for the secured endpoint.

let temporal: TemporalDevServer;
let dir: string;
let certs: TestCertificates;
let serverTls: TlsProxy;
let mutualTls: TlsProxy;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "daotrain-tls-"));
  [temporal, certs] = await Promise.all([startTemporal(), makeTestCertificates(dir)]);
  const [host, port] = temporal.address.split(":");
  const target = { host: host!, port: Number(port) };
  serverTls = await startTlsProxy(target, certs);
  mutualTls = await startTlsProxy(target, certs, { requireClientCert: true });
});

afterAll(async () => {
  await Promise.allSettled([serverTls?.stop(), mutualTls?.stop()]);
  await temporal?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const caOnly = () => ({
  TEMPORAL_NAMESPACE: temporal.namespace,
  TEMPORAL_TLS: "true",
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.caCert,
  TEMPORAL_TLS_SERVER_NAME: "localhost",
});
const withClientCert = () => ({
  ...caOnly(),
  TEMPORAL_ADDRESS: mutualTls.address,
  TEMPORAL_TLS_CLIENT_CERT_PATH: certs.clientCert,
  TEMPORAL_TLS_CLIENT_KEY_PATH: certs.clientKey,
});

describe("Temporal behind TLS", () => {
  test("a worker and a client configured only by TEMPORAL_* variables run a workflow over mutual TLS", async () => {
    const target = temporalTarget(withClientCert());
    expect(target.namespace).toBe(temporal.namespace);
    const workerConnection = await NativeConnection.connect(target.connection);
    const connection = await Connection.connect(target.connection);
    try {
      const taskQueue = `tls-${process.pid}`;
      const worker = await Worker.create({
        connection: workerConnection,
        namespace: target.namespace,
        taskQueue,
        workflowsPath: fileURLToPath(new URL("./greetingWorkflow.ts", import.meta.url)),
        activities,
      });
      const client = new Client({ connection, namespace: target.namespace });
      const result = await worker.runUntil(
        client.workflow.execute("greetingWorkflow", {
          taskQueue,
          workflowId: `tls-greeting-${Date.now()}`,
          args: ["mTLS"],
        }),
      );
      expect(result).toBe("hello mTLS from activity attempt 1");
    } finally {
      await connection.close();
      await workerConnection.close();
    }
  });

  test("the secured endpoints refuse a client without the server's CA, and one without a client certificate", async () => {
    const noCa = temporalTarget({ TEMPORAL_ADDRESS: serverTls.address, TEMPORAL_TLS: "true" });
    await expect(Connection.connect({ ...noCa.connection, connectTimeout: 2_000 })).rejects.toThrow();
    const noClientCert = temporalTarget({ ...caOnly(), TEMPORAL_ADDRESS: mutualTls.address });
    await expect(Connection.connect({ ...noClientCert.connection, connectTimeout: 2_000 })).rejects.toThrow();
    const serverAuthOnly = await Connection.connect(
      temporalTarget({ ...caOnly(), TEMPORAL_ADDRESS: serverTls.address }).connection,
    );
    try {
      await serverAuthOnly.workflowService.describeNamespace({ namespace: temporal.namespace });
    } finally {
      await serverAuthOnly.close();
    }
  });

  test("half a client certificate pair, or a certificate file that cannot be read, is refused by name before connecting", () => {
    const { TEMPORAL_TLS_CLIENT_KEY_PATH: _key, ...certOnly } = withClientCert();
    expect(() => temporalTarget(certOnly)).toThrow(InvalidInputError);
    expect(() => temporalTarget(certOnly)).toThrow(
      /TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH/,
    );
    const missing = { ...caOnly(), TEMPORAL_TLS_SERVER_CA_CERT_PATH: join(dir, "no-such-ca.pem") };
    expect(() => temporalTarget(missing)).toThrow(/no-such-ca\.pem/);
  });
});
