import type { TLSConfig } from "@temporalio/client";
import { loadClientConnectConfig } from "@temporalio/envconfig";
import { InvalidInputError } from "../spec/errors.ts";

/** Where and how to reach Temporal, for the worker's and the client's connections alike. */
export interface TemporalTarget {
  readonly namespace: string;
  /** What both `Connection.connect` (clients) and `NativeConnection.connect` (workers) take. */
  readonly connection: {
    readonly address: string;
    readonly tls?: TLSConfig | boolean;
    readonly apiKey?: string;
    readonly metadata?: Record<string, string>;
  };
}

export const DEFAULT_TEMPORAL_ADDRESS = "127.0.0.1:7233";

/**
 * Temporal's own client configuration, read as the `temporal` CLI and every SDK read it: a profile
 * of the TOML file (`TEMPORAL_CONFIG_FILE`, `TEMPORAL_PROFILE`) under the environment's
 * `TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS`,
 * `TEMPORAL_TLS_CLIENT_CERT_PATH` / `_KEY_PATH` (mTLS), `TEMPORAL_TLS_SERVER_CA_CERT_PATH`,
 * `TEMPORAL_TLS_SERVER_NAME` and `TEMPORAL_GRPC_META_*`. So one set of settings reaches the dev
 * server, a self-hosted cluster behind mTLS, or Temporal Cloud (an API key turns TLS on).
 */
export function temporalTarget(env: NodeJS.ProcessEnv = process.env): TemporalTarget {
  let loaded: ReturnType<typeof loadClientConnectConfig>;
  try {
    loaded = loadClientConnectConfig({ overrideEnvVars: env as Record<string, string> });
  } catch (error) {
    // A certificate path that cannot be read, a TOML file that does not parse, an unknown profile.
    throw new InvalidInputError("Temporal client configuration", [
      `${(error as Error).message}; check TEMPORAL_TLS_* paths, TEMPORAL_CONFIG_FILE and TEMPORAL_PROFILE`,
    ]);
  }
  const { address, tls, apiKey, metadata } = loaded.connectionOptions;
  // Half a client pair would silently connect without mutual TLS.
  const cert = env.TEMPORAL_TLS_CLIENT_CERT_PATH ?? env.TEMPORAL_TLS_CLIENT_CERT_DATA;
  const key = env.TEMPORAL_TLS_CLIENT_KEY_PATH ?? env.TEMPORAL_TLS_CLIENT_KEY_DATA;
  if ((cert === undefined) !== (key === undefined)) {
    throw new InvalidInputError("Temporal client configuration", [
      "TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH: give both (mutual TLS) or neither",
    ]);
  }
  return {
    namespace: loaded.namespace ?? "default",
    connection: {
      address: address ?? DEFAULT_TEMPORAL_ADDRESS,
      ...(tls !== undefined && tls !== null ? { tls } : {}),
      ...(typeof apiKey === "string" ? { apiKey } : {}),
      // From the environment and TOML: always text.
      ...(metadata !== undefined ? { metadata: metadata as Record<string, string> } : {}),
    },
  };
}
