import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, join, relative } from "node:path";
import { merkleRoot } from "../checkpoints/merkle.ts";
import { publishDirectory, writeFileSynced } from "../checkpoints/publish.ts";
import {
  DATASET_FORMAT,
  DATASET_MANIFEST_FILE,
  DatasetError,
  type DatasetManifest,
  datasetShardName,
  readDatasetManifest,
} from "./manifest.ts";
import { byteTokenizer } from "./tokenizer.ts";

export interface PackOptions {
  /** Tokens per shard (every shard has exactly this many). Default 65 536. */
  readonly shardTokens?: number;
  /** How many of the last shards are held out for validation. Default 1. */
  readonly validationShards?: number;
}

export const DEFAULT_SHARD_TOKENS = 65_536;

/**
 * Tokenizes a text file, or every file under a directory (sorted by path, hidden ones skipped,
 * joined by a blank line), into fixed-size shards of uint16 tokens plus a manifest with the
 * Merkle root, written atomically to `outDir`.
 */
export async function packDataset(
  input: string,
  outDir: string,
  options: PackOptions = {},
): Promise<DatasetManifest> {
  const shardTokens = options.shardTokens ?? DEFAULT_SHARD_TOKENS;
  const validationShards = options.validationShards ?? 1;
  const files = await inputFiles(input);
  if (files.length === 0) throw new DatasetError(`${input}: no files to pack`);
  const sources = await Promise.all(
    files.map(async (file) => {
      const bytes = await readFile(file);
      const path = (await stat(input)).isDirectory() ? relative(input, file) : basename(file);
      return { path, bytes, sha256: createHash("sha256").update(bytes).digest("hex") };
    }),
  );
  const tokens = byteTokenizer.encode(
    Buffer.concat(sources.flatMap((s, i) => (i === 0 ? [s.bytes] : [Buffer.from("\n\n"), s.bytes]))),
  );
  const shardCount = Math.floor(tokens.length / shardTokens);
  if (shardCount < validationShards + 1) {
    throw new DatasetError(
      `${input} has ${tokens.length} tokens: too few for ${validationShards + 1} shards of ${shardTokens} tokens; use a smaller --shard-tokens`,
    );
  }
  return publishDirectory(
    outDir,
    async (temp) => {
      const shards: DatasetManifest["shards"] = [];
      for (let i = 0; i < shardCount; i++) {
        const slice = tokens.subarray(i * shardTokens, (i + 1) * shardTokens);
        const bytes = new Uint8Array(slice.buffer, slice.byteOffset, slice.byteLength);
        await writeFileSynced(join(temp, datasetShardName(i)), bytes);
        shards.push({
          path: datasetShardName(i),
          split: i >= shardCount - validationShards ? "validation" : "train",
          tokens: slice.length,
          bytes: bytes.byteLength,
          sha256: createHash("sha256").update(bytes).digest("hex"),
        });
      }
      const manifest: DatasetManifest = {
        format: DATASET_FORMAT,
        tokenizer: { kind: byteTokenizer.kind, vocabSize: byteTokenizer.vocabSize },
        tokenEncoding: "u16le",
        shardTokens,
        tokens: shardCount * shardTokens,
        droppedTokens: tokens.length - shardCount * shardTokens,
        sources: sources.map(({ path, bytes, sha256 }) => ({ path, bytes: bytes.byteLength, sha256 })),
        shards,
        root: merkleRoot(shards.map((s) => s.sha256)),
      };
      await writeFileSynced(join(temp, DATASET_MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
      return manifest;
    },
    async (existing) => (await readDatasetManifest(existing)).root,
  );
}

async function inputFiles(input: string): Promise<string[]> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(input);
  } catch {
    throw new DatasetError(`${input}: no such file or directory`);
  }
  if (info.isFile()) return [input];
  const entries = await readdir(input, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .filter(
      (p) =>
        !relative(input, p)
          .split("/")
          .some((part) => part.startsWith(".")),
    )
    .sort();
}
