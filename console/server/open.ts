import { Client, Connection } from "@temporalio/client";
import { connect } from "../../governance/chain.ts";
import { s3OptionsFromEnv } from "../../storage/index.ts";
import { AesGcmCodec, encryptedDataConverter } from "../../workers/codec.ts";
import { temporalTarget } from "../../workers/temporalConnection.ts";
import { type ConsoleServer, startConsoleServer } from "./server.ts";
import type { ConsoleSources } from "./sources.ts";

export interface OpenConsoleOptions {
  /** Default: the environment's DAOTRAIN_DEPLOYMENT, else `.daotrain/deployment.json`. */
  deploymentFile?: string;
  /** The chain the console reads (default: DAOTRAIN_RPC_URL, else the deployment's). */
  rpcUrl?: string;
  /** The chain URL browsers use; required when `rpcUrl` is not a loopback address. */
  browserRpcUrl?: string;
  host?: string;
  port?: number;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

/** The console's configuration was refused before it started. */
export class ConsoleConfigError extends Error {
  override readonly name = "ConsoleConfigError";
}

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);
const isLoopback = (url: string) => {
  const host = new URL(url).hostname;
  return LOOPBACK_HOSTS.has(host) || host.startsWith("127.");
};

/**
 * The RPC URL browsers get. A provider URL often carries an API key, so the console's own URL is
 * shown to visitors only when it is a loopback address (a development chain on this machine).
 */
export function browserRpcUrlFor(rpcUrl: string, explicit: string | undefined): string {
  if (explicit) return explicit;
  if (isLoopback(rpcUrl)) return rpcUrl;
  throw new ConsoleConfigError(
    "the console's RPC URL is not a loopback address and may carry a provider key, so it is not shown to browsers; set DAOTRAIN_CONSOLE_RPC_URL (--public-rpc) to the RPC URL visitors may use",
  );
}

/** A Temporal client that decrypts run status with the codec key, or undefined without one. */
async function temporalClient(
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<Client | undefined> {
  const key = env.DAOTRAIN_CODEC_KEY;
  if (!key) {
    log("no DAOTRAIN_CODEC_KEY: the console shows what the chain records, without live run status");
    return undefined;
  }
  const target = temporalTarget(env);
  try {
    const connection = await Connection.connect(target.connection);
    return new Client({
      connection,
      namespace: target.namespace,
      dataConverter: encryptedDataConverter(new AesGcmCodec(Buffer.from(key, "base64"))),
    });
  } catch {
    log(`Temporal at ${target.connection.address} did not answer: the console runs without live run status`);
    return undefined;
  }
}

/** `daotrain console`: connects to the chain (no key) and Temporal, then serves the console. */
export async function openConsole(options: OpenConsoleOptions = {}): Promise<ConsoleServer> {
  const env = options.env ?? process.env;
  const log = options.log ?? (() => {});
  const deploymentFile = options.deploymentFile ?? env.DAOTRAIN_DEPLOYMENT;
  const rpcUrl = options.rpcUrl ?? env.DAOTRAIN_RPC_URL;
  const governance = await connect({
    ...(deploymentFile ? { deploymentFile } : {}),
    ...(rpcUrl ? { rpcUrl } : {}),
  });
  const browserRpcUrl = browserRpcUrlFor(
    governance.rpcUrl,
    options.browserRpcUrl ?? env.DAOTRAIN_CONSOLE_RPC_URL,
  );
  const temporal = await temporalClient(env, log);
  const sources: ConsoleSources = { governance, temporal, storeOptions: { s3: s3OptionsFromEnv(env) } };
  try {
    const server = await startConsoleServer({
      sources,
      browserRpcUrl,
      ...(options.host ? { host: options.host } : {}),
      ...(options.port !== undefined ? { port: options.port } : {}),
      log,
    });
    return {
      url: server.url,
      async stop() {
        await server.stop();
        await temporal?.connection.close();
      },
    };
  } catch (error) {
    await temporal?.connection.close();
    throw error;
  }
}
