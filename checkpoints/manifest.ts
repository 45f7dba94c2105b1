import { open } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { parseWith } from "../spec/errors.ts";
import { Bytes32 } from "../spec/runSpec.ts";

export const CHECKPOINT_FORMAT = "daotrain-checkpoint/1";
export const MANIFEST_FILE = "manifest.json";
/** The parent root of a run's first (round-0) checkpoint, which has no parent. */
export const NO_PARENT: Bytes32 = `0x${"0".repeat(64)}`;

/** A sha256 digest as `sha256sum` prints it: 64 lowercase hex digits. */
export const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex digits");

export const CheckpointShard = z
  .object({
    path: z
      .string()
      .regex(
        /^model(-[0-9]{5}-of-[0-9]{5})?\.safetensors$/,
        "must be model.safetensors or model-0000i-of-0000N.safetensors",
      ),
    bytes: z.number().int().min(0),
    sha256: Sha256Hex,
  })
  .strict();
export type CheckpointShard = z.infer<typeof CheckpointShard>;

export const CheckpointMetrics = z
  .object({
    loss: z.number().nullable(),
    valLoss: z.number().nullable(),
    tokens: z.number().int().min(0),
    steps: z.number().int().min(0),
  })
  .catchall(z.union([z.number(), z.string(), z.boolean(), z.null()]));
export type CheckpointMetrics = z.infer<typeof CheckpointMetrics>;

export const CheckpointManifest = z
  .object({
    format: z.literal(CHECKPOINT_FORMAT),
    runId: Bytes32,
    round: z.number().int().min(0),
    parentRoot: Bytes32,
    shards: z.array(CheckpointShard).min(1),
    root: Bytes32,
    metrics: CheckpointMetrics,
  })
  .strict()
  .refine((m) => m.shards.every((s, i) => s.path === shardFileName(i, m.shards.length)), {
    message: "shard paths must be model.safetensors alone, or model-00001-of-0000N.safetensors … in order",
    path: ["shards"],
  });
export type CheckpointManifest = z.infer<typeof CheckpointManifest>;

/** `model.safetensors` for a lone shard, else `model-00001-of-00003.safetensors` (1-based). */
export function shardFileName(index: number, count: number): string {
  if (count === 1) return "model.safetensors";
  const pad = (n: number) => String(n).padStart(5, "0");
  return `model-${pad(index + 1)}-of-${pad(count)}.safetensors`;
}

/**
 * Reads and schema-checks a checkpoint's manifest.json; the error names the wrong fields. At most
 * `maxBytes` are read: a longer manifest is refused (ManifestTooLargeError) without reading more.
 */
export async function readCheckpointManifest(
  dir: string,
  maxBytes = DEFAULT_MAX_MANIFEST_BYTES,
): Promise<CheckpointManifest> {
  const file = join(dir, MANIFEST_FILE);
  let data: unknown;
  try {
    data = JSON.parse((await readAtMost(file, maxBytes)).toString("utf8"));
  } catch (error) {
    if (error instanceof ManifestTooLargeError) throw error;
    throw new CheckpointUnreadableError(dir, `${MANIFEST_FILE}: ${(error as Error).message}`);
  }
  return parseWith(CheckpointManifest, data, file);
}

/** Far more than any manifest of shards needs; readers that know the model ask for less. */
export const DEFAULT_MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

async function readAtMost(file: string, maxBytes: number): Promise<Buffer> {
  const handle = await open(file, "r");
  try {
    const chunks: Buffer[] = [];
    let length = 0;
    for (;;) {
      // One byte past the limit is enough to know the file is longer.
      const chunk = Buffer.alloc(Math.min(64 * 1024, maxBytes + 1 - length));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, length);
      if (bytesRead === 0) return Buffer.concat(chunks);
      chunks.push(chunk.subarray(0, bytesRead));
      length += bytesRead;
      if (length > maxBytes) throw new ManifestTooLargeError(file, maxBytes);
    }
  } finally {
    await handle.close();
  }
}

/** The checkpoint directory or its manifest cannot be read at all. */
export class CheckpointUnreadableError extends Error {
  override readonly name = "CheckpointUnreadableError";
  readonly dir: string;
  constructor(dir: string, problem: string) {
    super(`checkpoint ${dir} cannot be read: ${problem}`);
    this.dir = dir;
  }
}

/** A manifest longer than its reader allows; nothing past the limit was read. */
export class ManifestTooLargeError extends Error {
  override readonly name = "ManifestTooLargeError";
  constructor(file: string, maxBytes: number) {
    super(`${file} is longer than the ${maxBytes} bytes a manifest may take here`);
  }
}
