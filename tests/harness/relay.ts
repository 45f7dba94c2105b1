import { createConnection, type Socket } from "node:net";

/**
 * A proxy's connection handler: pipes each accepted connection to `target` both ways, and keeps
 * both ends in `open` (so the proxy can cut them all); an error on either end closes both.
 * `onReply` sees the size of every chunk the target sends back.
 */
export function relayTo(
  target: { host: string; port: number },
  open: Set<Socket>,
  onReply?: (bytes: number) => void,
): (client: Socket) => void {
  return (client) => {
    const upstream = createConnection(target);
    if (onReply) upstream.on("data", (chunk: Buffer) => onReply(chunk.length));
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.once("close", () => open.delete(socket));
      socket.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  };
}
