import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Bytes32 } from "../spec/runSpec.ts";
import { type CheckpointManifest, CheckpointUnreadableError, readCheckpointManifest } from "./manifest.ts";
import { parseSafetensors } from "./safetensors.ts";
import type { Tensor } from "./tensor.ts";
import { type CheckpointVerification, CheckpointVerificationError, compareShards } from "./verify.ts";

export interface Checkpoint {
  readonly dir: string;
  readonly manifest: CheckpointManifest;
  /** Every tensor of every shard, by name; views into the bytes read. */
  readonly tensors: Readonly<Record<string, Tensor>>;
  /** The first shard's safetensors `__metadata__`. */
  readonly metadata: Readonly<Record<string, string>>;
  readonly verification: CheckpointVerification;
}

export interface ReadCheckpointOptions {
  /** Refuse the checkpoint unless its recomputed root is this one. */
  readonly expectedRoot?: Bytes32;
}

/**
 * Reads a whole checkpoint into memory and verifies the very bytes it read: each shard's size and
 * sha256 against the manifest, the root, and `expectedRoot` if given. Throws
 * CheckpointVerificationError on any mismatch, so what it returns is what the root commits to.
 * For checkpoints larger than memory, use verifyCheckpoint (streaming) and readSafetensorsHeader.
 */
export async function readCheckpoint(dir: string, options: ReadCheckpointOptions = {}): Promise<Checkpoint> {
  const manifest = await readCheckpointManifest(dir);
  const files = await Promise.all(
    manifest.shards.map(async (s) => {
      try {
        return await readFile(join(dir, s.path));
      } catch (error) {
        throw new CheckpointUnreadableError(dir, (error as Error).message);
      }
    }),
  );
  const hashes = files.map((bytes) => ({
    bytes: bytes.byteLength,
    sha256: createHash("sha256").update(bytes).digest("hex"),
  }));
  const verification = compareShards(manifest, hashes, options.expectedRoot);
  if (!verification.ok) throw new CheckpointVerificationError(dir, verification);
  const tensors: Record<string, Tensor> = {};
  let metadata: Record<string, string> = {};
  for (const [i, bytes] of files.entries()) {
    const shard = parseSafetensors(join(dir, manifest.shards[i]!.path), bytes);
    if (i === 0) metadata = shard.metadata;
    for (const [name, tensor] of Object.entries(shard.tensors)) {
      if (name in tensors)
        throw new CheckpointUnreadableError(dir, `tensor ${name} appears in more than one shard`);
      tensors[name] = tensor;
    }
  }
  return { dir, manifest, tensors, metadata, verification };
}
