import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import type { Socket } from "node:net";
import { join } from "node:path";
import { createServer, type Server } from "node:tls";
import { promisify } from "node:util";
import { relayTo } from "./relay.ts";

const run = promisify(execFile);

/** PEM files of a throwaway CA, a server certificate for localhost and a client certificate, both signed by it. */
export interface TestCertificates {
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** Makes the certificates in `dir` with the machine's `openssl` (EC P-256, valid one day). */
export async function makeTestCertificates(dir: string): Promise<TestCertificates> {
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => run("openssl", args);
  await openssl(
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=daotrain test CA",
    "-keyout",
    file("ca.key"),
    "-out",
    file("ca.pem"),
  );
  const leaf = async (name: string, subject: string, extensions: string) => {
    await writeFile(file(`${name}.ext`), extensions);
    await openssl(
      "req",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-subj",
      subject,
      "-keyout",
      file(`${name}.key`),
      "-out",
      file(`${name}.csr`),
    );
    await openssl(
      "x509",
      "-req",
      "-in",
      file(`${name}.csr`),
      "-CA",
      file("ca.pem"),
      "-CAkey",
      file("ca.key"),
      "-CAcreateserial",
      "-days",
      "1",
      "-extfile",
      file(`${name}.ext`),
      "-out",
      file(`${name}.pem`),
    );
  };
  await leaf(
    "server",
    "/CN=localhost",
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
  );
  await leaf("client", "/CN=daotrain worker", "extendedKeyUsage=clientAuth\n");
  return {
    caCert: file("ca.pem"),
    serverCert: file("server.pem"),
    serverKey: file("server.key"),
    clientCert: file("client.pem"),
    clientKey: file("client.key"),
  };
}

/**
 * A TLS front for a plaintext gRPC server (the Temporal dev server cannot serve TLS itself): it
 * terminates TLS, HTTP/2 by ALPN, and with `requireClientCert` demands a certificate signed by the
 * test CA (mutual TLS, as a self-hosted cluster or Temporal Cloud's mTLS endpoints do).
 */
export interface TlsProxy {
  address: string;
  stop(): Promise<void>;
}

export async function startTlsProxy(
  target: { host: string; port: number },
  certificates: TestCertificates,
  options: { requireClientCert?: boolean } = {},
): Promise<TlsProxy> {
  const [key, cert, ca] = await Promise.all(
    [certificates.serverKey, certificates.serverCert, certificates.caCert].map((f) => readFile(f)),
  );
  const sockets = new Set<Socket>();
  const server: Server = createServer(
    {
      key,
      cert,
      ca,
      ALPNProtocols: ["h2"],
      requestCert: options.requireClientCert ?? false,
      rejectUnauthorized: options.requireClientCert ?? false,
    },
    relayTo(target, sockets),
  );
  // A refused handshake is the test's point, not an error of the proxy.
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    address: `127.0.0.1:${port}`,
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
