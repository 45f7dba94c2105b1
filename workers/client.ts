import { Client, Connection } from "@temporalio/client";
import { z } from "zod";
import { parseWith } from "../spec/errors.ts";
import { AesGcmCodec, CodecKeyEnv, encryptedDataConverter } from "./codec.ts";

/** What a client of the workers (the CLI) needs: the server, and the codec key to read payloads. */
export const ClientEnv = CodecKeyEnv.extend({
  TEMPORAL_ADDRESS: z.string().min(1).default("127.0.0.1:7233"),
  TEMPORAL_NAMESPACE: z.string().min(1).default("default"),
});

export interface ConnectedClient {
  client: Client;
  close(): Promise<void>;
}

export type ClientEnv = z.infer<typeof ClientEnv>;

/** A Temporal client that encrypts and decrypts payloads as the workers do. */
export async function openClient(settings: ClientEnv): Promise<ConnectedClient> {
  const codec = new AesGcmCodec(Buffer.from(settings.DAOTRAIN_CODEC_KEY, "base64"));
  const connection = await Connection.connect({ address: settings.TEMPORAL_ADDRESS });
  const client = new Client({
    connection,
    namespace: settings.TEMPORAL_NAMESPACE,
    dataConverter: encryptedDataConverter(codec),
  });
  return { client, close: () => connection.close() };
}

/** `openClient` configured by the environment (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, DAOTRAIN_CODEC_KEY). */
export async function connectClient(env: NodeJS.ProcessEnv = process.env): Promise<ConnectedClient> {
  return await openClient(parseWith(ClientEnv, env, "client environment"));
}
