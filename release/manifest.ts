import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { Sha256Hex } from "../checkpoints/manifest.ts";
import { merkleRoot } from "../checkpoints/merkle.ts";
import { parseWith } from "../spec/errors.ts";
import { Bytes32 } from "../spec/runSpec.ts";

export const RELEASE_FORMAT = "daotrain-release/1";
export const RELEASE_MANIFEST_FILE = "release.json";

/** Every file a release holds besides release.json: the Hugging Face layout plus the optimizer state. */
export const RELEASE_FILES = {
  weights: "model.safetensors",
  momentum: "outer_optimizer.safetensors",
  config: "config.json",
  generation: "generation_config.json",
  tokenizer: "tokenizer.json",
  tokenizerConfig: "tokenizer_config.json",
  card: "README.md",
} as const;
export type ReleaseFileName = (typeof RELEASE_FILES)[keyof typeof RELEASE_FILES];
const releaseFileNames = Object.values(RELEASE_FILES) as [ReleaseFileName, ...ReleaseFileName[]];

export const ReleaseFile = z
  .object({ path: z.enum(releaseFileNames), bytes: z.number().int().min(0), sha256: Sha256Hex })
  .strict();
export type ReleaseFile = z.infer<typeof ReleaseFile>;

/** A shard of the checkpoint the release was made from, with its safetensors header (base64). */
export const CheckpointShardHeader = z
  .object({
    path: z.string().regex(/^model(-[0-9]{5}-of-[0-9]{5})?\.safetensors$/),
    bytes: z.number().int().min(8),
    sha256: Sha256Hex,
    header: z.base64().max(100_000_000),
  })
  .strict();
export type CheckpointShardHeader = z.infer<typeof CheckpointShardHeader>;

/**
 * `release.json`: which checkpoint the release was made from (its root and every shard's header,
 * so the shards can be rebuilt from the released weights and hashed against the root on-chain),
 * and every released file with its size and sha256 under a root by the checkpoint rule.
 */
export const ReleaseManifest = z
  .object({
    format: z.literal(RELEASE_FORMAT),
    runId: Bytes32,
    round: z.number().int().min(1),
    checkpointRoot: Bytes32,
    checkpointShards: z.array(CheckpointShardHeader).min(1).max(10_000),
    files: z.array(ReleaseFile).length(releaseFileNames.length),
    root: Bytes32,
  })
  .strict()
  .refine((m) => m.files.every((f, i) => f.path === [...releaseFileNames].sort()[i]), {
    message: `files must list ${[...releaseFileNames].sort().join(", ")}, once each, in that order`,
    path: ["files"],
  })
  .refine((m) => merkleRoot(m.checkpointShards.map((s) => s.sha256)) === m.checkpointRoot, {
    message: "the checkpoint shards' sha256 do not give checkpointRoot",
    path: ["checkpointShards"],
  })
  .refine((m) => merkleRoot(m.files.map((f) => f.sha256)) === m.root, {
    message: "the files' sha256 do not give root",
    path: ["root"],
  });
export type ReleaseManifest = z.infer<typeof ReleaseManifest>;

/** The release files in the order release.json lists them (by name). */
export function releaseFileOrder(): ReleaseFileName[] {
  return [...releaseFileNames].sort();
}

export function parseReleaseManifest(data: unknown, source: string): ReleaseManifest {
  return parseWith(ReleaseManifest, data, source);
}

export async function readReleaseManifest(dir: string): Promise<ReleaseManifest> {
  const file = join(dir, RELEASE_MANIFEST_FILE);
  return parseReleaseManifest(JSON.parse(await readFile(file, "utf8")), file);
}
