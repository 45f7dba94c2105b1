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

/** A Temporal client that encrypts and decrypts payloads as the workers do. */
export async function connectClient(env: NodeJS.ProcessEnv = process.env): Promise<ConnectedClient> {
  const parsed = parseWith(ClientEnv, env, "client environment");
  const codec = new AesGcmCodec(Buffer.from(parsed.DAOTRAIN_CODEC_KEY, "base64"));
  const connection = await Connection.connect({ address: parsed.TEMPORAL_ADDRESS });
  const client = new Client({
    connection,
    namespace: parsed.TEMPORAL_NAMESPACE,
    dataConverter: encryptedDataConverter(codec),
  });
  return { client, close: () => connection.close() };
}
