import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { consoleApp } from "./app.ts";
import type { ConsoleSources } from "./sources.ts";
import { ensureWebBuild } from "./webBuild.ts";

export interface ConsoleServerOptions {
  sources: ConsoleSources;
  /** Loopback by default: the console answers public data only, but nothing asks for the world. */
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  browserRpcUrl: string;
  webDir?: string;
  log?: (line: string) => void;
}

export interface ConsoleServer {
  url: string;
  stop(): Promise<void>;
}

/** Builds the web app if needed and serves it with the API; resolves once it listens. */
export async function startConsoleServer(options: ConsoleServerOptions): Promise<ConsoleServer> {
  const log = options.log ?? (() => {});
  const webDir = await ensureWebBuild({ ...(options.webDir ? { webDir: options.webDir } : {}), log });
  const app = consoleApp(options.sources, {
    webDir,
    browserRpcUrl: options.browserRpcUrl,
    logError: (error) => log(`console: ${error instanceof Error ? error.message : String(error)}`),
  });
  const host = options.host ?? "127.0.0.1";
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const listening = serve({ fetch: app.fetch, hostname: host, port: options.port ?? 0 }, () =>
      resolve(listening),
    );
    listening.once("error", reject);
  });
  const { port } = server.address() as AddressInfo;
  const shown = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Browsers keep connections open; closing them lets close() finish now.
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}
