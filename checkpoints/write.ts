import { open } from "node:fs/promises";
import { join } from "node:path";
import type { Bytes32 } from "../spec/runSpec.ts";
import { hashFiles } from "./hashFiles.ts";
import {
  CHECKPOINT_FORMAT,
  type CheckpointManifest,
  type CheckpointMetrics,
  MANIFEST_FILE,
  readCheckpointManifest,
  shardFileName,
} from "./manifest.ts";
import { merkleRoot } from "./merkle.ts";
import { publishDirectory, writeFileSynced } from "./publish.ts";
import { encodeHeader, tensorOrder } from "./safetensors.ts";
import type { Tensor, Tensors } from "./tensor.ts";

export interface CheckpointFields {
  readonly runId: Bytes32;
  readonly round: number;
  readonly parentRoot: Bytes32;
  readonly metrics: CheckpointMetrics;
  /** safetensors `__metadata__`, written into every shard (so the root covers it). */
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface WriteCheckpointOptions {
  /** A shard is closed before a tensor would take it past this size. Default 256 MiB. */
  readonly maxShardBytes?: number;
}

export const DEFAULT_MAX_SHARD_BYTES = 256 * 1024 * 1024;

/**
 * Writes a checkpoint atomically: shards and manifest go to a sibling `<dir>.partial.*` directory,
 * are hashed there (in parallel), synced, and the directory is renamed into place only then.
 * Writing the same checkpoint again is harmless (idempotent); a different one over it is refused.
 * Tensors are written in name order, so equal tensors and fields give an equal root.
 */
export async function writeCheckpoint(
  dir: string,
  tensors: Tensors,
  fields: CheckpointFields,
  options: WriteCheckpointOptions = {},
): Promise<CheckpointManifest> {
  const groups = planShards(tensors, options.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES);
  const names = groups.map((_, i) => shardFileName(i, groups.length));
  return publishDirectory(
    dir,
    async (temp) => {
      for (const [i, group] of groups.entries())
        await writeSafetensorsFile(join(temp, names[i]!), group, fields.metadata ?? {});
      const hashes = await hashFiles(names.map((name) => join(temp, name)));
      const manifest: CheckpointManifest = {
        format: CHECKPOINT_FORMAT,
        runId: fields.runId,
        round: fields.round,
        parentRoot: fields.parentRoot,
        shards: hashes.map((h, i) => ({ path: names[i]!, bytes: h.bytes, sha256: h.sha256 })),
        root: merkleRoot(hashes.map((h) => h.sha256)),
        metrics: fields.metrics,
      };
      await writeFileSynced(join(temp, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
      return manifest;
    },
    async (existing) => (await readCheckpointManifest(existing)).root,
  );
}

/** Splits tensors, in name order, into shards of at most `maxShardBytes` (a larger tensor gets its own). */
export function planShards(tensors: Tensors, maxShardBytes: number): Record<string, Tensor>[] {
  const groups: Record<string, Tensor>[] = [];
  let current: Record<string, Tensor> = {};
  let size = 0;
  for (const name of tensorOrder(tensors)) {
    const tensor = tensors[name]!;
    if (size > 0 && size + tensor.bytes.byteLength > maxShardBytes) {
      groups.push(current);
      current = {};
      size = 0;
    }
    current[name] = tensor;
    size += tensor.bytes.byteLength;
  }
  groups.push(current);
  return groups;
}

/** Writes one safetensors file (tensors in name order) and syncs it; refuses to overwrite. */
export async function writeSafetensorsFile(
  path: string,
  tensors: Record<string, Tensor>,
  metadata: Readonly<Record<string, string>>,
) {
  const handle = await open(path, "wx");
  try {
    await handle.write(encodeHeader(tensors, metadata));
    for (const name of tensorOrder(tensors)) await handle.write(tensors[name]!.bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
