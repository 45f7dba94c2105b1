import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { Sha256Hex } from "../checkpoints/manifest.ts";
import { parseWith } from "../spec/errors.ts";
import { Bytes32 } from "../spec/runSpec.ts";

export const DATASET_FORMAT = "daotrain-dataset/1";
export const DATASET_MANIFEST_FILE = "manifest.json";

export const DatasetShard = z
  .object({
    path: z.string().regex(/^shard-[0-9]{5}\.bin$/, "must be shard-00000.bin, shard-00001.bin, …"),
    split: z.enum(["train", "validation"]),
    tokens: z.number().int().min(1),
    bytes: z.number().int().min(1),
    sha256: Sha256Hex,
  })
  .strict();
export type DatasetShard = z.infer<typeof DatasetShard>;

/**
 * A packed dataset: fixed-size shards of little-endian uint16 tokens, the last `validation`
 * shards held out; `root` is the Merkle root over the shards' sha256 in this order, by the
 * checkpoint rule (checkpoints/merkle.ts).
 */
export const DatasetManifest = z
  .object({
    format: z.literal(DATASET_FORMAT),
    tokenizer: z.object({ kind: z.literal("bytes"), vocabSize: z.number().int().min(2) }).strict(),
    tokenEncoding: z.literal("u16le"),
    shardTokens: z.number().int().min(1),
    tokens: z.number().int().min(1),
    /** Tokens at the end of the input that did not fill a whole shard. */
    droppedTokens: z.number().int().min(0),
    sources: z.array(
      z.object({ path: z.string(), bytes: z.number().int().min(0), sha256: Sha256Hex }).strict(),
    ),
    shards: z.array(DatasetShard).min(2),
    root: Bytes32,
  })
  .strict()
  .refine((m) => m.shards.every((s, i) => s.path === datasetShardName(i) && s.bytes === s.tokens * 2), {
    message: "shards must be shard-00000.bin … in order, 2 bytes per token",
    path: ["shards"],
  })
  .refine(
    (m) => m.shards.some((s) => s.split === "train") && m.shards.some((s) => s.split === "validation"),
    {
      message: "a dataset needs at least one train and one validation shard",
      path: ["shards"],
    },
  );
export type DatasetManifest = z.infer<typeof DatasetManifest>;

export function datasetShardName(index: number): string {
  return `shard-${String(index).padStart(5, "0")}.bin`;
}

export async function readDatasetManifest(dir: string): Promise<DatasetManifest> {
  const file = join(dir, DATASET_MANIFEST_FILE);
  let data: unknown;
  try {
    data = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new DatasetError(
      `dataset ${dir}: cannot read ${DATASET_MANIFEST_FILE}: ${(error as Error).message}`,
    );
  }
  return parseWith(DatasetManifest, data, file);
}

/** Indices (into `shards`) of the training shards. */
export function trainShardIndices(manifest: DatasetManifest): number[] {
  return manifest.shards.flatMap((s, i) => (s.split === "train" ? [i] : []));
}

/** The training shards replica `replica` of `replicas` trains on: every replicas-th, round robin. */
export function assignShards(manifest: DatasetManifest, replica: number, replicas: number): number[] {
  const train = trainShardIndices(manifest);
  if (replicas > train.length) {
    throw new DatasetError(
      `the dataset has ${train.length} training shards, too few for ${replicas} replicas; pack it with a smaller --shard-tokens`,
    );
  }
  return train.filter((_, k) => k % replicas === replica);
}

/** A dataset is unreadable, inconsistent or does not match its root. */
export class DatasetError extends Error {
  override readonly name = "DatasetError";
}
