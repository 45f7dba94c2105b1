import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import {
  type DataConverter,
  METADATA_ENCODING_KEY,
  type Payload,
  type PayloadCodec,
} from "@temporalio/common";
import proto from "@temporalio/proto";
import { z } from "zod";
import { InvalidInputError, parseWith } from "../spec/errors.ts";
import { siblingModule } from "../spec/sourceModule.ts";

// @temporalio/proto is CommonJS: Node's ESM loader exposes it as a default export only.
const { temporal } = proto;

// Every payload the worker and its clients exchange with Temporal is encrypted with AES-256-GCM
// under a key only they hold, so the server's history never holds a kubeconfig, a key or a
// spec in clear; failure messages and stack traces too (`failureConverter.ts` moves them into a
// payload). Each payload names the key that sealed it, so keys rotate: the newest key seals,
// and every key still listed opens what it sealed before.

const ENCODING = "binary/encrypted";
const KEY_ID = "encryption-key-id";
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class CodecKeyError extends Error {
  override readonly name = "CodecKeyError";
}

const codecKey = z.string().refine((s) => Buffer.from(s, "base64").length === 32, {
  message: "must be 32 bytes in base64 (`openssl rand -base64 32`)",
});

/**
 * The codec's keys: `DAOTRAIN_CODEC_KEYS`, comma-separated, newest first (rotation: put the new
 * key first, keep the old ones until no history sealed with them is read any more), or a single
 * `DAOTRAIN_CODEC_KEY`. Each is 32 random bytes, base64 (`openssl rand -base64 32`).
 */
export const CodecKeyEnv = z.object({
  DAOTRAIN_CODEC_KEY: codecKey.optional(),
  DAOTRAIN_CODEC_KEYS: z
    .string()
    .transform((s) => s.split(",").map((k) => k.trim()))
    .pipe(z.array(codecKey).min(1))
    .optional(),
});
export type CodecKeySettings = z.infer<typeof CodecKeyEnv>;

/** The keys the settings name, newest first; refuses settings that name none, or both variables. */
export function codecKeysOf(settings: CodecKeySettings, source = "codec environment"): Buffer[] {
  const { DAOTRAIN_CODEC_KEY: single, DAOTRAIN_CODEC_KEYS: list } = settings;
  if (single !== undefined && list !== undefined)
    throw new InvalidInputError(source, [
      "DAOTRAIN_CODEC_KEY, DAOTRAIN_CODEC_KEYS: give one; put every key in DAOTRAIN_CODEC_KEYS, newest first",
    ]);
  const keys = list ?? (single === undefined ? [] : [single]);
  if (keys.length === 0)
    throw new InvalidInputError(source, [
      "DAOTRAIN_CODEC_KEYS (or DAOTRAIN_CODEC_KEY): is required: generate a key with `openssl rand -base64 32`",
    ]);
  return keys.map((k) => Buffer.from(k, "base64"));
}

/** Names a key without revealing it, so a process with the wrong keys says so plainly. */
function keyIdOf(key: Uint8Array): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 16);
}

export class AesGcmCodec implements PayloadCodec {
  /** The id of the key that seals new payloads (the newest). */
  readonly keyId: string;
  private readonly sealing: Buffer;
  private readonly opening: ReadonlyMap<string, Buffer>;

  /** `keys` newest first: the first seals, all of them open. */
  constructor(keys: Uint8Array | readonly Uint8Array[]) {
    const list = keys instanceof Uint8Array ? [keys] : keys;
    const [newest] = list;
    if (!newest) throw new CodecKeyError("the payload codec needs at least one key");
    for (const key of list)
      if (key.length !== 32) throw new CodecKeyError(`AES-256-GCM needs a 32-byte key, got ${key.length}`);
    this.sealing = Buffer.from(newest);
    this.keyId = keyIdOf(newest);
    this.opening = new Map(list.map((key) => [keyIdOf(key), Buffer.from(key)]));
  }

  /** The codec the environment names: `DAOTRAIN_CODEC_KEYS` or `DAOTRAIN_CODEC_KEY`. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): AesGcmCodec {
    return AesGcmCodec.fromSettings(parseWith(CodecKeyEnv, env, "codec environment"));
  }

  /** The codec of settings already parsed with `CodecKeyEnv` (the worker's and the CLI's). */
  static fromSettings(settings: CodecKeySettings): AesGcmCodec {
    return new AesGcmCodec(codecKeysOf(settings));
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const plain = temporal.api.common.v1.Payload.encode(payload).finish();
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv("aes-256-gcm", this.sealing, iv);
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
      const key = this.opening.get(keyId);
      if (!key) {
        throw new CodecKeyError(
          `payload was encrypted with key ${keyId}, this process holds ${[...this.opening.keys()].join(", ")}: ` +
            "add that key to DAOTRAIN_CODEC_KEYS (after the newest) on every worker and client",
        );
      }
      const sealed = Buffer.from(payload.data ?? []);
      const iv = sealed.subarray(0, IV_BYTES);
      const tag = sealed.subarray(sealed.length - TAG_BYTES);
      const decipher = createDecipheriv("aes-256-gcm", key, iv);
      decipher.setAuthTag(tag);
      const plain = Buffer.concat([
        decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)),
        decipher.final(),
      ]);
      return temporal.api.common.v1.Payload.decode(plain);
    });
  }
}

/** The module with the failure converter that encodes failure messages (workers, clients, bundles). */
export const failureConverterPath = fileURLToPath(siblingModule("./failureConverter", import.meta.url));

/** The data converter every daotrain worker and client uses. */
export function encryptedDataConverter(codec: AesGcmCodec): DataConverter {
  return { payloadCodecs: [codec], failureConverterPath };
}
