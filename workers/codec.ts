import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import {
  type DataConverter,
  METADATA_ENCODING_KEY,
  type Payload,
  type PayloadCodec,
} from "@temporalio/common";
import proto from "@temporalio/proto";
import { z } from "zod";
import { parseWith } from "../spec/errors.ts";

// @temporalio/proto is CommonJS: Node's ESM loader exposes it as a default export only.
const { temporal } = proto;

// Every payload the worker and its clients exchange with Temporal is encrypted with AES-256-GCM
// under a key only they hold, so the server's history never holds a kubeconfig, a key or a
// spec in clear. Failure messages stay readable for operators: activities' errors name runs,
// rounds and clusters, never the credentials used to reach them.

const ENCODING = "binary/encrypted";
const KEY_ID = "encryption-key-id";
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class CodecKeyError extends Error {
  override readonly name = "CodecKeyError";
}

/** `DAOTRAIN_CODEC_KEY`: 32 random bytes, base64 (`openssl rand -base64 32`). */
export const CodecKeyEnv = z.object({
  DAOTRAIN_CODEC_KEY: z
    .string({ error: "is required: generate one with `openssl rand -base64 32`" })
    .refine((s) => Buffer.from(s, "base64").length === 32, {
      message: "must be 32 bytes in base64 (`openssl rand -base64 32`)",
    }),
});

export class AesGcmCodec implements PayloadCodec {
  readonly keyId: string;
  private readonly key: Buffer;

  constructor(key: Uint8Array) {
    if (key.length !== 32) throw new CodecKeyError(`AES-256-GCM needs a 32-byte key, got ${key.length}`);
    this.key = Buffer.from(key);
    // Names the key without revealing it, so a worker with the wrong key says so plainly.
    this.keyId = createHash("sha256").update(this.key).digest("hex").slice(0, 16);
  }

  static fromEnv(env: NodeJS.ProcessEnv = process.env): AesGcmCodec {
    const parsed = parseWith(CodecKeyEnv, env, "codec environment");
    return new AesGcmCodec(Buffer.from(parsed.DAOTRAIN_CODEC_KEY, "base64"));
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const plain = temporal.api.common.v1.Payload.encode(payload).finish();
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv("aes-256-gcm", this.key, iv);
      const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: {
          [METADATA_ENCODING_KEY]: Buffer.from(ENCODING),
          [KEY_ID]: Buffer.from(this.keyId),
        },
        data: sealed,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
      if (!encoding || Buffer.from(encoding).toString() !== ENCODING) return payload;
      const keyId = Buffer.from(payload.metadata?.[KEY_ID] ?? []).toString();
      if (keyId !== this.keyId) {
        throw new CodecKeyError(
          `payload was encrypted with key ${keyId}, this process holds ${this.keyId}: set DAOTRAIN_CODEC_KEY to the worker's key`,
        );
      }
      const sealed = Buffer.from(payload.data ?? []);
      const iv = sealed.subarray(0, IV_BYTES);
      const tag = sealed.subarray(sealed.length - TAG_BYTES);
      const decipher = createDecipheriv("aes-256-gcm", this.key, iv);
      decipher.setAuthTag(tag);
      const plain = Buffer.concat([
        decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)),
        decipher.final(),
      ]);
      return temporal.api.common.v1.Payload.decode(plain);
    });
  }
}

/** The data converter every daotrain worker and client uses. */
export function encryptedDataConverter(codec: AesGcmCodec): DataConverter {
  return { payloadCodecs: [codec] };
}
