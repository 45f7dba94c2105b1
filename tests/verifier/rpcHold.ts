import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

// A JSON-RPC relay in front of anvil that can hold back transactions: reads pass, while `hold` is
// on every eth_sendRawTransaction waits unanswered and unsent. It pins a verifier between its
// audit and its verdict, so the test can kill it there however fast the audit is.

export interface RpcHold {
  url: string;
  /** Transactions held from now on, until the relay closes. */
  hold(): void;
  /** Resolves when a transaction is being held. */
  held: Promise<void>;
  close(): Promise<void>;
}

async function body(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export async function startRpcHold(target: string): Promise<RpcHold> {
  let holding = false;
  let onHeld = () => {};
  const held = new Promise<void>((resolve) => {
    onHeld = resolve;
  });
  const server = createServer(async (request, response) => {
    const text = await body(request);
    if (holding && text.includes('"eth_sendRawTransaction"')) {
      onHeld();
      return; // never answered: the sender waits until it is killed
    }
    const upstream = await fetch(target, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: text,
    });
    response.writeHead(upstream.status, { "content-type": "application/json" });
    response.end(await upstream.text());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hold: () => {
      holding = true;
    },
    held,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
