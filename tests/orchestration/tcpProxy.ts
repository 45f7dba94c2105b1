import { createServer, type Server, type Socket } from "node:net";
import { relayTo } from "../harness/relay.ts";

/**
 * A TCP proxy on a loopback port in front of a service (here: anvil's RPC), which a test can
 * take down and bring back on the same port to simulate an outage of the service.
 */
export interface TcpProxy {
  url: string;
  /** Refuses new connections and cuts the open ones. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = async () => {
    const s = createServer(relayTo(target, sockets));
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.listen(port, "127.0.0.1", () => resolve());
    });
    port = (s.address() as { port: number }).port;
    server = s;
  };
  const close = async () => {
    const s = server;
    server = undefined;
    for (const socket of sockets) socket.destroy();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await listen();
  return { url: `http://127.0.0.1:${port}`, pause: close, resume: listen, stop: close };
}
