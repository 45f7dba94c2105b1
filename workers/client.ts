import { Client, Connection } from "@temporalio/client";
import { parseWith } from "../spec/errors.ts";
import { AesGcmCodec, CodecKeyEnv, type CodecKeySettings, encryptedDataConverter } from "./codec.ts";
import { type TemporalTarget, temporalTarget } from "./temporalConnection.ts";

/** What a client of the workers (the CLI) needs: the server, and the codec keys to read payloads. */
export type ClientSettings = CodecKeySettings & { readonly temporal: TemporalTarget };

export interface ConnectedClient {
  client: Client;
  close(): Promise<void>;
}

/** A Temporal client that encrypts and decrypts payloads as the workers do. */
export async function openClient(settings: ClientSettings): Promise<ConnectedClient> {
  const codec = AesGcmCodec.fromSettings(settings);
  const connection = await Connection.connect(settings.temporal.connection);
  const client = new Client({
    connection,
    namespace: settings.temporal.namespace,
    dataConverter: encryptedDataConverter(codec),
  });
  return { client, close: () => connection.close() };
}

/** `openClient` configured by the environment: Temporal's client settings and the codec keys. */
export async function connectClient(env: NodeJS.ProcessEnv = process.env): Promise<ConnectedClient> {
  const keys = parseWith(CodecKeyEnv, env, "client environment");
  return await openClient({ ...keys, temporal: temporalTarget(env) });
}
