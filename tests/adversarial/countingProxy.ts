import { createServer, type Socket } from "node:net";
import { relayTo } from "../harness/relay.ts";

/**
 * A TCP proxy on a loopback port in front of a server (here: the S3 server, for the worker alone)
 * that counts the bytes the server sends back: what the client behind it fetched.
 */
export interface CountingProxy {
  url: string;
  /** Bytes sent from the server to clients so far. */
  fetched(): number;
  stop(): Promise<void>;
}

export async function startCountingProxy(endpoint: string): Promise<CountingProxy> {
  const target = new URL(endpoint);
  let fetched = 0;
  const open = new Set<Socket>();
  const server = createServer(
    relayTo({ host: target.hostname, port: Number(target.port) }, open, (bytes) => {
      fetched += bytes;
    }),
  );
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    fetched: () => fetched,
    async stop() {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
